//! Entry formats across releases, end to end on both backends: entries
//! that vault 0.1 wrote (format 1, sealed here through the format 1 code
//! that is kept for reading) still read and are rewritten as format 2 when
//! edited; site names are NFC-normalised; entries vault 0.1 filed under a
//! non-NFC hash are re-indexed on first sight, nothing lost, nothing doubled.

mod cli_kit;
mod common;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use cli_kit::{Device, ls, register};
use common::{Backend, TestServer};
use serde_json::json;
use vaultd::client::crypto::{Field, blob_version};
use vaultd::client::{Client, Session};

const MASTER: &str = "format entries master pw";

fn session(server: &TestServer, name: &str) -> Session {
    Client::new(&server.base_url())
        .unwrap()
        .login(name, MASTER)
        .unwrap()
}

/// Writes an entry as vault 0.1 did: format 1 blobs, hashed with the
/// rule without NFC.
fn add_v1(server: &TestServer, s: &Session, name: &str, user: &str, pw: &str) {
    let key = s.vault_key();
    let hash = key.site_hash_v1(name).unwrap();
    let body = json!({
        "site": URL_SAFE_NO_PAD.encode(hash),
        "username": key.seal_username(&hash, name, Some(user)).unwrap(),
        "password": key.seal_field(&hash, Field::Password, pw.as_bytes()).unwrap(),
    });
    let (status, answer) = server.post("/add", Some(s.token().as_str()), &body);
    assert_eq!(status, 201, "{answer}");
}

/// Every stored entry: (wire site, format of its username blob).
fn stored(server: &TestServer, s: &Session) -> Vec<(String, u8)> {
    let (status, body) = server.post("/get", Some(s.token().as_str()), &json!({}));
    assert_eq!(status, 200);
    body["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            let blob = e["username"].as_str().unwrap();
            (
                e["site"].as_str().unwrap().to_owned(),
                blob_version(blob).unwrap(),
            )
        })
        .collect()
}

fn v1_entries_read_and_are_rewritten(backend: Backend) {
    let Some(server) = TestServer::start(backend) else {
        return;
    };
    let d = Device::new(&server.base_url(), "old", MASTER);
    register(&d);
    let s = session(&server, "old");
    add_v1(&server, &s, "Legacy.Example", "lee", "legacy-pw");
    assert_eq!(stored(&server, &s)[0].1, 1);
    assert_eq!(ls(&d), ["Legacy.Example"]);
    assert_eq!(d.run(&["get", "legacy.example"]).ok().stdout, "legacy-pw\n");
    let j = d
        .run(&["show", "legacy.example", "--json", "--reveal"])
        .ok()
        .json();
    assert_eq!(
        (&j["type"], &j["username"], &j["history"]),
        (&json!("login"), &json!("lee"), &json!([]))
    );
    d.run(&["edit", "legacy.example", "--url", "https://legacy.example"])
        .ok();
    let after = stored(&server, &s);
    assert_eq!(after.len(), 1);
    assert_eq!(
        after[0],
        (s.site_id("Legacy.Example").unwrap(), 2),
        "rewritten as format 2"
    );
    let j = d
        .run(&["show", "legacy.example", "--json", "--reveal"])
        .ok()
        .json();
    assert_eq!(
        (&j["urls"], &j["password"]),
        (&json!(["https://legacy.example"]), &json!("legacy-pw"))
    );
}

fn nfc_names_are_one_entry(backend: Backend) {
    let Some(server) = TestServer::start(backend) else {
        return;
    };
    let d = Device::new(&server.base_url(), "nfc", MASTER);
    register(&d);
    d.input(&["add", "caf\u{e9}.fr"], "nfc-pw").ok();
    d.input(&["add", "cafe\u{301}.fr"], "nfd-pw")
        .fails(1, "exists already");
    assert_eq!(d.run(&["get", "CAFE\u{301}.FR"]).ok().stdout, "nfc-pw\n");
    assert_eq!(ls(&d), ["caf\u{e9}.fr"]);
}

fn old_hashes_are_reindexed(backend: Backend) {
    let Some(server) = TestServer::start(backend) else {
        return;
    };
    let d = Device::new(&server.base_url(), "reidx", MASTER);
    register(&d);
    let s = session(&server, "reidx");
    let nfd = "Cafe\u{301}.example";
    // Seen first by a listing.
    add_v1(&server, &s, nfd, "ann", "nfd-pw");
    // Seen first by a lookup, with the spelling it was stored under.
    add_v1(
        &server,
        &s,
        "Re\u{301}sume\u{301}.example",
        "bob",
        "resume-pw",
    );
    // Already NFC: both rules give one hash, nothing to move.
    add_v1(&server, &s, "Sm\u{f6}rg\u{e5}s.example", "", "x");
    assert_eq!(stored(&server, &s).len(), 3);
    assert_eq!(
        d.run(&["get", "Re\u{301}sume\u{301}.example"]).ok().stdout,
        "resume-pw\n"
    );
    assert!(stored(&server, &s).contains(&(s.site_id("résumé.example").unwrap(), 2)));
    assert_eq!(
        ls(&d),
        [
            "Cafe\u{301}.example",
            "Re\u{301}sume\u{301}.example",
            "Sm\u{f6}rg\u{e5}s.example"
        ]
    );
    let now = stored(&server, &s);
    assert_eq!(now.len(), 3, "nothing doubled: {now:?}");
    let smorgas = s.site_id("Sm\u{f6}rg\u{e5}s.example").unwrap();
    for (site, v) in &now {
        assert_eq!(*v, if *site == smorgas { 1 } else { 2 }, "{now:?}");
    }
    for (name, pw) in [
        ("café.example", "nfd-pw"),
        (nfd, "nfd-pw"),
        ("résumé.example", "resume-pw"),
    ] {
        assert_eq!(
            d.run(&["get", name]).ok().stdout,
            format!("{pw}\n"),
            "{name}"
        );
    }
    assert_eq!(
        d.run(&["get", "café.example", "--field", "username"])
            .ok()
            .stdout,
        "ann\n"
    );

    // A cut-off move (old copy left beside the new one) is finished.
    let s2 = session(&server, "reidx");
    add_v1(&server, &s2, nfd, "ann", "nfd-pw");
    assert_eq!(stored(&server, &s2).len(), 4);
    assert_eq!(ls(&d).len(), 3);
    assert_eq!(stored(&server, &s2).len(), 3, "the stale copy is gone");
    // Two different entries the user made: both kept, neither lost.
    add_v1(&server, &s2, nfd, "other", "other-pw");
    let listed = ls(&d);
    assert_eq!(
        listed.iter().filter(|n| n.as_str() == nfd).count(),
        2,
        "{listed:?}"
    );
    assert_eq!(stored(&server, &s2).len(), 4);
}

both_backends!(
    v1_entries_read_and_are_rewritten,
    nfc_names_are_one_entry,
    old_hashes_are_reindexed
);
