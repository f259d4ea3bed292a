//! `--tls auto` end to end, with real vaultd processes over loopback: the
//! certificate chain verifies with curl for every name, its SANs hold the
//! machine's addresses, renewal serves a new certificate without a restart,
//! the set-up listener serves the CA and redirects the rest, and the CA key
//! is private and never served.

mod common;

use std::net::{IpAddr, SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::TempDir;
use common::spawn::{Listening, spawn_listening};
use openssl::ssl::{SslConnector, SslMethod, SslVerifyMode};
use openssl::x509::X509;

/// A `--tls auto` vaultd, killed on drop.
struct Server {
    child: Child,
    addr: SocketAddr,
    log: Arc<Mutex<String>>,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }

    /// Waits up to 10 s for a log line containing `needle`.
    fn wait_for_log(&self, needle: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let log = self.log();
            if let Some(line) = log.lines().find(|l| l.contains(needle)) {
                return line.to_string();
            }
            assert!(Instant::now() < deadline, "no `{needle}` in: {log}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

fn tools_missing() -> bool {
    let missing = ["curl", "openssl"]
        .iter()
        .any(|t| Command::new(t).arg("--version").output().is_err());
    if missing {
        eprintln!("curl or openssl missing: TLS test skipped");
    }
    missing
}

fn try_start(
    dir: &Path,
    bind: &str,
    args: &[&str],
    env: &[(&str, &str)],
) -> Result<Server, String> {
    let mut cmd = Command::new(common::vaultd_bin());
    cmd.current_dir(dir)
        .args([
            "--bind",
            bind,
            "--threads",
            "2",
            "--init-db",
            "--tls",
            "auto",
        ])
        .args(args)
        .env_remove("JWT_KEY")
        .env_remove("OPAQUE_SERVER_SETUP")
        .env_remove("VAULTD_TLS_VALIDITY_SECONDS")
        .stdin(Stdio::null())
        .stdout(Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let Listening { child, addr, log } = spawn_listening(cmd).map_err(|r| r.log)?;
    Ok(Server { child, addr, log })
}

fn start(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> Server {
    try_start(dir, "127.0.0.1:0", args, env)
        .unwrap_or_else(|log| panic!("vaultd did not start: {log}"))
}

fn ca_file(dir: &Path) -> PathBuf {
    dir.join("tls/ca.crt")
}

/// `curl -sS -i` with `args`; (exit code, what it printed).
fn curl(args: &[&str]) -> (i32, String) {
    let out = Command::new("curl")
        .args(["-sS", "-i", "--max-time", "10"])
        .args(args)
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.code().unwrap_or(-1), text)
}

/// The certificate the server presents to a client that trusts the CA and
/// asks for `localhost` (the handshake fails if it does not verify).
fn served_certificate(server: &Server, ca: &Path) -> X509 {
    let mut connector = SslConnector::builder(SslMethod::tls()).unwrap();
    connector.set_ca_file(ca).unwrap();
    connector.set_verify(SslVerifyMode::PEER);
    let tcp = TcpStream::connect(server.addr).unwrap();
    tcp.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let tls = connector.build().connect("localhost", tcp).unwrap();
    tls.ssl().peer_certificate().unwrap()
}

fn san_ips(cert: &X509) -> Vec<IpAddr> {
    let mut ips = Vec::new();
    for name in cert.subject_alt_names().into_iter().flatten() {
        match name.ipaddress() {
            Some(b) if b.len() == 4 => ips.push(IpAddr::from(<[u8; 4]>::try_from(b).unwrap())),
            Some(b) if b.len() == 16 => ips.push(IpAddr::from(<[u8; 16]>::try_from(b).unwrap())),
            _ => {}
        }
    }
    ips
}

fn san_dns(cert: &X509) -> Vec<String> {
    cert.subject_alt_names()
        .into_iter()
        .flatten()
        .filter_map(|n| n.dnsname().map(str::to_string))
        .collect()
}

/// What `hostname` says, independently of vaultd's own look-up.
fn host_name() -> String {
    let out = Command::new("hostname").output().unwrap();
    String::from_utf8(out.stdout).unwrap().trim().to_lowercase()
}

/// The machine's non-loopback, non-link-local addresses (`hostname -I`).
fn host_addresses() -> Vec<IpAddr> {
    let out = Command::new("hostname").arg("-I").output().unwrap();
    String::from_utf8(out.stdout)
        .unwrap()
        .split_whitespace()
        .map(|a| a.parse().unwrap())
        .collect()
}

#[test]
fn chain_verifies_for_every_name_and_sans_hold_the_addresses() {
    if tools_missing() {
        return;
    }
    let dir = TempDir::new("tls-names");
    let server = start(&dir.0, &["--tls-name", "vault.home.arpa"], &[]);
    let ca = ca_file(&dir.0);
    let cacert = ca.to_str().unwrap();
    let port = server.addr.port();
    let host = host_name();
    let short = host.split('.').next().unwrap().to_string();
    for name in ["localhost", "127.0.0.1"] {
        let (code, out) = curl(&["--cacert", cacert, &format!("https://{name}:{port}/health")]);
        assert_eq!(code, 0, "{name}: {out}");
        assert!(out.contains(r#"{"status":"ok"}"#), "{name}: {out}");
    }
    let local = format!("{short}.local");
    for name in [host.as_str(), local.as_str(), "vault.home.arpa"] {
        let resolve = format!("{name}:{port}:127.0.0.1");
        let url = format!("https://{name}:{port}/health");
        let (code, out) = curl(&["--cacert", cacert, "--resolve", &resolve, &url]);
        assert_eq!(code, 0, "{name}: {out}");
    }
    // The check is real: a name the certificate lacks, or no CA, fails.
    let (code, _) = curl(&[
        "--cacert",
        cacert,
        "--resolve",
        &format!("other.example:{port}:127.0.0.1"),
        &format!("https://other.example:{port}/health"),
    ]);
    assert_ne!(code, 0, "a name outside the certificate must not verify");
    let (code, _) = curl(&[&format!("https://localhost:{port}/health")]);
    assert_ne!(code, 0, "without the CA the chain must not verify");

    let cert = served_certificate(&server, &ca);
    let ips = san_ips(&cert);
    for ip in host_addresses()
        .into_iter()
        .chain(["127.0.0.1".parse().unwrap(), "::1".parse().unwrap()])
    {
        assert!(ips.contains(&ip), "{ip} missing from the SANs {ips:?}");
    }
    let dns = san_dns(&cert);
    for name in [
        host.as_str(),
        local.as_str(),
        "localhost",
        "vault.home.arpa",
    ] {
        assert!(dns.iter().any(|d| d == name), "{name} missing from {dns:?}");
    }
    // 90 days, signed by the CA vaultd ca prints.
    let days = openssl::asn1::Asn1Time::days_from_now(0)
        .unwrap()
        .diff(cert.not_after())
        .unwrap()
        .days;
    assert!((89..=90).contains(&days), "{days}");
    let issuer = X509::from_pem(&std::fs::read(&ca).unwrap()).unwrap();
    assert!(cert.verify(&issuer.public_key().unwrap()).unwrap());
    ca_command_prints_the_ca(&dir.0);
    vault_trusts_the_ca_with_ca_file(&dir.0, port);
}

/// `vaultd ca`: the CA's PEM, then the fingerprint openssl computes.
fn ca_command_prints_the_ca(dir: &Path) {
    let ca = ca_file(dir);
    let cacert = ca.to_str().unwrap();
    let out = common::spawn::vaultd_command(dir, &["ca"]);
    assert!(out.status.success());
    let printed = String::from_utf8(out.stdout).unwrap();
    let ca_pem = std::fs::read_to_string(&ca).unwrap();
    assert!(printed.starts_with(&ca_pem), "{printed}");
    let openssl_fp = Command::new("openssl")
        .args(["x509", "-noout", "-fingerprint", "-sha256", "-in", cacert])
        .output()
        .unwrap();
    let openssl_fp = String::from_utf8(openssl_fp.stdout).unwrap();
    let fp = openssl_fp.trim().rsplit('=').next().unwrap();
    assert!(
        printed.contains(&format!("SHA-256 fingerprint: {fp}\n")),
        "{printed} vs {fp}"
    );
}

/// `vault --ca-file` trusts the CA as it trusts any certificate.
fn vault_trusts_the_ca_with_ca_file(dir: &Path, port: u16) {
    let cacert = ca_file(dir).to_str().unwrap().to_string();
    let vault = |extra: &[&str]| {
        let out = Command::new(env!("CARGO_BIN_EXE_vault"))
            .args(extra)
            .args(["--server", &format!("https://localhost:{port}"), "register"])
            .env("HOME", dir)
            .env("XDG_CONFIG_HOME", dir)
            .env("VAULT_USERNAME", "alice")
            .env("VAULT_PASSWORD", "master password")
            .stdin(Stdio::null())
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (code, err) = vault(&[]);
    assert_eq!(
        code,
        Some(1),
        "the CA is not trusted without --ca-file: {err}"
    );
    let (code, err) = vault(&["--ca-file", &cacert]);
    assert_eq!(code, Some(0), "{err}");
}

#[test]
fn renewal_serves_a_new_certificate_without_a_restart() {
    if tools_missing() {
        return;
    }
    let dir = TempDir::new("tls-renew");
    // 30 s: renewed once under 10 s are left (about 20 s from now), checked
    // every 3 s; the margin keeps a loaded machine from serving an expired one.
    let mut server = start(&dir.0, &[], &[("VAULTD_TLS_VALIDITY_SECONDS", "30")]);
    let ca = ca_file(&dir.0);
    let first = served_certificate(&server, &ca);
    let pid = server.child.id();
    let deadline = Instant::now() + Duration::from_secs(60);
    let renewed = loop {
        let now = served_certificate(&server, &ca);
        if now.serial_number().to_bn().unwrap() != first.serial_number().to_bn().unwrap() {
            break now;
        }
        assert!(
            Instant::now() < deadline,
            "no renewal in 60 s: {}",
            server.log()
        );
        std::thread::sleep(Duration::from_millis(300));
    };
    assert!(
        server.child.try_wait().unwrap().is_none(),
        "the same process serves"
    );
    assert_eq!(server.child.id(), pid);
    assert!(renewed.not_after() > first.not_after());
    server.wait_for_log("new TLS certificate (the old one expires in");
    let on_disk = X509::from_pem(&std::fs::read(dir.0.join("tls/server.crt")).unwrap()).unwrap();
    assert_eq!(on_disk.to_der().unwrap(), renewed.to_der().unwrap());
    let (code, out) = curl(&[
        "--cacert",
        ca.to_str().unwrap(),
        &format!("https://localhost:{}/health", server.addr.port()),
    ]);
    assert_eq!(code, 0, "the renewed chain verifies: {out}");

    // At start: a certificate with less than a third of the 90 days left
    // (this one has seconds) is replaced before serving.
    let addr = server.addr.to_string();
    let _ = server.child.kill();
    let _ = server.child.wait();
    let before = X509::from_pem(&std::fs::read(dir.0.join("tls/server.crt")).unwrap()).unwrap();
    server = try_start(&dir.0, &addr, &[], &[]).unwrap();
    server.wait_for_log("new TLS certificate (the old one expires in");
    let after = served_certificate(&server, &ca);
    assert_ne!(after.to_der().unwrap(), before.to_der().unwrap());
    // A restart with a current certificate keeps it.
    let _ = server.child.kill();
    let _ = server.child.wait();
    server = try_start(&dir.0, &addr, &[], &[]).unwrap();
    assert!(
        !server.log().contains("new TLS certificate"),
        "{}",
        server.log()
    );
    assert_eq!(
        served_certificate(&server, &ca).to_der().unwrap(),
        after.to_der().unwrap()
    );
}

/// The port of `vaultd: TLS set-up page at http://127.0.0.1:PORT/`.
fn setup_port(server: &Server) -> u16 {
    let line = server.wait_for_log("TLS set-up page at http://");
    let url = line.rsplit("http://").next().unwrap().trim_end_matches('/');
    url.rsplit(':').next().unwrap().parse().unwrap()
}

#[test]
fn setup_listener_serves_the_ca_and_redirects_the_rest() {
    if tools_missing() {
        return;
    }
    let dir = TempDir::new("tls-setup");
    let server = start(&dir.0, &["--tls-setup-bind", "127.0.0.1:0"], &[]);
    let setup = setup_port(&server);
    let https = server.addr.port();
    let ca_pem = std::fs::read_to_string(ca_file(&dir.0)).unwrap();

    let (code, out) = curl(&[&format!("http://127.0.0.1:{setup}/ca.crt")]);
    assert_eq!(code, 0, "{out}");
    let lower = out.to_lowercase();
    assert!(lower.starts_with("http/1.1 200"), "{out}");
    assert!(
        lower.contains("content-type: application/x-x509-ca-cert\r\n"),
        "{out}"
    );
    assert!(
        out.ends_with(&ca_pem),
        "the body is the CA certificate: {out}"
    );

    let fingerprint = server.wait_for_log("TLS CA SHA-256 fingerprint");
    let fingerprint = fingerprint.rsplit(' ').next().unwrap();
    let (_, page) = curl(&[&format!("http://127.0.0.1:{setup}/")]);
    assert!(page.to_lowercase().starts_with("http/1.1 200"), "{page}");
    assert!(
        page.contains(fingerprint),
        "the page shows the fingerprint: {page}"
    );
    assert!(
        page.contains("/ca.crt") && page.contains("Android"),
        "{page}"
    );

    let (_, get) = curl(&[&format!("http://127.0.0.1:{setup}/health?x=1")]);
    assert!(get.starts_with("HTTP/1.1 301"), "{get}");
    assert!(
        get.contains(&format!(
            "Location: https://127.0.0.1:{https}/health?x=1\r\n"
        )),
        "{get}"
    );
    let (_, post) = curl(&[
        "-X",
        "POST",
        "-H",
        "Host: pi.local:8081",
        &format!("http://127.0.0.1:{setup}/login"),
    ]);
    assert!(post.starts_with("HTTP/1.1 308"), "{post}");
    assert!(
        post.contains(&format!("Location: https://pi.local:{https}/login\r\n")),
        "{post}"
    );
    // A forged Host header never reaches the Location.
    let (_, forged) = curl(&[
        "-H",
        "Host: evil.example/x",
        &format!("http://127.0.0.1:{setup}/"),
    ]);
    assert!(
        forged.starts_with("HTTP/1.1 200") && !forged.contains("evil"),
        "{forged}"
    );
    // Following the redirect, trusting the served CA, reaches vaultd.
    let ca_path = dir.0.join("downloaded.crt");
    std::fs::write(&ca_path, &ca_pem).unwrap();
    let (code, out) = curl(&[
        "-L",
        "--cacert",
        ca_path.to_str().unwrap(),
        &format!("http://localhost:{setup}/health"),
    ]);
    assert_eq!(code, 0, "{out}");
    assert!(out.ends_with(r#"{"status":"ok"}"#), "{out}");
}

#[test]
fn ca_key_is_private_and_never_served() {
    if tools_missing() {
        return;
    }
    let dir = TempDir::new("tls-key");
    let server = start(&dir.0, &["--tls-setup-bind", "127.0.0.1:0"], &[]);
    let setup = setup_port(&server);
    let key_path = dir.0.join("tls/ca.key");
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&key_path), 0o600);
        assert_eq!(mode(&dir.0.join("tls/server.key")), 0o600);
        assert_eq!(mode(&dir.0.join("tls")), 0o700);
    }
    let key = std::fs::read_to_string(&key_path).unwrap();
    // The base64 lines of the key, any of which in a response is a leak.
    let secret: Vec<&str> = key.lines().filter(|l| !l.starts_with("-----")).collect();
    let ca = ca_file(&dir.0);
    let cacert = ca.to_str().unwrap();
    let paths = [
        "/ca.key",
        "/tls/ca.key",
        "/../tls/ca.key",
        "/%2e%2e/tls/ca.key",
        "/server.key",
        "/tls/server.key",
        "/ca.crt",
        "/",
    ];
    for path in paths {
        for url in [
            format!("http://127.0.0.1:{setup}{path}"),
            format!("https://localhost:{}{path}", server.addr.port()),
        ] {
            let (_, out) = curl(&["--path-as-is", "--cacert", cacert, &url]);
            assert!(!out.contains("PRIVATE KEY"), "{url}: {out}");
            for line in &secret {
                assert!(!out.contains(line), "{url} served the key: {out}");
            }
        }
    }
    let out = common::spawn::vaultd_command(&dir.0, &["ca", "--qr"]);
    let printed = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success() && printed.contains("BEGIN CERTIFICATE"));
    assert!(!printed.contains("PRIVATE KEY"), "{printed}");
    assert!(!server.log().contains("PRIVATE KEY"));
    drop(server);

    // A CA key others can read is refused, with the fix.
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&key_path, std::fs::Permissions::from_mode(0o644)).unwrap();
    }
    let err = try_start(&dir.0, "127.0.0.1:0", &[], &[])
        .err()
        .expect("refused");
    assert!(
        err.contains("ca.key has mode 0644") && err.contains("chmod 600"),
        "{err}"
    );
}

#[test]
fn flag_mistakes_are_one_line_errors() {
    let dir = TempDir::new("tls-flags");
    let run = |args: &[&str]| {
        let out = common::spawn::vaultd_command(&dir.0, args);
        assert!(!out.status.success(), "{args:?}");
        String::from_utf8(out.stderr).unwrap()
    };
    assert!(run(&["--tls", "manual"]).contains("--tls must be `auto`"));
    assert!(run(&["--tls-name", "pi"]).contains("need --tls auto"));
    assert!(run(&["--tls", "auto", "--tls-name", "a b"]).contains("--tls-name: `a b`"));
    assert!(
        run(&["--tls", "auto", "--tls-cert", "c", "--tls-key", "k"]).contains("exclude each other")
    );
    assert!(run(&["ca"]).contains("no CA in"));
}
