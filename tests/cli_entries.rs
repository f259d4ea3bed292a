//! Entry format v2 from the CLI, end to end against a real
//! vaultd on both backends: add/edit options, show, code, history, trash,
//! search and get by URL or partial name.

mod cli_kit;
mod common;

use cli_kit::{Device, ls, register};
use common::{Backend, TestServer};
use serde_json::{Value, json};
use vaultd::client::totp::Totp;

/// Every option of `add`, then `show` (masked, --reveal, --json) and `get
/// --field` of each member, `--json --field`.
fn add_show_get(backend: Backend) {
    let Some(server) = TestServer::start(backend) else {
        return;
    };
    let d = Device::new(&server.base_url(), "rich", "rich entries master pw");
    register(&d);
    let totp = "otpauth://totp/GitHub:rich?secret=JBSWY3DPEHPK3PXP&issuer=GitHub";
    d.input(
        &[
            "add",
            "GitHub",
            "--username",
            "rich",
            "--url",
            "https://github.com/login",
            "--url",
            "https://gist.github.com",
            "--notes",
            "recovery: 1111 2222\nsecond line",
            "--totp",
            totp,
            "--field",
            "Account=42",
            "--hidden-field",
            "PIN=0000",
            "--folder",
            "Work",
            "--favourite",
        ],
        "gh-password\n",
    )
    .ok();
    let shown = d.run(&["show", "github"]).ok().stdout;
    for part in [
        "name:",
        "GitHub",
        "username:",
        "https://github.com/login",
        "https://gist.github.com",
        "recovery: 1111 2222",
        "second line",
        "Account:",
        "42",
        "Work",
        "favourite:",
    ] {
        assert!(shown.contains(part), "{part:?} not in {shown}");
    }
    for secret in ["gh-password", "0000", "JBSWY3DPEHPK3PXP"] {
        assert!(
            !shown.contains(secret),
            "{secret} shown without --reveal: {shown}"
        );
    }
    let revealed = d.run(&["show", "github", "--reveal"]).ok().stdout;
    for secret in ["gh-password", "PIN:", "0000", "JBSWY3DPEHPK3PXP"] {
        assert!(revealed.contains(secret), "{secret} not in {revealed}");
    }
    let j = d.run(&["show", "GitHub", "--json"]).ok().json();
    assert_eq!(j["password"], "********");
    assert_eq!(j["type"], "login");
    assert_eq!(
        j["urls"],
        json!(["https://github.com/login", "https://gist.github.com"])
    );
    assert_eq!(
        j["fields"][0],
        json!({"name": "Account", "value": "42", "hidden": false})
    );
    assert_eq!(j["fields"][1]["value"], "********");
    assert_eq!(
        (&j["folder"], &j["favourite"]),
        (&json!("Work"), &json!(true))
    );
    assert_eq!(j["version"], 1);
    let j = d.run(&["show", "GitHub", "--json", "--reveal"]).ok().json();
    assert_eq!(
        (&j["password"], &j["totp"]),
        (&json!("gh-password"), &json!(totp))
    );
    assert_eq!(j["fields"][1]["value"], "0000");

    get_fields_and_types(&d);
}

/// `get --field` of each member, `--json --field`; notes and cards.
fn get_fields_and_types(d: &Device) {
    let field = |f: &str| d.run(&["get", "github", "--field", f]).ok().stdout;
    assert_eq!(field("notes"), "recovery: 1111 2222\nsecond line\n");
    assert_eq!(field("PIN"), "0000\n");
    assert_eq!(
        field("url"),
        "https://github.com/login\nhttps://gist.github.com\n"
    );
    assert_eq!(field("folder"), "Work\n");
    // --json with --field: that field only, never the whole entry.
    let j = d
        .run(&["get", "github", "--field", "username", "--json"])
        .ok()
        .json();
    assert_eq!(j, json!({"username": "rich"}));
    let j = d
        .run(&["get", "github", "--field", "password", "--json"])
        .ok()
        .json();
    assert_eq!(j, json!({"password": "gh-password"}));
    d.run(&["get", "github", "--field", "nope"])
        .fails(2, "unknown field `nope`");

    // A secure note, a card: no password needed; notes from stdin.
    d.input(
        &["add", "Recovery codes", "--type", "note", "--notes-stdin"],
        "a\nb\n",
    )
    .ok();
    assert_eq!(
        d.run(&["get", "recovery codes", "--field", "notes"])
            .ok()
            .stdout,
        "a\nb\n"
    );
    assert_eq!(d.run(&["get", "recovery codes"]).ok().stdout, "\n");
    d.run(&[
        "add",
        "Visa",
        "--type",
        "card",
        "--hidden-field",
        "number=4111",
    ])
    .ok();
    assert_eq!(
        d.run(&["show", "visa", "--json"]).ok().json()["type"],
        "card"
    );
    d.run(&["add", "x", "--type", "boat"])
        .fails(2, "unknown type `boat`");
    d.run(&["add", "x", "--field", "novalue"])
        .fails(2, "NAME=VALUE");
    d.run(&["add", "x", "--totp", "not base32!"])
        .fails(2, "--totp");
    assert_eq!(ls(d), ["GitHub", "Recovery codes", "Visa"]);
}

/// `vault code`: the RFC 6238 code of the entry's secret now.
fn code(backend: Backend) {
    let Some(server) = TestServer::start(backend) else {
        return;
    };
    let d = Device::new(&server.base_url(), "otp", "otp entries master pw");
    register(&d);
    let uri = "otpauth://totp/x?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&algorithm=SHA256&digits=8";
    d.input(&["add", "otp.example", "--totp", uri], "pw").ok();
    let totp = Totp::parse(uri).unwrap();
    let now = || {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs()
    };
    let before = totp.code_at(now());
    let got = d.run(&["code", "otp.example"]).ok().stdout;
    let after = totp.code_at(now());
    assert!(
        got == format!("{before}\n") || got == format!("{after}\n"),
        "{got}"
    );
    assert_eq!(got.trim().len(), 8);
    // On a terminal, with the seconds left.
    let shown = cli_kit::on_terminal(&d, &["code", "otp.example"], "");
    assert!(shown.contains(" s left)"), "{shown}");
    d.input(&["add", "plain.example"], "pw").ok();
    d.run(&["code", "plain.example"])
        .fails(1, "has no TOTP secret");
}

/// edit options, history (newest first, at most 10), trash and restore,
/// rm --purge.
fn edit_history_trash(backend: Backend) {
    let Some(server) = TestServer::start(backend) else {
        return;
    };
    let d = Device::new(&server.base_url(), "hist", "hist entries master pw");
    register(&d);
    d.input(
        &[
            "add",
            "shop.example",
            "--url",
            "https://a.example",
            "--field",
            "k=v",
        ],
        "pw-0",
    )
    .ok();
    for i in 1..=11 {
        d.input(
            &["edit", "shop.example", "--password-stdin"],
            &format!("pw-{i}"),
        )
        .ok();
    }
    let history = d.run(&["history", "shop.example", "--reveal"]).ok().stdout;
    let lines: Vec<&str> = history.lines().collect();
    assert_eq!(lines.len(), 10, "{history}");
    assert!(
        lines[0].ends_with("  pw-10") && lines[9].ends_with("  pw-1"),
        "{history}"
    );
    assert!(
        lines[0].len() == 20 + 2 + 5 && lines[0].as_bytes()[10] == b'T',
        "{history}"
    );
    let masked = d.run(&["history", "shop.example"]).ok().stdout;
    assert!(!masked.contains("pw-"), "{masked}");
    d.run(&[
        "edit",
        "shop.example",
        "--url",
        "https://b.example",
        "--field",
        "k=",
        "--field",
        "n=1",
        "--notes",
        "note",
        "--folder",
        "F",
        "--favourite",
        "--username",
        "u",
    ])
    .ok();
    let j = d.run(&["show", "shop.example", "--json"]).ok().json();
    assert_eq!(j["urls"], json!(["https://b.example"]));
    assert_eq!(
        j["fields"],
        json!([{"name": "n", "value": "1", "hidden": false}])
    );
    assert_eq!(
        (&j["notes"], &j["folder"], &j["username"]),
        (&json!("note"), &json!("F"), &json!("u"))
    );
    assert_eq!(j["favourite"], true);
    d.run(&["edit", "shop.example", "--no-favourite", "--folder", ""])
        .ok();
    let j = d.run(&["show", "shop.example", "--json"]).ok().json();
    assert_eq!(
        (&j["favourite"], &j["folder"]),
        (&json!(false), &Value::Null)
    );
    assert_eq!(d.run(&["get", "shop.example"]).ok().stdout, "pw-11\n");
    trash_restore_purge(&server, &d);
}

/// Trash: hidden from ls, listed by trash, back with restore; purge.
fn trash_restore_purge(server: &TestServer, d: &Device) {
    d.run(&["rm", "shop.example"]).ok();
    assert_eq!(ls(d), Vec::<String>::new());
    assert_eq!(d.run(&["trash"]).ok().stdout, "shop.example\n");
    d.run(&["edit", "shop.example", "--username", "x"])
        .fails(3, "in the trash");
    d.run(&["restore", "shop.example"]).ok();
    d.run(&["restore", "shop.example"])
        .fails(1, "is not in the trash");
    assert_eq!(ls(d), ["shop.example"]);
    assert_eq!(d.run(&["trash"]).ok().stdout, "");
    // Purge asks; without a terminal it needs --yes, and nothing goes.
    d.run(&["rm", "shop.example", "--purge"])
        .fails(2, "pass --yes");
    assert_eq!(ls(d), ["shop.example"]);
    d.run(&["rm", "shop.example", "--yes"])
        .fails(2, "--yes goes with --purge");
    d.run(&["rm", "shop.example", "--purge", "--yes"]).ok();
    let (status, body) = server.post("/get", Some(&token(server, "hist")), &json!({}));
    assert_eq!(
        (status, body["entries"].as_array().unwrap().len()),
        (200, 0)
    );
}

fn token(server: &TestServer, name: &str) -> String {
    vaultd::client::Client::new(&server.base_url())
        .unwrap()
        .login(name, "hist entries master pw")
        .unwrap()
        .token()
        .as_str()
        .to_owned()
}

/// search (names, usernames, URLs, folders; substring then fuzzy) and get
/// by URL or partial name; an ambiguous one lists the candidates.
fn search_and_find(backend: Backend) {
    let Some(server) = TestServer::start(backend) else {
        return;
    };
    let d = Device::new(&server.base_url(), "finder", "finder entries master pw");
    register(&d);
    d.input(
        &[
            "add",
            "GitHub",
            "--url",
            "https://github.com/login",
            "--username",
            "octo",
        ],
        "gh",
    )
    .ok();
    d.input(&["add", "gitlab.com", "--folder", "Code"], "gl")
        .ok();
    d.input(
        &["add", "Bank", "--url", "https://online.bank.example/"],
        "bk",
    )
    .ok();
    let names = |args: &[&str]| {
        d.run(args)
            .ok()
            .lines()
            .iter()
            .map(|s| s.to_string())
            .collect::<Vec<_>>()
    };
    assert_eq!(names(&["search", "git"]), ["GitHub", "gitlab.com"]);
    assert_eq!(names(&["search", "octo"]), ["GitHub"]);
    assert_eq!(names(&["search", "bank.example"]), ["Bank"]);
    assert_eq!(names(&["search", "code"]), ["gitlab.com"]);
    assert_eq!(names(&["search", "gthb"]), ["GitHub"]);
    d.run(&["search", "zzz"]).fails(3, "no entry for `zzz`");
    let j = d.run(&["search", "git", "--json"]).ok().json();
    assert_eq!(j[0]["site"], "GitHub");
    assert!(j[0].get("password").is_none());

    assert_eq!(
        d.run(&["get", "https://gist.github.com/x"]).ok().stdout,
        "gh\n"
    );
    assert_eq!(
        d.run(&["get", "https://www.online.bank.example/a"])
            .ok()
            .stdout,
        "bk\n"
    );
    assert_eq!(d.run(&["get", "lab"]).ok().stdout, "gl\n");
    let out = d
        .run(&["get", "git"])
        .fails(1, "`git` matches 2 entries: GitHub, gitlab.com");
    assert_eq!(out.stdout, "");
    d.run(&["get", "https://nowhere.example/"])
        .fails(3, "no entry");
}

both_backends!(add_show_get, code, edit_history_trash, search_and_find);
