//! The connection pool: r2d2 over `postgres` clients, each with its own
//! statement cache, and the `Db` view through which the store's calls run
//! their statements.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use ::postgres::types::ToSql;
use ::postgres::{Client, NoTls, Row, Statement};
use postgres_openssl::MakeTlsConnector;
use r2d2_postgres::PostgresConnectionManager;

use super::super::StoreResult;
use super::error::{PgResult, bad_value, connection_failed, describe_sqlstate, kind_of, map_err};

/// Prepared statements of one connection, keyed by their SQL text.
pub(super) type Statements = HashMap<&'static str, Statement>;

/// A pooled connection: the client and the statements prepared on it.
pub(super) struct PgConn {
    pub(super) client: Client,
    statements: Statements,
    /// When it was last handed out; `None` for a new connection, which needs
    /// no ping. Stamped at check-out rather than return, so the idle time it
    /// measures is never shorter than the real one: at worst a ping too many.
    pub(super) last_used: Option<Instant>,
    /// Set when the connection failed (or may be left inside a transaction):
    /// the pool discards it on return.
    pub(super) broken: bool,
}

/// The r2d2 manager: r2d2_postgres's, for either TLS choice, plus the
/// per-connection statement cache.
pub(super) enum Manager {
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
pub(super) struct LastConnectError(Arc<Mutex<Option<String>>>);

impl r2d2::HandleError<::postgres::Error> for LastConnectError {
    fn handle_error(&self, error: ::postgres::Error) {
        self.set(&error);
    }
}

impl LastConnectError {
    pub(super) fn set(&self, error: &::postgres::Error) {
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

    pub(super) fn get(&self) -> Option<String> {
        self.0.lock().ok().and_then(|last| last.clone())
    }
}

/// A pooled connection as the store's calls see it: statements through the
/// connection's cache, and the bookkeeping of connection failures.
pub(super) struct Db<'a> {
    conn: &'a mut PgConn,
    /// True until the first statement of a `with` call: a read that fails
    /// there because the connection did may be run again.
    first: bool,
    /// Set when that first statement was a read (`SELECT`) and the
    /// connection failed: nothing of the call was executed, and `with` runs
    /// it again on a fresh connection. Never set for any other statement: a
    /// write (or anything after one) whose connection failed may have been
    /// executed and is never run twice.
    pub(super) retry: bool,
}

impl<'a> Db<'a> {
    pub(super) fn new(conn: &'a mut PgConn, first: bool) -> Db<'a> {
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

    pub(super) fn query(
        &mut self,
        sql: &'static str,
        params: &[&(dyn ToSql + Sync)],
    ) -> StoreResult<Vec<Row>> {
        self.run(sql, |client, statement| client.query(statement, params))
    }

    pub(super) fn query_opt(
        &mut self,
        sql: &'static str,
        params: &[&(dyn ToSql + Sync)],
    ) -> StoreResult<Option<Row>> {
        self.run(sql, |client, statement| client.query_opt(statement, params))
    }

    pub(super) fn query_one(
        &mut self,
        sql: &'static str,
        params: &[&(dyn ToSql + Sync)],
    ) -> StoreResult<Row> {
        self.query_opt(sql, params)?.ok_or_else(bad_value)
    }

    pub(super) fn execute(
        &mut self,
        sql: &'static str,
        params: &[&(dyn ToSql + Sync)],
    ) -> StoreResult<u64> {
        self.run(sql, |client, statement| client.execute(statement, params))
    }
}
