//! A small blocking HTTP client for every route of `API.md`.
//!
//! It speaks the wire contract and nothing more: binary values are raw bytes
//! here and base64url without padding on the wire; entry fields are opaque
//! strings (the vault crypto lives in [`super::crypto`]). Errors are mapped
//! from the status and the `{"error","message"}` body into [`HttpError`].

use std::io::Read;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::Deserialize;
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

/// How long to wait for a connection.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// How long to wait for the server to answer (or take) a read (write).
pub const READ_TIMEOUT: Duration = Duration::from_secs(15);

/// Largest response body read (every entry of a big vault fits).
const MAX_RESPONSE: u64 = 64 * 1024 * 1024;

/// An error of one API call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HttpError {
    /// `400`: the server refused the request's shape or values.
    BadRequest { message: String },
    /// `401`: missing/expired/revoked token, or a failed login.
    Unauthorized { message: String },
    /// `403`: signups closed, invite needed, or re-authentication required.
    Forbidden { message: String },
    /// `404`: no such entry (or route).
    NotFound { message: String },
    /// `409`: the name or site exists, or the entry's version moved on.
    Conflict { message: String },
    /// `429`: throttled; `retry_after` in seconds when the server said.
    TooManyRequests { retry_after: Option<u64> },
    /// `503`: the server's database is unreachable.
    Unavailable { message: String },
    /// The server could not be reached at all.
    Unreachable { url: String, reason: String },
    /// Any other status.
    Other { status: u16, message: String },
    /// The server answered something that is not the API's shape.
    BadResponse { message: String },
    /// The URL cannot be used (unknown scheme, `https` without TLS support…).
    BadUrl { url: String, reason: String },
}

impl std::fmt::Display for HttpError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HttpError::BadRequest { message } => {
                write!(f, "the server refused the request: {message}")
            }
            HttpError::Unauthorized { message } => write!(f, "unauthorized: {message}"),
            HttpError::Forbidden { message } => write!(f, "forbidden: {message}"),
            HttpError::NotFound { message } => write!(f, "not found: {message}"),
            HttpError::Conflict { message } => write!(f, "conflict: {message}"),
            HttpError::TooManyRequests {
                retry_after: Some(s),
            } => {
                write!(f, "too many attempts; retry in {s} seconds")
            }
            HttpError::TooManyRequests { retry_after: None } => {
                f.write_str("too many attempts; retry later")
            }
            HttpError::Unavailable { .. } => {
                f.write_str("the server's database is unavailable; retry later")
            }
            HttpError::Unreachable { url, .. } => write!(
                f,
                "server unreachable: is vaultd running at {url}? check --server"
            ),
            HttpError::Other { status, message } => {
                write!(f, "the server answered {status}: {message}")
            }
            HttpError::BadResponse { message } => {
                write!(f, "unexpected answer from the server: {message}")
            }
            HttpError::BadUrl { url, reason } => write!(f, "cannot use server URL {url}: {reason}"),
        }
    }
}

impl std::error::Error for HttpError {}

pub use super::wire::{Change, LoginReply, SyncAnswer, Token, WireEntry, Write, Written};

/// The blocking API client.
#[derive(Clone)]
pub struct Api {
    base: String,
    agent: ureq::Agent,
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn unb64(s: &str, what: &str) -> Result<Vec<u8>, HttpError> {
    URL_SAFE_NO_PAD
        .decode(s.as_bytes())
        .map_err(|_| HttpError::BadResponse {
            message: format!("`{what}` is not base64url"),
        })
}

#[derive(Deserialize)]
struct ErrorBody {
    #[serde(default)]
    error: String,
    #[serde(default)]
    message: String,
}

#[derive(Deserialize)]
struct RegistrationResponseBody {
    registration_response: String,
    /// API 1.1. Optional only while servers of 1.0 are about: a 1.1 server
    /// always sends it (TODO(lead): make it required once the server side
    /// of 1.1 has landed).
    #[serde(default)]
    registration_id: Option<String>,
}

/// The answer of `/register` and `/account/password`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistrationStart {
    /// The OPAQUE `registration_response` (raw bytes).
    pub response: Vec<u8>,
    /// API 1.1: names the credential identifier the server chose; sent back
    /// unchanged with the finish call. `None` from a 1.0 server.
    pub registration_id: Option<String>,
}

impl RegistrationResponseBody {
    fn into_start(self) -> Result<RegistrationStart, HttpError> {
        Ok(RegistrationStart {
            response: unb64(&self.registration_response, "registration_response")?,
            registration_id: self.registration_id,
        })
    }
}

/// Puts `registration_id` into a finish body, only when the server gave
/// one: a 1.0 server refuses unknown fields (TODO(lead): always send it
/// once every server speaks 1.1).
fn with_registration_id(body: &mut Value, registration_id: Option<&str>) {
    if let Some(id) = registration_id {
        body["registration_id"] = json!(id);
    }
}

#[derive(Deserialize)]
struct RegisterFinishBody {
    username: String,
}

#[derive(Deserialize)]
struct LoginBody {
    login_id: String,
    credential_response: String,
}

#[derive(Deserialize)]
struct SessionBody {
    token: String,
    #[serde(default)]
    expires_in: u64,
    #[serde(default)]
    vault_key: Option<String>,
}

#[derive(Deserialize)]
struct SiteVersionBody {
    version: i64,
}

#[derive(Deserialize)]
struct EntryBody {
    entry: WireEntry,
}

#[derive(Deserialize)]
struct EntriesBody {
    entries: Vec<WireEntry>,
}

/// The TLS set-up of an https server: the system's CA bundle, and the CA
/// file (a LAN server's own CA) if one is given.
fn tls_connector(
    base: &str,
    ca_file: Option<&std::path::Path>,
) -> Result<native_tls::TlsConnector, HttpError> {
    let bad_ca = |reason: String| HttpError::BadUrl {
        url: base.to_owned(),
        reason,
    };
    let mut tls = native_tls::TlsConnector::builder();
    if let Some(path) = ca_file {
        let pem = std::fs::read(path)
            .map_err(|e| bad_ca(format!("cannot read the CA file {}: {e}", path.display())))?;
        let cert = native_tls::Certificate::from_pem(&pem)
            .map_err(|_| bad_ca(format!("{} is not a PEM certificate", path.display())))?;
        tls.add_root_certificate(cert);
    }
    tls.build()
        .map_err(|e| bad_ca(format!("cannot set up TLS: {e}")))
}

impl Api {
    /// A client for the server at `base_url` (`http://host:port` or
    /// `https://host:port`, a path prefix allowed); HTTPS checks the server's
    /// certificate against the system's roots.
    pub fn new(base_url: &str) -> Result<Api, HttpError> {
        Api::with_ca_file(base_url, None)
    }

    /// Like [`Api::new`], also trusting the PEM certificate(s) in `ca_file`
    /// (a LAN server's self-signed certificate).
    pub fn with_ca_file(
        base_url: &str,
        ca_file: Option<&std::path::Path>,
    ) -> Result<Api, HttpError> {
        let base = base_url.trim().trim_end_matches('/').to_owned();
        let lower = base.to_ascii_lowercase();
        let scheme_len = ["http://", "https://"]
            .iter()
            .find(|s| lower.starts_with(*s))
            .map(|s| s.len());
        if scheme_len.is_none_or(|n| lower.len() <= n) {
            return Err(HttpError::BadUrl {
                url: base,
                reason: "expected http://HOST[:PORT] or https://HOST[:PORT]".into(),
            });
        }
        let mut builder = ureq::AgentBuilder::new()
            // A server that is down, or up and silent, is told in seconds.
            .timeout_connect(CONNECT_TIMEOUT)
            .timeout_read(READ_TIMEOUT)
            .timeout_write(READ_TIMEOUT)
            // Never follow a redirect with a token or an OPAQUE message.
            .redirects(0)
            .user_agent(concat!("vault/", env!("CARGO_PKG_VERSION")));
        // Only https needs TLS: setting it up reads the system's whole CA
        // bundle, some 40 ms, which a command through the agent would
        // otherwise spend for nothing on a plain-http loopback server.
        if lower.starts_with("https://") {
            builder = builder.tls_connector(std::sync::Arc::new(tls_connector(&base, ca_file)?));
        }
        let agent = builder.build();
        Ok(Api { base, agent })
    }

    /// The base URL, as used in messages.
    pub fn base_url(&self) -> &str {
        &self.base
    }

    fn post<T: DeserializeOwned>(
        &self,
        path: &str,
        token: Option<&Token>,
        body: Value,
    ) -> Result<T, HttpError> {
        let url = format!("{}{}", self.base, path);
        let mut req = self
            .agent
            .post(&url)
            .set("Content-Type", "application/json");
        if let Some(t) = token {
            req = req.set("Authorization", &format!("Bearer {}", t.as_str()));
        }
        match req.send_json(body) {
            Ok(resp) => read_json(resp),
            Err(ureq::Error::Status(status, resp)) => Err(map_status(status, resp)),
            Err(ureq::Error::Transport(t)) => Err(match t.kind() {
                ureq::ErrorKind::InvalidUrl | ureq::ErrorKind::UnknownScheme => HttpError::BadUrl {
                    url: self.base.clone(),
                    reason: t.to_string(),
                },
                _ => HttpError::Unreachable {
                    url: self.base.clone(),
                    reason: t.to_string(),
                },
            }),
        }
    }

    /// `GET /health`: `Ok(())` when the server and its database answer.
    pub fn health(&self) -> Result<(), HttpError> {
        let url = format!("{}/health", self.base);
        match self.agent.get(&url).call() {
            Ok(_) => Ok(()),
            Err(ureq::Error::Status(status, resp)) => Err(map_status(status, resp)),
            Err(ureq::Error::Transport(t)) => Err(HttpError::Unreachable {
                url: self.base.clone(),
                reason: t.to_string(),
            }),
        }
    }

    /// `POST /register` → `registration_response` and `registration_id`.
    pub fn register(
        &self,
        username: &str,
        registration_request: &[u8],
        invite: Option<&str>,
    ) -> Result<RegistrationStart, HttpError> {
        let mut body = json!({
            "username": username,
            "registration_request": b64(registration_request),
        });
        if let Some(i) = invite {
            body["invite"] = json!(i);
        }
        let r: RegistrationResponseBody = self.post("/register", None, body)?;
        r.into_start()
    }

    /// `POST /register/finish` → the normalised username. `registration_id`
    /// is the one `/register` answered, unchanged.
    pub fn register_finish(
        &self,
        username: &str,
        registration_id: Option<&str>,
        registration_record: &[u8],
        vault_key: Option<&str>,
        invite: Option<&str>,
    ) -> Result<String, HttpError> {
        let mut body = json!({
            "username": username,
            "registration_record": b64(registration_record),
        });
        with_registration_id(&mut body, registration_id);
        if let Some(v) = vault_key {
            body["vault_key"] = json!(v);
        }
        if let Some(i) = invite {
            body["invite"] = json!(i);
        }
        let r: RegisterFinishBody = self.post("/register/finish", None, body)?;
        Ok(r.username)
    }

    /// `POST /login` → (`login_id`, `credential_response`).
    pub fn login(
        &self,
        username: &str,
        credential_request: &[u8],
    ) -> Result<(String, Vec<u8>), HttpError> {
        let r: LoginBody = self.post(
            "/login",
            None,
            json!({"username": username, "credential_request": b64(credential_request)}),
        )?;
        Ok((
            r.login_id,
            unb64(&r.credential_response, "credential_response")?,
        ))
    }

    /// `POST /login/finish` → token and stored `vault_key`.
    pub fn login_finish(
        &self,
        login_id: &str,
        credential_finalization: &[u8],
    ) -> Result<LoginReply, HttpError> {
        let r: SessionBody = self.post(
            "/login/finish",
            None,
            json!({"login_id": login_id, "credential_finalization": b64(credential_finalization)}),
        )?;
        Ok(session(r))
    }

    /// `POST /logout`: ends every session of the user.
    pub fn logout(&self, token: &Token) -> Result<(), HttpError> {
        let _: Value = self.post("/logout", Some(token), json!({}))?;
        Ok(())
    }

    /// `POST /add` → the new version (1).
    pub fn add(
        &self,
        token: &Token,
        site: &str,
        password: &str,
        username: Option<&str>,
    ) -> Result<i64, HttpError> {
        let mut body = json!({"site": site, "password": password});
        if let Some(u) = username {
            body["username"] = json!(u);
        }
        let r: SiteVersionBody = self.post("/add", Some(token), body)?;
        Ok(r.version)
    }

    /// `POST /get {"site"}` → one entry.
    pub fn get(&self, token: &Token, site: &str) -> Result<WireEntry, HttpError> {
        let r: EntryBody = self.post("/get", Some(token), json!({"site": site}))?;
        Ok(r.entry)
    }

    /// `POST /get {}` → every entry, sorted by `site`.
    pub fn get_all(&self, token: &Token) -> Result<Vec<WireEntry>, HttpError> {
        let r: EntriesBody = self.post("/get", Some(token), json!({}))?;
        Ok(r.entries)
    }

    /// `POST /change` → the new version.
    pub fn change(&self, token: &Token, change: &Change) -> Result<i64, HttpError> {
        let body = serde_json::to_value(change).expect("a Change serialises");
        let r: SiteVersionBody = self.post("/change", Some(token), body)?;
        Ok(r.version)
    }

    /// `POST /delete`.
    pub fn delete(&self, token: &Token, site: &str) -> Result<(), HttpError> {
        let _: Value = self.post("/delete", Some(token), json!({"site": site}))?;
        Ok(())
    }

    /// `POST /sync {"since"}` (API 1.1): what changed after `since`, in one
    /// snapshot.
    pub fn sync(&self, token: &Token, since: i64) -> Result<SyncAnswer, HttpError> {
        self.post("/sync", Some(token), json!({ "since": since }))
    }

    /// `POST /add`, `/change` or `/delete` with `base_seq` and, when given, the
    /// new `manifest` (API 1.1): the new version (`None` for `/delete`) and
    /// `seq`. A stale `base_seq` is `409`.
    pub fn write_at(
        &self,
        token: &Token,
        write: &Write<'_>,
        base_seq: i64,
        manifest: Option<&str>,
    ) -> Result<Written, HttpError> {
        let (path, mut body) = match write {
            Write::Add {
                site,
                username,
                password,
            } => {
                let mut b = json!({"site": site, "password": password});
                if let Some(u) = username {
                    b["username"] = json!(u);
                }
                ("/add", b)
            }
            Write::Change(change) => (
                "/change",
                serde_json::to_value(change).expect("a Change serialises"),
            ),
            Write::Delete { site } => ("/delete", json!({ "site": site })),
        };
        body["base_seq"] = json!(base_seq);
        if let Some(m) = manifest {
            body["manifest"] = json!(m);
        }
        self.post(path, Some(token), body)
    }

    /// `POST /account/password` → `registration_response` and `registration_id`.
    pub fn account_password(
        &self,
        token: &Token,
        registration_request: &[u8],
    ) -> Result<RegistrationStart, HttpError> {
        let r: RegistrationResponseBody = self.post(
            "/account/password",
            Some(token),
            json!({"registration_request": b64(registration_request)}),
        )?;
        r.into_start()
    }

    /// `POST /account/password/finish` → a new session.
    pub fn account_password_finish(
        &self,
        token: &Token,
        registration_id: Option<&str>,
        registration_record: &[u8],
        vault_key: Option<&str>,
    ) -> Result<LoginReply, HttpError> {
        let mut body = json!({"registration_record": b64(registration_record)});
        with_registration_id(&mut body, registration_id);
        if let Some(v) = vault_key {
            body["vault_key"] = json!(v);
        }
        let r: SessionBody = self.post("/account/password/finish", Some(token), body)?;
        Ok(session(r))
    }

    /// `POST /account/delete`: the user and every entry are gone.
    pub fn account_delete(&self, token: &Token) -> Result<(), HttpError> {
        let _: Value = self.post("/account/delete", Some(token), json!({}))?;
        Ok(())
    }
}

fn session(r: SessionBody) -> LoginReply {
    LoginReply {
        token: Token::new(r.token),
        expires_in: r.expires_in,
        vault_key: r.vault_key,
    }
}

fn read_json<T: DeserializeOwned>(resp: ureq::Response) -> Result<T, HttpError> {
    let mut buf = Vec::new();
    resp.into_reader()
        .take(MAX_RESPONSE)
        .read_to_end(&mut buf)
        .map_err(|e| HttpError::BadResponse {
            message: format!("reading the body: {e}"),
        })?;
    serde_json::from_slice(&buf).map_err(|e| HttpError::BadResponse {
        // serde names unexpected values, which the server chose.
        message: super::text::escape(&e.to_string()).into_owned(),
    })
}

fn map_status(status: u16, resp: ureq::Response) -> HttpError {
    let retry_after = resp
        .header("Retry-After")
        .and_then(|v| v.trim().parse::<u64>().ok());
    let body: Option<ErrorBody> = read_json(resp).ok();
    // The server's words reach a terminal: never with control characters.
    let message = body
        .map(|b| {
            let m = if b.message.is_empty() {
                b.error
            } else {
                b.message
            };
            super::text::escape(&m).into_owned()
        })
        .unwrap_or_default();
    match status {
        400 => HttpError::BadRequest { message },
        401 => HttpError::Unauthorized { message },
        403 => HttpError::Forbidden { message },
        404 => HttpError::NotFound { message },
        409 => HttpError::Conflict { message },
        429 => HttpError::TooManyRequests { retry_after },
        503 => HttpError::Unavailable { message },
        _ => HttpError::Other { status, message },
    }
}

#[cfg(test)]
#[path = "api_tests.rs"]
mod tests;
