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

mod backup;
mod committer;

pub use self::backup::{backup, restore};
use self::committer::{Committer, Durability};
use super::{
    Entry, EntryChange, PendingLogin, SCHEMA_VERSION, Store, StoreError, StoreResult, User,
};

/// The schema of version `SCHEMA_VERSION`, idempotent.
const SCHEMA: &str = include_str!("schema.sql");

// The columns that `user_from_row` and `entry_from_row` read, in order.
// Macros, so that `concat!` makes each query one constant string: the
// statement cache is looked up without formatting the SQL on every call.
macro_rules! user_columns {
    () => {
        "id, username, record, vault_key, rev, epoch"
    };
}
macro_rules! entry_columns {
    () => {
        "site, username, password, version, updated_at"
    };
}

pub struct SqliteStore {
    path: PathBuf,
    committer: Committer,
    readers: r2d2::Pool<ReaderManager>,
}

impl SqliteStore {
    /// Opens (creating if needed) the database file. `readers` is the size of
    /// the read pool, normally the number of worker threads.
    pub fn open(path: &Path, readers: u32) -> StoreResult<SqliteStore> {
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

fn text(bytes: Vec<u8>) -> String {
    // Only ever written from a `&str`, so this is valid UTF-8; a corrupted
    // row degrades to replacement characters rather than a panic.
    String::from_utf8(bytes).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

fn user_from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<User> {
    Ok(User {
        id: row.get(0)?,
        username: row.get(1)?,
        record: row.get(2)?,
        vault_key: row.get::<_, Option<Vec<u8>>>(3)?.map(text),
        rev: row.get(4)?,
        epoch: row.get(5)?,
    })
}

fn entry_from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<Entry> {
    Ok(Entry {
        site: text(row.get(0)?),
        username: row.get::<_, Option<Vec<u8>>>(1)?.map(text),
        password: text(row.get(2)?),
        version: row.get(3)?,
        updated_at: row.get(4)?,
    })
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

impl Store for SqliteStore {
    fn prepare(&self, create: bool) -> StoreResult<()> {
        if create {
            self.write(|tx| {
                match schema_version(tx).map_err(map_error)? {
                    None => {
                        tx.execute_batch(SCHEMA).map_err(map_error)?;
                        tx.execute(
                            "INSERT INTO vaultd_meta (key, value) VALUES ('schema_version', ?1)",
                            [SCHEMA_VERSION],
                        )
                        .map_err(map_error)?;
                    }
                    Some(v) => super::check_schema_version(v)?,
                }
                Ok(())
            })
        } else {
            match self.read(schema_version)? {
                None => Err(super::missing_schema()),
                Some(v) => super::check_schema_version(v),
            }
        }
    }

    fn health(&self) -> StoreResult<()> {
        self.read(|conn| conn.query_row("SELECT 1", [], |_| Ok(())))
    }

    fn has_users(&self) -> StoreResult<bool> {
        self.read(|conn| conn.query_row("SELECT EXISTS (SELECT 1 FROM users)", [], |r| r.get(0)))
    }

    fn create_user(
        &self,
        username: &str,
        record: &[u8],
        vault_key: Option<&str>,
        invite: Option<&[u8]>,
        now: i64,
    ) -> StoreResult<User> {
        // Owned copies: the write runs on the committer thread.
        let username = username.to_string();
        let record = record.to_vec();
        let vault_key = vault_key.map(str::to_string);
        let invite = invite.map(<[u8]>::to_vec);
        self.write(move |tx| {
            if let Some(hash) = invite {
                let spent = tx
                    .prepare_cached(
                        "UPDATE invites SET spent_at = ?2
                         WHERE hash = ?1 AND spent_at IS NULL AND expires_at >= ?2",
                    )
                    .and_then(|mut s| s.execute(params![hash, now]))
                    .map_err(map_error)?;
                if spent != 1 {
                    return Err(StoreError::NotFound);
                }
            }
            let inserted = tx
                .prepare_cached(
                    "INSERT INTO users (username, record, vault_key, created_at)
                     VALUES (?1, ?2, ?3, ?4)",
                )
                .and_then(|mut s| {
                    s.execute(params![
                        username,
                        record,
                        vault_key.as_deref().map(str::as_bytes),
                        now
                    ])
                });
            match inserted {
                Ok(_) => Ok(User {
                    id: tx.last_insert_rowid(),
                    username,
                    record,
                    vault_key,
                    rev: 0,
                    epoch: 0,
                }),
                Err(e) if is_unique_violation(&e) => Err(StoreError::Conflict),
                Err(e) => Err(map_error(e)),
            }
        })
    }

    fn user_by_name(&self, username: &str) -> StoreResult<Option<User>> {
        self.read(|conn| {
            conn.prepare_cached(concat!(
                "SELECT ",
                user_columns!(),
                " FROM users WHERE username = ?1"
            ))?
            .query_row([username], user_from_row)
            .optional()
        })
    }

    fn user_by_id(&self, id: i64) -> StoreResult<Option<User>> {
        self.read(|conn| {
            conn.prepare_cached(concat!(
                "SELECT ",
                user_columns!(),
                " FROM users WHERE id = ?1"
            ))?
            .query_row([id], user_from_row)
            .optional()
        })
    }

    fn user_rev(&self, id: i64) -> StoreResult<Option<i64>> {
        self.read(|conn| {
            conn.prepare_cached("SELECT rev FROM users WHERE id = ?1")?
                .query_row([id], |row| row.get(0))
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
        record: &[u8],
        vault_key: Option<&str>,
    ) -> StoreResult<User> {
        let record = record.to_vec();
        let vault_key = vault_key.map(|k| k.as_bytes().to_vec());
        self.write(move |tx| {
            tx.prepare_cached(concat!(
                "UPDATE users SET record = ?2, vault_key = ?3, rev = rev + 1, epoch = epoch + 1
                 WHERE id = ?1 RETURNING ",
                user_columns!()
            ))
            .and_then(|mut s| {
                s.query_row(params![id, record, vault_key], user_from_row)
                    .optional()
            })
            .map_err(map_error)?
            .ok_or(StoreError::NotFound)
        })
    }

    fn delete_user(&self, id: i64) -> StoreResult<()> {
        self.write(move |tx| {
            // ON DELETE CASCADE removes entries and pending logins.
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
        self.write_ephemeral(move |tx| {
            tx.prepare_cached("DELETE FROM pending_logins WHERE expires_at < ?1")
                .and_then(|mut s| s.execute([now]))
                .map_err(map_error)?;
            tx.prepare_cached(
                "INSERT INTO pending_logins (id, username, user_id, epoch, state, expires_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
            )
            .and_then(|mut s| {
                s.execute(params![
                    login.id,
                    login.username,
                    login.user_id,
                    login.epoch,
                    login.state,
                    login.expires_at
                ])
            })
            .map_err(map_error)?;
            Ok(())
        })
    }

    fn take_login(&self, id: &[u8], now: i64) -> StoreResult<Option<PendingLogin>> {
        let id = id.to_vec();
        // Ephemeral: a take lost in a power cut can only bring back a login
        // that expires within 60 seconds, long before the machine is back.
        let taken = self.write_ephemeral(move |tx| {
            tx.prepare_cached(
                "DELETE FROM pending_logins WHERE id = ?1
                 RETURNING id, username, user_id, epoch, state, expires_at",
            )
            .and_then(|mut s| {
                s.query_row([id], |row| {
                    Ok(PendingLogin {
                        id: row.get(0)?,
                        username: row.get(1)?,
                        user_id: row.get(2)?,
                        epoch: row.get(3)?,
                        state: row.get(4)?,
                        expires_at: row.get(5)?,
                    })
                })
                .optional()
            })
            .map_err(map_error)
        })?;
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
        site: &str,
        username: Option<&str>,
        password: &str,
        now: i64,
    ) -> StoreResult<Entry> {
        let entry = Entry {
            site: site.to_string(),
            username: username.map(str::to_string),
            password: password.to_string(),
            version: 1,
            updated_at: now,
        };
        self.write(move |tx| {
            let inserted = tx
                .prepare_cached(
                    "INSERT INTO entries (user_id, site, username, password, version, updated_at)
                     VALUES (?1, ?2, ?3, ?4, 1, ?5)",
                )
                .and_then(|mut s| {
                    s.execute(params![
                        user,
                        entry.site.as_bytes(),
                        entry.username.as_deref().map(str::as_bytes),
                        entry.password.as_bytes(),
                        now
                    ])
                });
            match inserted {
                Ok(_) => Ok(entry),
                Err(e) if is_unique_violation(&e) => Err(StoreError::Conflict),
                Err(e) if is_missing_reference(&e) => Err(StoreError::NotFound),
                Err(e) => Err(map_error(e)),
            }
        })
    }

    fn get_entry(&self, user: i64, site: &str) -> StoreResult<Option<Entry>> {
        self.read(|conn| {
            conn.prepare_cached(concat!(
                "SELECT ",
                entry_columns!(),
                " FROM entries WHERE user_id = ?1 AND site = ?2"
            ))?
            .query_row(params![user, site.as_bytes()], entry_from_row)
            .optional()
        })
    }

    fn list_entries(&self, user: i64) -> StoreResult<Vec<Entry>> {
        self.read(|conn| {
            conn.prepare_cached(concat!(
                "SELECT ",
                entry_columns!(),
                " FROM entries WHERE user_id = ?1 ORDER BY site"
            ))?
            .query_map([user], entry_from_row)?
            .collect()
        })
    }

    fn change_entry(
        &self,
        user: i64,
        site: &str,
        change: &EntryChange,
        now: i64,
    ) -> StoreResult<i64> {
        let site = site.to_string();
        let change = change.clone();
        self.write(move |tx| {
            // One statement: the version check and the write cannot be split
            // by another writer. `?4`/`?6` say whether a field is to be set.
            let updated = tx
                .prepare_cached(
                    "UPDATE entries SET
                        password = CASE WHEN ?3 IS NULL THEN password ELSE ?3 END,
                        username = CASE WHEN ?4 THEN ?5 ELSE username END,
                        version = version + 1,
                        updated_at = ?6
                     WHERE user_id = ?1 AND site = ?2 AND (?7 IS NULL OR version = ?7)
                     RETURNING version",
                )
                .and_then(|mut s| {
                    s.query_row(
                        params![
                            user,
                            site.as_bytes(),
                            change.password.as_deref().map(str::as_bytes),
                            change.username.is_some(),
                            change.username.as_ref().and_then(|u| u.as_deref()).map(str::as_bytes),
                            now,
                            change.expected_version,
                        ],
                        |row| row.get(0),
                    )
                    .optional()
                })
                .map_err(map_error)?;
            match updated {
                Some(version) => Ok(version),
                None => {
                    let exists: bool = tx
                        .prepare_cached(
                            "SELECT EXISTS (SELECT 1 FROM entries WHERE user_id = ?1 AND site = ?2)",
                        )
                        .and_then(|mut s| s.query_row(params![user, site.as_bytes()], |r| r.get(0)))
                        .map_err(map_error)?;
                    Err(if exists { StoreError::Conflict } else { StoreError::NotFound })
                }
            }
        })
    }

    fn delete_entry(&self, user: i64, site: &str) -> StoreResult<()> {
        let site = site.to_string();
        self.write(move |tx| {
            let deleted = tx
                .prepare_cached("DELETE FROM entries WHERE user_id = ?1 AND site = ?2")
                .and_then(|mut s| s.execute(params![user, site.as_bytes()]))
                .map_err(map_error)?;
            if deleted == 0 {
                return Err(StoreError::NotFound);
            }
            Ok(())
        })
    }
}
