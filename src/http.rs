//! The HTTP layer: tiny_http with a pool of worker threads, the checks every
//! route shares (in API.md's order: path, method, content type, size, token,
//! then the route's own body checks), JSON replies, an access log line per
//! request, panics turned into `500`, and a graceful stop.

use std::io::Read;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use tiny_http::{Header, Request, Response, Server};

use crate::api::{Access, App, Call, Caller, Reply, Route, find_route};
use crate::error::ApiError;

/// Request bodies above this answer `413` (API.md).
pub const MAX_BODY: usize = 64 * 1024;

/// How a server is run, beyond the routes' own `App`.
pub struct ServeOptions {
    pub threads: usize,
    /// Connections open at once; one more is answered `503` (API.md).
    pub max_connections: usize,
    pub trust_proxy: bool,
    /// Send `Strict-Transport-Security` (only when serving TLS).
    pub hsts: bool,
    /// Serve the browser client at `/` and `/web/` (crate::web).
    pub web_vault: bool,
}

/// Serves until `stop` is set, then lets in-flight requests finish and
/// returns. `server` is already bound, so the caller knows the address.
/// Fails only when not one worker thread can be started (a task limit).
pub fn serve(
    server: Server,
    app: Arc<App>,
    options: ServeOptions,
    stop: Arc<AtomicBool>,
) -> Result<(), String> {
    server.set_max_connections(connection_limit(options.max_connections));
    let server = Arc::new(server);
    let options = Arc::new(options);
    let served = Arc::new(AtomicBool::new(false));
    let wanted = options.threads.max(1);
    let workers: Vec<_> = (0..wanted)
        .map_while(|i| {
            let (server, app, options, stop, served) = (
                server.clone(),
                app.clone(),
                options.clone(),
                stop.clone(),
                served.clone(),
            );
            std::thread::Builder::new()
                .name(format!("worker-{i}"))
                .spawn(move || worker(&server, &app, &options, &stop, &served))
                .ok()
        })
        .collect();
    if workers.is_empty() {
        return Err("cannot start a worker thread (a limit on tasks or memory?)".into());
    }
    if workers.len() < wanted {
        eprintln!(
            "vaultd: started {} of {wanted} worker threads (a limit on tasks or memory?)",
            workers.len()
        );
    }
    for w in workers {
        let _ = w.join();
    }
    // Dropping the last handle closes the listening socket.
    Ok(())
}

/// Descriptors left for what opens files later (database, WAL, backups).
const SPARE_FDS: usize = 16;

/// `wanted`, or fewer when the open-files limit cannot hold that many
/// connections (two descriptors each): past it, accept would fail and new
/// clients would wait unanswered instead of getting `503`.
fn connection_limit(wanted: usize) -> usize {
    let Some(limit) = open_files_limit() else {
        return wanted;
    };
    let in_use = std::fs::read_dir("/proc/self/fd").map_or(0, Iterator::count);
    let fits = (limit.saturating_sub(in_use + SPARE_FDS) / 2).max(1);
    if fits >= wanted {
        return wanted;
    }
    eprintln!(
        "vaultd: serving at most {fits} connections, not {wanted}: the open-files limit is \
         {limit} and each connection takes two (raise it with `ulimit -n` or LimitNOFILE)"
    );
    fits
}

/// The soft `RLIMIT_NOFILE` (Linux); `None` when unknown or unlimited.
fn open_files_limit() -> Option<usize> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = limits.lines().find(|l| l.starts_with("Max open files"))?;
    line.trim_start_matches("Max open files")
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// How often a worker looks at the stop flag.
const POLL: Duration = Duration::from_millis(100);
/// After this many empty polls (6 s without a request to this worker) a
/// worker gives the allocator's free memory back, once per burst: after
/// tiny_http has ended the connection threads that the burst started (5 s
/// idle), whose exit frees their caches.
const IDLE_POLLS: u32 = 60;

/// Serves requests until `stop` is set. `served` says whether any worker
/// served a request since memory was last given back.
fn worker(
    server: &Server,
    app: &App,
    options: &ServeOptions,
    stop: &AtomicBool,
    served: &AtomicBool,
) {
    let mut empty_polls = 0u32;
    while !stop.load(Ordering::SeqCst) {
        match server.recv_timeout(POLL) {
            Ok(Some(request)) => {
                handle(app, options, request);
                empty_polls = 0;
                // Load first: under load the flag is already set, and a plain
                // read does not make the workers fight over its cache line.
                if !served.load(Ordering::Relaxed) {
                    served.store(true, Ordering::Relaxed);
                }
            }
            Ok(None) => {
                empty_polls = empty_polls.saturating_add(1);
                if empty_polls == IDLE_POLLS && served.swap(false, Ordering::Relaxed) {
                    crate::memory::release_free_memory();
                }
            }
            Err(_) => std::thread::sleep(Duration::from_millis(10)),
        }
    }
}

/// One request: answer it and write its access-log line.
fn handle(app: &App, options: &ServeOptions, request: Request) {
    let Some(mut request) = crate::web::handle(options.web_vault, options.hsts, request) else {
        return;
    };
    let started = Instant::now();
    let method = method_name(request.method());
    let route = find_route(path_of(request.url()));
    let outcome = guarded(|| answer(app, options, route, &mut request));
    let (status, body, retry_after, cause) = match outcome {
        Ok(Reply { status, body }) => (status, body, None, None),
        Err(e) => {
            let retry = match e {
                ApiError::TooManyRequests { retry_after } => Some(retry_after),
                _ => None,
            };
            let cause = e.cause().map(str::to_owned);
            (e.status(), e.body(), retry, cause)
        }
    };
    let response = json_response(status, body, retry_after, options.hsts);
    let _ = request.respond(response);
    // Only the route's own path is logged: an unknown path is whatever the
    // client sent, and could hold anything.
    let path = route.map_or("<unknown>", |r| r.path);
    // A 5xx says why (the store's redacted reason), on the same line.
    let cause = cause.map_or_else(String::new, |c| format!(" ({})", printable(&c)));
    // One write per line: eprintln! would write the pieces separately.
    let line = format!(
        "{method} {path} {status} {}us{cause}\n",
        started.elapsed().as_micros()
    );
    let _ = std::io::Write::write_all(&mut std::io::stderr().lock(), line.as_bytes());
}

/// The method as logged: a known name, else `OTHER` (the client's own
/// spelling could hold line breaks or terminal escapes).
fn method_name(method: &tiny_http::Method) -> &'static str {
    match method {
        tiny_http::Method::Get => "GET",
        tiny_http::Method::Head => "HEAD",
        tiny_http::Method::Post => "POST",
        tiny_http::Method::Put => "PUT",
        tiny_http::Method::Delete => "DELETE",
        tiny_http::Method::Connect => "CONNECT",
        tiny_http::Method::Options => "OPTIONS",
        tiny_http::Method::Trace => "TRACE",
        tiny_http::Method::Patch => "PATCH",
        tiny_http::Method::NonStandard(_) => "OTHER",
    }
}

/// `text` with every control character replaced, so no log line can be
/// split or colour a terminal.
fn printable(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}

/// Runs a request's work; a panic (a bug) answers `500` and the worker lives
/// on. The panic hook (main.rs) logs where, never the payload.
fn guarded(work: impl FnOnce() -> Result<Reply, ApiError>) -> Result<Reply, ApiError> {
    catch_unwind(AssertUnwindSafe(work)).unwrap_or(Err(ApiError::Internal))
}

fn path_of(url: &str) -> &str {
    url.split(['?', '#']).next().unwrap_or(url)
}

/// The shared checks, in API.md's order, then the route.
fn answer(
    app: &App,
    options: &ServeOptions,
    route: Option<&Route>,
    request: &mut Request,
) -> Result<Reply, ApiError> {
    let route = route.ok_or(ApiError::NotFound("no such route"))?;
    if request.method().as_str() != route.method.as_str() {
        return Err(ApiError::MethodNotAllowed);
    }
    let body = if route.method == crate::api::Method::Get {
        Vec::new()
    } else {
        if !is_json(header(request, "Content-Type")) {
            return Err(ApiError::UnsupportedMediaType);
        }
        read_body(request)?
    };
    let caller = match route.access {
        Access::Public => None,
        Access::User | Access::FreshUser => Some(authenticate(app, route.access, request)?),
    };
    let call = Call {
        body: &body,
        caller,
        client: client_address(request, options.trust_proxy),
    };
    (route.handler)(app, &call)
}

fn header<'r>(request: &'r Request, name: &'static str) -> Option<&'r str> {
    request
        .headers()
        .iter()
        .find(|h| h.field.equiv(name))
        .map(|h| h.value.as_str())
}

/// `application/json`, any case, parameters such as `; charset=utf-8` allowed.
fn is_json(content_type: Option<&str>) -> bool {
    content_type
        .and_then(|ct| ct.split(';').next())
        .is_some_and(|mime| mime.trim().eq_ignore_ascii_case("application/json"))
}

/// Reads at most `MAX_BODY` bytes; a longer body is `413` without reading
/// (or buffering) the rest.
fn read_body(request: &mut Request) -> Result<Vec<u8>, ApiError> {
    if request.body_length().is_some_and(|len| len > MAX_BODY) {
        return Err(ApiError::PayloadTooLarge);
    }
    let mut body = Vec::with_capacity(request.body_length().unwrap_or(0));
    request
        .as_reader()
        .take(MAX_BODY as u64 + 1)
        .read_to_end(&mut body)
        .map_err(|_| ApiError::bad_request("the request body could not be read"))?;
    if body.len() > MAX_BODY {
        return Err(ApiError::PayloadTooLarge);
    }
    Ok(body)
}

/// The answer to a token too old for an account route; the test below keeps
/// its "5 minutes" true to `FRESH_TOKEN_SECONDS`.
const REAUTHENTICATE: &str = "re-authentication required: log in again and retry within 5 minutes";

/// A valid, unrevoked bearer token, and fresh enough for the route.
fn authenticate(app: &App, access: Access, request: &Request) -> Result<Caller, ApiError> {
    let token = header(request, "Authorization")
        .and_then(|h| {
            let (scheme, token) = h.trim().split_once(' ')?;
            scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
        })
        .ok_or(ApiError::Unauthorized)?;
    let session = app.tokens.verify(token).ok_or(ApiError::Unauthorized)?;
    // Revocation: the token must carry the user's current counter.
    let current = app.store.token_state(session.user_id)?;
    if !current.is_some_and(|state| session.matches(&state)) {
        return Err(ApiError::Unauthorized);
    }
    if access == Access::FreshUser {
        let now = crate::store::unix_now().max(0) as u64;
        if now.saturating_sub(session.issued_at) >= crate::api::account::FRESH_TOKEN_SECONDS {
            return Err(ApiError::Forbidden(REAUTHENTICATE));
        }
    }
    Ok(Caller {
        user_id: session.user_id,
        issued_at: session.issued_at,
    })
}

/// The TCP peer, or with `--trust-proxy` the last `X-Forwarded-For` entry
/// (the one our proxy appended; earlier ones are the client's to forge).
/// Several header lines are one list, in order (RFC 9110 §5.3); an entry
/// that is not an IP address means the TCP peer.
fn client_address(request: &Request, trust_proxy: bool) -> IpAddr {
    let peer = request
        .remote_addr()
        .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), SocketAddr::ip);
    if !trust_proxy {
        return peer;
    }
    let last_line = request
        .headers()
        .iter()
        .rfind(|h| h.field.equiv("X-Forwarded-For"));
    last_line
        .and_then(|h| h.value.as_str().rsplit(',').next())
        .and_then(|last| last.trim().parse().ok())
        .unwrap_or(peer)
}

fn json_response(
    status: u16,
    body: Vec<u8>,
    retry_after: Option<u64>,
    hsts: bool,
) -> Response<std::io::Cursor<Vec<u8>>> {
    // The whole body is in memory: always send a Content-Length (tiny_http
    // would switch to chunked encoding above 32 KiB).
    let mut response = Response::from_data(body)
        .with_status_code(status)
        .with_chunked_threshold(usize::MAX);
    let mut add = |name: &str, value: &str| {
        if let Ok(h) = Header::from_bytes(name.as_bytes(), value.as_bytes()) {
            response.add_header(h);
        }
    };
    add("Content-Type", "application/json");
    add("Cache-Control", "no-store");
    add("X-Content-Type-Options", "nosniff");
    add("Referrer-Policy", "no-referrer");
    if hsts {
        add("Strict-Transport-Security", "max-age=31536000");
    }
    if let Some(seconds) = retry_after {
        add("Retry-After", &seconds.to_string());
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_content_types() {
        assert!(is_json(Some("application/json")));
        assert!(is_json(Some("Application/JSON; charset=utf-8")));
        assert!(!is_json(Some("text/plain")));
        assert!(!is_json(Some("application/jsonx")));
        assert!(!is_json(None));
    }

    #[test]
    fn a_panic_answers_500() {
        let outcome = guarded(|| panic!("a bug"));
        assert_eq!(outcome.err(), Some(ApiError::Internal));
        let fine = guarded(|| Reply::ok(serde_json::json!({})));
        assert_eq!(fine.map(|r| r.status).ok(), Some(200));
    }

    #[test]
    fn the_reauthentication_message_names_the_real_limit() {
        let minutes = crate::api::account::FRESH_TOKEN_SECONDS / 60;
        assert!(REAUTHENTICATE.ends_with(&format!("within {minutes} minutes")));
    }

    #[test]
    fn paths_drop_query_strings() {
        assert_eq!(path_of("/get?x=1"), "/get");
        assert_eq!(path_of("/get"), "/get");
    }
}
