//! The `Store` contract against the embedded SQLite backend, plus what only
//! SQLite has: schema checks on a file, and a database opened twice.

#[path = "common/store_suite.rs"]
#[macro_use]
mod suite;

use vaultd::store::{SqliteStore, Store, StoreError};

static COUNTER: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

fn fresh_path(tag: &str) -> std::path::PathBuf {
    let n = COUNTER.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let dir = std::env::temp_dir().join(format!("vaultd-store-{tag}-{}-{n}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir.join("vaultd.db")
}

fn suite_store(tag: &str) -> Option<SqliteStore> {
    let store = SqliteStore::open(&fresh_path(tag), 16).expect("open");
    store.prepare(true).expect("prepare(true)");
    Some(store)
}

store_tests!();

#[test]
fn prepare_is_idempotent_and_checks_the_schema() {
    let path = fresh_path("schema");
    let store = SqliteStore::open(&path, 2).unwrap();
    match store.prepare(false) {
        Err(StoreError::Schema(m)) => assert!(m.contains("--init-db"), "{m}"),
        other => panic!("expected a schema error, got {other:?}"),
    }
    store.prepare(true).unwrap();
    store.prepare(true).unwrap();
    store.prepare(false).unwrap();
    let user = suite::create(&store, "alice", b"record", None, None, 1).unwrap();
    store.prepare(true).unwrap();
    assert_eq!(
        store.user_by_id(user.id).unwrap().unwrap().username,
        "alice"
    );
    // A newer schema is refused, not silently used.
    drop(store);
    let conn = rusqlite::Connection::open(&path).unwrap();
    conn.execute(
        "UPDATE vaultd_meta SET value = 99 WHERE key = 'schema_version'",
        [],
    )
    .unwrap();
    let store = SqliteStore::open(&path, 2).unwrap();
    match store.prepare(false) {
        Err(StoreError::Schema(m)) => assert!(m.contains("newer"), "{m}"),
        other => panic!("expected a schema error, got {other:?}"),
    }
}

#[test]
fn sqlite_runs_in_wal_mode_with_full_sync() {
    let path = fresh_path("pragmas");
    let store = SqliteStore::open(&path, 2).unwrap();
    store.prepare(true).unwrap();
    let conn = rusqlite::Connection::open(&path).unwrap();
    let mode: String = conn
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
}

#[test]
fn two_stores_on_one_file_see_each_others_writes() {
    let path = fresh_path("shared");
    let a = SqliteStore::open(&path, 2).unwrap();
    a.prepare(true).unwrap();
    let b = SqliteStore::open(&path, 2).unwrap();
    let user = suite::create(&a, "alice", b"r", None, None, 1).unwrap();
    suite::add(&b, user.id, "site", None, "pw", 1).unwrap();
    assert_eq!(
        a.get_entry(user.id, "site").unwrap().unwrap().password,
        "pw"
    );
}

/// The database file made by the schema-1 release (tests/fixtures/v1) is
/// upgraded by `prepare(true)` with every account and entry kept.
#[test]
fn the_schema_1_file_is_upgraded_with_everything_kept() {
    let path = fresh_path("upgrade");
    let dump = std::fs::read_to_string("tests/fixtures/v1/vaultd.sql").unwrap();
    rusqlite::Connection::open(&path)
        .unwrap()
        .execute_batch(&dump)
        .unwrap();
    let store = SqliteStore::open(&path, 2).unwrap();
    match store.prepare(false) {
        Err(StoreError::Schema(m)) => assert!(m.contains("--init-db to upgrade"), "{m}"),
        other => panic!("an old schema without --init-db: {other:?}"),
    }
    store.prepare(true).unwrap();
    store.prepare(false).unwrap();
    let alice = store.user_by_name("alice").unwrap().unwrap();
    let carol = store.user_by_name("carol").unwrap().unwrap();
    assert_eq!((alice.id, carol.id), (1, 2));
    assert_eq!(alice.credential_id, b"alice");
    assert_eq!(
        (alice.rev, carol.rev),
        (1, 1),
        "tokens from before the upgrade end"
    );
    assert_eq!(store.list_entries(alice.id).unwrap().len(), 3);
    assert_eq!(store.list_entries(carol.id).unwrap().len(), 1);
    assert_eq!(store.changes(alice.id, 0).unwrap().seq, 3);
    assert_eq!(store.changes(alice.id, 2).unwrap().entries.len(), 1);
    // AUTOINCREMENT from now on: a deleted id is never handed out again.
    let dave = suite::user(&store, "dave");
    assert_eq!(dave.id, 3);
    store.delete_user(dave.id).unwrap();
    assert_eq!(suite::user(&store, "erin").id, 4);
    let conn = rusqlite::Connection::open(&path).unwrap();
    let check: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(check, "ok");
}
