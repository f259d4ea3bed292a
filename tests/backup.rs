//! `vaultd backup` under write load and `vaultd restore`: every write
//! acknowledged before the backup began is in the restored database.

mod common;

use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::spawn::vaultd_command;
use common::{Backend, TestServer, try_post, user_token};
use serde_json::json;

fn vaultd(dir: &std::path::Path, args: &[&str]) -> (bool, String) {
    let out = vaultd_command(dir, args);
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn backup_under_load_restores_every_write_acknowledged_before_it() {
    let Some(mut server) = TestServer::start(Backend::Sqlite) else {
        return;
    };
    let token = user_token(&server, "alice");
    let acked = Arc::new(Mutex::new(Vec::<String>::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let writers: Vec<_> = (0..3)
        .map(|w| {
            let (acked, stop, token, addr) =
                (acked.clone(), stop.clone(), token.clone(), server.addr);
            std::thread::spawn(move || {
                let mut n = 0;
                while !stop.load(Ordering::SeqCst) {
                    n += 1;
                    let site = format!("w{w}-{n}");
                    if let Some((201, _)) = try_post(
                        addr,
                        "/add",
                        Some(&token),
                        &json!({"site": site, "password": "p"}),
                    ) {
                        acked.lock().unwrap().push(site);
                    }
                }
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(300));
    let before: HashSet<String> = acked.lock().unwrap().iter().cloned().collect();
    let (ok, err) = vaultd(&server.dir.0, &["backup", "snapshot.db"]);
    assert!(ok, "{err}");
    assert!(
        err.contains(".env"),
        "the backup reminds to keep .env: {err}"
    );
    std::thread::sleep(Duration::from_millis(200));
    stop.store(true, Ordering::SeqCst);
    for w in writers {
        w.join().unwrap();
    }
    let after: HashSet<String> = acked.lock().unwrap().iter().cloned().collect();
    assert!(
        before.len() > 10 && after.len() > before.len(),
        "load: {} then {}",
        before.len(),
        after.len()
    );

    // A second backup to the same file is refused rather than overwriting it.
    assert!(!vaultd(&server.dir.0, &["backup", "snapshot.db"]).0);
    let snapshot = rusqlite::Connection::open(server.dir.0.join("snapshot.db")).unwrap();
    let check: String = snapshot
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(check, "ok");
    drop(snapshot);

    // Restore into the stopped server's database, start it again.
    let dir = server.dir.clone();
    server.restart_with(|| {
        let (ok, err) = vaultd(&dir.0, &["restore", "snapshot.db"]);
        assert!(ok, "{err}");
    });
    let (status, reply) = server.post("/get", Some(&token), &json!({}));
    assert_eq!(status, 200);
    let restored: HashSet<String> = reply["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["site"].as_str().unwrap().to_string())
        .collect();
    let missing: Vec<&String> = before.difference(&restored).collect();
    assert!(
        missing.is_empty(),
        "acknowledged before the backup but not restored: {missing:?}"
    );
    assert!(
        restored.len() < after.len(),
        "the restore really went back in time"
    );
    // Restoring something that is not a vaultd database is refused.
    std::fs::write(server.dir.0.join("junk.db"), b"not a database").unwrap();
    assert!(!vaultd(&server.dir.0, &["restore", "junk.db"]).0);
}

/// The database, its WAL and shared-memory files and every backup are the
/// owner's alone, whatever the umask (the tests run under 022); a database
/// left group-readable by an older vaultd is tightened at start.
#[test]
fn database_wal_and_backups_are_created_0600() {
    use std::os::unix::fs::PermissionsExt;
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    let Some(mut server) = TestServer::start(Backend::Sqlite) else {
        return;
    };
    let token = user_token(&server, "alice");
    let (s, _) = server.post("/add", Some(&token), &json!({"site": "s", "password": "p"}));
    assert_eq!(s, 201);
    let dir = server.dir.0.clone();
    for name in ["vaultd.db", "vaultd.db-wal", "vaultd.db-shm"] {
        assert_eq!(mode(&dir.join(name)), 0o600, "{name}");
    }
    let (ok, err) = vaultd(&dir, &["backup", "copy.db"]);
    assert!(ok, "{err}");
    assert_eq!(mode(&dir.join("copy.db")), 0o600);

    server.restart_with(|| {
        let loose = std::fs::Permissions::from_mode(0o644);
        std::fs::set_permissions(dir.join("vaultd.db"), loose).unwrap();
    });
    assert_eq!(mode(&dir.join("vaultd.db")), 0o600);
}
