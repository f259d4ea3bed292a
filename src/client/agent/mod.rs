//! The agent of `vault unlock` (docs/PROTOCOL.md, "The agent"): a per-user
//! background process holding one unlocked [`Session`](super::Session)
//! (vault key, token, the sealed entries as the server sent them), reached
//! over a Unix socket that only its user may use. [`server`] is the agent,
//! [`Agent`] is how a command talks to it, [`harden`] keeps its memory to
//! itself.
//!
//! The protocol is one JSON object per line each way: a [`Request`] (by its
//! `op`), then one [`Response`]. A connection may carry several requests.
//!
//! The agent does not run the commands: it hands each command of its user
//! a [`Grant`] (token, vault key and its synced copy of the sealed
//! entries), and the command runs as after a login, checking the copy
//! against the manifest itself. So every command behaves the same with an
//! agent as without, and the agent stays small.

pub mod harden;
pub mod server;

use std::io::{BufRead, BufReader, Read as _, Write as _};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use zeroize::{Zeroize, Zeroizing};

use super::sync::SealedCopy;

/// The socket's file name inside [`socket_dir`].
pub const SOCKET_NAME: &str = "agent.sock";
/// Idle time after which the agent locks, unless `--timeout` says otherwise.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(15 * 60);
/// The longest request or answer line (an export of a full vault fits).
pub const MAX_LINE: u64 = 64 << 20;

/// What a command asks the agent.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Request {
    /// Locked or not, and for whom; never a secret, and not a use.
    Status,
    /// The unlocked session for a command: token, vault key and the copy,
    /// synced now if the server answers.
    Grant,
    /// Readable site names, for shell completion (not a use either, and
    /// never waiting for the server).
    Sites,
    /// Wipe the keys and exit.
    Lock,
}

impl Request {
    /// Whether the request restarts the idle timer.
    pub fn is_use(&self) -> bool {
        matches!(self, Request::Grant)
    }
}

/// What [`Request::Grant`] hands a command: enough to act as the logged-in
/// session without a login. The token and key are wiped on drop.
#[derive(Serialize, Deserialize)]
pub struct Grant {
    pub username: String,
    pub token: String,
    /// The vault key's 32 bytes, base64url.
    pub key: String,
    /// The vault as the server sent it, every field sealed.
    pub copy: SealedCopy,
    /// Milliseconds since the copy last matched the server.
    pub synced_ago_ms: u64,
}

impl Drop for Grant {
    fn drop(&mut self) {
        self.token.zeroize();
        self.key.zeroize();
    }
}

impl std::fmt::Debug for Grant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Grant(…)")
    }
}

/// `status`: nothing secret.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Status {
    pub server: String,
    pub username: String,
    pub seq: i64,
    pub entries: usize,
    /// Seconds until it locks for idleness.
    pub idle_left: u64,
    /// Seconds until the token expires (and it locks).
    pub token_left: u64,
    /// Seconds since its copy last matched the server.
    pub synced_ago: u64,
    pub pid: u32,
}

/// One answer. `ok: false` carries `error` (a code) and `message`.
#[derive(Debug, Default, Serialize, Deserialize)]
pub struct Response {
    pub ok: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<Status>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub grant: Option<Grant>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sites: Option<Vec<String>>,
}

impl Response {
    pub fn ok() -> Response {
        Response {
            ok: true,
            ..Default::default()
        }
    }

    pub fn fail(code: &str, message: impl Into<String>) -> Response {
        Response {
            error: Some(code.to_owned()),
            message: Some(message.into()),
            ..Default::default()
        }
    }
}

/// Error codes of [`Response::error`].
pub mod code {
    pub const FORBIDDEN: &str = "forbidden";
    pub const LOCKED: &str = "locked";
    pub const BAD_REQUEST: &str = "bad_request";
    pub const FAILED: &str = "failed";
}

/// The server URL as the API client keeps it, so that `http://h:1/` and
/// `http://h:1` name the same agent.
pub fn same_server(a: &str, b: &str) -> bool {
    let norm = |s: &str| s.trim().trim_end_matches('/').to_ascii_lowercase();
    norm(a) == norm(b)
}

/// `$XDG_RUNTIME_DIR/vault`, else `/tmp/vault-UID`; created 0700 when
/// `create` (else `Ok(None)` when missing), and refused unless it is a
/// directory of ours that no one else can enter.
pub fn socket_dir(create: bool) -> Result<Option<PathBuf>, String> {
    let uid = rustix::process::getuid().as_raw();
    let dir = match std::env::var_os("XDG_RUNTIME_DIR").filter(|v| !v.is_empty()) {
        Some(x) => PathBuf::from(x).join("vault"),
        None => std::env::temp_dir().join(format!("vault-{uid}")),
    };
    if create {
        match std::fs::DirBuilder::new().mode(0o700).create(&dir) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(format!("cannot create {}: {e}", dir.display())),
        }
    }
    let meta = match std::fs::symlink_metadata(&dir) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && !create => return Ok(None),
        Err(e) => return Err(format!("cannot inspect {}: {e}", dir.display())),
    };
    if !meta.is_dir() || meta.uid() != uid || meta.permissions().mode() & 0o077 != 0 {
        return Err(format!(
            "{} must be a directory of this user's with mode 0700; remove it or fix its mode",
            dir.display()
        ));
    }
    Ok(Some(dir))
}

/// Where the agent listens (its directory made if need be).
pub fn socket_path() -> Result<PathBuf, String> {
    let dir = socket_dir(true)?.ok_or("no socket directory")?;
    Ok(dir.join(SOCKET_NAME))
}

/// Why no agent answered.
#[derive(Debug)]
pub enum NoAgent {
    /// Nothing listens: locked (or the agent was killed).
    Locked,
    /// Something is wrong with the socket or the agent; say it.
    Problem(String),
}

/// A connection to the running agent.
pub struct Agent {
    reader: BufReader<UnixStream>,
}

impl Agent {
    /// Connects to the agent at `path` and checks that it runs as this user.
    pub fn connect_at(path: &Path) -> Result<Agent, NoAgent> {
        let stream = match UnixStream::connect(path) {
            Ok(s) => s,
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::NotFound | std::io::ErrorKind::ConnectionRefused
                ) =>
            {
                return Err(NoAgent::Locked);
            }
            Err(e) => {
                return Err(NoAgent::Problem(format!(
                    "cannot reach the agent at {}: {e}",
                    path.display()
                )));
            }
        };
        // A socket someone else planted would collect our passwords.
        let peer = rustix::net::sockopt::socket_peercred(&stream)
            .map_err(|e| NoAgent::Problem(format!("cannot check the agent's user: {e}")))?;
        if peer.uid != rustix::process::getuid() {
            return Err(NoAgent::Problem(format!(
                "the socket {} belongs to another user's process; remove it",
                path.display()
            )));
        }
        // A wedged agent must not hang every command.
        let _ = stream.set_read_timeout(Some(Duration::from_secs(60)));
        Ok(Agent {
            reader: BufReader::new(stream),
        })
    }

    /// Connects to this user's agent.
    pub fn connect() -> Result<Agent, NoAgent> {
        match socket_dir(false).map_err(NoAgent::Problem)? {
            Some(dir) => Agent::connect_at(&dir.join(SOCKET_NAME)),
            None => Err(NoAgent::Locked),
        }
    }

    /// One request, one answer. The line sent is wiped after.
    pub fn call(&mut self, request: &Request) -> Result<Response, String> {
        let mut line = Zeroizing::new(
            serde_json::to_string(request).map_err(|e| format!("cannot encode: {e}"))?,
        );
        line.push('\n');
        let lost =
            |e: std::io::Error| format!("the agent stopped answering ({e}); run the command again");
        self.reader
            .get_mut()
            .write_all(line.as_bytes())
            .map_err(lost)?;
        let mut answer = Zeroizing::new(String::new());
        let n = (&mut self.reader)
            .take(MAX_LINE)
            .read_line(&mut answer)
            .map_err(lost)?;
        if n == 0 {
            return Err(
                "the agent closed the connection (it locked meanwhile?); run the command again"
                    .into(),
            );
        }
        serde_json::from_str(&answer).map_err(|e| format!("the agent answered nonsense: {e}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_grant_crosses_the_socket_whole_and_never_prints_its_secrets() {
        let mut r = Response::ok();
        r.grant = Some(Grant {
            username: "alice".into(),
            token: "tok.en.sig".into(),
            key: "A".repeat(43),
            copy: SealedCopy {
                seq: 3,
                entries: Vec::new(),
                manifest: Some("m".into()),
            },
            synced_ago_ms: 1500,
        });
        let line = serde_json::to_string(&r).unwrap();
        let back: Response = serde_json::from_str(&line).unwrap();
        let g = back.grant.as_ref().unwrap();
        assert_eq!((g.token.as_str(), g.copy.seq), ("tok.en.sig", 3));
        assert_eq!(g.copy.manifest.as_deref(), Some("m"));
        let shown = format!("{back:?}");
        assert!(
            !shown.contains("tok.en.sig") && !shown.contains("AAAA"),
            "{shown}"
        );
    }

    #[test]
    fn only_a_grant_is_a_use() {
        let ops = ["status", "grant", "sites", "lock"];
        let uses: Vec<bool> = ops
            .iter()
            .map(|op| {
                let r: Request = serde_json::from_str(&format!("{{\"op\":\"{op}\"}}")).unwrap();
                r.is_use()
            })
            .collect();
        assert_eq!(uses, [false, true, false, false]);
        assert!(serde_json::from_str::<Request>("{\"op\":\"get\",\"site\":\"x\"}").is_err());
    }

    #[test]
    fn servers_match_without_a_trailing_slash_or_case() {
        assert!(same_server("http://Pi.lan:8080/", "http://pi.lan:8080"));
        assert!(!same_server("http://pi.lan:8080", "http://pi.lan:8081"));
    }
}
