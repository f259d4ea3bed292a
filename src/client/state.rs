//! The device's memory of the highest vault `seq` it verified per account
//! (docs/PROTOCOL.md, section 11): what lets a client notice a server that
//! rolls its vault back.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::Error;

/// The device's memory of the highest `seq` verified per account: a small
/// JSON file, mode 0600 in a 0700 directory, holding server URLs, usernames
/// and numbers, nothing secret:
///
/// ```json
/// {"format": "vault-state", "version": 1,
///  "seen": [{"server": "http://pi.lan:8080", "username": "alice", "seq": 42}]}
/// ```
pub struct StateFile {
    path: PathBuf,
}

#[derive(Serialize, Deserialize)]
struct StateDoc {
    format: String,
    version: u32,
    seen: Vec<Seen>,
}

#[derive(Serialize, Deserialize)]
struct Seen {
    server: String,
    username: String,
    seq: i64,
}

const STATE_FORMAT: &str = "vault-state";

impl StateFile {
    pub fn new(path: PathBuf) -> StateFile {
        StateFile { path }
    }

    /// `$XDG_STATE_HOME/vault/seen.json`, else `~/.local/state/vault/seen.json`.
    pub fn default_path() -> Option<PathBuf> {
        let nonempty = |k: &str| std::env::var_os(k).filter(|v| !v.is_empty());
        let base = match nonempty("XDG_STATE_HOME") {
            Some(x) => PathBuf::from(x),
            None => PathBuf::from(nonempty("HOME")?)
                .join(".local")
                .join("state"),
        };
        Some(base.join("vault").join("seen.json"))
    }

    pub fn path(&self) -> &std::path::Path {
        &self.path
    }

    fn problem(&self, what: &str, e: impl std::fmt::Display) -> Error {
        Error::State(format!("cannot {what} {}: {e}", self.path.display()))
    }

    fn load(&self) -> Result<Vec<Seen>, Error> {
        let text = match std::fs::read_to_string(&self.path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(self.problem("read", e)),
        };
        let doc: StateDoc = serde_json::from_str(&text).map_err(|e| self.problem("read", e))?;
        if doc.format != STATE_FORMAT || doc.version != 1 {
            return Err(self.problem("read", "not a vault state file of version 1"));
        }
        Ok(doc.seen)
    }

    /// The highest verified seq of `username` at `server` (0: none yet).
    pub fn seen(&self, server: &str, username: &str) -> Result<i64, Error> {
        Ok(self
            .load()?
            .iter()
            .find(|s| s.server == server && s.username == username)
            .map_or(0, |s| s.seq))
    }

    /// Remembers `seq` for the account if above what is remembered (or
    /// whatever it is, with `lower`). Written to a temporary file and
    /// renamed, so a crash leaves the old file or the new one.
    pub fn record(&self, server: &str, username: &str, seq: i64, lower: bool) -> Result<(), Error> {
        use std::io::Write as _;
        use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
        let mut seen = self.load()?;
        match seen
            .iter_mut()
            .find(|s| s.server == server && s.username == username)
        {
            Some(s) if s.seq == seq || (s.seq > seq && !lower) => return Ok(()),
            Some(s) => s.seq = seq,
            None => seen.push(Seen {
                server: server.to_owned(),
                username: username.to_owned(),
                seq,
            }),
        }
        let dir = self.path.parent().unwrap_or(std::path::Path::new("."));
        std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(dir)
            .map_err(|e| self.problem("create the directory of", e))?;
        std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
            .map_err(|e| self.problem("restrict the directory of", e))?;
        let doc = StateDoc {
            format: STATE_FORMAT.to_owned(),
            version: 1,
            seen,
        };
        let text = serde_json::to_string_pretty(&doc).expect("the state serialises");
        let tmp = self
            .path
            .with_extension(format!("tmp-{}", std::process::id()));
        let written = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)
            .and_then(|mut f| {
                f.write_all(text.as_bytes())?;
                f.write_all(b"\n")?;
                f.sync_all()
            })
            .and_then(|()| std::fs::rename(&tmp, &self.path));
        if let Err(e) = written {
            let _ = std::fs::remove_file(&tmp);
            return Err(self.problem("write", e));
        }
        Ok(())
    }
}
