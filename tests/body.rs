//! A JSON body with a key twice is `400`, over real HTTP (API.md 1.1,
//! General rules): no two parsers on the path may disagree about a request.

mod common;

use common::{Backend, TestServer, user_token};
use serde_json::json;

/// POSTs `body` as it is (`json!` could not hold a key twice).
fn post_raw(server: &TestServer, path: &str, token: Option<&str>, body: &str) -> (u16, String) {
    let ct = ("Content-Type", "application/json");
    let r = server.request("POST", path, token, &[ct], body.as_bytes());
    let message = r.json()["message"].as_str().unwrap_or_default().to_string();
    (r.status, message)
}

#[test]
fn duplicate_keys_are_400_and_change_nothing() {
    let Some(server) = TestServer::start(Backend::Sqlite) else {
        return;
    };
    let token = user_token(&server, "alice");
    let t = Some(token.as_str());
    let cases = [
        (
            "/add",
            r#"{"site":"a.example","password":"first","password":"second"}"#,
        ),
        (
            "/add",
            r#"{"site":"a.example","site":"b.example","password":"p"}"#,
        ),
        (
            "/add",
            r#"{"site":"a.example","password":"p","s\u0069te":"b.example"}"#,
        ),
        ("/get", r#"{"site":"a.example","site":"a.example"}"#),
        (
            "/login",
            r#"{"username":"alice","username":"mallory","credential_request":"AA"}"#,
        ),
    ];
    for (path, body) in cases {
        let (status, message) = post_raw(&server, path, t, body);
        assert_eq!(status, 400, "{path} {body}: {message}");
        assert!(
            message.starts_with("duplicate field `"),
            "{path} {body}: {message}"
        );
    }
    let (s, r) = server.post("/get", t, &json!({}));
    assert_eq!((s, r), (200, json!({"entries": []})), "no entry was added");
    // The same body without the repeat is taken.
    let (status, _) = post_raw(&server, "/add", t, r#"{"site":"a.example","password":"p"}"#);
    assert_eq!(status, 201);
}
