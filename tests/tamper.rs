//! Issue 14: a server that hides changes is caught. The real `vaultd` on
//! both backends, the real `vault` binary, and the database edited behind
//! the server's back (SQLite through rusqlite on its `vaultd.db`; the
//! PostgreSQL test database through a plain client): a dropped row, an
//! older row put back, a deleted row brought back, `seq` lowered with an
//! older manifest, an edited blob, a removed manifest. Each is caught by
//! `vault verify` with exit 4 and its own message, and a clean vault
//! verifies. Writes by two devices at once both land.

mod cli_kit;
mod common;

use cli_kit::{Device, register};
use common::{Backend, TestServer, pg};
use serde_json::json;
use vaultd::client::{Client, Edit, Error as ClientError, Session};
use vaultd::store::{PgSettings, SslMode};
use zeroize::Zeroizing;

/// One row of `entries`, as stored.
#[derive(Clone, Debug, PartialEq)]
struct Row {
    site: Vec<u8>,
    username: Option<Vec<u8>>,
    password: Vec<u8>,
    version: i64,
    updated_at: i64,
    seq: i64,
}

/// The server's database, opened behind its back.
enum Db {
    Sqlite(rusqlite::Connection),
    Pg(Box<::postgres::Client>),
}

/// The settings the harness wrote into the server's `database.ini`.
fn pg_settings(server: &TestServer) -> PgSettings {
    let ini = std::fs::read_to_string(server.dir.0.join("database.ini")).unwrap();
    let get = |key: &str| {
        ini.lines()
            .find_map(|l| l.strip_prefix(&format!("{key}=")))
            .unwrap_or_else(|| panic!("database.ini has no {key}"))
            .to_owned()
    };
    PgSettings {
        host: get("host"),
        port: get("port").parse().unwrap(),
        user: get("user"),
        password: get("password"),
        database: get("database"),
        sslmode: SslMode::Disable,
    }
}

/// A PostgreSQL statement parameter (`postgres` alone is the module of
/// `both_backends!`).
type Param<'a> = &'a (dyn ::postgres::types::ToSql + Sync);

/// The PostgreSQL text of a statement for SQLite, where `$N` would be
/// numbered by first appearance and `?N` is numbered as written.
fn lite(sql: &str) -> String {
    sql.replace('$', "?")
}

const COLUMNS: &str = "site, username, password, version, updated_at, seq";

impl Db {
    fn open(server: &TestServer) -> Db {
        match server.backend {
            Backend::Sqlite => {
                let conn = rusqlite::Connection::open(server.dir.0.join("vaultd.db")).unwrap();
                conn.busy_timeout(std::time::Duration::from_secs(10))
                    .unwrap();
                Db::Sqlite(conn)
            }
            Backend::Postgres => Db::Pg(Box::new(pg::pg_client(&pg_settings(server)))),
        }
    }

    fn user_id(&mut self, username: &str) -> i64 {
        let sql = "SELECT id FROM users WHERE username = $1";
        match self {
            Db::Sqlite(c) => c.query_row(&lite(sql), [username], |r| r.get(0)).unwrap(),
            Db::Pg(c) => c.query_one(sql, &[&username]).unwrap().get(0),
        }
    }

    fn row(&mut self, user: i64, site: &str) -> Row {
        let sql = format!("SELECT {COLUMNS} FROM entries WHERE user_id = $1 AND site = $2");
        let site = site.as_bytes().to_vec();
        match self {
            Db::Sqlite(c) => c
                .query_row(&lite(&sql), rusqlite::params![user, site], |r| {
                    Ok(Row {
                        site: r.get(0)?,
                        username: r.get(1)?,
                        password: r.get(2)?,
                        version: r.get(3)?,
                        updated_at: r.get(4)?,
                        seq: r.get(5)?,
                    })
                })
                .unwrap(),
            Db::Pg(c) => {
                let r = c.query_one(&sql, &[&user as Param, &site]).unwrap();
                Row {
                    site: r.get(0),
                    username: r.get(1),
                    password: r.get(2),
                    version: r.get(3),
                    updated_at: r.get(4),
                    seq: r.get(5),
                }
            }
        }
    }

    fn delete_row(&mut self, user: i64, site: &[u8]) {
        let sql = "DELETE FROM entries WHERE user_id = $1 AND site = $2";
        let n = match self {
            Db::Sqlite(c) => c
                .execute(&lite(sql), rusqlite::params![user, site])
                .unwrap() as u64,
            Db::Pg(c) => c.execute(sql, &[&user as Param, &site]).unwrap(),
        };
        assert_eq!(n, 1);
    }

    /// Puts `row` in, replacing the row of its site if there is one.
    fn put_row(&mut self, user: i64, row: &Row) {
        let del = "DELETE FROM entries WHERE user_id = $1 AND site = $2";
        let ins =
            format!("INSERT INTO entries (user_id, {COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7)");
        match self {
            Db::Sqlite(c) => {
                c.execute(&lite(del), rusqlite::params![user, row.site])
                    .unwrap();
                let p = rusqlite::params![
                    user,
                    row.site,
                    row.username,
                    row.password,
                    row.version,
                    row.updated_at,
                    row.seq
                ];
                c.execute(&lite(&ins), p).unwrap();
            }
            Db::Pg(c) => {
                c.execute(del, &[&user as Param, &row.site]).unwrap();
                let p: [Param; 7] = [
                    &user,
                    &row.site,
                    &row.username,
                    &row.password,
                    &row.version,
                    &row.updated_at,
                    &row.seq,
                ];
                c.execute(&ins, &p).unwrap();
            }
        }
    }

    /// The user's `seq` and stored manifest.
    fn user_sync(&mut self, user: i64) -> (i64, Option<Vec<u8>>) {
        let sql = "SELECT seq, manifest FROM users WHERE id = $1";
        match self {
            Db::Sqlite(c) => c
                .query_row(&lite(sql), [user], |r| Ok((r.get(0)?, r.get(1)?)))
                .unwrap(),
            Db::Pg(c) => {
                let r = c.query_one(sql, &[&user]).unwrap();
                (r.get(0), r.get(1))
            }
        }
    }

    fn set_user_sync(&mut self, user: i64, seq: i64, manifest: Option<&[u8]>) {
        let sql = "UPDATE users SET seq = $2, manifest = $3 WHERE id = $1";
        match self {
            Db::Sqlite(c) => {
                c.execute(&lite(sql), rusqlite::params![user, seq, manifest])
                    .unwrap();
            }
            Db::Pg(c) => {
                c.execute(sql, &[&user as Param, &seq, &manifest]).unwrap();
            }
        }
    }
}

/// A library session that keeps no state file (the test's own writes).
fn session(server: &TestServer, username: &str, password: &str) -> Session {
    let s = Client::new(&server.base_url())
        .unwrap()
        .login(username, password)
        .unwrap();
    s.set_state_file(None);
    s
}

#[track_caller]
fn verifies(d: &Device, entries: usize) {
    let out = d.run(&["verify"]).ok();
    assert!(
        out.stderr.starts_with(&format!(
            "the vault matches its manifest: {entries} entries"
        )),
        "{out:#?}"
    );
}

#[track_caller]
fn caught(d: &Device, needle: &str) {
    d.run(&["verify"]).fails(4, needle);
}

fn password(p: &str) -> Edit {
    Edit {
        password: Some(Zeroizing::new(p.to_owned())),
        ..Default::default()
    }
}

fn every_tampering_is_caught(backend: Backend) {
    let Some(server) = TestServer::start(backend) else {
        return;
    };
    let d = Device::new(&server.base_url(), "tina", "tina master pw");
    register(&d);
    let lib = session(&server, "tina", "tina master pw");
    for site in ["a.example", "b.example", "c.example"] {
        lib.add(site, Some("tina"), &format!("pw of {site}"))
            .unwrap();
    }
    verifies(&d, 3);
    let mut db = Db::open(&server);
    let user = db.user_id("tina");
    let id = |site: &str| lib.site_id(site).unwrap();

    // A dropped row.
    let b = db.row(user, &id("b.example"));
    db.delete_row(user, &b.site);
    caught(&d, "1 entry is missing from the vault");
    db.put_row(user, &b);
    verifies(&d, 3);

    // An older row put back: the old password would be shown as current.
    let old_a = db.row(user, &id("a.example"));
    lib.edit("a.example", password("new pw of a")).unwrap();
    let new_a = db.row(user, &id("a.example"));
    db.put_row(user, &old_a);
    caught(&d, "an entry was changed or rolled back");
    // Other commands warn and go on, or stop under --strict, VAULT_STRICT=1
    // or the profile's "strict".
    let out = d.run(&["get", "a.example"]).ok();
    assert_eq!(out.stdout, "pw of a.example\n");
    assert!(
        out.stderr
            .starts_with("vault: warning: an entry was changed"),
        "{out:#?}"
    );
    d.run(&["--strict", "get", "a.example"])
        .fails(4, "an entry was changed or rolled back");
    d.run_with(&["ls"], &[("VAULT_STRICT", "1")], None)
        .fails(4, "an entry was changed or rolled back");
    std::fs::create_dir_all(d.config_file().parent().unwrap()).unwrap();
    std::fs::write(
        d.config_file(),
        json!({"profiles": {"default": {"strict": true}}}).to_string(),
    )
    .unwrap();
    d.run(&["export"])
        .fails(4, "an entry was changed or rolled back");
    std::fs::remove_file(d.config_file()).unwrap();
    db.put_row(user, &new_a);
    verifies(&d, 3);

    // A deleted entry brought back.
    let c = db.row(user, &id("c.example"));
    lib.remove("c.example").unwrap();
    db.put_row(user, &c);
    caught(&d, "1 entry is in the vault that its manifest");
    db.delete_row(user, &c.site);
    verifies(&d, 2);

    // The whole vault rolled back: seq lowered, the older manifest restored.
    let (old_seq, old_manifest) = db.user_sync(user);
    lib.add("d.example", None, "pw of d").unwrap();
    verifies(&d, 3);
    let (seq, manifest) = db.user_sync(user);
    db.set_user_sync(user, old_seq, old_manifest.as_deref());
    caught(
        &d,
        &format!("the vault is older than this device last saw (seq {old_seq}, seen {seq})"),
    );
    // Only the manifest put back, seq kept.
    db.set_user_sync(user, seq, old_manifest.as_deref());
    caught(&d, "the vault is older than this device last saw");
    db.set_user_sync(user, seq, manifest.as_deref());
    verifies(&d, 3);

    // One character of a blob edited.
    let a = db.row(user, &id("a.example"));
    let mut edited = a.clone();
    let last = edited.password.len() - 1;
    edited.password[last] = if edited.password[last] == b'A' {
        b'B'
    } else {
        b'A'
    };
    db.put_row(user, &edited);
    caught(&d, "an entry was changed or rolled back");
    db.put_row(user, &a);

    // The manifest removed, or replaced by garbage.
    db.set_user_sync(user, seq, None);
    caught(&d, "the vault has no manifest");
    db.set_user_sync(user, seq, Some(&b"AQID"[..]));
    caught(&d, "the vault's manifest does not open");
    db.set_user_sync(user, seq, manifest.as_deref());
    verifies(&d, 3);

    // A write by a client that keeps no manifest (a serenity-based script)
    // fails the check afterwards, pointing at --reseal, which fixes it.
    let (status, reply) = server.post(
        "/change",
        Some(lib.token().as_str()),
        &json!({"site": id("a.example"), "password": new_a_password(&a)}),
    );
    assert_eq!(status, 200, "{reply}");
    let out = d
        .run(&["verify"])
        .fails(4, "an entry was changed or rolled back");
    assert!(
        out.stderr.contains("run `vault verify --reseal`"),
        "{out:#?}"
    );
    // A write over a vault that failed the check goes on with a warning
    // but seals nothing over it: the failure stays visible. Under --strict
    // nothing is written.
    let out = d.input(&["add", "e.example"], "pw of e").ok();
    assert!(
        out.stderr
            .starts_with("vault: warning: an entry was changed"),
        "{out:#?}"
    );
    caught(&d, "1 entry is in the vault that its manifest");
    d.run(&["--strict", "rm", "e.example"])
        .fails(4, "1 entry is in the vault that its manifest");
    let out = d.run(&["verify", "--reseal"]).ok();
    assert!(
        out.stderr
            .starts_with("sealed a fresh manifest over 4 entries"),
        "{out:#?}"
    );
    verifies(&d, 4);
    // Nothing secret in the state file; 0600 in a 0700 directory.
    state_file_is_private(&d, &server, "tina");
}

/// The password blob of `row`, as a wire string (re-sent unchanged).
fn new_a_password(row: &Row) -> String {
    String::from_utf8(row.password.clone()).unwrap()
}

fn state_file_is_private(d: &Device, server: &TestServer, username: &str) {
    use std::os::unix::fs::PermissionsExt;
    let dir = d.home.0.join(".local/state/vault");
    let file = dir.join("seen.json");
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&dir), 0o700);
    assert_eq!(mode(&file), 0o600);
    let state: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&file).unwrap()).unwrap();
    let seen = &state["seen"][0];
    assert_eq!(seen["server"], server.base_url());
    assert_eq!(seen["username"], username);
    assert!(seen["seq"].as_i64().unwrap() > 0);
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(!text.contains("master pw"), "{text}");
}

/// An account written only by clients that keep no manifest gets one on
/// its first write by `vault` (this device never verified it before).
fn first_write_seals_a_manifest(backend: Backend) {
    let Some(server) = TestServer::start(backend) else {
        return;
    };
    let d = Device::new(&server.base_url(), "uma", "uma master pw");
    register(&d);
    let lib = session(&server, "uma", "uma master pw");
    let (status, reply) = server.post(
        "/add",
        Some(lib.token().as_str()),
        &json!({"site": "c2NyaXB0", "password": "AQ", "username": null}),
    );
    assert_eq!(status, 201, "{reply}");
    caught(&d, "the vault has no manifest (seq 1)");
    let out = d.input(&["add", "mail.example"], "pw\n").ok();
    assert!(
        out.stderr
            .starts_with("vault: warning: the vault has no manifest"),
        "{out:#?}"
    );
    verifies(&d, 2);
}

/// Two devices writing at once both land, and the vault verifies on both.
fn concurrent_writes_both_land(backend: Backend) {
    let Some(server) = TestServer::start(backend) else {
        return;
    };
    let url = server.base_url();
    let one = Device::new(&url, "vic", "vic master pw");
    let two = Device::new(&url, "vic", "vic master pw");
    register(&one);
    std::thread::scope(|s| {
        let a = s.spawn(|| one.input(&["add", "one.example"], "pw1\n"));
        let b = s.spawn(|| two.input(&["add", "two.example"], "pw2\n"));
        a.join().unwrap().ok();
        b.join().unwrap().ok();
    });
    verifies(&one, 2);
    verifies(&two, 2);

    // Deterministically: a session whose snapshot is behind gets a 409 on
    // base_seq, syncs, checks, recomputes and lands.
    let s1 = session(&server, "vic", "vic master pw");
    let s2 = session(&server, "vic", "vic master pw");
    assert_eq!(s1.check().unwrap().mismatch, None);
    s2.add("three.example", None, "pw3").unwrap();
    s1.add("four.example", None, "pw4").unwrap();
    s2.edit("three.example", password("pw3 again")).unwrap();
    s1.remove("one.example").unwrap();
    verifies(&one, 3);
    // An edit of an entry that changed meanwhile is still refused, not
    // retried over the other device's change.
    let stale = s1.get("four.example").unwrap();
    s2.edit("four.example", password("pw4 by two")).unwrap();
    let mine = |_: &mut _, pw: &mut zeroize::Zeroizing<String>| {
        *pw = zeroize::Zeroizing::new("pw4 by one".to_string());
        Ok(())
    };
    match s1.modify_entry(&stale, mine) {
        Err(ClientError::ChangedElsewhere(site)) => assert_eq!(site, "four.example"),
        other => panic!("{:?}", other.map_err(|e| e.to_string())),
    }
    assert_eq!(
        s1.get("four.example").unwrap().password.as_str(),
        "pw4 by two"
    );
    verifies(&two, 3);
}

both_backends!(
    every_tampering_is_caught,
    first_write_seals_a_manifest,
    concurrent_writes_both_land
);
