//! Storage: one trait, two backends with the same behaviour.
//!
//! Every method is one transaction that is committed before it returns, so a
//! caller may acknowledge a write as soon as the call succeeds.

mod postgres;
mod sqlite;

pub use self::postgres::{PgSettings, PostgresStore, SslMode};
pub use self::sqlite::SqliteStore;
pub use self::sqlite::{backup as sqlite_backup, restore as sqlite_restore};

/// The schema version this build reads and writes. Bump it together with a
/// migration step in both backends.
pub const SCHEMA_VERSION: i64 = 1;

/// Which database to use: the embedded SQLite file, or PostgreSQL as
/// `database.ini` describes it.
#[derive(Debug, Clone)]
pub enum Database {
    Sqlite(std::path::PathBuf),
    Postgres(PgSettings),
}

/// Why a storage call failed. Messages never hold SQL or data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreError {
    /// The row that the call would create already exists.
    Conflict,
    /// The row that the call would change does not exist.
    NotFound,
    /// The database cannot be reached or refused the write (down, disk full,
    /// read-only). Answered as 503.
    Unavailable(String),
    /// The schema is missing or older than this build.
    Schema(String),
}

impl std::fmt::Display for StoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StoreError::Conflict => f.write_str("already exists"),
            StoreError::NotFound => f.write_str("not found"),
            StoreError::Unavailable(why) => write!(f, "database unavailable: {why}"),
            StoreError::Schema(why) => f.write_str(why),
        }
    }
}

impl std::error::Error for StoreError {}

pub type StoreResult<T> = Result<T, StoreError>;

/// A registered account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    pub id: i64,
    pub username: String,
    /// The serialized OPAQUE registration record (`ServerRegistration`).
    pub record: Vec<u8>,
    /// The client's wrapped vault key, returned after login.
    pub vault_key: Option<String>,
    /// Bumped by logout and password change: every token carrying an older
    /// value is revoked.
    pub rev: i64,
    /// Bumped by a password change only: a login started under an older
    /// record must not finish.
    pub epoch: i64,
}

/// A login between its two steps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingLogin {
    /// Random, 32 bytes.
    pub id: Vec<u8>,
    /// The normalised username the login is for (for throttling).
    pub username: String,
    /// `None` for an unknown username: the login runs on a fake record and
    /// can never finish.
    pub user_id: Option<i64>,
    /// `User::epoch` when the login started.
    pub epoch: i64,
    /// The serialized OPAQUE `ServerLogin` state.
    pub state: Vec<u8>,
    /// Unix seconds after which the login is void.
    pub expires_at: i64,
}

/// A vault entry exactly as the client sent it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub site: String,
    pub username: Option<String>,
    pub password: String,
    pub version: i64,
    /// Unix seconds of the last write.
    pub updated_at: i64,
}

/// What `/change` asks for. `username: Some(None)` clears the username.
#[derive(Debug, Clone, Default)]
pub struct EntryChange {
    pub password: Option<String>,
    pub username: Option<Option<String>>,
    /// The version the client last saw; a mismatch is a `Conflict`.
    pub expected_version: Option<i64>,
}

/// The storage interface of vaultd. Both backends implement it with the same
/// semantics and pass the same tests.
pub trait Store: Send + Sync {
    /// Creates the schema when it is missing (idempotent); with `false`, only
    /// checks that it is present and current.
    fn prepare(&self, create: bool) -> StoreResult<()>;
    /// Answers when the database is reachable.
    fn health(&self) -> StoreResult<()>;
    /// True when at least one account exists.
    fn has_users(&self) -> StoreResult<bool>;

    /// Creates a user. When `invite` is given, it must be an unexpired,
    /// unspent invite hash and is spent in the same transaction (else
    /// `NotFound`). A taken username is a `Conflict`.
    fn create_user(
        &self,
        username: &str,
        record: &[u8],
        vault_key: Option<&str>,
        invite: Option<&[u8]>,
        now: i64,
    ) -> StoreResult<User>;
    fn user_by_name(&self, username: &str) -> StoreResult<Option<User>>;
    fn user_by_id(&self, id: i64) -> StoreResult<Option<User>>;
    /// The revocation counter of a user, `None` when the user is gone. This is
    /// the per-request token check, so it must be a single indexed read.
    fn user_rev(&self, id: i64) -> StoreResult<Option<i64>>;
    /// Revokes every token of the user; returns the new counter.
    fn revoke_tokens(&self, id: i64) -> StoreResult<i64>;
    /// Replaces the OPAQUE record and vault key, bumps `rev` and `epoch`;
    /// returns the updated user. `NotFound` when the user is gone.
    fn change_password(&self, id: i64, record: &[u8], vault_key: Option<&str>)
    -> StoreResult<User>;
    /// Deletes the user, its entries and its pending logins. `NotFound` when
    /// already gone.
    fn delete_user(&self, id: i64) -> StoreResult<()>;

    /// Stores a pending login and deletes expired ones.
    fn put_login(&self, login: &PendingLogin, now: i64) -> StoreResult<()>;
    /// Takes (reads and deletes, atomically) a pending login that has not
    /// expired. A second take of the same id returns `None`.
    fn take_login(&self, id: &[u8], now: i64) -> StoreResult<Option<PendingLogin>>;

    /// Stores an invite hash valid until `expires_at`.
    fn create_invite(&self, hash: &[u8], expires_at: i64) -> StoreResult<()>;
    /// True when the invite exists, is unspent and unexpired.
    fn invite_valid(&self, hash: &[u8], now: i64) -> StoreResult<bool>;

    /// Adds an entry with version 1; `Conflict` when the site exists.
    fn add_entry(
        &self,
        user: i64,
        site: &str,
        username: Option<&str>,
        password: &str,
        now: i64,
    ) -> StoreResult<Entry>;
    fn get_entry(&self, user: i64, site: &str) -> StoreResult<Option<Entry>>;
    /// Every entry of the user, sorted by the UTF-8 bytes of `site`.
    fn list_entries(&self, user: i64) -> StoreResult<Vec<Entry>>;
    /// Applies a change and returns the new version. `NotFound` when there is
    /// no such entry, `Conflict` when `expected_version` is not current (and
    /// nothing changes). Race-free: of concurrent changes with the same
    /// expected version exactly one succeeds.
    fn change_entry(
        &self,
        user: i64,
        site: &str,
        change: &EntryChange,
        now: i64,
    ) -> StoreResult<i64>;
    /// Deletes an entry; `NotFound` when there is none.
    fn delete_entry(&self, user: i64, site: &str) -> StoreResult<()>;
}

/// The current time in Unix seconds.
pub fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// The error for a database that has never been initialised.
pub(crate) fn missing_schema() -> StoreError {
    StoreError::Schema(
        "the database has no vaultd schema; start vaultd once with --init-db".to_string(),
    )
}

/// Checks a stored schema version against this build's.
pub(crate) fn check_schema_version(found: i64) -> StoreResult<()> {
    match found.cmp(&SCHEMA_VERSION) {
        std::cmp::Ordering::Equal => Ok(()),
        std::cmp::Ordering::Less => Err(StoreError::Schema(format!(
            "the database schema is version {found}, this vaultd needs {SCHEMA_VERSION}; \
             start vaultd with --init-db to upgrade it"
        ))),
        std::cmp::Ordering::Greater => Err(StoreError::Schema(format!(
            "the database schema is version {found}, newer than this vaultd \
             ({SCHEMA_VERSION}); upgrade vaultd"
        ))),
    }
}

/// Opens the configured database. A SQLite file is created only when
/// `create` is set (`--init-db`), so a typo in `--data-dir` is an error rather
/// than a fresh, empty vault.
pub fn open(database: &Database, pool_size: u32, create: bool) -> Result<Box<dyn Store>, String> {
    match database {
        Database::Sqlite(path) => {
            if !create && !path.exists() {
                return Err(format!(
                    "{} does not exist; start vaultd once with --init-db to create it",
                    path.display()
                ));
            }
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                std::fs::create_dir_all(dir)
                    .map_err(|e| format!("{}: cannot create it: {e}", dir.display()))?;
            }
            let store = SqliteStore::open(path, pool_size)
                .map_err(|e| format!("{}: {e}", path.display()))?;
            Ok(Box::new(store))
        }
        Database::Postgres(settings) => {
            let store = PostgresStore::connect(settings, pool_size).map_err(|e| {
                format!(
                    "PostgreSQL at {}:{} (database.ini): {e}",
                    settings.host, settings.port
                )
            })?;
            Ok(Box::new(store))
        }
    }
}
