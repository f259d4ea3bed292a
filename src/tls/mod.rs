//! `--tls auto`: HTTPS on the LAN in one step. The first start makes a local
//! CA in `<data-dir>/tls/` and a short-lived server certificate it signs for
//! the machine's names and addresses; vaultd renews that certificate itself
//! (renew.rs), and `--tls-setup-bind` serves the CA to new devices
//! (setup.rs). `vaultd ca` prints the CA for `vault --ca-file` and browsers.

pub mod ca;
// libc's gethostname and getifaddrs, behind safe functions.
#[allow(unsafe_code)]
pub mod names;
pub mod qr;
pub mod renew;
pub mod setup;

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

/// The server certificate's default life: 90 days, as public CAs issue.
pub const DEFAULT_VALIDITY: i64 = 90 * 86400;
/// For tests only: `VAULTD_TLS_VALIDITY_SECONDS` makes the server
/// certificate's life this short, so that a test sees renewal happen.
pub const VALIDITY_VAR: &str = "VAULTD_TLS_VALIDITY_SECONDS";

/// `--tls auto` and its companions, resolved.
#[derive(Debug, Clone)]
pub struct AutoTls {
    /// `<data-dir>/tls`.
    pub dir: PathBuf,
    /// `--tls-name`, checked.
    pub extra_names: Vec<String>,
    pub setup_bind: Option<SocketAddr>,
    /// Seconds a server certificate is valid.
    pub validity: i64,
}

/// Where `--tls auto` keeps its files.
pub fn dir(data_dir: &Path) -> PathBuf {
    data_dir.join("tls")
}

impl AutoTls {
    /// From the flags and `VAULTD_TLS`, `VAULTD_TLS_NAMES` (comma-separated),
    /// `VAULTD_TLS_SETUP_BIND`; `None` without `--tls auto`.
    pub fn resolve(
        mode: Option<String>,
        mut extra_names: Vec<String>,
        setup_bind: Option<String>,
        data_dir: &Path,
    ) -> Result<Option<AutoTls>, String> {
        let env = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        let mode = mode.or_else(|| env("VAULTD_TLS"));
        if extra_names.is_empty()
            && let Some(list) = env("VAULTD_TLS_NAMES")
        {
            extra_names = list.split(',').map(|n| n.trim().to_string()).collect();
        }
        let setup_bind = setup_bind.or_else(|| env("VAULTD_TLS_SETUP_BIND"));
        match mode.as_deref() {
            Some("auto") => {}
            None | Some("off") => {
                if !extra_names.is_empty() || setup_bind.is_some() {
                    return Err("--tls-name and --tls-setup-bind need --tls auto".into());
                }
                return Ok(None);
            }
            Some(other) => {
                return Err(format!(
                    "--tls must be `auto` (or `off`), not `{other}`; for a certificate of your \
                     own use --tls-cert and --tls-key"
                ));
            }
        }
        for name in &extra_names {
            names::check_extra(name)?;
        }
        let setup_bind = match setup_bind {
            None => None,
            Some(text) => Some(text.parse::<SocketAddr>().map_err(|_| {
                format!("--tls-setup-bind: `{text}` is not an ADDRESS:PORT such as 0.0.0.0:8081")
            })?),
        };
        let validity = match env(VALIDITY_VAR) {
            None => DEFAULT_VALIDITY,
            Some(text) => match text.parse::<i64>() {
                Ok(s) if (5..=DEFAULT_VALIDITY).contains(&s) => s,
                _ => {
                    return Err(format!(
                        "{VALIDITY_VAR} (for tests) must be between 5 and {DEFAULT_VALIDITY} seconds"
                    ));
                }
            },
        };
        Ok(Some(AutoTls {
            dir: dir(data_dir),
            extra_names,
            setup_bind,
            validity,
        }))
    }
}

/// Makes (or loads) the CA and a current server certificate, binds the HTTPS
/// server on `bind`, and starts the renewal thread and, with
/// `--tls-setup-bind`, the set-up listener.
#[cfg(feature = "tls")]
pub fn bind(
    auto: &AutoTls,
    bind: SocketAddr,
    stop: &Arc<AtomicBool>,
) -> Result<tiny_http::Server, String> {
    let host = names::host_name().unwrap_or_else(|| "localhost".into());
    let (ca, made) = ca::Ca::load_or_create(&auto.dir, &host, crate::store::unix_now())?;
    let fingerprint = ca::fingerprint(&ca.cert);
    if made {
        eprintln!(
            "vaultd: made a local certificate authority in {}; trust its ca.crt on your devices \
             (`vaultd ca` prints it)",
            auto.dir.display()
        );
    }
    eprintln!("vaultd: TLS CA SHA-256 fingerprint {fingerprint}");
    let leaf = renew::current_at_start(&auto.dir, &ca, &auto.extra_names, auto.validity)?;
    let (certificate, private_key) = leaf.pem()?;
    let ssl = tiny_http::SslConfig {
        certificate,
        private_key,
    };
    let server =
        tiny_http::Server::https(bind, ssl).map_err(|e| format!("cannot listen on {bind}: {e}"))?;
    let https_port = server
        .server_addr()
        .to_ip()
        .map_or(bind.port(), |a| a.port());
    if let Some(setup_bind) = auto.setup_bind {
        let site = setup::SetupSite {
            ca_pem: ca.pem()?,
            fingerprint,
            https_port,
            fallback_host: setup::url_host(public_ip(bind.ip())),
        };
        let at = setup::start(setup_bind, site, stop.clone())?;
        let shown = setup::url_host(public_ip(at.ip()));
        eprintln!("vaultd: TLS set-up page at http://{shown}:{}/", at.port());
    }
    renew::Renewer {
        dir: auto.dir.clone(),
        extra_names: auto.extra_names.clone(),
        validity: auto.validity,
        ca,
        current: leaf,
    }
    .spawn(stop.clone())?;
    Ok(server)
}

#[cfg(not(feature = "tls"))]
pub fn bind(_: &AutoTls, _: SocketAddr, _: &Arc<AtomicBool>) -> Result<tiny_http::Server, String> {
    Err("this vaultd was built without the `tls` feature".into())
}

/// `ip`, or for an unspecified bind address the machine's LAN address.
fn public_ip(ip: IpAddr) -> IpAddr {
    if ip.is_unspecified() {
        names::lan_address().unwrap_or(ip)
    } else {
        ip
    }
}

/// `vaultd ca [--qr]`: the CA certificate (PEM) and its fingerprint on
/// stdout; with `qr`, the set-up address (or, without `--tls-setup-bind`,
/// the HTTPS address) as a QR code.
pub fn print_ca(
    data_dir: &Path,
    auto: Option<&AutoTls>,
    bind: SocketAddr,
    qr: bool,
) -> Result<(), String> {
    let dir = dir(data_dir);
    if !ca::ca_cert_path(&dir).exists() {
        return Err(format!(
            "no CA in {} yet: start vaultd once with --tls auto (and the same --data-dir)",
            dir.display()
        ));
    }
    let ca = ca::Ca::load(&dir)?;
    let pem = ca.pem()?;
    let mut out = String::from_utf8_lossy(&pem).into_owned();
    out.push_str(&format!(
        "SHA-256 fingerprint: {}\n",
        ca::fingerprint(&ca.cert)
    ));
    if qr {
        let url = match auto.and_then(|a| a.setup_bind) {
            Some(setup) => format!(
                "http://{}:{}/",
                setup::url_host(public_ip(setup.ip())),
                setup.port()
            ),
            None => format!(
                "https://{}:{}/",
                setup::url_host(public_ip(bind.ip())),
                bind.port()
            ),
        };
        let terminal = std::io::IsTerminal::is_terminal(&std::io::stdout());
        out.push_str(&qr::render(&url, terminal)?);
        out.push_str(&format!("{url}\n"));
    }
    std::io::Write::write_all(&mut std::io::stdout().lock(), out.as_bytes())
        .map_err(|e| format!("cannot write to stdout: {e}"))
}
