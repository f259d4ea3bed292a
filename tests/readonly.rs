//! A SQLite database that cannot be written (read-only file system, full
//! disk, a file made immutable): writes answer `503`, reads keep being
//! served, and writes work again once the disk does.

mod common;

use std::process::Command;

use common::{Backend, TestServer, user_token};
use serde_json::json;

fn chattr(flag: &str, files: &[std::path::PathBuf]) -> bool {
    Command::new("chattr")
        .arg(flag)
        .args(files)
        .status()
        .is_ok_and(|s| s.success())
}

#[test]
fn unwritable_sqlite_answers_503_on_writes_and_keeps_serving_reads() {
    let Some(server) = TestServer::start(Backend::Sqlite) else {
        return;
    };
    let token = user_token(&server, "alice");
    let t = Some(token.as_str());
    assert_eq!(
        server
            .post("/add", t, &json!({"site": "kept", "password": "p"}))
            .0,
        201
    );
    let files = vec![
        server.dir.0.join("vaultd.db"),
        server.dir.0.join("vaultd.db-wal"),
    ];
    if !chattr("+i", &files) {
        common::skipped("chattr +i is not available here (needs root on ext4 or similar)");
        return;
    }
    let writes = [
        ("/add", json!({"site": "new", "password": "p"})),
        ("/change", json!({"site": "kept", "password": "q"})),
        ("/delete", json!({"site": "kept"})),
    ];
    let results: Vec<(u16, serde_json::Value)> = writes
        .iter()
        .map(|(path, body)| server.post(path, t, body))
        .collect();
    let reads = (
        server.post("/get", t, &json!({"site": "kept"})),
        server.post("/get", t, &json!({})),
        server.request("GET", "/health", None, &[], b"").status,
    );
    // Restore the files before asserting, so a failure leaves nothing immutable behind.
    assert!(chattr("-i", &files));
    for ((path, _), (status, reply)) in writes.iter().zip(&results) {
        assert_eq!(
            (*status, reply["error"].as_str()),
            (503, Some("unavailable")),
            "{path}: {reply}"
        );
    }
    let ((s1, one), (s2, all), health) = reads;
    assert_eq!((s1, one["entry"]["password"].as_str()), (200, Some("p")));
    assert_eq!(
        (s2, all["entries"].as_array().map(Vec::len)),
        (200, Some(1))
    );
    assert_eq!(health, 200);
    // The disk is back: writes work again, and nothing half-done is visible.
    assert_eq!(
        server
            .post("/add", t, &json!({"site": "new", "password": "p"}))
            .0,
        201
    );
    let (_, kept) = server.post("/get", t, &json!({"site": "kept"}));
    assert_eq!(
        (
            kept["entry"]["password"].as_str(),
            kept["entry"]["version"].as_i64()
        ),
        (Some("p"), Some(1))
    );
    let log = server.log.lock().unwrap().clone();
    assert!(!log.contains("panicked"), "{log}");
}
