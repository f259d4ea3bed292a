//! `.env` at start (API.md 1.1, Sessions): vaultd refuses the
//! placeholders of `.env.example` and a `.env` other users may read or
//! write, exiting non-zero with one line that names the fix; `--init-db`
//! makes a `.env` of mode 0600.

mod common;

use std::os::unix::fs::PermissionsExt;

use common::{Backend, Options, TempDir, TestServer, write_private};

const EXAMPLE: &str = include_str!("../.env.example");

/// vaultd in `dir` refuses to start: its one stderr line.
#[track_caller]
fn refusal(dir: &TempDir) -> String {
    let refused = TestServer::refused_in(dir, Options::default());
    let status = refused.status.expect("vaultd exits by itself");
    assert!(!status.success(), "{status}: {}", refused.log);
    let lines: Vec<&str> = refused.log.lines().filter(|l| !l.is_empty()).collect();
    assert_eq!(lines.len(), 1, "one line: {}", refused.log);
    lines[0].to_string()
}

#[test]
fn the_placeholder_jwt_key_of_env_example_is_refused() {
    let dir = TempDir::new("placeholder-jwt");
    write_private(&dir.0.join(".env"), EXAMPLE);
    let line = refusal(&dir);
    assert!(line.contains("JWT_KEY is the placeholder"), "{line}");
    assert!(line.contains("random value"), "names the fix: {line}");
}

#[test]
fn the_placeholder_server_setup_of_env_example_is_refused() {
    let dir = TempDir::new("placeholder-setup");
    let own_key = format!("JWT_KEY={}", "a-real-key-".repeat(4));
    let text = EXAMPLE.replace(
        "JWT_KEY=replace-with-at-least-32-random-characters",
        &own_key,
    );
    assert_ne!(text, EXAMPLE, ".env.example still has its JWT_KEY line");
    write_private(&dir.0.join(".env"), &text);
    let line = refusal(&dir);
    assert!(
        line.contains("OPAQUE_SERVER_SETUP is the placeholder") && line.contains("--init-db"),
        "{line}"
    );
}

/// `--init-db` makes `.env` 0600 and vaultd serves with it; once others may
/// read or write it, vaultd refuses it and says `chmod 600`.
#[test]
fn an_env_file_others_may_read_or_write_is_refused() {
    let Some(server) = TestServer::start(Backend::Sqlite) else {
        return;
    };
    let env = server.dir.0.join(".env");
    let mode = |m: u32| std::fs::set_permissions(&env, std::fs::Permissions::from_mode(m));
    assert_eq!(
        std::fs::metadata(&env).unwrap().permissions().mode() & 0o777,
        0o600,
        "--init-db creates .env 0600"
    );
    let dir = server.dir.clone();
    drop(server);
    for bad in [0o666, 0o644, 0o640, 0o620, 0o604, 0o602] {
        mode(bad).unwrap();
        let line = refusal(&dir);
        assert!(
            line.contains(&format!("mode {bad:04o}")) && line.contains("chmod 600"),
            "{bad:o}: {line}"
        );
    }
    mode(0o600).unwrap();
    let again = TestServer::try_start_in(Backend::Sqlite, dir, Options::default());
    assert!(again.is_ok(), "0600 serves again: {:?}", again.err());
}
