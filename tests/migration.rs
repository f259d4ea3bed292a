//! Upgrading a real schema-1 database (tests/fixtures/v1, made by the
//! release before schema 2) with the real binaries: without `--init-db`
//! vaultd refuses with a line naming the flag; with it, every account and
//! entry is kept, the `vault` client reads them, and ids are never reused.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::process::{Command, Stdio};

use common::{Backend, Options, TempDir, TestServer, user_token, vaultd_bin};
use serde_json::json;

const VAULT: &str = env!("CARGO_BIN_EXE_vault");

/// A directory holding a copy of the schema-1 database and its `.env`.
fn schema_1_dir() -> TempDir {
    let dir = TempDir::new("migration");
    let fixtures = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/v1");
    // The file, rebuilt byte for byte in content from its `.dump`.
    let db = rusqlite::Connection::open(dir.0.join("vaultd.db")).unwrap();
    db.execute_batch(&std::fs::read_to_string(fixtures.join("vaultd.sql")).unwrap())
        .unwrap();
    drop(db);
    let env = dir.0.join(".env");
    std::fs::copy(fixtures.join("dotenv"), &env).unwrap();
    std::fs::set_permissions(&env, std::fs::Permissions::from_mode(0o600)).unwrap();
    dir
}

fn vault(server: &TestServer, home: &TempDir, user: &str, password: &str, args: &[&str]) -> String {
    let out = Command::new(VAULT)
        .args(["--server", &server.base_url(), "--username", user])
        .args(args)
        .env("VAULT_PASSWORD", password)
        .env("HOME", &home.0)
        .env("XDG_CONFIG_HOME", home.0.join("config"))
        .env("XDG_STATE_HOME", home.0.join("state"))
        .env_remove("XDG_RUNTIME_DIR")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "vault {args:?}: {stderr}");
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn a_schema_1_database_is_refused_then_upgraded_with_everything_kept() {
    let dir = schema_1_dir();
    let refused = Command::new(vaultd_bin())
        .current_dir(&dir.0)
        .args(["--bind", "127.0.0.1:0"])
        .env_remove("JWT_KEY")
        .env_remove("OPAQUE_SERVER_SETUP")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(!refused.status.success());
    assert!(stderr.contains("--init-db to upgrade"), "{stderr}");

    let server = TestServer::start_in(Backend::Sqlite, dir, Options::default());
    let home = TempDir::new("migration-home");
    let alice = |args: &[&str]| {
        vault(
            &server,
            &home,
            "alice",
            "correct horse battery staple 1",
            args,
        )
    };
    assert_eq!(alice(&["get", "mail.example.org"]).trim(), "s3cret-mail");
    assert_eq!(alice(&["get", "github.com"]).trim(), "pw3");
    assert_eq!(alice(&["get", "Café.fr"]).trim(), "pw2");
    let listed = alice(&["ls"]);
    for site in ["mail.example.org", "github.com", "Café.fr"] {
        assert!(listed.contains(site), "{listed}");
    }
    let carol = vault(
        &server,
        &home,
        "carol",
        "carol password 12345",
        &["get", "bank.example"],
    );
    assert_eq!(carol.trim(), "carolpw");

    // A new account gets an id that no account ever had (dave's was 2).
    let token = user_token(&server, "newcomer");
    let payload = token.split('.').nth(1).unwrap();
    let claims: serde_json::Value = serde_json::from_slice(&common::unb64(payload)).unwrap();
    assert_eq!(claims["sub"], "3");
    let (s, r) = server.post("/sync", Some(&token), &json!({"since": 0}));
    assert_eq!((s, r["seq"].as_i64()), (200, Some(0)));
}

/// The review's takeover across an upgrade: schema 1 could hand a deleted
/// account's id out again, and did so for ids above the highest one left at
/// the upgrade. A token issued by the schema-1 server for such an id (carol's,
/// here deleted before the upgrade) never reads the account made later with
/// that id.
#[test]
fn a_schema_1_token_never_reads_an_account_made_after_the_upgrade() {
    use jwt_simple::prelude::*;
    let dir = schema_1_dir();
    let db = rusqlite::Connection::open(dir.0.join("vaultd.db")).unwrap();
    db.execute_batch("PRAGMA foreign_keys = ON; DELETE FROM users WHERE username = 'carol';")
        .unwrap();
    drop(db);
    let jwt_key = std::fs::read_to_string(dir.0.join(".env")).unwrap();
    let jwt_key = jwt_key
        .lines()
        .find_map(|l| l.strip_prefix("JWT_KEY="))
        .unwrap()
        .to_string();
    let server = TestServer::start_in(Backend::Sqlite, dir, Options::default());
    let newcomer = user_token(&server, "newcomer");
    let (s, _) = server.post(
        "/add",
        Some(&newcomer),
        &json!({"site": "s", "password": "p"}),
    );
    assert_eq!(s, 201);
    // What the schema-1 server issued to carol: only the documented claims.
    let key = HS256Key::from_bytes(jwt_key.as_bytes());
    let claims =
        Claims::with_custom_claims(json!({"rev": 0}), Duration::from_secs(3600)).with_subject(2);
    let old = key.authenticate(claims).unwrap();
    let (s, _) = server.post("/get", Some(&old), &json!({}));
    assert_eq!(
        s, 401,
        "a schema-1 token read the account made after the upgrade"
    );
    let (s, _) = server.post("/get", Some(&newcomer), &json!({}));
    assert_eq!(s, 200);
}
