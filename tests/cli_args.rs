//! `vault`'s argument parsing end to end: global options before the
//! command, `-` for stdin, help, version and parser errors.

mod cli_kit;
mod common;

use std::process::Command;

use cli_kit::{Device, ls, register};
use common::{Backend, TempDir, TestServer};

/// A PEM certificate file (any certificate: over plain http it is only
/// loaded, which is what `--ca-file` must survive).
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
