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

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use cli_kit::{Device, contains, dead_url, files_under, ls, register};
use common::{Backend, TestServer};
use serde_json::{Value, json};
use vaultd::client::{Client, Error as ClientError};

const LOWER: &str = "abcdefghijklmnopqrstuvwxyz";
const UPPER: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZ";
const DIGITS: &str = "0123456789";
const SYMBOLS: &str = "!#%&()*+,-./:;<=>?@[]^_{|}~";

const COMMANDS: [&str; 13] = [
    "register",
    "add",
    "get",
    "ls",
    "edit",
    "rm",
    "generate",
    "passwd",
    "export",
    "import",
    "logout",
    "unregister",
    "completions",
];

// --- A proxy for "another device" between the CLI's read and its write -----

/// A loopback HTTP/1.1 proxy in front of a vaultd. When the first request
/// for `hook_path` arrives, it runs the hook, and only then forwards the
/// request. It records every request's path and JSON body.
struct Proxy {
    url: String,
    seen: Arc<Mutex<Vec<(String, Value)>>>,
}

type Hook = Box<dyn FnOnce() + Send>;

impl Proxy {
    fn start(upstream: SocketAddr, hook_path: &'static str, hook: Hook) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let hook = Arc::new(Mutex::new(Some(hook)));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let recorded = seen.clone();
        // The accepting thread ends with the test process.
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(conn) = conn else { break };
                let (hook, seen) = (hook.clone(), recorded.clone());
                std::thread::spawn(move || {
                    proxy_connection(conn, upstream, hook_path, &hook, &seen)
                });
            }
        });
        Proxy { url, seen }
    }

    fn paths(&self) -> Vec<String> {
        self.seen
            .lock()
            .unwrap()
            .iter()
            .map(|(p, _)| p.clone())
            .collect()
    }

    fn body_of(&self, path: &str) -> Value {
        let seen = self.seen.lock().unwrap();
        seen.iter()
            .find(|(p, _)| p == path)
            .map(|(_, b)| b.clone())
            .unwrap_or(Value::Null)
    }
}

/// Serves one client connection (keep-alive: several requests), forwarding
/// each request on a fresh upstream connection.
fn proxy_connection(
    conn: TcpStream,
    upstream: SocketAddr,
    hook_path: &str,
    hook: &Mutex<Option<Hook>>,
    seen: &Mutex<Vec<(String, Value)>>,
) {
    let mut reader = BufReader::new(conn.try_clone().unwrap());
    let mut writer = conn;
    loop {
        let mut request_line = String::new();
        if reader.read_line(&mut request_line).unwrap_or(0) == 0 {
            return;
        }
        let mut parts = request_line.split_whitespace();
        let (method, path) = (
            parts.next().unwrap().to_owned(),
            parts.next().unwrap().to_owned(),
        );
        let (headers, body) = read_message(&mut reader);
        seen.lock().unwrap().push((
            path.clone(),
            serde_json::from_slice(&body).unwrap_or(Value::Null),
        ));
        if path == hook_path {
            let h = hook.lock().unwrap().take();
            if let Some(h) = h {
                h();
            }
        }

        let mut head =
            format!("{method} {path} HTTP/1.1\r\nHost: {upstream}\r\nConnection: close\r\n");
        for (k, v) in &headers {
            if !["host", "connection", "keep-alive"].contains(&k.to_ascii_lowercase().as_str()) {
                head.push_str(&format!("{k}: {v}\r\n"));
            }
        }
        head.push_str("\r\n");
        let mut up = TcpStream::connect(upstream).unwrap();
        up.write_all(head.as_bytes()).unwrap();
        up.write_all(&body).unwrap();
        let mut up = BufReader::new(up);
        let mut status_line = String::new();
        up.read_line(&mut status_line).unwrap();
        let (headers, body) = read_message(&mut up);

        let mut head = status_line;
        for (k, v) in &headers {
            if !k.eq_ignore_ascii_case("connection") {
                head.push_str(&format!("{k}: {v}\r\n"));
            }
        }
        head.push_str("\r\n");
        if writer
            .write_all(head.as_bytes())
            .and_then(|_| writer.write_all(&body))
            .is_err()
        {
            return;
        }
    }
}

/// The headers and the Content-Length body of an HTTP/1.1 message whose
/// first line has been read.
fn read_message(reader: &mut impl BufRead) -> (Vec<(String, String)>, Vec<u8>) {
    let headers = common::read_headers(reader);
    let len = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
        .map_or(0, |(_, v)| v.parse().unwrap());
    let mut body = vec![0; len];
    reader.read_exact(&mut body).unwrap();
    (headers, body)
}

// --- Tests -------------------------------------------------------------------

/// register, add (stdin, --username, --generate --length/--no-symbols), get
/// (--field, --json), ls (--json, sorted), site normalisation.
#[test]
fn add_get_ls() {
    let server = TestServer::start(Backend::Sqlite).unwrap();
    let d = Device::new(&server.base_url(), "Alice", "alice master pw");
    let out = d.run(&["register"]).ok();
    assert_eq!(
        out.stderr,
        format!("registered alice at {}\n", server.base_url())
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

    let out = d.run(&["rm", " Shop.EXAMPLE"]).ok();
    assert_eq!(
        (out.stdout.as_str(), out.stderr.as_str()),
        ("", "removed Shop.EXAMPLE\n")
    );
    d.run(&["rm", "shop.example"])
        .fails(3, "no entry for `shop.example`");
    d.run(&["get", "shop.example"])
        .fails(3, "run `vault ls` to see your sites");
    assert_eq!(ls(&d), Vec::<String>::new());
}

/// `vault edit` reads the entry, then writes it with the version it read;
/// "another device" changing the entry in between makes the write fail with
/// exit 1 and changes nothing. The other device acts inside a proxy, after
/// the CLI's `/get` and before its `/change` reaches the server.
#[test]
fn concurrent_edit_from_another_device_is_refused() {
    let server = TestServer::start(Backend::Sqlite).unwrap();
    let phone = Device::new(&server.base_url(), "dana", "dana master pw");
    register(&phone);
    phone
        .input(&["add", "shared.example", "--username", "original"], "pw-1")
        .ok();

    let phone_result = Arc::new(Mutex::new(None));
    let hook: Hook = {
        let phone_result = phone_result.clone();
        Box::new(move || {
            let out = phone.run(&["edit", "shared.example", "--username", "from-phone"]);
            *phone_result.lock().unwrap() = Some((out, phone));
        })
    };
    let proxy = Proxy::start(server.addr, "/change", hook);
    let laptop = Device::new(&proxy.url, "dana", "dana master pw");

    laptop
        .run(&["edit", "shared.example", "--username", "from-laptop"])
        .fails(
            1,
            "entry `shared.example` changed elsewhere; run `vault get shared.example` and retry",
        );
    let (phone_out, phone) = phone_result
        .lock()
        .unwrap()
        .take()
        .expect("the other device ran");
    phone_out.ok();
    let paths = proxy.paths();
    assert_eq!(
        paths,
        ["/login", "/login/finish", "/get", "/change"],
        "the CLI reads, then writes"
    );
    assert_eq!(
        proxy.body_of("/change")["version"],
        1,
        "the write names the version read"
    );

    // The other device's change stands; the refused one left no trace.
    let e = phone.run(&["get", "shared.example", "--json"]).ok().json();
    assert_eq!(
        (&e["username"], &e["password"], &e["version"]),
        (&json!("from-phone"), &json!("pw-1"), &json!(2))
    );

    // Trying again reads the new version and succeeds (the hook is spent).
    laptop
        .run(&["edit", "shared.example", "--username", "from-laptop"])
        .ok();
    let e = phone.run(&["get", "shared.example", "--json"]).ok().json();
    assert_eq!(
        (&e["username"], &e["version"]),
        (&json!("from-laptop"), &json!(3))
    );
}

/// `vault generate`: length, --no-symbols, the character set, one of each
/// class; no server needed.
#[test]
fn generate() {
    // A dead server: generate must not need one.
    let d = Device::new(&dead_url(), "nobody", "x");
    let all: String = [LOWER, UPPER, DIGITS, SYMBOLS].concat();
    let mut seen = Vec::new();
    for (args, len, symbols) in [
        (&["generate"][..], 24, true),
        (&["generate", "--length", "64"][..], 64, true),
        (&["generate", "--length", "8", "--no-symbols"][..], 8, false),
        (
            &["generate", "--no-symbols", "--length", "300"][..],
            300,
            false,
        ),
    ] {
        let out = d.run(args).ok();
        assert_eq!(out.stderr, "");
        let pw = out
            .stdout
            .strip_suffix('\n')
            .unwrap_or_else(|| panic!("one line: {out:#?}"));
        assert_eq!(pw.chars().count(), len, "{pw}");
        let allowed = if symbols {
            all.clone()
        } else {
            [LOWER, UPPER, DIGITS].concat()
        };
        assert!(pw.chars().all(|c| allowed.contains(c)), "{pw}");
        for class in [LOWER, UPPER, DIGITS] {
            assert!(
                pw.chars().any(|c| class.contains(c)),
                "{pw} lacks one of {class}"
            );
        }
        if symbols {
            assert!(
                pw.chars().any(|c| SYMBOLS.contains(c)),
                "{pw} lacks a symbol"
            );
        }
        // Never characters that need quoting in a shell.
        assert!(!pw.chars().any(|c| "\"'`\\$ ".contains(c)), "{pw}");
        seen.push(pw.to_owned());
    }
    let again = d.run(&["generate"]).ok().stdout;
    assert_ne!(again.trim_end(), seen[0], "two runs give two passwords");
    d.run(&["generate", "--length", "7"])
        .fails(2, "between 8 and 1024");
    d.run(&["generate", "--length", "1025"])
        .fails(2, "between 8 and 1024");
    assert_eq!(d.run(&["generate", "--length", "many"]).code, 2);
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

// `vault import` and `vault export`: tests/import.rs and tests/import_rules.rs.

/// `vault completions bash|zsh|fish`; the bash script completes commands
/// and every option that `vault CMD --help` lists.
#[test]
fn completions() {
    let d = Device::bare();
    let mut scripts = Vec::new();
    for shell in ["bash", "zsh", "fish"] {
        let out = d.run(&["completions", shell]).ok();
        assert_eq!(out.stderr, "");
        for cmd in COMMANDS {
            assert!(out.stdout.contains(cmd), "{shell} script lacks {cmd}");
        }
        scripts.push(out.stdout);
    }
    assert!(scripts[1].starts_with("#compdef vault"));
    assert!(scripts[2].contains("complete -c vault"));
    d.run(&["completions", "powershell"])
        .fails(2, "unknown shell `powershell`: use bash, zsh or fish");

    // The commands the CLI itself lists, and each one's options.
    let help = d.run(&["--help"]).ok().stdout;
    let listed: Vec<&str> = help
        .split("Commands:\n")
        .nth(1)
        .unwrap()
        .lines()
        .filter_map(|l| l.strip_prefix("  ").filter(|l| !l.starts_with(' ')))
        .filter_map(|l| l.split_whitespace().next())
        .collect();
    assert_eq!(listed, COMMANDS, "{help}");
    let bash = d.home.0.join("vault.bash");
    std::fs::write(&bash, &scripts[0]).unwrap();
    let complete = |words: &[&str]| -> Vec<String> {
        let script = format!(
            "source {}; COMP_WORDS=({}); COMP_CWORD={}; _vault; printf '%s\\n' \"${{COMPREPLY[@]}}\"",
            bash.display(),
            words
                .iter()
                .map(|w| format!("'{w}'"))
                .collect::<Vec<_>>()
                .join(" "),
            words.len() - 1
        );
        let out = Command::new("bash")
            .args(["--norc", "-c", &script])
            .output()
            .expect("bash runs");
        assert!(out.status.success(), "{out:?}");
        let mut words: Vec<String> = String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .filter(|l| !l.is_empty())
            .map(str::to_owned)
            .collect();
        words.sort();
        words
    };
    assert_eq!(complete(&["vault", "ge"]), ["generate", "get"]);
    assert_eq!(
        complete(&["vault", "--server", "http://h:1", "l"]),
        ["logout", "ls"]
    );
    assert_eq!(
        complete(&["vault", "get", "--field", ""]),
        ["password", "username"]
    );
    assert_eq!(
        complete(&["vault", "import", "x", "--format", "k"]),
        ["keepass", "keepassxc-csv"]
    );
    let top = complete(&["vault", ""]);
    for cmd in COMMANDS {
        assert!(
            top.iter().any(|w| w == cmd),
            "bash does not complete {cmd}: {top:?}"
        );
    }
    for cmd in COMMANDS {
        let help = d.run(&[cmd, "--help"]).ok().stdout;
        let options: Vec<&str> = help
            .lines()
            .filter_map(|l| l.trim_start().split([' ', ',']).next())
            .filter(|w| w.starts_with("--"))
            .collect();
        let offered = complete(&["vault", cmd, "--"]);
        for option in options {
            assert!(
                offered.iter().any(|o| o == option),
                "bash does not offer `vault {cmd} {option}`: {offered:?}"
            );
        }
    }
}

/// The profile file ($XDG_CONFIG_HOME/vault/config.json, else
/// ~/.config/vault/config.json) gives the server and the username; flags and
/// variables win over it; it cannot hold a password, and vault writes
/// nothing to disk.
#[test]
fn profile_file() {
    let server = TestServer::start(Backend::Sqlite).unwrap();
    let server_url = server.base_url();
    let d = Device::bare().with("VAULT_PASSWORD", "ivy master pw");
    let config = json!({"profiles": {
        "default": {"server": server_url, "username": "ivy"},
        "work": {"server": server_url, "username": "ivy-work"},
    }})
    .to_string();
    std::fs::create_dir_all(d.config_file().parent().unwrap()).unwrap();
    std::fs::write(d.config_file(), &config).unwrap();

    let out = d.run(&["register"]).ok();
    assert_eq!(out.stderr, format!("registered ivy at {server_url}\n"));
    let out = d.run(&["--profile", "work", "register"]).ok();
    assert_eq!(out.stderr, format!("registered ivy-work at {server_url}\n"));
    d.run_with(
        &["add", "work.example"],
        &[("VAULT_PROFILE", "work")],
        Some("work-secret-pw"),
    )
    .ok();
    assert_eq!(
        d.run(&["--profile", "work", "get", "work.example"])
            .ok()
            .stdout,
        "work-secret-pw\n"
    );
    // The default profile is another account.
    d.run(&["get", "work.example"])
        .fails(3, "no entry for `work.example`");
    // Flags and variables win over the profile.
    assert_eq!(
        d.run(&["--username", "ivy-work", "get", "work.example"])
            .ok()
            .stdout,
        "work-secret-pw\n"
    );
    let dead = dead_url();
    d.run_with(&["ls"], &[("VAULT_SERVER", &dead)], None)
        .fails(1, &format!("server unreachable at {dead}"));
    d.run_with(
        &["--server", &server_url, "ls"],
        &[("VAULT_SERVER", &dead)],
        None,
    )
    .ok();
    d.run(&["--profile", "nope", "ls"])
        .fails(2, "no profile `nope`");

    // Nothing was written: the config file is as it was, it is the only
    // file, and no file holds a secret.
    assert_eq!(std::fs::read_to_string(d.config_file()).unwrap(), config);
    assert_eq!(files_under(&d.home.0), [d.config_file()]);
    for file in files_under(&d.home.0) {
        let bytes = std::fs::read(&file).unwrap();
        for secret in ["ivy master pw", "work-secret-pw", "password", "token"] {
            assert!(
                !contains(&bytes, secret),
                "{} holds {secret:?}",
                file.display()
            );
        }
    }
    // A profile with a password in it is refused, not used.
    let with_password = json!({"profiles": {"default": {"server": server_url, "username": "ivy", "password": "ivy master pw"}}});
    std::fs::write(d.config_file(), with_password.to_string()).unwrap();
    d.run(&["ls"]).fails(2, "is not a valid vault config");

    // Without XDG_CONFIG_HOME: ~/.config/vault/config.json.
    let home_only = Device::bare()
        .with("XDG_CONFIG_HOME", "")
        .with("VAULT_PASSWORD", "ivy master pw");
    std::fs::create_dir_all(home_only.config_file().parent().unwrap()).unwrap();
    std::fs::write(
        home_only.config_file(),
        json!({"profiles": {"work": {"server": server_url, "username": "ivy-work"}}}).to_string(),
    )
    .unwrap();
    assert_eq!(
        home_only.run(&["--profile", "work", "ls"]).ok().stdout,
        "work.example\n"
    );
}

/// Exit codes: 1 for errors (one line saying what happened), 2 for usage,
/// 3 for a missing site.
#[test]
fn errors_and_exit_codes() {
    let server = TestServer::start(Backend::Sqlite).unwrap();
    let d = Device::new(&server.base_url(), "jack", "jack master pw");
    register(&d);
    d.input(&["add", "real.example"], "real-pw").ok();

    // 1: wrong master password, unknown user (the same message), server
    // unreachable (naming the URL), unusable URL, empty stdin.
    let wrong = d.run_with(
        &["get", "real.example"],
        &[("VAULT_PASSWORD", "not the password")],
        None,
    );
    wrong.fails(1, "wrong master password");
    let unknown = d.run_with(
        &["get", "real.example"],
        &[("VAULT_USERNAME", "nobody-here")],
        None,
    );
    assert_eq!(
        unknown.fails(1, "wrong master password").stderr,
        "vault: wrong master password (or no such user); check both and retry\n"
    );
    let dead = dead_url();
    let out = d
        .run_with(&["ls"], &[("VAULT_SERVER", &dead)], None)
        .fails(1, "server unreachable at");
    assert_eq!(out.stderr, format!("vault: server unreachable at {dead}\n"));
    d.run_with(&["ls"], &[("VAULT_SERVER", "ftp://127.0.0.1:1")], None)
        .fails(1, "http://");
    d.run(&["add", "empty.example"])
        .fails(1, "no password on stdin");
    d.input(&["add", "tab\there.example"], "pw")
        .fails(1, "invalid site name");
    d.run(&["import", "/nonexistent/export.json", "--format", "json"])
        .fails(1, "cannot read /nonexistent/export.json");
    // `-` (stdin) after the options too.
    d.input(&["import", "--format", "json", "-"], "{not json")
        .fails(1, "cannot import -: not valid JSON");

    // 3: no such site, and nothing on stdout.
    d.run(&["get", "missing.example"])
        .fails(3, "no entry for `missing.example`");
    d.run(&["rm", "missing.example"])
        .fails(3, "no entry for `missing.example`");

    // 2: usage, before any login.
    for args in [
        &[][..],
        &["frobnicate"],
        &["get"],
        &["get", "a", "b"],
        &["--bogus", "ls"],
        &["add", "x.example", "--length"],
    ] {
        let out = d.run(args);
        assert_eq!((out.code, out.stdout.as_str()), (2, ""), "{out:#?}");
        assert!(!out.stderr.is_empty());
    }
    d.run(&["get", "real.example", "--field", "email"])
        .fails(2, "unknown field `email`");
    d.input(&["add", "x.example", "--length", "30"], "pw")
        .fails(2, "--length and --no-symbols go with --generate");
    d.run(&["add", "x.example", "--generate", "--length", "4"])
        .fails(2, "between 8 and 1024");
    d.run(&["import", "f.csv", "--format", "lastpass"])
        .fails(2, "unknown format `lastpass`");
    d.run_with(&["ls"], &[("VAULT_USERNAME", "Not Valid!")], None)
        .fails(2, "invalid username");
    Device::bare()
        .with("VAULT_SERVER", &server.base_url())
        .run(&["ls"])
        .fails(2, "no username");

    // --help: usage on stdout, exit 0.
    let help = d.run(&["--help"]).ok();
    assert!(help.stdout.starts_with("Usage: vault"), "{help:#?}");
    // None of the failures above stopped the account from working.
    assert_eq!(d.run(&["get", "real.example"]).ok().stdout, "real-pw\n");
}

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

    swap("password");
    d.run(&["get", "a.example"])
        .fails(1, "the entry for `a.example` failed verification");
    d.run(&["get", "b.example", "--json"])
        .fails(1, "failed verification");
    d.run(&["export"]).fails(1, "failed verification");
    swap("password");
    assert_eq!(d.run(&["get", "a.example"]).ok().stdout, "pw-of-a\n");

    // The username field carries the site name: swapped, `ls` shows neither.
    swap("username");
    d.run(&["ls"]).fails(1, "2 entries failed verification");
    d.run(&["get", "b.example", "--field", "username"])
        .fails(1, "failed verification");
    swap("username");
    assert_eq!(ls(&d), ["a.example", "b.example"]);
}

/// register, add, get, ls on each backend.
fn smoke(backend: Backend) {
    let Some(server) = TestServer::start(backend) else {
        return;
    };
    let d = Device::new(&server.base_url(), "Smoke.User", "smoke master pw");
    let out = d.run(&["register"]).ok();
    assert_eq!(
        out.stderr,
        format!("registered smoke.user at {}\n", server.base_url())
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
