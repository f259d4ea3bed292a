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
        credential_id: col(row, 2)?,
        record: col(row, 3)?,
        vault_key: opt_text_col(row, 4)?,
        rev: col(row, 5)?,
        epoch: col(row, 6)?,
        created_at: col(row, 7)?,
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

/// The columns that `user_from` reads, in order.
macro_rules! user_columns {
    () => {
        "id, username, credential_id, record, vault_key, rev, epoch, created_at"
    };
}

pub(super) const SQL_PUT_REGISTRATION: &str = "WITH purged AS \
     (DELETE FROM registrations WHERE expires_at < $6) \
     INSERT INTO registrations (id, username, user_id, credential_id, expires_at) \
     VALUES ($1, $2, $3, $4, $5)";
/// Takes a registration for a new account: unexpired, this username, not a
/// password change.
pub(super) const SQL_TAKE_REGISTRATION: &str = "DELETE FROM registrations \
     WHERE id = $1 AND username = $2 AND user_id IS NULL AND expires_at >= $3 \
     RETURNING credential_id";
pub(super) const SQL_SPEND_INVITE: &str = "UPDATE invites SET spent_at = $2 \
     WHERE hash = $1 AND spent_at IS NULL AND expires_at >= $2";
pub(super) const SQL_INSERT_USER: &str = concat!(
    "INSERT INTO users (username, credential_id, record, vault_key, created_at) \
     VALUES ($1, $2, $3, $4, $5) ON CONFLICT (username) DO NOTHING RETURNING ",
    user_columns!()
);
pub(super) const SQL_USER_BY_NAME: &str = concat!(
    "SELECT ",
    user_columns!(),
    " FROM users WHERE username = $1"
);
pub(super) const SQL_USER_BY_ID: &str =
    concat!("SELECT ", user_columns!(), " FROM users WHERE id = $1");
pub(super) const SQL_TOKEN_STATE: &str = "SELECT rev, created_at, created_at >= COALESCE(\
     (SELECT value FROM vaultd_meta WHERE key = 'upgraded_from_1_at'), 9223372036854775807) \
     FROM users WHERE id = $1";
pub(super) const SQL_USER_EXISTS: &str = "SELECT EXISTS (SELECT 1 FROM users WHERE id = $1)";
pub(super) const SQL_REVOKE: &str = "UPDATE users SET rev = rev + 1 WHERE id = $1 RETURNING rev";
/// Takes this user's password-change registration and applies it, in one
/// statement; no row when either is missing.
pub(super) const SQL_CHANGE_PASSWORD: &str = concat!(
    "WITH taken AS (DELETE FROM registrations \
         WHERE id = $2 AND user_id = $1 AND expires_at >= $5 RETURNING credential_id) \
     UPDATE users SET credential_id = taken.credential_id, record = $3, vault_key = $4, \
         rev = rev + 1, epoch = epoch + 1 \
     FROM taken WHERE users.id = $1 RETURNING ",
    "users.id, users.username, users.credential_id, users.record, users.vault_key, \
     users.rev, users.epoch, users.created_at"
);
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
