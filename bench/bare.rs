//! `bench-bare`: the HTTP ceiling (docs/PERFORMANCE.md).
//!
//! The same tiny_http (vendored, patched) as vaultd, with the same number of
//! worker threads taking requests the same way (`recv_timeout`, 100 ms), and
//! nothing else: each worker reads the request body and answers
//! `200 {}` with `Content-Type: application/json`. No routing, no JSON, no
//! token, no database, no access log. vaultd's reads are compared with it.
//!
//! Prints `bench-bare: listening on http://ADDR (N threads)` on stderr, then
//! serves until killed.

use std::sync::Arc;
use std::time::Duration;

use argh::FromArgs;
use tiny_http::{Header, Response, Server};

/// A bare tiny_http server answering 200 {}.
#[derive(FromArgs)]
struct Args {
    /// address to listen on (default 127.0.0.1:0)
    #[argh(option, default = "String::from(\"127.0.0.1:0\")")]
    bind: String,
    /// worker threads (default: vaultd's, two per core)
    #[argh(option)]
    threads: Option<usize>,
}

fn main() {
    let args: Args = argh::from_env();
    let threads = args
        .threads
        .unwrap_or_else(vaultd::config::default_threads)
        .max(1);
    let server = match Server::http(args.bind.as_str()) {
        Ok(s) => Arc::new(s),
        Err(e) => {
            eprintln!("bench-bare: cannot listen on {}: {e}", args.bind);
            std::process::exit(1);
        }
    };
    let addr = server
        .server_addr()
        .to_ip()
        .map_or_else(|| args.bind.clone(), |a| a.to_string());
    eprintln!("bench-bare: listening on http://{addr} ({threads} threads)");
    let content_type =
        Header::from_bytes(&b"Content-Type"[..], &b"application/json"[..]).expect("valid header");
    let workers: Vec<_> = (0..threads)
        .map(|_| {
            let server = server.clone();
            let content_type = content_type.clone();
            std::thread::spawn(move || {
                loop {
                    match server.recv_timeout(Duration::from_millis(100)) {
                        Ok(Some(mut request)) => {
                            let mut body = Vec::new();
                            let _ = request.as_reader().read_to_end(&mut body);
                            let response = Response::from_data(b"{}".to_vec())
                                .with_status_code(200)
                                .with_header(content_type.clone());
                            let _ = request.respond(response);
                        }
                        Ok(None) => {}
                        Err(_) => std::thread::sleep(Duration::from_millis(10)),
                    }
                }
            })
        })
        .collect();
    for w in workers {
        let _ = w.join();
    }
}
