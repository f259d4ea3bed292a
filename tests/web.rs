//! The web vault in a real headless Chromium (Debian's `chromium`), driven by
//! `playwright-core` (tests/web/package.json, pinned with its lock file)
//! under Node's test runner, against a real vaultd. Each `tests/web/*.test.mjs`
//! is one test here, with a server of its own.
//!
//! Needs `node`, Chromium (`/usr/bin/chromium`, or `CHROMIUM`) and
//! `tests/web/node_modules` (`npm ci` there, which `make test` does). Without
//! them each test says so and passes, unless `VAULTD_REQUIRE_BROWSER=1` (CI),
//! which makes it fail instead.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;

use common::spawn::{Listening, run_to_end, spawn_listening};
use common::{Backend, Options, TestServer};

fn web_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/web")
}

fn chromium() -> PathBuf {
    std::env::var_os("CHROMIUM").map_or_else(|| PathBuf::from("/usr/bin/chromium"), PathBuf::from)
}

/// Whether the browser tests can run; see the module comment.
fn browser_ready() -> bool {
    let node = Command::new("node")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    let missing = if !node {
        "`node` is not installed"
    } else if !chromium().is_file() {
        "Chromium is not installed (Debian: apt-get install chromium)"
    } else if !web_dir()
        .join("node_modules/playwright-core/package.json")
        .is_file()
    {
        "tests/web/node_modules is missing (run `npm ci` in tests/web)"
    } else {
        return true;
    };
    if std::env::var("VAULTD_REQUIRE_BROWSER").as_deref() == Ok("1") {
        panic!("the browser tests cannot run: {missing} (VAULTD_REQUIRE_BROWSER=1)");
    }
    eprintln!("browser test skipped: {missing}");
    false
}

/// One browser at a time: the machine is small, and Argon2id in WebAssembly
/// takes 64 MiB and a core per login.
static ONE_BROWSER: Mutex<()> = Mutex::new(());

/// Runs `tests/web/<file>` against a fresh vaultd started with `args`.
fn run(file: &str, args: &[&str]) {
    if !browser_ready() {
        return;
    }
    let _one = ONE_BROWSER.lock().unwrap_or_else(|e| e.into_inner());
    let options = Options {
        args: args.iter().map(|s| s.to_string()).collect(),
    };
    let server = TestServer::start_with(Backend::Sqlite, options).unwrap();
    let screenshots = Path::new(env!("CARGO_TARGET_TMPDIR")).join("web");
    std::fs::create_dir_all(&screenshots).unwrap();
    let mut cmd = Command::new("node");
    cmd.current_dir(web_dir())
        .args(["--test", "--test-reporter=tap", file])
        .env("VAULTD_URL", server.base_url())
        .env("VAULTD_PORT", server.addr.port().to_string())
        .env("VAULT_BIN", env!("CARGO_BIN_EXE_vault"))
        .env("VAULTD_DB", server.dir.0.join("vaultd.db"))
        .env("CHROMIUM", chromium())
        .env("SCREENSHOT_DIR", &screenshots);
    let out = run_to_end(cmd, None, format!("node --test {file}"));
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert!(
        out.stdout.contains("# fail 0") && !out.stdout.contains("# pass 0"),
        "{}",
        out.stdout
    );
}

/// CRYPTO.md's test vectors (formats 1 and 2) and RFC 6238's, in the browser.
#[test]
fn crypto_vectors_in_the_browser() {
    run("vectors.test.mjs", &[]);
}

/// Register in the browser and use the account with `vault`, and the
/// reverse; entries and a master-password change across both clients.
#[test]
fn browser_and_cli_share_accounts_and_entries() {
    run("cross.test.mjs", &[]);
}

/// Hostile entry content shows as text; keys never reach storage.
#[test]
fn hostile_content_and_storage() {
    run("hostile.test.mjs", &[]);
}

/// Lock by button, after 5 minutes idle (fake clock), on token expiry and on
/// reload; the clipboard is cleared after 30 s.
#[test]
fn locking_and_clipboard() {
    run("lock.test.mjs", &["--session-ttl", "600"]);
}

/// The insecure-origin banner, the phone viewport (screenshot under
/// target/tmp/web/), keyboard use.
#[test]
fn banner_mobile_and_keyboard() {
    run("layout.test.mjs", &[]);
}

/// Issue 14 in the browser: the CLI's sync and manifest rules both ways, a
/// database tampered with shows the warning, concurrent writes both land.
#[test]
fn browser_keeps_the_manifest_rules() {
    run("sync.test.mjs", &[]);
}

/// Hundreds of entries: all listed, searched exactly while the list keeps
/// its items, an altered one counted as unreadable with the warning.
#[test]
fn many_entries_open_and_search() {
    run("many.test.mjs", &[]);
}

/// Issue 18: over `--tls auto` with Chromium trusting the server's key, the
/// web vault is a secure context, installs (manifest, icons) and its service
/// worker serves the page after the test kills this vaultd.
#[test]
fn installs_and_opens_offline_over_tls_auto() {
    if !browser_ready() {
        return;
    }
    let _one = ONE_BROWSER.lock().unwrap_or_else(|e| e.into_inner());
    let dir = common::TempDir::new("web-tls");
    let mut cmd = Command::new(common::vaultd_bin());
    cmd.current_dir(&dir.0)
        .args(["--bind", "127.0.0.1:0", "--threads", "2", "--init-db"])
        .args(["--tls", "auto"])
        .env_remove("JWT_KEY")
        .env_remove("OPAQUE_SERVER_SETUP")
        .env_remove("VAULTD_TLS_VALIDITY_SECONDS")
        .stdin(Stdio::null())
        .stdout(Stdio::null());
    let Listening {
        mut child, addr, ..
    } = spawn_listening(cmd).unwrap_or_else(|r| panic!("vaultd did not start: {}", r.log));
    let mut node = Command::new("node");
    node.current_dir(web_dir())
        .args(["--test", "--test-reporter=tap", "install.test.mjs"])
        .env("VAULTD_URL", format!("https://localhost:{}", addr.port()))
        .env("VAULTD_CA", dir.0.join("tls/ca.crt"))
        .env("VAULTD_PID", child.id().to_string())
        .env("CHROMIUM", chromium());
    let out = run_to_end(node, None, "node --test install.test.mjs".to_string());
    // The test killed it; if it did not get that far, this does.
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert!(
        out.stdout.contains("# fail 0") && !out.stdout.contains("# pass 0"),
        "{}",
        out.stdout
    );
}
