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

use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::thread::JoinHandle;
use std::time::Duration;

use rusqlite::{Connection, ErrorCode, OptionalExtension, params};

use super::{
    Entry, EntryChange, PendingLogin, SCHEMA_VERSION, Store, StoreError, StoreResult, User,
};

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS vaultd_meta (
    key   TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS users (
    id         INTEGER PRIMARY KEY,
    username   TEXT NOT NULL UNIQUE,
    record     BLOB NOT NULL,
    vault_key  BLOB,
    rev        INTEGER NOT NULL DEFAULT 0,
    epoch      INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL
);
-- Strings are stored as BLOBs of their UTF-8 bytes: they may hold U+0000,
-- and BLOBs compare by bytes, which is the order API.md requires.
CREATE TABLE IF NOT EXISTS entries (
    user_id    INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    site       BLOB NOT NULL,
    username   BLOB,
    password   BLOB NOT NULL,
    version    INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (user_id, site)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS pending_logins (
    id         BLOB PRIMARY KEY,
    username   TEXT NOT NULL,
    user_id    INTEGER REFERENCES users(id) ON DELETE CASCADE,
    epoch      INTEGER NOT NULL,
    state      BLOB NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS pending_logins_expiry ON pending_logins (expires_at);
CREATE INDEX IF NOT EXISTS pending_logins_user ON pending_logins (user_id);
CREATE TABLE IF NOT EXISTS invites (
    hash       BLOB PRIMARY KEY,
    expires_at INTEGER NOT NULL,
    spent_at   INTEGER
);
";

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

// ---------------------------------------------------------------------------
// Group commit

/// At most this many writes share one transaction, so that one batch cannot
/// hold the write lock for long.
const MAX_BATCH: usize = 64;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Durability {
    /// Fsynced at commit (`synchronous = FULL`): vault data and accounts.
    Full,
    /// Not fsynced at commit (`synchronous = NORMAL`): pending logins, which
    /// live 60 seconds; losing one only makes its client log in again.
    Ephemeral,
}

/// One write, committed alone or in a batch. `run` gets the connection
/// inside the batch's transaction (or why there is none), does its work in a
/// savepoint and returns what to do once the batch is committed or not.
struct Job {
    durability: Durability,
    run: Work,
}

/// Runs in the transaction (or learns why there is none).
type Work = Box<dyn FnOnce(StoreResult<&Connection>) -> Completion + Send>;
/// Hands the outcome to the waiting caller once the commit is known.
type Completion = Box<dyn FnOnce(StoreResult<()>) + Send>;

impl Job {
    /// The job for `f`, and where its outcome arrives: `f`'s value once the
    /// batch is committed, else `f`'s error or the batch's.
    fn new<T: Send + 'static>(
        durability: Durability,
        f: impl FnOnce(&Connection) -> StoreResult<T> + Send + 'static,
    ) -> (Job, mpsc::Receiver<StoreResult<T>>) {
        let (reply, answer) = mpsc::sync_channel(1);
        let run = move |conn: StoreResult<&Connection>| -> Completion {
            let outcome = conn.and_then(|conn| in_savepoint(conn, f));
            Box::new(move |committed: StoreResult<()>| {
                let _ = reply.send(outcome.and_then(|value| committed.map(|()| value)));
            })
        };
        let job = Job {
            durability,
            run: Box::new(run),
        };
        (job, answer)
    }
}

/// The write connection and the `synchronous` level it is set to.
struct Writer {
    conn: Connection,
    synchronous: Durability,
}

impl Writer {
    /// Commits `batch` as one transaction, fsynced unless every write in it
    /// is ephemeral.
    fn commit(&mut self, batch: Vec<Job>) {
        let wanted = if batch.iter().any(|job| job.durability == Durability::Full) {
            Durability::Full
        } else {
            Durability::Ephemeral
        };
        // SQLite refuses to change `synchronous` inside a transaction.
        if wanted != self.synchronous && set_synchronous(&self.conn, wanted).is_ok() {
            self.synchronous = wanted;
        }
        commit_batch(&self.conn, batch);
    }
}

struct Committer {
    writer: Arc<Mutex<Writer>>,
    /// Writes handed to the committer thread and not yet taken by it.
    queued: Arc<AtomicUsize>,
    jobs: Option<mpsc::Sender<Job>>,
    thread: Option<JoinHandle<()>>,
}

impl Committer {
    fn start(conn: Connection) -> StoreResult<Committer> {
        let writer = Arc::new(Mutex::new(Writer {
            conn,
            synchronous: Durability::Full, // as `configure` left it
        }));
        let queued = Arc::new(AtomicUsize::new(0));
        let (jobs, queue) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("sqlite-committer".into())
            .spawn({
                let (writer, queued) = (writer.clone(), queued.clone());
                move || commit_loop(&writer, &queued, queue)
            })
            .map_err(|_| unavailable("cannot start the writer thread"))?;
        Ok(Committer {
            writer,
            queued,
            jobs: Some(jobs),
            thread: Some(thread),
        })
    }

    /// Commits `f` and returns its outcome. A write that finds no other
    /// write going on commits on the caller's own thread (no hand-off, the
    /// usual case on a home server); otherwise it queues for the committer
    /// thread, which batches it with the others.
    fn run<T: Send + 'static>(
        &self,
        durability: Durability,
        f: impl FnOnce(&Connection) -> StoreResult<T> + Send + 'static,
    ) -> StoreResult<T> {
        let (job, answer) = Job::new(durability, f);
        let stopped = || Err(unavailable("the writer thread has stopped"));
        // Only when nothing is queued: queued writes must not be overtaken.
        let idle_writer = if self.queued.load(Ordering::SeqCst) == 0 {
            self.writer.try_lock().ok()
        } else {
            None
        };
        if let Some(mut writer) = idle_writer {
            writer.commit(vec![job]);
        } else {
            self.queued.fetch_add(1, Ordering::SeqCst);
            let sent = self
                .jobs
                .as_ref()
                .is_some_and(|jobs| jobs.send(job).is_ok());
            if !sent {
                self.queued.fetch_sub(1, Ordering::SeqCst);
                return stopped();
            }
        }
        answer.recv().unwrap_or_else(|_| stopped())
    }
}

impl Drop for Committer {
    /// Lets the committer finish what is queued and close its connection.
    fn drop(&mut self) {
        drop(self.jobs.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The committer thread: waits for a write, takes every other write already
/// queued behind it, and commits them together.
fn commit_loop(writer: &Mutex<Writer>, queued: &AtomicUsize, queue: mpsc::Receiver<Job>) {
    while let Ok(first) = queue.recv() {
        // A poisoned lock only means a panic elsewhere; `commit_batch`
        // leaves no transaction open.
        let mut writer = writer.lock().unwrap_or_else(|p| p.into_inner());
        let mut batch = vec![first];
        batch.extend(queue.try_iter().take(MAX_BATCH - 1));
        queued.fetch_sub(batch.len(), Ordering::SeqCst);
        writer.commit(batch);
    }
}

fn set_synchronous(conn: &Connection, durability: Durability) -> rusqlite::Result<()> {
    conn.execute_batch(match durability {
        Durability::Full => "PRAGMA synchronous = FULL",
        Durability::Ephemeral => "PRAGMA synchronous = NORMAL",
    })
}

fn commit_batch(conn: &Connection, batch: Vec<Job>) {
    let began = execute(conn, "BEGIN IMMEDIATE");
    let completions: Vec<Completion> = batch
        .into_iter()
        .map(|job| {
            // A failed savepoint rolls the whole transaction back (see
            // `in_savepoint`); the jobs after it must not run in autocommit.
            let conn = match &began {
                Ok(()) if conn.is_autocommit() => Err(unavailable("the batch was rolled back")),
                Ok(()) => Ok(conn),
                Err(e) => Err(e.clone()),
            };
            (job.run)(conn)
        })
        .collect();
    let committed = began.and_then(|()| execute(conn, "COMMIT"));
    if committed.is_err() && !conn.is_autocommit() {
        let _ = execute(conn, "ROLLBACK");
    }
    for done in completions {
        done(committed.clone());
    }
}

/// Runs `f` in a savepoint, so that its failure undoes only its own work. A
/// panic counts as a failure and stays in this thread.
fn in_savepoint<T>(
    conn: &Connection,
    f: impl FnOnce(&Connection) -> StoreResult<T>,
) -> StoreResult<T> {
    execute(conn, "SAVEPOINT job")?;
    let outcome = catch_unwind(AssertUnwindSafe(|| f(conn)))
        .unwrap_or_else(|_| Err(unavailable("internal error")));
    let closed = match outcome {
        Ok(_) => execute(conn, "RELEASE job"),
        Err(_) => execute(conn, "ROLLBACK TO job").and_then(|()| execute(conn, "RELEASE job")),
    };
    if let Err(e) = closed {
        // Whatever state the savepoint is in, it must not be committed.
        let _ = execute(conn, "ROLLBACK");
        return Err(e);
    }
    outcome
}

/// Runs one statement through the statement cache.
fn execute(conn: &Connection, sql: &str) -> StoreResult<()> {
    conn.prepare_cached(sql)
        .and_then(|mut statement| statement.execute([]))
        .map(|_| ())
        .map_err(map_error)
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

/// Copies the live database at `db` into a new file `dest` with SQLite's
/// online backup API, in one step: a consistent snapshot (one read
/// transaction) while vaultd keeps serving.
pub fn backup(db: &Path, dest: &Path) -> Result<(), String> {
    if dest.exists() {
        return Err(format!("{} exists; choose a new file", dest.display()));
    }
    let source = Connection::open_with_flags(db, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
        .map_err(|e| format!("{}: {e}", db.display()))?;
    copy_all(&source, dest)
}

/// Puts a backup made by [`backup`] in place of the database at `db`, after
/// checking that it is a vaultd database of this schema version. Writers on
/// `db` wait (busy timeout) while the pages are copied.
pub fn restore(backup_file: &Path, db: &Path) -> Result<(), String> {
    let source =
        Connection::open_with_flags(backup_file, rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .map_err(|e| format!("{}: {e}", backup_file.display()))?;
    match schema_version(&source) {
        Ok(Some(v)) => super::check_schema_version(v).map_err(|e| e.to_string())?,
        _ => {
            return Err(format!(
                "{} is not a vaultd database",
                backup_file.display()
            ));
        }
    }
    let mut target = open_connection(db).map_err(|e| e.to_string())?;
    let copy = rusqlite::backup::Backup::new(&source, &mut target).map_err(|e| e.to_string())?;
    step_all(&copy)
}

fn copy_all(source: &Connection, dest: &Path) -> Result<(), String> {
    let mut target = Connection::open(dest).map_err(|e| format!("{}: {e}", dest.display()))?;
    let copy = rusqlite::backup::Backup::new(source, &mut target).map_err(|e| e.to_string())?;
    step_all(&copy)
}

fn step_all(copy: &rusqlite::backup::Backup<'_, '_>) -> Result<(), String> {
    loop {
        // -1: every page in one step, under one lock, so the copy is one
        // snapshot and concurrent writers cannot make it restart forever.
        match copy.step(-1).map_err(|e| e.to_string())? {
            rusqlite::backup::StepResult::Done => return Ok(()),
            // Busy/locked: a writer holds the lock for a moment.
            _ => std::thread::sleep(Duration::from_millis(20)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A database file of its own for one test.
    fn scratch_path(tag: &str) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("vaultd-committer-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir.join("db.sqlite")
    }

    /// A connection to a fresh database with one table `t`.
    fn scratch(tag: &str) -> (PathBuf, Connection) {
        let path = scratch_path(tag);
        let conn = open_connection(&path).unwrap();
        conn.execute_batch("CREATE TABLE t (k TEXT PRIMARY KEY)")
            .unwrap();
        (path, conn)
    }

    fn insert(key: &'static str) -> impl FnOnce(&Connection) -> StoreResult<()> + Send {
        move |conn| {
            conn.execute("INSERT INTO t (k) VALUES (?1)", [key])
                .map(|_| ())
                .map_err(|e| {
                    if is_unique_violation(&e) {
                        StoreError::Conflict
                    } else {
                        map_error(e)
                    }
                })
        }
    }

    fn keys(conn: &Connection) -> Vec<String> {
        let mut statement = conn.prepare("SELECT k FROM t ORDER BY k").unwrap();
        statement
            .query_map([], |row| row.get(0))
            .unwrap()
            .collect::<rusqlite::Result<_>>()
            .unwrap()
    }

    #[test]
    fn a_failing_write_in_a_batch_undoes_only_its_own_work() {
        let (_path, conn) = scratch("isolation");
        let (a, a_done) = Job::new(Durability::Full, insert("a"));
        let (again, again_done) = Job::new(Durability::Full, insert("a"));
        // Writes a row, then fails: the row must go with it.
        let (half, half_done) = Job::new(Durability::Full, |conn: &Connection| {
            insert("half")(conn)?;
            Err::<(), _>(StoreError::NotFound)
        });
        let (panics, panics_done) =
            Job::new(Durability::Full, |conn: &Connection| -> StoreResult<()> {
                insert("panic")(conn)?;
                panic!("a bug in one write");
            });
        let (b, b_done) = Job::new(Durability::Full, insert("b"));

        commit_batch(&conn, vec![a, again, half, panics, b]);

        assert_eq!(a_done.recv().unwrap(), Ok(()));
        assert_eq!(again_done.recv().unwrap(), Err(StoreError::Conflict));
        assert_eq!(half_done.recv().unwrap(), Err(StoreError::NotFound));
        assert!(matches!(
            panics_done.recv().unwrap(),
            Err(StoreError::Unavailable(_))
        ));
        assert_eq!(b_done.recv().unwrap(), Ok(()));
        assert!(conn.is_autocommit(), "the batch's transaction is closed");
        assert_eq!(keys(&conn), ["a", "b"]);
    }

    #[test]
    fn a_batch_that_cannot_begin_fails_every_write_and_runs_none() {
        let (path, conn) = scratch("locked");
        conn.busy_timeout(Duration::from_millis(50)).unwrap();
        let other = Connection::open(&path).unwrap();
        other.execute_batch("BEGIN IMMEDIATE").unwrap();
        let (a, a_done) = Job::new(Durability::Full, insert("a"));
        let (b, b_done) = Job::new(Durability::Full, insert("b"));

        commit_batch(&conn, vec![a, b]);

        assert!(matches!(
            a_done.recv().unwrap(),
            Err(StoreError::Unavailable(_))
        ));
        assert!(matches!(
            b_done.recv().unwrap(),
            Err(StoreError::Unavailable(_))
        ));
        other.execute_batch("ROLLBACK").unwrap();
        assert!(keys(&conn).is_empty());
    }

    #[test]
    fn only_batches_of_ephemeral_writes_skip_the_fsync() {
        let store = SqliteStore::open(&scratch_path("sync"), 1).unwrap();
        let level = |conn: &Connection| -> StoreResult<i64> {
            conn.query_row("PRAGMA synchronous", [], |row| row.get(0))
                .map_err(map_error)
        };
        const NORMAL: i64 = 1;
        const FULL: i64 = 2;
        assert_eq!(store.write(level), Ok(FULL));
        assert_eq!(store.write_ephemeral(level), Ok(NORMAL));
        assert_eq!(store.write(level), Ok(FULL));
    }

    fn thread_name(_: &Connection) -> StoreResult<Option<String>> {
        Ok(std::thread::current().name().map(str::to_string))
    }

    #[test]
    fn a_write_with_the_connection_free_commits_on_its_own_thread() {
        let store = SqliteStore::open(&scratch_path("inline"), 1).unwrap();
        let caller = std::thread::current().name().map(str::to_string);
        assert_eq!(store.write(thread_name), Ok(caller));
    }

    #[test]
    fn writes_that_find_the_connection_busy_are_committed_by_the_committer() {
        let store = SqliteStore::open(&scratch_path("queued"), 1).unwrap();
        let busy = store.committer.writer.lock().unwrap();
        let names: Vec<_> = std::thread::scope(|s| {
            let threads: Vec<_> = (0..4)
                .map(|_| s.spawn(|| store.write(thread_name)))
                .collect();
            while store.committer.queued.load(Ordering::SeqCst) < 4 {
                std::thread::sleep(Duration::from_millis(1));
            }
            drop(busy);
            threads.into_iter().map(|t| t.join().unwrap()).collect()
        });
        assert!(
            names
                .iter()
                .all(|n| *n == Ok(Some("sqlite-committer".into())))
        );
        assert_eq!(store.committer.queued.load(Ordering::SeqCst), 0);
    }

    #[test]
    fn concurrent_writes_each_get_their_own_answer() {
        let store = SqliteStore::open(&scratch_path("group"), 1).unwrap();
        store
            .write(|conn| {
                conn.execute_batch("CREATE TABLE t (k TEXT PRIMARY KEY)")
                    .map_err(map_error)
            })
            .unwrap();
        // 16 threads, 8 keys: every key is written by two threads at once.
        const KEYS: [&str; 8] = ["k0", "k1", "k2", "k3", "k4", "k5", "k6", "k7"];
        let outcomes: Vec<StoreResult<()>> = std::thread::scope(|s| {
            let threads: Vec<_> = (0..16)
                .map(|i| {
                    let store = &store;
                    s.spawn(move || store.write(insert(KEYS[i % 8])))
                })
                .collect();
            threads.into_iter().map(|t| t.join().unwrap()).collect()
        });
        let ok = outcomes.iter().filter(|o| o.is_ok()).count();
        let conflicts = outcomes
            .iter()
            .filter(|o| **o == Err(StoreError::Conflict))
            .count();
        assert_eq!((ok, conflicts), (8, 8));
        let stored = store.read(|conn| Ok(keys(conn))).unwrap();
        assert_eq!(stored, KEYS);
    }
}
