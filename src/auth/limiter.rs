//! Login throttling (API.md, Login): in a sliding 15-minute window, 5 failed
//! logins for one username from one address, or 20 from one address whatever
//! the usernames, answer `429` until the oldest counted failure leaves the
//! window. Other addresses are never locked out, so nobody can lock a user
//! out of their own account. Counters live in this process's memory.
//!
//! What counts as a failure: with OPAQUE a client learns that its password
//! guess was wrong from the `/login` response alone, and need never send
//! `/login/finish`. So every `/login` counts as a failure when it starts
//! ([`Limiter::begin`]) and is forgiven when it finishes successfully
//! ([`Limiter::succeeded`]); a failed `/login/finish` adds nothing more. For
//! a client that finishes its logins this is exactly API.md's rule; for one
//! that only ever starts them, it is the only rule that limits guessing.
//!
//! Counters are kept per [`ClientKey`], not per exact address: one IPv6
//! host is usually given a whole /64, and could otherwise guess without
//! limit by walking through it.

use std::collections::{HashMap, VecDeque};
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub const WINDOW: Duration = Duration::from_secs(15 * 60);
pub const PER_USER_AND_ADDRESS: usize = 5;
pub const PER_ADDRESS: usize = 20;
/// Above this many tracked keys, expired ones are swept on the next write.
const SWEEP_ABOVE: usize = 10_000;

/// A client address as the throttle counts it (API.md 1.1, Login): an IPv4
/// address, or the /64 prefix of an IPv6 address. An IPv4-mapped IPv6
/// address (`::ffff:a.b.c.d`, what a dual-stack socket reports for an IPv4
/// peer) is the IPv4 address, so one client never gets two buckets.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ClientKey {
    V4(Ipv4Addr),
    /// The first 64 bits of the address.
    V6Prefix(u64),
}

impl From<IpAddr> for ClientKey {
    fn from(address: IpAddr) -> ClientKey {
        match address {
            IpAddr::V4(v4) => ClientKey::V4(v4),
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => ClientKey::V4(v4),
                None => ClientKey::V6Prefix((v6.to_bits() >> 64) as u64),
            },
        }
    }
}

#[derive(Default)]
struct Failures {
    by_user: HashMap<(String, ClientKey), VecDeque<Instant>>,
    by_address: HashMap<ClientKey, VecDeque<Instant>>,
    /// The next sweep waits until the maps hold this many keys (at least
    /// `SWEEP_ABOVE`): twice what the last sweep left, so that a window full
    /// of live failures is not rescanned on every write (amortised O(1)).
    sweep_above: usize,
}

pub struct Limiter {
    failures: Mutex<Failures>,
    window: Duration,
}

impl Default for Limiter {
    fn default() -> Self {
        Limiter::new(WINDOW)
    }
}

/// Drops the failures that have left the window.
fn expire(times: &mut VecDeque<Instant>, now: Instant, window: Duration) {
    while times
        .front()
        .is_some_and(|t| now.duration_since(*t) >= window)
    {
        times.pop_front();
    }
}

/// Seconds until the oldest failure leaves the window, when over `limit`.
fn blocked(
    times: Option<&VecDeque<Instant>>,
    limit: usize,
    now: Instant,
    window: Duration,
) -> Option<u64> {
    let times = times?;
    let live: Vec<&Instant> = times
        .iter()
        .filter(|t| now.duration_since(**t) < window)
        .collect();
    if live.len() < limit {
        return None;
    }
    let left = window.saturating_sub(now.duration_since(*live[0]));
    // Round up, so a client that waits exactly this long is let in.
    Some(left.as_secs() + u64::from(left.subsec_nanos() > 0))
}

impl Limiter {
    pub fn new(window: Duration) -> Self {
        Limiter {
            failures: Mutex::new(Failures::default()),
            window,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Failures> {
        self.failures.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// `Err(retry_after_seconds)` when this username (if known) and address
    /// may not try now. `slack` failures are not held against the caller
    /// (the login being finished has already been counted).
    fn check(&self, username: Option<&str>, client: ClientKey, slack: usize) -> Result<(), u64> {
        let now = Instant::now();
        let failures = self.lock();
        let by_address = blocked(
            failures.by_address.get(&client),
            PER_ADDRESS + slack,
            now,
            self.window,
        );
        let by_user = username.and_then(|u| {
            let key = (u.to_string(), client);
            blocked(
                failures.by_user.get(&key),
                PER_USER_AND_ADDRESS + slack,
                now,
                self.window,
            )
        });
        match by_address.max(by_user) {
            Some(wait) => Err(wait.max(1)),
            None => Ok(()),
        }
    }

    /// `/login`: refuses a throttled username and address, else counts the
    /// attempt as a failure until it succeeds.
    pub fn begin(&self, username: &str, client: impl Into<ClientKey>) -> Result<(), u64> {
        let client = client.into();
        self.check(Some(username), client, 0)?;
        self.record_failure(Some(username), client);
        Ok(())
    }

    /// `/login/finish`: refuses when the address (and, once known, the
    /// username) is over its limit, not counting the login being finished.
    pub fn check_finish(
        &self,
        username: Option<&str>,
        client: impl Into<ClientKey>,
    ) -> Result<(), u64> {
        let client = client.into();
        self.check(username, client, usize::from(username.is_some()))
    }

    /// Counts a failed login; `username` is `None` when the login could not
    /// be tied to one (an unknown `login_id`).
    pub fn record_failure(&self, username: Option<&str>, client: impl Into<ClientKey>) {
        let client = client.into();
        let now = Instant::now();
        let window = self.window;
        let mut failures = self.lock();
        let tracked = failures.by_user.len() + failures.by_address.len();
        if tracked > failures.sweep_above.max(SWEEP_ABOVE) {
            failures.by_user.retain(|_, t| {
                expire(t, now, window);
                !t.is_empty()
            });
            failures.by_address.retain(|_, t| {
                expire(t, now, window);
                !t.is_empty()
            });
            failures.sweep_above = 2 * (failures.by_user.len() + failures.by_address.len());
        }
        let times = failures.by_address.entry(client).or_default();
        expire(times, now, window);
        times.push_back(now);
        if let Some(u) = username {
            let times = failures.by_user.entry((u.to_string(), client)).or_default();
            expire(times, now, window);
            times.push_back(now);
        }
    }

    /// A successful login clears the count for that username and address,
    /// and forgives the address the attempt that `begin` counted.
    pub fn succeeded(&self, username: &str, client: impl Into<ClientKey>) {
        let client = client.into();
        let mut failures = self.lock();
        failures.by_user.remove(&(username.to_string(), client));
        if let Some(times) = failures.by_address.get_mut(&client) {
            times.pop_back();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 1));
    const B: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(10, 0, 0, 2));

    #[test]
    fn five_unfinished_logins_block_that_user_from_that_address_only() {
        let limiter = Limiter::default();
        for _ in 0..PER_USER_AND_ADDRESS {
            limiter.begin("alice", A).unwrap();
            // The fifth login may still be finished (it may be the right password).
            limiter.check_finish(Some("alice"), A).unwrap();
        }
        let wait = limiter.begin("alice", A).unwrap_err();
        assert!((899..=900).contains(&wait), "{wait}");
        assert!(
            limiter.begin("alice", B).is_ok(),
            "another address still gets in"
        );
        assert!(
            limiter.begin("bob", A).is_ok(),
            "another user from A still gets in"
        );
        limiter.succeeded("alice", A);
        assert!(limiter.begin("alice", A).is_ok());
    }

    #[test]
    fn successful_logins_are_never_throttled() {
        let limiter = Limiter::default();
        for _ in 0..(3 * PER_ADDRESS) {
            limiter.begin("alice", A).unwrap();
            limiter.check_finish(Some("alice"), A).unwrap();
            limiter.succeeded("alice", A);
        }
    }

    #[test]
    fn twenty_failures_block_the_address() {
        let limiter = Limiter::default();
        for i in 0..PER_ADDRESS {
            assert!(limiter.check_finish(None, A).is_ok());
            // Distinct usernames and unknown login ids: only the address count grows.
            let name = format!("user{i}");
            limiter.record_failure((i % 2 == 0).then_some(name.as_str()), A);
        }
        assert!(limiter.begin("carol", A).is_err());
        assert!(limiter.check_finish(None, A).is_err());
        assert!(limiter.begin("carol", B).is_ok());
    }

    #[test]
    fn many_addresses_do_not_make_every_login_sweep() {
        let limiter = Limiter::default();
        let address = |n: u32| IpAddr::V4(std::net::Ipv4Addr::from(0x0a00_0000 + n));
        for n in 0..20_000 {
            limiter.begin("alice", address(n)).unwrap();
        }
        for n in 20_000..21_000 {
            limiter.begin("alice", address(n)).unwrap();
        }
        // Nothing has expired: every key is still there, and still counts.
        assert_eq!(limiter.lock().by_address.len(), 21_000);
        for _ in 1..PER_USER_AND_ADDRESS {
            limiter.begin("alice", address(7)).unwrap();
        }
        assert!(limiter.begin("alice", address(7)).is_err());
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn a_client_is_an_ipv4_address_or_an_ipv6_slash_64() {
        let key = |t: &str| ClientKey::from(ip(t));
        // Every spelling of one /64 is one client.
        let net = key("2001:db8:1:2::1");
        for same in [
            "2001:db8:1:2::",
            "2001:db8:1:2:ffff:ffff:ffff:ffff",
            "2001:0DB8:0001:0002:0000:0000:0000:0001",
            "2001:db8:1:2:0:0:0:1",
            "2001:db8:1:2:a:b:c:d",
        ] {
            assert_eq!(key(same), net, "{same}");
        }
        assert_eq!(net, ClientKey::V6Prefix(0x2001_0db8_0001_0002));
        for other in ["2001:db8:1:3::1", "2001:db8:1::1", "::1", "fe80::1"] {
            assert_ne!(key(other), net, "{other}");
        }
        // IPv4-mapped IPv6 is the IPv4 address, in either spelling.
        let v4 = key("10.0.0.1");
        assert_eq!(v4, ClientKey::V4(Ipv4Addr::new(10, 0, 0, 1)));
        assert_eq!(key("::ffff:10.0.0.1"), v4);
        assert_eq!(key("::FFFF:a00:1"), v4);
        assert_ne!(key("10.0.0.2"), v4, "IPv4 addresses are not grouped");
        assert_ne!(key("::ffff:10.0.0.2"), v4);
    }

    #[test]
    fn one_ipv6_slash_64_and_mapped_spellings_share_a_bucket() {
        let limiter = Limiter::default();
        for i in 0..PER_USER_AND_ADDRESS {
            limiter
                .begin("alice", ip(&format!("2001:db8:1:2::{:x}", i + 1)))
                .unwrap();
        }
        assert!(
            limiter
                .begin("alice", ip("2001:db8:1:2:dead:beef:0:1"))
                .is_err()
        );
        assert!(limiter.begin("alice", ip("2001:db8:1:3::1")).is_ok());

        let limiter = Limiter::default();
        for i in 0..PER_USER_AND_ADDRESS {
            let spelling = if i % 2 == 0 {
                "10.0.0.1"
            } else {
                "::ffff:10.0.0.1"
            };
            limiter.begin("alice", ip(spelling)).unwrap();
        }
        assert!(limiter.begin("alice", A).is_err());
        assert!(limiter.begin("alice", ip("::ffff:10.0.0.1")).is_err());
        limiter.succeeded("alice", ip("::ffff:10.0.0.1"));
        assert!(
            limiter.begin("alice", A).is_ok(),
            "a success resets both spellings"
        );
    }

    #[test]
    fn failures_leave_the_window() {
        let limiter = Limiter::new(Duration::from_millis(50));
        for _ in 0..PER_USER_AND_ADDRESS {
            limiter.record_failure(Some("alice"), A);
        }
        assert_eq!(limiter.begin("alice", A), Err(1));
        std::thread::sleep(Duration::from_millis(60));
        assert!(limiter.begin("alice", A).is_ok());
    }
}
