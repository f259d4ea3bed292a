//! `vaultd backup` and `vaultd restore`: SQLite's online backup API.

use std::path::Path;
use std::time::Duration;

use rusqlite::Connection;

use super::{open_connection, schema_version};

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
        // The current version, or an older one that the next `--init-db`
        // upgrades.
        Ok(found @ Some(_)) => {
            crate::store::schema_plan(found, true).map_err(|e| e.to_string())?;
        }
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
    // Owner only, like the database: a backup holds the same secrets.
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(dest)
        .map_err(|e| format!("{}: {e}", dest.display()))?;
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
