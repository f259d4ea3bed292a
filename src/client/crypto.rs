//! The vault's key hierarchy and wire formats (see `docs/CRYPTO.md`).
//!
//! ```text
//! password ──OPAQUE──▶ export_key (64 B)
//!   KEK       = HKDF-SHA256(ikm = export_key, salt = none, info = "vault kek v1")        32 B
//!   vault key = 32 random bytes, made once at registration
//!   vault_key = b64url( 0x01 ‖ nonce(24) ‖ XChaCha20-Poly1305(KEK, vault key, aad = "vault key v1") )
//!   site key  = HKDF-SHA256(ikm = vault key, salt = none, info = "site index v1")        32 B
//!   site      = b64url( HMAC-SHA256(site key, normalise(site name)) )
//!   field     = b64url( 0x01 ‖ nonce(24) ‖ XChaCha20-Poly1305(vault key, plaintext,
//!                 aad = "vault field v1" ‖ 0x00 ‖ site hash(32) ‖ 0x00 ‖ field name) )
//! ```
//!
//! base64url is RFC 4648 §5 without padding. Every key is held in
//! [`Zeroizing`] memory and wiped on drop.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use hkdf::Hkdf;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use zeroize::Zeroizing;

/// Format version 1, the first byte of a sealed blob (the vault key, and
/// entries written by vault 0.1).
pub const FORMAT_V1: u8 = 0x01;
/// Format version 2 of entry fields (docs/CRYPTO.md "Entry format v2").
pub const FORMAT_V2: u8 = 0x02;
/// Symmetric key length (KEK, vault key, site key).
pub const KEY_LEN: usize = 32;
/// XChaCha20-Poly1305 nonce length.
pub const NONCE_LEN: usize = 24;
/// Poly1305 tag length.
pub const TAG_LEN: usize = 16;
/// Length of a site hash (HMAC-SHA256 output).
pub const SITE_HASH_LEN: usize = 32;

/// HKDF info for the key-encryption key.
pub const KEK_INFO: &[u8] = b"vault kek v1";
/// Associated data of the wrapped vault key.
pub const VAULT_KEY_AAD: &[u8] = b"vault key v1";
/// HKDF info for the site-index key.
pub const SITE_INDEX_INFO: &[u8] = b"site index v1";
/// Prefix of a field's associated data (followed by 0x00, site hash, 0x00, field name).
pub const FIELD_AAD_PREFIX: &[u8] = b"vault field v1";
/// The same for entry fields of format 2.
pub const FIELD_AAD_PREFIX_V2: &[u8] = b"vault field v2";

/// Largest plaintext of one field: keeps the wire string within the API's
/// 8192-byte limit (base64url of 41 + 6000 bytes is 8055 characters).
pub const MAX_FIELD_PLAINTEXT: usize = 6000;

/// Errors of the vault cryptography. None carries secret material.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CryptoError {
    /// Not base64url, or too short to be a sealed blob of its kind.
    Malformed,
    /// A version byte this client does not know.
    UnsupportedVersion(u8),
    /// Authentication failed: wrong key, tampered, or moved to another
    /// site/field.
    Decrypt,
    /// Decrypted, but the plaintext is not what this client writes.
    BadPlaintext,
    /// The decrypted site name does not hash to the entry's `site`.
    SiteMismatch,
    /// The site name is empty after normalisation.
    EmptySite,
    /// A field is longer than [`MAX_FIELD_PLAINTEXT`].
    TooLong,
    /// The operating system's random number generator failed.
    Random,
}

impl std::fmt::Display for CryptoError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let s = match self {
            CryptoError::Malformed => "malformed ciphertext",
            CryptoError::UnsupportedVersion(_) => "ciphertext of an unknown format version",
            CryptoError::Decrypt => {
                "ciphertext does not authenticate (tampered, swapped or wrong key)"
            }
            CryptoError::BadPlaintext => "decrypted data is not in the expected format",
            CryptoError::SiteMismatch => "decrypted site name does not match the entry",
            CryptoError::EmptySite => "the site name is empty",
            CryptoError::TooLong => "value too long",
            CryptoError::Random => "the system random number generator failed",
        };
        f.write_str(s)
    }
}

impl std::error::Error for CryptoError {}

/// Which of an entry's sealed fields; its name is bound into the AAD.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    /// The `username` field: JSON `{"site": …, "username": …}`.
    Username,
    /// The `password` field: the password's UTF-8 bytes.
    Password,
}

impl Field {
    /// The field name as bound into the associated data.
    pub fn name(self) -> &'static str {
        match self {
            Field::Username => "username",
            Field::Password => "password",
        }
    }
}

fn random_bytes<const N: usize>() -> Result<Zeroizing<[u8; N]>, CryptoError> {
    let mut b = Zeroizing::new([0u8; N]);
    getrandom::getrandom(&mut b[..]).map_err(|_| CryptoError::Random)?;
    Ok(b)
}

fn hkdf_sha256(ikm: &[u8], info: &[u8]) -> Zeroizing<[u8; KEY_LEN]> {
    let mut okm = Zeroizing::new([0u8; KEY_LEN]);
    Hkdf::<Sha256>::new(None, ikm)
        .expand(info, &mut okm[..])
        .expect("32 bytes is a valid HKDF-SHA256 output length");
    okm
}

/// Seal: `version ‖ nonce ‖ ciphertext‖tag`, base64url without padding.
fn seal(key: &[u8; KEY_LEN], plaintext: &[u8], aad: &[u8]) -> Result<String, CryptoError> {
    let nonce = random_bytes::<NONCE_LEN>()?;
    seal_with_nonce(key, &nonce, plaintext, aad)
}

fn seal_with_nonce(
    key: &[u8; KEY_LEN],
    nonce: &[u8; NONCE_LEN],
    plaintext: &[u8],
    aad: &[u8],
) -> Result<String, CryptoError> {
    seal_versioned(FORMAT_V1, key, nonce, plaintext, aad)
}

/// `version ‖ nonce ‖ XChaCha20-Poly1305(key, plaintext, aad)`, base64url.
pub(crate) fn seal_versioned(
    version: u8,
    key: &[u8; KEY_LEN],
    nonce: &[u8; NONCE_LEN],
    plaintext: &[u8],
    aad: &[u8],
) -> Result<String, CryptoError> {
    let cipher = XChaCha20Poly1305::new(key.into());
    let ct = cipher
        .encrypt(
            XNonce::from_slice(&nonce[..]),
            Payload {
                msg: plaintext,
                aad,
            },
        )
        .map_err(|_| CryptoError::TooLong)?;
    let mut blob = Vec::with_capacity(1 + NONCE_LEN + ct.len());
    blob.push(version);
    blob.extend_from_slice(&nonce[..]);
    blob.extend_from_slice(&ct);
    Ok(URL_SAFE_NO_PAD.encode(blob))
}

/// Open what [`seal`] made.
fn open(key: &[u8; KEY_LEN], blob: &str, aad: &[u8]) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
    open_versioned(key, blob, |v| (v == FORMAT_V1).then(|| aad.to_vec())).map(|(_, p)| p)
}

/// The version byte of a blob, without opening it.
pub fn blob_version(blob: &str) -> Result<u8, CryptoError> {
    let head = blob.get(..4).ok_or(CryptoError::Malformed)?;
    let bytes = URL_SAFE_NO_PAD
        .decode(head.as_bytes())
        .map_err(|_| CryptoError::Malformed)?;
    bytes.first().copied().ok_or(CryptoError::Malformed)
}

/// Opens a blob whose AAD depends on its version byte: `aad_for(version)`
/// is `None` for a version the caller does not accept.
pub(crate) fn open_versioned(
    key: &[u8; KEY_LEN],
    blob: &str,
    aad_for: impl Fn(u8) -> Option<Vec<u8>>,
) -> Result<(u8, Zeroizing<Vec<u8>>), CryptoError> {
    let bytes = URL_SAFE_NO_PAD
        .decode(blob.as_bytes())
        .map_err(|_| CryptoError::Malformed)?;
    let version = *bytes.first().ok_or(CryptoError::Malformed)?;
    let aad = aad_for(version).ok_or(CryptoError::UnsupportedVersion(version))?;
    if bytes.len() < 1 + NONCE_LEN + TAG_LEN {
        return Err(CryptoError::Malformed);
    }
    let (nonce, ct) = bytes[1..].split_at(NONCE_LEN);
    let cipher = XChaCha20Poly1305::new(key.into());
    cipher
        .decrypt(XNonce::from_slice(nonce), Payload { msg: ct, aad: &aad })
        .map(|p| (version, Zeroizing::new(p)))
        .map_err(|_| CryptoError::Decrypt)
}

/// The key-encryption key, derived from the OPAQUE export key.
pub struct Kek(Zeroizing<[u8; KEY_LEN]>);

impl Kek {
    /// `HKDF-SHA256(ikm = export_key, salt = none, info = "vault kek v1")`.
    pub fn from_export_key(export_key: &[u8]) -> Kek {
        Kek(hkdf_sha256(export_key, KEK_INFO))
    }
}

/// The vault key and the keys derived from it.
pub struct VaultKey {
    key: Zeroizing<[u8; KEY_LEN]>,
    site_key: Zeroizing<[u8; KEY_LEN]>,
}

impl VaultKey {
    fn from_key(key: Zeroizing<[u8; KEY_LEN]>) -> VaultKey {
        let site_key = hkdf_sha256(&key[..], SITE_INDEX_INFO);
        VaultKey { key, site_key }
    }

    /// A fresh vault key from the operating system's CSPRNG.
    pub fn generate() -> Result<VaultKey, CryptoError> {
        Ok(VaultKey::from_key(random_bytes::<KEY_LEN>()?))
    }

    /// A vault key from its 32 raw bytes (for tests and tooling).
    pub fn from_bytes(bytes: &[u8; KEY_LEN]) -> VaultKey {
        VaultKey::from_key(Zeroizing::new(*bytes))
    }

    /// The 32 raw bytes: only for an agent handing the key to a command of
    /// its own user (`client::agent`), over its checked socket.
    pub fn raw_bytes(&self) -> &[u8; KEY_LEN] {
        &self.key
    }

    /// A key of its own for another use, `HKDF-SHA256(ikm = vault key, salt =
    /// none, info)`: the manifest's (docs/CRYPTO.md, "Manifest").
    pub(crate) fn derive(&self, info: &[u8]) -> Zeroizing<[u8; KEY_LEN]> {
        hkdf_sha256(&self.key[..], info)
    }

    /// The wire form `vault_key`: `b64url(0x01 ‖ nonce ‖ XChaCha20-Poly1305(KEK,
    /// vault key, aad "vault key v1"))`, 98 characters.
    pub fn wrap(&self, kek: &Kek) -> Result<String, CryptoError> {
        seal(&kek.0, &self.key[..], VAULT_KEY_AAD)
    }

    /// Opens a `vault_key` blob with the KEK.
    pub fn unwrap(blob: &str, kek: &Kek) -> Result<VaultKey, CryptoError> {
        let plain = open(&kek.0, blob, VAULT_KEY_AAD)?;
        let bytes: [u8; KEY_LEN] = plain[..]
            .try_into()
            .map_err(|_| CryptoError::BadPlaintext)?;
        let key = Zeroizing::new(bytes);
        Ok(VaultKey::from_key(key))
    }

    /// The raw site hash: `HMAC-SHA256(site key, normalise(site))`, with
    /// the NFC rule of format 2.
    pub fn site_hash(&self, site: &str) -> Result<[u8; SITE_HASH_LEN], CryptoError> {
        self.hash_normalised(&normalise_site(site))
    }

    /// The site hash under format 1's rule (no NFC): where vault 0.1 put
    /// an entry.
    pub fn site_hash_v1(&self, site: &str) -> Result<[u8; SITE_HASH_LEN], CryptoError> {
        self.hash_normalised(&normalise_site_v1(site))
    }

    fn hash_normalised(&self, norm: &str) -> Result<[u8; SITE_HASH_LEN], CryptoError> {
        if norm.is_empty() {
            return Err(CryptoError::EmptySite);
        }
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.site_key[..])
            .expect("HMAC takes any key length");
        mac.update(norm.as_bytes());
        Ok(mac.finalize().into_bytes().into())
    }

    /// The wire `site`: base64url of [`site_hash`](Self::site_hash), 43 characters.
    pub fn site_id(&self, site: &str) -> Result<String, CryptoError> {
        Ok(URL_SAFE_NO_PAD.encode(self.site_hash(site)?))
    }

    /// The vault key's raw bytes, for the entry format of `entry.rs`.
    pub(crate) fn raw(&self) -> &[u8; KEY_LEN] {
        &self.key
    }

    /// Seals one field of the entry whose site hash is `site_hash`.
    pub fn seal_field(
        &self,
        site_hash: &[u8; SITE_HASH_LEN],
        field: Field,
        plaintext: &[u8],
    ) -> Result<String, CryptoError> {
        if plaintext.len() > MAX_FIELD_PLAINTEXT {
            return Err(CryptoError::TooLong);
        }
        seal(&self.key, plaintext, &field_aad(site_hash, field))
    }

    /// Opens one field of the entry whose site hash is `site_hash`.
    pub fn open_field(
        &self,
        site_hash: &[u8; SITE_HASH_LEN],
        field: Field,
        blob: &str,
    ) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
        open(&self.key, blob, &field_aad(site_hash, field))
    }

    /// Seals a whole entry: the wire `site`, `username` and `password`.
    pub fn seal_entry(
        &self,
        site: &str,
        username: Option<&str>,
        password: &str,
    ) -> Result<SealedEntry, CryptoError> {
        let hash = self.site_hash(site)?;
        Ok(SealedEntry {
            site: URL_SAFE_NO_PAD.encode(hash),
            username: self.seal_username(&hash, site, username)?,
            password: self.seal_field(&hash, Field::Password, password.as_bytes())?,
        })
    }

    /// Seals the `username` field: the readable site name (trimmed) and the
    /// entry's username.
    pub fn seal_username(
        &self,
        site_hash: &[u8; SITE_HASH_LEN],
        site: &str,
        username: Option<&str>,
    ) -> Result<String, CryptoError> {
        let plain = Zeroizing::new(
            serde_json::to_vec(&UsernamePlaintext {
                site: site.trim().to_owned(),
                username: username.map(str::to_owned),
            })
            .expect("serialising two strings cannot fail"),
        );
        self.seal_field(site_hash, Field::Username, &plain)
    }

    /// Opens an entry's `username` field; checks that the site name inside
    /// hashes to `wire_site`. Returns (readable site name, entry username).
    pub fn open_username(
        &self,
        wire_site: &str,
        blob: &str,
    ) -> Result<(String, Option<String>), CryptoError> {
        let hash = decode_site(wire_site)?;
        let plain = self.open_field(&hash, Field::Username, blob)?;
        let p: UsernamePlaintext =
            serde_json::from_slice(&plain).map_err(|_| CryptoError::BadPlaintext)?;
        // Format 1 entries were hashed without NFC.
        if self.site_hash_v1(&p.site)? != hash {
            return Err(CryptoError::SiteMismatch);
        }
        Ok((p.site, p.username))
    }

    /// Opens an entry's `password` field.
    pub fn open_password(
        &self,
        wire_site: &str,
        blob: &str,
    ) -> Result<Zeroizing<String>, CryptoError> {
        let hash = decode_site(wire_site)?;
        let plain = self.open_field(&hash, Field::Password, blob)?;
        let s = std::str::from_utf8(&plain).map_err(|_| CryptoError::BadPlaintext)?;
        Ok(Zeroizing::new(s.to_owned()))
    }
}

/// The plaintext of the `username` field.
#[derive(Serialize, Deserialize)]
struct UsernamePlaintext {
    site: String,
    #[serde(default)]
    username: Option<String>,
}

/// An entry as it goes to the server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SealedEntry {
    /// base64url site hash.
    pub site: String,
    /// Sealed `username` field.
    pub username: String,
    /// Sealed `password` field.
    pub password: String,
}

/// `"vault field v1" ‖ 0x00 ‖ site hash (32 raw bytes) ‖ 0x00 ‖ field name`.
fn field_aad(site_hash: &[u8; SITE_HASH_LEN], field: Field) -> Vec<u8> {
    field_aad_with(FIELD_AAD_PREFIX, site_hash, field)
}

/// `prefix ‖ 0x00 ‖ site hash (32 raw bytes) ‖ 0x00 ‖ field name`.
pub(crate) fn field_aad_with(
    prefix: &[u8],
    site_hash: &[u8; SITE_HASH_LEN],
    field: Field,
) -> Vec<u8> {
    let mut aad = Vec::with_capacity(prefix.len() + 2 + SITE_HASH_LEN + 8);
    aad.extend_from_slice(prefix);
    aad.push(0);
    aad.extend_from_slice(site_hash);
    aad.push(0);
    aad.extend_from_slice(field.name().as_bytes());
    aad
}

/// The wire `site` back to its 32 raw bytes.
pub fn decode_site(wire_site: &str) -> Result<[u8; SITE_HASH_LEN], CryptoError> {
    let bytes = URL_SAFE_NO_PAD
        .decode(wire_site.as_bytes())
        .map_err(|_| CryptoError::Malformed)?;
    bytes.try_into().map_err(|_| CryptoError::Malformed)
}

/// Site-name normalisation (format 2): trim Unicode white space
/// (`str::trim`), Unicode lowercase (`str::to_lowercase`), then Unicode
/// NFC, so that precomposed and decomposed accents are one site.
pub fn normalise_site(site: &str) -> String {
    use unicode_normalization::UnicodeNormalization as _;
    site.trim().to_lowercase().nfc().collect()
}

/// Format 1's rule, without NFC: only to find entries vault 0.1 wrote.
pub fn normalise_site_v1(site: &str) -> String {
    site.trim().to_lowercase()
}

#[cfg(test)]
#[path = "crypto_tests.rs"]
mod tests;
