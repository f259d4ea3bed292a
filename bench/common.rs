//! What the benchmark programs share. Cargo examples have no library of
//! their own, so each includes this file with `#[path = "common.rs"] mod
//! common;`, and each uses only a part of it.
#![allow(dead_code)]

use std::error::Error;
use std::fmt::Write as _;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStderr, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use opaque_ke::{
    ClientLogin, ClientLoginFinishParameters, ClientRegistration,
    ClientRegistrationFinishParameters, CredentialResponse, RegistrationResponse,
};
use rand::rngs::OsRng;
use serde_json::{Value, json};
use vaultd::auth::opaque::Suite;

pub type Res<T> = Result<T, Box<dyn Error>>;

// ---------------------------------------------------------------------------
// The binaries and their processes

/// The directory of this build profile, where vaultd is:
/// `<target>/release/examples/bench-x` → `<target>/release`.
pub fn profile_dir() -> Res<PathBuf> {
    let exe = std::env::current_exe()?;
    Ok(exe
        .parent()
        .and_then(Path::parent)
        .ok_or("cannot locate the target directory")?
        .to_path_buf())
}

/// Under `cargo run` (which sets `CARGO`), runs `cargo build --quiet ARGS`
/// on this package first, so that what is measured is built from the same
/// sources; says `what` it builds. Returns whether it built.
pub fn cargo_build(args: &[&str], what: &str) -> Res<bool> {
    let Some(cargo) = std::env::var_os("CARGO") else {
        return Ok(false);
    };
    let mut cmd = Command::new(cargo);
    cmd.args(["build", "--quiet"]).args(args);
    if let Some(manifest) = std::env::var_os("CARGO_MANIFEST_DIR") {
        cmd.arg("--manifest-path")
            .arg(Path::new(&manifest).join("Cargo.toml"));
    }
    eprintln!("{what}");
    if !cmd.status()?.success() {
        return Err(format!("cargo build {} failed", args.join(" ")).into());
    }
    Ok(true)
}

/// A scratch directory, emptied on creation and removed on drop.
pub struct Scratch(pub PathBuf);

impl Scratch {
    pub fn new(path: &Path) -> Res<Scratch> {
        let _ = std::fs::remove_dir_all(path);
        std::fs::create_dir_all(path)?;
        Ok(Scratch(path.to_path_buf()))
    }

    pub fn sub(&self, name: &str) -> Res<PathBuf> {
        let p = self.0.join(name);
        std::fs::create_dir_all(&p)?;
        Ok(p)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A server (vaultd or bench-bare) runs in `dir`, with no stdin or stdout,
/// and without the variables vaultd reads (`VAULTD_*`, `JWT_KEY`,
/// `OPAQUE_SERVER_SETUP`): the caller's shell must not change what is
/// measured.
pub fn prepare_server<'a>(cmd: &'a mut Command, dir: &Path) -> &'a mut Command {
    cmd.current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null());
    for (key, _) in std::env::vars_os() {
        let k = key.to_string_lossy();
        if k.starts_with("VAULTD_") || k == "JWT_KEY" || k == "OPAQUE_SERVER_SETUP" {
            cmd.env_remove(&key);
        }
    }
    cmd
}

/// `ADDR` of the first `listening on http://ADDR` in a server's stderr.
pub fn listening_addr(stderr: &str) -> Option<&str> {
    stderr
        .split("listening on http://")
        .nth(1)?
        .split_whitespace()
        .next()
}

/// Spawns `cmd` (a server) with stderr piped and waits up to 30 s for its
/// `listening on` line; when none comes, the error holds what the server
/// said instead. A thread reads stderr to its end, so that the server never
/// blocks on a full pipe, and passes the lines after that one to `on_line`.
pub fn spawn_listening(
    mut cmd: Command,
    on_line: impl FnMut(&str) + Send + 'static,
) -> Res<(Child, SocketAddr)> {
    let name = Path::new(cmd.get_program()).display().to_string();
    let mut child = cmd
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("starting {name}: {e}"))?;
    let stderr = child.stderr.take().ok_or("no stderr")?;
    let started = read_stderr(stderr, on_line);
    let first = started.recv_timeout(Duration::from_secs(30));
    if let Ok(Ok(addr)) = &first
        && let Ok(addr) = addr.parse()
    {
        return Ok((child, addr));
    }
    let _ = child.kill();
    let _ = child.wait();
    // Killed, the server closes stderr, and the thread sends what it read.
    let said = match first {
        Ok(Err(said)) => said,
        _ => started
            .recv_timeout(Duration::from_secs(5))
            .ok()
            .and_then(Result::err)
            .unwrap_or_default(),
    };
    Err(format!("{name} did not start: {}", said.trim()).into())
}

/// Reads a server's stderr on a thread. Sends `Ok(ADDR)` at its
/// `listening on` line, then passes every later line to `on_line`; sends
/// `Err(everything it said)` if stderr ends before.
fn read_stderr(
    stderr: ChildStderr,
    mut on_line: impl FnMut(&str) + Send + 'static,
) -> mpsc::Receiver<Result<String, String>> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut lines = BufReader::new(stderr).lines().map_while(Result::ok);
        let mut said = String::new();
        while let Some(line) = lines.next() {
            if let Some(addr) = listening_addr(&line) {
                let _ = tx.send(Ok(addr.to_string()));
                lines.for_each(|line| on_line(&line));
                return;
            }
            said.push_str(&line);
            said.push('\n');
        }
        let _ = tx.send(Err(said));
    });
    rx
}

// ---------------------------------------------------------------------------
// A blocking HTTP/1.1 client

pub struct Response {
    pub status: u16,
    pub body: Vec<u8>,
    /// From sending the request to the end of the body, as the client sees it.
    pub elapsed: Duration,
}

impl Response {
    pub fn json(&self) -> Res<Value> {
        Ok(serde_json::from_slice(&self.body)?)
    }
}

/// One keep-alive connection (opened on first use).
pub struct Http {
    addr: SocketAddr,
    conn: Option<BufReader<TcpStream>>,
}

/// An extra request header: `Authorization`, `X-Forwarded-For`.
pub type Header<'a> = Option<(&'a str, &'a str)>;

impl Http {
    pub fn new(addr: SocketAddr) -> Http {
        Http { addr, conn: None }
    }

    pub fn post(&mut self, path: &str, header: Header, body: &Value) -> Res<Response> {
        self.request("POST", path, header, body.to_string().as_bytes())
    }

    pub fn request(
        &mut self,
        method: &str,
        path: &str,
        header: Header,
        body: &[u8],
    ) -> Res<Response> {
        let mut head = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nContent-Length: {}\r\n",
            self.addr,
            body.len()
        );
        if method == "POST" {
            head.push_str("Content-Type: application/json\r\n");
        }
        if let Some((name, value)) = header {
            let _ = write!(head, "{name}: {value}\r\n");
        }
        head.push_str("\r\n");
        let mut bytes = head.into_bytes();
        bytes.extend_from_slice(body);
        // A kept-alive connection the server has closed fails once: retry on
        // a new one.
        let reused = self.conn.is_some();
        match self.exchange(&bytes) {
            Ok(r) => Ok(r),
            Err(_) if reused => {
                self.conn = None;
                self.exchange(&bytes)
            }
            Err(e) => Err(e),
        }
    }

    fn connect(&mut self) -> Res<&mut BufReader<TcpStream>> {
        if self.conn.is_none() {
            let stream = TcpStream::connect(self.addr)?;
            stream.set_nodelay(true)?;
            stream.set_read_timeout(Some(Duration::from_secs(30)))?;
            self.conn = Some(BufReader::new(stream));
        }
        Ok(self.conn.as_mut().expect("just connected"))
    }

    fn exchange(&mut self, bytes: &[u8]) -> Res<Response> {
        let t = Instant::now();
        let conn = self.connect()?;
        conn.get_mut().write_all(bytes)?;
        let mut line = String::new();
        conn.read_line(&mut line)?;
        let status = line
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| format!("bad status line {line:?}"))?;
        let (mut len, mut close) = (0usize, false);
        loop {
            line.clear();
            conn.read_line(&mut line)?;
            let l = line.trim_end();
            if l.is_empty() {
                break;
            }
            if let Some((k, v)) = l.split_once(':') {
                if k.eq_ignore_ascii_case("content-length") {
                    len = v.trim().parse()?;
                } else if k.eq_ignore_ascii_case("connection") {
                    close = v.trim().eq_ignore_ascii_case("close");
                }
            }
        }
        let mut body = vec![0u8; len];
        conn.read_exact(&mut body)?;
        let elapsed = t.elapsed();
        if close {
            self.conn = None;
        }
        Ok(Response {
            status,
            body,
            elapsed,
        })
    }
}

/// An error unless `r` has `status`.
pub fn expect(r: &Response, status: u16, what: &str) -> Res<()> {
    if r.status != status {
        return Err(format!(
            "{what}: expected {status}, got {} {}",
            r.status,
            String::from_utf8_lossy(&r.body)
        )
        .into());
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// The OPAQUE client over HTTP

pub fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

pub fn unb64(text: &str) -> Res<Vec<u8>> {
    Ok(URL_SAFE_NO_PAD.decode(text)?)
}

/// The benchmark client's key stretching: cheap, because it is the client's
/// cost and not the server's (bench-login measures the real one).
pub fn cheap_ksf() -> argon2::Argon2<'static> {
    argon2::Argon2::new(
        argon2::Algorithm::Argon2id,
        argon2::Version::V0x13,
        argon2::Params::new(8, 1, 1, Some(64)).expect("valid Argon2 parameters"),
    )
}

/// `/register` and `/register/finish` for `username`.
pub fn register(http: &mut Http, header: Header, username: &str, password: &[u8]) -> Res<()> {
    let ksf = cheap_ksf();
    let start = ClientRegistration::<Suite>::start(&mut OsRng, password)?;
    let r = http.post(
        "/register",
        header,
        &json!({"username": username, "registration_request": b64(&start.message.serialize())}),
    )?;
    expect(&r, 200, "/register")?;
    let reply = r.json()?;
    let response = RegistrationResponse::deserialize(&unb64(
        reply["registration_response"]
            .as_str()
            .ok_or("no registration_response")?,
    )?)?;
    let finish = start.state.finish(
        &mut OsRng,
        password,
        response,
        ClientRegistrationFinishParameters::new(Default::default(), Some(&ksf)),
    )?;
    let r = http.post(
        "/register/finish",
        header,
        &json!({
            "username": username,
            "registration_id": reply["registration_id"],
            "registration_record": b64(&finish.message.serialize()),
        }),
    )?;
    expect(&r, 201, "/register/finish")
}

/// `/login` (a `200` with a real or a fake record); the client state, the
/// response and its parsed body.
pub fn login_start(
    http: &mut Http,
    header: Header,
    username: &str,
    password: &[u8],
) -> Res<(ClientLogin<Suite>, Response, Value)> {
    let start = ClientLogin::<Suite>::start(&mut OsRng, password)?;
    let body = json!({"username": username, "credential_request": b64(&start.message.serialize())});
    let r = http.post("/login", header, &body)?;
    expect(&r, 200, "/login").map_err(|e| format!("{e} (user {username})"))?;
    let v = r.json()?;
    Ok((start.state, r, v))
}

/// The client's finalization for a `/login` reply with the right password.
pub fn login_finalization(
    state: ClientLogin<Suite>,
    password: &[u8],
    reply: &Value,
    ksf: &argon2::Argon2<'static>,
) -> Res<Vec<u8>> {
    let response = CredentialResponse::deserialize(&unb64(
        reply["credential_response"]
            .as_str()
            .ok_or("no credential_response")?,
    )?)?;
    let finish = state.finish(
        &mut OsRng,
        password,
        response,
        ClientLoginFinishParameters::new(None, Default::default(), Some(ksf)),
    )?;
    Ok(finish.message.serialize().to_vec())
}

/// `/login/finish` for the `/login` reply, whatever it answers.
pub fn login_finish(
    http: &mut Http,
    header: Header,
    reply: &Value,
    finalization: &[u8],
) -> Res<Response> {
    http.post(
        "/login/finish",
        header,
        &json!({"login_id": reply["login_id"], "credential_finalization": b64(finalization)}),
    )
}

/// A complete login with the right password: the client-side latency of its
/// two requests (without the client's own OPAQUE work), and the
/// `/login/finish` response (the token).
pub fn complete_login(
    http: &mut Http,
    header: Header,
    username: &str,
    password: &[u8],
    ksf: &argon2::Argon2<'static>,
) -> Res<(Duration, Response)> {
    let (state, r, reply) = login_start(http, header, username, password)?;
    let finalization = login_finalization(state, password, &reply, ksf)?;
    let f = login_finish(http, header, &reply, &finalization)?;
    expect(&f, 200, "/login/finish")?;
    Ok((r.elapsed + f.elapsed, f))
}

// ---------------------------------------------------------------------------
// Figures and the machine

/// The `p`th percentile (nearest rank) of sorted samples, in microseconds;
/// 0 without samples.
pub fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let i = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[i.clamp(1, sorted.len()) - 1].as_secs_f64() * 1e6
}

/// A number from `/proc/<process>/status` (`process`: a pid or `self`):
/// `VmRSS` or `VmHWM` in KiB, `Threads`; 0 when it cannot be read.
pub fn status_field(process: impl std::fmt::Display, key: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{process}/status"))
        .ok()
        .and_then(|s| {
            s.lines().find_map(|l| l.strip_prefix(key)).and_then(|v| {
                v.trim_start_matches(':')
                    .split_whitespace()
                    .next()?
                    .parse()
                    .ok()
            })
        })
        .unwrap_or(0)
}

/// Fields of `/proc/<pid>/stat` after the command name (which may contain
/// spaces): index 0 is field 3 (state), so utime (field 14) is index 11.
/// What is not a number reads as 0.
pub fn stat_fields(path: &str) -> Vec<u64> {
    let Ok(stat) = std::fs::read_to_string(path) else {
        return Vec::new();
    };
    let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
    after
        .split_whitespace()
        .map(|f| f.parse().unwrap_or(0))
        .collect()
}

pub fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

/// `N cores, <CPU model>, Linux <release>`.
pub fn machine() -> String {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let model = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .and_then(|l| l.split_once(':'))
        .map_or("?", |(_, m)| m.trim());
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    format!("{cores} cores, {model}, Linux {}", kernel.trim())
}
