//! Storage: one trait, two backends with the same behaviour.
//!
//! Every method is one transaction that is committed before it returns, so a
//! caller may acknowledge a write as soon as the call succeeds.

mod postgres;
mod sqlite;

pub use self::postgres::{PgSettings, PostgresStore, SslMode};
pub use self::sqlite::SqliteStore;
pub use self::sqlite::{backup as sqlite_backup, restore as sqlite_restore};

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
    /// A write's `base_seq` is not the user's `seq`: another device wrote
    /// meanwhile (API.md 1.1, Sync). Nothing changed.
    StaleSeq,
    /// A row that the call depends on is missing, expired or spent: the
    /// registration of a `registration_id`, or an invite. Nothing changed.
    Invalid(Invalid),
}

/// What [`StoreError::Invalid`] refers to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Invalid {
    Registration,
    Invite,
}

impl std::fmt::Display for StoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StoreError::Conflict => f.write_str("already exists"),
            StoreError::NotFound => f.write_str("not found"),
            StoreError::Unavailable(why) => write!(f, "database unavailable: {why}"),
            StoreError::Schema(why) => f.write_str(why),
            StoreError::StaleSeq => f.write_str("the vault changed since base_seq"),
            StoreError::Invalid(Invalid::Registration) => f.write_str("no such registration"),
            StoreError::Invalid(Invalid::Invite) => f.write_str("no such invite"),
        }
    }
}

impl std::error::Error for StoreError {}

pub type StoreResult<T> = Result<T, StoreError>;

/// A registered account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// Never given to a second account, on either backend.
    pub id: i64,
    pub username: String,
    /// The OPAQUE credential identifier: the username and random bytes made
    /// for this registration (API.md 1.1), or the bare username for an
    /// account made under 1.0.
    pub credential_id: Vec<u8>,
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
    /// Unix seconds the account was made; tokens carry it (see `TokenState`).
    pub created_at: i64,
}

/// What a token must match: the revocation counter, and the account's
/// creation time, which a token carries so that it can never be taken for an
/// account made later under the same id (API.md 1.1, Sessions).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TokenState {
    pub rev: i64,
    pub created_at: i64,
    /// Only tokens that carry `created_at` are this account's: it was made
    /// after an upgrade from schema 1, whose tokens name accounts by id and
    /// `rev` alone (and SQLite may have given its id out before).
    pub bound_only: bool,
}

/// A new account, as `/register/finish` asks for it.
#[derive(Debug, Clone)]
pub struct NewUser {
    /// The `registration_id` of its `/register`: taken (single use) in the
    /// same transaction, and it must be for this username.
    pub registration: Vec<u8>,
    pub username: String,
    pub record: Vec<u8>,
    pub vault_key: Option<String>,
    /// With closed signups, the invite hash spent in the same transaction.
    pub invite: Option<Vec<u8>>,
}

/// A registration or password change between its two steps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingRegistration {
    /// The `registration_id`: random, 32 bytes.
    pub id: Vec<u8>,
    pub username: String,
    /// Set for a password change: only that user may finish it.
    pub user_id: Option<i64>,
    pub credential_id: Vec<u8>,
    /// Unix seconds after which it is void.
    pub expires_at: i64,
}

/// The sync side of a write (API.md 1.1): refused with `StaleSeq` when
/// `base_seq` is given and is not the user's `seq`; `manifest` replaces the
/// stored one in the same transaction.
#[derive(Debug, Clone, Default)]
pub struct SyncWrite {
    pub base_seq: Option<i64>,
    pub manifest: Option<String>,
}

/// What a write answers: the entry's new version (1 for an add, none for a
/// delete) and the user's new `seq`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Written {
    pub version: i64,
    pub seq: i64,
}

/// What changed after a `seq` (`/sync`), read in one snapshot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Changes {
    pub seq: i64,
    /// Written after `since`, sorted by `site`.
    pub entries: Vec<Entry>,
    /// Deleted after `since` and not added again, sorted.
    pub deleted: Vec<String>,
    pub manifest: Option<String>,
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

/// What `/add` asks for.
#[derive(Debug, Clone)]
pub struct NewEntry {
    pub site: String,
    pub username: Option<String>,
    pub password: String,
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
///
/// Stored text (sites, entry fields, vault keys, manifests) was written from
/// a `&str`; a row whose bytes are not UTF-8 any more is damaged, and reading
/// it is `Unavailable` ("the database returned an unexpected value"), on
/// both backends: never a substitute that a client might write back.
pub trait Store: Send + Sync {
    /// Creates the schema when it is missing (idempotent); with `false`, only
    /// checks that it is present and current.
    fn prepare(&self, create: bool) -> StoreResult<()>;
    /// Answers when the database is reachable.
    fn health(&self) -> StoreResult<()>;
    /// True when at least one account exists.
    fn has_users(&self) -> StoreResult<bool>;

    /// Stores a registration between its two steps and deletes expired ones.
    fn put_registration(&self, registration: &PendingRegistration, now: i64) -> StoreResult<()>;
    /// Creates a user, taking its registration (unexpired, for this
    /// username, not a password change) in the same transaction, else
    /// `Invalid(Registration)`. When `invite` is given, it must be an
    /// unexpired, unspent invite hash and is spent in the same transaction
    /// (else `Invalid(Invite)`). A taken username is a `Conflict`; then
    /// nothing is taken or spent.
    fn create_user(&self, user: &NewUser, now: i64) -> StoreResult<User>;
    fn user_by_name(&self, username: &str) -> StoreResult<Option<User>>;
    fn user_by_id(&self, id: i64) -> StoreResult<Option<User>>;
    /// What a token of user `id` is checked against, `None` when the user is
    /// gone. This is the per-request token check, so it must be a single
    /// indexed read.
    fn token_state(&self, id: i64) -> StoreResult<Option<TokenState>>;
    /// The revocation counter of a user, `None` when the user is gone.
    fn user_rev(&self, id: i64) -> StoreResult<Option<i64>> {
        Ok(self.token_state(id)?.map(|t| t.rev))
    }
    /// Revokes every token of the user; returns the new counter.
    fn revoke_tokens(&self, id: i64) -> StoreResult<i64>;
    /// Takes the password change `registration` of this user (else
    /// `Invalid(Registration)`), replaces the credential identifier, OPAQUE
    /// record and vault key, bumps `rev` and `epoch`; returns the updated
    /// user. `NotFound` when the user is gone.
    fn change_password(
        &self,
        id: i64,
        registration: &[u8],
        record: &[u8],
        vault_key: Option<&str>,
        now: i64,
    ) -> StoreResult<User>;
    /// Deletes the user, its entries, deletion markers, pending logins and
    /// registrations. `NotFound` when
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

    /// Adds an entry with version 1; `Conflict` when the site exists. Like
    /// every write of an entry, it raises the user's `seq` by one and stamps
    /// the entry with it, all or nothing (see [`SyncWrite`]).
    fn add_entry(
        &self,
        user: i64,
        entry: &NewEntry,
        sync: &SyncWrite,
        now: i64,
    ) -> StoreResult<Written>;
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
        sync: &SyncWrite,
        now: i64,
    ) -> StoreResult<Written>;
    /// Deletes an entry and leaves a deletion marker stamped with the new
    /// `seq` (`Written::version` is 0); `NotFound` when there is none.
    fn delete_entry(&self, user: i64, site: &str, sync: &SyncWrite) -> StoreResult<Written>;
    /// What changed after `since`, in one snapshot (API.md 1.1 `/sync`);
    /// `since = 0` is every entry and no markers. `NotFound` when the user
    /// is gone.
    fn changes(&self, user: i64, since: i64) -> StoreResult<Changes>;
}

/// The current time in Unix seconds.
pub fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

// ---------------------------------------------------------------------------
// Schema versions: the one policy for both backends. Each backend supplies
// its schema (idempotent `CREATE ... IF NOT EXISTS`, so that it also adds what
// an upgrade step leaves to it) and one SQL step per older version.

/// The schema version this build reads and writes. Bump it together with a
/// step in both backends' `MIGRATIONS`.
pub const SCHEMA_VERSION: i64 = 2;

/// What `prepare` does with the schema it found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SchemaPlan {
    /// Current: nothing to do.
    Ready,
    /// None yet: create it (`--init-db`).
    Create,
    /// Older: run the backend's steps from this version on (`--init-db`).
    Upgrade { from: i64 },
}

/// Decides what to do with the schema version `found` (`None`: no schema),
/// when `create` (`--init-db`) allows creating and upgrading it.
pub fn schema_plan(found: Option<i64>, create: bool) -> StoreResult<SchemaPlan> {
    match found {
        None if create => Ok(SchemaPlan::Create),
        None => Err(StoreError::Schema(
            "the database has no vaultd schema; start vaultd once with --init-db".into(),
        )),
        Some(v) if v == SCHEMA_VERSION => Ok(SchemaPlan::Ready),
        Some(v) if v > SCHEMA_VERSION => Err(StoreError::Schema(format!(
            "the database schema is version {v}, newer than this vaultd \
             ({SCHEMA_VERSION}); run a newer vaultd"
        ))),
        Some(v) if v < 1 => Err(StoreError::Schema(format!(
            "the database schema version {v} is not one vaultd ever wrote"
        ))),
        Some(v) if create => Ok(SchemaPlan::Upgrade { from: v }),
        Some(v) => Err(StoreError::Schema(format!(
            "the database schema is version {v}, this vaultd needs {SCHEMA_VERSION}; \
             back it up, then start vaultd once with --init-db to upgrade it"
        ))),
    }
}

/// The steps that bring a schema of version `from` to `SCHEMA_VERSION`:
/// `migrations[i]` upgrades version `i + 1` to `i + 2`.
pub fn upgrade_steps(migrations: &'static [&'static str], from: i64) -> &'static [&'static str] {
    debug_assert_eq!(migrations.len() as i64, SCHEMA_VERSION - 1);
    let first = usize::try_from(from - 1).unwrap_or(0);
    migrations.get(first..).unwrap_or(&[])
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_schema_plan_creates_and_upgrades_only_when_asked() {
        assert_eq!(schema_plan(None, true), Ok(SchemaPlan::Create));
        assert_eq!(
            schema_plan(Some(SCHEMA_VERSION), false),
            Ok(SchemaPlan::Ready)
        );
        assert_eq!(
            schema_plan(Some(SCHEMA_VERSION), true),
            Ok(SchemaPlan::Ready)
        );
        assert_eq!(
            schema_plan(Some(1), true),
            Ok(SchemaPlan::Upgrade { from: 1 })
        );
        let message = |r: StoreResult<SchemaPlan>| match r {
            Err(StoreError::Schema(m)) => m,
            other => panic!("{other:?}"),
        };
        assert!(message(schema_plan(None, false)).contains("--init-db"));
        assert!(message(schema_plan(Some(1), false)).contains("--init-db to upgrade"));
        assert!(message(schema_plan(Some(SCHEMA_VERSION + 1), true)).contains("newer"));
        assert!(message(schema_plan(Some(0), true)).contains("not one vaultd"));
    }

    #[test]
    fn upgrade_steps_start_at_the_found_version() {
        const STEPS: &[&str] = &["1 to 2"];
        assert_eq!(upgrade_steps(STEPS, 1), ["1 to 2"]);
        assert!(upgrade_steps(STEPS, SCHEMA_VERSION).is_empty());
    }
}
