//! A hostile server cannot drive the user's terminal: whatever it says
//! (error messages, malformed answers) reaches stderr with its control
//! characters escaped, on one line; entry fields go to a pipe raw and to a
//! terminal escaped.

mod cli_kit;
mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;

use cli_kit::{Device, on_terminal, register};
use common::{Backend, TestServer};

/// Clears the screen, sets the window title, rings, forges a second line,
/// reorders text (RLO) and sends a C1 CSI.
const HOSTILE: &str = "\u{1b}[2J\u{1b}]0;pwned\u{7}evil\nvault: forged line\u{202e}txt\u{9b}31m";

/// A loopback server answering every request with `status` and `body`.
fn fake_server(status: u16, body: String) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { return };
            let mut reader = BufReader::new(conn.try_clone().unwrap());
            let mut request_line = String::new();
            let _ = reader.read_line(&mut request_line);
            let headers = common::read_headers(&mut reader);
            let len = headers
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
                .map_or(0, |(_, v)| v.parse().unwrap());
            let mut sink = vec![0; len];
            let _ = reader.read_exact(&mut sink);
            let _ = write!(
                conn,
                "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    url
}

fn assert_safe(stderr: &str) {
    assert_eq!(stderr.lines().count(), 1, "one line: {stderr:?}");
    assert!(
        !stderr
            .trim_end()
            .chars()
            .any(vaultd::client::text::is_unsafe),
        "raw control characters reached stderr: {stderr:?}"
    );
}

#[test]
fn server_error_text_is_escaped() {
    for status in [400, 401, 403, 409, 418, 500] {
        let body = serde_json::json!({"error": "bad_request", "message": HOSTILE}).to_string();
        let d = Device::new(&fake_server(status, body), "eve", "eve master pw");
        let out = d.run(&["ls"]);
        assert_eq!(out.code, 1, "{out:#?}");
        assert_safe(&out.stderr);
        let out = d.run(&["register"]);
        assert_eq!(out.code, 1, "{out:#?}");
        assert_safe(&out.stderr);
    }
    // The message is still there, readable.
    let body = serde_json::json!({"error": "bad_request", "message": HOSTILE}).to_string();
    let d = Device::new(&fake_server(400, body), "eve", "eve master pw");
    let out = d.run(&["ls"]);
    assert!(
        out.stderr
            .contains("\\u{1b}]0;pwned\\u{7}evil\\nvault: forged line"),
        "{out:#?}"
    );
    // A malformed 200 whose parse error quotes the server.
    let body = format!("{{\"login_id\": 5, \"x\": \"{}\"}}", "\u{1b}[2J");
    let d = Device::new(&fake_server(200, body), "eve", "eve master pw");
    let out = d.run(&["ls"]);
    assert_eq!(out.code, 1, "{out:#?}");
    assert_safe(&out.stderr);
}

/// An entry's fields hold control characters (another client may write
/// them): a pipe gets the exact bytes, a terminal gets them escaped.
#[test]
fn entry_fields_raw_in_a_pipe_escaped_on_a_terminal() {
    let server = TestServer::start(Backend::Sqlite).unwrap();
    let d = Device::new(&server.base_url(), "tess", "tess master pw");
    register(&d);
    let password = "pw\u{1b}]0;title\u{7}\u{9b}2J";
    d.input(
        &["add", "ctl.example", "--username", "u\u{1b}[31m"],
        password,
    )
    .ok();
    assert_eq!(
        d.run(&["get", "ctl.example"]).ok().stdout,
        format!("{password}\n")
    );
    let json = d.run(&["get", "ctl.example", "--json"]).ok().json();
    assert_eq!(json["password"], password);

    for args in [
        &["get", "ctl.example"][..],
        &["get", "ctl.example", "--field", "username"],
        &["get", "ctl.example", "--json"],
        &["ls", "--json"],
    ] {
        let shown = on_terminal(&d, args, "");
        assert!(
            !shown
                .chars()
                .any(|c| c != '\r' && c != '\n' && vaultd::client::text::is_unsafe(c)),
            "vault {args:?} sent raw control characters to a terminal: {shown:?}"
        );
        assert!(!shown.trim().is_empty(), "{args:?}");
    }
    assert!(on_terminal(&d, &["get", "ctl.example"], "").contains("pw\\u{1b}]0;title\\u{7}"));
}
