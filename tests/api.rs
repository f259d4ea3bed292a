//! The wire contract of API.md over real HTTP, against SQLite and a real
//! PostgreSQL: general rules, the four vault routes, limits, isolation, the
//! version race, restarts, tokens.

mod common;

use std::sync::{Arc, Barrier};

use common::{Backend, Options, TestServer, user_token};
use serde_json::{Value, json};

both_backends!(
    general_rules_in_api_md_order,
    every_error_has_the_documented_body_and_headers,
    malformed_bodies_are_400,
    oversized_bodies_are_413_without_being_read,
    vault_routes_do_what_api_md_says,
    field_limits,
    hostile_strings_round_trip_byte_for_byte,
    users_never_see_each_others_entries,
    concurrent_changes_with_one_version_have_one_winner,
    data_and_tokens_survive_a_restart,
    bad_tokens_are_401,
    sigterm_exits_cleanly,
);

fn start(backend: Backend) -> Option<TestServer> {
    TestServer::start(backend)
}

fn error_code(reply: &Value) -> &str {
    reply["error"]
        .as_str()
        .unwrap_or_else(|| panic!("no error code in {reply}"))
}

fn general_rules_in_api_md_order(backend: Backend) {
    let Some(server) = start(backend) else { return };
    let json_ct = [("Content-Type", "application/json")];
    // 404 before everything.
    let r = server.request("DELETE", "/nope", None, &[], b"garbage");
    assert_eq!((r.status, error_code(&r.json())), (404, "not_found"));
    // 405 on a known path: any other method, HEAD and OPTIONS included.
    for method in ["GET", "PUT", "DELETE", "PATCH", "OPTIONS"] {
        let r = server.request(method, "/add", None, &json_ct, b"{}");
        assert_eq!(r.status, 405, "{method} /add");
        assert_eq!(error_code(&r.json()), "method_not_allowed");
    }
    let r = server.request("HEAD", "/get", None, &[], b"");
    assert_eq!(r.status, 405);
    for method in ["POST", "HEAD", "OPTIONS"] {
        assert_eq!(
            server
                .request(method, "/health", None, &json_ct, b"")
                .status,
            405,
            "{method} /health"
        );
    }
    // 415 before 413, 401 and 400.
    let big = vec![b'x'; 70_000];
    for ct in [None, Some("text/plain"), Some("application/jsonx")] {
        let headers: Vec<(&str, &str)> = ct.map(|c| ("Content-Type", c)).into_iter().collect();
        let r = server.request("POST", "/add", None, &headers, &big);
        assert_eq!(
            (r.status, error_code(&r.json())),
            (415, "unsupported_media_type"),
            "{ct:?}"
        );
    }
    // Parameters are allowed on the JSON content type.
    let r = server.request(
        "POST",
        "/get",
        None,
        &[("Content-Type", "application/json; charset=utf-8")],
        b"{}",
    );
    assert_eq!(r.status, 401);
    // 413 before 401.
    let r = server.request("POST", "/add", None, &json_ct, &big);
    assert_eq!(
        (r.status, error_code(&r.json())),
        (413, "payload_too_large")
    );
    // 401 before 400.
    let r = server.request("POST", "/add", None, &json_ct, b"not json");
    assert_eq!((r.status, error_code(&r.json())), (401, "unauthorized"));
    // Health.
    let r = server.request("GET", "/health", None, &[], b"");
    assert_eq!((r.status, r.json()), (200, json!({"status": "ok"})));
    // What the HTTP parser refuses by itself is a JSON error too.
    for (raw, status) in [
        (&b"GARBAGE\r\n\r\n"[..], 400),
        (b"GET /health HTTP/1.1\r\nBad Header Line\r\n\r\n", 400),
        (b"GET /health HTTP/1.1\r\nExpect: teapot\r\n\r\n", 417),
    ] {
        let r = server.raw(raw);
        assert_eq!(r.status, status);
        assert_eq!(r.header("Content-Type"), Some("application/json"));
        assert!(r.json()["error"].is_string());
    }
    // A query string does not change the route.
    assert_eq!(
        server.request("GET", "/health?x=1", None, &[], b"").status,
        200
    );
}

fn every_error_has_the_documented_body_and_headers(backend: Backend) {
    let Some(server) = start(backend) else { return };
    let token = user_token(&server, "alice");
    let cases: Vec<(common::RawResponse, u16)> = vec![
        (server.request("POST", "/nope", None, &[], b""), 404),
        (server.request("GET", "/add", None, &[], b""), 405),
        (server.request("POST", "/add", None, &[], b"{}"), 415),
        (
            server.request(
                "POST",
                "/get",
                None,
                &[("Content-Type", "application/json")],
                b"{}",
            ),
            401,
        ),
        (
            server.request(
                "POST",
                "/get",
                Some(&token),
                &[("Content-Type", "application/json")],
                b"[]",
            ),
            400,
        ),
        (
            server.request(
                "POST",
                "/get",
                Some(&token),
                &[("Content-Type", "application/json")],
                br#"{"site":"none"}"#,
            ),
            404,
        ),
        (server.request("GET", "/health", None, &[], b""), 200),
    ];
    for (r, status) in cases {
        assert_eq!(r.status, status);
        assert_eq!(r.header("Content-Type"), Some("application/json"));
        assert_eq!(r.header("Cache-Control"), Some("no-store"));
        assert_eq!(r.header("X-Content-Type-Options"), Some("nosniff"));
        assert_eq!(r.header("Referrer-Policy"), Some("no-referrer"));
        assert!(
            r.header("Strict-Transport-Security").is_none(),
            "no HSTS over plain HTTP"
        );
        let body = r.json();
        assert!(body.is_object());
        if status >= 400 {
            let keys: Vec<&String> = body.as_object().unwrap().keys().collect();
            assert_eq!(keys, ["error", "message"], "{body}");
            assert!(!body["message"].as_str().unwrap().is_empty());
        }
    }
}

fn malformed_bodies_are_400(backend: Backend) {
    let Some(server) = start(backend) else { return };
    let token = user_token(&server, "alice");
    let send = |path: &str, body: &[u8]| {
        server.request(
            "POST",
            path,
            Some(&token),
            &[("Content-Type", "application/json")],
            body,
        )
    };
    let bad: &[(&str, &[u8])] = &[
        ("/add", b""),
        ("/add", b"{"),
        ("/add", b"[]"),
        ("/add", b"\"site\""),
        ("/add", b"null"),
        ("/add", b"{\"site\":\"a\",\"password\":\"b\"} trailing"),
        ("/add", b"{\"site\":\"\xff\xfe\",\"password\":\"b\"}"),
        ("/add", br#"{"site":"a\ud800","password":"b"}"#),
        ("/add", br#"{"site":"a","password":"b","extra":1}"#),
        ("/add", br#"{"site":1,"password":"b"}"#),
        ("/add", br#"{"site":"a","password":["b"]}"#),
        ("/add", br#"{"site":"a","password":"b","username":5}"#),
        ("/add", br#"{"password":"b"}"#),
        ("/add", br#"{"site":"a"}"#),
        ("/add", br#"{"site":null,"password":"b"}"#),
        ("/get", br#"{"site":7}"#),
        ("/get", br#"{"sites":"a"}"#),
        ("/change", br#"{"site":"a"}"#),
        ("/change", br#"{"site":"a","password":"b","version":"1"}"#),
        ("/change", br#"{"site":"a","password":"b","version":1.5}"#),
        ("/change", br#"{"site":"a","password":null,"version":1}"#),
        ("/delete", br#"{}"#),
        ("/delete", br#"{"site":"a","version":1}"#),
        ("/logout", br#"{"x":1}"#),
        (
            "/register",
            br#"{"username":"bob","registration_request":"not base64!"}"#,
        ),
        (
            "/register",
            br#"{"username":"bob","registration_request":"AAAA="}"#,
        ),
        (
            "/register",
            br#"{"username":"bad name","registration_request":"AAAA"}"#,
        ),
        ("/login", br#"{"username":"bob"}"#),
        (
            "/login/finish",
            br#"{"login_id":"+/+/","credential_finalization":"AAAA"}"#,
        ),
    ];
    for (path, body) in bad {
        let r = send(path, body);
        assert_eq!(
            r.status,
            400,
            "{path} {:?} → {}",
            String::from_utf8_lossy(body),
            String::from_utf8_lossy(&r.body)
        );
        assert_eq!(error_code(&r.json()), "bad_request");
    }
    // Nothing was stored by any of them.
    assert_eq!(
        server.post("/get", Some(&token), &json!({})).1,
        json!({"entries": []})
    );
}

fn oversized_bodies_are_413_without_being_read(backend: Backend) {
    let Some(server) = start(backend) else { return };
    let token = user_token(&server, "alice");
    let ct = [("Content-Type", "application/json")];
    // Exactly 64 KiB is accepted (and fails later, on its own merits).
    let mut body = br#"{"site":"s","password":""#.to_vec();
    body.resize(64 * 1024 - 2, b'a');
    body.extend_from_slice(b"\"}");
    assert_eq!(body.len(), 64 * 1024);
    let r = server.request("POST", "/add", Some(&token), &ct, &body);
    assert_eq!(
        r.status, 400,
        "a 64 KiB body is read, then its password is too long"
    );
    body.insert(body.len() - 2, b'a');
    assert_eq!(
        server
            .request("POST", "/add", Some(&token), &ct, &body)
            .status,
        413
    );
    // A huge declared length is refused at once, the body never sent.
    let head = format!(
        "POST /add HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nAuthorization: Bearer {token}\r\nContent-Length: 100000000000\r\n\r\n{{"
    );
    let r = server.raw(head.as_bytes());
    assert_eq!(
        (r.status, error_code(&r.json())),
        (413, "payload_too_large")
    );
    // Chunked, no length: refused before any of it is read (API.md 1.1: 411).
    let mut chunked = format!(
        "POST /add HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nAuthorization: Bearer {token}\r\nTransfer-Encoding: chunked\r\n\r\n"
    )
    .into_bytes();
    for _ in 0..20 {
        chunked.extend_from_slice(format!("{:x}\r\n", 8192).as_bytes());
        chunked.extend_from_slice(&[b'a'; 8192]);
        chunked.extend_from_slice(b"\r\n");
    }
    chunked.extend_from_slice(b"0\r\n\r\n");
    assert_eq!(server.raw(&chunked).status, 411);
    // The server is still healthy afterwards.
    assert_eq!(server.request("GET", "/health", None, &[], b"").status, 200);
}

fn vault_routes_do_what_api_md_says(backend: Backend) {
    let Some(server) = start(backend) else { return };
    let t = user_token(&server, "alice");
    let t = Some(t.as_str());
    // add
    let (s, r) = server.post(
        "/add",
        t,
        &json!({"site": "b.example", "password": "pw1", "username": "alice"}),
    );
    assert_eq!(
        (s, r),
        (201, json!({"site": "b.example", "version": 1, "seq": 1}))
    );
    let (s, r) = server.post(
        "/add",
        t,
        &json!({"site": "b.example", "password": "other"}),
    );
    assert_eq!((s, error_code(&r)), (409, "conflict"));
    assert_eq!(
        server
            .post(
                "/add",
                t,
                &json!({"site": "a.example", "password": "pw2", "username": null})
            )
            .0,
        201
    );
    assert_eq!(
        server
            .post("/add", t, &json!({"site": "c.example", "password": "pw3"}))
            .0,
        201
    );
    // get one
    let (s, r) = server.post("/get", t, &json!({"site": "b.example"}));
    assert_eq!(s, 200);
    let e = &r["entry"];
    assert_eq!(
        (
            e["site"].as_str(),
            e["username"].as_str(),
            e["password"].as_str()
        ),
        (Some("b.example"), Some("alice"), Some("pw1"))
    );
    assert_eq!(e["version"], 1);
    let updated = e["updated_at"].as_str().unwrap();
    assert!(
        humantime::parse_rfc3339(updated).is_ok() && updated.ends_with('Z'),
        "{updated}"
    );
    assert_eq!(e.as_object().unwrap().len(), 5);
    assert_eq!(
        server.post("/get", t, &json!({"site": "a.example"})).1["entry"]["username"],
        Value::Null
    );
    let (s, r) = server.post("/get", t, &json!({"site": "zzz"}));
    assert_eq!((s, error_code(&r)), (404, "not_found"));
    // get all, sorted; `"site": null` is the same as leaving it out.
    for body in [json!({}), json!({"site": null})] {
        let (s, r) = server.post("/get", t, &body);
        assert_eq!(s, 200);
        let sites: Vec<&str> = r["entries"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["site"].as_str().unwrap())
            .collect();
        assert_eq!(sites, ["a.example", "b.example", "c.example"]);
    }
    // change: password only
    let (s, r) = server.post(
        "/change",
        t,
        &json!({"site": "b.example", "password": "pw1b"}),
    );
    assert_eq!(
        (s, r),
        (200, json!({"site": "b.example", "version": 2, "seq": 4}))
    );
    let e = server.post("/get", t, &json!({"site": "b.example"})).1["entry"].clone();
    assert_eq!(
        (
            e["password"].as_str(),
            e["username"].as_str(),
            e["version"].as_i64()
        ),
        (Some("pw1b"), Some("alice"), Some(2))
    );
    // change: username null clears it and counts as a change
    let (s, r) = server.post(
        "/change",
        t,
        &json!({"site": "b.example", "username": null, "version": 2}),
    );
    assert_eq!(
        (s, r),
        (200, json!({"site": "b.example", "version": 3, "seq": 5}))
    );
    let e = server.post("/get", t, &json!({"site": "b.example"})).1["entry"].clone();
    assert_eq!(
        (e["password"].as_str(), e["username"].clone()),
        (Some("pw1b"), Value::Null)
    );
    // change: a stale version is 409 and changes nothing
    let (s, r) = server.post(
        "/change",
        t,
        &json!({"site": "b.example", "password": "lost", "version": 2}),
    );
    assert_eq!((s, error_code(&r)), (409, "conflict"));
    let e = server.post("/get", t, &json!({"site": "b.example"})).1["entry"].clone();
    assert_eq!(
        (e["password"].as_str(), e["version"].as_i64()),
        (Some("pw1b"), Some(3))
    );
    // change: nothing to change is 400, a missing site 404
    assert_eq!(
        server
            .post("/change", t, &json!({"site": "b.example", "version": 3}))
            .0,
        400
    );
    assert_eq!(
        server
            .post("/change", t, &json!({"site": "nope", "password": "x"}))
            .0,
        404
    );
    assert_eq!(
        server
            .post(
                "/change",
                t,
                &json!({"site": "nope", "password": "x", "version": 1})
            )
            .0,
        404
    );
    // delete
    let (s, r) = server.post("/delete", t, &json!({"site": "b.example"}));
    assert_eq!((s, r), (200, json!({"site": "b.example", "seq": 6})));
    assert_eq!(
        server.post("/delete", t, &json!({"site": "b.example"})).0,
        404
    );
    assert_eq!(server.post("/get", t, &json!({"site": "b.example"})).0, 404);
    assert_eq!(
        server.post("/get", t, &json!({})).1["entries"]
            .as_array()
            .unwrap()
            .len(),
        2
    );
    // A deleted site can be added again, at version 1.
    assert_eq!(
        server
            .post("/add", t, &json!({"site": "b.example", "password": "new"}))
            .1["version"],
        1
    );
}

fn field_limits(backend: Backend) {
    let Some(server) = start(backend) else { return };
    let t = user_token(&server, "alice");
    let t = Some(t.as_str());
    let add = |site: &str, password: &str, username: Option<&str>| {
        server
            .post(
                "/add",
                t,
                &json!({"site": site, "password": password, "username": username}),
            )
            .0
    };
    let site512 = "s".repeat(512);
    let pw8192 = "p".repeat(8192);
    // API.md 1.1: `username` holds up to 32 KiB (8 KiB in 1.0).
    let user32k = "u".repeat(32768);
    assert_eq!(add(&site512, &pw8192, Some(&user32k)), 201);
    assert_eq!(add(&"s".repeat(513), "pw", None), 400);
    assert_eq!(add("ok2", &"p".repeat(8193), None), 400);
    assert_eq!(add("ok3", "pw", Some(&"u".repeat(32769))), 400);
    assert_eq!(add("ok4", "", None), 400);
    assert_eq!(add("", "pw", None), 400);
    // Limits are bytes, not characters: 171 × "é" (2 bytes) = 342 bytes is fine,
    // 257 × "é" = 514 bytes is not.
    assert_eq!(add(&"é".repeat(171), "pw", None), 201);
    assert_eq!(add(&"é".repeat(257), "pw", None), 400);
    assert_eq!(
        add("ok5", "pw", Some("")),
        201,
        "an empty username is a value"
    );
    let (s, r) = server.post("/get", t, &json!({"site": site512}));
    assert_eq!(s, 200);
    assert_eq!(r["entry"]["password"].as_str().unwrap().len(), 8192);
    assert_eq!(r["entry"]["username"].as_str().unwrap().len(), 32768);
    assert_eq!(
        server
            .post("/change", t, &json!({"site": site512, "password": ""}))
            .0,
        400
    );
    assert_eq!(
        server
            .post(
                "/change",
                t,
                &json!({"site": site512, "password": "p".repeat(8193)})
            )
            .0,
        400
    );
    assert_eq!(
        server.post("/get", t, &json!({"site": "s".repeat(513)})).0,
        400
    );
    assert_eq!(
        server.post("/get", t, &json!({})).1["entries"]
            .as_array()
            .unwrap()
            .len(),
        3
    );
}

fn hostile_strings_round_trip_byte_for_byte(backend: Backend) {
    let Some(server) = start(backend) else { return };
    let t = user_token(&server, "alice");
    let t = Some(t.as_str());
    let hostile = [
        "\u{0}",
        "nul\u{0}in\u{0}the middle",
        "'; DROP TABLE entries; --",
        "\" OR 1=1 --",
        "%s%n%x",
        "\\x00\\\\",
        "emoji 🔐🗝️ and ZWJ 👩‍👩‍👧",
        "\u{202e}right-to-left",
        "\u{feff}bom",
        "\u{ffff}\u{10ffff}",
        "line\nbreak\r\ttab",
        "<script>alert(1)</script>",
        "Ünïcödé ÀÉ",
        "   spaces   ",
    ];
    for (i, s) in hostile.iter().enumerate() {
        let site = format!("{s}#{i}");
        let (status, r) = server.post(
            "/add",
            t,
            &json!({"site": site, "password": s, "username": s}),
        );
        assert_eq!(status, 201, "{s:?}: {r}");
        let (_, r) = server.post("/get", t, &json!({"site": site}));
        assert_eq!(r["entry"]["site"].as_str(), Some(site.as_str()));
        assert_eq!(r["entry"]["password"].as_str(), Some(*s));
        assert_eq!(r["entry"]["username"].as_str(), Some(*s));
    }
    // The list is sorted by UTF-8 bytes, not by a collation.
    let (_, r) = server.post("/get", t, &json!({}));
    let sites: Vec<String> = r["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["site"].as_str().unwrap().to_string())
        .collect();
    let mut by_bytes = sites.clone();
    by_bytes.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
    assert_eq!(sites, by_bytes);
    assert_eq!(sites.len(), hostile.len());
    assert!(sites[0].starts_with('\u{0}'));
}

fn users_never_see_each_others_entries(backend: Backend) {
    let Some(server) = start(backend) else { return };
    let alice = user_token(&server, "alice");
    let bob = user_token(&server, "bob");
    assert_eq!(
        server
            .post(
                "/add",
                Some(&alice),
                &json!({"site": "shared.example", "password": "alice-secret"})
            )
            .0,
        201
    );
    let (s, r) = server.post("/get", Some(&bob), &json!({"site": "shared.example"}));
    assert_eq!((s, error_code(&r)), (404, "not_found"));
    assert_eq!(
        server
            .post(
                "/change",
                Some(&bob),
                &json!({"site": "shared.example", "password": "x"})
            )
            .0,
        404
    );
    assert_eq!(
        server
            .post(
                "/change",
                Some(&bob),
                &json!({"site": "shared.example", "password": "x", "version": 1})
            )
            .0,
        404
    );
    assert_eq!(
        server
            .post("/delete", Some(&bob), &json!({"site": "shared.example"}))
            .0,
        404
    );
    assert_eq!(
        server.post("/get", Some(&bob), &json!({})).1,
        json!({"entries": []})
    );
    // Bob may have his own entry under the same site.
    assert_eq!(
        server
            .post(
                "/add",
                Some(&bob),
                &json!({"site": "shared.example", "password": "bob-secret"})
            )
            .0,
        201
    );
    let (_, r) = server.post("/get", Some(&alice), &json!({"site": "shared.example"}));
    assert_eq!(
        (
            r["entry"]["password"].as_str(),
            r["entry"]["version"].as_i64()
        ),
        (Some("alice-secret"), Some(1))
    );
}

fn concurrent_changes_with_one_version_have_one_winner(backend: Backend) {
    let Some(server) = start(backend) else { return };
    let token = user_token(&server, "alice");
    assert_eq!(
        server
            .post(
                "/add",
                Some(&token),
                &json!({"site": "raced", "password": "v1"})
            )
            .0,
        201
    );
    let server = Arc::new(server);
    let barrier = Arc::new(Barrier::new(16));
    let handles: Vec<_> = (0..16)
        .map(|i| {
            let (server, barrier, token) = (server.clone(), barrier.clone(), token.clone());
            std::thread::spawn(move || {
                barrier.wait();
                server
                    .post(
                        "/change",
                        Some(&token),
                        &json!({"site": "raced", "password": format!("from-{i}"), "version": 1}),
                    )
                    .0
            })
        })
        .collect();
    let statuses: Vec<u16> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 409).count(),
        15,
        "{statuses:?}"
    );
    let (_, r) = server.post("/get", Some(&token), &json!({"site": "raced"}));
    assert_eq!(r["entry"]["version"], 2);
}

fn data_and_tokens_survive_a_restart(backend: Backend) {
    let Some(mut server) = start(backend) else {
        return;
    };
    let token = user_token(&server, "alice");
    assert_eq!(
        server
            .post(
                "/add",
                Some(&token),
                &json!({"site": "kept", "password": "durable"})
            )
            .0,
        201
    );
    let env_before = std::fs::read_to_string(server.dir.0.join(".env")).unwrap();
    server.restart();
    assert_eq!(
        std::fs::read_to_string(server.dir.0.join(".env")).unwrap(),
        env_before,
        "secrets kept"
    );
    let (s, r) = server.post("/get", Some(&token), &json!({"site": "kept"}));
    assert_eq!((s, r["entry"]["password"].as_str()), (200, Some("durable")));
    // And the user can still log in: the OPAQUE setup survived too.
    assert_eq!(common::login(&server, "alice", "correct horse").0, 200);
}

fn bad_tokens_are_401(backend: Backend) {
    let Some(server) = start(backend) else { return };
    let token = user_token(&server, "alice");
    let get = |auth: Option<&str>| {
        let headers: Vec<(&str, &str)> = auth
            .map(|a| ("Authorization", a))
            .into_iter()
            .chain([("Content-Type", "application/json")])
            .collect();
        server.request("POST", "/get", None, &headers, b"{}").status
    };
    assert_eq!(get(Some(&format!("Bearer {token}"))), 200);
    assert_eq!(
        get(Some(&format!("bearer {token}"))),
        200,
        "the scheme is case-insensitive"
    );
    assert_eq!(get(None), 401);
    assert_eq!(get(Some(&token)), 401, "no scheme");
    assert_eq!(get(Some(&format!("Basic {token}"))), 401);
    assert_eq!(get(Some("Bearer ")), 401);
    assert_eq!(get(Some("Bearer not.a.jwt")), 401);
    // Tampered: one character of the signature changed.
    let mut tampered = token.clone().into_bytes();
    let last = tampered.len() - 2;
    tampered[last] = if tampered[last] == b'A' { b'B' } else { b'A' };
    assert_eq!(
        get(Some(&format!(
            "Bearer {}",
            String::from_utf8(tampered).unwrap()
        ))),
        401
    );
    // Signed with another key.
    let other = vaultd::auth::token::TokenKeys::new(b"some other key that is long enough!!", 3600);
    assert_eq!(
        get(Some(&format!("Bearer {}", other.issue(1, 0).unwrap()))),
        401
    );
    // Signed with the server's key: valid for a user that exists, not for one that doesn't.
    let keys = vaultd::auth::token::TokenKeys::new(server.env_value("JWT_KEY").as_bytes(), 3600);
    assert_eq!(
        get(Some(&format!("Bearer {}", keys.issue(1, 0).unwrap()))),
        200
    );
    assert_eq!(
        get(Some(&format!("Bearer {}", keys.issue(999, 0).unwrap()))),
        401
    );
    assert_eq!(
        get(Some(&format!("Bearer {}", keys.issue(1, 5).unwrap()))),
        401,
        "wrong revocation counter"
    );
    // Expired beyond the 60 s tolerance, and HS512 instead of HS256.
    use jwt_simple::prelude::*;
    let key = HS256Key::from_bytes(server.env_value("JWT_KEY").as_bytes());
    let mut claims =
        Claims::with_custom_claims(json!({"rev": 0}), Duration::from_secs(3600)).with_subject(1);
    let past = Clock::now_since_epoch() - Duration::from_secs(3600 + 120);
    claims.issued_at = Some(past);
    claims.expires_at = Some(past + Duration::from_secs(3600));
    assert_eq!(
        get(Some(&format!(
            "Bearer {}",
            key.authenticate(claims).unwrap()
        ))),
        401
    );
    let hs512 = HS512Key::from_bytes(server.env_value("JWT_KEY").as_bytes());
    let claims =
        Claims::with_custom_claims(json!({"rev": 0}), Duration::from_secs(3600)).with_subject(1);
    assert_eq!(
        get(Some(&format!(
            "Bearer {}",
            hs512.authenticate(claims).unwrap()
        ))),
        401
    );
    // Logout revokes every token of the user.
    let second = common::login(&server, "alice", "correct horse").1["token"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        server.post("/logout", Some(&token), &json!({})),
        (200, json!({}))
    );
    assert_eq!(get(Some(&format!("Bearer {token}"))), 401);
    assert_eq!(get(Some(&format!("Bearer {second}"))), 401);
    assert_eq!(server.post("/logout", Some(&token), &json!({})).0, 401);
    // No token, secret or password ever reaches the log.
    let log = server.log.lock().unwrap().clone();
    assert!(log.contains("POST /get 200"), "{log}");
    for secret in [
        token.as_str(),
        second.as_str(),
        &server.env_value("JWT_KEY"),
        "correct horse",
    ] {
        assert!(!log.contains(secret), "a secret leaked into the log");
    }
}

fn sigterm_exits_cleanly(backend: Backend) {
    let Some(server) = start(backend) else { return };
    let started = std::time::Instant::now();
    let status = server.terminate();
    assert!(status.success(), "{status:?}");
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
}

/// Start-up mistakes end with one line that names the fix, and exit non-zero.
#[test]
fn startup_errors_name_the_fix() {
    use std::process::Command;
    let run = |dir: &std::path::Path, args: &[&str]| {
        let out = Command::new(common::vaultd_bin())
            .current_dir(dir)
            .args(["--bind", "127.0.0.1:0"])
            .args(args)
            .env_remove("JWT_KEY")
            .env_remove("OPAQUE_SERVER_SETUP")
            .output()
            .unwrap();
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stderr).to_string(),
        )
    };
    let dir = common::TempDir::new("startup");
    let (ok, err) = run(&dir.0, &[]);
    assert!(!ok && err.contains("--init-db"), "{err}");
    assert!(
        !dir.0.join("vaultd.db").exists(),
        "no empty database is left behind"
    );
    // A malformed setup, and a short key.
    common::write_private(
        &dir.0.join(".env"),
        &format!("JWT_KEY={}\nOPAQUE_SERVER_SETUP=abc\n", "k".repeat(40)),
    );
    let (ok, err) = run(&dir.0, &["--init-db"]);
    assert!(
        !ok && err.contains("OPAQUE_SERVER_SETUP is malformed"),
        "{err}"
    );
    common::write_private(&dir.0.join(".env"), "JWT_KEY=short\n");
    let (ok, err) = run(&dir.0, &["--init-db"]);
    assert!(!ok && err.contains("JWT_KEY"), "{err}");
    assert_eq!(err.trim().lines().count(), 1, "{err}");
    // Bad flags.
    let (ok, err) = run(&dir.0, &["--threads", "0"]);
    assert!(!ok && err.contains("--threads"), "{err}");
    let (ok, err) = run(&dir.0, &["--signups", "maybe"]);
    assert!(!ok && err.contains("open"), "{err}");
    // A database with accounts but no .env: --init-db refuses to make new secrets.
    let Some(server) = TestServer::start(Backend::Sqlite) else {
        return;
    };
    let _ = user_token(&server, "alice");
    let dir = server.dir.clone();
    drop(server);
    std::fs::remove_file(dir.0.join(".env")).unwrap();
    let (ok, err) = run(&dir.0, &["--init-db"]);
    assert!(!ok && err.contains("restore .env"), "{err}");
    assert!(!dir.0.join(".env").exists());
}

/// A thousand idle connections, slow bodies and half-sent headers do not
/// stop a new client from being served (each holds only its own connection
/// thread, and gives it back after the 20 s socket timeout).
#[test]
fn slow_and_idle_clients_do_not_block_others() {
    use std::io::Write;
    use std::net::TcpStream;
    // Room for all of them: past --max-connections a client gets 503 (hostile.rs).
    let options = Options {
        args: vec!["--max-connections".into(), "1100".into()],
    };
    let Some(server) = TestServer::start_with(Backend::Sqlite, options) else {
        return;
    };
    // A thousand idle connections, and a few slow senders of headers and
    // bodies (slowloris), all held open.
    let mut held = Vec::new();
    for _ in 0..1000 {
        held.push(TcpStream::connect(server.addr).unwrap());
    }
    for i in 0..24 {
        let mut s = TcpStream::connect(server.addr).unwrap();
        let partial: &[u8] = match i % 3 {
            0 => b"",
            1 => b"POST /add HTTP/1.1\r\nHost: x\r\nContent-Type: appl",
            _ => b"POST /add HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 5000\r\n\r\n{\"site\"",
        };
        s.write_all(partial).unwrap();
        held.push(s);
    }
    // Far below the 20 s socket timeout that would otherwise free a worker.
    let started = std::time::Instant::now();
    for _ in 0..8 {
        assert_eq!(server.request("GET", "/health", None, &[], b"").status, 200);
    }
    assert!(
        started.elapsed() < std::time::Duration::from_secs(10),
        "{:?}",
        started.elapsed()
    );
    drop(held);
}

/// `--tls-cert/--tls-key`: HTTPS with HSTS; a client that stalls its
/// handshake or sends garbage does not stop others.
#[test]
fn tls_serves_https_and_survives_bad_handshakes() {
    use std::io::Write;
    use std::process::Command;
    let have = |bin: &str| Command::new(bin).arg("--version").output().is_ok();
    if !have("openssl") || !have("curl") {
        common::skipped("TLS: openssl or curl missing");
        return;
    }
    let dir = common::TempDir::new("tls");
    let ok = Command::new("openssl")
        .current_dir(&dir.0)
        .args([
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-keyout",
            "key.pem",
            "-out",
            "cert.pem",
            "-days",
            "2",
            "-subj",
            "/CN=localhost",
            "-addext",
            "subjectAltName=DNS:localhost,IP:127.0.0.1",
        ])
        .output()
        .unwrap();
    assert!(
        ok.status.success(),
        "{}",
        String::from_utf8_lossy(&ok.stderr)
    );
    let cert = dir.0.join("cert.pem");
    let key = dir.0.join("key.pem");
    let options = common::Options {
        args: vec![
            "--tls-cert".into(),
            cert.display().to_string(),
            "--tls-key".into(),
            key.display().to_string(),
        ],
    };
    let Some(server) = TestServer::start_with(Backend::Sqlite, options) else {
        return;
    };
    // Stalled and garbage handshakes, held open.
    let mut held = Vec::new();
    for i in 0..6 {
        let mut s = std::net::TcpStream::connect(server.addr).unwrap();
        if i % 2 == 1 {
            let _ = s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
        }
        held.push(s);
    }
    let url = format!("https://{}/health", server.addr);
    let out = Command::new("curl")
        .args(["-sS", "-i", "--max-time", "10", "--cacert"])
        .arg(&cert)
        .arg(&url)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).to_lowercase();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.starts_with("http/1.1 200"), "{text}");
    assert!(
        text.contains("strict-transport-security: max-age="),
        "{text}"
    );
    assert!(text.contains(r#"{"status":"ok"}"#), "{text}");
    // The vault client: trusts the certificate given with --ca-file, and
    // refuses the connection without it.
    let vault = |args: &[&str], stdin: &str| {
        use std::io::Write as _;
        let mut child = Command::new(env!("CARGO_BIN_EXE_vault"))
            .args([
                "--server",
                &format!("https://localhost:{}", server.addr.port()),
            ])
            .args(args)
            .env("HOME", &dir.0)
            .env("XDG_CONFIG_HOME", &dir.0)
            .env("VAULT_USERNAME", "alice")
            .env("VAULT_PASSWORD", "master password")
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        child
            .stdin
            .take()
            .unwrap()
            .write_all(stdin.as_bytes())
            .unwrap();
        let out = child.wait_with_output().unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let ca = cert.display().to_string();
    let (code, _, err) = vault(&["register"], "");
    assert_eq!(code, Some(1), "an untrusted certificate is refused: {err}");
    assert_eq!(vault(&["--ca-file", &ca, "register"], "").0, Some(0));
    assert_eq!(
        vault(&["--ca-file", &ca, "add", "lan.example"], "over tls").0,
        Some(0)
    );
    let (code, out, err) = vault(&["--ca-file", &ca, "get", "lan.example"], "");
    assert_eq!((code, out.as_str()), (Some(0), "over tls\n"), "{err}");
    // Plain HTTP on the TLS port is not served.
    let plain = Command::new("curl")
        .args(["-sS", "--max-time", "5"])
        .arg(format!("http://{}/health", server.addr))
        .output()
        .unwrap();
    assert!(!String::from_utf8_lossy(&plain.stdout).contains("\"ok\""));
    drop(held);
}
