//! The agent itself: one unlocked [`Session`], served over a Unix socket to
//! processes of the same user, until it locks (idle timeout, token expiry,
//! `lock`, a session the server ended). Locking wipes the key and the token,
//! removes the socket and ends the process.

use std::io::{BufRead, BufReader, Read as _, Write as _};
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use zeroize::Zeroizing;

use super::harden::Locked;
use super::{Grant, MAX_LINE, Request, Response, Status, code};
use crate::client::sync::{Verdict, is_offline};
use crate::client::{Client, Error, Session};

/// Connections served at once; more wait for the kernel's backlog.
const MAX_CONNECTIONS: usize = 64;
/// A connection without a request for this long is closed.
const CONNECTION_IDLE: Duration = Duration::from_secs(60);
/// A token whose lifetime cannot be read is taken to last the API's hour.
const DEFAULT_TOKEN_LIFE: Duration = Duration::from_secs(3600);

/// What `vault unlock` starts the agent with.
pub struct Config {
    pub server: String,
    pub username: String,
    pub ca_file: Option<PathBuf>,
    pub timeout: Duration,
    pub socket: PathBuf,
}

/// The unlocked state. Field order is drop order: the session (key and
/// token, wiped on drop) goes before its pages are unlocked.
pub struct Unlocked {
    session: Box<Session>,
    locked: Locked,
    server: String,
    username: String,
    token_deadline: Instant,
    last_use: Instant,
    synced_at: Instant,
    seq: i64,
    entries: usize,
}

impl Unlocked {
    /// Drops the session (its key and token are zeroized on drop), then
    /// unlocks their pages.
    fn wipe(self) {
        let Unlocked {
            session,
            mut locked,
            ..
        } = self;
        drop(session);
        locked.release();
    }
}

/// Logs in, locks the key's and token's pages and syncs a first copy.
pub fn unlock(cfg: &Config, password: &str) -> Result<Unlocked, Error> {
    let client = Client::with_ca_file(&cfg.server, cfg.ca_file.as_deref())?;
    let session = Box::new(client.login(&cfg.username, password)?);
    // Nothing on disk but the socket: the commands it serves keep this
    // device's highest verified seq (they check every copy themselves).
    session.set_state_file(None);
    let mut locked = Locked::default();
    let token = session.token().as_str();
    let life = token_life(token).unwrap_or(DEFAULT_TOKEN_LIFE);
    locked
        .lock(&*session as *const Session, std::mem::size_of::<Session>())
        .and_then(|()| locked.lock(token.as_ptr(), token.len()))
        .map_err(Error::State)?;
    let now = Instant::now();
    let mut unlocked = Unlocked {
        username: session.username().to_owned(),
        session,
        locked,
        server: cfg.server.clone(),
        token_deadline: now + life,
        last_use: now,
        synced_at: now,
        seq: 0,
        entries: 0,
    };
    match unlocked.session.check() {
        Ok(v) => unlocked.synced(&v),
        Err(e) => {
            unlocked.wipe();
            return Err(e);
        }
    }
    Ok(unlocked)
}

/// The seconds a JWT has left, from its `exp` claim (not verified: the
/// server does that; this only decides when to lock).
fn token_life(token: &str) -> Option<Duration> {
    let payload = token.split('.').nth(1)?;
    let bytes = URL_SAFE_NO_PAD.decode(payload.trim_end_matches('=')).ok()?;
    let claims: serde_json::Value = serde_json::from_slice(&bytes).ok()?;
    let exp = claims.get("exp")?.as_u64()?;
    let now = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .ok()?
        .as_secs();
    Some(Duration::from_secs(exp.saturating_sub(now)))
}

/// Binds the socket, mode 0600 (its directory is 0700 already).
pub fn bind(path: &Path) -> Result<UnixListener, String> {
    match std::fs::remove_file(path) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(format!("cannot remove the old {}: {e}", path.display())),
    }
    let listener = UnixListener::bind(path)
        .map_err(|e| format!("cannot listen on {}: {e}", path.display()))?;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))
        .map_err(|e| format!("cannot restrict {}: {e}", path.display()))?;
    Ok(listener)
}

struct Shared {
    state: Mutex<Option<Unlocked>>,
    timeout: Duration,
    socket: PathBuf,
    /// The socket's (device, inode) as bound: a socket removed or replaced
    /// (by a newer `vault unlock`) means nobody can reach this agent.
    socket_id: Option<(u64, u64)>,
    connections: AtomicUsize,
}

fn file_id(path: &Path) -> Option<(u64, u64)> {
    use std::os::unix::fs::MetadataExt;
    std::fs::symlink_metadata(path)
        .ok()
        .map(|m| (m.dev(), m.ino()))
}

impl Shared {
    fn socket_is_ours(&self) -> bool {
        self.socket_id.is_some() && file_id(&self.socket) == self.socket_id
    }

    fn state(&self) -> MutexGuard<'_, Option<Unlocked>> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Wipes everything, removes the socket and ends the process. Called
    /// with the state's lock held, so no request is half-way.
    fn lock_now(&self, state: &mut Option<Unlocked>) -> ! {
        if let Some(u) = state.take() {
            u.wipe();
        }
        if self.socket_is_ours() {
            let _ = std::fs::remove_file(&self.socket);
        }
        std::process::exit(0)
    }
}

/// Serves until the agent locks; never returns.
pub fn serve(listener: UnixListener, unlocked: Unlocked, cfg: &Config) -> ! {
    let shared = Arc::new(Shared {
        state: Mutex::new(Some(unlocked)),
        timeout: cfg.timeout,
        socket: cfg.socket.clone(),
        socket_id: file_id(&cfg.socket),
        connections: AtomicUsize::new(0),
    });
    let watcher = shared.clone();
    std::thread::spawn(move || watch(&watcher));
    for stream in listener.incoming() {
        let Ok(stream) = stream else { continue };
        if !same_user(&stream) {
            // Said once, then closed: another user gets nothing else.
            let _ = (&stream).write_all(
                b"{\"ok\":false,\"error\":\"forbidden\",\"message\":\"this agent serves its own user only\"}\n",
            );
            continue;
        }
        if shared.connections.fetch_add(1, Ordering::SeqCst) >= MAX_CONNECTIONS {
            shared.connections.fetch_sub(1, Ordering::SeqCst);
            continue;
        }
        // A client that goes quiet does not keep its thread for ever.
        let _ = stream.set_read_timeout(Some(CONNECTION_IDLE));
        let spawned = std::thread::Builder::new().spawn({
            let shared = shared.clone();
            move || {
                connection(&shared, stream);
                shared.connections.fetch_sub(1, Ordering::SeqCst);
            }
        });
        if spawned.is_err() {
            shared.connections.fetch_sub(1, Ordering::SeqCst);
        }
    }
    let mut state = shared.state();
    shared.lock_now(&mut state)
}

/// The peer's uid (SO_PEERCRED) is ours.
fn same_user(stream: &UnixStream) -> bool {
    rustix::net::sockopt::socket_peercred(stream)
        .is_ok_and(|peer| peer.uid == rustix::process::getuid())
}

/// Locks on idleness, on the token's expiry, and when its socket is gone
/// or replaced (nobody can reach this agent any more).
fn watch(shared: &Shared) {
    loop {
        std::thread::sleep(Duration::from_millis(200));
        let mut state = shared.state();
        let now = Instant::now();
        let expired = match state.as_ref() {
            None => true,
            Some(u) => {
                now.duration_since(u.last_use) >= shared.timeout
                    || now >= u.token_deadline
                    || !shared.socket_is_ours()
            }
        };
        if expired {
            shared.lock_now(&mut state);
        }
    }
}

fn connection(shared: &Shared, stream: UnixStream) {
    let mut reader = BufReader::new(stream);
    loop {
        let mut line = Zeroizing::new(String::new());
        match (&mut reader).take(MAX_LINE).read_line(&mut line) {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        let (answer, lock) = match serde_json::from_str::<Request>(&line) {
            Ok(request) => answer(shared, &request),
            Err(e) => (
                Response::fail(code::BAD_REQUEST, format!("not a request: {e}")),
                false,
            ),
        };
        let mut text = Zeroizing::new(serde_json::to_string(&answer).unwrap_or_else(|_| {
            "{\"ok\":false,\"error\":\"failed\",\"message\":\"cannot encode the answer\"}".into()
        }));
        // The grant's token and key are wiped as `answer` drops.
        drop(answer);
        text.push('\n');
        let sent = reader.get_mut().write_all(text.as_bytes());
        if lock {
            let mut state = shared.state();
            shared.lock_now(&mut state);
        }
        if sent.is_err() {
            return;
        }
    }
}

/// Answers one request; `true` when the agent must lock after answering.
fn answer(shared: &Shared, request: &Request) -> (Response, bool) {
    let mut state = shared.state();
    let Some(u) = state.as_mut() else {
        return (Response::fail(code::LOCKED, "the agent is locked"), true);
    };
    if request.is_use() {
        u.last_use = Instant::now();
    }
    match request {
        Request::Status => {
            let mut r = Response::ok();
            r.status = Some(u.status(shared.timeout));
            (r, false)
        }
        Request::Lock => (Response::ok(), true),
        _ => match u.serve(request) {
            Ok(r) => (r, false),
            Err(Error::SessionEnded) => (
                Response::fail(
                    code::LOCKED,
                    "the server ended the agent's session (logout or password change elsewhere); the agent locked: run `vault unlock`",
                ),
                true,
            ),
            Err(e) => (Response::fail(code::FAILED, e.to_string()), false),
        },
    }
}

impl Unlocked {
    fn synced(&mut self, v: &Verdict) {
        self.synced_at = Instant::now();
        self.seq = v.seq;
        self.entries = v.entries;
    }

    fn status(&self, timeout: Duration) -> Status {
        let now = Instant::now();
        Status {
            server: self.server.clone(),
            username: self.username.clone(),
            seq: self.seq,
            entries: self.entries,
            idle_left: timeout
                .saturating_sub(now.duration_since(self.last_use))
                .as_secs(),
            token_left: self.token_deadline.saturating_duration_since(now).as_secs(),
            synced_ago: now.duration_since(self.synced_at).as_secs(),
            pid: std::process::id(),
        }
    }

    /// Brings the copy up to date (`/sync` since its seq, then the manifest
    /// check); while the server cannot be reached, the copy stays as it is
    /// (the command says so, with its age).
    fn refresh(&mut self) -> Result<(), Error> {
        match self.session.check() {
            Ok(v) => self.synced(&v),
            Err(Error::Api(e)) if is_offline(&e) => {}
            Err(e) => return Err(e),
        }
        Ok(())
    }

    fn serve(&mut self, request: &Request) -> Result<Response, Error> {
        let mut r = Response::ok();
        match request {
            Request::Grant => {
                self.refresh()?;
                let key = self.session.vault_key().raw_bytes();
                r.grant = Some(Grant {
                    username: self.username.clone(),
                    token: self.session.token().as_str().to_owned(),
                    key: URL_SAFE_NO_PAD.encode(key),
                    copy: self.session.copy().unwrap_or_default(),
                    synced_ago_ms: self.synced_at.elapsed().as_millis() as u64,
                });
            }
            // Completion must be instant: the copy as it is.
            Request::Sites => {
                let listing = self.session.list_copy();
                r.sites = Some(listing.entries.iter().map(|e| e.doc.name.clone()).collect());
            }
            Request::Status | Request::Lock => {}
        }
        Ok(r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_lifetime_from_its_exp_claim() {
        let b64 = |v: serde_json::Value| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string())
        };
        let now = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let token = format!(
            "{}.{}.sig",
            b64(serde_json::json!({"alg": "HS256"})),
            b64(serde_json::json!({"exp": now + 600}))
        );
        let life = token_life(&token).unwrap().as_secs();
        assert!((598..=600).contains(&life), "{life}");
        let past = format!("x.{}.sig", b64(serde_json::json!({"exp": 5})));
        assert_eq!(token_life(&past), Some(Duration::ZERO));
        assert_eq!(token_life("not a jwt"), None);
        assert_eq!(token_life("a.!!!.c"), None);
    }
}
