//! The `vault` CLI end to end: the real binary, with real Argon2 and real
//! OPAQUE, against a real `vaultd` started by the harness. Every command,
//! its errors and its exit codes (0 success, 1 error, 2 usage, 3 no such
//! site), the profile file, and what the server gets to see.
//!
//! Each CLI login costs one Argon2id of 64 MiB, so the tests keep the number
//! of runs small. Every run gets its own empty HOME and XDG_CONFIG_HOME and
//! a cleared environment; the master password always comes from
//! VAULT_PASSWORD (a prompt would need a terminal), and a run that does not
//! finish within two minutes fails the test instead of hanging it.

mod cli_kit;
mod common;

use cli_kit::{Device, ls, register};
use common::{Backend, TestServer};
use serde_json::{Value, json};
use vaultd::client::{Client, Error as ClientError};

// --- Tests -------------------------------------------------------------------

/// register, add (stdin, --username, --generate --length/--no-symbols), get
/// (--field, --json), ls (--json, sorted), site normalisation.
#[test]
fn add_get_ls() {
    let server = TestServer::start(Backend::Sqlite).unwrap();
    let d = Device::new(&server.base_url(), "Alice", "alice master pw");
    let out = d.run(&["register"]).ok();
    assert_eq!(
        out.stderr.lines().next().unwrap(),
        format!("registered alice at {}", server.base_url())
    );
    assert_eq!(out.stdout, "");
    d.run(&["register"])
        .fails(1, "the username `alice` is taken");

    // The password from stdin, minus one trailing line break.
    let out = d
        .input(
            &["add", "Mail.Example.ORG", "--username", "bob@mail"],
            "hunter2 with spaces \n",
        )
        .ok();
    assert_eq!(out.stderr, "added Mail.Example.ORG\n");
    assert_eq!(out.stdout, "");
    // Case and surrounding white space do not make another site.
    d.input(&["add", " mail.example.org "], "other")
        .fails(1, "an entry for `mail.example.org` exists already");
    assert_eq!(
        d.run(&["get", " mail.example.org "]).ok().stdout,
        "hunter2 with spaces \n"
    );
    assert_eq!(
        d.run(&["get", "MAIL.example.org", "--field", "username"])
            .ok()
            .stdout,
        "bob@mail\n"
    );
    let entry = d.run(&["get", "mail.example.org", "--json"]).ok().json();
    assert_eq!(
        entry["site"], "Mail.Example.ORG",
        "the name as first entered: {entry}"
    );
    assert_eq!(entry["username"], "bob@mail");
    assert_eq!(entry["password"], "hunter2 with spaces ");
    assert_eq!(entry["version"], 1);
    let updated = entry["updated_at"].as_str().unwrap();
    assert!(
        updated.len() == 20 && updated.ends_with('Z') && updated.as_bytes()[10] == b'T',
        "{updated}"
    );
    let keys: Vec<&String> = entry.as_object().unwrap().keys().collect();
    assert_eq!(keys.len(), 5, "{entry}");

    // Generated passwords: the password never goes to stdout or stderr.
    let out = d
        .run(&["add", "zeta.example", "--generate", "--length", "40"])
        .ok();
    assert_eq!(
        (out.stdout.as_str(), out.stderr.as_str()),
        ("", "added zeta.example\n")
    );
    let zeta = d.run(&["get", "zeta.example"]).ok().stdout;
    assert_eq!(zeta.trim_end().chars().count(), 40, "{zeta:?}");
    assert!(!out.stderr.contains(zeta.trim_end()));
    d.run(&["add", "alpha.example", "--generate", "--no-symbols"])
        .ok();
    let alpha = d.run(&["get", "alpha.example"]).ok().stdout;
    let alpha = alpha.trim_end();
    assert_eq!(alpha.len(), 24);
    assert!(alpha.chars().all(|c| c.is_ascii_alphanumeric()), "{alpha}");
    d.input(&["add", "Beta.example"], "beta-pw").ok();

    // Sorted by the normalised name (not by bytes: "Beta" < "Mail" < "alpha").
    assert_eq!(
        ls(&d),
        [
            "alpha.example",
            "Beta.example",
            "Mail.Example.ORG",
            "zeta.example"
        ]
    );
    let listing = d.run(&["ls", "--json"]).ok().json();
    let listing = listing.as_array().unwrap();
    let sites: Vec<&str> = listing
        .iter()
        .map(|e| e["site"].as_str().unwrap())
        .collect();
    assert_eq!(
        sites,
        [
            "alpha.example",
            "Beta.example",
            "Mail.Example.ORG",
            "zeta.example"
        ]
    );
    for e in listing {
        let mut keys: Vec<&str> = e.as_object().unwrap().keys().map(String::as_str).collect();
        keys.sort();
        assert_eq!(
            keys,
            ["site", "updated_at", "username", "version"],
            "no password in ls: {e}"
        );
    }
    assert_eq!(listing[2]["username"], "bob@mail");
    assert_eq!(listing[0]["username"], Value::Null);
    assert_eq!(listing[0]["version"], 1);
}

/// edit (--username, "" clears it, --password-stdin, --generate), rm, and
/// the exit code 3 of a missing site.
#[test]
fn edit_and_rm() {
    let server = TestServer::start(Backend::Sqlite).unwrap();
    let d = Device::new(&server.base_url(), "editor", "editor master pw");
    register(&d);
    d.input(&["add", "Shop.Example", "--username", "first"], "old-pw\n")
        .ok();

    let out = d
        .run(&["edit", "shop.example", "--username", "second"])
        .ok();
    assert_eq!(
        (out.stdout.as_str(), out.stderr.as_str()),
        ("", "changed shop.example\n")
    );
    let e = d.run(&["get", "SHOP.example", "--json"]).ok().json();
    assert_eq!(
        (&e["username"], &e["password"], &e["version"]),
        (&json!("second"), &json!("old-pw"), &json!(2))
    );
    assert_eq!(
        e["site"], "Shop.Example",
        "editing by another spelling keeps the name"
    );

    d.input(&["edit", "shop.example", "--password-stdin"], "new-pw\r\n")
        .ok();
    d.run(&["edit", "shop.example", "--username", ""]).ok();
    let e = d.run(&["get", "shop.example", "--json"]).ok().json();
    assert_eq!(
        (&e["username"], &e["password"], &e["version"]),
        (&Value::Null, &json!("new-pw"), &json!(4))
    );
    assert_eq!(
        d.run(&["get", "shop.example", "--field", "username"])
            .ok()
            .stdout,
        "\n"
    );

    d.run(&[
        "edit",
        "shop.example",
        "--generate",
        "--length",
        "12",
        "--no-symbols",
    ])
    .ok();
    let pw = d.run(&["get", "shop.example"]).ok().stdout;
    assert_eq!(pw.trim_end().len(), 12);
    assert!(
        pw.trim_end().chars().all(|c| c.is_ascii_alphanumeric()),
        "{pw}"
    );

    // Without a terminal and without options there is nothing to change.
    d.run(&["edit", "shop.example"])
        .fails(2, "nothing to change");
    d.run(&["edit", "shop.example", "--length", "30"])
        .fails(2, "--length and --no-symbols go with --generate");
    d.run(&["edit", "nowhere.example", "--username", "x"])
        .fails(3, "no entry for `nowhere.example`");

    // rm moves to the trash; --purge deletes for good.
    let out = d.run(&["rm", " Shop.EXAMPLE"]).ok();
    assert_eq!(
        (out.stdout.as_str(), out.stderr.as_str()),
        (
            "",
            "moved Shop.EXAMPLE to the trash (`vault restore Shop.Example` brings it back)\n"
        )
    );
    d.run(&["rm", "shop.example"])
        .fails(1, "is in the trash already");
    d.run(&["get", "shop.example"]).fails(
        3,
        "`Shop.Example` is in the trash; run `vault restore Shop.Example` first",
    );
    assert_eq!(ls(&d), Vec::<String>::new());
    d.run(&["rm", "shop.example", "--purge", "--yes"]).ok();
    d.run(&["get", "shop.example"])
        .fails(3, "run `vault ls` to see your sites");
    d.run(&["rm", "shop.example"])
        .fails(3, "no entry for `shop.example`");
}

/// `vault passwd`: the new password works, the old one fails, the entries
/// are still readable, and a session of the old password ends.
#[test]
fn passwd_changes_the_master_password() {
    let server = TestServer::start(Backend::Sqlite).unwrap();
    let d = Device::new(&server.base_url(), "erin", "old master pw");
    register(&d);
    d.input(
        &["add", "keep.example", "--username", "erin@keep"],
        "kept-pw",
    )
    .ok();
    // Another session, opened with the old password (the library the CLI uses).
    let other = Client::new(&server.base_url())
        .unwrap()
        .login("erin", "old master pw")
        .unwrap();
    assert_eq!(other.list().unwrap().entries.len(), 1);

    let out = d
        .run_with(
            &["passwd"],
            &[("VAULT_NEW_PASSWORD", "new master pw")],
            None,
        )
        .ok();
    assert_eq!(out.stdout, "");
    assert_eq!(
        out.stderr,
        "master password changed; other sessions have ended\n"
    );

    assert!(
        matches!(other.list(), Err(ClientError::SessionEnded)),
        "the old session ended"
    );
    let (status, _) = server.post("/get", Some(other.token().as_str()), &json!({}));
    assert_eq!(status, 401);
    d.run(&["get", "keep.example"])
        .fails(1, "wrong master password");
    let new = [("VAULT_PASSWORD", "new master pw")];
    let e = d
        .run_with(&["get", "keep.example", "--json"], &new, None)
        .ok()
        .json();
    assert_eq!(
        (&e["username"], &e["password"], &e["version"]),
        (&json!("erin@keep"), &json!("kept-pw"), &json!(1))
    );
}

/// `vault logout` ends every session of the account; the CLI logs in
/// afresh on its next run.
#[test]
fn logout_ends_every_session() {
    let server = TestServer::start(Backend::Sqlite).unwrap();
    let d = Device::new(&server.base_url(), "frank", "frank master pw");
    register(&d);
    let other = Client::new(&server.base_url())
        .unwrap()
        .login("frank", "frank master pw")
        .unwrap();
    let out = d.run(&["logout"]).ok();
    assert_eq!(
        (out.stdout.as_str(), out.stderr.as_str()),
        ("", "every session has ended\n")
    );
    assert!(matches!(other.list(), Err(ClientError::SessionEnded)));
    assert_eq!(
        server
            .post("/get", Some(other.token().as_str()), &json!({}))
            .0,
        401
    );
    assert_eq!(ls(&d), Vec::<String>::new());
}

/// `vault unregister` deletes nothing without `--yes`; with it, the account
/// and its entries are gone from the server and the name is free again.
#[test]
fn unregister_deletes_the_account_only_when_confirmed() {
    let server = TestServer::start(Backend::Sqlite).unwrap();
    let d = Device::new(&server.base_url(), "uma", "uma master pw");
    register(&d);
    d.input(&["add", "uma.example"], "uma-pw").ok();

    d.run(&["unregister"]).fails(2, "pass --yes");
    assert_eq!(ls(&d), ["uma.example"]);

    let out = d.run(&["unregister", "--yes"]).ok();
    assert_eq!(
        (out.stdout.as_str(), out.stderr.as_str()),
        ("", "deleted the account uma and every entry\n")
    );
    d.run(&["ls"]).fails(1, "");
    assert!(
        Client::new(&server.base_url())
            .unwrap()
            .login("uma", "uma master pw")
            .is_err()
    );
    // The name is free: a new account starts empty.
    register(&d);
    assert_eq!(ls(&d), Vec::<String>::new());
}

/// register, add, get, ls on each backend.
fn smoke(backend: Backend) {
    let Some(server) = TestServer::start(backend) else {
        return;
    };
    let d = Device::new(&server.base_url(), "Smoke.User", "smoke master pw");
    let out = d.run(&["register"]).ok();
    assert_eq!(
        out.stderr.lines().next().unwrap(),
        format!("registered smoke.user at {}", server.base_url())
    );
    d.input(
        &["add", "Mail.Example.ORG", "--username", "smoky"],
        "smoke-pw\n",
    )
    .ok();
    d.input(&["add", " mail.example.org "], "x")
        .fails(1, "exists already");
    d.run(&["add", "b.example", "--generate", "--length", "16"])
        .ok();
    let e = d.run(&["get", " mail.EXAMPLE.org", "--json"]).ok().json();
    assert_eq!(
        (&e["site"], &e["username"], &e["password"]),
        (
            &json!("Mail.Example.ORG"),
            &json!("smoky"),
            &json!("smoke-pw")
        )
    );
    assert_eq!(ls(&d), ["b.example", "Mail.Example.ORG"]);
    d.run(&["get", "c.example"]).fails(3, "no entry");
}

both_backends!(smoke);
