//! The SQL of the PostgreSQL backend, and how its rows become the store's
//! types. `const`s, so that they key each connection's statement cache.

use ::postgres::Row;
use ::postgres::types::FromSql;

use super::super::{Entry, StoreResult, User};
use super::error::bad_value;

/// The schema of version `SCHEMA_VERSION`. Idempotent; run by `prepare(true)`
/// in one transaction, under `SCHEMA_LOCK`.
pub(super) const SCHEMA: &str = include_str!("schema.sql");

pub(super) fn col<'a, T: FromSql<'a>>(row: &'a Row, idx: usize) -> StoreResult<T> {
    row.try_get(idx).map_err(|_| bad_value())
}

pub(super) fn text(bytes: Vec<u8>) -> StoreResult<String> {
    String::from_utf8(bytes).map_err(|_| bad_value())
}

pub(super) fn text_col(row: &Row, idx: usize) -> StoreResult<String> {
    text(col(row, idx)?)
}

pub(super) fn opt_text_col(row: &Row, idx: usize) -> StoreResult<Option<String>> {
    col::<Option<Vec<u8>>>(row, idx)?.map(text).transpose()
}

pub(super) fn user_from(row: &Row) -> StoreResult<User> {
    Ok(User {
        id: col(row, 0)?,
        username: col(row, 1)?,
        record: col(row, 2)?,
        vault_key: opt_text_col(row, 3)?,
        rev: col(row, 4)?,
        epoch: col(row, 5)?,
    })
}

pub(super) fn entry_from(row: &Row) -> StoreResult<Entry> {
    Ok(Entry {
        site: text_col(row, 0)?,
        username: opt_text_col(row, 1)?,
        password: text_col(row, 2)?,
        version: col(row, 3)?,
        updated_at: col(row, 4)?,
    })
}

pub(super) const SQL_HEALTH: &str = "SELECT 1";

pub(super) const SQL_SPEND_INVITE: &str = "UPDATE invites SET spent_at = $2 \
     WHERE hash = $1 AND spent_at IS NULL AND expires_at >= $2";
pub(super) const SQL_INSERT_USER: &str = "INSERT INTO users (username, record, vault_key, created_at) \
     VALUES ($1, $2, $3, $4) ON CONFLICT (username) DO NOTHING \
     RETURNING id, username, record, vault_key, rev, epoch";
pub(super) const SQL_USER_BY_NAME: &str =
    "SELECT id, username, record, vault_key, rev, epoch FROM users WHERE username = $1";
pub(super) const SQL_USER_BY_ID: &str =
    "SELECT id, username, record, vault_key, rev, epoch FROM users WHERE id = $1";
pub(super) const SQL_USER_REV: &str = "SELECT rev FROM users WHERE id = $1";
pub(super) const SQL_REVOKE: &str = "UPDATE users SET rev = rev + 1 WHERE id = $1 RETURNING rev";
pub(super) const SQL_CHANGE_PASSWORD: &str = "UPDATE users \
     SET record = $2, vault_key = $3, rev = rev + 1, epoch = epoch + 1 WHERE id = $1 \
     RETURNING id, username, record, vault_key, rev, epoch";
pub(super) const SQL_DELETE_USER: &str = "DELETE FROM users WHERE id = $1";

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
pub(super) const BEGIN_EPHEMERAL: &str = "BEGIN; SET LOCAL synchronous_commit = off";

/// Purges expired logins and inserts the new one in one statement.
pub(super) const SQL_PUT_LOGIN: &str = "WITH purged AS (DELETE FROM pending_logins WHERE expires_at < $6) \
     INSERT INTO pending_logins (id, username, user_id, epoch, state, expires_at) \
     VALUES ($1, $7, $2, $3, $4, $5)";
pub(super) const SQL_TAKE_LOGIN: &str = "DELETE FROM pending_logins WHERE id = $1 \
     RETURNING id, username, user_id, epoch, state, expires_at";

pub(super) const SQL_CREATE_INVITE: &str = "INSERT INTO invites (hash, expires_at) VALUES ($1, $2) \
     ON CONFLICT (hash) DO NOTHING";
pub(super) const SQL_INVITE_VALID: &str = "SELECT EXISTS (SELECT 1 FROM invites \
     WHERE hash = $1 AND spent_at IS NULL AND expires_at >= $2)";

pub(super) const SQL_ADD_ENTRY: &str = "INSERT INTO entries (user_id, site, username, password, version, updated_at) \
     VALUES ($1, $2, $3, $4, 1, $5) ON CONFLICT (user_id, site) DO NOTHING";
pub(super) const SQL_GET_ENTRY: &str = "SELECT site, username, password, version, updated_at \
     FROM entries WHERE user_id = $1 AND site = $2";
pub(super) const SQL_LIST_ENTRIES: &str = "SELECT site, username, password, version, updated_at \
     FROM entries WHERE user_id = $1 ORDER BY site";
/// One statement, so that of concurrent changes with the same expected
/// version exactly one matches: the others wait for its row lock, then
/// re-check `version` against the committed row and match nothing.
pub(super) const SQL_CHANGE_ENTRY: &str = "UPDATE entries SET \
         password = COALESCE($4::BYTEA, password), \
         username = CASE WHEN $5::BOOLEAN THEN $6::BYTEA ELSE username END, \
         version = version + 1, \
         updated_at = $7 \
     WHERE user_id = $1 AND site = $2 AND ($3::BIGINT IS NULL OR version = $3) \
     RETURNING version";
pub(super) const SQL_ENTRY_EXISTS: &str =
    "SELECT EXISTS (SELECT 1 FROM entries WHERE user_id = $1 AND site = $2)";
pub(super) const SQL_DELETE_ENTRY: &str = "DELETE FROM entries WHERE user_id = $1 AND site = $2";
