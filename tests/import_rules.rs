//! `vault import` end to end, part 2: --dry-run, duplicate
//! names, exit codes, the plaintext and encrypted round trips, progress.
//! Part 1 (tests/import.rs) checks every fixture's fields.

mod cli_kit;
mod common;
#[path = "import_kit/mod.rs"]
mod import_kit;

use cli_kit::{Device, register};
use common::{Backend, TestServer};
use import_kit::{by_name, export, fixture, import_and_export, stderr_lines};

/// --dry-run prints per item type what maps to what, and what would not
/// be imported, with the same exit code as the import; it writes nothing.
#[test]
fn dry_run_writes_nothing() {
    let server = TestServer::start(Backend::Sqlite).unwrap();
    let d = Device::new(&server.base_url(), "dry", "dry master password");
    register(&d);
    let (out, entries) = import_and_export(&d, "bitwarden.csv", &["--dry-run"], &[]);
    assert_eq!(out.code, 5, "{out:#?}");
    assert_eq!(out.stdout, "");
    assert!(entries.is_empty(), "{entries:#?}");
    assert_eq!(
        stderr_lines(&out),
        [
            "bitwarden-csv line 6 \"GitHub\": renamed \"GitHub (2)\" (the name is taken)",
            "bitwarden-csv: 3 login → login (1 renamed, 0 with fields not kept)",
            "bitwarden-csv: 1 secure note → note (0 renamed, 0 with fields not kept)",
            "bitwarden-csv: 1 row not imported (listed below)",
            "bitwarden-csv line 10 \"Short row\" (row): not imported: 6 fields where the header has 11",
            "bitwarden-csv: dry run, nothing written",
            "vault: bitwarden-csv: would import 4 of 5 items from bitwarden.csv; 1 not imported, see the lines above",
        ]
    );
    // Every type of a richer file, named by the format auto-detected.
    let (out, entries) = import_and_export(&d, "bitwarden.json", &["--dry-run"], &[]);
    assert_eq!(out.code, 0, "{out:#?}");
    assert!(entries.is_empty());
    for line in [
        "bitwarden-json: 3 login → login (1 renamed, 0 with fields not kept)",
        "bitwarden-json: 1 card → card (0 renamed, 0 with fields not kept)",
        "bitwarden-json: 1 identity → identity (0 renamed, 0 with fields not kept)",
        "bitwarden-json: 1 secure note → note (0 renamed, 0 with fields not kept)",
        "bitwarden-json: 1 ssh key → note (0 renamed, 0 with fields not kept)",
        "bitwarden-json: would import 7 of 7 items from bitwarden.json",
    ] {
        assert!(stderr_lines(&out).contains(&line), "{line}: {out:#?}");
    }
}

/// rename (default), skip and overwrite, against the vault and inside
/// the file; never a skip without a line; exit 1 when nothing is imported.
#[test]
fn duplicates_rename_skip_overwrite() {
    let server = TestServer::start(Backend::Sqlite).unwrap();
    let d = Device::new(&server.base_url(), "dup", "dup master password");
    register(&d);
    let (out, _) = import_and_export(&d, "bitwarden.csv", &[], &[]);
    assert_eq!(out.code, 5, "{out:#?}");

    let (out, entries) = import_and_export(&d, "bitwarden.csv", &["--on-duplicate", "skip"], &[]);
    assert_eq!(out.code, 1, "{out:#?}");
    assert_eq!(entries.len(), 4);
    let lines = stderr_lines(&out);
    for (place, name) in [
        ("line 2", "GitHub"),
        ("line 6", "GitHub"),
        ("line 7", "Wi-Fi à la maison"),
        ("line 9", "Shop.Example.net"),
    ] {
        assert!(
            lines.iter().any(
                |l| l.starts_with(&format!("bitwarden-csv {place} \"{name}\" ("))
                    && l.ends_with(
                        "not imported: the name is already taken in the vault (--on-duplicate skip)"
                    )
            ),
            "{place}: {lines:#?}"
        );
    }
    assert_eq!(
        lines.last(),
        Some(
            &"vault: bitwarden-csv: imported 0 of 5 items from bitwarden.csv; see the lines above"
        )
    );

    let (out, entries) = import_and_export(&d, "bitwarden.csv", &[], &[]);
    assert_eq!(out.code, 5, "{out:#?}");
    let e = by_name(&entries);
    assert_eq!(e["GitHub (3)"].0["username"], "octo-cat@example.org");
    assert_eq!(e["GitHub (4)"].1, "second-github");
    assert_eq!(e["Wi-Fi à la maison (2)"].0["type"], "note");

    // overwrite: the vault's entry is replaced; inside the file the later
    // row wins and the earlier one is named.
    let csv = "name,url,username,password\nWi-Fi à la maison,https://a.example,first,pw-1\nwi-fi à la maison,https://b.example,second,pw-2\n";
    std::fs::write(d.home.0.join("over.csv"), csv).unwrap();
    let out = d.run(&["import", "over.csv", "--on-duplicate", "overwrite"]);
    assert_eq!(out.code, 5, "{out:#?}");
    assert!(stderr_lines(&out).contains(&"chrome-csv line 2 \"Wi-Fi à la maison\" (password): not imported: overwritten by line 3 of the same name (--on-duplicate overwrite)"), "{out:#?}");
    let e = by_name(&export(&d));
    assert_eq!(e.len(), 8);
    assert!(!e.contains_key("Wi-Fi à la maison"));
    let (w, pw) = &e["wi-fi à la maison"];
    assert_eq!(
        (w["type"].as_str(), w["username"].as_str(), pw.as_str()),
        (Some("login"), Some("second"), "pw-2")
    );

    d.run(&["import", "over.csv", "--on-duplicate", "merge"])
        .fails(2, "unknown --on-duplicate `merge`");
}

/// Exit 1: a file no format matches, an unknown --format, an empty file.
#[test]
fn exit_codes_and_detection() {
    let server = TestServer::start(Backend::Sqlite).unwrap();
    let d = Device::new(&server.base_url(), "codes", "codes master password");
    register(&d);
    std::fs::write(d.home.0.join("notes.txt"), "just some text\n").unwrap();
    d.run(&["import", "notes.txt"]).fails(
        1,
        "cannot tell which manager's export notes.txt is; pass --format",
    );
    d.run(&["import", "notes.txt", "--format", "lastpass"])
        .fails(2, "unknown format `lastpass`");
    d.input(
        &["import", "-", "--format", "chrome-csv"],
        "name,url,username,password\n",
    )
    .fails(1, "chrome-csv: - holds no items");
    d.input(&["import", "-", "--format", "keepass"], "not a database")
        .fails(1, "keepass: cannot import -: not a keepass database");
    // Auto-detected from stdin, every item imported: exit 0.
    let out = d.input(
        &["import", "-"],
        &std::fs::read_to_string(fixture("firefox.csv")).unwrap(),
    );
    assert_eq!(out.code, 0, "{out:#?}");
    assert!(
        out.stderr
            .ends_with("firefox-csv: imported 3 of 3 items from -\n"),
        "{out:#?}"
    );
}

/// export → import into a fresh account → export gives the same entries,
/// every field (dates, history, trash, custom fields, cards…), through the
/// plaintext export and through the encrypted one.
#[test]
fn export_round_trips_plain_and_encrypted() {
    let server = TestServer::start(Backend::Sqlite).unwrap();
    let a = Device::new(&server.base_url(), "rta", "round trip password");
    register(&a);
    let (out, _) = import_and_export(&a, "bitwarden.json", &[], &[]);
    assert_eq!(out.code, 0, "{out:#?}");
    let plain = a.run(&["export"]).ok();
    assert!(
        plain
            .stderr
            .starts_with("warning: this export holds every password in plain text"),
        "{plain:#?}"
    );
    let first = export(&a);
    assert_eq!(first.len(), 7);

    let b = Device::new(&server.base_url(), "rtb", "round trip password");
    register(&b);
    std::fs::write(b.home.0.join("plain.json"), &plain.stdout).unwrap();
    let out = b.run(&["import", "plain.json"]);
    assert_eq!(out.code, 0, "{out:#?}");
    assert!(
        out.stderr.contains("vault: imported 7 of 7 items"),
        "{out:#?}"
    );
    assert_eq!(export(&b), first);

    let secret = [("VAULT_EXPORT_PASSWORD", "export pw ✓")];
    let out = a.run_with(&["export", "--encrypted", "sealed.json"], &secret, None);
    assert_eq!((out.code, out.stdout.as_str()), (0, ""), "{out:#?}");
    let sealed = a.home.0.join("sealed.json");
    let text = std::fs::read_to_string(&sealed).unwrap();
    assert!(text.contains("\"format\": \"vault-export-encrypted\""));
    assert!(
        !text.contains("gh-pässwörd") && !text.contains("GitHub"),
        "{text}"
    );
    use std::os::unix::fs::PermissionsExt as _;
    assert_eq!(
        std::fs::metadata(&sealed).unwrap().permissions().mode() & 0o777,
        0o600
    );

    let c = Device::new(&server.base_url(), "rtc", "round trip password");
    register(&c);
    std::fs::copy(&sealed, c.home.0.join("sealed.json")).unwrap();
    let wrong = c.run_with(
        &["import", "sealed.json"],
        &[("VAULT_IMPORT_PASSWORD", "wrong")],
        None,
    );
    assert_eq!(wrong.code, 1, "{wrong:#?}");
    assert!(
        wrong
            .stderr
            .contains("vault-encrypted: cannot import sealed.json: wrong password"),
        "{wrong:#?}"
    );
    let out = c.run_with(
        &["import", "sealed.json"],
        &[("VAULT_IMPORT_PASSWORD", "export pw ✓")],
        None,
    );
    assert_eq!(out.code, 0, "{out:#?}");
    assert_eq!(export(&c), first);
}

/// 100 items and more: a progress line on stderr (every tenth when stderr
/// is not a terminal).
#[test]
fn progress_line_from_100_items() {
    let server = TestServer::start(Backend::Sqlite).unwrap();
    let d = Device::new(&server.base_url(), "many", "many master password");
    register(&d);
    let mut csv = String::from("name,url,username,password\n");
    for i in 0..120 {
        csv.push_str(&format!(
            "site{i}.example,https://site{i}.example,user{i},pw-{i}\n"
        ));
    }
    let out = d.input(&["import", "-"], &csv);
    assert_eq!(out.code, 0, "{out:#?}");
    let lines = stderr_lines(&out);
    assert_eq!(
        lines
            .iter()
            .filter(|l| l.starts_with("chrome-csv: importing "))
            .count(),
        10,
        "{lines:#?}"
    );
    assert!(
        lines.contains(&"chrome-csv: importing 12/120")
            && lines.contains(&"chrome-csv: importing 120/120")
    );
    assert_eq!(export(&d).len(), 120);
    // Under 100: no progress line.
    let out = d.input(
        &["import", "-", "--on-duplicate", "skip"],
        "name,url,username,password\nx.example,,u,p\n",
    );
    assert_eq!(
        stderr_lines(&out),
        ["chrome-csv: imported 1 of 1 items from -"]
    );
}
