//! vault's own export: the plaintext JSON (format 2 writes every document
//! member; format 1 of vault 0.1 is still read) and the encrypted export
//! (docs/CRYPTO.md "Encrypted export"): the plaintext export sealed with
//! XChaCha20-Poly1305 under an Argon2id key from a password.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use zeroize::Zeroizing;

use super::{Item, Items, Secrets, common};
use crate::client::entry::{self, Doc};
use crate::client::{Error, Session, authed, crypto};

/// The value of the export's `format`.
pub const EXPORT_FORMAT: &str = "vault-export";
/// The value of the encrypted export's `format`.
pub const ENCRYPTED_FORMAT: &str = "vault-export-encrypted";
/// The plaintext export version this client writes.
pub const EXPORT_VERSION: u32 = 2;

/// vault 0.1's export file (`version` 1), still read.
#[derive(Serialize, Deserialize)]
pub struct ExportFile {
    pub format: String,
    pub version: u32,
    pub entries: Vec<ExportEntry>,
}

/// One entry of a version 1 export.
#[derive(Serialize, Deserialize)]
pub struct ExportEntry {
    pub site: String,
    #[serde(default)]
    pub username: Option<String>,
    pub password: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<String>,
}

/// One entry of a version 2 export: the whole document and the password.
#[derive(Serialize, Deserialize)]
struct EntryV2 {
    doc: Doc,
    password: String,
}

impl Drop for EntryV2 {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.password);
    }
}

#[derive(Serialize, Deserialize)]
struct FileV2 {
    format: String,
    version: u32,
    entries: Vec<EntryV2>,
}

/// Whether a JSON value is one of vault's exports.
pub fn detect(v: &Value) -> Option<super::Format> {
    match v.get("format").and_then(Value::as_str) {
        Some(EXPORT_FORMAT) => Some(super::Format::Vault),
        Some(ENCRYPTED_FORMAT) => Some(super::Format::VaultEncrypted),
        _ => None,
    }
}

/// Every entry of the session, decrypted, as the version 2 export (sorted
/// by normalised name; trashed entries too). It holds plaintext passwords.
pub fn export(session: &Session) -> Result<Zeroizing<String>, Error> {
    let all = session.api.get_all(&session.token).map_err(authed)?;
    let mut entries = Vec::with_capacity(all.len());
    for w in all {
        let opened = entry::open(
            &session.key,
            &w.site,
            w.username.as_deref(),
            &w.password,
            &w.updated_at,
        )
        .map_err(|cause| Error::Tampered {
            site: w.site.clone(),
            cause,
        })?;
        entries.push(EntryV2 {
            doc: opened.doc,
            password: opened.password.to_string(),
        });
    }
    entries.sort_by(|a, b| {
        crypto::normalise_site(&a.doc.name)
            .cmp(&crypto::normalise_site(&b.doc.name))
            .then_with(|| a.doc.name.cmp(&b.doc.name))
    });
    let file = FileV2 {
        format: EXPORT_FORMAT.to_owned(),
        version: EXPORT_VERSION,
        entries,
    };
    Ok(Zeroizing::new(
        serde_json::to_string_pretty(&file).expect("the export serialises"),
    ))
}

/// Reads a plaintext export, version 1 or 2.
pub fn parse(text: &str) -> Result<Items, String> {
    let v: Value = serde_json::from_str(text).map_err(|e| format!("not valid JSON ({e})"))?;
    let version = v.get("version").and_then(Value::as_u64).unwrap_or(1);
    // vault 0.1 also took a bare array of version 1 entries.
    let Some(list) = v
        .as_array()
        .or_else(|| v.get("entries").and_then(Value::as_array))
    else {
        return Err("not a vault export: no `entries` array".into());
    };
    let mut items = Vec::new();
    let mut skips = Vec::new();
    for (i, e) in list.iter().enumerate() {
        let place = format!("entry {}", i + 1);
        let name = e
            .pointer(if version >= 2 { "/doc/name" } else { "/site" })
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_owned();
        let got = match version {
            1 => serde_json::from_value::<ExportEntry>(e.clone()).map(|x| {
                let mut doc = Doc::from_v1(x.site.trim().to_owned(), x.username, "");
                let t = x.updated_at.as_deref().and_then(common::date);
                let t = t.unwrap_or_else(common::now);
                doc.created = t.clone();
                doc.updated = t;
                (doc, x.password.clone())
            }),
            2 => serde_json::from_value::<EntryV2>(e.clone())
                .map(|x| (x.doc.clone(), x.password.clone())),
            n => return Err(format!("a vault export of version {n}: update vault")),
        };
        match got {
            Ok((doc, password)) => {
                let kind = doc.kind.clone();
                items.push(Item {
                    place,
                    source_kind: kind,
                    doc,
                    password: Zeroizing::new(password),
                    lost: Vec::new(),
                })
            }
            Err(err) => skips.push(common::skipped(
                place,
                &name,
                "entry",
                format!("not an entry ({err})"),
            )),
        }
    }
    Ok((items, skips))
}

/// Argon2id parameters of an encrypted export.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Kdf {
    pub m_cost_kib: u32,
    pub t_cost: u32,
    pub p_cost: u32,
}

/// What this client writes: the master password's own parameters.
pub const KDF: Kdf = Kdf {
    m_cost_kib: 65_536,
    t_cost: 3,
    p_cost: 1,
};

#[derive(Serialize, Deserialize)]
struct Sealed {
    format: String,
    version: u32,
    kdf: String,
    #[serde(flatten)]
    params: Kdf,
    salt: String,
    nonce: String,
    ciphertext: String,
}

const AAD_PREFIX: &[u8] = b"vault export v1";

fn aad(k: &Kdf, salt: &[u8]) -> Vec<u8> {
    let mut a = AAD_PREFIX.to_vec();
    a.push(0);
    a.extend_from_slice(format!("argon2id,{},{},{}", k.m_cost_kib, k.t_cost, k.p_cost).as_bytes());
    a.push(0);
    a.extend_from_slice(salt);
    a
}

fn derive(password: &str, salt: &[u8], k: &Kdf) -> Result<Zeroizing<[u8; 32]>, String> {
    let params = argon2::Params::new(k.m_cost_kib, k.t_cost, k.p_cost, Some(32))
        .map_err(|e| format!("bad Argon2id parameters: {e}"))?;
    let a = argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params);
    let mut key = Zeroizing::new([0u8; 32]);
    a.hash_password_into(password.as_bytes(), salt, &mut key[..])
        .map_err(|e| format!("Argon2id failed: {e}"))?;
    Ok(key)
}

/// Seals a plaintext export under `password` with fresh salt and nonce.
pub fn seal(plain: &str, password: &str, k: Kdf) -> Result<String, String> {
    let mut salt = [0u8; 16];
    let mut nonce = [0u8; 24];
    getrandom::getrandom(&mut salt).map_err(|e| format!("no randomness: {e}"))?;
    getrandom::getrandom(&mut nonce).map_err(|e| format!("no randomness: {e}"))?;
    let key = derive(password, &salt, &k)?;
    let ct = XChaCha20Poly1305::new(key.as_ref().into())
        .encrypt(
            XNonce::from_slice(&nonce),
            Payload {
                msg: plain.as_bytes(),
                aad: &aad(&k, &salt),
            },
        )
        .map_err(|_| "encryption failed".to_owned())?;
    let file = Sealed {
        format: ENCRYPTED_FORMAT.into(),
        version: 1,
        kdf: "argon2id".into(),
        params: k,
        salt: STANDARD.encode(salt),
        nonce: STANDARD.encode(nonce),
        ciphertext: STANDARD.encode(ct),
    };
    Ok(serde_json::to_string_pretty(&file).expect("serialises") + "\n")
}

/// Opens an encrypted export to its plaintext export. The parameters come
/// from the file, within bounds (a hostile file cannot ask for 100 GiB).
pub fn open(text: &str, password: &str) -> Result<Zeroizing<String>, String> {
    let bad = |what: &str| format!("not a vault encrypted export: {what}");
    let f: Sealed = serde_json::from_str(text).map_err(|e| bad(&e.to_string()))?;
    if f.format != ENCRYPTED_FORMAT || f.version != 1 || f.kdf != "argon2id" {
        return Err(bad("unknown format, version or kdf"));
    }
    let k = f.params;
    if k.m_cost_kib > 1 << 20 || !(1..=16).contains(&k.t_cost) || !(1..=16).contains(&k.p_cost) {
        return Err(bad(
            "Argon2id parameters out of bounds (at most 1 GiB, 16 passes, 16 lanes)",
        ));
    }
    let b64 = |s: &str, what: &str| STANDARD.decode(s).map_err(|_| bad(what));
    let salt = b64(&f.salt, "salt is not base64")?;
    let nonce = b64(&f.nonce, "nonce is not base64")?;
    let ct = b64(&f.ciphertext, "ciphertext is not base64")?;
    if salt.len() < 16 || nonce.len() != 24 {
        return Err(bad("salt or nonce of the wrong length"));
    }
    let key = derive(password, &salt, &k)?;
    let plain = XChaCha20Poly1305::new(key.as_ref().into())
        .decrypt(
            XNonce::from_slice(&nonce),
            Payload {
                msg: &ct,
                aad: &aad(&k, &salt),
            },
        )
        .map_err(|_| {
            "wrong password for this encrypted export (or the file was changed)".to_owned()
        })?;
    let plain = Zeroizing::new(plain);
    let s = std::str::from_utf8(&plain).map_err(|_| bad("the content is not UTF-8"))?;
    Ok(Zeroizing::new(s.to_owned()))
}

pub fn parse_encrypted(text: &str, secrets: &mut dyn Secrets) -> Result<Items, String> {
    let password = secrets.password("vault-encrypted")?;
    let plain = open(text, &password)?;
    parse(&plain)
}

#[cfg(test)]
mod tests {
    use super::*;

    const FAST: Kdf = Kdf {
        m_cost_kib: 64,
        t_cost: 1,
        p_cost: 1,
    };

    #[test]
    fn seal_open_and_tamper() {
        let sealed = seal("{\"x\":1}", "pw", FAST).unwrap();
        assert_eq!(open(&sealed, "pw").unwrap().as_str(), "{\"x\":1}");
        assert!(
            open(&sealed, "other")
                .unwrap_err()
                .contains("wrong password")
        );
        // The parameters are bound: changing them fails even with the right password.
        let changed = sealed.replace("\"t_cost\": 1", "\"t_cost\": 2");
        assert_ne!(changed, sealed);
        assert!(open(&changed, "pw").is_err());
        let huge = sealed.replace("\"m_cost_kib\": 64", "\"m_cost_kib\": 99999999");
        assert!(open(&huge, "pw").unwrap_err().contains("out of bounds"));
    }
}
