//! Every route of `vaultd::api::ROUTES`, called through its real handler with
//! arbitrary body bytes, on a real SQLite store.
//!
//! Input: up to 24 calls separated by the byte 0xFF (which valid UTF-8, hence
//! valid JSON, never holds). A call is
//!
//!   [route] [who] body...
//!
//! - `route`: index into `ROUTES`, modulo its length ('A' is `/health`,
//!   'B' `/register`, ... 'M' `/delete`, in the order of `src/api/mod.rs`);
//! - `who`: bits 0-2 the caller (0 none, 1 alice with a fresh token, 2 alice
//!   with an hour-old one, 3 bob fresh, 4 a user that does not exist, 5 alice
//!   with `iat` 0, 6 bob old, 7 user id -1); bits 3-4 the client address;
//!   bit 6 closed signups. So the digits '0'-'7' are those callers with open
//!   signups, and 'P'-'W' the same with closed signups;
//! - the body, in which these placeholders are replaced first, so that the
//!   fuzzer reaches past the cryptographic checks: `$RREQ` a valid
//!   `registration_request`, `$RREC` a valid `registration_record`, `$CREQ` a
//!   valid `credential_request`, `$LOGIN` the `login_id` of a pending login of
//!   alice and `$CFIN` its valid `credential_finalization`, `$LOGIN2` a
//!   pending login of an unknown user, `$INVITE` a valid invite code.
//!
//! Before each input the database goes back to the same fixture (alice with
//! three entries, bob with one, one invite, two pending logins) and the login
//! throttle is emptied, so that a finding reproduces from its input alone.
//!
//! Checks: no panic; a success is `200` (`201` for `/register/finish` and
//! `/add`) with a JSON object body; an error is one of API.md's statuses that
//! a route may answer (never `500`/`503` against a healthy database), with an
//! `{"error","message"}` body and a short message; what `/add` stored comes
//! back byte for byte.
//!
//! `VAULTD_FUZZ_TRACE=1` prints each call and its answer.

#![no_main]

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::{Mutex, OnceLock};

use libfuzzer_sys::fuzz_target;
use serde_json::{Value, json};
use vaultd::api::account::invite_hash;
use vaultd::api::{App, Call, Caller, ROUTES};
use vaultd::auth::limiter::Limiter;
use vaultd::auth::opaque::{CredentialIds, LoginStateSeal};
use vaultd::auth::token::TokenKeys;
use vaultd::config::Signups;
use vaultd::error::ApiError;
use vaultd::store::{
    NewEntry, NewUser, PendingLogin, PendingRegistration, SqliteStore, Store, SyncWrite, User,
    unix_now,
};
use vaultd_fuzz::{JWT_KEY, b64, login_finish, login_start, register, scratch_dir, server_setup};

const MAX_CALLS: usize = 24;
const ALICE: i64 = 1;
const BOB: i64 = 2;
const INVITE: &str = "fuzz-invite";

struct Fixture {
    open: App,
    closed: App,
    /// A third connection, only to empty the tables between inputs.
    reset: rusqlite::Connection,
    alice_record: Vec<u8>,
    bob_record: Vec<u8>,
    pending: Vec<PendingLogin>,
    placeholders: Vec<(&'static [u8], Vec<u8>)>,
    /// `PRAGMA data_version` of `reset` right after the last reset: while it
    /// is unchanged, no other connection has written and the tables are
    /// still the fixture's.
    clean_version: Option<i64>,
}

/// Registers `name` (both steps) under the bare name as its credential
/// identifier, which the fixture's records were made for.
fn create(store: &dyn Store, name: &str, record: &[u8], vault_key: Option<&str>, now: i64) -> User {
    let id = format!("fixture-{name}").into_bytes();
    let registration = PendingRegistration {
        id: id.clone(),
        username: name.into(),
        user_id: None,
        credential_id: name.as_bytes().to_vec(),
        expires_at: now + 600,
    };
    store.put_registration(&registration, now).unwrap();
    let user = NewUser {
        registration: id,
        username: name.into(),
        record: record.to_vec(),
        vault_key: vault_key.map(str::to_string),
        invite: None,
    };
    store.create_user(&user, now).unwrap()
}

fn app(store: SqliteStore, signups: Signups) -> App {
    App {
        store: Box::new(store),
        tokens: TokenKeys::new(JWT_KEY, 3600),
        server_setup: server_setup(),
        login_seal: LoginStateSeal::new(JWT_KEY),
        credential_ids: CredentialIds::new(JWT_KEY),
        signups,
        limiter: Limiter::default(),
    }
}

fn client(n: u8) -> IpAddr {
    match n % 4 {
        0 => IpAddr::V4(Ipv4Addr::LOCALHOST),
        1 => IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2)),
        2 => IpAddr::V6(Ipv6Addr::LOCALHOST),
        _ => IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)),
    }
}

impl Fixture {
    fn new() -> Fixture {
        let db = scratch_dir("routes").join("vaultd.db");
        let store = SqliteStore::open(&db, 2).expect("open the fixture database");
        store.prepare(true).expect("create the schema");
        let closed_store = SqliteStore::open(&db, 2).expect("open it again");
        let reset = rusqlite::Connection::open(&db).expect("open it a third time");
        reset
            .busy_timeout(std::time::Duration::from_secs(5))
            .unwrap();
        let setup = server_setup();
        let alice = register(&setup, "alice", b"alice password", 2);
        let bob = register(&setup, "bob", b"bob password", 3);
        let carol = register(&setup, "carol", b"carol password", 4);
        let mut fixture = Fixture {
            open: app(store, Signups::Open),
            closed: app(closed_store, Signups::Closed),
            reset,
            alice_record: alice.record(),
            bob_record: bob.record(),
            pending: Vec::new(),
            placeholders: Vec::new(),
            clean_version: None,
        };
        fixture.reset();

        // Two logins started through the real route, then kept aside: each
        // input gets them back (they are single use).
        let start = |username: &str, seed: u64| {
            let (state, request) = login_start(b"alice password", seed);
            let body = json!({ "username": username, "credential_request": b64(&request) });
            let body = serde_json::to_vec(&body).unwrap();
            let call = Call {
                body: &body,
                caller: None,
                client: client(0),
            };
            let reply = vaultd::api::account::login(&fixture.open, &call).expect("fixture login");
            let reply: Value = serde_json::from_slice(&reply.body).expect("a JSON reply");
            let id = decode(&reply["login_id"]);
            let response = decode(&reply["credential_response"]);
            let login = fixture
                .open
                .store
                .take_login(&id, unix_now())
                .unwrap()
                .expect("the pending login is stored");
            (state, response, login)
        };
        let (state, response, mut alice_login) = start("alice", 5);
        let finalization = login_finish(state, b"alice password", &response, 6)
            .expect("alice's password opens her envelope");
        let (_, _, mut nobody_login) = start("nobody", 7);
        alice_login.expires_at = i64::MAX;
        nobody_login.expires_at = i64::MAX;
        let (_, credential_request) = login_start(b"any password", 8);
        fixture.placeholders = vec![
            (b"$RREQ", b64(&carol.request).into_bytes()),
            (b"$RREC", b64(&carol.upload).into_bytes()),
            (b"$CREQ", b64(&credential_request).into_bytes()),
            // Before `$LOGIN`, which it starts with.
            (b"$LOGIN2", b64(&nobody_login.id).into_bytes()),
            (b"$LOGIN", b64(&alice_login.id).into_bytes()),
            (b"$CFIN", b64(&finalization).into_bytes()),
            (b"$INVITE", INVITE.as_bytes().to_vec()),
        ];
        fixture.pending = vec![alice_login, nobody_login];
        fixture
    }

    /// Back to the same state: users, entries, invite, pending logins, and an
    /// empty login throttle.
    fn reset(&mut self) {
        self.open.limiter = Limiter::default();
        self.closed.limiter = Limiter::default();
        if self.clean_version.is_some() && self.clean_version == Some(self.data_version()) {
            return;
        }
        self.reset
            .execute_batch(
                "DELETE FROM pending_logins; DELETE FROM registrations; DELETE FROM deletions;
                 DELETE FROM entries; DELETE FROM invites; DELETE FROM users;
                 DELETE FROM sqlite_sequence WHERE name = 'users';",
            )
            .expect("empty the fixture tables");
        let store = &self.open.store;
        let now = unix_now();
        // With `sqlite_sequence` emptied too, ids start from 1 again.
        let alice = create(
            &**store,
            "alice",
            &self.alice_record,
            Some("wrapped-key"),
            now,
        );
        let bob = create(&**store, "bob", &self.bob_record, None, now);
        assert_eq!((alice.id, bob.id), (ALICE, BOB));
        for (user, site, username, password) in [
            (ALICE, "example.com", Some("enc-user"), "enc-pass"),
            (ALICE, "nul\u{0}site", None, "p\u{0}"),
            (ALICE, "zz\u{10FFFF}", Some(""), "x"),
            (BOB, "example.com", None, "bob-pass"),
        ] {
            let entry = NewEntry {
                site: site.into(),
                username: username.map(str::to_string),
                password: password.into(),
            };
            store
                .add_entry(user, &entry, &SyncWrite::default(), now)
                .unwrap();
        }
        store.create_invite(&invite_hash(INVITE), i64::MAX).unwrap();
        for login in &self.pending {
            store.put_login(login, now).unwrap();
        }
        self.clean_version = Some(self.data_version());
    }

    fn data_version(&self) -> i64 {
        self.reset
            .query_row("PRAGMA data_version", [], |row| row.get(0))
            .expect("PRAGMA data_version")
    }

    fn substitute(&self, body: &[u8]) -> Vec<u8> {
        let mut out = body.to_vec();
        for (name, value) in &self.placeholders {
            out = replace(&out, name, value);
        }
        out
    }
}

fn decode(v: &Value) -> Vec<u8> {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(v.as_str().expect("a string"))
        .expect("base64url")
}

fn replace(haystack: &[u8], needle: &[u8], with: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(haystack.len());
    let mut i = 0;
    while i < haystack.len() {
        if haystack[i..].starts_with(needle) {
            out.extend_from_slice(with);
            i += needle.len();
        } else {
            out.push(haystack[i]);
            i += 1;
        }
    }
    out
}

fn caller(n: u8) -> Option<Caller> {
    let now = unix_now() as u64;
    let (user_id, issued_at) = match n % 8 {
        0 => return None,
        1 => (ALICE, now),
        2 => (ALICE, now - 3600),
        3 => (BOB, now),
        4 => (999, now),
        5 => (ALICE, 0),
        6 => (BOB, now - 3600),
        _ => (-1, now),
    };
    Some(Caller { user_id, issued_at })
}

/// The statuses a route handler may answer (API.md); 405, 413 and 415 belong
/// to the HTTP layer, 500 and 503 to bugs and outages.
const ROUTE_STATUSES: &[u16] = &[400, 401, 403, 404, 409, 429];

fn check_error(path: &str, err: &ApiError) {
    let status = err.status();
    assert!(
        ROUTE_STATUSES.contains(&status),
        "{path}: status {status} ({err:?})"
    );
    let body: Value = serde_json::from_slice(&err.body()).expect("a JSON error body");
    assert!(body["error"].is_string() && body["message"].is_string());
    assert_eq!(body.as_object().unwrap().len(), 2);
    let message = body["message"].as_str().unwrap();
    // Messages never echo a value: the longest is an unknown field's name,
    // cut at 32 characters.
    assert!(
        message.chars().count() <= 100,
        "{path}: a long error message: {message:?}"
    );
}

fn check_stored(app: &App, user: i64, body: &[u8]) {
    let sent: Value = serde_json::from_slice(body).expect("a body that was accepted parses");
    let site = sent["site"].as_str().unwrap();
    let entry = app
        .store
        .get_entry(user, site)
        .unwrap()
        .expect("the added entry is there");
    assert_eq!(entry.site.as_bytes(), site.as_bytes());
    assert_eq!(entry.password, sent["password"].as_str().unwrap());
    assert_eq!(entry.username.as_deref(), sent["username"].as_str());
    assert_eq!(entry.version, 1);
}

/// `VAULTD_FUZZ_TRACE=1`: print every call and its answer (to see what an
/// input does: run the target binary on that one file).
fn trace() -> bool {
    static TRACE: OnceLock<bool> = OnceLock::new();
    *TRACE.get_or_init(|| std::env::var_os("VAULTD_FUZZ_TRACE").is_some())
}

static FIXTURE: OnceLock<Mutex<Fixture>> = OnceLock::new();

fuzz_target!(|data: &[u8]| {
    let mut fixture = FIXTURE
        .get_or_init(|| Mutex::new(Fixture::new()))
        .lock()
        .unwrap_or_else(|p| p.into_inner());
    fixture.reset();
    for call in data.split(|b| *b == 0xFF).take(MAX_CALLS) {
        let [route, who, body @ ..] = call else {
            continue;
        };
        let route = &ROUTES[usize::from(*route) % ROUTES.len()];
        let app = if who & 0x40 == 0 {
            &fixture.open
        } else {
            &fixture.closed
        };
        let body = fixture.substitute(body);
        let caller = caller(*who);
        let call = Call {
            body: &body,
            caller,
            client: client(who >> 3),
        };
        let outcome = (route.handler)(app, &call);
        if trace() {
            let answer = match &outcome {
                Ok(reply) => format!("{} {}", reply.status, String::from_utf8_lossy(&reply.body)),
                Err(e) => format!("{} {}", e.status(), String::from_utf8_lossy(&e.body())),
            };
            eprintln!("{} {:?} -> {answer}", route.path, call.caller);
        }
        match outcome {
            Ok(reply) => {
                let created = matches!(route.path, "/register/finish" | "/add");
                assert_eq!(
                    reply.status,
                    if created { 201 } else { 200 },
                    "{}",
                    route.path
                );
                let json: Value = serde_json::from_slice(&reply.body).expect("a JSON reply");
                assert!(json.is_object(), "{}: {json}", route.path);
                if route.path == "/add" {
                    check_stored(app, caller.unwrap().user_id, &body);
                }
            }
            Err(err) => check_error(route.path, &err),
        }
    }
});
