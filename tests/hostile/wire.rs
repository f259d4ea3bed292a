//! The raw-socket kit of tests/hostile.rs: a vaultd of our own (for its
//! /proc status), HTTP/1.1 read by hand, slow clients and floods.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::common::spawn::{Listening, spawn_listening};
use crate::common::{TempDir, TestServer, b64, read_headers, vaultd_bin};

/// A vaultd of our own: the tests read its /proc status and log.
pub struct Vaultd {
    pub child: Child,
    pub addr: SocketAddr,
    pub log: Arc<Mutex<String>>,
    pub _dir: TempDir,
}

impl Drop for Vaultd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Vaultd {
    /// `wrapper` (e.g. `prlimit --nofile=...`) runs vaultd with `args`.
    pub fn start(wrapper: &[&str], args: &[&str]) -> Vaultd {
        Vaultd::start_in(TempDir::new("hostile"), wrapper, args)
    }

    pub fn start_in(dir: TempDir, wrapper: &[&str], args: &[&str]) -> Vaultd {
        let mut cmd = match wrapper.split_first() {
            Some((program, rest)) => {
                let mut c = Command::new(program);
                c.args(rest).arg(vaultd_bin());
                c
            }
            None => Command::new(vaultd_bin()),
        };
        cmd.current_dir(&dir.0)
            .args(["--bind", "127.0.0.1:0", "--threads", "4", "--init-db"])
            .args(args)
            .env_remove("JWT_KEY")
            .env_remove("OPAQUE_SERVER_SETUP")
            .stdin(Stdio::null())
            .stdout(Stdio::null());
        let Listening { child, addr, log } =
            spawn_listening(cmd).unwrap_or_else(|r| panic!("vaultd did not start: {}", r.log));
        Vaultd {
            child,
            addr,
            log,
            _dir: dir,
        }
    }

    /// A field of /proc/PID/status, as a number (kB for memory).
    pub fn status(&self, field: &str) -> u64 {
        proc_status(self.child.id(), field)
    }

    pub fn health_within(&self, bound: Duration) -> u16 {
        health_within(self.addr, bound)
    }
}

pub fn proc_status(pid: u32, field: &str) -> u64 {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let line = text
        .lines()
        .find(|l| l.starts_with(&format!("{field}:")))
        .unwrap_or_else(|| panic!("no {field} in /proc/{pid}/status"));
    line.split_whitespace().nth(1).unwrap().parse().unwrap()
}

/// `GET /health` on a new connection; its status, or a panic when no answer
/// came within `bound`.
pub fn health_within(addr: SocketAddr, bound: Duration) -> u16 {
    let started = Instant::now();
    let (status, _, body) = exchange(addr, b"GET /health HTTP/1.1\r\nConnection: close\r\n\r\n")
        .unwrap_or_else(|| panic!("/health unanswered after {:?}", started.elapsed()));
    assert!(
        started.elapsed() < bound,
        "/health took {:?}",
        started.elapsed()
    );
    if status == 503 {
        assert_eq!(body["error"], "unavailable", "{body}");
    }
    status
}

pub fn connect(addr: SocketAddr) -> TcpStream {
    let s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(15))).unwrap();
    s
}

/// Status, headers, JSON body.
pub type Answer = (u16, Vec<(String, String)>, Value);

/// One response: status, headers, JSON body (`Null` if none). `None` when
/// the connection ended (or stayed silent) before a whole response.
pub fn read_response(r: &mut BufReader<TcpStream>) -> Option<Answer> {
    let mut line = String::new();
    r.read_line(&mut line).ok().filter(|&n| n > 0)?;
    let status = line.split_whitespace().nth(1)?.parse().ok()?;
    let headers = read_headers(r);
    let len = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("Content-Length"))
        .map_or(0, |(_, v)| v.parse().unwrap());
    let mut body = vec![0; len];
    r.read_exact(&mut body).ok()?;
    Some((
        status,
        headers,
        serde_json::from_slice(&body).unwrap_or(Value::Null),
    ))
}

/// Writes `bytes` (write errors ignored: the server may close early) and
/// reads one response.
pub fn exchange(addr: SocketAddr, bytes: &[u8]) -> Option<Answer> {
    let mut s = connect(addr);
    let _ = s.write_all(bytes);
    read_response(&mut BufReader::new(s))
}

/// The response to `bytes`, asserting its status and `error`, and that the
/// server then closed the connection.
#[track_caller]
pub fn answered_then_closed(addr: SocketAddr, bytes: &[u8], status: u16, error: &str) {
    let mut s = connect(addr);
    let _ = s.write_all(bytes);
    let mut r = BufReader::new(s);
    let (got, _, body) = read_response(&mut r).expect("a response");
    assert_eq!(
        (got, body["error"].as_str()),
        (status, Some(error)),
        "{body}"
    );
    assert!(body["message"].is_string(), "{body}");
    let mut rest = Vec::new();
    let _ = r.read_to_end(&mut rest);
    assert!(
        rest.is_empty(),
        "nothing after the answer, then close: {rest:?}"
    );
}

pub const HEALTH: &[u8] = b"GET /health HTTP/1.1\r\n\r\n";

/// A slow client: sends `head`, then drips `drip` one byte every 200 ms
/// (faster than any per-read timeout) for up to 20 s. Returns when the
/// server closed the connection, and what it wrote before.
pub fn slow_client(
    addr: SocketAddr,
    head: Vec<u8>,
    drip: &'static [u8],
) -> JoinHandle<(Duration, Vec<u8>)> {
    thread::spawn(move || {
        let started = Instant::now();
        let mut s = TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(25))).unwrap();
        let mut writer = s.try_clone().unwrap();
        thread::spawn(move || {
            let _ = writer.write_all(&head);
            for b in drip.iter().cycle() {
                if started.elapsed() > Duration::from_secs(20) || writer.write_all(&[*b]).is_err() {
                    return;
                }
                thread::sleep(Duration::from_millis(200));
            }
        });
        let mut seen = Vec::new();
        let _ = s.read_to_end(&mut seen);
        (started.elapsed(), seen)
    })
}

pub fn head_with(request_line: &str, headers: &[String]) -> Vec<u8> {
    let mut head = format!("{request_line}\r\n");
    for h in headers {
        head.push_str(h);
        head.push_str("\r\n");
    }
    head.push_str("\r\n");
    head.into_bytes()
}

/// Streams `prefix` then `filler` up to `total` bytes, until the server
/// closes; returns the status it answered, if it could be read.
pub fn flood_head(addr: SocketAddr, prefix: &[u8], filler: &[u8], total: usize) -> Option<u16> {
    let mut s = connect(addr);
    let reader = s.try_clone().unwrap();
    let answer = thread::spawn(move || read_response(&mut BufReader::new(reader)).map(|r| r.0));
    let chunk = filler.repeat((1 << 20) / filler.len());
    let mut sent = s.write_all(prefix).map_or(total, |()| prefix.len());
    while sent < total && s.write_all(&chunk).is_ok() {
        sent += chunk.len();
    }
    drop(s);
    answer.join().unwrap()
}

/// Opens `n` connections that send a partial head and hold them `hold`.
pub fn flood(addr: SocketAddr, n: usize, hold: Duration) {
    let mut held = Vec::new();
    for _ in 0..n {
        if let Ok(mut s) = TcpStream::connect_timeout(&addr, Duration::from_secs(1)) {
            let _ = s.write_all(b"GET /health HTTP/1.1\r\n");
            held.push(s);
        }
    }
    thread::sleep(hold);
}

/// Waits up to `bound` for `/health` to answer `200` again.
pub fn serves_again(server: &Vaultd, bound: Duration) {
    let started = Instant::now();
    loop {
        let ok = TcpStream::connect(server.addr).is_ok()
            && exchange(server.addr, HEALTH).is_some_and(|r| r.0 == 200);
        if ok {
            return;
        }
        assert!(
            started.elapsed() < bound,
            "no /health after the flood: {}",
            server.log.lock().unwrap()
        );
        thread::sleep(Duration::from_millis(200));
    }
}

/// The threads (tasks) of uid `uid`, as RLIMIT_NPROC counts them.
pub fn threads_of_uid(uid: u32) -> u64 {
    let mut n = 0;
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(text) = std::fs::read_to_string(format!("/proc/{pid}/status")) else {
            continue;
        };
        let real_uid = text.lines().find_map(|l| l.strip_prefix("Uid:"));
        if real_uid.and_then(|u| u.split_whitespace().next()) == Some(&uid.to_string()) {
            n += proc_status(pid, "Threads");
        }
    }
    n
}

/// Like `Vaultd::start`, in a directory another user may write.
pub fn start_as(wrapper: &[&str], args: &[&str]) -> Vaultd {
    use std::os::unix::fs::PermissionsExt;
    let dir = TempDir::new("hostile-as");
    std::fs::set_permissions(&dir.0, std::fs::Permissions::from_mode(0o777)).unwrap();
    Vaultd::start_in(dir, wrapper, args)
}

/// A failed `/login/finish` for `username`, with these header lines.
pub fn failed_login(server: &TestServer, username: &str, headers: &[(&str, &str)]) -> u16 {
    use opaque_ke::ClientLogin;
    let start = ClientLogin::<vaultd::auth::opaque::Suite>::start(&mut rand::rngs::OsRng, b"guess")
        .unwrap();
    let mut all = vec![("Content-Type", "application/json")];
    all.extend_from_slice(headers);
    let body = json!({"username": username, "credential_request": b64(&start.message.serialize())});
    let r = server.request("POST", "/login", None, &all, body.to_string().as_bytes());
    if r.status != 200 {
        return r.status;
    }
    let reply = r.json();
    let body = json!({"login_id": reply["login_id"], "credential_finalization": b64(&[0u8; 64])});
    let r = server.request(
        "POST",
        "/login/finish",
        None,
        &all,
        body.to_string().as_bytes(),
    );
    assert_eq!(r.status, 401, "a wrong guess");
    r.status
}
