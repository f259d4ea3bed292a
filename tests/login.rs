//! Registration, login, sessions and account routes (API.md) over real HTTP,
//! on SQLite and PostgreSQL, with a real OPAQUE client.

mod common;

use common::{
    Backend, Options, TestServer, b64, login, login_finalization, login_start, register,
    registration_finish, registration_start, unb64, user_token,
};
use rand::RngCore;
use serde_json::{Value, json};

both_backends!(
    register_and_login,
    usernames_are_normalised_and_checked,
    taken_usernames_are_409,
    wrong_password_and_replays_are_401,
    unknown_users_get_a_same_length_fake_response,
    throttling_locks_one_address_not_the_user,
    throttling_counts_logins_that_never_finish,
    password_change_ends_old_sessions_and_logins,
    account_routes_need_a_fresh_token,
    account_delete_removes_everything,
    closed_signups_need_a_one_time_invite,
    hostile_opaque_messages_are_400_or_401,
    login_started_on_one_instance_finishes_on_another,
);

const PW: &str = "correct horse";

fn start(backend: Backend) -> Option<TestServer> {
    TestServer::start(backend)
}

fn register_and_login(backend: Backend) {
    let Some(server) = start(backend) else { return };
    assert_eq!(
        register(
            &server,
            "alice",
            PW,
            json!({"vault_key": "wrapped-key-blob"})
        ),
        201
    );
    let (state, status, reply) = login_start(&server, "alice", PW);
    assert_eq!(status, 200);
    assert_eq!(unb64(reply["login_id"].as_str().unwrap()).len(), 32);
    assert_eq!(reply.as_object().unwrap().len(), 2);
    let finalization =
        login_finalization(state, PW, &reply).expect("the client accepts the server");
    let (status, reply) = server.post(
        "/login/finish",
        None,
        &json!({"login_id": reply["login_id"], "credential_finalization": finalization}),
    );
    assert_eq!(status, 200, "{reply}");
    assert_eq!(reply["token_type"], "Bearer");
    assert_eq!(reply["expires_in"], 3600);
    assert_eq!(reply["vault_key"], "wrapped-key-blob");
    let token = reply["token"].as_str().unwrap();
    assert_eq!(server.post("/get", Some(token), &json!({})).0, 200);
    // The claims of API.md.
    let claims: Value = serde_json::from_slice(&unb64(token.split('.').nth(1).unwrap())).unwrap();
    for claim in ["sub", "iat", "exp", "jti", "rev"] {
        assert!(
            claims.get(claim).is_some(),
            "claim {claim} missing: {claims}"
        );
    }
    assert_eq!(
        claims["exp"].as_u64().unwrap() - claims["iat"].as_u64().unwrap(),
        3600
    );
    // Without a vault key, `vault_key` is null.
    assert_eq!(register(&server, "bob", PW, json!({})), 201);
    assert_eq!(login(&server, "bob", PW).1["vault_key"], Value::Null);
    // A vault key over 1024 bytes is refused.
    assert_eq!(
        register(&server, "carol", PW, json!({"vault_key": "k".repeat(1025)})),
        400
    );
}

fn usernames_are_normalised_and_checked(backend: Backend) {
    let Some(server) = start(backend) else { return };
    let (_, request) = registration_start("pw");
    for bad in ["", "  ", "al ice", "ålice", "a/b", &"x".repeat(65), "İ"] {
        let (s, r) = server.post(
            "/register",
            None,
            &json!({"username": bad, "registration_request": request}),
        );
        assert_eq!(
            (s, r["error"].as_str()),
            (400, Some("bad_request")),
            "{bad:?}"
        );
    }
    assert_eq!(
        register(&server, "  Alice@Example.ORG ", PW, json!({})),
        201
    );
    // Same account whatever the case and surrounding whitespace.
    assert_eq!(login(&server, "alice@example.org", PW).0, 200);
    assert_eq!(login(&server, "ALICE@EXAMPLE.ORG\t", PW).0, 200);
    assert_eq!(register(&server, "alice@example.org", PW, json!({})), 409);
}

fn taken_usernames_are_409(backend: Backend) {
    let Some(server) = start(backend) else { return };
    assert_eq!(register(&server, "alice", PW, json!({})), 201);
    let (_, request) = registration_start("pw");
    let (s, r) = server.post(
        "/register",
        None,
        &json!({"username": "alice", "registration_request": request}),
    );
    assert_eq!((s, r["error"].as_str()), (409, Some("conflict")));
    // Taken between the two steps: /register/finish answers 409.
    let (state, request) = registration_start("pw");
    let (s, reply) = server.post(
        "/register",
        None,
        &json!({"username": "bob", "registration_request": request}),
    );
    assert_eq!(s, 200);
    assert_eq!(register(&server, "bob", "another", json!({})), 201);
    let record = registration_finish(state, "pw", &reply);
    let (s, _) = server.post(
        "/register/finish",
        None,
        &json!({
            "username": "bob",
            "registration_id": reply["registration_id"],
            "registration_record": record,
        }),
    );
    assert_eq!(s, 409);
    // The first registration stands.
    assert_eq!(login(&server, "bob", "another").0, 200);
    assert_eq!(login(&server, "bob", "pw").0, 401);
}

fn wrong_password_and_replays_are_401(backend: Backend) {
    let Some(server) = start(backend) else { return };
    assert_eq!(register(&server, "alice", PW, json!({})), 201);
    // Wrong password: the client itself refuses; a forged finalization is 401.
    let (state, _, reply) = login_start(&server, "alice", "wrong");
    assert!(login_finalization(state, "wrong", &reply).is_none());
    let (s, r) = server.post(
        "/login/finish",
        None,
        &json!({"login_id": reply["login_id"], "credential_finalization": b64(&[7u8; 64])}),
    );
    assert_eq!((s, r["error"].as_str()), (401, Some("unauthorized")));
    // A correct finalization, replayed: the second use fails.
    let (state, _, reply) = login_start(&server, "alice", PW);
    let fin = login_finalization(state, PW, &reply).unwrap();
    let body = json!({"login_id": reply["login_id"], "credential_finalization": fin});
    assert_eq!(server.post("/login/finish", None, &body).0, 200);
    assert_eq!(server.post("/login/finish", None, &body).0, 401);
    // A finalization for another login's id fails, and spends that login.
    let (state_a, _, reply_a) = login_start(&server, "alice", PW);
    let (_state_b, _, reply_b) = login_start(&server, "alice", PW);
    let fin_a = login_finalization(state_a, PW, &reply_a).unwrap();
    assert_eq!(
        server
            .post(
                "/login/finish",
                None,
                &json!({"login_id": reply_b["login_id"], "credential_finalization": fin_a})
            )
            .0,
        401
    );
    // Unknown and malformed login ids.
    assert_eq!(
        server
            .post(
                "/login/finish",
                None,
                &json!({"login_id": b64(&[1u8; 32]), "credential_finalization": fin_a})
            )
            .0,
        401
    );
    assert_eq!(
        server
            .post(
                "/login/finish",
                None,
                &json!({"login_id": "", "credential_finalization": fin_a})
            )
            .0,
        401
    );
}

/// The server's state between the two login steps is stored sealed: the
/// database alone cannot be used to finish someone's login.
#[test]
fn pending_login_state_is_sealed_in_the_database() {
    let Some(server) = start(Backend::Sqlite) else {
        return;
    };
    assert_eq!(register(&server, "alice", PW, json!({})), 201);
    let (_, status, _) = login_start(&server, "alice", PW);
    assert_eq!(status, 200);
    let conn = rusqlite::Connection::open(server.dir.0.join("vaultd.db")).unwrap();
    let state: Vec<u8> = conn
        .query_row("SELECT state FROM pending_logins", [], |r| r.get(0))
        .unwrap();
    // nonce 24 ‖ sealed 128-byte ServerLogin state ‖ tag 16
    assert_eq!(state.len(), 24 + 128 + 16);
    // Tampering with the stored state makes the login fail, not misbehave.
    let (client, _, reply) = login_start(&server, "alice", PW);
    conn.execute("UPDATE pending_logins SET state = zeroblob(168)", [])
        .unwrap();
    let fin = login_finalization(client, PW, &reply).unwrap();
    let (status, _) = server.post(
        "/login/finish",
        None,
        &json!({"login_id": reply["login_id"], "credential_finalization": fin}),
    );
    assert_eq!(status, 401);
}

fn unknown_users_get_a_same_length_fake_response(backend: Backend) {
    let Some(server) = start(backend) else { return };
    assert_eq!(register(&server, "alice", PW, json!({})), 201);
    let (_, s_known, known) = login_start(&server, "alice", PW);
    let (state, s_unknown, unknown) = login_start(&server, "nobody", PW);
    assert_eq!((s_known, s_unknown), (200, 200));
    let len = |v: &Value, k: &str| v[k].as_str().unwrap().len();
    assert_eq!(
        len(&known, "credential_response"),
        len(&unknown, "credential_response")
    );
    assert_eq!(
        unb64(known["credential_response"].as_str().unwrap()).len(),
        320
    );
    assert_eq!(len(&known, "login_id"), len(&unknown, "login_id"));
    // The client cannot finish against the fake record; a forged finish is 401.
    assert!(login_finalization(state, PW, &unknown).is_none());
    let (s, r) = server.post(
        "/login/finish",
        None,
        &json!({"login_id": unknown["login_id"], "credential_finalization": b64(&[9u8; 64])}),
    );
    assert_eq!((s, r["error"].as_str()), (401, Some("unauthorized")));
    // Two fake responses for one unknown name differ (fresh randomness), like real ones.
    let (_, _, again) = login_start(&server, "nobody", PW);
    assert_ne!(again["credential_response"], unknown["credential_response"]);
}

/// Fails one login for `username` from `addr` (as seen through --trust-proxy).
fn failed_login(server: &TestServer, username: &str, addr: &str) -> common::RawResponse {
    let start = opaque_ke::ClientLogin::<vaultd::auth::opaque::Suite>::start(
        &mut rand::rngs::OsRng,
        b"wrong",
    )
    .unwrap();
    let ct = ("Content-Type", "application/json");
    let xff = ("X-Forwarded-For", addr);
    let body = json!({"username": username, "credential_request": b64(&start.message.serialize())})
        .to_string();
    let r = server.request("POST", "/login", None, &[ct, xff], body.as_bytes());
    if r.status != 200 {
        return r;
    }
    let body =
        json!({"login_id": r.json()["login_id"], "credential_finalization": b64(&[3u8; 64])})
            .to_string();
    server.request("POST", "/login/finish", None, &[ct, xff], body.as_bytes())
}

fn throttling_locks_one_address_not_the_user(backend: Backend) {
    let Some(server) = TestServer::start_with(
        backend,
        Options {
            args: vec!["--trust-proxy".into()],
        },
    ) else {
        return;
    };
    assert_eq!(register(&server, "alice", PW, json!({})), 201);
    // The forged first entries of X-Forwarded-For are ignored: only the last counts.
    let attacker = "203.0.113.7";
    for i in 0..5 {
        let r = failed_login(&server, "alice", &format!("10.9.9.{i}, {attacker}"));
        assert_eq!(r.status, 401, "failure {i}");
    }
    let r = failed_login(&server, "alice", attacker);
    assert_eq!(
        (r.status, r.json()["error"].as_str()),
        (429, Some("too_many_requests"))
    );
    let retry: u64 = r.header("Retry-After").unwrap().parse().unwrap();
    assert!((1..=900).contains(&retry), "{retry}");
    // Another address still logs in: no denial of service against alice.
    let ok = with_address(&server, "198.51.100.1", "alice", PW);
    assert_eq!(ok, 200);
    // Without --trust-proxy the header means nothing: all is the TCP peer.
    let Some(plain) = start(backend) else { return };
    assert_eq!(register(&plain, "bob", PW, json!({})), 201);
    for i in 0..5 {
        assert_eq!(
            failed_login(&plain, "bob", &format!("10.0.0.{i}")).status,
            401
        );
    }
    assert_eq!(failed_login(&plain, "bob", "10.0.0.99").status, 429);
    // A success resets the count for that username and address.
    let Some(fresh) = start(backend) else { return };
    assert_eq!(register(&fresh, "carol", PW, json!({})), 201);
    for _ in 0..4 {
        assert_eq!(failed_login(&fresh, "carol", "-").status, 401);
    }
    assert_eq!(login(&fresh, "carol", PW).0, 200);
    for _ in 0..4 {
        assert_eq!(failed_login(&fresh, "carol", "-").status, 401);
    }
    assert_eq!(login(&fresh, "carol", PW).0, 200);
}

/// A complete login with the client address set through X-Forwarded-For.
fn with_address(server: &TestServer, addr: &str, username: &str, password: &str) -> u16 {
    let start = opaque_ke::ClientLogin::<vaultd::auth::opaque::Suite>::start(
        &mut rand::rngs::OsRng,
        password.as_bytes(),
    )
    .unwrap();
    let ct = ("Content-Type", "application/json");
    let xff = ("X-Forwarded-For", addr);
    let body = json!({"username": username, "credential_request": b64(&start.message.serialize())})
        .to_string();
    let r = server.request("POST", "/login", None, &[ct, xff], body.as_bytes());
    if r.status != 200 {
        return r.status;
    }
    let reply = r.json();
    let fin = login_finalization(start.state, password, &reply).unwrap();
    let body = json!({"login_id": reply["login_id"], "credential_finalization": fin}).to_string();
    server
        .request("POST", "/login/finish", None, &[ct, xff], body.as_bytes())
        .status
}

fn throttling_counts_logins_that_never_finish(backend: Backend) {
    let Some(server) = start(backend) else { return };
    assert_eq!(register(&server, "alice", PW, json!({})), 201);
    // An attacker learns from /login alone whether a guess was right, so
    // logins that are never finished count as failures.
    for _ in 0..5 {
        assert_eq!(login_start(&server, "alice", "guess").1, 200);
    }
    let (_, status, reply) = login_start(&server, "alice", "guess");
    assert_eq!(
        (status, reply["error"].as_str()),
        (429, Some("too_many_requests"))
    );
    // Twenty failures from one address block it whatever the usernames; a
    // right password may still finish the twentieth. The `/register` counts
    // as one of them (API.md 1.1).
    let Some(server) = start(backend) else { return };
    assert_eq!(register(&server, "alice", PW, json!({})), 201);
    for i in 0..18 {
        assert_eq!(login_start(&server, &format!("user{i}"), "guess").1, 200);
    }
    assert_eq!(login(&server, "alice", PW).0, 200);
    assert_eq!(login_start(&server, "user19", "guess").1, 200);
    assert_eq!(login_start(&server, "someone-else", "guess").1, 429);
    assert_eq!(
        server
            .post(
                "/login/finish",
                None,
                &json!({"login_id": b64(&[1u8; 32]), "credential_finalization": b64(&[1u8; 64])})
            )
            .0,
        429
    );
}

fn password_change_ends_old_sessions_and_logins(backend: Backend) {
    let Some(server) = start(backend) else { return };
    assert_eq!(
        register(&server, "alice", PW, json!({"vault_key": "old-wrap"})),
        201
    );
    let old_token = login(&server, "alice", PW).1["token"]
        .as_str()
        .unwrap()
        .to_string();
    let fresh = login(&server, "alice", PW).1["token"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        server
            .post(
                "/add",
                Some(&fresh),
                &json!({"site": "kept", "password": "x"})
            )
            .0,
        201
    );
    // A login started before the change.
    let (pending_state, _, pending) = login_start(&server, "alice", PW);
    let (status, reply) = change_password(&server, &fresh, "new password", Some("new-wrap"));
    assert_eq!(status, 200, "{reply}");
    assert_eq!(reply["token_type"], "Bearer");
    assert_eq!(reply["vault_key"], "new-wrap");
    let new_token = reply["token"].as_str().unwrap().to_string();
    for t in [&old_token, &fresh] {
        assert_eq!(
            server.post("/get", Some(t), &json!({})).0,
            401,
            "older tokens end"
        );
    }
    assert_eq!(
        server
            .post("/get", Some(&new_token), &json!({"site": "kept"}))
            .0,
        200,
        "entries stay"
    );
    let fin = login_finalization(pending_state, PW, &pending).unwrap();
    assert_eq!(
        server
            .post(
                "/login/finish",
                None,
                &json!({"login_id": pending["login_id"], "credential_finalization": fin})
            )
            .0,
        401
    );
    assert_eq!(login(&server, "alice", PW).0, 401);
    assert_eq!(
        login(&server, "alice", "new password").1["vault_key"],
        "new-wrap"
    );
    // Without a vault key, the stored one is cleared.
    let t = login(&server, "alice", "new password").1["token"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        change_password(&server, &t, "third", None).1["vault_key"],
        Value::Null
    );
}

fn change_password(
    server: &TestServer,
    token: &str,
    new: &str,
    vault_key: Option<&str>,
) -> (u16, Value) {
    let (state, request) = registration_start(new);
    let (s, reply) = server.post(
        "/account/password",
        Some(token),
        &json!({"registration_request": request}),
    );
    if s != 200 {
        return (s, reply);
    }
    let mut body = json!({
        "registration_id": reply["registration_id"],
        "registration_record": registration_finish(state, new, &reply),
    });
    if let Some(k) = vault_key {
        body["vault_key"] = json!(k);
    }
    server.post("/account/password/finish", Some(token), &body)
}

/// A token for user 1 issued `age` seconds ago, signed with the server's key.
fn aged_token(server: &TestServer, age: u64) -> String {
    use jwt_simple::prelude::*;
    let key = HS256Key::from_bytes(server.env_value("JWT_KEY").as_bytes());
    let mut claims =
        Claims::with_custom_claims(json!({"rev": 0}), Duration::from_secs(3600)).with_subject(1);
    let issued = Clock::now_since_epoch() - Duration::from_secs(age);
    claims.issued_at = Some(issued);
    claims.expires_at = Some(issued + Duration::from_secs(3600));
    claims.invalid_before = None;
    key.authenticate(claims).unwrap()
}

fn account_routes_need_a_fresh_token(backend: Backend) {
    let Some(server) = start(backend) else { return };
    let _ = user_token(&server, "alice");
    let old = aged_token(&server, 301);
    let young = aged_token(&server, 10);
    assert_eq!(
        server.post("/get", Some(&old), &json!({})).0,
        200,
        "an older token still reads"
    );
    for (path, body) in [
        (
            "/account/password",
            json!({"registration_request": b64(&[0u8; 32])}),
        ),
        (
            "/account/password/finish",
            json!({"registration_record": b64(&[0u8; 192])}),
        ),
        ("/account/delete", json!({})),
    ] {
        let (s, r) = server.post(path, Some(&old), &body);
        assert_eq!((s, r["error"].as_str()), (403, Some("forbidden")), "{path}");
        assert_eq!(server.post(path, None, &body).0, 401, "{path}");
    }
    // A fresh token passes the freshness check (and then the body's own checks).
    assert_ne!(
        server
            .post(
                "/account/password",
                Some(&young),
                &json!({"registration_request": b64(&[0u8; 32])})
            )
            .0,
        403
    );
    assert_eq!(change_password(&server, &young, "next", None).0, 200);
}

fn account_delete_removes_everything(backend: Backend) {
    let Some(server) = start(backend) else { return };
    let alice = user_token(&server, "alice");
    let bob = user_token(&server, "bob");
    for t in [&alice, &bob] {
        assert_eq!(
            server
                .post("/add", Some(t), &json!({"site": "s", "password": "p"}))
                .0,
            201
        );
    }
    assert_eq!(
        server.post("/account/delete", Some(&alice), &json!({})),
        (200, json!({}))
    );
    assert_eq!(server.post("/get", Some(&alice), &json!({})).0, 401);
    assert_eq!(login(&server, "alice", PW).0, 401);
    assert_eq!(
        server.post("/get", Some(&bob), &json!({"site": "s"})).0,
        200,
        "bob is untouched"
    );
    // The name is free again, and the new alice has no entries.
    let again = user_token(&server, "alice");
    assert_eq!(
        server.post("/get", Some(&again), &json!({})).1,
        json!({"entries": []})
    );
}

/// The body is checked (400) before invites (403) and taken names (409).
#[test]
fn bad_registration_bodies_are_400_before_403_and_409() {
    for args in [vec![], vec!["--signups".to_string(), "closed".to_string()]] {
        let Some(server) = TestServer::start_with(Backend::Sqlite, Options { args: args.clone() })
        else {
            return;
        };
        if args.is_empty() {
            assert_eq!(register(&server, "alice", PW, json!({})), 201);
        }
        for (path, body) in [
            ("/register", json!({"username": "alice"})),
            (
                "/register",
                json!({"username": "alice", "registration_request": 12}),
            ),
            (
                "/register",
                json!({"username": "alice", "registration_request": "AA", "invite": 5}),
            ),
            (
                "/register/finish",
                json!({"username": "alice", "registration_record": "AA"}),
            ),
            (
                "/register/finish",
                json!({"username": "alice", "registration_record": b64(&[0u8; 192]), "vault_key": 5}),
            ),
        ] {
            let (status, reply) = server.post(path, None, &body);
            assert_eq!(status, 400, "{args:?} {path} {body} → {reply}");
        }
    }
}

fn closed_signups_need_a_one_time_invite(backend: Backend) {
    let Some(server) = TestServer::start_with(
        backend,
        Options {
            args: vec!["--signups".into(), "closed".into()],
        },
    ) else {
        return;
    };
    assert_eq!(register(&server, "alice", PW, json!({})), 403);
    assert_eq!(
        register(&server, "alice", PW, json!({"invite": "made-up"})),
        403
    );
    let invite = make_invite(&server);
    assert_eq!(
        register(&server, "alice", PW, json!({"invite": invite})),
        201
    );
    assert_eq!(
        register(&server, "bob", PW, json!({"invite": invite})),
        403,
        "spent"
    );
    assert_eq!(login(&server, "alice", PW).0, 200);
    // The database holds a hash of the invite, not the code.
    if backend == Backend::Sqlite {
        let db = std::fs::read(server.dir.0.join("vaultd.db")).unwrap();
        let wal = std::fs::read(server.dir.0.join("vaultd.db-wal")).unwrap_or_default();
        let code = invite.as_bytes();
        assert!(
            !db.windows(code.len()).any(|w| w == code)
                && !wal.windows(code.len()).any(|w| w == code)
        );
    }
}

fn make_invite(server: &TestServer) -> String {
    let out = common::spawn::vaultd_command(&server.dir.0, &["invite", "--hours", "1"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_string()
}

fn hostile_opaque_messages_are_400_or_401(backend: Backend) {
    let Some(server) = start(backend) else { return };
    let token = user_token(&server, "alice");
    let (_, _, pending) = login_start(&server, "alice", PW);
    let mut rng = rand::rngs::OsRng;
    let lengths = [
        0usize, 1, 31, 32, 33, 63, 64, 65, 95, 96, 97, 191, 192, 193, 320, 1000,
    ];
    let mut statuses = std::collections::BTreeMap::new();
    for &len in &lengths {
        for fill in ["random", "zeros", "ones"] {
            let mut bytes = vec![0u8; len];
            match fill {
                "random" => rng.fill_bytes(&mut bytes),
                "ones" => bytes.fill(0xff),
                _ => {}
            }
            let m = b64(&bytes);
            let cases = [
                (
                    "/register",
                    None,
                    json!({"username": format!("h{len}{fill}"), "registration_request": m}),
                ),
                (
                    "/register/finish",
                    None,
                    json!({"username": format!("h{len}{fill}"), "registration_record": m}),
                ),
                (
                    "/login",
                    None,
                    json!({"username": "alice", "credential_request": m}),
                ),
                (
                    "/login/finish",
                    None,
                    json!({"login_id": pending["login_id"], "credential_finalization": m}),
                ),
                (
                    "/login/finish",
                    None,
                    json!({"login_id": m, "credential_finalization": m}),
                ),
                (
                    "/account/password",
                    Some(token.as_str()),
                    json!({"registration_request": m}),
                ),
            ];
            for (path, t, body) in cases {
                let (s, r) = server.post(path, t, &body);
                *statuses.entry((path, s)).or_insert(0) += 1;
                // Success is possible only for a message of its exact size
                // whose bytes happen to decode (e.g. a valid point).
                let exact_size = match path {
                    "/register" | "/account/password" => len == 32,
                    "/register/finish" => len == 192,
                    "/login" => len == 96,
                    _ => false,
                };
                let acceptable = match s {
                    400 | 401 => true,
                    429 => path.starts_with("/login"),
                    200 | 201 => exact_size,
                    _ => false,
                };
                assert!(acceptable, "{path} with {len} {fill} bytes → {s} {r}");
                assert!(s < 500);
            }
        }
    }
    eprintln!("statuses: {statuses:?}");
    assert_eq!(server.request("GET", "/health", None, &[], b"").status, 200);
    let log = server.log.lock().unwrap().clone();
    assert!(!log.contains(" 500 "), "no 500 in the log");
    assert!(!log.contains("panicked"), "no panic in the log");
}

fn login_started_on_one_instance_finishes_on_another(backend: Backend) {
    if backend == Backend::Sqlite {
        return; // Two processes on one PostgreSQL is the deployment this is for.
    }
    let Some(a) = start(backend) else { return };
    let b = a.sibling();
    assert_eq!(register(&a, "alice", PW, json!({})), 201);
    let (state, _, reply) = login_start(&a, "alice", PW);
    let fin = login_finalization(state, PW, &reply).unwrap();
    let (s, r) = b.post(
        "/login/finish",
        None,
        &json!({"login_id": reply["login_id"], "credential_finalization": fin}),
    );
    assert_eq!(s, 200, "{r}");
    let token = r["token"].as_str().unwrap().to_string();
    // An add on one is read on the other; a logout on one is honoured by the other.
    assert_eq!(
        a.post("/add", Some(&token), &json!({"site": "x", "password": "y"}))
            .0,
        201
    );
    assert_eq!(
        b.post("/get", Some(&token), &json!({"site": "x"})).1["entry"]["password"],
        "y"
    );
    assert_eq!(b.post("/logout", Some(&token), &json!({})).0, 200);
    assert_eq!(a.post("/get", Some(&token), &json!({})).0, 401);
}

/// API.md 1.1: a client address is an IPv4 address or an IPv6 /64, and
/// `::ffff:a.b.c.d` is `a.b.c.d`. The throttle lives in
/// memory, the same on both backends.
#[test]
fn throttling_counts_an_ipv6_slash_64_and_mapped_ipv4_as_one_client() {
    let proxy = Options {
        args: vec!["--trust-proxy".into()],
    };
    let Some(server) = TestServer::start_with(Backend::Sqlite, proxy) else {
        return;
    };
    assert_eq!(register(&server, "alice", PW, json!({})), 201);
    // Five failures, each from another address of one /64, in other spellings.
    for addr in [
        "2001:db8:7:8::1",
        "2001:db8:7:8::2",
        "2001:db8:7:8:ffff:ffff:ffff:fffe",
        "2001:db8:7:8:a:b:c:d",
        "2001:DB8:7:8:0:0:0:5",
    ] {
        assert_eq!(failed_login(&server, "alice", addr).status, 401, "{addr}");
    }
    let r = failed_login(&server, "alice", "2001:0db8:0007:0008:1234::9");
    assert_eq!(r.status, 429, "the sixth guess from that /64");
    assert_eq!(with_address(&server, "2001:db8:7:9::1", "alice", PW), 200);

    // IPv4 and its IPv4-mapped IPv6 spelling share one bucket.
    for i in 0..5 {
        let addr = if i % 2 == 0 {
            "192.0.2.9"
        } else {
            "::ffff:192.0.2.9"
        };
        assert_eq!(failed_login(&server, "alice", addr).status, 401, "{addr}");
    }
    assert_eq!(
        failed_login(&server, "alice", "::ffff:c000:209").status,
        429
    );
    assert_eq!(failed_login(&server, "alice", "192.0.2.9").status, 429);
    assert_eq!(with_address(&server, "192.0.2.10", "alice", PW), 200);
}
