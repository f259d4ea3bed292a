//! Vault entries and sync on PostgreSQL. Every write is one transaction in
//! which the user's `seq` (its row lock orders the writers of one user), the
//! entry and the manifest change together or not at all.

use ::postgres::types::ToSql;

use super::pool::Db;
use super::sql::{col, entry_from, text_col};
use crate::store::{
    Changes, Entry, EntryChange, NewEntry, StoreError, StoreResult, SyncWrite, Written,
};

const SQL_NEXT_SEQ: &str = "UPDATE users SET seq = seq + 1, manifest = COALESCE($2, manifest) \
     WHERE id = $1 AND ($3::BIGINT IS NULL OR seq = $3) RETURNING seq";
const SQL_USER_EXISTS: &str = "SELECT EXISTS (SELECT 1 FROM users WHERE id = $1)";
const SQL_ADD: &str = "INSERT INTO entries \
     (user_id, site, username, password, version, updated_at, seq) \
     VALUES ($1, $2, $3, $4, 1, $5, $6) ON CONFLICT (user_id, site) DO NOTHING";
const SQL_UNMARK: &str = "DELETE FROM deletions WHERE user_id = $1 AND site = $2";
const SQL_GET: &str = "SELECT site, username, password, version, updated_at \
     FROM entries WHERE user_id = $1 AND site = $2";
const SQL_LIST: &str = "SELECT site, username, password, version, updated_at \
     FROM entries WHERE user_id = $1 ORDER BY site";
/// One statement, so that of concurrent changes with the same expected
/// version exactly one matches: the others wait for its row lock, then
/// re-check `version` against the committed row and match nothing.
const SQL_CHANGE: &str = "UPDATE entries SET \
         password = COALESCE($4::BYTEA, password), \
         username = CASE WHEN $5::BOOLEAN THEN $6::BYTEA ELSE username END, \
         version = version + 1, \
         updated_at = $7, \
         seq = $8 \
     WHERE user_id = $1 AND site = $2 AND ($3::BIGINT IS NULL OR version = $3) \
     RETURNING version";
const SQL_EXISTS: &str = "SELECT EXISTS (SELECT 1 FROM entries WHERE user_id = $1 AND site = $2)";
const SQL_DELETE: &str = "DELETE FROM entries WHERE user_id = $1 AND site = $2";
const SQL_MARK: &str = "INSERT INTO deletions (user_id, site, seq) VALUES ($1, $2, $3) \
     ON CONFLICT (user_id, site) DO UPDATE SET seq = EXCLUDED.seq";
const SQL_SYNC_STATE: &str = "SELECT seq, manifest FROM users WHERE id = $1";
const SQL_CHANGED: &str = "SELECT site, username, password, version, updated_at \
     FROM entries WHERE user_id = $1 AND seq > $2 ORDER BY site";
const SQL_DELETED: &str =
    "SELECT site FROM deletions WHERE user_id = $1 AND seq > $2 ORDER BY site";

/// Checks `base_seq`, raises the user's `seq` by one and stores the manifest
/// sent with the write; returns the new `seq`.
fn next_seq(db: &mut Db<'_>, user: i64, sync: &SyncWrite) -> StoreResult<i64> {
    let manifest = sync.manifest.as_deref().map(str::as_bytes);
    if let Some(row) = db.query_opt(SQL_NEXT_SEQ, &[&user, &manifest, &sync.base_seq])? {
        return col(&row, 0);
    }
    let exists: bool = col(&db.query_one(SQL_USER_EXISTS, &[&user])?, 0)?;
    Err(if exists {
        StoreError::StaleSeq
    } else {
        StoreError::NotFound
    })
}

pub(super) fn add(
    db: &mut Db<'_>,
    user: i64,
    entry: &NewEntry,
    sync: &SyncWrite,
    now: i64,
) -> StoreResult<Written> {
    let seq = next_seq(db, user, sync)?;
    let site = entry.site.as_bytes();
    let params: [&(dyn ToSql + Sync); 6] = [
        &user,
        &site,
        &entry.username.as_deref().map(str::as_bytes),
        &entry.password.as_bytes(),
        &now,
        &seq,
    ];
    if db.execute(SQL_ADD, &params)? == 0 {
        return Err(StoreError::Conflict);
    }
    db.execute(SQL_UNMARK, &[&user, &site])?;
    Ok(Written { version: 1, seq })
}

pub(super) fn get(db: &mut Db<'_>, user: i64, site: &str) -> StoreResult<Option<Entry>> {
    db.query_opt(SQL_GET, &[&user, &site.as_bytes()])?
        .as_ref()
        .map(entry_from)
        .transpose()
}

pub(super) fn list(db: &mut Db<'_>, user: i64) -> StoreResult<Vec<Entry>> {
    db.query(SQL_LIST, &[&user])?
        .iter()
        .map(entry_from)
        .collect()
}

pub(super) fn change(
    db: &mut Db<'_>,
    user: i64,
    site: &str,
    change: &EntryChange,
    sync: &SyncWrite,
    now: i64,
) -> StoreResult<Written> {
    let seq = next_seq(db, user, sync)?;
    let site = site.as_bytes();
    let password = change.password.as_deref().map(str::as_bytes);
    let set_username = change.username.is_some();
    let username = change
        .username
        .as_ref()
        .and_then(|u| u.as_deref())
        .map(str::as_bytes);
    let params: [&(dyn ToSql + Sync); 8] = [
        &user,
        &site,
        &change.expected_version,
        &password,
        &set_username,
        &username,
        &now,
        &seq,
    ];
    if let Some(row) = db.query_opt(SQL_CHANGE, &params)? {
        return Ok(Written {
            version: col(&row, 0)?,
            seq,
        });
    }
    // Nothing matched: tell a missing entry from a stale version.
    let exists: bool = col(&db.query_one(SQL_EXISTS, &[&user, &site])?, 0)?;
    Err(if exists {
        StoreError::Conflict
    } else {
        StoreError::NotFound
    })
}

pub(super) fn delete(
    db: &mut Db<'_>,
    user: i64,
    site: &str,
    sync: &SyncWrite,
) -> StoreResult<Written> {
    let seq = next_seq(db, user, sync)?;
    let site = site.as_bytes();
    if db.execute(SQL_DELETE, &[&user, &site])? == 0 {
        return Err(StoreError::NotFound);
    }
    db.execute(SQL_MARK, &[&user, &site, &seq])?;
    Ok(Written { version: 0, seq })
}

/// `/sync`, inside one REPEATABLE READ transaction: one snapshot.
pub(super) fn changes(db: &mut Db<'_>, user: i64, since: i64) -> StoreResult<Changes> {
    let state = db
        .query_opt(SQL_SYNC_STATE, &[&user])?
        .ok_or(StoreError::NotFound)?;
    let seq: i64 = col(&state, 0)?;
    let manifest = super::sql::opt_text_col(&state, 1)?;
    let entries = db
        .query(SQL_CHANGED, &[&user, &since])?
        .iter()
        .map(entry_from)
        .collect::<StoreResult<_>>()?;
    // `since = 0`: the client has nothing, so there is nothing to delete.
    let deleted = if since == 0 {
        Vec::new()
    } else {
        db.query(SQL_DELETED, &[&user, &since])?
            .iter()
            .map(|row| text_col(row, 0))
            .collect::<StoreResult<_>>()?
    };
    Ok(Changes {
        seq,
        entries,
        deleted,
        manifest,
    })
}
