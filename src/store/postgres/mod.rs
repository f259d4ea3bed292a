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

mod entries;
mod error;
mod pool;
mod settings;
mod sql;

use std::fmt;
use std::time::{Duration, Instant};

use ::postgres::types::ToSql;
use ::postgres::{GenericClient, NoTls};
use openssl::ssl::{SslConnector, SslMethod, SslVerifyMode};
use postgres_openssl::MakeTlsConnector;
use r2d2_postgres::PostgresConnectionManager;

use self::error::{connection_failed, map_err};
use self::pool::{Db, LastConnectError, Manager};
pub use self::settings::{PgSettings, SslMode};
use self::sql::*;
use super::{
    Changes, Entry, EntryChange, Invalid, NewEntry, NewUser, PendingLogin, PendingRegistration,
    SCHEMA_VERSION, SchemaPlan, Store, StoreError, StoreResult, SyncWrite, TokenState, User,
    Written, schema_plan, upgrade_steps,
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
            if idle && let Err(e) = conn.client.simple_query("") {
                self.last_connect_error.set(&e);
                conn.broken = true; // dropped by the pool on return
                continue;
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

/// `MIGRATIONS[i]` upgrades schema `i + 1` to `i + 2` (see `upgrade_steps`).
const MIGRATIONS: &[&str] = &[include_str!("v1_to_v2.sql")];
/// `/sync` reads in one snapshot.
const BEGIN_SNAPSHOT: &str = "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY";

impl PostgresStore {
    /// Creates or upgrades the schema in one transaction, under
    /// `SCHEMA_LOCK`: two processes running `--init-db` at once, the second
    /// waits, then finds everything in place (concurrent CREATE TABLE IF NOT
    /// EXISTS can otherwise fail on the system catalogs' unique indexes).
    fn create_or_upgrade(client: &mut ::postgres::Client) -> StoreResult<()> {
        let mut tx = client.transaction().map_err(map_err)?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&SCHEMA_LOCK])
            .map_err(map_err)?;
        let plan = schema_plan(Self::schema_version(&mut tx)?, true)?;
        if plan == SchemaPlan::Ready {
            return Ok(());
        }
        if let SchemaPlan::Upgrade { from } = plan {
            for step in upgrade_steps(MIGRATIONS, from) {
                tx.batch_execute(step).map_err(map_err)?;
            }
        }
        tx.batch_execute(SCHEMA).map_err(map_err)?;
        tx.execute(
            "INSERT INTO vaultd_meta (key, value) VALUES ('schema_version', $1) \
             ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value",
            &[&SCHEMA_VERSION],
        )
        .map_err(map_err)?;
        tx.commit().map_err(map_err)
    }
}

impl Store for PostgresStore {
    fn prepare(&self, create: bool) -> StoreResult<()> {
        let mut conn = self.conn(Instant::now() + POOL_TIMEOUT)?;
        if create {
            Self::create_or_upgrade(&mut conn.client)
        } else {
            schema_plan(Self::schema_version(&mut conn.client)?, false).map(|_| ())
        }
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

    fn put_registration(&self, registration: &PendingRegistration, now: i64) -> StoreResult<()> {
        // Ephemeral, like pending logins: a lost one only makes its client
        // start the registration again.
        self.in_transaction(BEGIN_EPHEMERAL, |db| {
            let r = registration;
            db.execute(
                SQL_PUT_REGISTRATION,
                &[
                    &r.id,
                    &r.username,
                    &r.user_id,
                    &r.credential_id,
                    &r.expires_at,
                    &now,
                ],
            )
            .map(|_| ())
        })
    }

    fn create_user(&self, user: &NewUser, now: i64) -> StoreResult<User> {
        let vault_key = user.vault_key.as_deref().map(str::as_bytes);
        self.in_transaction("BEGIN", |db| {
            let taken = db.query_opt(
                SQL_TAKE_REGISTRATION,
                &[&user.registration, &user.username, &now],
            )?;
            let credential_id: Vec<u8> =
                col(&taken.ok_or(StoreError::Invalid(Invalid::Registration))?, 0)?;
            if let Some(hash) = &user.invite {
                // Spent here and rolled back with the transaction if the
                // username turns out to be taken.
                if db.execute(SQL_SPEND_INVITE, &[hash, &now])? != 1 {
                    return Err(StoreError::Invalid(Invalid::Invite));
                }
            }
            let params: [&(dyn ToSql + Sync); 5] = [
                &user.username,
                &credential_id,
                &user.record,
                &vault_key,
                &now,
            ];
            let row = db
                .query_opt(SQL_INSERT_USER, &params)?
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

    fn token_state(&self, id: i64) -> StoreResult<Option<TokenState>> {
        self.with(|db| {
            db.query_opt(SQL_TOKEN_STATE, &[&id])?
                .map(|row| {
                    Ok(TokenState {
                        rev: col(&row, 0)?,
                        created_at: col(&row, 1)?,
                        bound_only: col(&row, 2)?,
                    })
                })
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
        registration: &[u8],
        record: &[u8],
        vault_key: Option<&str>,
        now: i64,
    ) -> StoreResult<User> {
        let vault_key = vault_key.map(str::as_bytes);
        self.in_transaction("BEGIN", |db| {
            let params: [&(dyn ToSql + Sync); 5] = [&id, &registration, &record, &vault_key, &now];
            if let Some(row) = db.query_opt(SQL_CHANGE_PASSWORD, &params)? {
                return user_from(&row);
            }
            let exists: bool = col(&db.query_one(SQL_USER_EXISTS, &[&id])?, 0)?;
            Err(if exists {
                StoreError::Invalid(Invalid::Registration)
            } else {
                StoreError::NotFound
            })
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
        entry: &NewEntry,
        sync: &SyncWrite,
        now: i64,
    ) -> StoreResult<Written> {
        self.in_transaction("BEGIN", |db| entries::add(db, user, entry, sync, now))
    }

    fn get_entry(&self, user: i64, site: &str) -> StoreResult<Option<Entry>> {
        self.with(|db| entries::get(db, user, site))
    }

    fn list_entries(&self, user: i64) -> StoreResult<Vec<Entry>> {
        self.with(|db| entries::list(db, user))
    }

    fn change_entry(
        &self,
        user: i64,
        site: &str,
        change: &EntryChange,
        sync: &SyncWrite,
        now: i64,
    ) -> StoreResult<Written> {
        self.in_transaction("BEGIN", |db| {
            entries::change(db, user, site, change, sync, now)
        })
    }

    fn delete_entry(&self, user: i64, site: &str, sync: &SyncWrite) -> StoreResult<Written> {
        self.in_transaction("BEGIN", |db| entries::delete(db, user, site, sync))
    }

    fn changes(&self, user: i64, since: i64) -> StoreResult<Changes> {
        self.in_transaction(BEGIN_SNAPSHOT, |db| entries::changes(db, user, since))
    }
}
