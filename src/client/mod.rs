//! The `vault` client's library half: OPAQUE ([`opaque`]), the vault
//! cryptography ([`crypto`]), the HTTP API ([`api`]), import formats
//! ([`import`]), and the high-level [`Client`] / [`Session`] that the CLI
//! drives.
//!
//! ```no_run
//! use vaultd::client::Client;
//! let client = Client::new("http://127.0.0.1:8080")?;
//! client.register("alice", "correct horse battery staple", None)?;
//! let session = client.login("alice", "correct horse battery staple")?;
//! session.add("mail.example.org", Some("alice"), "hunter2")?;
//! assert_eq!(session.get("Mail.Example.org")?.password.as_str(), "hunter2");
//! # Ok::<(), vaultd::client::Error>(())
//! ```

pub mod agent;
pub mod api;
pub mod config;
pub mod crypto;
pub mod entry;
pub mod generate;
pub mod import;
pub mod manifest;
pub mod opaque;
pub mod search;
mod session;
mod state;
pub mod sync;
pub mod text;
pub mod totp;
pub mod wire;
mod writes;

use api::{Api, HttpError};
use crypto::{CryptoError, Kek, VaultKey};
use entry::EntryError;

use opaque::OpaqueError;
pub use session::{Edit, Entry, Listing, Session, Summary};

/// Everything that can go wrong in a client operation. `Display` is one line
/// that says what happened and what to do.
#[derive(Debug)]
pub enum Error {
    /// The username is not `[a-z0-9._@+-]{1,64}` after normalisation.
    InvalidUsername(String),
    /// An empty master password.
    EmptyPassword,
    /// OPAQUE did not verify, or the server refused the login.
    WrongPassword,
    /// Registration: the name is taken.
    UsernameTaken(String),
    /// Registration: signups are closed and no (valid) invite was given.
    SignupsClosed(String),
    /// An authenticated call was refused: the session ended meanwhile.
    SessionEnded,
    /// The server refused a password change or account deletion as too old a login.
    ReauthRequired,
    /// The account has no stored vault key (made by another client, or its
    /// password was changed without one).
    NoVaultKey,
    /// The stored vault key does not open with this password's key.
    VaultKeyUnreadable(CryptoError),
    /// A site name with control characters (line breaks, tabs inside…).
    InvalidSiteName(String),
    /// No entry for this site.
    NoSuchSite(String),
    /// An entry for this site exists already.
    SiteExists(String),
    /// The entry's version moved on (optimistic concurrency).
    ChangedElsewhere(String),
    /// An entry that does not decrypt or verify: tampered, swapped, or not
    /// written by this client.
    Tampered { site: String, cause: CryptoError },
    /// A local cryptographic failure (empty site name, too long, RNG).
    Crypto(CryptoError),
    /// OPAQUE failed other than by a wrong password.
    Opaque(OpaqueError),
    /// Any other API failure.
    Api(HttpError),
    /// The device's sync state file (see [`sync::StateFile`]) cannot be used.
    State(String),
    /// The vault does not match its manifest, and the session is strict.
    Unverified(manifest::Mismatch),
    /// An entry that cannot be written as asked (too large, bad name…).
    Entry(EntryError),
    /// A partial name or URL that matches several entries (their names).
    Ambiguous(String, Vec<String>),
    /// The entry is in the trash (restore it first).
    InTrash(String),
    /// A write while the server cannot be reached (reads may still answer
    /// from an agent's copy).
    Offline(HttpError),
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Error::InvalidUsername(u) => {
                write!(f, "invalid username `{u}`: use {}", crate::username::rule())
            }
            Error::EmptyPassword => f.write_str("the master password must not be empty"),
            Error::WrongPassword => {
                f.write_str("wrong master password (or no such user); check both and retry")
            }
            Error::UsernameTaken(u) => {
                write!(f, "the username `{u}` is taken; choose another one")
            }
            Error::SignupsClosed(m) if m.is_empty() => {
                f.write_str("signups are closed on this server; ask its admin for an invite and pass --invite")
            }
            Error::SignupsClosed(m) => write!(
                f,
                "registration refused ({m}); ask the server's admin for an invite and pass --invite"
            ),
            Error::SessionEnded => f.write_str(
                "the session ended (logged out or password changed elsewhere); run the command again",
            ),
            Error::ReauthRequired => {
                f.write_str("the server wants a fresh login; run the command again")
            }
            Error::NoVaultKey => f.write_str(
                "this account has no vault key on the server (made by another client?); it cannot be used with vault",
            ),
            Error::VaultKeyUnreadable(_) => f.write_str(
                "the vault key stored on the server does not decrypt: it was tampered with or written by another client",
            ),
            Error::InvalidSiteName(s) => write!(
                f,
                "invalid site name {s:?}: control characters such as line breaks are not allowed"
            ),
            Error::NoSuchSite(s) => write!(f, "no entry for `{s}`; run `vault ls` to see your sites"),
            Error::SiteExists(s) => write!(
                f,
                "an entry for `{s}` exists already; use `vault edit {s}` to change it"
            ),
            Error::ChangedElsewhere(s) => write!(
                f,
                "entry `{s}` changed elsewhere; run `vault get {s}` and retry"
            ),
            Error::Tampered { site, cause } => write!(
                f,
                "the entry for `{site}` failed verification ({cause}): the server returned tampered or mismatched data"
            ),
            Error::Crypto(CryptoError::EmptySite) => f.write_str("the site name must not be empty"),
            Error::Crypto(CryptoError::TooLong) => write!(
                f,
                "value too long: at most {} bytes per field",
                crypto::MAX_FIELD_PLAINTEXT
            ),
            Error::Crypto(e) => write!(f, "{e}"),
            Error::Opaque(e) => write!(f, "{e}"),
            Error::Api(e) => write!(f, "{e}"),
            Error::State(m) => write!(f, "{m}; fix or remove that file"),
            Error::Unverified(m) => write!(f, "{m}"),
            Error::Entry(e) => write!(f, "{e}"),
            Error::Ambiguous(q, names) => write!(
                f,
                "`{q}` matches {} entries: {}; name one exactly",
                names.len(),
                names.join(", ")
            ),
            Error::InTrash(s) => write!(
                f,
                "`{s}` is in the trash; run `vault restore {s}` first"
            ),
            Error::Offline(e) => write!(
                f,
                "{e}: changes need the server; nothing was changed (reads still answer from the agent's copy)"
            ),
        }
    }
}

impl std::error::Error for Error {}

impl Error {
    /// The CLI's exit code: 3 for no such site, 4 for a vault that does not
    /// match its manifest, 1 for everything else.
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::NoSuchSite(_) | Error::InTrash(_) => 3,
            Error::Unverified(_) => 4,
            _ => 1,
        }
    }
}

impl From<HttpError> for Error {
    fn from(e: HttpError) -> Self {
        Error::Api(e)
    }
}

impl From<CryptoError> for Error {
    fn from(e: CryptoError) -> Self {
        Error::Crypto(e)
    }
}

impl From<EntryError> for Error {
    fn from(e: EntryError) -> Self {
        match e {
            EntryError::Crypto(c) => Error::Crypto(c),
            e => Error::Entry(e),
        }
    }
}

impl From<OpaqueError> for Error {
    fn from(e: OpaqueError) -> Self {
        match e {
            OpaqueError::InvalidLogin => Error::WrongPassword,
            e => Error::Opaque(e),
        }
    }
}

/// An authenticated call's errors: `401` means the session ended.
pub(crate) fn authed(e: HttpError) -> Error {
    match e {
        HttpError::Unauthorized { .. } => Error::SessionEnded,
        e => Error::Api(e),
    }
}

/// The server's username rule (API.md, `crate::username`).
pub fn normalise_username(username: &str) -> Result<String, Error> {
    crate::username::normalize(username).ok_or_else(|| Error::InvalidUsername(username.to_owned()))
}

/// Not logged in: can register and log in.
#[derive(Clone)]
pub struct Client {
    api: Api,
}

impl Client {
    /// A client for the server at `server_url` (`http://host:port` or
    /// `https://host:port`).
    pub fn new(server_url: &str) -> Result<Client, Error> {
        Client::with_ca_file(server_url, None)
    }

    /// Like [`Client::new`], also trusting the certificate(s) in `ca_file`.
    pub fn with_ca_file(
        server_url: &str,
        ca_file: Option<&std::path::Path>,
    ) -> Result<Client, Error> {
        Ok(Client {
            api: Api::with_ca_file(server_url, ca_file)?,
        })
    }

    /// The low-level API client.
    pub fn api(&self) -> &Api {
        &self.api
    }

    /// Creates the account: OPAQUE registration, a fresh vault key wrapped
    /// under the export key's KEK and stored as `vault_key`. Returns the
    /// normalised username.
    pub fn register(
        &self,
        username: &str,
        password: &str,
        invite: Option<&str>,
    ) -> Result<String, Error> {
        let username = normalise_username(username)?;
        if password.is_empty() {
            return Err(Error::EmptyPassword);
        }
        let refused = |e: HttpError| match e {
            HttpError::Conflict { .. } => Error::UsernameTaken(username.clone()),
            HttpError::Forbidden { message } => Error::SignupsClosed(message),
            e => Error::Api(e),
        };
        let (state, request) = opaque::start_registration(password.as_bytes())?;
        let start = self
            .api
            .register(&username, &request, invite)
            .map_err(refused)?;
        let fin = opaque::finish_registration(state, password.as_bytes(), &start.response)?;
        let kek = Kek::from_export_key(&fin.export_key[..]);
        let vault_key = VaultKey::generate()?;
        let wrapped = vault_key.wrap(&kek)?;
        self.api
            .register_finish(
                &username,
                start.registration_id.as_deref(),
                &fin.upload,
                Some(&wrapped),
                invite,
            )
            .map_err(refused)
    }

    /// A session handed over by an agent (`agent::Grant`): no login.
    pub fn resume(&self, username: String, token: api::Token, key: VaultKey) -> Session {
        Session {
            api: self.api.clone(),
            username,
            token,
            key,
            sync: Default::default(),
        }
    }

    /// Logs in: OPAQUE login, then unwraps the vault key.
    pub fn login(&self, username: &str, password: &str) -> Result<Session, Error> {
        let username = normalise_username(username)?;
        if password.is_empty() {
            return Err(Error::EmptyPassword);
        }
        let (state, request) = opaque::start_login(password.as_bytes())?;
        let (login_id, response) = self.api.login(&username, &request)?;
        let fin = opaque::finish_login(state, password.as_bytes(), &response)?;
        let session = self
            .api
            .login_finish(&login_id, &fin.credential_finalization)
            .map_err(|e| match e {
                HttpError::Unauthorized { .. } => Error::WrongPassword,
                e => Error::Api(e),
            })?;
        let kek = Kek::from_export_key(&fin.export_key[..]);
        let blob = session.vault_key.ok_or(Error::NoVaultKey)?;
        let key = VaultKey::unwrap(&blob, &kek).map_err(Error::VaultKeyUnreadable)?;
        Ok(Session {
            api: self.api.clone(),
            username,
            token: session.token,
            key,
            sync: Default::default(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames() {
        assert_eq!(
            normalise_username("  Alice@Example.org ").unwrap(),
            "alice@example.org"
        );
        assert_eq!(normalise_username("a.b_c+d-e").unwrap(), "a.b_c+d-e");
        assert!(normalise_username("").is_err());
        assert!(normalise_username("   ").is_err());
        assert!(normalise_username("al ice").is_err());
        assert!(normalise_username("ÄLICE").is_err());
        assert!(normalise_username(&"a".repeat(65)).is_err());
        assert!(normalise_username(&"a".repeat(64)).is_ok());
    }

    #[test]
    fn exit_codes() {
        assert_eq!(Error::NoSuchSite("x".into()).exit_code(), 3);
        assert_eq!(Error::WrongPassword.exit_code(), 1);
        assert_eq!(
            Error::Api(HttpError::Unreachable {
                url: "http://h:1".into(),
                reason: "refused".into()
            })
            .to_string(),
            "server unreachable: is vaultd running at http://h:1? check --server"
        );
    }
}
