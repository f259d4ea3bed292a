//! Interoperability with an independent OPAQUE implementation: the
//! `@serenity-kit/opaque` 1.1.0 client under Node (`tests/interop/serenity.mjs`)
//! against a real vaultd, and accounts crossing between it and our own
//! client (`vault` and `vaultd::client`).
//!
//! Needs `node` and `tests/interop/node_modules` (`npm ci` there, which
//! `make test` does). Without them each test says so and passes, unless
//! `VAULTD_REQUIRE_NODE=1` (CI), which makes it fail instead.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;

use common::spawn::{Out, read_all, run_to_end};
use common::{Backend, Options, TempDir, TestServer, b64, unb64};
use serde_json::{Value, json};
use vaultd::client::api::Api;
use vaultd::client::crypto::{Kek, VaultKey};
use vaultd::client::opaque;

const VAULT: &str = env!("CARGO_BIN_EXE_vault");

fn interop_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/interop")
}

/// Whether Node and the npm package are there; see the module comment.
fn node_ready() -> bool {
    let node = Command::new("node")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    let package = interop_dir().join("node_modules/@serenity-kit/opaque/package.json");
    let missing = if !node {
        "`node` is not installed"
    } else if !package.is_file() {
        "tests/interop/node_modules is missing (run `npm ci` in tests/interop)"
    } else {
        return true;
    };
    if std::env::var("VAULTD_REQUIRE_NODE").as_deref() == Ok("1") {
        panic!("the serenity interop test cannot run: {missing} (VAULTD_REQUIRE_NODE=1)");
    }
    common::skipped(&format!("serenity interop: {missing}"));
    false
}

// --- Processes ---------------------------------------------------------------

/// `node serenity.mjs ARGS` against `url`, with VAULT_PASSWORD and friends.
fn serenity(url: &str, args: &[&str], env: &[(&str, &str)]) -> Out {
    let mut cmd = Command::new("node");
    cmd.current_dir(interop_dir())
        .arg("serenity.mjs")
        .args(args)
        .env("VAULTD_URL", url)
        .env_remove("VAULT_PASSWORD")
        .env_remove("VAULT_KEY_BLOB")
        .envs(env.iter().copied());
    run_to_end(cmd, None, format!("node serenity.mjs {}", args.join(" ")))
}

/// The `vault` CLI as `username` on `url`, in an empty HOME.
fn vault(url: &str, username: &str, password: &str, args: &[&str], stdin: Option<&str>) -> Out {
    let home = TempDir::new("interop-home");
    let mut cmd = Command::new(VAULT);
    cmd.args(args)
        .env_clear()
        .env("HOME", &home.0)
        .env("XDG_CONFIG_HOME", home.0.join(".config"))
        .env("VAULT_SERVER", url)
        .env("VAULT_USERNAME", username)
        .env("VAULT_PASSWORD", password);
    run_to_end(cmd, stdin, format!("vault {}", args.join(" ")))
}

/// A complete login with our own OPAQUE client (`vaultd::client::opaque`,
/// serenity's Argon2id parameters): the export key, the server's public key
/// and the `/login/finish` session.
fn rust_login(
    url: &str,
    username: &str,
    password: &str,
) -> (Vec<u8>, Vec<u8>, vaultd::client::api::LoginReply) {
    let api = Api::new(url).unwrap();
    let (state, request) = opaque::start_login(password.as_bytes()).unwrap();
    let (login_id, response) = api.login(username, &request).unwrap();
    let fin = opaque::finish_login(state, password.as_bytes(), &response)
        .expect("the Rust client accepts the server's answer");
    let session = api
        .login_finish(&login_id, &fin.credential_finalization)
        .unwrap();
    (fin.export_key.to_vec(), fin.server_public_key, session)
}

// --- Tests -------------------------------------------------------------------

/// serenity's own run of the wire contract: register, login, tokens,
/// entries, logout, wrong password, unknown user.
fn serenity_self_test(backend: Backend) {
    if !node_ready() {
        return;
    }
    let Some(server) = TestServer::start(backend) else {
        return;
    };
    let out = serenity(&server.base_url(), &[], &[]);
    assert_eq!(out.code, 0, "{out:#?}");
    let last = out.stdout.lines().last().unwrap_or("");
    let passed: usize = last
        .strip_suffix(" passed, 0 failed")
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("last line {last:?}: {out:#?}"));
    let oks = out
        .stdout
        .lines()
        .filter(|l| l.starts_with("ok - "))
        .count();
    assert!(passed >= 10 && passed == oks, "{out:#?}");
    assert!(!out.stdout.contains("not ok"), "{out:#?}");
}

/// The review's offline-guessing attack on `/register` (tests/interop/harvest.mjs),
/// run with serenity: eight `/register` calls for a free name, one per guess
/// (the victim's password among them), then the victim's registration and
/// one `/login`. Under 1.0 the right guess was found offline; now none is.
fn register_harvest_finds_nothing(backend: Backend) {
    if !node_ready() {
        return;
    }
    let Some(server) = TestServer::start(backend) else {
        return;
    };
    let guesses = json!([
        "123456",
        "password",
        "qwerty",
        "letmein",
        "dragon",
        "victim's secret",
        "monkey",
        "iloveyou"
    ]);
    let mut cmd = Command::new("node");
    cmd.current_dir(interop_dir())
        .arg("harvest.mjs")
        .env("VAULTD_URL", server.base_url())
        .env("NAME", "victim")
        .env("GUESSES", guesses.to_string())
        .env("VAULT_PASSWORD", "victim's secret");
    let out = run_to_end(cmd, None, "node harvest.mjs".into());
    assert_eq!(out.code, 0, "{out:#?}");
    let result: Value = serde_json::from_str(out.stdout.trim()).expect("harvest.mjs output");
    assert_eq!(result["found"], json!([]), "the harvest found a password");
}

both_backends!(serenity_self_test, register_harvest_finds_nothing);

/// A server setup made by serenity (`create-server-setup`, the same as
/// `npx @serenity-kit/opaque create-server-setup`) in a hand-written `.env`
/// is accepted as is: serenity registers and logs in, our client sees the
/// server key that setup holds, and `.env` is left untouched. The same
/// setup one character short is refused at start, and not replaced.
#[test]
fn server_setup_from_serenity_is_accepted() {
    if !node_ready() {
        return;
    }
    let setup = serenity("http://127.0.0.1:1", &["create-server-setup"], &[])
        .ok()
        .stdout
        .trim_end()
        .to_owned();
    assert_eq!(setup.len(), 171, "{setup}");
    assert_eq!(unb64(&setup).len(), 128);

    // The test keeps the directories, to look at `.env` once vaultd is gone.
    let dir = Arc::new(TempDir::new("interop-setup"));
    let env = format!(
        "# written by hand\nJWT_KEY=interop-test-jwt-key-{}\nOPAQUE_SERVER_SETUP={setup}\n",
        "k".repeat(30)
    );
    common::write_private(&dir.0.join(".env"), &env);
    let server = TestServer::try_start_in(Backend::Sqlite, dir.clone(), Options::default())
        .unwrap_or_else(|log| panic!("vaultd refused the setup: {log}"));
    let url = server.base_url();
    assert!(
        !server.log.lock().unwrap().contains("created .env"),
        "{}",
        server.log.lock().unwrap()
    );

    let out = serenity(&url, &[], &[]).ok();
    assert!(out.stdout.ends_with(" passed, 0 failed\n"), "{out:#?}");

    let password = "setup password";
    let pw = [("VAULT_PASSWORD", password)];
    assert_eq!(
        serenity(&url, &["register", "setup-user"], &pw).ok().stdout,
        "ok - register setup-user\n"
    );
    let js = serenity(&url, &["login", "setup-user"], &pw).ok().json();
    let (export_key, server_key, _) = rust_login(&url, "setup-user", password);
    assert_eq!(b64(&export_key), js["export_key"].as_str().unwrap());
    let setup = vaultd::auth::opaque::ServerSetup::deserialize(&unb64(&setup)).unwrap();
    assert_eq!(
        server_key,
        setup.keypair().public().serialize().to_vec(),
        "the server logs in with the key of the setup it was given"
    );
    drop(server);
    assert_eq!(std::fs::read_to_string(dir.0.join(".env")).unwrap(), env);

    // One character short: refused, and the file is not replaced.
    let bad_dir = Arc::new(TempDir::new("interop-bad-setup"));
    let setup_text = env.lines().nth(2).unwrap().to_owned();
    let bad_env = env.replace(&setup_text, &setup_text[..setup_text.len() - 1]);
    common::write_private(&bad_dir.0.join(".env"), &bad_env);
    match TestServer::try_start_in(Backend::Sqlite, bad_dir.clone(), Options::default()) {
        Ok(s) => panic!("vaultd started with a malformed setup at {}", s.base_url()),
        Err(log) => assert!(log.contains("OPAQUE_SERVER_SETUP"), "{log}"),
    }
    assert_eq!(
        std::fs::read_to_string(bad_dir.0.join(".env")).unwrap(),
        bad_env
    );
}

/// An account made by `vault register` logs in with serenity, and what
/// serenity gets (export key, stored vault key, token) opens the entry the
/// CLI wrote: the export keys of both clients are the same.
#[test]
fn cli_account_logs_in_with_serenity() {
    if !node_ready() {
        return;
    }
    let server = TestServer::start(Backend::Sqlite).unwrap();
    let url = server.base_url();
    let password = "cli master pässword 🔑";
    vault(&url, "cli-made", password, &["register"], None).ok();
    vault(
        &url,
        "cli-made",
        password,
        &["add", "Cross.Example", "--username", "x-user"],
        Some("x-pw"),
    )
    .ok();

    let js = serenity(
        &url,
        &["login", "cli-made"],
        &[("VAULT_PASSWORD", password)],
    )
    .ok()
    .json();
    let token = js["token"].as_str().unwrap();
    let kek = Kek::from_export_key(&unb64(js["export_key"].as_str().unwrap()));
    let key = VaultKey::unwrap(js["vault_key"].as_str().unwrap(), &kek)
        .expect("serenity's export key opens the vault key the CLI stored");
    let (status, body) = server.post("/get", Some(token), &json!({}));
    assert_eq!(status, 200, "{body}");
    let entries = body["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 1);
    let site = entries[0]["site"].as_str().unwrap();
    assert_eq!(site, key.site_id("cross.example").unwrap());
    // The CLI writes entry format 2 (docs/CRYPTO.md).
    let opened = vaultd::client::entry::open(
        &key,
        site,
        entries[0]["username"].as_str(),
        entries[0]["password"].as_str().unwrap(),
        entries[0]["updated_at"].as_str().unwrap(),
    )
    .unwrap();
    assert_eq!(
        (opened.doc.name.as_str(), opened.doc.username.as_deref()),
        ("Cross.Example", Some("x-user"))
    );
    assert_eq!(opened.password.as_str(), "x-pw");

    // A wrong password: serenity's client refuses the server's answer.
    let out = serenity(
        &url,
        &["login", "cli-made"],
        &[("VAULT_PASSWORD", "cli master password")],
    );
    assert_eq!(out.code, 1, "{out:#?}");
    assert!(out.stderr.contains("client rejected"), "{out:#?}");
}

/// An account made by serenity logs in with our OPAQUE client, with the
/// export key serenity got. Without a vault key, or with one `vault` cannot
/// open, the CLI says so (exit 1).
#[test]
fn serenity_account_logs_in_with_the_rust_client() {
    if !node_ready() {
        return;
    }
    let server = TestServer::start(Backend::Sqlite).unwrap();
    let url = server.base_url();
    let password = "js master pässword";
    let pw = [("VAULT_PASSWORD", password)];
    serenity(&url, &["register", "js-made"], &pw).ok();
    let js = serenity(&url, &["login", "js-made"], &pw).ok().json();
    assert_eq!(js["vault_key"], Value::Null);
    let (export_key, _, session) = rust_login(&url, "js-made", password);
    assert_eq!(b64(&export_key), js["export_key"].as_str().unwrap());
    assert_eq!(session.vault_key, None);

    let out = vault(&url, "js-made", password, &["ls"], None);
    assert_eq!((out.code, out.stdout.as_str()), (1, ""), "{out:#?}");
    assert!(out.stderr.contains("no vault key"), "{out:#?}");

    let junk = b64(&[7u8; 73]);
    let with_junk = [("VAULT_PASSWORD", password), ("VAULT_KEY_BLOB", &junk)];
    serenity(&url, &["register", "js-junk"], &with_junk).ok();
    let out = vault(&url, "js-junk", password, &["ls"], None);
    assert_eq!((out.code, out.stdout.as_str()), (1, ""), "{out:#?}");
    assert!(out.stderr.contains("does not decrypt"), "{out:#?}");
}

/// serenity registers, pausing between its two steps so that a vault key
/// wrapped by the Rust client under serenity's export key goes into
/// `/register/finish`. Prints the export key, reads the blob, prints the
/// finish status. Exits by itself after a minute at the latest.
const REGISTER_WITH_VAULT_KEY: &str = r#"
import opaque from "@serenity-kit/opaque";
setTimeout(() => process.exit(3), 60000).unref();
await opaque.ready;
const { VAULTD_URL: base, NAME: username, VAULT_PASSWORD: password } = process.env;
const post = async (path, body) => {
  const r = await fetch(base + path, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  return [r.status, await r.text()];
};
const start = opaque.client.startRegistration({ password });
const [s1, t1] = await post("/register", { username, registration_request: start.registrationRequest });
if (s1 !== 200) { console.error(s1, t1); process.exit(1); }
const r1 = JSON.parse(t1);
const fin = opaque.client.finishRegistration({
  password,
  clientRegistrationState: start.clientRegistrationState,
  registrationResponse: r1.registration_response,
});
console.log(fin.exportKey);
let input = "";
for await (const chunk of process.stdin) input += chunk;
const [s2, t2] = await post("/register/finish", {
  username,
  registration_id: r1.registration_id,
  registration_record: fin.registrationRecord,
  vault_key: input.trim(),
});
console.log(s2, t2);
process.exit(s2 === 201 ? 0 : 1);
"#;

/// An account registered by serenity with a vault key wrapped by the Rust
/// client crypto works with `vault`, and serenity's login returns that key
/// and the registration's export key.
#[test]
fn serenity_account_with_a_rust_vault_key_works_with_vault() {
    if !node_ready() {
        return;
    }
    let server = TestServer::start(Backend::Sqlite).unwrap();
    let url = server.base_url();
    let password = "shared master pässword";

    let mut child = Command::new("node")
        .current_dir(interop_dir())
        .args(["--input-type=module", "-e", REGISTER_WITH_VAULT_KEY])
        .env("VAULTD_URL", &url)
        .env("NAME", "js-keyed")
        .env("VAULT_PASSWORD", password)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("node starts");
    let stderr = read_all(child.stderr.take().unwrap());
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    stdout.read_line(&mut line).unwrap();
    let export_key = line.trim_end().to_owned();
    assert_eq!(
        unb64(&export_key).len(),
        64,
        "{line:?} {}",
        stderr.join().unwrap()
    );
    let blob = VaultKey::generate()
        .unwrap()
        .wrap(&Kek::from_export_key(&unb64(&export_key)))
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    writeln!(stdin, "{blob}").unwrap();
    drop(stdin);
    let mut rest = String::new();
    stdout.read_to_string(&mut rest).unwrap();
    let status = child.wait().unwrap();
    assert!(
        status.success() && rest.starts_with("201 "),
        "{status:?} {rest} {}",
        stderr.join().unwrap()
    );

    vault(
        &url,
        "js-keyed",
        password,
        &["add", "Shared.Example", "--username", "both"],
        Some("shared-pw"),
    )
    .ok();
    let entry = vault(
        &url,
        "js-keyed",
        password,
        &["get", "shared.example", "--json"],
        None,
    )
    .ok()
    .json();
    assert_eq!(
        (&entry["site"], &entry["username"], &entry["password"]),
        (
            &json!("Shared.Example"),
            &json!("both"),
            &json!("shared-pw")
        )
    );

    let js = serenity(
        &url,
        &["login", "js-keyed"],
        &[("VAULT_PASSWORD", password)],
    )
    .ok()
    .json();
    assert_eq!(js["export_key"], export_key.as_str());
    assert_eq!(js["vault_key"], blob.as_str());
}
