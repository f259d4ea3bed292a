//! The vault manifest (docs/CRYPTO.md, "Manifest", version 1): a sealed
//! record of the user's `seq` and a digest of every entry as the server
//! stores it, written by the client with each of its writes and checked
//! after each read. It lets a client notice a server that drops, adds,
//! alters or rolls back entries, or the whole vault.
//!
//! ```text
//! manifest key = HKDF-SHA256(ikm = vault key, salt = none, info = "vault manifest v1")
//! digest       = SHA-256("vault manifest digest v1" ‖ 0x00 ‖ u64(n) ‖ E_1 ‖ … ‖ E_n)
//!   E_i        = lp(site) ‖ i64(version) ‖ U ‖ lp(password), sites in byte order
//!   U          = 0x00 (username null) | 0x01 ‖ lp(username)
//!   lp(x)      = u32(byte length of x) ‖ x; integers big-endian
//! plaintext    = i64(seq) ‖ u64(n) ‖ digest                          48 bytes
//! manifest     = b64url(0x01 ‖ nonce ‖ XChaCha20-Poly1305(manifest key, plaintext,
//!                                                        aad = "vault manifest v1"))
//! ```
//!
//! Only wire strings go in, so the manifest does not depend on what the
//! sealed fields hold.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use sha2::{Digest as _, Sha256};
use zeroize::Zeroizing;

use super::api::WireEntry;
use super::crypto::{CryptoError, FORMAT_V1, KEY_LEN, NONCE_LEN, TAG_LEN, VaultKey};

/// HKDF info of the manifest key.
pub const MANIFEST_INFO: &[u8] = b"vault manifest v1";
/// Associated data of the sealed manifest.
pub const MANIFEST_AAD: &[u8] = b"vault manifest v1";
/// Domain separation at the head of the digest input.
pub const DIGEST_DOMAIN: &[u8] = b"vault manifest digest v1";
/// `seq` (8) ‖ entry count (8) ‖ digest (32).
pub const PLAINTEXT_LEN: usize = 48;

/// The key that seals manifests, derived from the vault key.
pub struct ManifestKey(Zeroizing<[u8; KEY_LEN]>);

impl ManifestKey {
    /// `HKDF-SHA256(ikm = vault key, salt = none, info = "vault manifest v1")`.
    pub fn of(vault_key: &VaultKey) -> ManifestKey {
        ManifestKey(vault_key.derive(MANIFEST_INFO))
    }

    /// The raw key (for the test vectors).
    pub fn as_bytes(&self) -> &[u8; KEY_LEN] {
        &self.0
    }
}

/// What a manifest says: the vault at `seq` held `count` entries with this
/// `digest`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Manifest {
    pub seq: i64,
    pub count: u64,
    pub digest: [u8; 32],
}

fn length_prefixed(h: &mut Sha256, s: &str) {
    // Every wire string is far below 4 GiB (the API allows 64 KiB bodies).
    let len = u32::try_from(s.len()).expect("wire strings are shorter than 4 GiB");
    h.update(len.to_be_bytes());
    h.update(s.as_bytes());
}

/// The digest of an entry set, whatever the order of `entries` (they are
/// sorted by the bytes of `site`, which the server keeps unique).
pub fn digest<'a>(entries: impl IntoIterator<Item = &'a WireEntry>) -> [u8; 32] {
    let mut sorted: Vec<&WireEntry> = entries.into_iter().collect();
    sorted.sort_by(|a, b| a.site.as_bytes().cmp(b.site.as_bytes()));
    let mut h = Sha256::new();
    h.update(DIGEST_DOMAIN);
    h.update([0u8]);
    h.update((sorted.len() as u64).to_be_bytes());
    for e in sorted {
        length_prefixed(&mut h, &e.site);
        h.update(e.version.to_be_bytes());
        match &e.username {
            None => h.update([0u8]),
            Some(u) => {
                h.update([1u8]);
                length_prefixed(&mut h, u);
            }
        }
        length_prefixed(&mut h, &e.password);
    }
    h.finalize().into()
}

impl Manifest {
    /// The manifest of the vault at `seq` holding `entries`.
    pub fn of<'a>(seq: i64, entries: impl IntoIterator<Item = &'a WireEntry>) -> Manifest {
        let entries: Vec<&WireEntry> = entries.into_iter().collect();
        Manifest {
            seq,
            count: entries.len() as u64,
            digest: digest(entries),
        }
    }

    fn plaintext(&self) -> [u8; PLAINTEXT_LEN] {
        let mut p = [0u8; PLAINTEXT_LEN];
        p[..8].copy_from_slice(&self.seq.to_be_bytes());
        p[8..16].copy_from_slice(&self.count.to_be_bytes());
        p[16..].copy_from_slice(&self.digest);
        p
    }

    /// Seals under `key` with a fresh nonce from the OS CSPRNG.
    pub fn seal(&self, key: &ManifestKey) -> Result<String, CryptoError> {
        let mut nonce = [0u8; NONCE_LEN];
        getrandom::getrandom(&mut nonce).map_err(|_| CryptoError::Random)?;
        Ok(self.seal_with_nonce(key, &nonce))
    }

    /// Seals with a given nonce (the test vectors; never reuse a nonce).
    pub fn seal_with_nonce(&self, key: &ManifestKey, nonce: &[u8; NONCE_LEN]) -> String {
        let ct = XChaCha20Poly1305::new(key.0[..].into())
            .encrypt(
                XNonce::from_slice(nonce),
                Payload {
                    msg: &self.plaintext(),
                    aad: MANIFEST_AAD,
                },
            )
            .expect("48 bytes always seal");
        let mut blob = Vec::with_capacity(1 + NONCE_LEN + ct.len());
        blob.push(FORMAT_V1);
        blob.extend_from_slice(nonce);
        blob.extend_from_slice(&ct);
        URL_SAFE_NO_PAD.encode(blob)
    }

    /// Opens a sealed manifest; `None` if it is not one sealed under `key`.
    pub fn open(blob: &str, key: &ManifestKey) -> Option<Manifest> {
        let bytes = URL_SAFE_NO_PAD.decode(blob.as_bytes()).ok()?;
        if bytes.len() != 1 + NONCE_LEN + PLAINTEXT_LEN + TAG_LEN || bytes[0] != FORMAT_V1 {
            return None;
        }
        let (nonce, ct) = bytes[1..].split_at(NONCE_LEN);
        let p = XChaCha20Poly1305::new(key.0[..].into())
            .decrypt(
                XNonce::from_slice(nonce),
                Payload {
                    msg: ct,
                    aad: MANIFEST_AAD,
                },
            )
            .ok()?;
        Some(Manifest {
            seq: i64::from_be_bytes(p[..8].try_into().ok()?),
            count: u64::from_be_bytes(p[8..16].try_into().ok()?),
            digest: p[16..].try_into().ok()?,
        })
    }
}

/// Why a vault does not match its manifest. `Display` is one line saying
/// what is wrong and what to do.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mismatch {
    /// Fewer entries than the manifest lists.
    EntryMissing { missing: u64, manifest_seq: i64 },
    /// As many entries, but one or more differ (altered or rolled back).
    EntryChanged { manifest_seq: i64 },
    /// More entries than the manifest lists (one added, or a deleted one back).
    EntryAdded { added: u64, manifest_seq: i64 },
    /// The server's `seq` (or its manifest's) is below one already verified.
    VaultOlder { seen: i64, served: i64 },
    /// The entries match, but `seq` moved on without a new manifest.
    SeqAhead { manifest_seq: i64, seq: i64 },
    /// Entries were written (`seq` above 0) and no manifest is stored.
    ManifestMissing { seq: i64 },
    /// The stored manifest does not open with this vault's key.
    ManifestUnreadable,
}

/// What every "the entries do not match" message ends with.
const BY_SCRIPT: &str = "the server altered the vault, or a client that keeps no manifest \
                         (a script?) wrote to it; if the entries are right, run `vault verify --reseal`";

fn plural(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

impl std::fmt::Display for Mismatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Mismatch::EntryMissing {
                missing,
                manifest_seq,
            } => write!(
                f,
                "{} missing from the vault (against its manifest of seq {manifest_seq}): {BY_SCRIPT}",
                plural(*missing, "entry is", "entries are")
            ),
            Mismatch::EntryChanged { manifest_seq } => write!(
                f,
                "an entry was changed or rolled back (against the manifest of seq {manifest_seq}): {BY_SCRIPT}"
            ),
            Mismatch::EntryAdded {
                added,
                manifest_seq,
            } => write!(
                f,
                "{} in the vault that its manifest of seq {manifest_seq} does not list (added, or deleted and back): {BY_SCRIPT}",
                plural(*added, "entry is", "entries are")
            ),
            Mismatch::VaultOlder { seen, served } => write!(
                f,
                "the vault is older than this device last saw (seq {served}, seen {seen}): the server rolled it back; \
                 if it was restored from a backup on purpose, run `vault verify --reseal`"
            ),
            Mismatch::SeqAhead { manifest_seq, seq } => write!(
                f,
                "the vault is at seq {seq} but its manifest at seq {manifest_seq}: {BY_SCRIPT}"
            ),
            Mismatch::ManifestMissing { seq } => write!(
                f,
                "the vault has no manifest (seq {seq}): it was written only by clients that keep none, \
                 or the server removed it; if the entries are right, run `vault verify --reseal`"
            ),
            Mismatch::ManifestUnreadable => f.write_str(
                "the vault's manifest does not open with this account's key: the server altered or replaced it; \
                 if the entries are right, run `vault verify --reseal`",
            ),
        }
    }
}

impl std::error::Error for Mismatch {}

/// Checks what the server served (`seq`, every entry, its manifest) against
/// the manifest and against `seen`, the highest `seq` this device verified
/// before. `Ok` carries the opened manifest (`None` for a vault never
/// written: `seq` 0, no entries, no manifest).
pub fn check(
    key: &ManifestKey,
    seq: i64,
    entries: &[&WireEntry],
    manifest: Option<&str>,
    seen: i64,
) -> Result<Option<Manifest>, Mismatch> {
    if seq < seen {
        return Err(Mismatch::VaultOlder { seen, served: seq });
    }
    let Some(blob) = manifest else {
        if seq == 0 && entries.is_empty() {
            return Ok(None);
        }
        return Err(Mismatch::ManifestMissing { seq });
    };
    let m = Manifest::open(blob, key).ok_or(Mismatch::ManifestUnreadable)?;
    // The manifest is stored with the write that made its seq: one above
    // the vault's seq means the seq was lowered; one below what this device
    // verified means an older manifest was put back.
    if m.seq > seq {
        return Err(Mismatch::VaultOlder {
            seen: m.seq,
            served: seq,
        });
    }
    if m.seq < seen {
        return Err(Mismatch::VaultOlder {
            seen,
            served: m.seq,
        });
    }
    let now = Manifest::of(seq, entries.iter().copied());
    let manifest_seq = m.seq;
    if now.count < m.count {
        return Err(Mismatch::EntryMissing {
            missing: m.count - now.count,
            manifest_seq,
        });
    }
    if now.count > m.count {
        return Err(Mismatch::EntryAdded {
            added: now.count - m.count,
            manifest_seq,
        });
    }
    if now.digest != m.digest {
        return Err(Mismatch::EntryChanged { manifest_seq });
    }
    if m.seq != seq {
        return Err(Mismatch::SeqAhead { manifest_seq, seq });
    }
    Ok(Some(m))
}

#[cfg(test)]
#[path = "manifest_tests.rs"]
mod tests;
