//! The SQL of accounts, registrations and pending logins (SQLite). Each
//! function runs inside the transaction that `SqliteStore` gives it.

use rusqlite::{Connection, OptionalExtension, params};

use super::{is_unique_violation, map_error, opt_text};
use crate::store::{
    Invalid, NewUser, PendingLogin, PendingRegistration, StoreError, StoreResult, User,
};

/// The columns that `user_from_row` reads, in order. A macro, so that
/// `concat!` makes each query one constant string: the statement cache is
/// looked up without formatting SQL on every call.
macro_rules! user_columns {
    () => {
        "id, username, credential_id, record, vault_key, rev, epoch, created_at"
    };
}

fn user_from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<User> {
    Ok(User {
        id: row.get(0)?,
        username: row.get(1)?,
        credential_id: row.get(2)?,
        record: row.get(3)?,
        vault_key: opt_text(row.get(4)?)?,
        rev: row.get(5)?,
        epoch: row.get(6)?,
        created_at: row.get(7)?,
    })
}

pub(super) fn user_by_name(conn: &Connection, username: &str) -> rusqlite::Result<Option<User>> {
    conn.prepare_cached(concat!(
        "SELECT ",
        user_columns!(),
        " FROM users WHERE username = ?1"
    ))?
    .query_row([username], user_from_row)
    .optional()
}

pub(super) fn user_by_id(conn: &Connection, id: i64) -> rusqlite::Result<Option<User>> {
    conn.prepare_cached(concat!(
        "SELECT ",
        user_columns!(),
        " FROM users WHERE id = ?1"
    ))?
    .query_row([id], user_from_row)
    .optional()
}

pub(super) fn put_registration(
    tx: &Connection,
    registration: &PendingRegistration,
    now: i64,
) -> StoreResult<()> {
    tx.prepare_cached("DELETE FROM registrations WHERE expires_at < ?1")
        .and_then(|mut s| s.execute([now]))
        .map_err(map_error)?;
    tx.prepare_cached(
        "INSERT INTO registrations (id, username, user_id, credential_id, expires_at)
         VALUES (?1, ?2, ?3, ?4, ?5)",
    )
    .and_then(|mut s| {
        s.execute(params![
            registration.id,
            registration.username,
            registration.user_id,
            registration.credential_id,
            registration.expires_at
        ])
    })
    .map_err(map_error)?;
    Ok(())
}

/// Takes (deletes) the unexpired registration `id` of `username`, for a new
/// account (`user` `None`) or for that user's password change; its
/// credential identifier, or `Invalid(Registration)`.
fn take_registration(
    tx: &Connection,
    id: &[u8],
    username: &str,
    user: Option<i64>,
    now: i64,
) -> StoreResult<Vec<u8>> {
    tx.prepare_cached(
        "DELETE FROM registrations
         WHERE id = ?1 AND username = ?2 AND user_id IS ?3 AND expires_at >= ?4
         RETURNING credential_id",
    )
    .and_then(|mut s| {
        s.query_row(params![id, username, user, now], |row| row.get(0))
            .optional()
    })
    .map_err(map_error)?
    .ok_or(StoreError::Invalid(Invalid::Registration))
}

pub(super) fn create_user(tx: &Connection, user: &NewUser, now: i64) -> StoreResult<User> {
    let credential_id = take_registration(tx, &user.registration, &user.username, None, now)?;
    if let Some(hash) = &user.invite {
        let spent = tx
            .prepare_cached(
                "UPDATE invites SET spent_at = ?2
                 WHERE hash = ?1 AND spent_at IS NULL AND expires_at >= ?2",
            )
            .and_then(|mut s| s.execute(params![hash, now]))
            .map_err(map_error)?;
        if spent != 1 {
            return Err(StoreError::Invalid(Invalid::Invite));
        }
    }
    let inserted = tx
        .prepare_cached(
            "INSERT INTO users (username, credential_id, record, vault_key, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5)",
        )
        .and_then(|mut s| {
            s.execute(params![
                user.username,
                credential_id,
                user.record,
                user.vault_key.as_deref().map(str::as_bytes),
                now
            ])
        });
    match inserted {
        Ok(_) => Ok(User {
            id: tx.last_insert_rowid(),
            username: user.username.clone(),
            credential_id,
            record: user.record.clone(),
            vault_key: user.vault_key.clone(),
            rev: 0,
            epoch: 0,
            created_at: now,
        }),
        Err(e) if is_unique_violation(&e) => Err(StoreError::Conflict),
        Err(e) => Err(map_error(e)),
    }
}

/// A password change's second step, as the store takes it.
pub(super) struct PasswordChange {
    pub user: i64,
    pub registration: Vec<u8>,
    pub record: Vec<u8>,
    pub vault_key: Option<String>,
}

pub(super) fn change_password(
    tx: &Connection,
    change: &PasswordChange,
    now: i64,
) -> StoreResult<User> {
    let username = user_by_id(tx, change.user)
        .map_err(map_error)?
        .ok_or(StoreError::NotFound)?
        .username;
    let credential_id =
        take_registration(tx, &change.registration, &username, Some(change.user), now)?;
    tx.prepare_cached(concat!(
        "UPDATE users SET credential_id = ?2, record = ?3, vault_key = ?4,
             rev = rev + 1, epoch = epoch + 1
         WHERE id = ?1 RETURNING ",
        user_columns!()
    ))
    .and_then(|mut s| {
        s.query_row(
            params![
                change.user,
                credential_id,
                change.record,
                change.vault_key.as_deref().map(str::as_bytes)
            ],
            user_from_row,
        )
        .optional()
    })
    .map_err(map_error)?
    .ok_or(StoreError::NotFound)
}

pub(super) fn put_login(tx: &Connection, login: &PendingLogin, now: i64) -> StoreResult<()> {
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
}

pub(super) fn take_login(tx: &Connection, id: &[u8]) -> StoreResult<Option<PendingLogin>> {
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
}
