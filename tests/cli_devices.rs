//! `vault` on two devices at once: "another device" acts inside a proxy
//! between the CLI's read and its write.

mod cli_kit;
mod common;

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};

use cli_kit::{Device, register};
use common::{Backend, TestServer};
use serde_json::{Value, json};

// --- A proxy for "another device" between the CLI's read and its write -----

/// A loopback HTTP/1.1 proxy in front of a vaultd. When the first request
/// for `hook_path` arrives, it runs the hook, and only then forwards the
/// request. It records every request's path and JSON body.
struct Proxy {
    url: String,
    seen: Arc<Mutex<Vec<(String, Value)>>>,
}

type Hook = Box<dyn FnOnce() + Send>;

impl Proxy {
    fn start(upstream: SocketAddr, hook_path: &'static str, hook: Hook) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let hook = Arc::new(Mutex::new(Some(hook)));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let recorded = seen.clone();
        // The accepting thread ends with the test process.
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(conn) = conn else { break };
                let (hook, seen) = (hook.clone(), recorded.clone());
                std::thread::spawn(move || {
                    proxy_connection(conn, upstream, hook_path, &hook, &seen)
                });
            }
        });
        Proxy { url, seen }
    }

    fn paths(&self) -> Vec<String> {
        self.seen
            .lock()
            .unwrap()
            .iter()
            .map(|(p, _)| p.clone())
            .collect()
    }

    fn body_of(&self, path: &str) -> Value {
        let seen = self.seen.lock().unwrap();
        seen.iter()
            .find(|(p, _)| p == path)
            .map(|(_, b)| b.clone())
            .unwrap_or(Value::Null)
    }
}

/// Serves one client connection (keep-alive: several requests), forwarding
/// each request on a fresh upstream connection.
fn proxy_connection(
    conn: TcpStream,
    upstream: SocketAddr,
    hook_path: &str,
    hook: &Mutex<Option<Hook>>,
    seen: &Mutex<Vec<(String, Value)>>,
) {
    let mut reader = BufReader::new(conn.try_clone().unwrap());
    let mut writer = conn;
    loop {
        let mut request_line = String::new();
        if reader.read_line(&mut request_line).unwrap_or(0) == 0 {
            return;
        }
        let mut parts = request_line.split_whitespace();
        let (method, path) = (
            parts.next().unwrap().to_owned(),
            parts.next().unwrap().to_owned(),
        );
        let (headers, body) = read_message(&mut reader);
        seen.lock().unwrap().push((
            path.clone(),
            serde_json::from_slice(&body).unwrap_or(Value::Null),
        ));
        if path == hook_path {
            let h = hook.lock().unwrap().take();
            if let Some(h) = h {
                h();
            }
        }

        let mut head =
            format!("{method} {path} HTTP/1.1\r\nHost: {upstream}\r\nConnection: close\r\n");
        for (k, v) in &headers {
            if !["host", "connection", "keep-alive"].contains(&k.to_ascii_lowercase().as_str()) {
                head.push_str(&format!("{k}: {v}\r\n"));
            }
        }
        head.push_str("\r\n");
        let mut up = TcpStream::connect(upstream).unwrap();
        up.write_all(head.as_bytes()).unwrap();
        up.write_all(&body).unwrap();
        let mut up = BufReader::new(up);
        let mut status_line = String::new();
        up.read_line(&mut status_line).unwrap();
        let (headers, body) = read_message(&mut up);

        let mut head = status_line;
        for (k, v) in &headers {
            if !k.eq_ignore_ascii_case("connection") {
                head.push_str(&format!("{k}: {v}\r\n"));
            }
        }
        head.push_str("\r\n");
        if writer
            .write_all(head.as_bytes())
            .and_then(|_| writer.write_all(&body))
            .is_err()
        {
            return;
        }
    }
}

/// The headers and the Content-Length body of an HTTP/1.1 message whose
/// first line has been read.
fn read_message(reader: &mut impl BufRead) -> (Vec<(String, String)>, Vec<u8>) {
    let headers = common::read_headers(reader);
    let len = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
        .map_or(0, |(_, v)| v.parse().unwrap());
    let mut body = vec![0; len];
    reader.read_exact(&mut body).unwrap();
    (headers, body)
}

/// `vault edit` reads the entry, then writes it with the version it read;
/// "another device" changing the entry in between makes the write fail with
/// exit 1 and changes nothing. The other device acts inside a proxy, after
/// the CLI's `/get` and before its `/change` reaches the server.
#[test]
fn concurrent_edit_from_another_device_is_refused() {
    let server = TestServer::start(Backend::Sqlite).unwrap();
    let phone = Device::new(&server.base_url(), "dana", "dana master pw");
    register(&phone);
    phone
        .input(&["add", "shared.example", "--username", "original"], "pw-1")
        .ok();

    let phone_result = Arc::new(Mutex::new(None));
    let hook: Hook = {
        let phone_result = phone_result.clone();
        Box::new(move || {
            let out = phone.run(&["edit", "shared.example", "--username", "from-phone"]);
            *phone_result.lock().unwrap() = Some((out, phone));
        })
    };
    let proxy = Proxy::start(server.addr, "/change", hook);
    let laptop = Device::new(&proxy.url, "dana", "dana master pw");

    laptop
        .run(&["edit", "shared.example", "--username", "from-laptop"])
        .fails(
            1,
            "entry `shared.example` changed elsewhere; run `vault get shared.example` and retry",
        );
    let (phone_out, phone) = phone_result
        .lock()
        .unwrap()
        .take()
        .expect("the other device ran");
    phone_out.ok();
    // The CLI syncs and checks, reads, writes; the 409 on base_seq makes it
    // sync and retry, and the 409 on the version, with nothing new to sync,
    // is the answer. Through an agent (VAULT_TEST_AGENT=1) the login is the
    // agent's, which syncs its copy then and again when it hands it over.
    let mut expected = vec!["/login", "/login/finish"];
    if std::env::var_os("VAULT_TEST_AGENT").is_some_and(|v| v == "1") {
        expected.extend(["/sync", "/sync"]);
    }
    expected.extend(["/sync", "/sync", "/change", "/sync", "/change", "/sync"]);
    assert_eq!(proxy.paths(), expected, "the CLI reads, then writes");
    assert_eq!(
        proxy.body_of("/change")["version"],
        1,
        "the write names the version read"
    );

    // The other device's change stands; the refused one left no trace.
    let e = phone.run(&["get", "shared.example", "--json"]).ok().json();
    assert_eq!(
        (&e["username"], &e["password"], &e["version"]),
        (&json!("from-phone"), &json!("pw-1"), &json!(2))
    );

    // Trying again reads the new version and succeeds (the hook is spent).
    laptop
        .run(&["edit", "shared.example", "--username", "from-laptop"])
        .ok();
    let e = phone.run(&["get", "shared.example", "--json"]).ok().json();
    assert_eq!(
        (&e["username"], &e["version"]),
        (&json!("from-laptop"), &json!(3))
    );
}
