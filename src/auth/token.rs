//! Session tokens: JWT, HS256 only, keyed with the raw bytes of `JWT_KEY`.
//!
//! Claims: `sub` (user id), `iat`, `exp`, `jti`, and `rev`, the user's
//! revocation counter when the token was made. The caller compares `rev` with
//! the stored counter on every request, which is how `/logout` and a password
//! change end every earlier token.
//!
//! Checking a token's signature and decoding its claims is about a third of
//! the server's work for a small request (docs/PERFORMANCE.md), and a
//! client sends the same token many times. So the tokens that verified
//! recently are remembered, byte for byte, with their claims: a token seen
//! again only has its time limits checked again, the same checks jwt-simple
//! makes, against the clock of that moment.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jwt_simple::prelude::*;

/// Clock tolerance for `exp` and `iat` (API.md: at most 60 seconds).
const CLOCK_TOLERANCE: Duration = Duration::from_secs(60);
/// Tokens longer than this are rejected before any parsing.
const MAX_TOKEN_LEN: usize = 1024;
/// How many verified tokens are remembered (about 300 bytes each); when
/// full, the memory is emptied and refills with the tokens in use.
const VERIFIED_CAPACITY: usize = 1024;

/// Our custom claims. `acct`, the account's creation time, binds a token to
/// the account it was issued for, not only to its id (API.md 1.1). Tokens
/// that vaultd issues always carry it; one without it can only have been
/// made with `JWT_KEY` itself, which could forge any claim anyway.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
struct RevClaim {
    rev: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    acct: Option<i64>,
}

/// What a valid token says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenClaims {
    pub user_id: i64,
    pub rev: i64,
    /// Unix seconds the token was issued (for re-authentication checks).
    pub issued_at: u64,
    /// The creation time of the account it was issued for (see `RevClaim`).
    pub account: Option<i64>,
}

impl TokenClaims {
    /// Whether the token is current for the account stored under its id:
    /// not revoked, and issued for that very account.
    pub fn matches(&self, state: &crate::store::TokenState) -> bool {
        let account = match self.account {
            Some(created_at) => created_at == state.created_at,
            None => !state.bound_only,
        };
        self.rev == state.rev && account
    }
}

/// A token whose signature and claims were checked: what it says, and the
/// claims that decide, as time passes, whether it is still valid.
struct Verified {
    session: TokenClaims,
    issued_at: Option<UnixTimeStamp>,
    invalid_before: Option<UnixTimeStamp>,
    expires_at: UnixTimeStamp,
}

impl Verified {
    /// jwt-simple's time checks (`JWTClaims::validate`) with our options:
    /// not issued in the future, valid already, not expired, each within
    /// the clock tolerance.
    fn in_time(&self, now: UnixTimeStamp) -> bool {
        let tolerance: UnixTimeStamp = CLOCK_TOLERANCE.into();
        self.issued_at.is_none_or(|iat| iat <= now + tolerance)
            && self.invalid_before.is_none_or(|nbf| now + tolerance >= nbf)
            && now >= tolerance
            && now - tolerance <= self.expires_at
    }
}

pub struct TokenKeys {
    key: HS256Key,
    ttl: Duration,
    /// Recently verified tokens, by their exact text.
    verified: Mutex<HashMap<String, Verified>>,
}

impl TokenKeys {
    pub fn new(jwt_key: &[u8], ttl_seconds: u64) -> Self {
        TokenKeys {
            key: HS256Key::from_bytes(jwt_key),
            ttl: Duration::from_secs(ttl_seconds),
            verified: Mutex::new(HashMap::new()),
        }
    }

    fn verified(&self) -> std::sync::MutexGuard<'_, HashMap<String, Verified>> {
        // Poisoned only by a panic between two map operations; the map is
        // still a valid cache.
        self.verified.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn ttl_seconds(&self) -> u64 {
        self.ttl.as_secs()
    }

    /// Makes a token for a user at its current revocation counter, bound to
    /// the account made at `created_at`.
    pub fn issue_for_account(
        &self,
        user_id: i64,
        rev: i64,
        created_at: i64,
    ) -> Result<String, jwt_simple::Error> {
        self.make(
            user_id,
            RevClaim {
                rev,
                acct: Some(created_at),
            },
        )
    }

    /// Makes a token with only the claims API.md lists (tests and tools).
    pub fn issue(&self, user_id: i64, rev: i64) -> Result<String, jwt_simple::Error> {
        self.make(user_id, RevClaim { rev, acct: None })
    }

    fn make(&self, user_id: i64, custom: RevClaim) -> Result<String, jwt_simple::Error> {
        let mut jti = [0u8; 16];
        rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut jti);
        let mut claims = Claims::with_custom_claims(custom, self.ttl.into())
            .with_subject(user_id)
            .with_jwt_id(URL_SAFE_NO_PAD.encode(jti));
        claims.invalid_before = None;
        self.key.authenticate(claims)
    }

    /// Checks signature, algorithm and expiry; `None` for any bad token. The
    /// revocation counter is the caller's to compare.
    pub fn verify(&self, token: &str) -> Option<TokenClaims> {
        if token.len() > MAX_TOKEN_LEN {
            return None;
        }
        {
            let mut verified = self.verified();
            if let Some(v) = verified.get(token) {
                if v.in_time(Clock::now_since_epoch()) {
                    return Some(v.session.clone());
                }
                // Expired: forget it; the full check below says no.
                verified.remove(token);
            }
        }
        let options = VerificationOptions {
            time_tolerance: Some(CLOCK_TOLERANCE.into()),
            max_token_length: Some(MAX_TOKEN_LEN),
            ..Default::default()
        };
        let claims = self
            .key
            .verify_token::<RevClaim>(token, Some(options))
            .ok()?;
        // jwt-simple accepts a token without `exp`; ours always have one.
        let expires_at = claims.expires_at?;
        let session = TokenClaims {
            user_id: claims.subject?.parse().ok()?,
            rev: claims.custom.rev,
            issued_at: claims.issued_at?.as_secs(),
            account: claims.custom.acct,
        };
        let mut verified = self.verified();
        if verified.len() >= VERIFIED_CAPACITY {
            verified.clear();
        }
        verified.insert(
            token.to_string(),
            Verified {
                session: session.clone(),
                issued_at: claims.issued_at,
                invalid_before: claims.invalid_before,
                expires_at,
            },
        );
        Some(session)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &[u8] = b"0123456789abcdef0123456789abcdef-test";

    fn part(token: &str, i: usize) -> serde_json::Value {
        let seg = token.split('.').nth(i).unwrap();
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(seg).unwrap()).unwrap()
    }

    #[test]
    fn issued_token_verifies_with_the_claims_of_api_md() {
        let keys = TokenKeys::new(KEY, 3600);
        let token = keys.issue(42, 7).unwrap();
        let session = keys.verify(&token).unwrap();
        assert_eq!((session.user_id, session.rev), (42, 7));
        assert_eq!(part(&token, 0)["alg"], "HS256");
        let claims = part(&token, 1);
        assert_eq!(claims["sub"], "42");
        assert_eq!(claims["rev"], 7);
        assert_eq!(
            claims["exp"].as_u64().unwrap() - claims["iat"].as_u64().unwrap(),
            3600
        );
        assert!(claims["jti"].as_str().unwrap().len() >= 16);
        assert_ne!(part(&keys.issue(42, 7).unwrap(), 1)["jti"], claims["jti"]);
    }

    #[test]
    fn tampered_foreign_and_unsigned_tokens_fail() {
        let keys = TokenKeys::new(KEY, 3600);
        let token = keys.issue(1, 0).unwrap();
        let other = TokenKeys::new(b"another key another key another key!", 3600);
        assert!(other.verify(&token).is_none());
        // Swap the payload for one claiming another user.
        let parts: Vec<&str> = token.split('.').collect();
        let forged = URL_SAFE_NO_PAD.encode(br#"{"sub":"2","rev":0,"iat":1,"exp":99999999999}"#);
        assert!(
            keys.verify(&format!("{}.{}.{}", parts[0], forged, parts[2]))
                .is_none()
        );
        // alg=none.
        let none = URL_SAFE_NO_PAD.encode(br#"{"alg":"none","typ":"JWT"}"#);
        assert!(keys.verify(&format!("{none}.{}.", parts[1])).is_none());
        assert!(keys.verify("").is_none());
        assert!(keys.verify("a.b.c").is_none());
        assert!(keys.verify(&"a".repeat(5000)).is_none());
    }

    #[test]
    fn a_remembered_token_is_still_checked_for_expiry() {
        let keys = TokenKeys::new(KEY, 3600);
        let token = keys.issue(5, 1).unwrap();
        assert_eq!(keys.verify(&token).unwrap().user_id, 5);
        // Seen again: from memory, same answer.
        assert_eq!(keys.verify(&token), keys.verify(&token));
        assert_eq!(keys.verified().len(), 1);
        // Pretend its expiry passed two minutes ago: the memory no longer
        // vouches for it, and the full check decides (here: still valid, so
        // it is remembered again with its real expiry).
        let now = Clock::now_since_epoch();
        let past = now - jwt_simple::prelude::Duration::from_secs(120);
        keys.verified().get_mut(&token).unwrap().expires_at = past;
        assert!(!keys.verified()[&token].in_time(now));
        assert_eq!(keys.verify(&token).unwrap().rev, 1);
        assert!(keys.verified()[&token].expires_at > now);
        // Only verified tokens are remembered.
        assert!(keys.verify("a.b.c").is_none());
        assert_eq!(keys.verified().len(), 1);
    }

    #[test]
    fn the_memory_of_verified_tokens_is_bounded() {
        let keys = TokenKeys::new(KEY, 3600);
        for i in 0..(VERIFIED_CAPACITY as i64 + 10) {
            let token = keys.issue(i, 0).unwrap();
            assert_eq!(keys.verify(&token).unwrap().user_id, i);
        }
        assert!(keys.verified().len() <= VERIFIED_CAPACITY);
    }

    #[test]
    fn a_token_is_bound_to_the_account_it_was_issued_for() {
        let keys = TokenKeys::new(&[3u8; 40], 3600);
        let state = |rev, created_at| crate::store::TokenState {
            rev,
            created_at,
            bound_only: false,
        };
        let bound = keys
            .verify(&keys.issue_for_account(4, 0, 1000).unwrap())
            .unwrap();
        assert!(bound.matches(&state(0, 1000)));
        // Same id and rev, another account (made later under that id).
        assert!(!bound.matches(&state(0, 1001)));
        assert!(!bound.matches(&state(1, 1000)));
        let plain = keys.verify(&keys.issue(4, 0).unwrap()).unwrap();
        assert!(plain.matches(&state(0, 5)));
        // An account made after an upgrade from schema 1 takes bound tokens only.
        let after_upgrade = crate::store::TokenState {
            bound_only: true,
            ..state(0, 5)
        };
        assert!(!plain.matches(&after_upgrade));
        let bound = keys
            .verify(&keys.issue_for_account(4, 0, 5).unwrap())
            .unwrap();
        assert!(bound.matches(&after_upgrade));
    }

    #[test]
    fn remembered_time_checks_match_jwt_simple() {
        let now = Clock::now_since_epoch();
        let s = jwt_simple::prelude::Duration::from_secs;
        let v = |iat: Option<u64>, nbf: Option<u64>, exp: u64| Verified {
            session: TokenClaims {
                user_id: 1,
                rev: 0,
                issued_at: 0,
                account: None,
            },
            issued_at: iat.map(s),
            invalid_before: nbf.map(s),
            expires_at: s(exp),
        };
        let t = now.as_secs();
        assert!(v(Some(t), None, t + 3600).in_time(now));
        // exp: 60 s of tolerance, then no more.
        assert!(v(Some(t - 3650), None, t - 50).in_time(now));
        assert!(!v(Some(t - 3700), None, t - 70).in_time(now));
        // iat in the future: 60 s of tolerance.
        assert!(v(Some(t + 50), None, t + 3600).in_time(now));
        assert!(!v(Some(t + 70), None, t + 3600).in_time(now));
        // nbf: the same.
        assert!(v(Some(t), Some(t + 50), t + 3600).in_time(now));
        assert!(!v(Some(t), Some(t + 70), t + 3600).in_time(now));
    }

    #[test]
    fn expired_token_fails_and_missing_exp_fails() {
        let keys = TokenKeys::new(KEY, 3600);
        let mut claims = Claims::with_custom_claims(
            RevClaim { rev: 0, acct: None },
            Duration::from_secs(1).into(),
        )
        .with_subject(1);
        let past = Clock::now_since_epoch() - jwt_simple::prelude::Duration::from_secs(4000);
        claims.issued_at = Some(past);
        claims.expires_at = Some(past + jwt_simple::prelude::Duration::from_secs(3600));
        claims.invalid_before = None;
        assert!(
            keys.verify(&keys.key.authenticate(claims).unwrap())
                .is_none()
        );

        let mut claims = Claims::with_custom_claims(
            RevClaim { rev: 0, acct: None },
            Duration::from_secs(60).into(),
        )
        .with_subject(1);
        claims.expires_at = None;
        assert!(
            keys.verify(&keys.key.authenticate(claims).unwrap())
                .is_none()
        );
    }
}
