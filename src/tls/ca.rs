//! The local certificate authority of `--tls auto` and the server
//! certificates it signs, with the OpenSSL vaultd already links.
//!
//! Files, in `<data-dir>/tls/` (mode 0700): `ca.key` (0600, never served,
//! never logged), `ca.crt`, `server.key` (0600) and `server.crt`. Keys are
//! ECDSA P-256 and signatures SHA-256: every phone and browser accepts them.

use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

use openssl::asn1::{Asn1Integer, Asn1Time};
use openssl::bn::{BigNum, MsbOption};
use openssl::ec::{EcGroup, EcKey};
use openssl::hash::MessageDigest;
use openssl::nid::Nid;
use openssl::pkey::{PKey, Private};
use openssl::x509::extension::{
    AuthorityKeyIdentifier, BasicConstraints, ExtendedKeyUsage, KeyUsage, SubjectAlternativeName,
    SubjectKeyIdentifier,
};
use openssl::x509::{X509, X509Builder, X509Name, X509NameBuilder};

use super::names::Names;

/// How long the CA is valid. Devices trust it by hand, so it lasts; its
/// key never leaves the data directory.
const CA_DAYS: i64 = 3650;
/// Server certificates start an hour in the past, for clocks that are a
/// little behind.
const BACKDATE_SECONDS: i64 = 3600;

/// The local CA: its certificate and key.
pub struct Ca {
    pub cert: X509,
    key: PKey<Private>,
}

/// A server certificate and its key.
pub struct Leaf {
    pub cert: X509,
    pub key: PKey<Private>,
}

pub fn ca_cert_path(dir: &Path) -> PathBuf {
    dir.join("ca.crt")
}
pub fn ca_key_path(dir: &Path) -> PathBuf {
    dir.join("ca.key")
}
fn server_cert_path(dir: &Path) -> PathBuf {
    dir.join("server.crt")
}
fn server_key_path(dir: &Path) -> PathBuf {
    dir.join("server.key")
}

fn ssl_err(what: &str) -> impl Fn(openssl::error::ErrorStack) -> String + '_ {
    move |e| format!("{what}: {e}")
}

fn new_key() -> Result<PKey<Private>, String> {
    let group = EcGroup::from_curve_name(Nid::X9_62_PRIME256V1).map_err(ssl_err("EC group"))?;
    let key = EcKey::generate(&group).map_err(ssl_err("EC key"))?;
    PKey::from_ec_key(key).map_err(ssl_err("EC key"))
}

/// 127 random bits: unique and positive, as RFC 5280 asks.
fn serial() -> Result<Asn1Integer, String> {
    let mut bn = BigNum::new().map_err(ssl_err("serial"))?;
    bn.rand(127, MsbOption::MAYBE_ZERO, false)
        .map_err(ssl_err("serial"))?;
    bn.to_asn1_integer().map_err(ssl_err("serial"))
}

fn name(common_name: &str) -> Result<X509Name, String> {
    let mut b = X509NameBuilder::new().map_err(ssl_err("name"))?;
    b.append_entry_by_nid(Nid::ORGANIZATIONNAME, "vaultd")
        .and_then(|()| b.append_entry_by_nid(Nid::COMMONNAME, common_name))
        .map_err(ssl_err("name"))?;
    Ok(b.build())
}

fn time(unix: i64) -> Result<Asn1Time, String> {
    Asn1Time::from_unix(unix as libc::time_t).map_err(ssl_err("time"))
}

impl Ca {
    /// The CA of `dir`, made on the first call. An existing CA is never
    /// replaced: devices trust it.
    pub fn load_or_create(dir: &Path, host: &str, now: i64) -> Result<(Ca, bool), String> {
        private_dir(dir)?;
        let key_path = ca_key_path(dir);
        let cert_path = ca_cert_path(dir);
        match (key_path.exists(), cert_path.exists()) {
            (true, true) => return Ca::load(dir).map(|ca| (ca, false)),
            (false, false) => {}
            _ => {
                return Err(format!(
                    "{}: one of ca.crt and ca.key is missing; restore it from your backup, or \
                     remove both to make a new CA (every device must then trust the new one)",
                    dir.display()
                ));
            }
        }
        let ca = Ca::create(host, now)?;
        let key_pem = ca
            .key
            .private_key_to_pem_pkcs8()
            .map_err(ssl_err("CA key"))?;
        let cert_pem = ca.cert.to_pem().map_err(ssl_err("CA certificate"))?;
        // The key first: a CA certificate without its key is never left behind.
        write_file(&key_path, &key_pem, 0o600)?;
        write_file(&cert_path, &cert_pem, 0o644)?;
        Ok((ca, true))
    }

    /// The existing CA of `dir`, its key checked to be private and to match.
    pub fn load(dir: &Path) -> Result<Ca, String> {
        let cert_path = ca_cert_path(dir);
        let key_path = ca_key_path(dir);
        let cert = X509::from_pem(&read_file(&cert_path)?)
            .map_err(|e| format!("{}: not a PEM certificate: {e}", cert_path.display()))?;
        check_private(&key_path)?;
        let key = PKey::private_key_from_pem(&read_file(&key_path)?)
            .map_err(|e| format!("{}: not a PEM private key: {e}", key_path.display()))?;
        let matches = cert
            .public_key()
            .map(|public| public.public_eq(&key))
            .unwrap_or(false);
        if !matches {
            return Err(format!(
                "{} does not belong to {}: restore both from the same backup",
                key_path.display(),
                cert_path.display()
            ));
        }
        Ok(Ca { cert, key })
    }

    fn create(host: &str, now: i64) -> Result<Ca, String> {
        let key = new_key()?;
        let day = humantime::format_rfc3339_seconds(
            std::time::UNIX_EPOCH + std::time::Duration::from_secs(now.max(0) as u64),
        )
        .to_string();
        let subject = name(&format!("vaultd local CA {host} {}", &day[..10]))?;
        let mut b = X509Builder::new().map_err(ssl_err("CA"))?;
        let e = ssl_err("CA certificate");
        let (serial, from, until) = (
            serial()?,
            time(now - BACKDATE_SECONDS)?,
            time(now + CA_DAYS * 86400)?,
        );
        b.set_version(2).map_err(&e)?;
        b.set_serial_number(&serial).map_err(&e)?;
        b.set_subject_name(&subject).map_err(&e)?;
        b.set_issuer_name(&subject).map_err(&e)?;
        b.set_pubkey(&key).map_err(&e)?;
        b.set_not_before(&from).map_err(&e)?;
        b.set_not_after(&until).map_err(&e)?;
        let constraints = BasicConstraints::new().critical().ca().pathlen(0).build();
        let usage = KeyUsage::new()
            .critical()
            .key_cert_sign()
            .crl_sign()
            .build();
        b.append_extension(constraints.map_err(&e)?).map_err(&e)?;
        b.append_extension(usage.map_err(&e)?).map_err(&e)?;
        let ski = SubjectKeyIdentifier::new().build(&b.x509v3_context(None, None));
        b.append_extension(ski.map_err(&e)?).map_err(&e)?;
        b.sign(&key, MessageDigest::sha256()).map_err(&e)?;
        Ok(Ca {
            cert: b.build(),
            key,
        })
    }

    /// A new server certificate for `names`, valid from now for `validity`
    /// seconds.
    pub fn issue(&self, names: &Names, now: i64, validity: i64) -> Result<Leaf, String> {
        let key = new_key()?;
        let e = ssl_err("server certificate");
        let mut b = X509Builder::new().map_err(&e)?;
        let (serial, subject) = (serial()?, name(names.common_name())?);
        let (from, until) = (time(now - BACKDATE_SECONDS)?, time(now + validity)?);
        b.set_version(2).map_err(&e)?;
        b.set_serial_number(&serial).map_err(&e)?;
        b.set_subject_name(&subject).map_err(&e)?;
        b.set_issuer_name(self.cert.subject_name()).map_err(&e)?;
        b.set_pubkey(&key).map_err(&e)?;
        b.set_not_before(&from).map_err(&e)?;
        b.set_not_after(&until).map_err(&e)?;
        let constraints = BasicConstraints::new().critical().build();
        let usage = KeyUsage::new().critical().digital_signature().build();
        let extended = ExtendedKeyUsage::new().server_auth().build();
        b.append_extension(constraints.map_err(&e)?).map_err(&e)?;
        b.append_extension(usage.map_err(&e)?).map_err(&e)?;
        b.append_extension(extended.map_err(&e)?).map_err(&e)?;
        let context = b.x509v3_context(Some(&self.cert), None);
        let ski = SubjectKeyIdentifier::new().build(&context);
        let aki = AuthorityKeyIdentifier::new().keyid(true).build(&context);
        let mut san = SubjectAlternativeName::new();
        for dns in &names.dns {
            san.dns(dns);
        }
        for ip in &names.ips {
            san.ip(&ip.to_string());
        }
        let san = san.build(&context);
        b.append_extension(ski.map_err(&e)?).map_err(&e)?;
        b.append_extension(aki.map_err(&e)?).map_err(&e)?;
        b.append_extension(san.map_err(&e)?).map_err(&e)?;
        b.sign(&self.key, MessageDigest::sha256()).map_err(&e)?;
        Ok(Leaf {
            cert: b.build(),
            key,
        })
    }

    /// Whether `cert` carries this CA's signature.
    pub fn signed(&self, cert: &X509) -> bool {
        let Ok(public) = self.cert.public_key() else {
            return false;
        };
        cert.issuer_name_hash() == self.cert.subject_name_hash()
            && cert.verify(&public).unwrap_or(false)
    }

    pub fn pem(&self) -> Result<Vec<u8>, String> {
        self.cert.to_pem().map_err(ssl_err("CA certificate"))
    }
}

impl Leaf {
    /// The server certificate of `dir`, if both files are there and parse.
    pub fn load(dir: &Path) -> Option<Leaf> {
        let cert = X509::from_pem(&fs::read(server_cert_path(dir)).ok()?).ok()?;
        let key = PKey::private_key_from_pem(&fs::read(server_key_path(dir)).ok()?).ok()?;
        let matches = cert.public_key().ok()?.public_eq(&key);
        matches.then_some(Leaf { cert, key })
    }

    /// Writes both files, each replaced atomically.
    pub fn save(&self, dir: &Path) -> Result<(), String> {
        let (cert, key) = self.pem()?;
        write_file(&server_key_path(dir), &key, 0o600)?;
        write_file(&server_cert_path(dir), &cert, 0o644)
    }

    /// The certificate and the key, PEM (for tiny_http's `SslConfig`).
    pub fn pem(&self) -> Result<(Vec<u8>, Vec<u8>), String> {
        let cert = self.cert.to_pem().map_err(ssl_err("server certificate"))?;
        let key = self
            .key
            .private_key_to_pem_pkcs8()
            .map_err(ssl_err("server key"))?;
        Ok((cert, key))
    }
}

/// `AB:CD:…`, the SHA-256 of the certificate's DER, as browsers and
/// `openssl x509 -fingerprint -sha256` show it.
pub fn fingerprint(cert: &X509) -> String {
    cert.digest(MessageDigest::sha256())
        .map(|d| {
            d.iter()
                .map(|b| format!("{b:02X}"))
                .collect::<Vec<_>>()
                .join(":")
        })
        .unwrap_or_default()
}

/// Seconds from `now` until `cert` expires (negative once it has).
pub fn seconds_left(cert: &X509, now: i64) -> i64 {
    let Ok(now) = time(now) else { return 0 };
    now.diff(cert.not_after())
        .map_or(0, |d| i64::from(d.days) * 86400 + i64::from(d.secs))
}

/// The names a certificate is issued for.
pub fn names_of(cert: &X509) -> Names {
    let mut names = Names::default();
    for general in cert.subject_alt_names().iter().flatten() {
        if let Some(dns) = general.dnsname() {
            names.dns.insert(dns.to_string());
        }
        let bytes = general.ipaddress().unwrap_or_default();
        if let Ok(v4) = <[u8; 4]>::try_from(bytes) {
            names.ips.insert(v4.into());
        } else if let Ok(v6) = <[u8; 16]>::try_from(bytes) {
            names.ips.insert(v6.into());
        }
    }
    names
}

fn read_file(path: &Path) -> Result<Vec<u8>, String> {
    fs::read(path).map_err(|e| format!("{}: cannot read it: {e}", path.display()))
}

/// A key readable by anyone but vaultd's user is refused, as a `.env` is:
/// whoever reads the CA key can impersonate any site to every device that
/// trusts the CA.
fn check_private(path: &Path) -> Result<(), String> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let meta =
            fs::metadata(path).map_err(|e| format!("{}: cannot read it: {e}", path.display()))?;
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(format!(
                "{} has mode {mode:04o}: others may read it; run `chmod 600 {}`",
                path.display(),
                path.display()
            ));
        }
    }
    Ok(())
}

/// Creates `dir` (mode 0700) if it is missing.
fn private_dir(dir: &Path) -> Result<(), String> {
    let mut builder = fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
    builder
        .create(dir)
        .map_err(|e| format!("{}: cannot create it: {e}", dir.display()))
}

/// Writes `bytes` to a temporary file created with `mode` (so a key is never
/// readable by others, even for a moment), syncs it, and renames it over
/// `path`.
fn write_file(path: &Path, bytes: &[u8], mode: u32) -> Result<(), String> {
    let tmp = path.with_extension("tmp");
    let _ = fs::remove_file(&tmp);
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, mode);
    #[cfg(not(unix))]
    let _ = mode;
    let cannot = |e: std::io::Error| format!("{}: cannot write it: {e}", path.display());
    let mut file = options.open(&tmp).map_err(cannot)?;
    file.write_all(bytes)
        .and_then(|()| file.sync_all())
        .map_err(cannot)?;
    fs::rename(&tmp, path).map_err(cannot)?;
    if let Some(parent) = path.parent().and_then(|p| fs::File::open(p).ok()) {
        let _ = parent.sync_all();
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scratch(tag: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("vaultd-ca-{tag}-{}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        dir
    }

    #[test]
    fn ca_is_made_once_and_signs_what_it_issues() {
        let dir = scratch("once");
        let now = crate::store::unix_now();
        let (ca, made) = Ca::load_or_create(&dir, "pi", now).unwrap();
        assert!(made);
        let (again, made) = Ca::load_or_create(&dir, "pi", now).unwrap();
        assert!(!made, "an existing CA is kept");
        assert_eq!(fingerprint(&ca.cert), fingerprint(&again.cert));
        let mut names = Names::default();
        names.dns.insert("pi.local".into());
        names.ips.insert("192.168.1.9".parse().unwrap());
        let leaf = ca.issue(&names, now, 600).unwrap();
        assert!(ca.signed(&leaf.cert));
        assert_eq!(names_of(&leaf.cert), names);
        let left = seconds_left(&leaf.cert, now);
        assert!((599..=600).contains(&left), "{left}");
        let other_dir = scratch("other");
        let (other, _) = Ca::load_or_create(&other_dir, "pi", now).unwrap();
        assert!(!other.signed(&leaf.cert), "another CA's certificate");
        fs::remove_dir_all(&dir).unwrap();
        fs::remove_dir_all(&other_dir).unwrap();
    }

    #[cfg(unix)]
    #[test]
    fn ca_key_is_private_and_a_readable_one_is_refused() {
        use std::os::unix::fs::PermissionsExt;
        let dir = scratch("mode");
        Ca::load_or_create(&dir, "pi", crate::store::unix_now()).unwrap();
        let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&ca_key_path(&dir)), 0o600);
        assert_eq!(mode(&dir), 0o700);
        fs::set_permissions(ca_key_path(&dir), fs::Permissions::from_mode(0o644)).unwrap();
        let err = Ca::load(&dir).err().unwrap();
        assert!(err.contains("chmod 600"), "{err}");
        fs::remove_file(ca_cert_path(&dir)).unwrap();
        let err = Ca::load_or_create(&dir, "pi", 0).err().unwrap();
        assert!(err.contains("missing"), "{err}");
        fs::remove_dir_all(&dir).unwrap();
    }
}
