//! The SQL of vault entries and sync (SQLite). Each write runs inside the
//! transaction that `SqliteStore` gives it, so that the user's `seq`, the
//! entry and the manifest change together or not at all.

use rusqlite::{Connection, OptionalExtension, params};

use super::{is_missing_reference, is_unique_violation, map_error, opt_text, text};
use crate::store::{
    Changes, Entry, EntryChange, NewEntry, StoreError, StoreResult, SyncWrite, Written,
};

/// The columns that `entry_from_row` reads, in order (a macro for `concat!`).
macro_rules! entry_columns {
    () => {
        "site, username, password, version, updated_at"
    };
}

fn entry_from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<Entry> {
    Ok(Entry {
        site: text(row.get(0)?)?,
        username: opt_text(row.get(1)?)?,
        password: text(row.get(2)?)?,
        version: row.get(3)?,
        updated_at: row.get(4)?,
    })
}

/// Checks `base_seq`, raises the user's `seq` by one and stores the manifest
/// sent with the write; returns the new `seq`.
fn next_seq(tx: &Connection, user: i64, sync: &SyncWrite) -> StoreResult<i64> {
    let seq: Option<i64> = tx
        .prepare_cached(
            "UPDATE users SET seq = seq + 1, manifest = COALESCE(?2, manifest)
             WHERE id = ?1 AND (?3 IS NULL OR seq = ?3) RETURNING seq",
        )
        .and_then(|mut s| {
            s.query_row(
                params![
                    user,
                    sync.manifest.as_deref().map(str::as_bytes),
                    sync.base_seq
                ],
                |row| row.get(0),
            )
            .optional()
        })
        .map_err(map_error)?;
    if let Some(seq) = seq {
        return Ok(seq);
    }
    let exists: bool = tx
        .prepare_cached("SELECT EXISTS (SELECT 1 FROM users WHERE id = ?1)")
        .and_then(|mut s| s.query_row([user], |row| row.get(0)))
        .map_err(map_error)?;
    Err(if exists {
        StoreError::StaleSeq
    } else {
        StoreError::NotFound
    })
}

pub(super) fn add(
    tx: &Connection,
    user: i64,
    entry: &NewEntry,
    sync: &SyncWrite,
    now: i64,
) -> StoreResult<Written> {
    let seq = next_seq(tx, user, sync)?;
    let inserted = tx
        .prepare_cached(
            "INSERT INTO entries (user_id, site, username, password, version, updated_at, seq)
             VALUES (?1, ?2, ?3, ?4, 1, ?5, ?6)",
        )
        .and_then(|mut s| {
            s.execute(params![
                user,
                entry.site.as_bytes(),
                entry.username.as_deref().map(str::as_bytes),
                entry.password.as_bytes(),
                now,
                seq
            ])
        });
    match inserted {
        Ok(_) => {}
        Err(e) if is_unique_violation(&e) => return Err(StoreError::Conflict),
        Err(e) if is_missing_reference(&e) => return Err(StoreError::NotFound),
        Err(e) => return Err(map_error(e)),
    }
    // Added again: the site's deletion marker is void.
    tx.prepare_cached("DELETE FROM deletions WHERE user_id = ?1 AND site = ?2")
        .and_then(|mut s| s.execute(params![user, entry.site.as_bytes()]))
        .map_err(map_error)?;
    Ok(Written { version: 1, seq })
}

pub(super) fn get(conn: &Connection, user: i64, site: &str) -> rusqlite::Result<Option<Entry>> {
    conn.prepare_cached(concat!(
        "SELECT ",
        entry_columns!(),
        " FROM entries WHERE user_id = ?1 AND site = ?2"
    ))?
    .query_row(params![user, site.as_bytes()], entry_from_row)
    .optional()
}

pub(super) fn list(conn: &Connection, user: i64) -> rusqlite::Result<Vec<Entry>> {
    conn.prepare_cached(concat!(
        "SELECT ",
        entry_columns!(),
        " FROM entries WHERE user_id = ?1 ORDER BY site"
    ))?
    .query_map([user], entry_from_row)?
    .collect()
}

pub(super) fn change(
    tx: &Connection,
    user: i64,
    site: &str,
    change: &EntryChange,
    sync: &SyncWrite,
    now: i64,
) -> StoreResult<Written> {
    let seq = next_seq(tx, user, sync)?;
    // One statement: the version check and the write cannot be split by
    // another writer. `?4` says whether the username is to be set.
    let updated = tx
        .prepare_cached(
            "UPDATE entries SET
                password = CASE WHEN ?3 IS NULL THEN password ELSE ?3 END,
                username = CASE WHEN ?4 THEN ?5 ELSE username END,
                version = version + 1,
                updated_at = ?6,
                seq = ?8
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
                    change
                        .username
                        .as_ref()
                        .and_then(|u| u.as_deref())
                        .map(str::as_bytes),
                    now,
                    change.expected_version,
                    seq,
                ],
                |row| row.get(0),
            )
            .optional()
        })
        .map_err(map_error)?;
    if let Some(version) = updated {
        return Ok(Written { version, seq });
    }
    let exists: bool = tx
        .prepare_cached("SELECT EXISTS (SELECT 1 FROM entries WHERE user_id = ?1 AND site = ?2)")
        .and_then(|mut s| s.query_row(params![user, site.as_bytes()], |r| r.get(0)))
        .map_err(map_error)?;
    Err(if exists {
        StoreError::Conflict
    } else {
        StoreError::NotFound
    })
}

pub(super) fn delete(
    tx: &Connection,
    user: i64,
    site: &str,
    sync: &SyncWrite,
) -> StoreResult<Written> {
    let seq = next_seq(tx, user, sync)?;
    let deleted = tx
        .prepare_cached("DELETE FROM entries WHERE user_id = ?1 AND site = ?2")
        .and_then(|mut s| s.execute(params![user, site.as_bytes()]))
        .map_err(map_error)?;
    if deleted == 0 {
        return Err(StoreError::NotFound);
    }
    tx.prepare_cached(
        "INSERT INTO deletions (user_id, site, seq) VALUES (?1, ?2, ?3)
         ON CONFLICT (user_id, site) DO UPDATE SET seq = excluded.seq",
    )
    .and_then(|mut s| s.execute(params![user, site.as_bytes(), seq]))
    .map_err(map_error)?;
    Ok(Written { version: 0, seq })
}

/// `/sync`: run inside one read transaction, so that all four values come
/// from one snapshot.
pub(super) fn changes(conn: &Connection, user: i64, since: i64) -> StoreResult<Changes> {
    let (seq, manifest): (i64, Option<Vec<u8>>) = conn
        .prepare_cached("SELECT seq, manifest FROM users WHERE id = ?1")
        .and_then(|mut s| {
            s.query_row([user], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()
        })
        .map_err(map_error)?
        .ok_or(StoreError::NotFound)?;
    let entries = conn
        .prepare_cached(concat!(
            "SELECT ",
            entry_columns!(),
            // The seq index, not the primary key's order: the planner
            // would rather scan every entry of the user in site order.
            " FROM entries INDEXED BY entries_seq WHERE user_id = ?1 AND seq > ?2 ORDER BY site"
        ))
        .and_then(|mut s| s.query_map([user, since], entry_from_row)?.collect())
        .map_err(map_error)?;
    // `since = 0`: the client has nothing, so there is nothing to delete.
    let deleted = if since == 0 {
        Vec::new()
    } else {
        conn.prepare_cached(
            "SELECT site FROM deletions INDEXED BY deletions_seq
             WHERE user_id = ?1 AND seq > ?2 ORDER BY site",
        )
        .and_then(|mut s| {
            s.query_map([user, since], |row| text(row.get(0)?))?
                .collect()
        })
        .map_err(map_error)?
    };
    Ok(Changes {
        seq,
        entries,
        deleted,
        manifest: opt_text(manifest).map_err(map_error)?,
    })
}
