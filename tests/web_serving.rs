//! The web vault's files over real HTTP (API.md 1.1 "Web vault"): the
//! redirect, the policy headers, caching and ETags, gzip, 404 and 405,
//! `--web-vault off`, and the vendored files against their checksums.

mod common;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use common::spawn::spawn_listening;
use common::{Backend, Options, TempDir, TestServer};
use sha2::{Digest, Sha256};
use vaultd::web::{CSP, FILES};

fn start(args: &[&str]) -> TestServer {
    let options = Options {
        args: args.iter().map(|s| s.to_string()).collect(),
    };
    TestServer::start_with(Backend::Sqlite, options).unwrap()
}

fn get(server: &TestServer, path: &str, headers: &[(&str, &str)]) -> common::RawResponse {
    server.request("GET", path, None, headers, b"")
}

fn web_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("web")
}

#[track_caller]
fn assert_policy(r: &common::RawResponse) {
    assert_eq!(r.header("Content-Security-Policy"), Some(CSP));
    assert_eq!(r.header("X-Frame-Options"), Some("DENY"));
    assert_eq!(r.header("X-Content-Type-Options"), Some("nosniff"));
    assert_eq!(r.header("Referrer-Policy"), Some("no-referrer"));
}

#[test]
fn the_policy_is_what_api_md_asks() {
    // Same origin only, WebAssembly allowed, no inline code, no eval.
    for part in [
        "default-src 'none'",
        "script-src 'self' 'wasm-unsafe-eval'",
        "style-src 'self'",
        "connect-src 'self'",
        "worker-src 'self'",
        "frame-ancestors 'none'",
        "base-uri 'none'",
        "form-action 'none'",
    ] {
        assert!(CSP.split("; ").any(|p| p == part), "{part} in {CSP}");
    }
    assert!(!CSP.contains("unsafe-inline") && !CSP.contains("'unsafe-eval'"));
}

#[test]
fn root_redirects_and_the_page_is_never_stored() {
    let server = start(&[]);
    let r = get(&server, "/", &[]);
    assert_eq!(r.status, 303);
    assert_eq!(r.header("Location"), Some("/web/"));
    assert_policy(&r);
    assert_eq!(get(&server, "/web", &[]).header("Location"), Some("/web/"));
    for path in ["/web/", "/web/index.html", "/web/?next=1"] {
        let r = get(&server, path, &[]);
        assert_eq!(r.status, 200, "{path}");
        assert_eq!(r.header("Content-Type"), Some("text/html; charset=utf-8"));
        assert_eq!(r.header("Cache-Control"), Some("no-store"));
        assert_eq!(r.header("ETag"), None, "the page is not cached at all");
        assert_policy(&r);
        let html = String::from_utf8(r.body).unwrap();
        assert!(html.contains("<script type=\"module\" src=\"app.js\">"));
        // No inline script or style anywhere in the page.
        assert!(!html.contains("<script>") && !html.contains("style="));
    }
}

#[test]
fn every_file_is_served_with_its_type_etag_and_gzip_copy() {
    let server = start(&[]);
    for asset in FILES {
        let path = format!("/web/{}", asset.path);
        let plain = get(&server, &path, &[]);
        assert_eq!(plain.status, 200, "{path}");
        assert_eq!(plain.body, asset.body, "{path}");
        assert_eq!(plain.header("Content-Encoding"), None);
        assert_eq!(
            plain.header("Content-Type"),
            Some(vaultd::web::content_type(asset.path))
        );
        assert_policy(&plain);
        assert!(asset.body.len() < 200 || asset.gzip.len() < asset.body.len());
        let gz = get(&server, &path, &[("Accept-Encoding", "gzip, deflate, br")]);
        assert_eq!(gz.status, 200);
        if gz.header("Content-Encoding") == Some("gzip") {
            let mut unpacked = Vec::new();
            flate2::read::GzDecoder::new(&gz.body[..])
                .read_to_end(&mut unpacked)
                .unwrap();
            assert_eq!(unpacked, asset.body, "{path} gzip");
            assert!(gz.body.len() < asset.body.len());
        }
        let refused = get(&server, &path, &[("Accept-Encoding", "gzip;q=0")]);
        assert_eq!(refused.header("Content-Encoding"), None, "{path}");
        if asset.path.ends_with(".html") {
            continue;
        }
        assert_eq!(plain.header("Cache-Control"), Some("no-cache"));
        assert_eq!(plain.header("Vary"), Some("Accept-Encoding"));
        let etag = plain.header("ETag").unwrap().to_string();
        let again = get(&server, &path, &[("If-None-Match", &etag)]);
        assert_eq!(again.status, 304, "{path}");
        assert!(again.body.is_empty());
        assert_eq!(again.header("ETag"), Some(etag.as_str()));
        assert_policy(&again);
        let other = get(&server, &path, &[("If-None-Match", "\"0000\"")]);
        assert_eq!(other.status, 200);
        if let Some(gz_tag) = gz
            .header("ETag")
            .filter(|_| asset.gzip.len() < asset.body.len())
        {
            assert_ne!(gz_tag, etag, "the gzip copy has a tag of its own");
        }
    }
}

#[test]
fn unknown_files_and_other_methods_are_json_errors() {
    let server = start(&[]);
    for path in [
        "/web/nope.js",
        "/web/../Cargo.toml",
        "/web/%2e%2e/Cargo.toml",
        "/web/vendor/",
        "/web/views",
        "/favicon.ico",
    ] {
        let r = get(&server, path, &[]);
        assert_eq!(r.status, 404, "{path}");
        assert_eq!(r.json()["error"], "not_found", "{path}");
        assert_eq!(r.header("Content-Type"), Some("application/json"));
    }
    assert_policy(&get(&server, "/web/nope.js", &[]));
    let json = [("Content-Type", "application/json")];
    for method in ["POST", "HEAD", "PUT", "OPTIONS"] {
        for path in ["/", "/web/", "/web/app.js"] {
            let r = server.request(method, path, None, &json, b"");
            assert_eq!(r.status, 405, "{method} {path}");
        }
    }
    // The API is untouched.
    assert_eq!(get(&server, "/health", &[]).status, 200);
    assert_eq!(server.request("GET", "/add", None, &[], b"").status, 405);
}

#[test]
fn web_vault_off_answers_404() {
    let server = start(&["--web-vault", "off"]);
    for path in ["/", "/web", "/web/", "/web/app.js"] {
        let r = get(&server, path, &[]);
        assert_eq!(r.status, 404, "{path}");
        assert_eq!(r.json()["error"], "not_found");
        assert_eq!(r.header("Content-Security-Policy"), None);
    }
    assert_eq!(get(&server, "/health", &[]).status, 200);
    let on = start(&["--web-vault", "on"]);
    assert_eq!(get(&on, "/web/", &[]).status, 200);
}

#[test]
fn web_vault_off_from_the_environment_and_bad_values() {
    let dir = TempDir::new("web-off");
    let mut cmd = Command::new(common::vaultd_bin());
    cmd.current_dir(&dir.0)
        .args(["--bind", "127.0.0.1:0", "--init-db"])
        .env("VAULTD_WEB_VAULT", "off")
        .stdin(Stdio::null())
        .stdout(Stdio::null());
    let mut listening = spawn_listening(cmd).unwrap();
    let url = format!("/web/ {}", listening.addr);
    let reply = common::try_post(listening.addr, "/web/", None, &serde_json::json!({}));
    assert_eq!(reply.map(|r| r.0), Some(404), "{url}");
    let _ = listening.child.kill();
    let _ = listening.child.wait();
    let out = Command::new(common::vaultd_bin())
        .current_dir(&dir.0)
        .args(["--web-vault", "maybe"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("`on` or `off`"));
}

/// Every file under web/ is in the table (a file left out would be missing
/// from the page; one served by accident could not be), and no table entry
/// lacks its file (the build would fail first).
#[test]
fn the_table_lists_exactly_the_files_of_web() {
    fn walk(dir: &Path, root: &Path, out: &mut Vec<String>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, root, out);
            } else {
                let rel = path.strip_prefix(root).unwrap();
                out.push(rel.to_str().unwrap().replace('\\', "/"));
            }
        }
    }
    let mut on_disk = Vec::new();
    walk(&web_dir(), &web_dir(), &mut on_disk);
    on_disk.sort();
    let mut listed: Vec<String> = FILES.iter().map(|a| a.path.to_string()).collect();
    listed.sort();
    assert_eq!(on_disk, listed);
}

/// web/vendor/SHA256SUMS (written by scripts/vendor-web.sh) matches the
/// vendored files byte for byte, and names every one of them.
#[test]
fn vendored_files_match_their_checksums() {
    let vendor = web_dir().join("vendor");
    let sums = std::fs::read_to_string(vendor.join("SHA256SUMS")).unwrap();
    let mut named = Vec::new();
    for line in sums
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
    {
        let (hash, file) = line.split_once("  ").unwrap();
        let data = std::fs::read(vendor.join(file)).unwrap();
        let actual: String = Sha256::digest(&data)
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        assert_eq!(actual, hash, "web/vendor/{file} differs from SHA256SUMS");
        named.push(file.to_string());
    }
    for asset in FILES.iter().filter(|a| a.path.starts_with("vendor/")) {
        let file = &asset.path["vendor/".len()..];
        assert!(
            file == "SHA256SUMS" || named.iter().any(|n| n == file),
            "{file} has no checksum"
        );
    }
    // The pinned versions are the ones the script installs.
    let script = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("scripts/vendor-web.sh"),
    )
    .unwrap();
    let interop = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/interop/package.json"),
    )
    .unwrap();
    assert!(script.contains("OPAQUE=1.1.0") && interop.contains("\"1.1.0\""));
    assert!(sums.starts_with("# @serenity-kit/opaque 1.1.0,"));
}

/// Everything the page loads stays under 300 KB compressed.
#[test]
fn the_page_weighs_under_300_kb_compressed() {
    let total: usize = FILES
        .iter()
        .filter(|a| !a.path.starts_with("vendor/LICENSE") && a.path != "vendor/SHA256SUMS")
        .filter(|a| a.path != "https.html")
        .map(|a| a.gzip.len().min(a.body.len()))
        .sum();
    assert!(total <= 300_000, "{total} bytes compressed");
}
