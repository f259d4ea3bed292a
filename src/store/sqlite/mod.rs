//! The embedded default: SQLite in WAL mode with `synchronous=FULL`, so that a
//! write acknowledged to a client survives a crash or a power cut.
//!
//! Writes go through one connection (SQLite has one writer at a time
//! anyway). A write that finds it free commits on its own thread. Writes
//! that find it busy queue for a committer thread, which takes every write
//! waiting, runs each in its own savepoint inside one `BEGIN IMMEDIATE`
//! transaction, commits once and only then answers them all: concurrent
//! writes share one fsync (group commit) and each still succeeds or fails on
//! its own. `BEGIN IMMEDIATE` keeps another process sharing the file from
//! interleaving. Reads use a pool of connections.

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{Connection, ErrorCode, OptionalExtension, params};

mod accounts;
mod backup;
mod committer;
mod entries;

pub use self::backup::{backup, restore};
use self::committer::{Committer, Durability};
use super::{
    Changes, EntryChange, NewEntry, NewUser, PendingLogin, PendingRegistration, SCHEMA_VERSION,
    SchemaPlan, Store, StoreError, StoreResult, SyncWrite, TokenState, User, Written, schema_plan,
    upgrade_steps,
};

/// The schema of version `SCHEMA_VERSION`, idempotent.
const SCHEMA: &str = include_str!("schema.sql");
/// `MIGRATIONS[i]` upgrades schema `i + 1` to `i + 2` (see `upgrade_steps`).
const MIGRATIONS: &[&str] = &[include_str!("v1_to_v2.sql")];

pub struct SqliteStore {
    path: PathBuf,
    committer: Committer,
    readers: r2d2::Pool<ReaderManager>,
}

impl SqliteStore {
    /// Opens (creating if needed) the database file. `readers` is the size of
    /// the read pool, normally the number of worker threads.
    pub fn open(path: &Path, readers: u32) -> StoreResult<SqliteStore> {
        make_private(path)?;
        let committer = Committer::start(open_connection(path)?)?;
        let readers = r2d2::Pool::builder()
            .max_size(readers.max(1))
            .min_idle(Some(0))
            .connection_timeout(Duration::from_secs(2))
            .build_unchecked(ReaderManager {
                path: path.to_path_buf(),
            });
        Ok(SqliteStore {
            path: path.to_path_buf(),
            committer,
            readers,
        })
    }

    /// The database file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn read<T>(&self, f: impl FnOnce(&Connection) -> rusqlite::Result<T>) -> StoreResult<T> {
        let conn = self
            .readers
            .get()
            .map_err(|_| unavailable("no free connection"))?;
        f(&conn).map_err(map_error)
    }

    /// Runs `f` as one durable write: it is committed (and fsynced) before
    /// this returns `Ok`; an error leaves nothing of it behind.
    fn write<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Connection) -> StoreResult<T> + Send + 'static,
    ) -> StoreResult<T> {
        self.committer.run(Durability::Full, f)
    }

    /// Like `write`, for state that may be lost in a power cut: its commit is
    /// not fsynced on its own (it becomes durable with the next full write or
    /// checkpoint). WAL keeps the database consistent either way.
    fn write_ephemeral<T: Send + 'static>(
        &self,
        f: impl FnOnce(&Connection) -> StoreResult<T> + Send + 'static,
    ) -> StoreResult<T> {
        self.committer.run(Durability::Ephemeral, f)
    }
}

struct ReaderManager {
    path: PathBuf,
}

impl r2d2::ManageConnection for ReaderManager {
    type Connection = Connection;
    type Error = rusqlite::Error;

    fn connect(&self) -> Result<Connection, rusqlite::Error> {
        let conn = Connection::open(&self.path)?;
        configure(&conn)?;
        Ok(conn)
    }

    fn is_valid(&self, _conn: &mut Connection) -> Result<(), rusqlite::Error> {
        Ok(())
    }

    fn has_broken(&self, _conn: &mut Connection) -> bool {
        false
    }
}

/// Makes the database file (created if missing) and its `-wal` and `-shm`
/// files readable by their owner only: they hold every account's OPAQUE
/// record and every sealed entry. SQLite gives the files it creates the mode
/// of the database file, so a 0600 database keeps its WAL 0600 too.
fn make_private(path: &Path) -> StoreResult<()> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o600)
        .open(path)
        .map_err(|_| unavailable("cannot open database file"))?;
    for file in [
        path.to_path_buf(),
        sidecar(path, "-wal"),
        sidecar(path, "-shm"),
    ] {
        let Ok(meta) = std::fs::metadata(&file) else {
            continue;
        };
        if meta.permissions().mode() & 0o077 != 0 {
            // An immutable or foreign file keeps its mode; say so once.
            if std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).is_err() {
                eprintln!(
                    "vaultd: warning: {} is readable by other users",
                    file.display()
                );
            }
        }
    }
    Ok(())
}

/// `vaultd.db` + `-wal`: the name of one of SQLite's companion files.
fn sidecar(path: &Path, suffix: &str) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    PathBuf::from(name)
}

fn open_connection(path: &Path) -> StoreResult<Connection> {
    let conn = Connection::open(path).map_err(map_error)?;
    configure(&conn).map_err(map_error)?;
    Ok(conn)
}

fn configure(conn: &Connection) -> rusqlite::Result<()> {
    conn.busy_timeout(Duration::from_secs(5))?;
    // journal_mode answers with a row, so it cannot go through execute_batch.
    let _mode: String = conn.query_row("PRAGMA journal_mode = WAL", [], |row| row.get(0))?;
    conn.execute_batch("PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;")?;
    conn.set_prepared_statement_cache_capacity(64);
    Ok(())
}

fn unavailable(why: &str) -> StoreError {
    StoreError::Unavailable(why.to_string())
}

fn map_error(err: rusqlite::Error) -> StoreError {
    match err.sqlite_error_code() {
        Some(ErrorCode::DiskFull) => unavailable("disk full"),
        Some(ErrorCode::ReadOnly) => unavailable("database is read-only"),
        Some(ErrorCode::DatabaseBusy | ErrorCode::DatabaseLocked) => unavailable("database busy"),
        Some(ErrorCode::CannotOpen) => unavailable("cannot open database file"),
        Some(ErrorCode::SystemIoFailure) => unavailable("I/O error"),
        _ if matches!(err, rusqlite::Error::FromSqlConversionFailure(..)) => {
            unavailable("the database returned an unexpected value")
        }
        _ => unavailable("database error"),
    }
}

/// A duplicate key (primary key or UNIQUE), not any constraint: a foreign-key
/// failure (the user was deleted meanwhile) is not a conflict.
fn is_unique_violation(err: &rusqlite::Error) -> bool {
    matches!(
        err,
        rusqlite::Error::SqliteFailure(e, _)
            if e.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_PRIMARYKEY
                || e.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_UNIQUE
    )
}

/// A foreign-key failure: the row refers to a user that no longer exists,
/// answered like PostgreSQL's 23503, as `NotFound`.
fn is_missing_reference(err: &rusqlite::Error) -> bool {
    matches!(
        err,
        rusqlite::Error::SqliteFailure(e, _)
            if e.extended_code == rusqlite::ffi::SQLITE_CONSTRAINT_FOREIGNKEY
    )
}

/// Text the store wrote from a `&str`. Bytes that are not UTF-8 mean a
/// damaged row: an error (503), never a guess (see `Store`).
fn text(bytes: Vec<u8>) -> rusqlite::Result<String> {
    String::from_utf8(bytes).map_err(|e| {
        rusqlite::Error::FromSqlConversionFailure(0, rusqlite::types::Type::Blob, Box::new(e))
    })
}

fn opt_text(bytes: Option<Vec<u8>>) -> rusqlite::Result<Option<String>> {
    bytes.map(text).transpose()
}

fn schema_version(conn: &Connection) -> rusqlite::Result<Option<i64>> {
    let has_meta: bool = conn.query_row(
        "SELECT EXISTS (SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'vaultd_meta')",
        [],
        |row| row.get(0),
    )?;
    if !has_meta {
        return Ok(None);
    }
    conn.query_row(
        "SELECT value FROM vaultd_meta WHERE key = 'schema_version'",
        [],
        |row| row.get(0),
    )
    .optional()
}

/// Creates or upgrades the schema, on a connection of its own: an upgrade
/// rebuilds tables, which needs foreign keys off, and SQLite changes that
/// setting only outside a transaction.
fn create_or_upgrade(path: &Path) -> StoreResult<()> {
    let conn = open_connection(path)?;
    conn.execute_batch("PRAGMA foreign_keys = OFF; BEGIN IMMEDIATE")
        .map_err(map_error)?;
    let outcome = (|| {
        let plan = schema_plan(schema_version(&conn).map_err(map_error)?, true)?;
        if let SchemaPlan::Upgrade { from } = plan {
            for step in upgrade_steps(MIGRATIONS, from) {
                conn.execute_batch(step).map_err(map_error)?;
            }
        }
        if plan != SchemaPlan::Ready {
            conn.execute_batch(SCHEMA).map_err(map_error)?;
            conn.execute(
                "INSERT OR REPLACE INTO vaultd_meta (key, value) VALUES ('schema_version', ?1)",
                [SCHEMA_VERSION],
            )
            .map_err(map_error)?;
            let broken: Option<String> = conn
                .query_row("PRAGMA foreign_key_check", [], |row| row.get(0))
                .optional()
                .map_err(map_error)?;
            if broken.is_some() {
                return Err(StoreError::Schema(
                    "the upgrade found rows that refer to missing accounts; nothing was changed"
                        .into(),
                ));
            }
        }
        Ok(())
    })();
    let end = if outcome.is_ok() {
        "COMMIT"
    } else {
        "ROLLBACK"
    };
    conn.execute_batch(end).map_err(map_error)?;
    outcome
}

impl Store for SqliteStore {
    fn prepare(&self, create: bool) -> StoreResult<()> {
        if create {
            // Other writers wait on the file lock (busy timeout).
            create_or_upgrade(&self.path)
        } else {
            schema_plan(self.read(schema_version)?, false).map(|_| ())
        }
    }

    fn health(&self) -> StoreResult<()> {
        self.read(|conn| conn.query_row("SELECT 1", [], |_| Ok(())))
    }

    fn has_users(&self) -> StoreResult<bool> {
        self.read(|conn| conn.query_row("SELECT EXISTS (SELECT 1 FROM users)", [], |r| r.get(0)))
    }

    fn put_registration(&self, registration: &PendingRegistration, now: i64) -> StoreResult<()> {
        let registration = registration.clone();
        // Ephemeral, like pending logins: a lost one only makes its client
        // start the registration again.
        self.write_ephemeral(move |tx| accounts::put_registration(tx, &registration, now))
    }

    fn create_user(&self, user: &NewUser, now: i64) -> StoreResult<User> {
        // Owned copies: the write may run on the committer thread.
        let user = user.clone();
        self.write(move |tx| accounts::create_user(tx, &user, now))
    }

    fn user_by_name(&self, username: &str) -> StoreResult<Option<User>> {
        self.read(|conn| accounts::user_by_name(conn, username))
    }

    fn user_by_id(&self, id: i64) -> StoreResult<Option<User>> {
        self.read(|conn| accounts::user_by_id(conn, id))
    }

    fn token_state(&self, id: i64) -> StoreResult<Option<TokenState>> {
        self.read(|conn| {
            conn.prepare_cached(
                "SELECT rev, created_at, created_at >= COALESCE(
                     (SELECT value FROM vaultd_meta WHERE key = 'upgraded_from_1_at'),
                     9223372036854775807)
                 FROM users WHERE id = ?1",
            )?
            .query_row([id], |row| {
                Ok(TokenState {
                    rev: row.get(0)?,
                    created_at: row.get(1)?,
                    bound_only: row.get(2)?,
                })
            })
            .optional()
        })
    }

    fn revoke_tokens(&self, id: i64) -> StoreResult<i64> {
        self.write(move |tx| {
            tx.prepare_cached("UPDATE users SET rev = rev + 1 WHERE id = ?1 RETURNING rev")
                .and_then(|mut s| s.query_row([id], |row| row.get(0)).optional())
                .map_err(map_error)?
                .ok_or(StoreError::NotFound)
        })
    }

    fn change_password(
        &self,
        id: i64,
        registration: &[u8],
        record: &[u8],
        vault_key: Option<&str>,
        now: i64,
    ) -> StoreResult<User> {
        let change = accounts::PasswordChange {
            user: id,
            registration: registration.to_vec(),
            record: record.to_vec(),
            vault_key: vault_key.map(str::to_string),
        };
        self.write(move |tx| accounts::change_password(tx, &change, now))
    }

    fn delete_user(&self, id: i64) -> StoreResult<()> {
        self.write(move |tx| {
            // ON DELETE CASCADE removes entries, markers, logins, registrations.
            let deleted = tx
                .prepare_cached("DELETE FROM users WHERE id = ?1")
                .and_then(|mut s| s.execute([id]))
                .map_err(map_error)?;
            if deleted == 0 {
                return Err(StoreError::NotFound);
            }
            Ok(())
        })
    }

    fn put_login(&self, login: &PendingLogin, now: i64) -> StoreResult<()> {
        let login = login.clone();
        self.write_ephemeral(move |tx| accounts::put_login(tx, &login, now))
    }

    fn take_login(&self, id: &[u8], now: i64) -> StoreResult<Option<PendingLogin>> {
        let id = id.to_vec();
        // Ephemeral: a take lost in a power cut can only bring back a login
        // that expires within 60 seconds, long before the machine is back.
        let taken = self.write_ephemeral(move |tx| accounts::take_login(tx, &id))?;
        Ok(taken.filter(|login| login.expires_at >= now))
    }

    fn create_invite(&self, hash: &[u8], expires_at: i64) -> StoreResult<()> {
        let hash = hash.to_vec();
        self.write(move |tx| {
            tx.prepare_cached("INSERT INTO invites (hash, expires_at) VALUES (?1, ?2)")
                .and_then(|mut s| s.execute(params![hash, expires_at]))
                .map_err(|e| {
                    if is_unique_violation(&e) {
                        StoreError::Conflict
                    } else {
                        map_error(e)
                    }
                })?;
            Ok(())
        })
    }

    fn invite_valid(&self, hash: &[u8], now: i64) -> StoreResult<bool> {
        self.read(|conn| {
            conn.prepare_cached(
                "SELECT EXISTS (SELECT 1 FROM invites
                 WHERE hash = ?1 AND spent_at IS NULL AND expires_at >= ?2)",
            )?
            .query_row(params![hash, now], |row| row.get(0))
        })
    }

    fn add_entry(
        &self,
        user: i64,
        entry: &NewEntry,
        sync: &SyncWrite,
        now: i64,
    ) -> StoreResult<Written> {
        let (entry, sync) = (entry.clone(), sync.clone());
        self.write(move |tx| entries::add(tx, user, &entry, &sync, now))
    }

    fn get_entry(&self, user: i64, site: &str) -> StoreResult<Option<super::Entry>> {
        self.read(|conn| entries::get(conn, user, site))
    }

    fn list_entries(&self, user: i64) -> StoreResult<Vec<super::Entry>> {
        self.read(|conn| entries::list(conn, user))
    }

    fn change_entry(
        &self,
        user: i64,
        site: &str,
        change: &EntryChange,
        sync: &SyncWrite,
        now: i64,
    ) -> StoreResult<Written> {
        let (site, change, sync) = (site.to_string(), change.clone(), sync.clone());
        self.write(move |tx| entries::change(tx, user, &site, &change, &sync, now))
    }

    fn delete_entry(&self, user: i64, site: &str, sync: &SyncWrite) -> StoreResult<Written> {
        let (site, sync) = (site.to_string(), sync.clone());
        self.write(move |tx| entries::delete(tx, user, &site, &sync))
    }

    fn changes(&self, user: i64, since: i64) -> StoreResult<Changes> {
        let mut conn = self
            .readers
            .get()
            .map_err(|_| unavailable("no free connection"))?;
        // One read transaction: in WAL mode every statement in it sees the
        // same snapshot.
        let tx = conn.transaction().map_err(map_error)?;
        let changes = entries::changes(&tx, user, since)?;
        tx.finish().map_err(map_error)?;
        Ok(changes)
    }
}
