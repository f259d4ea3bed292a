//! What the server gets to see and what it can do: no plaintext in its
//! files or log, swapped ciphertexts refused, throttled logins.

mod cli_kit;
mod common;

use std::time::Duration;

use cli_kit::{Device, contains, files_under, ls, register};
use common::{Backend, TestServer};

/// Repeated wrong master passwords: the server throttles the account from
/// this address, and the CLI says when to retry (exit 1), even with the
/// right password; another account is not affected.
#[test]
fn throttled_logins_say_when_to_retry() {
    let server = TestServer::start(Backend::Sqlite).unwrap();
    let d = Device::new(&server.base_url(), "lou", "lou master pw");
    register(&d);
    let other = Device::new(&server.base_url(), "max", "max master pw");
    register(&other);
    let wrong = [("VAULT_PASSWORD", "guess")];
    for _ in 0..5 {
        d.run_with(&["ls"], &wrong, None)
            .fails(1, "wrong master password");
    }
    let out = d.run(&["ls"]).fails(1, "too many attempts; retry in ");
    let seconds: u64 = out
        .stderr
        .trim_end()
        .strip_prefix("vault: too many attempts; retry in ")
        .and_then(|s| s.strip_suffix(" seconds"))
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("{out:#?}"));
    assert!((1..=900).contains(&seconds), "{seconds}");
    assert_eq!(ls(&other), Vec::<String>::new());
}

/// What the server stores: after a CLI session with distinctive names and
/// passwords, none of them (nor their lowercase forms) is in the SQLite
/// files or the server's log; only the account name is, as it must be.
#[test]
fn server_never_sees_plaintexts() {
    let server = TestServer::start(Backend::Sqlite).unwrap();
    let master = "Canary-Master-7fQ3";
    let new_master = "Canary-Master2-M6vw";
    let d = Device::new(&server.base_url(), "canary-acct", master);
    register(&d);
    d.input(
        &[
            "add",
            "Canary-Site-W9.Example",
            "--username",
            "Canary-Login-K2",
        ],
        "Canary-Secret-X5",
    )
    .ok();
    d.input(&["add", "Canary-Other-R4.Example"], "Canary-Secret2-B7")
        .ok();
    d.input(
        &["edit", "canary-site-w9.example", "--password-stdin"],
        "Canary-Edited-P8",
    )
    .ok();
    let csv = "name,login_uri,login_username,login_password\nCanary-Import-H4.Example,,Canary-ImpUser-T1,Canary-ImpPw-Z1\n";
    d.input(&["import", "-", "--format", "bitwarden-csv"], csv)
        .ok();
    d.run(&["rm", "Canary-Other-R4.Example"]).ok();
    d.run_with(&["passwd"], &[("VAULT_NEW_PASSWORD", new_master)], None)
        .ok();
    let d = d.with("VAULT_PASSWORD", new_master);
    assert_eq!(
        ls(&d),
        ["Canary-Import-H4.Example", "Canary-Site-W9.Example"]
    );
    assert_eq!(
        d.run(&["get", "canary-site-w9.example"]).ok().stdout,
        "Canary-Edited-P8\n"
    );

    let plaintexts = [
        master,
        new_master,
        "Canary-Site-W9.Example",
        "Canary-Login-K2",
        "Canary-Secret-X5",
        "Canary-Other-R4.Example",
        "Canary-Secret2-B7",
        "Canary-Edited-P8",
        "Canary-Import-H4.Example",
        "Canary-ImpUser-T1",
        "Canary-ImpPw-Z1",
    ];
    let dir = server.dir.clone();
    let check = |when: &str, log: &str| {
        let mut db = Vec::new();
        let mut names = Vec::new();
        for file in files_under(&dir.0) {
            let name = file.file_name().unwrap().to_string_lossy().into_owned();
            if name.starts_with("vaultd.db") {
                db.extend(std::fs::read(&file).unwrap());
                names.push(name);
            }
        }
        assert!(names.contains(&"vaultd.db".to_owned()), "{names:?}");
        // The scan does see stored text: the account name is stored in clear.
        assert!(
            contains(&db, "canary-acct"),
            "{when}: the account name should be in {names:?}"
        );
        for p in plaintexts {
            for form in [p.to_owned(), p.to_lowercase()] {
                assert!(
                    !contains(&db, &form),
                    "{when}: {form:?} is in the server's files {names:?}"
                );
                assert!(
                    !log.contains(&form),
                    "{when}: {form:?} is in the server's log"
                );
            }
        }
    };
    let log = server.log.lock().unwrap().clone();
    assert!(
        log.contains("/login/finish"),
        "the access log is captured: {log}"
    );
    check("while running", &log);
    let status = server.terminate();
    assert!(status.success(), "{status:?}");
    check("after shutdown", "");
}

/// Swapping two entries' ciphertexts on the server (straight in its SQLite
/// file) is detected: `vault get` and `vault export` exit 1 and print
/// nothing; swapped back, they work again.
#[test]
fn swapped_ciphertexts_are_refused() {
    let server = TestServer::start(Backend::Sqlite).unwrap();
    let d = Device::new(&server.base_url(), "kim", "kim master pw");
    register(&d);
    d.input(&["add", "a.example", "--username", "user-a"], "pw-of-a")
        .ok();
    d.input(&["add", "b.example", "--username", "user-b"], "pw-of-b")
        .ok();

    let db = server.dir.0.join("vaultd.db");
    let swap = |column: &str| {
        let mut conn = rusqlite::Connection::open(&db).unwrap();
        conn.busy_timeout(Duration::from_secs(10)).unwrap();
        let tx = conn.transaction().unwrap();
        let rows: Vec<(Vec<u8>, Vec<u8>)> = tx
            .prepare(&format!("SELECT site, {column} FROM entries ORDER BY site"))
            .unwrap()
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .unwrap()
            .collect::<Result<_, _>>()
            .unwrap();
        assert_eq!(rows.len(), 2);
        let sql = format!("UPDATE entries SET {column} = ?1 WHERE site = ?2");
        tx.execute(&sql, (&rows[1].1, &rows[0].0)).unwrap();
        tx.execute(&sql, (&rows[0].1, &rows[1].0)).unwrap();
        tx.commit().unwrap();
    };

    // The manifest notices too: a warning line first, then the entry's own
    // failure.
    let refused = |args: &[&str], needle: &str| {
        let out = d.run(args);
        assert_eq!((out.code, out.stdout.as_str()), (1, ""), "{out:#?}");
        let lines: Vec<&str> = out.stderr.lines().collect();
        assert_eq!(lines.len(), 2, "{out:#?}");
        assert!(
            lines[0].starts_with("vault: warning: an entry was changed"),
            "{out:#?}"
        );
        assert!(lines[1].contains(needle), "{out:#?}");
    };
    // An unlocked agent (the suite run through one) keeps the copy it
    // verified, and rows rewritten without a new seq do not show in a
    // delta: locking it makes the next command fetch everything.
    let swap = |column: &str| {
        swap(column);
        d.run(&["lock"]).ok();
    };
    swap("password");
    refused(
        &["get", "a.example"],
        "the entry for `a.example` failed verification",
    );
    refused(&["get", "b.example", "--json"], "failed verification");
    refused(&["export"], "failed verification");
    swap("password");
    assert_eq!(d.run(&["get", "a.example"]).ok().stdout, "pw-of-a\n");

    // The username field carries the site name: swapped, `ls` shows neither.
    swap("username");
    refused(&["ls"], "2 entries failed verification");
    refused(
        &["get", "b.example", "--field", "username"],
        "failed verification",
    );
    swap("username");
    assert_eq!(ls(&d), ["a.example", "b.example"]);
}
