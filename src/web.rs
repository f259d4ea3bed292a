//! The web vault (API.md 1.1 "Web vault"): the browser client in `web/`,
//! compiled into the binary and served from one table. Each file carries a
//! gzip copy and an ETag made by build.rs, so serving costs no CPU and, while
//! no browser asks, no memory: the bytes are read-only data paged in on use.

use std::time::Instant;

use tiny_http::{Header, Method, Request, Response};

use crate::error::ApiError;

/// Same origin only, no inline code, no `eval`; `'wasm-unsafe-eval'` lets the
/// OPAQUE worker compile its WebAssembly, and nothing else. `worker-src`
/// covers the OPAQUE worker and the service worker (sw.js), `manifest-src`
/// the web app manifest.
pub const CSP: &str = "default-src 'none'; script-src 'self' 'wasm-unsafe-eval'; \
    style-src 'self'; img-src 'self'; connect-src 'self'; worker-src 'self'; \
    manifest-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

/// One served file.
pub struct Asset {
    /// Its path below `/web/`.
    pub path: &'static str,
    pub body: &'static [u8],
    pub gzip: &'static [u8],
    /// A hash of the content, unquoted (see `Asset::etag`).
    pub tag: &'static str,
}

macro_rules! asset {
    ($path:literal) => {
        Asset {
            path: $path,
            body: include_bytes!(concat!(env!("CARGO_MANIFEST_DIR"), "/web/", $path)),
            gzip: include_bytes!(concat!(env!("OUT_DIR"), "/web/", $path, ".gz")),
            tag: include_str!(concat!(env!("OUT_DIR"), "/web/", $path, ".etag")),
        }
    };
}

/// Everything the server sends: a file under `web/` that is not listed here
/// is not served (tests/web_serving.rs checks that the two agree).
pub const FILES: &[Asset] = &[
    asset!("index.html"),
    asset!("https.html"),
    asset!("app.css"),
    asset!("icon.svg"),
    asset!("icon-192.png"),
    asset!("icon-512.png"),
    asset!("app.webmanifest"),
    asset!("sw.js"),
    asset!("app.js"),
    asset!("api.js"),
    asset!("crypto.js"),
    asset!("entry.js"),
    asset!("manifest.js"),
    asset!("dom.js"),
    asset!("opaque.js"),
    asset!("worker.js"),
    asset!("warm.js"),
    asset!("generate.js"),
    asset!("words.txt"),
    asset!("totp.js"),
    asset!("views/login.js"),
    asset!("views/list.js"),
    asset!("views/entry.js"),
    asset!("views/editor.js"),
    asset!("views/account.js"),
    asset!("vendor/opaque.js"),
    asset!("vendor/noble-ciphers.js"),
    asset!("vendor/noble-hashes.js"),
    asset!("vendor/LICENSE-opaque.txt"),
    asset!("vendor/LICENSE-noble-ciphers.txt"),
    asset!("vendor/LICENSE-noble-hashes.txt"),
    asset!("vendor/SHA256SUMS"),
];

impl Asset {
    /// The `ETag` of one encoding: the gzip copy is another representation,
    /// so it has a tag of its own.
    pub fn etag(&self, gzip: bool) -> String {
        format!("\"{}{}\"", self.tag, if gzip { "-gz" } else { "" })
    }
}

pub fn find(path: &str) -> Option<&'static Asset> {
    FILES.iter().find(|a| a.path == path)
}

pub fn content_type(path: &str) -> &'static str {
    match path.rsplit('.').next() {
        Some("html") => "text/html; charset=utf-8",
        Some("js") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("webmanifest") => "application/manifest+json",
        _ => "text/plain; charset=utf-8",
    }
}

/// Answers `request` when it is the web vault's (`/`, `/web`, `/web/…`) and
/// the web vault is on; otherwise hands it back to the API router.
pub fn handle(enabled: bool, hsts: bool, request: Request) -> Option<Request> {
    let url = request.url();
    let path = url.split(['?', '#']).next().unwrap_or(url);
    let file = match path {
        "/" | "/web" => None,
        _ => match path.strip_prefix("/web/") {
            Some(f) => Some(f.to_string()),
            None => return Some(request),
        },
    };
    if !enabled {
        return Some(request);
    }
    let started = Instant::now();
    let (status, logged, response) = answer(&request, file.as_deref(), hsts);
    let method = request.method().clone();
    let _ = request.respond(response);
    let line = format!(
        "{method} {logged} {status} {}us\n",
        started.elapsed().as_micros()
    );
    let _ = std::io::Write::write_all(&mut std::io::stderr().lock(), line.as_bytes());
    None
}

type Reply = Response<std::io::Cursor<Vec<u8>>>;

/// The status, the path for the access log (only a known one: an unknown
/// path is whatever the client sent) and the response.
fn answer(request: &Request, file: Option<&str>, hsts: bool) -> (u16, String, Reply) {
    let asset = file.map(|f| find(if f.is_empty() { "index.html" } else { f }));
    let logged = match (file, asset) {
        (None, _) => "/".to_string(),
        (Some(_), Some(Some(a))) => format!("/web/{}", a.path),
        (Some(_), _) => "<unknown>".to_string(),
    };
    if *request.method() != Method::Get {
        return error(ApiError::MethodNotAllowed, logged, hsts);
    }
    let Some(asset) = asset else {
        let mut r = base(303, Vec::new(), hsts);
        add(&mut r, "Location", "/web/");
        return (303, logged, r);
    };
    let Some(asset) = asset else {
        return error(
            ApiError::NotFound("no such file in the web vault"),
            logged,
            hsts,
        );
    };
    let html = asset.path.ends_with(".html");
    let gzip = asset.gzip.len() < asset.body.len()
        && header(request, "Accept-Encoding").is_some_and(accepts_gzip);
    let etag = asset.etag(gzip);
    if !html && header(request, "If-None-Match").is_some_and(|v| etag_matches(v, &etag)) {
        let mut r = base(304, Vec::new(), hsts);
        file_headers(&mut r, &etag, html);
        return (304, logged, r);
    }
    let body = if gzip { asset.gzip } else { asset.body };
    let mut r = base(200, body.to_vec(), hsts);
    add(&mut r, "Content-Type", content_type(asset.path));
    if gzip {
        add(&mut r, "Content-Encoding", "gzip");
    }
    file_headers(&mut r, &etag, html);
    (200, logged, r)
}

fn error(e: ApiError, logged: String, hsts: bool) -> (u16, String, Reply) {
    let mut r = base(e.status(), e.body(), hsts);
    add(&mut r, "Content-Type", "application/json");
    add(&mut r, "Cache-Control", "no-store");
    (e.status(), logged, r)
}

/// The headers of every answer here: the API's own, then the page's policy.
fn base(status: u16, body: Vec<u8>, hsts: bool) -> Reply {
    // Always a Content-Length: tiny_http would go chunked above 32 KiB.
    let mut r = Response::from_data(body)
        .with_status_code(status)
        .with_chunked_threshold(usize::MAX);
    add(&mut r, "X-Content-Type-Options", "nosniff");
    add(&mut r, "Referrer-Policy", "no-referrer");
    if hsts {
        add(&mut r, "Strict-Transport-Security", "max-age=31536000");
    }
    add(&mut r, "Content-Security-Policy", CSP);
    add(&mut r, "X-Frame-Options", "DENY");
    r
}

/// Caching: the page itself is never stored (a new server version is seen at
/// once); the rest is revalidated by ETag on every use.
fn file_headers(r: &mut Reply, etag: &str, html: bool) {
    if html {
        add(r, "Cache-Control", "no-store");
    } else {
        add(r, "Cache-Control", "no-cache");
        add(r, "ETag", etag);
    }
    add(r, "Vary", "Accept-Encoding");
}

fn add(r: &mut Reply, name: &str, value: &str) {
    if let Ok(h) = Header::from_bytes(name.as_bytes(), value.as_bytes()) {
        r.add_header(h);
    }
}

fn header<'r>(request: &'r Request, name: &'static str) -> Option<&'r str> {
    request
        .headers()
        .iter()
        .find(|h| h.field.equiv(name))
        .map(|h| h.value.as_str())
}

/// `If-None-Match`: a list of tags, `W/` prefixes compared weakly, or `*`.
fn etag_matches(header: &str, etag: &str) -> bool {
    header
        .split(',')
        .map(str::trim)
        .any(|t| t == "*" || t.strip_prefix("W/").unwrap_or(t) == etag)
}

/// `Accept-Encoding` lists `gzip` (or `*`) without `q=0`.
pub fn accepts_gzip(header: &str) -> bool {
    let mut star = false;
    for item in header.split(',') {
        let mut parts = item.split(';').map(str::trim);
        let coding = parts.next().unwrap_or("");
        let refused = parts.any(|p| {
            p.strip_prefix("q=")
                .and_then(|q| q.parse::<f32>().ok())
                .is_some_and(|q| q <= 0.0)
        });
        if coding.eq_ignore_ascii_case("gzip") {
            return !refused;
        }
        star |= coding == "*" && !refused;
    }
    star
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gzip_negotiation() {
        assert!(accepts_gzip("gzip, deflate, br"));
        assert!(accepts_gzip("br;q=1.0, GZIP;q=0.5"));
        assert!(accepts_gzip("*"));
        assert!(!accepts_gzip("gzip;q=0"));
        assert!(!accepts_gzip("gzip;q=0.0, *"));
        assert!(!accepts_gzip("br, deflate"));
        assert!(!accepts_gzip("identity"));
        assert!(!accepts_gzip("*;q=0"));
    }

    #[test]
    fn etags_match_lists_and_weak_tags() {
        assert!(etag_matches("\"abc\"", "\"abc\""));
        assert!(etag_matches("\"x\", W/\"abc\"", "\"abc\""));
        assert!(etag_matches("*", "\"abc\""));
        assert!(!etag_matches("\"abd\"", "\"abc\""));
    }

    #[test]
    fn every_file_has_a_type_and_a_smaller_or_equal_copy() {
        for a in FILES {
            assert!(!a.body.is_empty(), "{} is empty", a.path);
            assert_eq!(a.tag.len(), 24, "{}", a.path);
            assert_ne!(a.etag(true), a.etag(false));
            assert!(a.gzip.starts_with(&[0x1f, 0x8b]), "{} gzip", a.path);
        }
        assert_eq!(content_type("index.html"), "text/html; charset=utf-8");
        assert_eq!(
            content_type("views/list.js"),
            "text/javascript; charset=utf-8"
        );
    }

    /// sw.js keeps a copy of every file of the table and of nothing else.
    #[test]
    fn the_service_worker_lists_exactly_the_served_files() {
        let sw = std::str::from_utf8(find("sw.js").unwrap().body).unwrap();
        let list = sw.split("const FILES = [").nth(1).unwrap();
        let list = list.split("];").next().unwrap();
        let mut listed: Vec<&str> = list
            .split(',')
            .map(|s| s.trim().trim_matches('\''))
            .filter(|s| !s.is_empty())
            .collect();
        listed.sort_unstable();
        // The browser keeps the worker's own script itself.
        let mut served: Vec<&str> = FILES
            .iter()
            .map(|a| a.path)
            .filter(|p| *p != "sw.js")
            .collect();
        served.sort_unstable();
        assert_eq!(listed, served);
        assert!(sw.contains("'', 'index.html'"), "the page itself, as /web/");
    }
}
