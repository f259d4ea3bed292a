//! Exit codes and messages of failures, and the profile file, end to end.

mod cli_kit;
mod common;

use cli_kit::{Device, contains, dead_url, files_under, register};
use common::{Backend, TestServer};
use serde_json::json;

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
        .fails(1, &format!("is vaultd running at {dead}? check --server"));
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
    // The sync state may be there too (nothing secret in it).
    let state = d.home.0.join(".local/state/vault/seen.json");
    // An agent's socket (the suite run through one) is no file.
    let run = d.home.0.join("run");
    let files: Vec<_> = files_under(&d.home.0)
        .into_iter()
        .filter(|f| !f.starts_with(&run))
        .collect();
    assert!(
        files == [d.config_file()] || files == [d.config_file(), state.clone()],
        "{files:?}"
    );
    for file in files {
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
        .fails(1, "server unreachable");
    assert_eq!(
        out.stderr,
        format!("vault: server unreachable: is vaultd running at {dead}? check --server\n")
    );
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
