//! `Body::parse` and every accessor, against serde_json's own reading of the
//! same bytes.
//!
//! Input: a byte choosing the allowed fields (one route's list, modulo 10),
//! then the body.
//!
//! Checks: no panic; `parse` accepts exactly the JSON objects whose keys are
//! all allowed; each accessor agrees with the parsed value (`null` is absent
//! for optional fields and a value for `nullable_str`); `bytes` decodes only
//! canonical base64url without padding; every error is a `400` whose message
//! is short (it never echoes a value).

#![no_main]

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use libfuzzer_sys::fuzz_target;
use serde_json::Value;
use vaultd::api::body::{Body, check_len};
use vaultd::error::ApiError;

/// The field lists of the routes in `src/api`.
const ALLOWED: &[&[&str]] = &[
    &[],
    &["site"],
    &["site", "password", "username"],
    &["site", "password", "username", "version"],
    &["username", "registration_request", "invite"],
    &["username", "registration_record", "vault_key", "invite"],
    &["username", "credential_request"],
    &["login_id", "credential_finalization"],
    &["registration_request"],
    &["registration_record", "vault_key"],
];

fn bad<T: std::fmt::Debug>(r: Result<T, ApiError>) {
    match r {
        Err(ApiError::BadRequest(m)) => {
            assert!(m.chars().count() <= 100, "a long message: {m:?}")
        }
        other => panic!("expected a 400, got {other:?}"),
    }
}

fn check_field(body: &Body, name: &str, value: Option<&Value>) {
    match value {
        None | Some(Value::Null) => {
            assert_eq!(body.opt_str(name).unwrap(), None);
            assert_eq!(body.opt_i64(name).unwrap(), None);
            assert_eq!(body.opt_bytes(name).unwrap(), None);
            bad(body.str(name));
            bad(body.bytes(name));
            let expected = value.map(|_| None);
            assert_eq!(body.nullable_str(name).unwrap(), expected);
        }
        Some(Value::String(s)) => {
            assert_eq!(body.str(name).unwrap(), s);
            assert_eq!(body.opt_str(name).unwrap(), Some(s.as_str()));
            assert_eq!(body.nullable_str(name).unwrap(), Some(Some(s.as_str())));
            bad(body.opt_i64(name));
            match body.bytes(name) {
                Ok(bytes) => {
                    assert_eq!(
                        URL_SAFE_NO_PAD.encode(&bytes),
                        *s,
                        "non-canonical base64url"
                    );
                    assert_eq!(body.opt_bytes(name).unwrap(), Some(bytes));
                }
                Err(e) => {
                    assert!(URL_SAFE_NO_PAD.decode(s).is_err());
                    bad::<()>(Err(e));
                    bad(body.opt_bytes(name));
                }
            }
            for (min, max) in [(0, 0), (1, 8), (1, 512), (0, 8192)] {
                let ok = check_len(name, s, min, max);
                assert_eq!(ok.is_ok(), (min..=max).contains(&s.len()));
                if ok.is_err() {
                    bad(ok);
                }
            }
        }
        Some(other) => {
            bad(body.str(name));
            bad(body.opt_str(name));
            bad(body.nullable_str(name));
            bad(body.bytes(name));
            bad(body.opt_bytes(name));
            match other.as_i64() {
                Some(n) => assert_eq!(body.opt_i64(name).unwrap(), Some(n)),
                None => bad(body.opt_i64(name)),
            }
        }
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((which, bytes)) = data.split_first() else {
        return;
    };
    let allowed = ALLOWED[usize::from(*which) % ALLOWED.len()];
    let parsed = Body::parse(bytes, allowed);
    let reference = serde_json::from_slice::<Value>(bytes).ok();
    let object = match &reference {
        Some(Value::Object(map)) if map.keys().all(|k| allowed.contains(&k.as_str())) => map,
        _ => {
            assert!(
                parsed.is_err(),
                "accepted a body that is not an allowed object"
            );
            bad(parsed.map(|_| ()));
            return;
        }
    };
    let body = parsed.expect("rejected an allowed JSON object");
    for name in allowed.iter().copied().chain(["absent"]) {
        check_field(&body, name, object.get(name));
    }
});
