//! `vault import` end to end, part 1: each fixture under
//! tests/fixtures/import/ imported into a real vaultd with the real `vault`
//! binary, every field checked on the way out through `vault export`.
//! Part 2 (tests/import_rules.rs): --dry-run, duplicates, exit codes, the
//! encrypted round trip, progress.

mod cli_kit;
mod common;
#[path = "import_kit/mod.rs"]
mod import_kit;

use cli_kit::{Device, register};
use common::{Backend, TestServer};
use import_kit::{by_name, fixture, import_and_export, stderr_lines};
use serde_json::{Value, json};

fn field(doc: &Value, name: &str) -> Value {
    doc["fields"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == name)
        .cloned()
        .unwrap_or_else(|| panic!("no field {name:?} in {doc:#}"))
}

#[test]
fn bitwarden_json_every_item_type_and_field() {
    let server = TestServer::start(Backend::Sqlite).unwrap();
    let d = Device::new(&server.base_url(), "bw", "bw master password");
    register(&d);
    let (out, entries) = import_and_export(&d, "bitwarden.json", &[], &[]);
    assert_eq!(out.code, 0, "{out:#?}");
    let lines = stderr_lines(&out);
    assert!(
        lines.contains(
            &"bitwarden-json item 2 \"GitHub\": renamed \"GitHub (2)\" (the name is taken)"
        ),
        "{lines:#?}"
    );
    assert!(lines.contains(&"bitwarden-json: imported 7 of 7 items from bitwarden.json"));
    let e = by_name(&entries);
    let (gh, pw) = &e["GitHub"];
    assert_eq!(pw, "gh-pässwörd,\"quoted\"");
    assert_eq!(gh["type"], "login");
    assert_eq!(gh["username"], "octo-cat@example.org");
    assert_eq!(
        gh["urls"],
        json!(["https://github.com/login", "https://gist.github.com/"])
    );
    assert_eq!(
        gh["notes"],
        "Recovery codes:\n1234-5678, 9999-0000\n\"keep offline\""
    );
    assert_eq!(
        gh["totp"],
        "otpauth://totp/GitHub:octo?secret=JBSWY3DPEHPK3PXP&issuer=GitHub"
    );
    assert_eq!(gh["folder"], "Work");
    assert_eq!(gh["favourite"], true);
    assert_eq!(gh["created"], "2021-02-03T04:05:06Z");
    assert_eq!(gh["updated"], "2024-05-06T07:08:09Z");
    assert_eq!(
        gh["history"],
        json!([
            {"password": "old-pw-2", "replaced_at": "2024-03-01T10:00:00Z"},
            {"password": "old-pw-1", "replaced_at": "2023-12-24T18:30:00Z"}
        ])
    );
    assert_eq!(
        field(gh, "PIN"),
        json!({"name": "PIN", "value": "4321", "hidden": true})
    );
    assert_eq!(
        field(gh, "Security question, first pet")["value"],
        "Rex \"the dog\""
    );
    assert_eq!(field(gh, "2FA enabled")["value"], "true");
    assert_eq!(field(gh, "Login name")["value"], "linked to username");
    assert_eq!(
        field(gh, "URL match (https://gist.github.com/)")["value"],
        "exact"
    );
    assert_eq!(field(gh, "reprompt")["value"], "master password");
    assert_eq!(gh["trashed_at"], Value::Null);

    let (gh2, pw2) = &e["GitHub (2)"];
    assert_eq!(
        (gh2["username"].as_str(), pw2.as_str()),
        (Some("work-account"), "second-github")
    );
    assert_eq!(
        field(gh2, "URL match (https://github.com)")["value"],
        "host"
    );

    let (note, _) = &e["Wi-Fi à la maison"];
    assert_eq!(note["type"], "note");
    assert_eq!(note["folder"], "Famille, \"proches\" 👪");
    assert_eq!(
        note["notes"],
        "SSID: Maison\nKey: \"wpa, with comma\"\n日本語のメモ"
    );

    let (card, _) = &e["Visa, personal"];
    assert_eq!(card["type"], "card");
    assert_eq!(
        card["card"],
        json!({"cardholder": "Zoë O'Brien", "brand": "Visa", "number": "4111111111111111",
               "expiry": "07/2029", "code": "123"})
    );
    assert_eq!(card["notes"], "Limit 5000 €");
    assert_eq!(card["favourite"], true);

    let (id, _) = &e["Me (passport)"];
    assert_eq!(id["type"], "identity");
    assert_eq!(id["username"], "zobrien");
    assert_eq!(
        id["identity"],
        json!({"title": "Dr", "first_name": "Zoë", "middle_name": "Ann", "last_name": "O'Brien",
               "company": "Acme, Inc.", "email": "zoe@example.org", "phone": "+41 44 000 00 00",
               "address1": "1 Rue de l'Église", "address2": "Bât. B, \"Les Lilas\"", "address3": null,
               "city": "Zürich", "state": "ZH", "postal_code": "8001", "country": "CH",
               "ssn": "756.1234.5678.97", "passport_number": "X1234567",
               "license_number": "ZH-998877"})
    );

    let (ssh, _) = &e["deploy key"];
    assert_eq!(ssh["type"], "note");
    assert!(
        field(ssh, "private key")["value"]
            .as_str()
            .unwrap()
            .contains("\nb3BlbnNzaC1rZXktdjEAAAAA\n")
    );
    assert_eq!(field(ssh, "private key")["hidden"], true);
    assert_eq!(
        field(ssh, "fingerprint")["value"],
        "SHA256:abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
    );

    let (old, _) = &e["Old forum"];
    assert_eq!(old["trashed_at"], "2024-02-03T00:00:00Z");
    assert_eq!(old["totp"], "JBSW Y3DP EHPK 3PXP");
}

/// The password-protected export, PBKDF2 and Argon2id, gives the same
/// entries as the plain one; a wrong password is one clear line, exit 1.
#[test]
fn bitwarden_encrypted_json_pbkdf2_and_argon2id() {
    let server = TestServer::start(Backend::Sqlite).unwrap();
    let pw = ("VAULT_IMPORT_PASSWORD", "fixture export pw ✓");
    let plain = Device::new(&server.base_url(), "bwp", "bw plain password");
    register(&plain);
    let (_, want) = import_and_export(&plain, "bitwarden.json", &[], &[]);
    for (user, file) in [
        ("bwe1", "bitwarden_encrypted_pbkdf2.json"),
        ("bwe2", "bitwarden_encrypted_argon2id.json"),
    ] {
        let d = Device::new(&server.base_url(), user, "bw encrypted password");
        register(&d);
        let wrong = d.run_with(
            &["import", &fixture(file)],
            &[("VAULT_IMPORT_PASSWORD", "nope")],
            None,
        );
        assert_eq!(wrong.code, 1, "{wrong:#?}");
        assert!(
            wrong.stderr.contains("bitwarden-json: cannot import"),
            "{wrong:#?}"
        );
        assert!(wrong.stderr.contains("wrong password"), "{wrong:#?}");
        let (out, got) = import_and_export(&d, file, &[], &[pw]);
        assert_eq!(out.code, 0, "{out:#?}");
        assert_eq!(
            import_kit::without_times(&got),
            import_kit::without_times(&want),
            "{file}"
        );
    }
}

#[test]
fn bitwarden_csv_logins_notes_and_bad_rows() {
    let server = TestServer::start(Backend::Sqlite).unwrap();
    let d = Device::new(&server.base_url(), "bwc", "bw csv password");
    register(&d);
    let (out, entries) =
        import_and_export(&d, "bitwarden.csv", &["--format", "bitwarden-csv"], &[]);
    assert_eq!(out.code, 5, "{out:#?}");
    let lines = stderr_lines(&out);
    assert!(lines.contains(&"bitwarden-csv line 10 \"Short row\" (row): not imported: 6 fields where the header has 11"), "{lines:#?}");
    assert!(lines.contains(&"vault: bitwarden-csv: imported 4 of 5 items from bitwarden.csv; 1 not imported, see the lines above"), "{lines:#?}");
    let e = by_name(&entries);
    let (gh, pw) = &e["GitHub"];
    assert_eq!(pw, "gh-pässwörd,\"quoted\"");
    assert_eq!(gh["folder"], "Work");
    assert_eq!(gh["favourite"], true);
    assert_eq!(
        gh["urls"],
        json!(["https://github.com/login", "https://gist.github.com/"])
    );
    assert_eq!(field(gh, "PIN")["value"], "4321");
    assert_eq!(field(gh, "Security question")["value"], "Rex \"the dog\"");
    assert_eq!(
        gh["totp"],
        "otpauth://totp/GitHub:octo?secret=JBSWY3DPEHPK3PXP&issuer=GitHub"
    );
    assert_eq!(e["GitHub (2)"].1, "second-github");
    let (note, _) = &e["Wi-Fi à la maison"];
    assert_eq!(
        (note["type"].as_str(), note["notes"].as_str()),
        (Some("note"), Some("SSID: Maison\n日本語のメモ"))
    );
    assert_eq!(e["Shop.Example.net"].1, "shop-pw");
}

/// KDBX 3.1 (keepassxc-cli) and 4 (pykeepass), with a password and with a
/// password and key file: groups become folders, every attribute is kept,
/// the recycle bin is skipped and named (so exit 5).
#[test]
fn keepass_kdbx_31_and_4_with_and_without_key_file() {
    let server = TestServer::start(Backend::Sqlite).unwrap();
    let pw = ("VAULT_IMPORT_PASSWORD", "fixture db pw ✓");
    let key = fixture("fixture.keyx");
    for (i, (file, extra)) in [
        ("keepass31.kdbx", vec![]),
        ("keepass4.kdbx", vec![]),
        ("keepass31_keyfile.kdbx", vec!["--key-file", key.as_str()]),
        ("keepass4_keyfile.kdbx", vec!["--key-file", key.as_str()]),
    ]
    .into_iter()
    .enumerate()
    {
        let d = Device::new(&server.base_url(), &format!("kp{i}"), "kp master password");
        register(&d);
        if !extra.is_empty() {
            // Without the key file: the database does not open; nothing written.
            std::fs::copy(fixture(file), d.home.0.join(file)).unwrap();
            d.run_with(&["import", file], &[pw], None)
                .fails(1, "keepass: cannot import");
        }
        let (out, entries) = import_and_export(&d, file, &extra, &[pw]);
        assert_eq!(out.code, 5, "{file}: {out:#?}");
        let lines = stderr_lines(&out);
        assert!(
            lines.contains(&"keepass entry 4 \"Deleted thing\" (entry): not imported: in the keepass recycle bin (deleted there)"),
            "{file}: {lines:#?}"
        );
        assert!(
            lines
                .iter()
                .any(|l| l.starts_with("vault: keepass: imported 3 of 4 items")),
            "{lines:#?}"
        );
        let e = by_name(&entries);
        assert_eq!(e.len(), 3, "{file}: {e:#?}");
        let (gh, pw_) = &e["GitHub"];
        assert_eq!(pw_, "gh-pässwörd,\"quoted\"");
        assert_eq!(gh["username"], "octo-cat@example.org");
        assert_eq!(gh["urls"], json!(["https://github.com/login"]));
        assert_eq!(
            gh["notes"],
            "Recovery codes:\n1234-5678, 9999-0000\n\"keep offline\""
        );
        assert_eq!(
            gh["totp"],
            "otpauth://totp/GitHub:octo?secret=JBSWY3DPEHPK3PXP&period=30&digits=6&issuer=GitHub"
        );
        assert_eq!(gh["folder"], Value::Null);
        assert_eq!(gh["created"], "2021-02-03T04:05:06Z");
        if file.starts_with("keepass4") {
            assert_eq!(gh["updated"], "2024-05-06T07:08:09Z");
        } else {
            // Attaching the files (README) changed the 3.1 entries later.
            assert!(
                gh["updated"].as_str() > Some("2024-05-06T07:08:09Z"),
                "{gh:#}"
            );
        }
        assert_eq!(
            field(gh, "PIN"),
            json!({"name": "PIN", "value": "4321", "hidden": true})
        );
        assert_eq!(
            field(gh, "Security question, first pet")["value"],
            "Rex \"the dog\""
        );
        assert_eq!(field(gh, "tags")["value"], "dev, work");
        assert_eq!(field(gh, "expires")["value"], "2030-01-01T00:00:00Z");
        assert_eq!(
            gh["history"],
            json!([
                {"password": "old-pw-2", "replaced_at": "2024-05-06T07:08:09Z"},
                {"password": "old-pw-1", "replaced_at": "2023-12-24T18:30:00Z"}
            ])
        );
        if file.starts_with("keepass31") {
            // keepassxc-cli attachment-import: a text file and a binary one.
            assert_eq!(
                field(gh, "attachment: codes.txt")["value"],
                "code-1, code-2\n\"backup\" ✓\n"
            );
            assert!(
                lines.contains(&"keepass entry 1 \"GitHub\": attachment `recovery.bin` (16 bytes) not kept: vault stores no files: only text attachments up to 4 KiB are kept"),
                "{file}: {lines:#?}"
            );
        }
        let (gh2, pw2) = &e["GitHub (2)"];
        assert_eq!(pw2, "second-github");
        assert_eq!(gh2["folder"], "Work/Git, \"code\"");
        assert_eq!(
            field(gh2, "API token"),
            json!({"name": "API token", "value": "ghp_0123456789abcdef", "hidden": true})
        );
        let (wifi, wpw) = &e["Wi-Fi à la maison 日本"];
        assert_eq!(
            (wifi["notes"].as_str(), wpw.as_str()),
            (Some("SSID: Maison\n日本語のメモ"), "wpa, with comma")
        );
    }
}

#[test]
fn keepassxc_csv_lastpass_chrome_firefox() {
    let server = TestServer::start(Backend::Sqlite).unwrap();
    let d = Device::new(&server.base_url(), "csv1", "csv master password");
    register(&d);
    let (out, entries) = import_and_export(&d, "keepassxc.csv", &[], &[]);
    assert_eq!(out.code, 5, "{out:#?}");
    assert!(stderr_lines(&out).contains(&"keepassxc-csv line 5 \"Deleted thing\" (entry): not imported: in the KeePassXC recycle bin (deleted there)"), "{out:#?}");
    let e = by_name(&entries);
    let (forum, pw) = &e["Forum, général"];
    assert_eq!(
        (forum["username"].as_str(), pw.as_str()),
        (Some("me \"quoted\""), "forum-pw")
    );
    assert_eq!(forum["notes"], "multi\r\nline note, \"quoted\"");
    assert_eq!(
        forum["totp"],
        "otpauth://totp/Forum:me?secret=JBSWY3DPEHPK3PXP&period=30"
    );
    assert_eq!(
        (forum["created"].as_str(), forum["updated"].as_str()),
        (Some("2023-01-02T03:04:05Z"), Some("2024-01-02T03:04:05Z"))
    );
    let (gl, _) = &e["GitLab 🦊"];
    assert_eq!(gl["folder"], "Work/Git");
    assert_eq!(field(gl, "KeePass icon")["value"], "12");
    assert_eq!(e["GitLab 🦊 (2)"].1, "gl-pw-2");

    let d = Device::new(&server.base_url(), "csv2", "csv master password");
    register(&d);
    let (out, entries) = import_and_export(&d, "lastpass.csv", &[], &[]);
    assert_eq!(out.code, 0, "{out:#?}");
    let e = by_name(&entries);
    let (gh, pw) = &e["GitHub"];
    assert_eq!(
        (
            gh["folder"].as_str(),
            gh["favourite"].as_bool(),
            pw.as_str()
        ),
        (Some("Work\\Dev"), Some(true), "gh-pw,\"q\"")
    );
    assert_eq!(
        (gh["totp"].as_str(), gh["notes"].as_str()),
        (Some("JBSWY3DPEHPK3PXP"), Some("a note\nwith two lines"))
    );
    assert_eq!(e["GitHub (2)"].1, "gh-2");
    assert_eq!(
        e["Home notes"].0["notes"],
        "Door code 1234, \"back\" door\n日本語"
    );
    let (card, _) = &e["Visa card"];
    assert_eq!(
        card["card"],
        json!({"cardholder": "Zoë O'Brien", "brand": "Visa", "number": "4111111111111111", "expiry": "July,2029", "code": "123"})
    );
    assert_eq!(card["notes"], "limit 5000\nsecond line");
    assert_eq!(field(card, "Start Date")["value"], "January,2020");
    let (addr, _) = &e["Home address"];
    assert_eq!(addr["type"], "identity");
    assert_eq!(addr["identity"]["city"], "Zürich");
    assert_eq!(addr["identity"]["company"], "Acme, Inc.");
    assert_eq!(addr["username"], "zobrien");

    let d = Device::new(&server.base_url(), "csv3", "csv master password");
    register(&d);
    let (out, entries) = import_and_export(&d, "chrome.csv", &[], &[]);
    assert_eq!(out.code, 0, "{out:#?}");
    let e = by_name(&entries);
    assert_eq!(
        e["github.com"].0["notes"],
        "note, with comma\nand a second line"
    );
    assert_eq!(
        e["github.com (2)"].0["urls"],
        json!(["https://github.com/session"])
    );
    assert_eq!(e["bücher.example"].1, "pässwörd 🔒");

    let d = Device::new(&server.base_url(), "csv4", "csv master password");
    register(&d);
    let (out, entries) = import_and_export(&d, "firefox.csv", &[], &[]);
    assert_eq!(out.code, 0, "{out:#?}");
    let e = by_name(&entries);
    let (gh, pw) = &e["github.com"];
    assert_eq!(
        (gh["username"].as_str(), pw.as_str()),
        (Some("octo"), "gh-pw,\"q\"")
    );
    assert_eq!(
        (gh["created"].as_str(), gh["updated"].as_str()),
        (Some("2021-01-01T00:00:00Z"), Some("2023-01-01T00:00:00Z"))
    );
    assert_eq!(field(gh, "last used")["value"], "2024-01-01T00:00:00Z");
    assert_eq!(
        field(gh, "form action origin")["value"],
        "https://github.com"
    );
    let (intra, _) = &e["intranet.example"];
    assert_eq!(field(intra, "HTTP realm")["value"], "Intranet realm");
    assert_eq!(e["github.com (2)"].1, "gh-2");
}

#[test]
fn onepassword_1pux() {
    let server = TestServer::start(Backend::Sqlite).unwrap();
    let d = Device::new(&server.base_url(), "op", "1p master password");
    register(&d);
    // A document's file cannot be kept: the dry run and the import say so.
    let not_kept = "1password-1pux item 7 \"Passport scan\": file `passport.pdf` not kept: vault stores no files";
    let (out, entries) = import_and_export(&d, "onepassword.1pux", &["--dry-run"], &[]);
    assert_eq!((out.code, entries.len()), (0, 0), "{out:#?}");
    let lines = stderr_lines(&out);
    assert!(lines.contains(&not_kept), "{lines:#?}");
    assert!(
        lines.contains(&"1password-1pux: 1 document → note (0 renamed, 1 with fields not kept)"),
        "{lines:#?}"
    );
    let (out, entries) = import_and_export(&d, "onepassword.1pux", &[], &[]);
    assert_eq!(out.code, 0, "{out:#?}");
    assert!(stderr_lines(&out).contains(&not_kept), "{out:#?}");
    let e = by_name(&entries);
    assert_eq!(e["Passport scan"].0["notes"], "scanned 2024");
    let (gh, pw) = &e["GitHub"];
    assert_eq!(
        (gh["username"].as_str(), pw.as_str()),
        (Some("octo"), "gh-pw,\"q\"")
    );
    assert_eq!(
        gh["urls"],
        json!(["https://github.com/login", "https://gist.github.com"])
    );
    assert_eq!(gh["totp"], "otpauth://totp/GitHub?secret=JBSWY3DPEHPK3PXP");
    assert_eq!(gh["notes"], "note, with comma\nsecond line 日本語");
    assert_eq!(
        (gh["folder"].as_str(), gh["favourite"].as_bool()),
        (Some("Personal"), Some(true))
    );
    assert_eq!(
        field(gh, "Security: PIN"),
        json!({"name": "Security: PIN", "value": "4321", "hidden": true})
    );
    assert_eq!(field(gh, "Security: first pet")["value"], "Rex \"the dog\"");
    assert_eq!(field(gh, "remember")["value"], "remember-me");
    assert_eq!(field(gh, "tags")["value"], "dev, work");
    assert_eq!(
        gh["history"],
        json!([{"password": "old-gh", "replaced_at": "2023-01-01T00:00:00Z"}])
    );
    assert_eq!(
        (gh["created"].as_str(), gh["updated"].as_str()),
        (Some("2021-01-01T00:00:00Z"), Some("2024-01-01T00:00:00Z"))
    );
    assert_eq!(e["GitHub (2)"].1, "gh-2");
    let (card, _) = &e["Visa"];
    assert_eq!(
        card["card"],
        json!({"cardholder": "Zoë O'Brien", "brand": "visa", "number": "4111111111111111", "expiry": "07/2029", "code": "123"})
    );
    assert_eq!(
        field(card, "issuing bank")["value"],
        "Banque, \"Cantonale\""
    );
    let (me, _) = &e["Me"];
    assert_eq!(me["identity"]["first_name"], "Zoë");
    assert_eq!(me["identity"]["address1"], "1 Rue de l'Église");
    assert_eq!(me["identity"]["email"], "zoe@example.org");
    assert_eq!(
        field(me, "Identification: birth date")["value"],
        "1990-01-01T00:00:00Z"
    );
    let (home, _) = &e["Home notes"];
    assert_eq!(field(home, "1Password state")["value"], "archived");
    let (router, _) = &e["Wi-Fi router"];
    assert_eq!(
        field(router, "wireless network password"),
        json!({"name": "wireless network password", "value": "wpa, with comma", "hidden": true})
    );
}
