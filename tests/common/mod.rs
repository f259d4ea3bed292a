//! The integration-test harness: starts the real `vaultd` binary on a free
//! loopback port, against SQLite or a real PostgreSQL, and speaks HTTP to it.
#![allow(dead_code)]

pub mod ksf;
pub mod listen;
pub mod pg;
pub mod relay;
pub mod spawn;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use opaque_ke::{
    ClientLogin, ClientLoginFinishParameters, ClientRegistration,
    ClientRegistrationFinishParameters, CredentialResponse, RegistrationResponse,
};
use rand::rngs::OsRng;
use serde_json::{Value, json};
use spawn::{Listening, Refused, spawn_listening};
use vaultd::auth::opaque::Suite;

pub use ksf::cheap_ksf;
// tests/common/skip.rs, loaded once: by pg.rs, which also stands alone.
#[allow(unused_imports)]
pub use pg::skipped;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Runs a test body once per backend: `both_backends!(fn_name, ...)` makes
/// `sqlite::fn_name` and `postgres::fn_name` tests calling `fn_name(Backend)`.
#[macro_export]
macro_rules! both_backends {
    ($($name:ident),* $(,)?) => {
        mod sqlite {
            $( #[test] fn $name() { super::$name($crate::common::Backend::Sqlite) } )*
        }
        mod postgres {
            $( #[test] fn $name() { super::$name($crate::common::Backend::Postgres) } )*
        }
    };
}

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// A scratch directory removed on drop.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(tag: &str) -> TempDir {
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let dir =
            std::env::temp_dir().join(format!("vaultd-test-{tag}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Extra flags for a server.
#[derive(Default, Clone)]
pub struct Options {
    pub args: Vec<String>,
}

/// A running vaultd process.
pub struct TestServer {
    pub backend: Backend,
    pub dir: Arc<TempDir>,
    pub addr: SocketAddr,
    child: Child,
    /// Everything the server wrote on stderr (the access log among it).
    pub log: Arc<Mutex<String>>,
    options: Options,
}

pub fn vaultd_bin() -> &'static str {
    env!("CARGO_BIN_EXE_vaultd")
}

impl TestServer {
    /// A fresh server with `--init-db` on an empty database; `None` when the
    /// backend is PostgreSQL and none is available (the harness panics
    /// instead under `VAULTD_REQUIRE_PG=1`).
    pub fn start(backend: Backend) -> Option<TestServer> {
        TestServer::start_with(backend, Options::default())
    }

    pub fn start_with(backend: Backend, options: Options) -> Option<TestServer> {
        let dir = Arc::new(TempDir::new(match backend {
            Backend::Sqlite => "sqlite",
            Backend::Postgres => "pg",
        }));
        if backend == Backend::Postgres {
            // pg_settings_for_test records the skip.
            let settings = pg::pg_settings_for_test("api")?;
            std::fs::write(
                dir.0.join("database.ini"),
                pg::pg_settings_as_ini(&settings),
            )
            .unwrap();
        }
        Some(TestServer::spawn(
            backend,
            dir,
            options,
            true,
            "127.0.0.1:0",
        ))
    }

    /// A fresh server (with `--init-db`) in a directory the test prepared,
    /// e.g. with its own `database.ini`.
    pub fn start_in(backend: Backend, dir: TempDir, options: Options) -> TestServer {
        TestServer::spawn(backend, Arc::new(dir), options, true, "127.0.0.1:0")
    }

    /// Like `start_in`, for a server that may refuse to start (a test's own
    /// `.env`): `Err(its stderr)` then. The test keeps `dir` to look inside.
    pub fn try_start_in(
        backend: Backend,
        dir: Arc<TempDir>,
        options: Options,
    ) -> Result<TestServer, String> {
        TestServer::try_spawn(backend, dir, options, true, "127.0.0.1:0")
    }

    /// A vaultd (with `--init-db`) in `dir` that must refuse to start: how
    /// it exited and what it said. Panics when it serves instead.
    pub fn refused_in(dir: &TempDir, options: Options) -> Refused {
        let cmd = TestServer::command(&dir.0, &options, true, "127.0.0.1:0");
        match spawn_listening(cmd) {
            Ok(Listening { mut child, log, .. }) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("vaultd started: {}", log.lock().unwrap())
            }
            Err(refused) => refused,
        }
    }

    /// A second server on the same directory (same `.env`, same database).
    pub fn sibling(&self) -> TestServer {
        TestServer::spawn(
            self.backend,
            self.dir.clone(),
            self.options.clone(),
            false,
            "127.0.0.1:0",
        )
    }

    fn spawn(
        backend: Backend,
        dir: Arc<TempDir>,
        options: Options,
        init: bool,
        bind: &str,
    ) -> TestServer {
        TestServer::try_spawn(backend, dir, options, init, bind)
            .unwrap_or_else(|log| panic!("vaultd did not start: {log}"))
    }

    fn try_spawn(
        backend: Backend,
        dir: Arc<TempDir>,
        options: Options,
        init: bool,
        bind: &str,
    ) -> Result<TestServer, String> {
        let cmd = TestServer::command(&dir.0, &options, init, bind);
        let Listening { child, addr, log } = spawn_listening(cmd).map_err(|r| r.log)?;
        Ok(TestServer {
            backend,
            dir,
            addr,
            child,
            log,
            options,
        })
    }

    /// vaultd in `dir`, without the secrets of this process's environment.
    fn command(dir: &Path, options: &Options, init: bool, bind: &str) -> Command {
        let mut cmd = Command::new(vaultd_bin());
        cmd.current_dir(dir)
            .args(["--bind", bind, "--threads", "4"])
            .args(&options.args)
            .env_remove("JWT_KEY")
            .env_remove("OPAQUE_SERVER_SETUP")
            .stdin(Stdio::null())
            .stdout(Stdio::null());
        if init {
            cmd.arg("--init-db");
        }
        cmd
    }

    /// Stops the server (SIGKILL) and starts it again on the same port and
    /// data, without `--init-db`.
    pub fn restart(&mut self) {
        self.restart_with(|| {});
    }

    /// Like `restart`, running `between` while the server is down.
    pub fn restart_with(&mut self, between: impl FnOnce()) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        between();
        let bind = self.addr.to_string();
        let next = TestServer::spawn(
            self.backend,
            self.dir.clone(),
            self.options.clone(),
            false,
            &bind,
        );
        // The old process is already gone; dropping it only reaps it again.
        drop(std::mem::replace(self, next));
    }

    /// Sends SIGTERM and waits for the exit status.
    pub fn terminate(mut self) -> std::process::ExitStatus {
        send_signal(self.child.id(), "TERM");
        self.child.wait().unwrap()
    }

    /// `http://ADDR`, what a client is given as its server.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url())
    }

    /// The `.env` the server made.
    pub fn env_value(&self, key: &str) -> String {
        let text = std::fs::read_to_string(self.dir.0.join(".env")).unwrap();
        text.lines()
            .find_map(|l| l.strip_prefix(&format!("{key}=")).map(str::to_string))
            .unwrap()
    }

    /// POSTs a JSON body; returns the status and the JSON body.
    pub fn post(&self, path: &str, token: Option<&str>, body: &Value) -> (u16, Value) {
        let r = self.request(
            "POST",
            path,
            token,
            &[("Content-Type", "application/json")],
            body.to_string().as_bytes(),
        );
        (r.status, r.json())
    }

    /// Any request; the raw response.
    pub fn request(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> RawResponse {
        let mut head = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nContent-Length: {}\r\n",
            self.addr,
            body.len()
        );
        if let Some(t) = token {
            head.push_str(&format!("Authorization: Bearer {t}\r\n"));
        }
        for (k, v) in headers {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
        head.push_str("\r\n");
        let mut bytes = head.into_bytes();
        bytes.extend_from_slice(body);
        let mut response = self.raw_head(&bytes);
        if method != "HEAD" {
            response.read_body();
        }
        response.finish()
    }

    /// Writes raw bytes on a new connection and reads the response.
    pub fn raw(&self, bytes: &[u8]) -> RawResponse {
        let mut response = self.raw_head(bytes);
        response.read_body();
        response.finish()
    }

    fn raw_head(&self, bytes: &[u8]) -> PartialResponse {
        let mut stream = TcpStream::connect(self.addr).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        // The server may answer (413) and close before reading everything.
        let _ = stream.write_all(bytes);
        read_head(BufReader::new(stream))
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn send_signal(pid: u32, signal: &str) {
    Command::new("kill")
        .arg(format!("-{signal}"))
        .arg(pid.to_string())
        .status()
        .unwrap();
}

pub struct RawResponse {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl RawResponse {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|_| {
            panic!(
                "response {} is not JSON: {:?}",
                self.status,
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// A response whose head has been read.
pub struct PartialResponse {
    reader: BufReader<TcpStream>,
    response: RawResponse,
}

impl PartialResponse {
    /// Reads the body its Content-Length announces.
    fn read_body(&mut self) {
        let len: usize = self
            .response
            .header("Content-Length")
            .map_or(0, |v| v.parse().unwrap());
        self.response.body = vec![0; len];
        self.reader.read_exact(&mut self.response.body).unwrap();
    }

    fn finish(self) -> RawResponse {
        self.response
    }
}

/// Reads the status line and headers of one HTTP/1.1 response.
fn read_head(mut reader: BufReader<TcpStream>) -> PartialResponse {
    let mut status_line = String::new();
    reader.read_line(&mut status_line).unwrap();
    let status = status_line
        .split_whitespace()
        .nth(1)
        .unwrap_or_else(|| panic!("no status line: {status_line:?}"))
        .parse()
        .unwrap();
    let headers = read_headers(&mut reader);
    PartialResponse {
        reader,
        response: RawResponse {
            status,
            headers,
            body: Vec::new(),
        },
    }
}

/// The header lines of an HTTP/1.1 message, up to the blank line, trimmed.
pub fn read_headers(reader: &mut impl BufRead) -> Vec<(String, String)> {
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        let line = line.trim_end();
        if line.is_empty() {
            return headers;
        }
        let (k, v) = line.split_once(':').unwrap();
        headers.push((k.trim().to_string(), v.trim().to_string()));
    }
}

/// Writes `text` to a file that only its owner may read or write (mode
/// 0600), as vaultd requires of `.env`.
pub fn write_private(path: &Path, text: &str) {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    // `mode` applies only to a new file.
    file.set_permissions(std::fs::Permissions::from_mode(0o600))
        .unwrap();
    file.write_all(text.as_bytes()).unwrap();
}

pub fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

pub fn unb64(text: &str) -> Vec<u8> {
    URL_SAFE_NO_PAD.decode(text).unwrap()
}

/// Step 1 of an OPAQUE registration: the client state and the base64url
/// `registration_request`.
pub fn registration_start(password: &str) -> (ClientRegistration<Suite>, String) {
    let start = ClientRegistration::<Suite>::start(&mut OsRng, password.as_bytes()).unwrap();
    (start.state, b64(&start.message.serialize()))
}

/// Step 2: the base64url `registration_record` for the server's reply.
pub fn registration_finish(
    state: ClientRegistration<Suite>,
    password: &str,
    reply: &Value,
) -> String {
    let response =
        RegistrationResponse::deserialize(&unb64(reply["registration_response"].as_str().unwrap()))
            .unwrap();
    let ksf = cheap_ksf();
    let params = ClientRegistrationFinishParameters::new(Default::default(), Some(&ksf));
    let finish = state
        .finish(&mut OsRng, password.as_bytes(), response, params)
        .unwrap();
    b64(&finish.message.serialize())
}

/// Registers `username` with `password` through the API; returns the status
/// of `/register/finish` (or of `/register` when that failed).
pub fn register(server: &TestServer, username: &str, password: &str, extra: Value) -> u16 {
    let (state, request) = registration_start(password);
    let mut body = json!({ "username": username, "registration_request": request });
    merge(&mut body, &extra, &["invite"]);
    let (status, reply) = server.post("/register", None, &body);
    if status != 200 {
        return status;
    }
    let record = registration_finish(state, password, &reply);
    let mut body = json!({
        "username": username,
        "registration_id": reply["registration_id"],
        "registration_record": record,
    });
    merge(&mut body, &extra, &["invite", "vault_key"]);
    server.post("/register/finish", None, &body).0
}

fn merge(body: &mut Value, extra: &Value, keys: &[&str]) {
    for k in keys {
        if let Some(v) = extra.get(*k) {
            body[*k] = v.clone();
        }
    }
}

/// The first step of a login: the client state and the server's reply.
pub fn login_start(
    server: &TestServer,
    username: &str,
    password: &str,
) -> (ClientLogin<Suite>, u16, Value) {
    let start = ClientLogin::<Suite>::start(&mut OsRng, password.as_bytes()).unwrap();
    let (status, reply) = server.post(
        "/login",
        None,
        &json!({ "username": username, "credential_request": b64(&start.message.serialize()) }),
    );
    (start.state, status, reply)
}

/// The client's finalization for a `/login` reply; `None` when the client
/// finds the password wrong.
pub fn login_finalization(
    state: ClientLogin<Suite>,
    password: &str,
    reply: &Value,
) -> Option<String> {
    let response =
        CredentialResponse::deserialize(&unb64(reply["credential_response"].as_str()?)).ok()?;
    let ksf = cheap_ksf();
    let finish = state
        .finish(
            &mut OsRng,
            password.as_bytes(),
            response,
            ClientLoginFinishParameters::new(None, Default::default(), Some(&ksf)),
        )
        .ok()?;
    Some(b64(&finish.message.serialize()))
}

/// A complete login; the `/login/finish` status and body.
pub fn login(server: &TestServer, username: &str, password: &str) -> (u16, Value) {
    let (state, status, reply) = login_start(server, username, password);
    if status != 200 {
        return (status, reply);
    }
    let finalization =
        login_finalization(state, password, &reply).unwrap_or_else(|| b64(&[0u8; 64]));
    server.post(
        "/login/finish",
        None,
        &json!({ "login_id": reply["login_id"], "credential_finalization": finalization }),
    )
}

/// Registers and logs in a fresh user; returns its token.
pub fn user_token(server: &TestServer, username: &str) -> String {
    assert_eq!(register(server, username, "correct horse", json!({})), 201);
    let (status, reply) = login(server, username, "correct horse");
    assert_eq!(status, 200, "{reply}");
    reply["token"].as_str().unwrap().to_string()
}

pub fn path_exists(p: &Path) -> bool {
    p.exists()
}

/// One POST on a new connection, `None` on any I/O failure (for tests where
/// the server may die mid-request).
pub fn try_post(
    addr: SocketAddr,
    path: &str,
    token: Option<&str>,
    body: &Value,
) -> Option<(u16, Value)> {
    let body = body.to_string();
    let auth = token
        .map(|t| format!("Authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    let request = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nContent-Type: application/json\r\n{auth}Content-Length: {}\r\n\r\n{body}",
        body.len()
    );
    let mut stream = TcpStream::connect_timeout(&addr, Duration::from_secs(2)).ok()?;
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .ok()?;
    stream.write_all(request.as_bytes()).ok()?;
    let mut text = String::new();
    stream.read_to_string(&mut text).ok()?;
    let (head, body) = text.split_once("\r\n\r\n")?;
    let status = head.split_whitespace().nth(1)?.parse().ok()?;
    Some((status, serde_json::from_str(body).ok()?))
}
