//! The names a `--tls auto` server certificate is issued for: the host name,
//! `<host>.local` (mDNS), every non-loopback address of the machine,
//! `localhost`, `127.0.0.1`, `::1`, and each `--tls-name`.

use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// The subject alternative names of a server certificate, sorted and
/// without duplicates, so two sets compare equal when they name the same.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Names {
    pub dns: BTreeSet<String>,
    pub ips: BTreeSet<IpAddr>,
}

impl Names {
    /// The first DNS name that is not `localhost`: the certificate's subject.
    pub fn common_name(&self) -> &str {
        self.dns
            .iter()
            .find(|n| *n != "localhost")
            .map_or("localhost", String::as_str)
    }

    /// `DNS:a, DNS:b, IP:c`, for a log line.
    pub fn describe(&self) -> String {
        let dns = self.dns.iter().map(|d| format!("DNS:{d}"));
        let ips = self.ips.iter().map(|i| format!("IP:{i}"));
        dns.chain(ips).collect::<Vec<_>>().join(", ")
    }
}

/// What the certificate should name now. Called at start and at every
/// renewal check: an address that DHCP changed gets a new certificate.
pub fn wanted(extra: &[String]) -> Names {
    let mut names = Names::default();
    names.dns.insert("localhost".into());
    names.ips.insert(IpAddr::V4(Ipv4Addr::LOCALHOST));
    names.ips.insert(IpAddr::V6(Ipv6Addr::LOCALHOST));
    if let Some(host) = host_name() {
        let short = host.split('.').next().unwrap_or(&host).to_string();
        names.dns.insert(format!("{short}.local"));
        names.dns.insert(short);
        names.dns.insert(host);
    }
    names.ips.extend(machine_addresses());
    for name in extra {
        match name.parse::<IpAddr>() {
            Ok(ip) => names.ips.insert(ip),
            Err(_) => names.dns.insert(name.to_ascii_lowercase()),
        };
    }
    names
}

/// Checks a `--tls-name`: an IP address, or a DNS name (letters, digits,
/// `-`, dots; a leading `*.` for a wildcard).
pub fn check_extra(name: &str) -> Result<(), String> {
    if name.parse::<IpAddr>().is_ok() || is_dns_name(name.strip_prefix("*.").unwrap_or(name)) {
        Ok(())
    } else {
        Err(format!(
            "--tls-name: `{name}` is neither a DNS name (letters, digits, `-` and dots) nor an IP address"
        ))
    }
}

fn is_dns_name(name: &str) -> bool {
    name.len() <= 253
        && !name.is_empty()
        && name.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}

/// The machine's host name, lower case, when it is a valid DNS name.
pub fn host_name() -> Option<String> {
    let mut buf = [0u8; 256];
    // SAFETY: the buffer is valid for its length; gethostname writes at most
    // that many bytes, and we stop at the first NUL or at the end.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    if rc != 0 {
        return None;
    }
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    let name = std::str::from_utf8(&buf[..end]).ok()?.to_ascii_lowercase();
    is_dns_name(&name).then_some(name)
}

/// Every address of every interface that is up, except loopback and
/// unspecified ones, sorted.
pub fn machine_addresses() -> Vec<IpAddr> {
    let mut found = BTreeSet::new();
    let mut list: *mut libc::ifaddrs = std::ptr::null_mut();
    // SAFETY: getifaddrs fills `list` with a linked list that we only read
    // and free once with freeifaddrs; each ifa_addr is checked for null and
    // read as the sockaddr type its family says.
    unsafe {
        if libc::getifaddrs(&mut list) != 0 {
            warn_once(&std::io::Error::last_os_error());
            return Vec::new();
        }
        let mut cursor = list;
        while let Some(entry) = cursor.as_ref() {
            cursor = entry.ifa_next;
            let up = entry.ifa_flags & libc::IFF_UP as libc::c_uint != 0;
            let Some(addr) = entry.ifa_addr.as_ref() else {
                continue;
            };
            let ip = match i32::from(addr.sa_family) {
                libc::AF_INET => {
                    let sin = &*(entry.ifa_addr as *const libc::sockaddr_in);
                    IpAddr::V4(Ipv4Addr::from(u32::from_be(sin.sin_addr.s_addr)))
                }
                libc::AF_INET6 => {
                    let sin6 = &*(entry.ifa_addr as *const libc::sockaddr_in6);
                    IpAddr::V6(Ipv6Addr::from(sin6.sin6_addr.s6_addr))
                }
                _ => continue,
            };
            if up && !ip.is_loopback() && !ip.is_unspecified() {
                found.insert(ip);
            }
        }
        libc::freeifaddrs(list);
    }
    found.into_iter().collect()
}

/// Said once per process: the renewal check lists the addresses hourly.
fn warn_once(e: &std::io::Error) {
    static SAID: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
    if !SAID.swap(true, std::sync::atomic::Ordering::Relaxed) {
        eprintln!(
            "vaultd: cannot list the machine's addresses ({e}); the TLS certificate names \
             only the host name, loopback and --tls-name (a sandbox without AF_NETLINK?)"
        );
    }
}

/// The address a phone on the LAN most likely reaches this machine at: the
/// first private IPv4 address, else any IPv4, else any address.
pub fn lan_address() -> Option<IpAddr> {
    let all = machine_addresses();
    let private = |ip: &IpAddr| matches!(ip, IpAddr::V4(v4) if v4.is_private());
    all.iter()
        .find(|ip| private(ip))
        .or_else(|| all.iter().find(|ip| ip.is_ipv4()))
        .or_else(|| all.first())
        .copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wanted_names_hold_loopback_host_and_extras() {
        let names = wanted(&["Vault.Example.LAN".into(), "10.1.2.3".into()]);
        assert!(names.dns.contains("localhost"));
        assert!(names.dns.contains("vault.example.lan"));
        assert!(names.ips.contains(&"127.0.0.1".parse().unwrap()));
        assert!(names.ips.contains(&"::1".parse().unwrap()));
        assert!(names.ips.contains(&"10.1.2.3".parse().unwrap()));
        if let Some(host) = host_name() {
            let short = host.split('.').next().unwrap();
            assert!(names.dns.contains(&format!("{short}.local")));
            assert!(names.dns.contains(&host));
        }
        for ip in machine_addresses() {
            assert!(!ip.is_loopback());
            assert!(names.ips.contains(&ip));
        }
    }

    #[test]
    fn extra_names_are_checked() {
        for good in [
            "pi",
            "vault.home.arpa",
            "*.example.lan",
            "fd00::7",
            "10.0.0.2",
        ] {
            assert!(check_extra(good).is_ok(), "{good}");
        }
        for bad in ["", "a b", "-x.lan", "x..lan", "under_score", "é.lan", "a/b"] {
            assert!(check_extra(bad).is_err(), "{bad}");
        }
    }
}
