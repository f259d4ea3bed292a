//! Crash safety: writers issue `/add` and versioned `/change` while vaultd is
//! killed with SIGKILL at random moments; after every restart each
//! acknowledged write is there with at least its acknowledged version, and
//! the database passes an integrity check. SQLite and PostgreSQL.

mod common;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{Backend, TestServer, try_post, user_token};
use rand::Rng;
use serde_json::json;

both_backends!(acknowledged_writes_survive_sigkill);

const KILLS: usize = 10;
const WRITERS: usize = 4;
const CHANGED_SITES: usize = 4;

/// What the server acknowledged: site → highest acknowledged version.
type Acked = Arc<Mutex<HashMap<String, i64>>>;

fn acknowledged_writes_survive_sigkill(backend: Backend) {
    let Some(mut server) = TestServer::start(backend) else {
        return;
    };
    let token = user_token(&server, "alice");
    for i in 0..CHANGED_SITES {
        assert_eq!(
            server
                .post(
                    "/add",
                    Some(&token),
                    &json!({"site": format!("changed-{i}"), "password": "v1"})
                )
                .0,
            201
        );
    }
    let acked: Acked = Arc::new(Mutex::new(
        (0..CHANGED_SITES)
            .map(|i| (format!("changed-{i}"), 1))
            .collect(),
    ));
    let addr = server.addr;
    let mut total_acks = 0;
    for round in 0..KILLS {
        let stop = Arc::new(AtomicBool::new(false));
        let writers: Vec<_> = (0..WRITERS)
            .map(|w| {
                let (acked, stop, token) = (acked.clone(), stop.clone(), token.clone());
                std::thread::spawn(move || {
                    write_until_stopped(addr, &token, w, round, &acked, &stop)
                })
            })
            .collect();
        std::thread::sleep(Duration::from_millis(rand::thread_rng().gen_range(50..400)));
        server.restart(); // SIGKILL, then start again on the same port and data
        stop.store(true, Ordering::SeqCst);
        for w in writers {
            total_acks += w.join().unwrap();
        }
        verify(&server, &token, &acked);
    }
    assert!(
        total_acks > KILLS * WRITERS,
        "the writers got too few writes through ({total_acks}) for the test to mean anything"
    );
    if backend == Backend::Sqlite {
        let conn = rusqlite::Connection::open(server.dir.0.join("vaultd.db")).unwrap();
        let check: String = conn
            .query_row("PRAGMA integrity_check", [], |r| r.get(0))
            .unwrap();
        assert_eq!(check, "ok");
    }
    eprintln!("{backend:?}: {total_acks} acknowledged writes across {KILLS} kills");
}

/// Adds new sites and changes the shared ones until stopped; returns how many
/// writes were acknowledged.
fn write_until_stopped(
    addr: std::net::SocketAddr,
    token: &str,
    writer: usize,
    round: usize,
    acked: &Acked,
    stop: &AtomicBool,
) -> usize {
    let mut count = 0;
    let mut n = 0;
    while !stop.load(Ordering::SeqCst) {
        n += 1;
        let site = format!("w{writer}-r{round}-{n}");
        if let Some((201, _)) = try_post(
            addr,
            "/add",
            Some(token),
            &json!({"site": site, "password": format!("pw-{n}")}),
        ) {
            acked.lock().unwrap().insert(site, 1);
            count += 1;
        }
        let changed = format!("changed-{}", n % CHANGED_SITES);
        let Some((200, current)) = try_post(addr, "/get", Some(token), &json!({"site": changed}))
        else {
            continue;
        };
        let version = current["entry"]["version"].as_i64().unwrap();
        if let Some((200, reply)) = try_post(
            addr,
            "/change",
            Some(token),
            &json!({"site": changed, "password": format!("pw-{n}"), "version": version}),
        ) {
            let new = reply["version"].as_i64().unwrap();
            let mut acked = acked.lock().unwrap();
            let v = acked.entry(changed).or_insert(0);
            *v = (*v).max(new);
            count += 1;
        }
    }
    count
}

fn verify(server: &TestServer, token: &str, acked: &Acked) {
    let (status, reply) = server.post("/get", Some(token), &json!({}));
    assert_eq!(status, 200, "{reply}");
    let stored: HashMap<String, i64> = reply["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["site"].as_str().unwrap().to_string(),
                e["version"].as_i64().unwrap(),
            )
        })
        .collect();
    for (site, version) in acked.lock().unwrap().iter() {
        let found = stored.get(site).copied();
        assert!(
            found.is_some_and(|v| v >= *version),
            "acknowledged {site} v{version}, found {found:?}"
        );
    }
}
