//! Keeping the `--tls auto` server certificate current: at start and on a
//! timer while serving, a certificate that is missing, not signed by the
//! CA, a third of its life from expiry, or for other names than the machine
//! has now is replaced, on disk and in the running server, without a
//! restart.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use super::ca::{self, Ca, Leaf};
use super::names::{self, Names};
use crate::store::unix_now;

/// Why a certificate is replaced; `None` from `reason` keeps it.
#[derive(Debug, PartialEq, Eq)]
pub enum Reason {
    Missing,
    OtherCa,
    Expiring { seconds_left: i64 },
    Names,
}

impl std::fmt::Display for Reason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Reason::Missing => f.write_str("there was none"),
            Reason::OtherCa => f.write_str("the old one was not signed by this CA"),
            Reason::Expiring { seconds_left } => {
                write!(f, "the old one expires in {seconds_left} s")
            }
            Reason::Names => f.write_str("the machine's names or addresses changed"),
        }
    }
}

/// Whether `current` must be replaced at `now`: it is renewed once less than
/// a third of `validity` is left (30 of 90 days), so a renewal that fails
/// has weeks of retries before anyone sees an expired certificate.
pub fn reason(
    current: Option<&Leaf>,
    ca: &Ca,
    wanted: &Names,
    validity: i64,
    now: i64,
) -> Option<Reason> {
    let Some(leaf) = current else {
        return Some(Reason::Missing);
    };
    if !ca.signed(&leaf.cert) {
        return Some(Reason::OtherCa);
    }
    let seconds_left = ca::seconds_left(&leaf.cert, now);
    if seconds_left < validity / 3 {
        return Some(Reason::Expiring { seconds_left });
    }
    if ca::names_of(&leaf.cert) != *wanted {
        return Some(Reason::Names);
    }
    None
}

/// How often the renewal thread looks: a tenth of the validity, at most
/// hourly, at least every second (a test's validity is seconds).
pub fn check_interval(validity: i64) -> Duration {
    Duration::from_secs((validity / 10).clamp(1, 3600) as u64)
}

/// What the renewal thread needs.
pub struct Renewer {
    pub dir: PathBuf,
    pub extra_names: Vec<String>,
    pub validity: i64,
    pub ca: Ca,
    pub current: Leaf,
}

/// The server certificate to start with: the one on disk, or a new one
/// (saved) when `reason` says so.
pub fn current_at_start(
    dir: &Path,
    ca: &Ca,
    extra_names: &[String],
    validity: i64,
) -> Result<Leaf, String> {
    let existing = Leaf::load(dir);
    let wanted = names::wanted(extra_names);
    let now = unix_now();
    let why = reason(existing.as_ref(), ca, &wanted, validity, now);
    match (why, existing) {
        (None, Some(leaf)) => Ok(leaf),
        (why, _) => {
            let leaf = ca.issue(&wanted, now, validity)?;
            leaf.save(dir)?;
            log_issued(&leaf, &why.unwrap_or(Reason::Missing));
            Ok(leaf)
        }
    }
}

impl Renewer {
    /// Runs on its own thread until `stop` is set.
    pub fn spawn(self, stop: Arc<AtomicBool>) -> Result<(), String> {
        std::thread::Builder::new()
            .name("tls-renew".into())
            .spawn(move || self.run(&stop))
            .map(drop)
            .map_err(|e| format!("cannot start the certificate renewal thread: {e}"))
    }

    fn run(mut self, stop: &AtomicBool) {
        let interval = check_interval(self.validity);
        let step = Duration::from_millis(100);
        let mut waited = Duration::ZERO;
        while !stop.load(Ordering::SeqCst) {
            std::thread::sleep(step);
            waited += step;
            if waited < interval {
                continue;
            }
            waited = Duration::ZERO;
            if let Err(e) = self.check() {
                // Retried at the next check; the old certificate is served.
                eprintln!("vaultd: TLS certificate renewal failed (retrying): {e}");
            }
        }
    }

    /// One check: issue, save and serve a new certificate when due.
    pub fn check(&mut self) -> Result<bool, String> {
        let wanted = names::wanted(&self.extra_names);
        let now = unix_now();
        let Some(why) = reason(Some(&self.current), &self.ca, &wanted, self.validity, now) else {
            return Ok(false);
        };
        let leaf = self.ca.issue(&wanted, now, self.validity)?;
        leaf.save(&self.dir)?;
        serve(&leaf)?;
        log_issued(&leaf, &why);
        self.current = leaf;
        Ok(true)
    }
}

/// Hands `leaf` to the running HTTPS server: new handshakes get it.
#[cfg(feature = "tls")]
fn serve(leaf: &Leaf) -> Result<(), String> {
    let (certificate, private_key) = leaf.pem()?;
    tiny_http::SslConfig {
        certificate,
        private_key,
    }
    .replace_served_certificate()
    .map_err(|e| format!("the new certificate was refused: {e}"))
}

#[cfg(not(feature = "tls"))]
fn serve(_leaf: &Leaf) -> Result<(), String> {
    Err("this vaultd was built without the `tls` feature".into())
}

fn log_issued(leaf: &Leaf, why: &Reason) {
    eprintln!(
        "vaultd: new TLS certificate ({why}), valid until {} for {}",
        leaf.cert.not_after(),
        ca::names_of(&leaf.cert).describe()
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renewal_is_due_when_expiring_foreign_or_renamed() {
        let dir = std::env::temp_dir().join(format!("vaultd-renew-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let now = unix_now();
        let (ca, _) = Ca::load_or_create(&dir.join("a"), "pi", now).unwrap();
        let (other, _) = Ca::load_or_create(&dir.join("b"), "pi", now).unwrap();
        let mut wanted = Names::default();
        wanted.dns.insert("pi.local".into());
        let validity = 90 * 86400;
        let leaf = ca.issue(&wanted, now, validity).unwrap();
        assert_eq!(
            reason(None, &ca, &wanted, validity, now),
            Some(Reason::Missing)
        );
        assert_eq!(reason(Some(&leaf), &ca, &wanted, validity, now), None);
        // 59 days on, 31 are left: kept; 61 days on, 29: renewed.
        assert_eq!(
            reason(Some(&leaf), &ca, &wanted, validity, now + 59 * 86400),
            None
        );
        assert!(matches!(
            reason(Some(&leaf), &ca, &wanted, validity, now + 61 * 86400),
            Some(Reason::Expiring { .. })
        ));
        assert_eq!(
            reason(Some(&leaf), &other, &wanted, validity, now),
            Some(Reason::OtherCa)
        );
        let mut moved = wanted.clone();
        moved.ips.insert("192.168.1.20".parse().unwrap());
        assert_eq!(
            reason(Some(&leaf), &ca, &moved, validity, now),
            Some(Reason::Names)
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn checks_are_hourly_at_most() {
        assert_eq!(check_interval(90 * 86400), Duration::from_secs(3600));
        assert_eq!(check_interval(30), Duration::from_secs(3));
        assert_eq!(check_interval(5), Duration::from_secs(1));
    }
}
