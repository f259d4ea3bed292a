//! `TokenKeys::verify` (the check behind every authenticated route) on
//! arbitrary strings, and `issue` → `verify` round trips.
//!
//! Input: a mode byte, then the rest.
//! - mode 0 (e.g. '0'): the rest, as text, is the token.
//! - mode 1 ('1'): round trip. The rest gives a user id and a revocation
//!   counter (8 bytes each, little-endian, zero-padded), then pairs of
//!   (position, xor) bytes that flip characters of the issued token.
//! - mode 2 ('2'): the rest is `header 0xFF payload`; both are base64url
//!   encoded and signed with HMAC-SHA256 under the right key, so that
//!   `verify` gets past the signature to the header and claims checks.
//!
//! Checks: no panic; `verify` accepts only a token whose signature is an
//! HMAC-SHA256 under our key of its first two segments, whose header says
//! HS256, and whose claims hold `exp` (not past, give or take 60 s), `iat`, a
//! numeric `sub` and `rev`, equal to what it returns; an issued token
//! verifies to its own user and counter; a token changed in any character
//! verifies, if at all, to the same session (only base64's unused low bits
//! may change).

#![no_main]

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, Mac};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use sha2::Sha256;
use std::sync::OnceLock;
use vaultd::auth::token::{Session, TokenKeys};
use vaultd_fuzz::JWT_KEY;

fn keys() -> &'static TokenKeys {
    static KEYS: OnceLock<TokenKeys> = OnceLock::new();
    KEYS.get_or_init(|| TokenKeys::new(JWT_KEY, 3600))
}

fn hs256(data: &[u8]) -> Vec<u8> {
    let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(JWT_KEY).unwrap();
    mac.update(data);
    mac.finalize().into_bytes().to_vec()
}

fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
}

/// What must hold of a token that `verify` accepted.
fn check_accepted(token: &str, session: &Session) {
    let parts: Vec<&str> = token.split('.').collect();
    assert_eq!(parts.len(), 3, "accepted a token of {} parts", parts.len());
    let signed = &token[..parts[0].len() + 1 + parts[1].len()];
    let signature = URL_SAFE_NO_PAD
        .decode(parts[2])
        .expect("accepted a signature that is not base64url");
    assert_eq!(
        signature,
        hs256(signed.as_bytes()),
        "accepted a bad signature"
    );
    // jwt-simple reads the JSON into structs, and serde_json skips unknown
    // fields without validating them (invalid UTF-8, lone surrogates), so a
    // token signed with our key may hold JSON that `Value` rejects. Only we
    // can sign, so that is no hole: what can be read must still be right.
    let (Some(header), Some(claims)) = (json(parts[0]), json(parts[1])) else {
        return;
    };
    assert_eq!(header["alg"], "HS256", "accepted header {header}");
    // jwt-simple also reads timestamps written as floats, and keeps whole
    // seconds. It keeps them as coarsetime's 32.32 fixed point, casting with
    // `as`: a negative timestamp, or one of 2^32 seconds or more, wraps (a
    // token signed with `"exp": -1` never expires). Only the holder of
    // JWT_KEY can sign, and vaultd signs `exp` = `iat` + TTL only, so the
    // checks hold for the timestamps it can meet.
    let exp = claims["exp"]
        .as_f64()
        .expect("accepted a token without `exp`");
    let iat = claims["iat"]
        .as_f64()
        .expect("accepted a token without `iat`");
    let representable = |t: f64| (0.0..4_294_967_296.0).contains(&t);
    if representable(exp) {
        assert!(
            exp + 60.0 >= now() as f64,
            "accepted an expired token: {claims}"
        );
    }
    if representable(iat) {
        assert_eq!(iat.trunc() as u64, session.issued_at, "iat read wrong");
    }
    assert_eq!(
        claims["sub"].as_str().and_then(|s| s.parse::<i64>().ok()),
        Some(session.user_id)
    );
    assert_eq!(claims["rev"].as_i64(), Some(session.rev));
}

fn json(segment: &str) -> Option<Value> {
    serde_json::from_str(&String::from_utf8_lossy(
        &URL_SAFE_NO_PAD.decode(segment).ok()?,
    ))
    .ok()
}

fn verify(token: &str) -> Option<Session> {
    let session = keys().verify(token);
    if let Some(s) = &session {
        check_accepted(token, s);
    }
    session
}

fn i64_from(bytes: &[u8]) -> i64 {
    let mut b = [0u8; 8];
    let n = bytes.len().min(8);
    b[..n].copy_from_slice(&bytes[..n]);
    i64::from_le_bytes(b)
}

fuzz_target!(|data: &[u8]| {
    let Some((mode, rest)) = data.split_first() else {
        return;
    };
    match mode % 3 {
        0 => {
            verify(&String::from_utf8_lossy(rest));
        }
        1 => {
            let user_id = i64_from(rest.get(..8).unwrap_or(rest));
            let rev = i64_from(rest.get(8..16).unwrap_or(&[]));
            let before = now();
            let token = keys().issue(user_id, rev).expect("issue");
            let session = verify(&token).expect("an issued token verifies");
            assert_eq!((session.user_id, session.rev), (user_id, rev));
            assert!((before..=now()).contains(&session.issued_at));
            let mut changed = token.clone().into_bytes();
            for pair in rest.get(16..).unwrap_or(&[]).chunks_exact(2) {
                let i = usize::from(pair[0]) * 4 % changed.len();
                changed[i] ^= pair[1];
            }
            if changed != token.as_bytes()
                && let Some(other) = verify(&String::from_utf8_lossy(&changed))
            {
                assert_eq!(
                    other, session,
                    "a changed token verified to another session"
                );
            }
        }
        _ => {
            let mut halves = rest.splitn(2, |b| *b == 0xFF);
            let header = halves.next().unwrap_or(&[]);
            let payload = halves.next().unwrap_or(&[]);
            let signed = format!(
                "{}.{}",
                URL_SAFE_NO_PAD.encode(header),
                URL_SAFE_NO_PAD.encode(payload)
            );
            let token = format!(
                "{signed}.{}",
                URL_SAFE_NO_PAD.encode(hs256(signed.as_bytes()))
            );
            verify(&token);
        }
    }
});
