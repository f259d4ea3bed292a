//! API 1.1's security fixes over real HTTP, on both backends: user ids are
//! never reused and a token works only for its own account; `/register`
//! evaluates the OPRF under a fresh credential identifier, named by a
//! single-use `registration_id`, and counts against its client address.

mod common;

use common::{
    Backend, TestServer, b64, login, login_start, register, registration_finish,
    registration_start, unb64, user_token,
};
use serde_json::{Value, json};

both_backends!(
    a_deleted_accounts_token_never_reads_a_later_account,
    register_finish_needs_its_own_registration_id,
    a_registration_finishes_on_another_instance,
    the_first_of_several_registrations_wins,
    every_register_counts_against_the_address,
    password_changes_need_their_registration_id,
    unknown_names_get_stable_evaluations_that_an_account_does_not_share,
);

const PW: &str = "correct horse";

fn start(backend: Backend) -> Option<TestServer> {
    TestServer::start(backend)
}

/// The `sub` claim of a token, read without checking it.
fn subject(token: &str) -> String {
    let payload = token.split('.').nth(1).unwrap();
    let claims: Value = serde_json::from_slice(&unb64(payload)).unwrap();
    claims["sub"].as_str().unwrap().to_string()
}

/// The account-takeover of the review: Mallory keeps a token and deletes
/// her account; the next registrant must not be reachable with it.
fn a_deleted_accounts_token_never_reads_a_later_account(backend: Backend) {
    let Some(server) = start(backend) else { return };
    let mallory = user_token(&server, "mallory");
    let (s, _) = server.post("/account/delete", Some(&mallory), &json!({}));
    assert_eq!(s, 200);
    let victim = user_token(&server, "victim");
    assert_ne!(subject(&victim), subject(&mallory), "a user id was reused");
    let (s, _) = server.post(
        "/add",
        Some(&victim),
        &json!({"site": "bank", "password": "the victim's"}),
    );
    assert_eq!(s, 201);
    let (state, request) = registration_start("mallory's");
    for (path, body) in [
        ("/get", json!({})),
        ("/get", json!({"site": "bank"})),
        ("/add", json!({"site": "x", "password": "y"})),
        ("/change", json!({"site": "bank", "password": "z"})),
        ("/delete", json!({"site": "bank"})),
        ("/sync", json!({"since": 0})),
        (
            "/account/password",
            json!({"registration_request": request}),
        ),
    ] {
        let (s, r) = server.post(path, Some(&mallory), &body);
        assert_eq!(
            (s, r["error"].as_str()),
            (401, Some("unauthorized")),
            "{path}"
        );
    }
    drop(state);
    let (_, r) = server.post("/get", Some(&victim), &json!({"site": "bank"}));
    assert_eq!(r["entry"]["password"], "the victim's");
    assert_eq!(login(&server, "victim", PW).0, 200);
}

/// `/register` for `name`: the client state, the status and the reply.
fn register_start(
    server: &TestServer,
    name: &str,
    password: &str,
) -> (
    opaque_ke::ClientRegistration<vaultd::auth::opaque::Suite>,
    Value,
) {
    let (state, request) = registration_start(password);
    let (s, reply) = server.post(
        "/register",
        None,
        &json!({"username": name, "registration_request": request}),
    );
    assert_eq!(s, 200, "{reply}");
    let id = reply["registration_id"]
        .as_str()
        .expect("a registration_id");
    assert!(unb64(id).len() >= 16);
    (state, reply)
}

fn finish(server: &TestServer, name: &str, id: &Value, record: &str) -> (u16, Value) {
    let mut body = json!({"username": name, "registration_record": record});
    if !id.is_null() {
        body["registration_id"] = id.clone();
    }
    server.post("/register/finish", None, &body)
}

fn register_finish_needs_its_own_registration_id(backend: Backend) {
    let Some(server) = start(backend) else { return };
    let (state, reply) = register_start(&server, "alice", PW);
    let record = registration_finish(state, PW, &reply);
    let id = &reply["registration_id"];
    for bad in [Value::Null, json!(b64(&[7u8; 32])), json!("not base64url!")] {
        let (s, r) = finish(&server, "alice", &bad, &record);
        assert_eq!(
            (s, r["error"].as_str()),
            (400, Some("bad_request")),
            "{bad}"
        );
    }
    // Another username's id makes no account, and stays usable by its own.
    assert_eq!(finish(&server, "bob", id, &record).0, 400);
    assert_eq!(login(&server, "bob", PW).0, 401);
    assert_eq!(finish(&server, "alice", id, &record).0, 201);
    assert_eq!(login(&server, "alice", PW).0, 200);
    // Single use.
    let (s, r) = finish(&server, "alice", id, &record);
    assert_eq!((s, r["error"].as_str()), (400, Some("bad_request")));
}

fn a_registration_finishes_on_another_instance(backend: Backend) {
    let Some(first) = start(backend) else { return };
    let second = first.sibling();
    let (state, reply) = register_start(&first, "alice", PW);
    let record = registration_finish(state, PW, &reply);
    assert_eq!(
        finish(&second, "alice", &reply["registration_id"], &record).0,
        201
    );
    assert_eq!(login(&first, "alice", PW).0, 200);
}

fn the_first_of_several_registrations_wins(backend: Backend) {
    let Some(server) = start(backend) else { return };
    let (a_state, a) = register_start(&server, "alice", "first password");
    let (b_state, b) = register_start(&server, "alice", "second password");
    assert_ne!(a["registration_id"], b["registration_id"]);
    let b_record = registration_finish(b_state, "second password", &b);
    let a_record = registration_finish(a_state, "first password", &a);
    assert_eq!(
        finish(&server, "alice", &b["registration_id"], &b_record).0,
        201
    );
    let (s, r) = finish(&server, "alice", &a["registration_id"], &a_record);
    assert_eq!((s, r["error"].as_str()), (409, Some("conflict")));
    assert_eq!(login(&server, "alice", "second password").0, 200);
    assert_eq!(login(&server, "alice", "first password").0, 401);
}

/// Every `/register`, for a free name or a taken one, counts as a failure
/// against the address in the login throttle (20 in 15 minutes).
fn every_register_counts_against_the_address(backend: Backend) {
    let Some(server) = start(backend) else { return };
    assert_eq!(register(&server, "taken", PW, json!({})), 201);
    for i in 0..19 {
        let name = if i % 2 == 0 {
            "taken".to_string()
        } else {
            format!("free{i}")
        };
        let (_, request) = registration_start(PW);
        let (s, _) = server.post(
            "/register",
            None,
            &json!({"username": name, "registration_request": request}),
        );
        assert!(s == 200 || s == 409, "{i}: {s}");
    }
    let (_, request) = registration_start(PW);
    let body = json!({"username": "another", "registration_request": request});
    let body = serde_json::to_vec(&body).unwrap();
    let json = [("Content-Type", "application/json")];
    let response = server.request("POST", "/register", None, &json, &body);
    assert_eq!(response.status, 429);
    assert!(response.header("Retry-After").is_some());
    assert_eq!(
        login_start(&server, "taken", PW).1,
        429,
        "the address is throttled"
    );
}

/// Starts a password change with `token`; the state and the reply.
fn change_start(
    server: &TestServer,
    token: &str,
    password: &str,
) -> (
    opaque_ke::ClientRegistration<vaultd::auth::opaque::Suite>,
    Value,
) {
    let (state, request) = registration_start(password);
    let (s, reply) = server.post(
        "/account/password",
        Some(token),
        &json!({"registration_request": request}),
    );
    assert_eq!(s, 200, "{reply}");
    assert!(reply["registration_id"].is_string());
    (state, reply)
}

fn password_changes_need_their_registration_id(backend: Backend) {
    let Some(server) = start(backend) else { return };
    let token = user_token(&server, "alice");
    let other = user_token(&server, "bob");
    let (a_state, a) = change_start(&server, &token, "password a");
    let (b_state, b) = change_start(&server, &token, "password b");
    let (_, bobs) = change_start(&server, &other, "bob's");
    let a_record = registration_finish(a_state, "password a", &a);
    let b_record = registration_finish(b_state, "password b", &b);
    let finish = |token: &str, id: &Value, record: &str| {
        let mut body = json!({"registration_record": record});
        if !id.is_null() {
            body["registration_id"] = id.clone();
        }
        server.post("/account/password/finish", Some(token), &body)
    };
    assert_eq!(finish(&token, &Value::Null, &a_record).0, 400);
    assert_eq!(finish(&token, &bobs["registration_id"], &a_record).0, 400);
    let (s, r) = finish(&token, &b["registration_id"], &b_record);
    assert_eq!(s, 200, "{r}");
    assert_eq!(login(&server, "alice", "password b").0, 200);
    // The other change, started side by side, still finishes as itself
    // (with a token made after the first: that one revoked the old).
    let fresh = r["token"].as_str().unwrap();
    assert_eq!(finish(fresh, &a["registration_id"], &a_record).0, 200);
    assert_eq!(login(&server, "alice", "password a").0, 200);
    assert_eq!(login(&server, "alice", "password b").0, 401);
    assert_eq!(finish(fresh, &a["registration_id"], &a_record).0, 401);
}

/// The first 32 bytes of a credential response: the OPRF evaluation of the
/// client's blinded element.
fn evaluation(server: &TestServer, name: &str, request: &str) -> Vec<u8> {
    let (s, r) = server.post(
        "/login",
        None,
        &json!({"username": name, "credential_request": request}),
    );
    assert_eq!(s, 200, "{r}");
    unb64(r["credential_response"].as_str().unwrap())[..32].to_vec()
}

/// Before 1.1 an unknown name's `/login` evaluated the OPRF under the very
/// key its later account would get: the same oracle as `/register`.
fn unknown_names_get_stable_evaluations_that_an_account_does_not_share(backend: Backend) {
    let Some(server) = start(backend) else { return };
    let start = opaque_ke::ClientLogin::<vaultd::auth::opaque::Suite>::start(
        &mut rand::rngs::OsRng,
        b"a guess",
    )
    .unwrap();
    let request = b64(&start.message.serialize());
    let before = evaluation(&server, "zed", &request);
    assert_eq!(evaluation(&server, "zed", &request), before, "repeatable");
    assert_ne!(evaluation(&server, "zoe", &request), before);
    assert_eq!(register(&server, "zed", PW, json!({})), 201);
    assert_ne!(evaluation(&server, "zed", &request), before);
}
