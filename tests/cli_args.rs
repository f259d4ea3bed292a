//! `vault`'s argument parsing end to end: global options before the
//! command, `-` for stdin, help, version and parser errors.

mod cli_kit;
mod common;

use std::process::Command;

use cli_kit::{Device, ls, register};
use common::{Backend, TempDir, TestServer};

/// A PEM certificate file (any certificate: over plain http it is not
/// used; what is tested is `--ca-file` before a `-` argument).
fn some_certificate(dir: &TempDir) -> String {
    let out = Command::new("openssl")
        .current_dir(&dir.0)
        .args(["req", "-x509", "-newkey", "rsa:2048", "-nodes"])
        .args(["-keyout", "key.pem", "-out", "cert.pem", "-days", "2"])
        .args(["-subj", "/CN=localhost"])
        .output()
        .expect("openssl runs");
    assert!(out.status.success(), "{out:?}");
    dir.0.join("cert.pem").display().to_string()
}

/// `-` is stdin after every global option that takes a value, `--ca-file`
/// included (it used to fail with "Unrecognized argument: -").
#[test]
fn import_from_stdin_after_global_options() {
    let server = TestServer::start(Backend::Sqlite).unwrap();
    let d = Device::new(&server.base_url(), "olga", "olga master pw");
    register(&d);
    let dir = TempDir::new("cli-ca");
    let ca = some_certificate(&dir);
    let text = r#"[{"site":"ca.example","password":"ca-pw"}]"#;
    let out = d
        .input(&["--ca-file", &ca, "import", "-", "--format", "json"], text)
        .ok();
    assert_eq!(out.stderr, "vault: imported 1 of 1 items from -\n");
    let text = r#"[{"site":"server.example","password":"s-pw"}]"#;
    let url = server.base_url();
    d.input(
        &[
            "--server",
            &url,
            "--username",
            "olga",
            "import",
            "--format",
            "json",
            "-",
        ],
        text,
    )
    .ok();
    assert_eq!(ls(&d), ["ca.example", "server.example"]);
}

const COMMANDS: [&str; 24] = [
    "register",
    "unlock",
    "lock",
    "status",
    "add",
    "get",
    "show",
    "code",
    "ls",
    "search",
    "edit",
    "history",
    "rm",
    "trash",
    "restore",
    "generate",
    "passwd",
    "export",
    "import",
    "config",
    "logout",
    "verify",
    "unregister",
    "completions",
];

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
        ["lock", "logout", "ls"]
    );
    assert_eq!(
        complete(&["vault", "get", "--field", ""]),
        ["folder", "notes", "password", "totp", "url", "username"]
    );
    assert_eq!(
        complete(&["vault", "import", "x", "--format", "k"]),
        ["keepassxc-csv"]
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
