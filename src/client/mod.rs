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

pub mod api;
pub mod completions;
pub mod config;
pub mod crypto;
pub mod entry;
pub mod generate;
pub mod import;
pub mod opaque;
pub mod text;

use zeroize::Zeroizing;

use api::{Api, ApiError, Change, Token, WireEntry};
use crypto::{CryptoError, Kek, VaultKey};
use opaque::OpaqueError;

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
    Api(ApiError),
}

impl std::fmt::Display for Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Error::InvalidUsername(u) => write!(
                f,
                "invalid username `{u}`: use 1 to 64 of a-z 0-9 . _ @ + -"
            ),
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
        }
    }
}

impl std::error::Error for Error {}

impl Error {
    /// The CLI's exit code: 3 for no such site, 1 for everything else.
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::NoSuchSite(_) => 3,
            _ => 1,
        }
    }
}

impl From<ApiError> for Error {
    fn from(e: ApiError) -> Self {
        Error::Api(e)
    }
}

impl From<CryptoError> for Error {
    fn from(e: CryptoError) -> Self {
        Error::Crypto(e)
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
fn authed(e: ApiError) -> Error {
    match e {
        ApiError::Unauthorized { .. } => Error::SessionEnded,
        e => Error::Api(e),
    }
}

/// The server's username rule (API.md): trim ASCII white space, lowercase
/// ASCII letters, then `[a-z0-9._@+-]{1,64}`.
pub fn normalise_username(username: &str) -> Result<String, Error> {
    let n = username
        .trim_matches(|c: char| c.is_ascii_whitespace())
        .to_ascii_lowercase();
    let ok = (1..=64).contains(&n.len())
        && n.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._@+-".contains(&b));
    if ok {
        Ok(n)
    } else {
        Err(Error::InvalidUsername(username.to_owned()))
    }
}

/// A decrypted entry.
pub struct Entry {
    /// The readable site name as it was entered (trimmed).
    pub site: String,
    pub username: Option<String>,
    pub password: Zeroizing<String>,
    pub version: i64,
    pub updated_at: String,
}

/// An entry without its password (what `ls` shows).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Summary {
    pub site: String,
    pub username: Option<String>,
    pub version: i64,
    pub updated_at: String,
}

/// The result of [`Session::list`].
pub struct Listing {
    /// Entries that decrypted, sorted by normalised site name.
    pub entries: Vec<Summary>,
    /// Wire `site` values of entries that failed to decrypt or verify.
    pub unreadable: Vec<String>,
}

/// What [`Session::edit`] changes. `None` leaves a field as it is.
#[derive(Default)]
pub struct Edit {
    /// `Some(None)` clears the entry's username.
    pub username: Option<Option<String>>,
    pub password: Option<Zeroizing<String>>,
}

/// The outcome of [`Session::import`].
pub struct ImportReport {
    pub imported: usize,
    pub problems: Vec<import::Problem>,
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
        let refused = |e: ApiError| match e {
            ApiError::Conflict { .. } => Error::UsernameTaken(username.clone()),
            ApiError::Forbidden { message } => Error::SignupsClosed(message),
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
                ApiError::Unauthorized { .. } => Error::WrongPassword,
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
        })
    }
}

/// Logged in: holds the token and the vault key (both wiped on drop).
pub struct Session {
    api: Api,
    username: String,
    token: Token,
    key: VaultKey,
}

impl Session {
    /// The normalised username.
    pub fn username(&self) -> &str {
        &self.username
    }

    /// The session token (e.g. for tests driving the API directly).
    pub fn token(&self) -> &Token {
        &self.token
    }

    /// The wire `site` for a readable site name.
    pub fn site_id(&self, site: &str) -> Result<String, Error> {
        Ok(self.key.site_id(site)?)
    }

    /// Adds an entry; `SiteExists` if the site has one.
    pub fn add(&self, site: &str, username: Option<&str>, password: &str) -> Result<(), Error> {
        if site.chars().any(char::is_control) {
            return Err(Error::InvalidSiteName(site.to_owned()));
        }
        let sealed = self.key.seal_entry(site, username, password)?;
        self.api
            .add(
                &self.token,
                &sealed.site,
                &sealed.password,
                Some(&sealed.username),
            )
            .map_err(|e| match e {
                ApiError::Conflict { .. } => Error::SiteExists(site.trim().to_owned()),
                e => authed(e),
            })?;
        Ok(())
    }

    fn fetch(&self, site: &str) -> Result<WireEntry, Error> {
        let id = self.key.site_id(site)?;
        let wire = self.api.get(&self.token, &id).map_err(|e| match e {
            ApiError::NotFound { .. } => Error::NoSuchSite(site.trim().to_owned()),
            e => authed(e),
        })?;
        if wire.site != id {
            return Err(Error::Tampered {
                site: site.trim().to_owned(),
                cause: CryptoError::SiteMismatch,
            });
        }
        Ok(wire)
    }

    fn open(&self, wire: WireEntry, label: &str) -> Result<Entry, Error> {
        let tampered = |cause| Error::Tampered {
            site: label.to_owned(),
            cause,
        };
        // Format 1 or 2 (what `vault import` writes), until the v2 CLI lands.
        let opened = entry::open(
            &self.key,
            &wire.site,
            wire.username.as_deref(),
            &wire.password,
            &wire.updated_at,
        )
        .map_err(tampered)?;
        Ok(Entry {
            site: opened.doc.name.clone(),
            username: opened.doc.username.clone(),
            password: opened.password,
            version: wire.version,
            updated_at: wire.updated_at,
        })
    }

    /// Fetches and decrypts one entry; any verification failure is
    /// [`Error::Tampered`] and nothing is returned.
    pub fn get(&self, site: &str) -> Result<Entry, Error> {
        let wire = self.fetch(site)?;
        self.open(wire, site.trim())
    }

    /// Every entry's site name and username (passwords stay sealed).
    pub fn list(&self) -> Result<Listing, Error> {
        let all = self.api.get_all(&self.token).map_err(authed)?;
        let mut entries = Vec::with_capacity(all.len());
        let mut unreadable = Vec::new();
        for w in all {
            let opened = w
                .username
                .as_deref()
                .ok_or(CryptoError::Malformed)
                .and_then(|b| entry::open_doc(&self.key, &w.site, b, &w.updated_at))
                .map(|d| (d.name.clone(), d.username.clone()));
            match opened {
                Ok((site, username)) => entries.push(Summary {
                    site,
                    username,
                    version: w.version,
                    updated_at: w.updated_at,
                }),
                Err(_) => unreadable.push(w.site),
            }
        }
        entries.sort_by(|a, b| {
            crypto::normalise_site(&a.site)
                .cmp(&crypto::normalise_site(&b.site))
                .then_with(|| a.site.cmp(&b.site))
        });
        Ok(Listing {
            entries,
            unreadable,
        })
    }

    /// Every entry, decrypted, sorted by normalised site name. Fails as a
    /// whole if any entry does not verify.
    pub fn get_all(&self) -> Result<Vec<Entry>, Error> {
        let all = self.api.get_all(&self.token).map_err(authed)?;
        let mut out = Vec::with_capacity(all.len());
        for w in all {
            // Name the entry by its readable site if that much decrypts.
            let label = w
                .username
                .as_deref()
                .and_then(|b| entry::open_doc(&self.key, &w.site, b, "").ok())
                .map_or_else(|| w.site.clone(), |d| d.name.clone());
            out.push(self.open(w, &label)?);
        }
        out.sort_by_key(|e| crypto::normalise_site(&e.site));
        Ok(out)
    }

    /// Changes an entry if nobody changed it since it was read (the
    /// `version` check). Returns the new version.
    pub fn edit(&self, site: &str, edit: Edit) -> Result<i64, Error> {
        let wire = self.fetch(site)?;
        let label = site.trim().to_owned();
        let current = self.open(wire, &label)?;
        self.edit_at(&current.site, current.version, edit)
    }

    /// Changes the entry of `site` if its version is still `version`.
    pub fn edit_at(&self, site: &str, version: i64, edit: Edit) -> Result<i64, Error> {
        let label = site.trim().to_owned();
        let hash = self.key.site_hash(site)?;
        let id = self.key.site_id(site)?;
        let mut change = Change {
            site: id,
            version: Some(version),
            ..Default::default()
        };
        if let Some(username) = &edit.username {
            change.username = Some(Some(self.key.seal_username(
                &hash,
                site,
                username.as_deref(),
            )?));
        }
        if let Some(password) = &edit.password {
            change.password = Some(self.key.seal_field(
                &hash,
                crypto::Field::Password,
                password.as_bytes(),
            )?);
        }
        if change.username.is_none() && change.password.is_none() {
            return Ok(version);
        }
        self.api.change(&self.token, &change).map_err(|e| match e {
            ApiError::Conflict { .. } => Error::ChangedElsewhere(label.clone()),
            ApiError::NotFound { .. } => Error::NoSuchSite(label.clone()),
            e => authed(e),
        })
    }

    /// Deletes the entry of `site`.
    pub fn remove(&self, site: &str) -> Result<(), Error> {
        let id = self.key.site_id(site)?;
        self.api.delete(&self.token, &id).map_err(|e| match e {
            ApiError::NotFound { .. } => Error::NoSuchSite(site.trim().to_owned()),
            e => authed(e),
        })
    }

    /// Changes the master password: a new OPAQUE registration through
    /// `/account/password`, with the same vault key re-wrapped under the new
    /// export key. Entries are untouched. Every other session ends; the
    /// returned one is valid.
    pub fn change_password(self, new_password: &str) -> Result<Session, Error> {
        if new_password.is_empty() {
            return Err(Error::EmptyPassword);
        }
        let reauth = |e: ApiError| match e {
            ApiError::Forbidden { .. } => Error::ReauthRequired,
            e => authed(e),
        };
        let (state, request) = opaque::start_registration(new_password.as_bytes())?;
        let start = self
            .api
            .account_password(&self.token, &request)
            .map_err(reauth)?;
        let fin = opaque::finish_registration(state, new_password.as_bytes(), &start.response)?;
        let kek = Kek::from_export_key(&fin.export_key[..]);
        let wrapped = self.key.wrap(&kek)?;
        let session = self
            .api
            .account_password_finish(
                &self.token,
                start.registration_id.as_deref(),
                &fin.upload,
                Some(&wrapped),
            )
            .map_err(reauth)?;
        Ok(Session {
            token: session.token,
            ..self
        })
    }

    /// Ends every session of this user (`/logout`).
    pub fn logout(self) -> Result<(), Error> {
        self.api.logout(&self.token).map_err(authed)
    }

    /// Deletes the account and every entry.
    pub fn delete_account(self) -> Result<(), Error> {
        self.api.account_delete(&self.token).map_err(|e| match e {
            ApiError::Forbidden { .. } => Error::ReauthRequired,
            e => authed(e),
        })
    }

    /// Every entry decrypted, as `vault export` writes it. The JSON holds
    /// plaintext passwords.
    pub fn export(&self) -> Result<Zeroizing<String>, Error> {
        let entries = self.get_all()?;
        let file = import::ExportFile {
            format: import::EXPORT_FORMAT.to_owned(),
            version: 1,
            entries: entries
                .into_iter()
                .map(|e| import::ExportEntry {
                    site: e.site,
                    username: e.username,
                    password: e.password.to_string(),
                    updated_at: Some(e.updated_at),
                })
                .collect(),
        };
        let json = serde_json::to_string_pretty(&file).expect("the export serialises");
        // Wipe the copies inside `file` too.
        for mut e in file.entries {
            zeroize::Zeroize::zeroize(&mut e.password);
        }
        Ok(Zeroizing::new(json))
    }

    /// Adds `rows`; a row whose site exists, or that fails, becomes a
    /// problem and the rest go on. `progress(done, total)` after each row.
    /// Stops at the first error that is not about one row (server
    /// unreachable, session ended…).
    pub fn import(
        &self,
        rows: &[import::Row],
        mut progress: impl FnMut(usize, usize),
    ) -> Result<ImportReport, Error> {
        let mut report = ImportReport {
            imported: 0,
            problems: Vec::new(),
        };
        for (i, row) in rows.iter().enumerate() {
            match self.add(&row.site, row.username.as_deref(), &row.password) {
                Ok(()) => report.imported += 1,
                Err(Error::SiteExists(site)) => report.problems.push(import::Problem {
                    place: row.place.clone(),
                    reason: format!("`{site}` is already in the vault"),
                }),
                Err(e @ (Error::Crypto(_) | Error::InvalidSiteName(_))) => {
                    report.problems.push(import::Problem {
                        place: row.place.clone(),
                        reason: e.to_string(),
                    })
                }
                Err(Error::Api(ApiError::BadRequest { message })) => {
                    report.problems.push(import::Problem {
                        place: row.place.clone(),
                        reason: format!("refused by the server: {message}"),
                    })
                }
                Err(e) => return Err(e),
            }
            progress(i + 1, rows.len());
        }
        Ok(report)
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
            Error::Api(ApiError::Unreachable {
                url: "http://h:1".into(),
                reason: "refused".into()
            })
            .to_string(),
            "server unreachable at http://h:1"
        );
    }
}
