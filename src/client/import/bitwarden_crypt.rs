//! Bitwarden's password-protected JSON export, as its clients write it:
//!
//! ```text
//! {"encrypted": true, "passwordProtected": true, "salt": S (a string),
//!  "kdfType": 0 | 1, "kdfIterations": N, "kdfMemory": MiB, "kdfParallelism": P,
//!  "encKeyValidation_DO_NOT_EDIT": EncString, "data": EncString}
//! key  = PBKDF2-HMAC-SHA256(password, S as UTF-8, N, 32 bytes)      kdfType 0
//!      | Argon2id(password, SHA-256(S), t = N, m = MiB·1024 KiB, p = P)  kdfType 1
//! enc  = HKDF-Expand-SHA256(key, "enc", 32); mac = HKDF-Expand-SHA256(key, "mac", 32)
//! EncString = "2." b64(iv) "|" b64(ct) "|" b64(HMAC-SHA256(mac, iv ‖ ct))
//!             ct = AES-256-CBC-PKCS7(enc, iv, plaintext)
//! ```
//!
//! `data` opens to the unencrypted JSON export; the validation string is
//! checked first, so a wrong password says so. The parameters come from
//! the file, within Bitwarden's own bounds.

use aes::cipher::{BlockDecryptMut, KeyIvInit, block_padding::Pkcs7};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use serde_json::Value;
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

type Keys = (Zeroizing<[u8; 32]>, Zeroizing<[u8; 32]>);

/// The KDF of a file, with Bitwarden's bounds checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kdf {
    Pbkdf2 {
        iterations: u32,
    },
    Argon2id {
        iterations: u32,
        memory_mib: u32,
        parallelism: u32,
    },
}

fn bad(what: &str) -> String {
    format!("not a bitwarden-json password-protected export: {what}")
}

pub fn kdf_of(v: &Value) -> Result<Kdf, String> {
    let n = |k: &str| {
        v.get(k)
            .and_then(Value::as_u64)
            .map(|n| n.min(u32::MAX as u64) as u32)
    };
    let iterations = n("kdfIterations").ok_or_else(|| bad("no kdfIterations"))?;
    match v.get("kdfType").and_then(Value::as_u64) {
        Some(0) if (5_000..=2_000_000).contains(&iterations) => Ok(Kdf::Pbkdf2 { iterations }),
        Some(1) => {
            let memory_mib = n("kdfMemory").ok_or_else(|| bad("no kdfMemory"))?;
            let parallelism = n("kdfParallelism").ok_or_else(|| bad("no kdfParallelism"))?;
            let ok = (1..=10).contains(&iterations)
                && (15..=1024).contains(&memory_mib)
                && (1..=16).contains(&parallelism);
            if !ok {
                return Err(bad("Argon2id parameters out of Bitwarden's bounds"));
            }
            Ok(Kdf::Argon2id {
                iterations,
                memory_mib,
                parallelism,
            })
        }
        Some(0) => Err(bad("PBKDF2 iterations out of Bitwarden's bounds")),
        _ => Err(bad("unknown kdfType")),
    }
}

pub fn derive(password: &str, salt: &str, kdf: Kdf) -> Result<Keys, String> {
    let mut key = Zeroizing::new([0u8; 32]);
    match kdf {
        Kdf::Pbkdf2 { iterations } => pbkdf2::pbkdf2_hmac::<Sha256>(
            password.as_bytes(),
            salt.as_bytes(),
            iterations,
            &mut key[..],
        ),
        Kdf::Argon2id {
            iterations,
            memory_mib,
            parallelism,
        } => {
            let params = argon2::Params::new(memory_mib * 1024, iterations, parallelism, Some(32))
                .map_err(|e| bad(&format!("Argon2id parameters: {e}")))?;
            let salt = Sha256::digest(salt.as_bytes());
            argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params)
                .hash_password_into(password.as_bytes(), &salt, &mut key[..])
                .map_err(|e| bad(&format!("Argon2id: {e}")))?;
        }
    }
    let hk = hkdf::Hkdf::<Sha256>::from_prk(&key[..]).expect("32 bytes is a valid PRK");
    let mut enc = Zeroizing::new([0u8; 32]);
    let mut mac = Zeroizing::new([0u8; 32]);
    hk.expand(b"enc", &mut enc[..]).expect("32 bytes");
    hk.expand(b"mac", &mut mac[..]).expect("32 bytes");
    Ok((enc, mac))
}

/// Opens an EncString of type 2; `None` when the MAC does not verify.
pub fn decrypt(s: &str, keys: &Keys) -> Result<Option<Zeroizing<Vec<u8>>>, String> {
    let rest = s
        .strip_prefix("2.")
        .ok_or_else(|| bad("an encrypted value not of type 2 (AES-CBC-256 + HMAC-SHA256)"))?;
    let parts: Vec<&str> = rest.split('|').collect();
    let [iv, ct, tag] = parts[..] else {
        return Err(bad("an encrypted value not of the form iv|data|mac"));
    };
    let b = |x: &str| {
        STANDARD
            .decode(x)
            .map_err(|_| bad("an encrypted value not in base64"))
    };
    let (iv, ct, tag) = (b(iv)?, b(ct)?, b(tag)?);
    let mut m = Hmac::<Sha256>::new_from_slice(&keys.1[..]).expect("any key length");
    m.update(&iv);
    m.update(&ct);
    if m.verify_slice(&tag).is_err() {
        return Ok(None);
    }
    let iv: [u8; 16] = iv.try_into().map_err(|_| bad("an IV not of 16 bytes"))?;
    let plain = cbc::Decryptor::<aes::Aes256>::new(keys.0.as_ref().into(), &iv.into())
        .decrypt_padded_vec_mut::<Pkcs7>(&ct)
        .map_err(|_| bad("bad padding"))?;
    Ok(Some(Zeroizing::new(plain)))
}

/// An EncString of type 2, as Bitwarden writes it.
#[cfg(test)]
pub fn encrypt(plain: &[u8], keys: &Keys, iv: [u8; 16]) -> String {
    use aes::cipher::BlockEncryptMut;
    let ct = cbc::Encryptor::<aes::Aes256>::new(keys.0.as_ref().into(), &iv.into())
        .encrypt_padded_vec_mut::<Pkcs7>(plain);
    let mut m = Hmac::<Sha256>::new_from_slice(&keys.1[..]).expect("any key length");
    m.update(&iv);
    m.update(&ct);
    let tag = m.finalize().into_bytes();
    format!(
        "2.{}|{}|{}",
        STANDARD.encode(iv),
        STANDARD.encode(ct),
        STANDARD.encode(tag)
    )
}

/// The unencrypted export inside a password-protected one.
pub fn open(v: &Value, password: &str) -> Result<Zeroizing<String>, String> {
    let kdf = kdf_of(v)?;
    let field = |k: &str| {
        v.get(k)
            .and_then(Value::as_str)
            .ok_or_else(|| bad(&format!("no `{k}`")))
    };
    let keys = derive(password, field("salt")?, kdf)?;
    if decrypt(field("encKeyValidation_DO_NOT_EDIT")?, &keys)?.is_none() {
        return Err("wrong password for this bitwarden-json export".into());
    }
    let data = decrypt(field("data")?, &keys)?
        .ok_or_else(|| bad("its data does not verify (the file was changed)"))?;
    let s = std::str::from_utf8(&data).map_err(|_| bad("its data is not UTF-8"))?;
    Ok(Zeroizing::new(s.to_owned()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_wrong_password() {
        let keys = derive("pw", "c2FsdA==", Kdf::Pbkdf2 { iterations: 5000 }).unwrap();
        let s = encrypt(b"{\"encrypted\":false}", &keys, [7; 16]);
        assert_eq!(
            &decrypt(&s, &keys).unwrap().unwrap()[..],
            b"{\"encrypted\":false}"
        );
        let other = derive("px", "c2FsdA==", Kdf::Pbkdf2 { iterations: 5000 }).unwrap();
        assert!(decrypt(&s, &other).unwrap().is_none());
    }

    /// PBKDF2-SHA256 then HKDF-Expand: the keys of a known password, salt and count, computed independently
    /// with Python's hashlib and hmac.
    #[test]
    fn known_key() {
        let (enc, mac) = derive("password", "salt", Kdf::Pbkdf2 { iterations: 5000 }).unwrap();
        let hex = |b: &[u8]| b.iter().map(|x| format!("{x:02x}")).collect::<String>();
        assert_eq!(hex(&enc[..]), KNOWN_ENC);
        assert_eq!(hex(&mac[..]), KNOWN_MAC);
    }

    const KNOWN_ENC: &str = "faf6736db8b99be050ca277a909e5297152207a93ce48ccc7fd790d6da408c68";
    const KNOWN_MAC: &str = "a665b1b88a3adda598fd185ab516d2e746ad9ebe315db71b3173b4aeb358a619";

    #[test]
    fn bounds() {
        let v: Value = serde_json::json!({"kdfType": 0, "kdfIterations": 1});
        assert!(kdf_of(&v).is_err());
        let v: Value = serde_json::json!({"kdfType": 1, "kdfIterations": 3,
            "kdfMemory": 100000, "kdfParallelism": 4});
        assert!(kdf_of(&v).is_err());
    }
}
