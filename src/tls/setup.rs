//! `--tls-setup-bind`: a plain-HTTP listener for the first visit of a new
//! device. It serves only the set-up page (`/`), the CA certificate
//! (`/ca.crt`) and nothing else: every other request is redirected to the
//! HTTPS address. It never reads the CA key; it holds only the certificate.
//!
//! Plain HTTP can be altered on the way, so the page tells the reader to
//! compare the fingerprint with what `vaultd ca` prints on the server.

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tiny_http::{Header, Method, Request, Response, Server};

/// What the set-up listener serves.
pub struct SetupSite {
    /// The CA certificate, PEM (accepted by every platform's importer).
    pub ca_pem: Vec<u8>,
    pub fingerprint: String,
    /// The port of the HTTPS server redirects go to.
    pub https_port: u16,
    /// The host for redirects when a request has no usable `Host`.
    pub fallback_host: String,
}

/// Binds `addr` and answers on two threads until `stop` is set. Returns the
/// bound address (port 0 picks one).
pub fn start(
    addr: SocketAddr,
    site: SetupSite,
    stop: Arc<AtomicBool>,
) -> Result<SocketAddr, String> {
    let server = Server::http(addr)
        .map_err(|e| format!("--tls-setup-bind: cannot listen on {addr}: {e}"))?;
    let bound = server.server_addr().to_ip().unwrap_or(addr);
    let server = Arc::new(server);
    let site = Arc::new(site);
    for i in 0..2 {
        let (server, site, stop) = (server.clone(), site.clone(), stop.clone());
        std::thread::Builder::new()
            .name(format!("tls-setup-{i}"))
            .spawn(move || {
                while !stop.load(Ordering::SeqCst) {
                    if let Ok(Some(request)) = server.recv_timeout(Duration::from_millis(200)) {
                        answer(&site, request);
                    }
                }
            })
            .map_err(|e| format!("cannot start the set-up listener: {e}"))?;
    }
    Ok(bound)
}

fn header(name: &str, value: &str) -> Option<Header> {
    Header::from_bytes(name.as_bytes(), value.as_bytes()).ok()
}

fn answer(site: &SetupSite, request: Request) {
    let path = request.url().split(['?', '#']).next().unwrap_or("");
    let readable = matches!(request.method(), Method::Get | Method::Head);
    let host = request_host(&request).unwrap_or_else(|| site.fallback_host.clone());
    let (status, content_type, body) = match path {
        "/" if readable => (
            200,
            "text/html; charset=utf-8",
            page(site, &host).into_bytes(),
        ),
        "/ca.crt" if readable => (200, "application/x-x509-ca-cert", site.ca_pem.clone()),
        _ => {
            let location = https_url(&host, site.https_port, request.url());
            // 308 keeps the method and body of a POST; 301 is what every
            // client follows for GET.
            let status = if readable { 301 } else { 308 };
            let mut response = Response::empty(status);
            // Both values are plain visible ASCII (clean_host, https_url).
            for h in [
                header("Location", &location),
                header("Cache-Control", "no-store"),
            ]
            .into_iter()
            .flatten()
            {
                response.add_header(h);
            }
            let _ = request.respond(response);
            return;
        }
    };
    let mut response = Response::from_data(body).with_status_code(status);
    for h in [
        header("Content-Type", content_type),
        header("Cache-Control", "no-store"),
        header("X-Content-Type-Options", "nosniff"),
        header("Referrer-Policy", "no-referrer"),
        header(
            "Content-Security-Policy",
            "default-src 'none'; style-src 'unsafe-inline'",
        ),
    ]
    .into_iter()
    .flatten()
    {
        response.add_header(h);
    }
    let _ = request.respond(response);
}

/// The host the client asked for, without its port, when it is a DNS name
/// or an IP address (anything else, never copied into a `Location`).
fn request_host(request: &Request) -> Option<String> {
    let value = request
        .headers()
        .iter()
        .find(|h| h.field.equiv("Host"))?
        .value
        .as_str()
        .trim();
    clean_host(value)
}

fn clean_host(value: &str) -> Option<String> {
    if let Some(rest) = value.strip_prefix('[') {
        let (inside, after) = rest.split_once(']')?;
        let ip: std::net::Ipv6Addr = inside.parse().ok()?;
        let port_ok = after.is_empty()
            || after
                .strip_prefix(':')
                .is_some_and(|p| p.parse::<u16>().is_ok());
        return port_ok.then(|| format!("[{ip}]"));
    }
    let host = match value.rsplit_once(':') {
        Some((host, port)) if port.parse::<u16>().is_ok() => host,
        Some(_) => return None,
        None => value,
    };
    let fine = !host.is_empty()
        && host.len() <= 253
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.');
    fine.then(|| host.to_ascii_lowercase())
}

/// `https://HOST:PORT/PATH`; a target that is not a plain path (or holds
/// anything but visible ASCII) becomes `/`.
fn https_url(host: &str, port: u16, target: &str) -> String {
    let path = if target.starts_with('/')
        && !target.starts_with("//")
        && target.bytes().all(|b| b.is_ascii_graphic())
    {
        target
    } else {
        "/"
    };
    if port == 443 {
        format!("https://{host}{path}")
    } else {
        format!("https://{host}:{port}{path}")
    }
}

/// The host part of a URL for `ip`.
pub fn url_host(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => format!("[{v6}]"),
    }
}

fn page(site: &SetupSite, host: &str) -> String {
    let https = https_url(host, site.https_port, "/");
    // `host` is letters, digits, `-`, `.`, `[`, `:` and `]` only
    // (clean_host), and the fingerprint is hex and colons: nothing to escape.
    format!(
        r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>vaultd: trust this server</title>
<style>body{{font:16px/1.5 system-ui,sans-serif;max-width:40em;margin:1em auto;padding:0 1em}}
code{{word-break:break-all;background:#eee;padding:0 .2em}}</style></head>
<body>
<h1>Trust this vaultd</h1>
<p>This server uses its own certificate authority. Install it once on this device,
then open <a href="{https}">{https}</a>.</p>
<p><a href="/ca.crt">Download the CA certificate (ca.crt)</a></p>
<p>Before you trust it, check that its SHA-256 fingerprint is the one
<code>vaultd ca</code> prints on the server (this page is plain HTTP, so anyone
on the network could have changed it):</p>
<p><code>{fingerprint}</code></p>
<h2>How to trust it</h2>
<ul>
<li><b>Android</b>: Settings &rarr; Security &rarr; Encryption &amp; credentials &rarr;
Install a certificate &rarr; CA certificate, pick ca.crt.</li>
<li><b>iPhone, iPad</b>: open the download in Safari, Settings &rarr; Profile Downloaded
&rarr; Install; then Settings &rarr; General &rarr; About &rarr; Certificate Trust
Settings, turn on full trust for it.</li>
<li><b>macOS</b>: open ca.crt in Keychain Access (System keychain), double-click it,
Trust &rarr; When using this certificate: Always Trust.</li>
<li><b>Windows</b>: open ca.crt &rarr; Install Certificate &rarr; Local Machine &rarr;
Trusted Root Certification Authorities.</li>
<li><b>Linux</b>: copy it to <code>/usr/local/share/ca-certificates/vaultd.crt</code>,
run <code>sudo update-ca-certificates</code>.</li>
<li><b>Firefox</b>: Settings &rarr; Privacy &amp; Security &rarr; Certificates &rarr;
View Certificates &rarr; Authorities &rarr; Import, tick "identify websites".</li>
<li><b>Chrome</b>: uses the system's store (above); on Linux: Settings &rarr; Privacy
and security &rarr; Security &rarr; Manage certificates &rarr; Authorities &rarr; Import.</li>
</ul>
</body></html>
"#,
        fingerprint = site.fingerprint
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_are_cleaned_before_they_reach_a_location() {
        assert_eq!(clean_host("pi.local:8081").as_deref(), Some("pi.local"));
        assert_eq!(clean_host("192.168.1.9").as_deref(), Some("192.168.1.9"));
        assert_eq!(clean_host("[fd00::2]:80").as_deref(), Some("[fd00::2]"));
        assert_eq!(clean_host("PI.Local").as_deref(), Some("pi.local"));
        for bad in [
            "",
            "evil.com/x",
            "a b",
            "[nope]",
            "x:y",
            "a\r\nSet-Cookie: x",
            "[::1]x",
        ] {
            assert_eq!(clean_host(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn redirects_keep_plain_paths_only() {
        assert_eq!(https_url("pi", 8443, "/a?b=1"), "https://pi:8443/a?b=1");
        assert_eq!(https_url("pi", 443, "/"), "https://pi/");
        assert_eq!(https_url("pi", 8443, "//evil.com/"), "https://pi:8443/");
        assert_eq!(https_url("pi", 8443, "http://x/"), "https://pi:8443/");
    }
}
