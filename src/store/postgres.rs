//! PostgreSQL backend.
//!
//! A pool of synchronous `postgres` clients managed by r2d2. The pool is built
//! without connecting, so `vaultd` starts while the database is down; every
//! call then answers `StoreError::Unavailable` after at most the pool's
//! connection timeout (2 s) instead of hanging, and serves again as soon as
//! the database is back. A connection that broke (server restart, network
//! cut) is replaced: one idle for more than `PING_AFTER_IDLE` is pinged on
//! check-out (see `PostgresStore::conn`); one in steady use is not, and if it
//! turns out dead on the first statement of a read or on the `BEGIN` of a
//! transaction, the call runs again on a fresh connection (see
//! `PostgresStore::with` and `PostgresStore::in_transaction`). A write whose
//! outcome is unknown is never run again: it answers `Unavailable`.
//!
//! Strings that the client sends (site, entry username and password, vault
//! key) are stored as BYTEA holding their UTF-8 bytes: PostgreSQL TEXT cannot
//! hold U+0000, and BYTEA compares byte by byte, which is the order API.md
//! asks for.
//!
//! Every statement is parameterised. Each pooled connection keeps the
//! statements it has prepared (`postgres` has no `prepare_cached`), so a
//! request costs one round trip per statement.
//!
//! Uniqueness is checked with `ON CONFLICT DO NOTHING` rather than by
//! catching SQLSTATE 23505: a unique violation is logged by the PostgreSQL
//! server together with the conflicting key, which would put usernames into
//! the server's log.

use std::collections::HashMap;
use std::fmt;
use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ::postgres::types::{FromSql, ToSql};
use ::postgres::{Client, GenericClient, NoTls, Row, Statement};
use openssl::ssl::{SslConnector, SslMethod, SslVerifyMode};
use postgres_openssl::MakeTlsConnector;
use r2d2_postgres::PostgresConnectionManager;

use super::{
    Entry, EntryChange, PendingLogin, SCHEMA_VERSION, Store, StoreError, StoreResult, User,
};

/// How long a call waits for a pooled connection (and so, while the database
/// is down, how long until it answers `Unavailable`).
const POOL_TIMEOUT: Duration = Duration::from_secs(2);
/// How long one TCP connection attempt may take.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
/// How long sent data may stay unacknowledged before the kernel drops the
/// connection (Linux `TCP_USER_TIMEOUT`): a vanished server is noticed within
/// this time instead of after the kernel's default of many minutes.
const TCP_USER_TIMEOUT: Duration = Duration::from_secs(2);
/// A pooled connection unused for longer than this is pinged on check-out;
/// one used more recently is not (a ping is a round trip of its own, which
/// doubled the cost of every call).
///
/// Connections mostly die while idle: a database restart or failover between
/// two requests, an idle timeout of a NAT, firewall, pooler or the server's
/// `idle_session_timeout` (all of them seconds to hours). Under steady load a
/// connection is reused within milliseconds and never pinged; when traffic is
/// sparse, the ping costs a round trip that nobody is waiting for. One second
/// keeps the window short in which a connection can die unnoticed: if it
/// does, a read or a `BEGIN` is retried on a fresh connection, and only an
/// autocommit write answers `Unavailable` (503), as it would had the
/// connection died during that write.
const PING_AFTER_IDLE: Duration = Duration::from_secs(1);

/// Key of the advisory lock that serialises schema creation between
/// processes ("vaultd" in ASCII).
const SCHEMA_LOCK: i64 = 0x7661_756c_7464;

/// The schema of version `SCHEMA_VERSION`. Idempotent; run by `prepare(true)`
/// in one transaction, under `SCHEMA_LOCK`.
const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS vaultd_meta (
    key   TEXT PRIMARY KEY,
    value BIGINT
);

CREATE TABLE IF NOT EXISTS users (
    id         BIGSERIAL PRIMARY KEY,
    username   TEXT   NOT NULL UNIQUE,
    record     BYTEA  NOT NULL,
    vault_key  BYTEA  NULL,
    rev        BIGINT NOT NULL DEFAULT 0,
    epoch      BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL
);

CREATE TABLE IF NOT EXISTS entries (
    user_id    BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    site       BYTEA  NOT NULL,
    username   BYTEA  NULL,
    password   BYTEA  NOT NULL,
    version    BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (user_id, site)
);

CREATE TABLE IF NOT EXISTS pending_logins (
    id         BYTEA  PRIMARY KEY,
    username   TEXT   NOT NULL,
    user_id    BIGINT NULL REFERENCES users (id) ON DELETE CASCADE,
    epoch      BIGINT NOT NULL,
    state      BYTEA  NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX IF NOT EXISTS pending_logins_expires_at ON pending_logins (expires_at);
-- Makes the cascade of a user's deletion an index lookup.
CREATE INDEX IF NOT EXISTS pending_logins_user_id ON pending_logins (user_id);

CREATE TABLE IF NOT EXISTS invites (
    hash       BYTEA  PRIMARY KEY,
    expires_at BIGINT NOT NULL,
    spent_at   BIGINT NULL
);
";

// ---------------------------------------------------------------------------
// Settings

/// Whether to talk TLS to the server, as libpq's `sslmode`.
///
/// As in libpq, `require` encrypts but does not verify the server's
/// certificate (that would be `verify-ca`/`verify-full`, not offered yet);
/// `prefer` tries TLS and falls back to plain text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SslMode {
    Disable,
    /// libpq's default.
    #[default]
    Prefer,
    Require,
}

impl FromStr for SslMode {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "disable" => Ok(SslMode::Disable),
            "prefer" => Ok(SslMode::Prefer),
            "require" => Ok(SslMode::Require),
            _ => Err(format!(
                "invalid sslmode {s:?}: expected one of disable, prefer, require"
            )),
        }
    }
}

impl fmt::Display for SslMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SslMode::Disable => "disable",
            SslMode::Prefer => "prefer",
            SslMode::Require => "require",
        })
    }
}

/// Where the database is: the `[postgresql]` section of `database.ini`.
/// A `host` starting with `/` is a Unix socket directory.
#[derive(Clone, PartialEq, Eq)]
pub struct PgSettings {
    pub host: String,
    pub port: u16,
    pub user: String,
    pub password: String,
    pub database: String,
    pub sslmode: SslMode,
}

/// Never prints the password.
impl fmt::Debug for PgSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PgSettings")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("user", &self.user)
            .field("password", &"<redacted>")
            .field("database", &self.database)
            .field("sslmode", &self.sslmode)
            .finish()
    }
}

// ---------------------------------------------------------------------------
// Pool

/// Prepared statements of one connection, keyed by their SQL text.
type Statements = HashMap<&'static str, Statement>;

/// A pooled connection: the client and the statements prepared on it.
struct PgConn {
    client: Client,
    statements: Statements,
    /// When it was last handed out; `None` for a new connection, which needs
    /// no ping. Stamped at check-out rather than return, so the idle time it
    /// measures is never shorter than the real one: at worst a ping too many.
    last_used: Option<Instant>,
    /// Set when the connection failed (or may be left inside a transaction):
    /// the pool discards it on return.
    broken: bool,
}

/// The r2d2 manager: r2d2_postgres's, for either TLS choice, plus the
/// per-connection statement cache.
enum Manager {
    Plain(PostgresConnectionManager<NoTls>),
    Tls(PostgresConnectionManager<MakeTlsConnector>),
}

impl r2d2::ManageConnection for Manager {
    type Connection = PgConn;
    type Error = ::postgres::Error;

    fn connect(&self) -> Result<PgConn, ::postgres::Error> {
        let client = match self {
            Manager::Plain(m) => m.connect()?,
            Manager::Tls(m) => m.connect()?,
        };
        Ok(PgConn {
            client,
            statements: Statements::new(),
            last_used: None,
            broken: false,
        })
    }

    fn is_valid(&self, conn: &mut PgConn) -> Result<(), ::postgres::Error> {
        conn.client.simple_query("").map(|_| ())
    }

    fn has_broken(&self, conn: &mut PgConn) -> bool {
        conn.broken || conn.client.is_closed()
    }
}

/// Remembers why the last connection attempt failed, as a short phrase
/// without data, so that a pool timeout can say more than "timed out".
#[derive(Debug, Default, Clone)]
struct LastConnectError(Arc<Mutex<Option<String>>>);

impl r2d2::HandleError<::postgres::Error> for LastConnectError {
    fn handle_error(&self, error: ::postgres::Error) {
        self.set(&error);
    }
}

impl LastConnectError {
    fn set(&self, error: &::postgres::Error) {
        let why = match error.code().map(|c| c.code()) {
            Some("28P01") | Some("28000") => "authentication failed".to_string(),
            Some("3D000") => "the database does not exist".to_string(),
            Some(code) => describe_sqlstate(code),
            None => kind_of(error),
        };
        if let Ok(mut last) = self.0.lock() {
            *last = Some(why);
        }
    }

    fn get(&self) -> Option<String> {
        self.0.lock().ok().and_then(|last| last.clone())
    }
}

// ---------------------------------------------------------------------------
// Errors

type PgResult<T> = Result<T, ::postgres::Error>;

/// The fixed description of a client-side error (its kind, without the
/// source, which may name hosts or hold OS details).
fn kind_of(e: &::postgres::Error) -> String {
    if e.is_closed() {
        return "connection closed".to_string();
    }
    let text = e.to_string();
    text.split(": ")
        .next()
        .unwrap_or("database error")
        .to_string()
}

/// A short phrase for a SQLSTATE that means "the database cannot serve now".
fn describe_sqlstate(code: &str) -> String {
    match code {
        c if c.starts_with("08") => "connection to the database lost".into(),
        "57P01" | "57P02" => "the database is shutting down".into(),
        "57P03" => "the database is starting up".into(),
        "53100" => "the database's disk is full".into(),
        "53200" => "the database is out of memory".into(),
        "53300" => "the database has too many connections".into(),
        c if c.starts_with("53") => "the database is out of resources".into(),
        "25006" => "the database is read-only".into(),
        "40001" | "40P01" => "the database is busy, try again".into(),
        "57014" => "the database cancelled the statement".into(),
        _ => "database error".into(),
    }
}

/// Maps an error of a statement. `23505` (unique violation) is a `Conflict`
/// and `23503` (foreign key violation: the user is gone) a `NotFound`;
/// everything else is `Unavailable` with a message that holds no SQL or data.
fn map_err(e: ::postgres::Error) -> StoreError {
    match e.code().map(|c| c.code()) {
        Some("23505") => StoreError::Conflict,
        Some("23503") => StoreError::NotFound,
        Some(code) => {
            let why = describe_sqlstate(code);
            if why == "database error" {
                // Unexpected: a bug or a damaged schema. The SQLSTATE helps
                // the operator and holds no data.
                eprintln!("vaultd: unexpected database error (SQLSTATE {code})");
            }
            StoreError::Unavailable(why)
        }
        None => StoreError::Unavailable(kind_of(&e)),
    }
}

/// Whether `e` means that the connection failed rather than the statement:
/// it is closed, its socket failed (reset, `TCP_USER_TIMEOUT`), or the
/// server ended the session (a FATAL error such as 57P01, sent by a server
/// shutting down or by `pg_terminate_backend`).
fn connection_failed(e: &::postgres::Error) -> bool {
    use ::postgres::error::Severity;
    e.is_closed()
        || std::error::Error::source(e).is_some_and(|s| s.is::<std::io::Error>())
        || e.as_db_error().is_some_and(|db| {
            matches!(
                db.parsed_severity(),
                Some(Severity::Fatal) | Some(Severity::Panic)
            )
        })
}

fn bad_value() -> StoreError {
    StoreError::Unavailable("the database returned an unexpected value".into())
}

// ---------------------------------------------------------------------------
// Statements with a cache

/// A pooled connection as the store's calls see it: statements through the
/// connection's cache, and the bookkeeping of connection failures.
struct Db<'a> {
    conn: &'a mut PgConn,
    /// True until the first statement of a `with` call: a read that fails
    /// there because the connection did may be run again.
    first: bool,
    /// Set when that first statement was a read (`SELECT`) and the
    /// connection failed: nothing of the call was executed, and `with` runs
    /// it again on a fresh connection. Never set for any other statement: a
    /// write (or anything after one) whose connection failed may have been
    /// executed and is never run twice.
    retry: bool,
}

impl<'a> Db<'a> {
    fn new(conn: &'a mut PgConn, first: bool) -> Db<'a> {
        Db {
            conn,
            first,
            retry: false,
        }
    }

    fn statement(&mut self, sql: &'static str) -> PgResult<Statement> {
        if let Some(statement) = self.conn.statements.get(sql) {
            return Ok(statement.clone());
        }
        let statement = self.conn.client.prepare(sql)?;
        self.conn.statements.insert(sql, statement.clone());
        Ok(statement)
    }

    /// Runs `sql` with `run`; a failed connection is marked broken.
    fn run<T>(
        &mut self,
        sql: &'static str,
        run: impl FnOnce(&mut Client, &Statement) -> PgResult<T>,
    ) -> StoreResult<T> {
        let first = std::mem::take(&mut self.first);
        let result = match self.statement(sql) {
            Ok(statement) => run(&mut self.conn.client, &statement),
            Err(e) => Err(e),
        };
        result.map_err(|e| {
            if connection_failed(&e) {
                self.conn.broken = true;
                // The SELECTs here call no function that writes.
                self.retry = first && sql.starts_with("SELECT ");
            }
            map_err(e)
        })
    }

    fn query(
        &mut self,
        sql: &'static str,
        params: &[&(dyn ToSql + Sync)],
    ) -> StoreResult<Vec<Row>> {
        self.run(sql, |client, statement| client.query(statement, params))
    }

    fn query_opt(
        &mut self,
        sql: &'static str,
        params: &[&(dyn ToSql + Sync)],
    ) -> StoreResult<Option<Row>> {
        self.run(sql, |client, statement| client.query_opt(statement, params))
    }

    fn query_one(&mut self, sql: &'static str, params: &[&(dyn ToSql + Sync)]) -> StoreResult<Row> {
        self.query_opt(sql, params)?.ok_or_else(bad_value)
    }

    fn execute(&mut self, sql: &'static str, params: &[&(dyn ToSql + Sync)]) -> StoreResult<u64> {
        self.run(sql, |client, statement| client.execute(statement, params))
    }
}

// ---------------------------------------------------------------------------
// Rows

fn col<'a, T: FromSql<'a>>(row: &'a Row, idx: usize) -> StoreResult<T> {
    row.try_get(idx).map_err(|_| bad_value())
}

fn text(bytes: Vec<u8>) -> StoreResult<String> {
    String::from_utf8(bytes).map_err(|_| bad_value())
}

fn text_col(row: &Row, idx: usize) -> StoreResult<String> {
    text(col(row, idx)?)
}

fn opt_text_col(row: &Row, idx: usize) -> StoreResult<Option<String>> {
    col::<Option<Vec<u8>>>(row, idx)?.map(text).transpose()
}

fn user_from(row: &Row) -> StoreResult<User> {
    Ok(User {
        id: col(row, 0)?,
        username: col(row, 1)?,
        record: col(row, 2)?,
        vault_key: opt_text_col(row, 3)?,
        rev: col(row, 4)?,
        epoch: col(row, 5)?,
    })
}

fn entry_from(row: &Row) -> StoreResult<Entry> {
    Ok(Entry {
        site: text_col(row, 0)?,
        username: opt_text_col(row, 1)?,
        password: text_col(row, 2)?,
        version: col(row, 3)?,
        updated_at: col(row, 4)?,
    })
}

// ---------------------------------------------------------------------------
// SQL. `const`s so that they key the statement cache.

const SQL_HEALTH: &str = "SELECT 1";

const SQL_SPEND_INVITE: &str = "UPDATE invites SET spent_at = $2 \
     WHERE hash = $1 AND spent_at IS NULL AND expires_at >= $2";
const SQL_INSERT_USER: &str = "INSERT INTO users (username, record, vault_key, created_at) \
     VALUES ($1, $2, $3, $4) ON CONFLICT (username) DO NOTHING \
     RETURNING id, username, record, vault_key, rev, epoch";
const SQL_USER_BY_NAME: &str =
    "SELECT id, username, record, vault_key, rev, epoch FROM users WHERE username = $1";
const SQL_USER_BY_ID: &str =
    "SELECT id, username, record, vault_key, rev, epoch FROM users WHERE id = $1";
const SQL_USER_REV: &str = "SELECT rev FROM users WHERE id = $1";
const SQL_REVOKE: &str = "UPDATE users SET rev = rev + 1 WHERE id = $1 RETURNING rev";
const SQL_CHANGE_PASSWORD: &str = "UPDATE users \
     SET record = $2, vault_key = $3, rev = rev + 1, epoch = epoch + 1 WHERE id = $1 \
     RETURNING id, username, record, vault_key, rev, epoch";
const SQL_DELETE_USER: &str = "DELETE FROM users WHERE id = $1";

/// Opens the transactions of `put_login` and `take_login`, in one round trip.
///
/// Pending logins live 60 s, so their commits do not wait for the WAL to
/// reach the disk. A database crash may lose the last few hundred
/// milliseconds of such commits (never corrupting or reordering anything):
/// a lost `put_login` only makes that client repeat its login; a lost
/// `take_login` deletion can only bring that login id back for the rest of
/// its at most 60 s. Every other transaction keeps `synchronous_commit` on.
///
/// As transactions they take three round trips (this, the statement,
/// `COMMIT`) instead of one autocommit statement, but none waits for a WAL
/// flush, which on a disk usually costs more than two round trips.
const BEGIN_EPHEMERAL: &str = "BEGIN; SET LOCAL synchronous_commit = off";

/// Purges expired logins and inserts the new one in one statement.
const SQL_PUT_LOGIN: &str = "WITH purged AS (DELETE FROM pending_logins WHERE expires_at < $6) \
     INSERT INTO pending_logins (id, username, user_id, epoch, state, expires_at) \
     VALUES ($1, $7, $2, $3, $4, $5)";
const SQL_TAKE_LOGIN: &str = "DELETE FROM pending_logins WHERE id = $1 \
     RETURNING id, username, user_id, epoch, state, expires_at";

const SQL_CREATE_INVITE: &str = "INSERT INTO invites (hash, expires_at) VALUES ($1, $2) \
     ON CONFLICT (hash) DO NOTHING";
const SQL_INVITE_VALID: &str = "SELECT EXISTS (SELECT 1 FROM invites \
     WHERE hash = $1 AND spent_at IS NULL AND expires_at >= $2)";

const SQL_ADD_ENTRY: &str = "INSERT INTO entries (user_id, site, username, password, version, updated_at) \
     VALUES ($1, $2, $3, $4, 1, $5) ON CONFLICT (user_id, site) DO NOTHING";
const SQL_GET_ENTRY: &str = "SELECT site, username, password, version, updated_at \
     FROM entries WHERE user_id = $1 AND site = $2";
const SQL_LIST_ENTRIES: &str = "SELECT site, username, password, version, updated_at \
     FROM entries WHERE user_id = $1 ORDER BY site";
/// One statement, so that of concurrent changes with the same expected
/// version exactly one matches: the others wait for its row lock, then
/// re-check `version` against the committed row and match nothing.
const SQL_CHANGE_ENTRY: &str = "UPDATE entries SET \
         password = COALESCE($4::BYTEA, password), \
         username = CASE WHEN $5::BOOLEAN THEN $6::BYTEA ELSE username END, \
         version = version + 1, \
         updated_at = $7 \
     WHERE user_id = $1 AND site = $2 AND ($3::BIGINT IS NULL OR version = $3) \
     RETURNING version";
const SQL_ENTRY_EXISTS: &str =
    "SELECT EXISTS (SELECT 1 FROM entries WHERE user_id = $1 AND site = $2)";
const SQL_DELETE_ENTRY: &str = "DELETE FROM entries WHERE user_id = $1 AND site = $2";

// ---------------------------------------------------------------------------
// The store

/// The PostgreSQL backend.
pub struct PostgresStore {
    pool: r2d2::Pool<Manager>,
    last_connect_error: LastConnectError,
}

impl fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PostgresStore")
            .field("max_size", &self.pool.max_size())
            .finish_non_exhaustive()
    }
}

impl PostgresStore {
    /// Sets up a pool of at most `pool_size` connections. Does not connect:
    /// this succeeds while the database is down.
    pub fn connect(settings: &PgSettings, pool_size: u32) -> StoreResult<PostgresStore> {
        let mut config = ::postgres::Config::new();
        config
            .host(&settings.host)
            .port(settings.port)
            .dbname(&settings.database)
            .application_name("vaultd")
            .connect_timeout(CONNECT_TIMEOUT)
            .tcp_user_timeout(TCP_USER_TIMEOUT)
            .keepalives(true)
            .keepalives_idle(Duration::from_secs(30))
            .keepalives_interval(Duration::from_secs(10))
            .keepalives_retries(3);
        if !settings.user.is_empty() {
            config.user(&settings.user);
        }
        if !settings.password.is_empty() {
            config.password(&settings.password);
        }
        let manager = match settings.sslmode {
            SslMode::Disable => {
                config.ssl_mode(::postgres::config::SslMode::Disable);
                Manager::Plain(PostgresConnectionManager::new(config, NoTls))
            }
            SslMode::Prefer | SslMode::Require => {
                config.ssl_mode(if settings.sslmode == SslMode::Prefer {
                    ::postgres::config::SslMode::Prefer
                } else {
                    ::postgres::config::SslMode::Require
                });
                let tls_error = |_| StoreError::Unavailable("cannot set up TLS".into());
                let mut builder = SslConnector::builder(SslMethod::tls()).map_err(tls_error)?;
                // libpq's `prefer`/`require`: encrypted, certificate unchecked.
                builder.set_verify(SslVerifyMode::NONE);
                let tls = MakeTlsConnector::new(builder.build());
                Manager::Tls(PostgresConnectionManager::new(config, tls))
            }
        };
        let last_connect_error = LastConnectError::default();
        let pool = r2d2::Pool::builder()
            .max_size(pool_size.max(1))
            // Connect on demand only: no background reconnect storm while the
            // database is down, and no failure at start.
            .min_idle(Some(0))
            .connection_timeout(POOL_TIMEOUT)
            // `conn` pings, within its own deadline.
            .test_on_check_out(false)
            .idle_timeout(Some(Duration::from_secs(300)))
            .max_lifetime(Some(Duration::from_secs(1800)))
            .error_handler(Box::new(last_connect_error.clone()))
            .build_unchecked(manager);
        Ok(PostgresStore {
            pool,
            last_connect_error,
        })
    }

    /// A connection, or `Unavailable` at about `deadline` (callers give
    /// `POOL_TIMEOUT` from the start of the call).
    ///
    /// A connection idle for longer than `PING_AFTER_IDLE` is pinged first,
    /// and replaced when the ping fails (the server restarted, the network
    /// dropped it). This is r2d2's `test_on_check_out`, but only for idle
    /// connections and under one deadline for the whole check-out: r2d2 would
    /// ping every stale idle connection in turn, each ping taking up to
    /// `TCP_USER_TIMEOUT` when the host vanished.
    fn conn(&self, deadline: Instant) -> StoreResult<r2d2::PooledConnection<Manager>> {
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Err(self.unreachable());
            }
            let mut conn = self.pool.get_timeout(left).map_err(|e| {
                // r2d2 appends the last connection error to its message when
                // a connection attempt failed; without one, the pool was busy.
                if e.to_string().contains(": ") {
                    self.unreachable()
                } else {
                    StoreError::Unavailable("no free database connection".into())
                }
            })?;
            let idle = conn
                .last_used
                .is_some_and(|at| at.elapsed() > PING_AFTER_IDLE);
            if idle {
                if let Err(e) = conn.client.simple_query("") {
                    self.last_connect_error.set(&e);
                    conn.broken = true; // dropped by the pool on return
                    continue;
                }
            }
            conn.last_used = Some(Instant::now());
            return Ok(conn);
        }
    }

    fn unreachable(&self) -> StoreError {
        StoreError::Unavailable(match self.last_connect_error.get() {
            Some(why) => format!("cannot connect to the database ({why})"),
            None => "cannot connect to the database".into(),
        })
    }

    /// Runs `f` on a pooled connection outside a transaction (each statement
    /// commits on its own).
    ///
    /// If the connection turns out dead on the first statement and that
    /// statement is a read, nothing was executed: `f` runs once more, on a
    /// fresh connection (see `Db::retry`). Everything else fails as it is.
    fn with<T>(&self, f: impl Fn(&mut Db<'_>) -> StoreResult<T>) -> StoreResult<T> {
        let deadline = Instant::now() + POOL_TIMEOUT;
        let mut conn = self.conn(deadline)?;
        let mut db = Db::new(&mut conn, true);
        let result = f(&mut db);
        if !(db.retry && result.is_err()) {
            return result;
        }
        drop(conn); // broken: the pool discards it
        let mut conn = self.conn(deadline)?;
        f(&mut Db::new(&mut conn, false))
    }

    /// Runs `f` in one transaction, opened by `begin` (`BEGIN`, possibly
    /// followed by `SET LOCAL`s in the same round trip), committed when `f`
    /// succeeds and rolled back otherwise.
    ///
    /// If the connection turns out dead on `begin`, nothing was executed: it
    /// is opened again on a fresh connection. A failure after that (in `f` or
    /// on `COMMIT`) is not retried.
    fn in_transaction<T>(
        &self,
        begin: &'static str,
        f: impl FnOnce(&mut Db<'_>) -> StoreResult<T>,
    ) -> StoreResult<T> {
        let deadline = Instant::now() + POOL_TIMEOUT;
        let mut conn = self.conn(deadline)?;
        // Broken until COMMIT or ROLLBACK succeeded: a connection that may
        // still be inside the transaction (an error, a panic in `f`) is never
        // handed out again.
        conn.broken = true;
        if let Err(e) = conn.client.batch_execute(begin) {
            if !connection_failed(&e) {
                return Err(map_err(e));
            }
            drop(conn); // the pool discards it
            conn = self.conn(deadline)?;
            conn.broken = true;
            conn.client.batch_execute(begin).map_err(map_err)?;
        }
        let result = f(&mut Db::new(&mut conn, false));
        let end = if result.is_ok() { "COMMIT" } else { "ROLLBACK" };
        match conn.client.batch_execute(end) {
            Ok(()) => {
                conn.broken = false;
                result
            }
            // `f`'s own error comes first.
            Err(e) => result.and(Err(map_err(e))),
        }
    }

    /// The schema version recorded in the database, `None` without a schema.
    /// Not through the statement cache: the table may not exist yet.
    fn schema_version(client: &mut impl GenericClient) -> StoreResult<Option<i64>> {
        let row = client
            .query_one("SELECT to_regclass('vaultd_meta') IS NOT NULL", &[])
            .map_err(map_err)?;
        if !col::<bool>(&row, 0)? {
            return Ok(None);
        }
        let row = client
            .query_opt(
                "SELECT value FROM vaultd_meta WHERE key = 'schema_version'",
                &[],
            )
            .map_err(map_err)?;
        match row {
            Some(row) => Ok(col::<Option<i64>>(&row, 0)?),
            None => Ok(None),
        }
    }
}

fn newer_schema(version: i64) -> StoreError {
    StoreError::Schema(format!(
        "the database schema is version {version}, newer than this vaultd \
         (version {SCHEMA_VERSION}); run a newer vaultd"
    ))
}

impl Store for PostgresStore {
    fn prepare(&self, create: bool) -> StoreResult<()> {
        let mut conn = self.conn(Instant::now() + POOL_TIMEOUT)?;
        let client = &mut conn.client;
        if !create {
            return match Self::schema_version(client)? {
                None => Err(super::missing_schema()),
                Some(v) => super::check_schema_version(v),
            };
        }
        let mut tx = client.transaction().map_err(map_err)?;
        // Two processes running `--init-db` at once: the second waits here,
        // then finds everything in place. (Concurrent CREATE TABLE IF NOT
        // EXISTS can otherwise fail on the system catalogs' unique indexes.)
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&SCHEMA_LOCK])
            .map_err(map_err)?;
        match Self::schema_version(&mut tx)? {
            Some(v) if v > SCHEMA_VERSION => return Err(newer_schema(v)),
            Some(v) if v < SCHEMA_VERSION => {
                // Migrations from older versions go here, one step at a time.
                return Err(StoreError::Schema(format!(
                    "the database schema is version {v} and this vaultd cannot upgrade it \
                     to version {SCHEMA_VERSION}"
                )));
            }
            _ => {}
        }
        tx.batch_execute(SCHEMA).map_err(map_err)?;
        tx.execute(
            "INSERT INTO vaultd_meta (key, value) VALUES ('schema_version', $1) \
             ON CONFLICT (key) DO NOTHING",
            &[&SCHEMA_VERSION],
        )
        .map_err(map_err)?;
        tx.commit().map_err(map_err)
    }

    fn health(&self) -> StoreResult<()> {
        self.with(|db| db.query_one(SQL_HEALTH, &[]).map(|_| ()))
    }

    fn has_users(&self) -> StoreResult<bool> {
        self.with(|db| {
            col(
                &db.query_one("SELECT EXISTS (SELECT 1 FROM users)", &[])?,
                0,
            )
        })
    }

    fn create_user(
        &self,
        username: &str,
        record: &[u8],
        vault_key: Option<&str>,
        invite: Option<&[u8]>,
        now: i64,
    ) -> StoreResult<User> {
        let vault_key = vault_key.map(str::as_bytes);
        self.in_transaction("BEGIN", |db| {
            if let Some(hash) = invite {
                // Spent here and rolled back with the transaction if the
                // username turns out to be taken.
                if db.execute(SQL_SPEND_INVITE, &[&hash, &now])? != 1 {
                    return Err(StoreError::NotFound);
                }
            }
            let row = db
                .query_opt(SQL_INSERT_USER, &[&username, &record, &vault_key, &now])?
                .ok_or(StoreError::Conflict)?;
            user_from(&row)
        })
    }

    fn user_by_name(&self, username: &str) -> StoreResult<Option<User>> {
        self.with(|db| {
            db.query_opt(SQL_USER_BY_NAME, &[&username])?
                .as_ref()
                .map(user_from)
                .transpose()
        })
    }

    fn user_by_id(&self, id: i64) -> StoreResult<Option<User>> {
        self.with(|db| {
            db.query_opt(SQL_USER_BY_ID, &[&id])?
                .as_ref()
                .map(user_from)
                .transpose()
        })
    }

    fn user_rev(&self, id: i64) -> StoreResult<Option<i64>> {
        self.with(|db| {
            db.query_opt(SQL_USER_REV, &[&id])?
                .map(|row| col(&row, 0))
                .transpose()
        })
    }

    fn revoke_tokens(&self, id: i64) -> StoreResult<i64> {
        self.with(|db| {
            let row = db
                .query_opt(SQL_REVOKE, &[&id])?
                .ok_or(StoreError::NotFound)?;
            col(&row, 0)
        })
    }

    fn change_password(
        &self,
        id: i64,
        record: &[u8],
        vault_key: Option<&str>,
    ) -> StoreResult<User> {
        let vault_key = vault_key.map(str::as_bytes);
        self.with(|db| {
            let row = db
                .query_opt(SQL_CHANGE_PASSWORD, &[&id, &record, &vault_key])?
                .ok_or(StoreError::NotFound)?;
            user_from(&row)
        })
    }

    fn delete_user(&self, id: i64) -> StoreResult<()> {
        self.with(|db| match db.execute(SQL_DELETE_USER, &[&id])? {
            0 => Err(StoreError::NotFound),
            _ => Ok(()),
        })
    }

    fn put_login(&self, login: &PendingLogin, now: i64) -> StoreResult<()> {
        self.in_transaction(BEGIN_EPHEMERAL, |db| {
            db.execute(
                SQL_PUT_LOGIN,
                &[
                    &login.id,
                    &login.user_id,
                    &login.epoch,
                    &login.state,
                    &login.expires_at,
                    &now,
                    &login.username,
                ],
            )
            .map(|_| ())
        })
    }

    fn take_login(&self, id: &[u8], now: i64) -> StoreResult<Option<PendingLogin>> {
        self.in_transaction(BEGIN_EPHEMERAL, |db| {
            let Some(row) = db.query_opt(SQL_TAKE_LOGIN, &[&id])? else {
                return Ok(None);
            };
            let login = PendingLogin {
                id: col(&row, 0)?,
                username: col(&row, 1)?,
                user_id: col(&row, 2)?,
                epoch: col(&row, 3)?,
                state: col(&row, 4)?,
                expires_at: col(&row, 5)?,
            };
            // Deleted either way: an expired login is void.
            Ok((login.expires_at >= now).then_some(login))
        })
    }

    fn create_invite(&self, hash: &[u8], expires_at: i64) -> StoreResult<()> {
        self.with(
            |db| match db.execute(SQL_CREATE_INVITE, &[&hash, &expires_at])? {
                0 => Err(StoreError::Conflict),
                _ => Ok(()),
            },
        )
    }

    fn invite_valid(&self, hash: &[u8], now: i64) -> StoreResult<bool> {
        self.with(|db| col(&db.query_one(SQL_INVITE_VALID, &[&hash, &now])?, 0))
    }

    fn add_entry(
        &self,
        user: i64,
        site: &str,
        username: Option<&str>,
        password: &str,
        now: i64,
    ) -> StoreResult<Entry> {
        let params: [&(dyn ToSql + Sync); 5] = [
            &user,
            &site.as_bytes(),
            &username.map(str::as_bytes),
            &password.as_bytes(),
            &now,
        ];
        self.with(|db| match db.execute(SQL_ADD_ENTRY, &params)? {
            0 => Err(StoreError::Conflict),
            _ => Ok(Entry {
                site: site.to_owned(),
                username: username.map(str::to_owned),
                password: password.to_owned(),
                version: 1,
                updated_at: now,
            }),
        })
    }

    fn get_entry(&self, user: i64, site: &str) -> StoreResult<Option<Entry>> {
        self.with(|db| {
            db.query_opt(SQL_GET_ENTRY, &[&user, &site.as_bytes()])?
                .as_ref()
                .map(entry_from)
                .transpose()
        })
    }

    fn list_entries(&self, user: i64) -> StoreResult<Vec<Entry>> {
        self.with(|db| {
            db.query(SQL_LIST_ENTRIES, &[&user])?
                .iter()
                .map(entry_from)
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
        let site = site.as_bytes();
        let password = change.password.as_deref().map(str::as_bytes);
        let set_username = change.username.is_some();
        let username = change
            .username
            .as_ref()
            .and_then(|u| u.as_deref())
            .map(str::as_bytes);
        self.with(|db| {
            let row = db.query_opt(
                SQL_CHANGE_ENTRY,
                &[
                    &user,
                    &site,
                    &change.expected_version,
                    &password,
                    &set_username,
                    &username,
                    &now,
                ],
            )?;
            if let Some(row) = row {
                return col(&row, 0);
            }
            // Nothing matched: tell a missing entry from a stale version.
            let exists: bool = col(&db.query_one(SQL_ENTRY_EXISTS, &[&user, &site])?, 0)?;
            Err(if exists {
                StoreError::Conflict
            } else {
                StoreError::NotFound
            })
        })
    }

    fn delete_entry(&self, user: i64, site: &str) -> StoreResult<()> {
        self.with(
            |db| match db.execute(SQL_DELETE_ENTRY, &[&user, &site.as_bytes()])? {
                0 => Err(StoreError::NotFound),
                _ => Ok(()),
            },
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sslmode_parses_the_three_libpq_names() {
        assert_eq!("disable".parse(), Ok(SslMode::Disable));
        assert_eq!("prefer".parse(), Ok(SslMode::Prefer));
        assert_eq!("Require".parse(), Ok(SslMode::Require));
        let err = "verify-full".parse::<SslMode>().unwrap_err();
        assert!(err.contains("disable, prefer, require"), "{err}");
        for mode in [SslMode::Disable, SslMode::Prefer, SslMode::Require] {
            assert_eq!(mode.to_string().parse(), Ok(mode));
        }
    }

    #[test]
    fn settings_debug_hides_the_password() {
        let settings = PgSettings {
            host: "127.0.0.1".into(),
            port: 5432,
            user: "vaultd".into(),
            password: "hunter2-secret".into(),
            database: "vaultd".into(),
            sslmode: SslMode::Disable,
        };
        let shown = format!("{settings:?}");
        assert!(!shown.contains("hunter2-secret"), "{shown}");
        assert!(shown.contains("127.0.0.1"), "{shown}");
    }

    #[test]
    fn unavailable_messages_hold_no_details() {
        assert_eq!(
            describe_sqlstate("08006"),
            "connection to the database lost"
        );
        assert_eq!(describe_sqlstate("53100"), "the database's disk is full");
        assert_eq!(
            describe_sqlstate("53400"),
            "the database is out of resources"
        );
        assert_eq!(describe_sqlstate("25006"), "the database is read-only");
        assert_eq!(describe_sqlstate("57P01"), "the database is shutting down");
        assert_eq!(describe_sqlstate("42P01"), "database error");
    }
}
