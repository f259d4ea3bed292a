//! API 1.1 "Sync and the manifest" over real HTTP, on both backends:
//! numbering, `/sync`'s answer, `base_seq` and `manifest` on writes, and a
//! sync read on another instance sharing the database.

mod common;

use common::{Backend, TestServer, user_token};
use serde_json::{Value, json};

both_backends!(
    writes_are_numbered_and_sync_lists_what_changed,
    base_seq_and_manifest_follow_the_contract,
    sync_bodies_are_checked,
    a_sync_on_another_instance_sees_every_write,
);

fn start(backend: Backend) -> Option<TestServer> {
    TestServer::start(backend)
}

fn sync(server: &TestServer, token: &str, since: i64) -> Value {
    let (s, r) = server.post("/sync", Some(token), &json!({"since": since}));
    assert_eq!(s, 200, "{r}");
    r
}

fn sites(reply: &Value) -> Vec<String> {
    reply["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["site"].as_str().unwrap().to_string())
        .collect()
}

fn writes_are_numbered_and_sync_lists_what_changed(backend: Backend) {
    let Some(server) = start(backend) else { return };
    let t = user_token(&server, "alice");
    let t = t.as_str();
    let empty = sync(&server, t, 0);
    assert_eq!(
        empty,
        json!({"seq": 0, "entries": [], "deleted": [], "manifest": null})
    );
    let add = |site: &str| server.post("/add", Some(t), &json!({"site": site, "password": "p"}));
    assert_eq!(add("b").1["seq"], 1);
    assert_eq!(add("a").1["seq"], 2);
    assert_eq!(add("a").0, 409, "a failed write");
    let (s, r) = server.post("/change", Some(t), &json!({"site": "b", "password": "q"}));
    assert_eq!((s, &r["seq"], &r["version"]), (200, &json!(3), &json!(2)));
    let (s, r) = server.post("/delete", Some(t), &json!({"site": "a"}));
    assert_eq!((s, r), (200, json!({"site": "a", "seq": 4})));
    let all = sync(&server, t, 0);
    assert_eq!(
        (all["seq"].clone(), sites(&all)),
        (json!(4), vec!["b".to_string()])
    );
    assert_eq!(all["deleted"], json!([]), "since 0 lists no markers");
    let entry = &all["entries"][0];
    assert_eq!(entry.as_object().unwrap().len(), 5, "/get's shape: {entry}");
    assert_eq!(
        (entry["password"].clone(), entry["version"].clone()),
        (json!("q"), json!(2))
    );
    let since2 = sync(&server, t, 2);
    assert_eq!(
        (sites(&since2), since2["deleted"].clone()),
        (vec!["b".to_string()], json!(["a"]))
    );
    let since4 = sync(&server, t, 4);
    assert_eq!(
        (since4["entries"].clone(), since4["deleted"].clone()),
        (json!([]), json!([]))
    );
    let ahead = sync(&server, t, 99);
    assert_eq!(
        (ahead["seq"].clone(), ahead["entries"].clone()),
        (json!(4), json!([]))
    );
    // Added again: in entries only.
    assert_eq!(add("a").1["seq"], 5);
    let since2 = sync(&server, t, 2);
    assert_eq!(
        (sites(&since2), since2["deleted"].clone()),
        (vec!["a".to_string(), "b".to_string()], json!([]))
    );
    // Another user's numbers are its own.
    let bob = user_token(&server, "bob");
    assert_eq!(sync(&server, &bob, 0)["seq"], 0);
}

fn base_seq_and_manifest_follow_the_contract(backend: Backend) {
    let Some(server) = start(backend) else { return };
    let token = user_token(&server, "alice");
    let t = Some(token.as_str());
    let (s, r) = server.post(
        "/add",
        t,
        &json!({"site": "x", "password": "p", "base_seq": 0, "manifest": "m1"}),
    );
    assert_eq!((s, &r["seq"]), (201, &json!(1)));
    assert_eq!(sync(&server, &token, 0)["manifest"], "m1");
    // Stale base_seq: 409, nothing changes (the manifest neither).
    for (path, body) in [
        (
            "/add",
            json!({"site": "y", "password": "p", "base_seq": 0, "manifest": "m2"}),
        ),
        (
            "/change",
            json!({"site": "x", "password": "q", "base_seq": 0}),
        ),
        (
            "/delete",
            json!({"site": "x", "base_seq": 5, "manifest": "m2"}),
        ),
    ] {
        let (s, r) = server.post(path, t, &body);
        assert_eq!((s, r["error"].as_str()), (409, Some("conflict")), "{path}");
    }
    let state = sync(&server, &token, 0);
    assert_eq!(
        (state["seq"].clone(), state["manifest"].clone()),
        (json!(1), json!("m1"))
    );
    assert_eq!(state["entries"][0]["password"], "p");
    // A write without a manifest keeps the stored one.
    let (s, _) = server.post(
        "/change",
        t,
        &json!({"site": "x", "password": "q", "base_seq": 1}),
    );
    assert_eq!(s, 200);
    assert_eq!(sync(&server, &token, 0)["manifest"], "m1");
    // `manifest` needs `base_seq`, and holds 1 to 4096 bytes.
    for body in [
        json!({"site": "z", "password": "p", "manifest": "m"}),
        json!({"site": "z", "password": "p", "base_seq": 2, "manifest": ""}),
        json!({"site": "z", "password": "p", "base_seq": 2, "manifest": "m".repeat(4097)}),
        json!({"site": "z", "password": "p", "base_seq": -1}),
        json!({"site": "z", "password": "p", "base_seq": "2"}),
    ] {
        let (s, r) = server.post("/add", t, &body);
        assert_eq!(
            (s, r["error"].as_str()),
            (400, Some("bad_request")),
            "{body}"
        );
    }
    let full = "m".repeat(4096);
    let (s, _) = server.post(
        "/delete",
        t,
        &json!({"site": "x", "base_seq": 2, "manifest": full}),
    );
    assert_eq!(s, 200);
    let state = sync(&server, &token, 0);
    assert_eq!(
        (state["seq"].clone(), state["manifest"].clone()),
        (json!(3), json!(full))
    );
}

fn sync_bodies_are_checked(backend: Backend) {
    let Some(server) = start(backend) else { return };
    let t = user_token(&server, "alice");
    for body in [
        json!({}),
        json!({"since": -1}),
        json!({"since": "0"}),
        json!({"since": 1.5}),
        json!({"since": 0, "x": 1}),
    ] {
        let (s, r) = server.post("/sync", Some(&t), &body);
        assert_eq!(
            (s, r["error"].as_str()),
            (400, Some("bad_request")),
            "{body}"
        );
    }
    assert_eq!(server.post("/sync", None, &json!({"since": 0})).0, 401);
}

fn a_sync_on_another_instance_sees_every_write(backend: Backend) {
    let Some(first) = start(backend) else { return };
    let second = first.sibling();
    let t = user_token(&first, "alice");
    for i in 0..5 {
        let (s, _) = first.post(
            "/add",
            Some(&t),
            &json!({"site": format!("s{i}"), "password": "p"}),
        );
        assert_eq!(s, 201);
    }
    first.post("/delete", Some(&t), &json!({"site": "s0"}));
    let r = sync(&second, &t, 3);
    assert_eq!(
        (r["seq"].clone(), sites(&r), r["deleted"].clone()),
        (
            json!(6),
            vec!["s3".to_string(), "s4".to_string()],
            json!(["s0"])
        )
    );
}
