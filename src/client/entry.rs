//! Entry format 2 (docs/CRYPTO.md "Entry format v2"): what an entry holds
//! and how its two wire fields are sealed and opened. Format 1 entries
//! (vault 0.1) are read into the same shape.
//!
//! ```text
//! username (wire) = b64url(0x02 ‖ nonce ‖ XChaCha20-Poly1305(vault key, document JSON,
//!                     aad = "vault field v2" ‖ 0x00 ‖ site hash ‖ 0x00 ‖ "username"))
//! password (wire) = the same of {"password": …} with field name "password"
//! ```

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use zeroize::{Zeroize, Zeroizing};

use super::crypto::{
    self, CryptoError, FIELD_AAD_PREFIX, FIELD_AAD_PREFIX_V2, FORMAT_V1, FORMAT_V2, Field,
    NONCE_LEN, SITE_HASH_LEN, VaultKey,
};

/// The document's `v`.
pub const DOC_VERSION: u64 = 2;
/// Largest document plaintext: its blob is then exactly the API's 32 768
/// characters of `username` (base64url of 41 + 24 535 bytes).
pub const MAX_DOC_PLAINTEXT: usize = 24_535;
/// Largest `{"password": …}` plaintext (as format 1: 8 055 characters).
pub const MAX_SECRET_PLAINTEXT: usize = crypto::MAX_FIELD_PLAINTEXT;
/// Largest name and folder, in bytes.
pub const MAX_NAME: usize = 512;
/// Passwords kept in `history`.
pub const MAX_HISTORY: usize = 10;
/// The entry types; a reader keeps an unknown one and shows it like a note.
pub const TYPES: [&str; 4] = ["login", "note", "card", "identity"];

/// A custom field.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustomField {
    pub name: String,
    pub value: String,
    #[serde(default)]
    pub hidden: bool,
}

/// A password the entry had, and when it was replaced.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OldPassword {
    pub password: String,
    pub replaced_at: String,
}

/// A payment card.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Card {
    pub cardholder: Option<String>,
    pub brand: Option<String>,
    pub number: Option<String>,
    /// `MM/YYYY` as typed; not checked.
    pub expiry: Option<String>,
    pub code: Option<String>,
}

/// An identity.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Identity {
    pub title: Option<String>,
    pub first_name: Option<String>,
    pub middle_name: Option<String>,
    pub last_name: Option<String>,
    pub company: Option<String>,
    pub email: Option<String>,
    pub phone: Option<String>,
    pub address1: Option<String>,
    pub address2: Option<String>,
    pub address3: Option<String>,
    pub city: Option<String>,
    pub state: Option<String>,
    pub postal_code: Option<String>,
    pub country: Option<String>,
    pub ssn: Option<String>,
    pub passport_number: Option<String>,
    pub license_number: Option<String>,
}

/// The plaintext of the `username` wire field: everything but the current
/// password. Members in this order when written; any order when read;
/// members this client does not know are kept in `extra` and written back.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Doc {
    pub v: u64,
    #[serde(rename = "type")]
    pub kind: String,
    pub name: String,
    #[serde(default)]
    pub username: Option<String>,
    #[serde(default)]
    pub urls: Vec<String>,
    #[serde(default)]
    pub notes: Option<String>,
    #[serde(default)]
    pub totp: Option<String>,
    #[serde(default)]
    pub fields: Vec<CustomField>,
    #[serde(default)]
    pub folder: Option<String>,
    #[serde(default)]
    pub favourite: bool,
    #[serde(default)]
    pub created: String,
    #[serde(default)]
    pub updated: String,
    #[serde(default)]
    pub history: Vec<OldPassword>,
    #[serde(default)]
    pub trashed_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub card: Option<Card>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity: Option<Identity>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
    /// Unknown members of the `{"password": …}` plaintext, written back
    /// there (not part of the document's JSON).
    #[serde(skip)]
    pub secret_extra: Map<String, Value>,
}

impl Drop for Doc {
    /// The secrets a document holds are wiped with it.
    fn drop(&mut self) {
        self.notes.zeroize();
        self.totp.zeroize();
        for f in &mut self.fields {
            f.value.zeroize();
        }
        for h in &mut self.history {
            h.password.zeroize();
        }
        if let Some(c) = &mut self.card {
            c.number.zeroize();
            c.code.zeroize();
        }
    }
}

/// The plaintext of the `password` wire field.
#[derive(Serialize, Deserialize)]
struct Secret {
    password: String,
    #[serde(flatten)]
    extra: Map<String, Value>,
}

/// The current time as the format writes it: RFC 3339 UTC, seconds.
pub fn now() -> String {
    humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string()
}

impl Doc {
    /// A new entry of `kind` named `name`, created now (a card or an
    /// identity with its member object, every field null).
    pub fn new(kind: &str, name: &str) -> Doc {
        let t = now();
        let mut d = Doc::default();
        d.v = DOC_VERSION;
        d.set_kind(kind);
        d.name = name.trim().to_owned();
        d.created = t.clone();
        d.updated = t;
        d
    }

    /// Sets the type; a card or an identity gets its member object.
    pub fn set_kind(&mut self, kind: &str) {
        self.kind = kind.to_owned();
        if kind == "card" && self.card.is_none() {
            self.card = Some(Card::default());
        }
        if kind == "identity" && self.identity.is_none() {
            self.identity = Some(Identity::default());
        }
    }

    /// A format 1 entry in format 2's shape: a login, no other member.
    pub fn from_v1(site: String, username: Option<String>, updated_at: &str) -> Doc {
        let mut d = Doc::default();
        d.v = DOC_VERSION;
        d.kind = "login".into();
        d.name = site;
        d.username = username;
        d.created = updated_at.to_owned();
        d.updated = updated_at.to_owned();
        d
    }

    /// Records that the password `old` was replaced now (newest first, at
    /// most [`MAX_HISTORY`]). An empty old password is not history.
    pub fn push_history(&mut self, old: &str) {
        if old.is_empty() {
            return;
        }
        self.history.insert(
            0,
            OldPassword {
                password: old.to_owned(),
                replaced_at: now(),
            },
        );
        self.history.truncate(MAX_HISTORY);
    }

    /// The rules a writer checks: a name, no control characters in name or
    /// folder, a known-length of each.
    pub fn check(&self) -> Result<(), EntryError> {
        let name = self.name.trim();
        if name.is_empty() {
            return Err(EntryError::Crypto(CryptoError::EmptySite));
        }
        for (what, v) in [("name", Some(name)), ("folder", self.folder.as_deref())] {
            let Some(v) = v else { continue };
            if v.len() > MAX_NAME {
                return Err(EntryError::TooLarge {
                    what,
                    size: v.len(),
                    max: MAX_NAME,
                });
            }
            if v.chars().any(char::is_control) {
                return Err(EntryError::ControlCharacters(what));
            }
        }
        Ok(())
    }
}

/// Why an entry cannot be written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EntryError {
    /// A part is over its limit (sizes in bytes).
    TooLarge {
        what: &'static str,
        size: usize,
        max: usize,
    },
    /// Name or folder with line breaks, tabs…
    ControlCharacters(&'static str),
    Crypto(CryptoError),
}

impl std::fmt::Display for EntryError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            EntryError::TooLarge { what, size, max } => write!(
                f,
                "the entry's {what} is too large: {size} bytes, at most {max}"
            ),
            EntryError::ControlCharacters(what) => write!(
                f,
                "the entry's {what} must not hold control characters such as line breaks"
            ),
            EntryError::Crypto(e) => write!(f, "{e}"),
        }
    }
}

impl From<CryptoError> for EntryError {
    fn from(e: CryptoError) -> Self {
        EntryError::Crypto(e)
    }
}

/// An entry opened: its document, current password, and format.
pub struct Opened {
    pub doc: Doc,
    pub password: Zeroizing<String>,
    /// 1 or 2: the format it is stored in.
    pub format: u8,
}

/// The two sealed wire fields of an entry.
pub struct Sealed {
    pub site: String,
    pub username: String,
    pub password: String,
}

fn random_nonce() -> Result<[u8; NONCE_LEN], CryptoError> {
    let mut n = [0u8; NONCE_LEN];
    getrandom::getrandom(&mut n).map_err(|_| CryptoError::Random)?;
    Ok(n)
}

/// Seals `doc` and `password` in format 2 under the site hash of
/// `doc.name`. When the document is too large, the oldest history goes
/// first; then it is an error.
pub fn seal(key: &VaultKey, doc: &mut Doc, password: &str) -> Result<Sealed, EntryError> {
    seal_with_nonces(key, doc, password, random_nonce()?, random_nonce()?)
}

pub(crate) fn seal_with_nonces(
    key: &VaultKey,
    doc: &mut Doc,
    password: &str,
    doc_nonce: [u8; NONCE_LEN],
    secret_nonce: [u8; NONCE_LEN],
) -> Result<Sealed, EntryError> {
    doc.check()?;
    doc.v = DOC_VERSION;
    doc.name = doc.name.trim().to_owned();
    let hash = key.site_hash(&doc.name)?;
    let plain = loop {
        let plain = Zeroizing::new(serde_json::to_vec(&*doc).expect("a document serialises"));
        if plain.len() <= MAX_DOC_PLAINTEXT {
            break plain;
        }
        if doc.history.pop().is_none() {
            return Err(EntryError::TooLarge {
                what: "text (name, notes, fields, URLs…)",
                size: plain.len(),
                max: MAX_DOC_PLAINTEXT,
            });
        }
    };
    let secret = Zeroizing::new(
        serde_json::to_vec(&Secret {
            password: password.to_owned(),
            extra: doc.secret_extra.clone(),
        })
        .expect("a string serialises"),
    );
    if secret.len() > MAX_SECRET_PLAINTEXT {
        return Err(EntryError::TooLarge {
            what: "password",
            size: secret.len(),
            max: MAX_SECRET_PLAINTEXT,
        });
    }
    let seal = |nonce: &[u8; NONCE_LEN], pt: &[u8], field| {
        crypto::seal_versioned(
            FORMAT_V2,
            key.raw(),
            nonce,
            pt,
            &crypto::field_aad_with(FIELD_AAD_PREFIX_V2, &hash, field),
        )
    };
    Ok(Sealed {
        site: URL_SAFE_NO_PAD.encode(hash),
        username: seal(&doc_nonce, &plain, Field::Username)?,
        password: seal(&secret_nonce, &secret, Field::Password)?,
    })
}

/// The AAD of a field for a blob of `version`.
fn aad_for(hash: &[u8; SITE_HASH_LEN], field: Field, version: u8) -> Option<Vec<u8>> {
    match version {
        FORMAT_V1 => Some(crypto::field_aad_with(FIELD_AAD_PREFIX, hash, field)),
        FORMAT_V2 => Some(crypto::field_aad_with(FIELD_AAD_PREFIX_V2, hash, field)),
        _ => None,
    }
}

/// Opens an entry of format 1 or 2. Both fields must be of one format;
/// the name inside must hash (under that format's rule) to `wire_site`.
pub fn open(
    key: &VaultKey,
    wire_site: &str,
    username: Option<&str>,
    password: &str,
    updated_at: &str,
) -> Result<Opened, CryptoError> {
    let doc_blob = username.ok_or(CryptoError::Malformed)?;
    let doc = open_doc(key, wire_site, doc_blob, updated_at)?;
    let format = crypto::blob_version(doc_blob)?;
    let hash = crypto::decode_site(wire_site)?;
    let (v, plain) = crypto::open_versioned(key.raw(), password, |v| {
        (v == format).then(|| aad_for(&hash, Field::Password, v))?
    })?;
    let mut doc = doc;
    let password = if v == FORMAT_V1 {
        std::str::from_utf8(&plain)
            .map_err(|_| CryptoError::BadPlaintext)?
            .to_owned()
    } else {
        let s: Secret = serde_json::from_slice(&plain).map_err(|_| CryptoError::BadPlaintext)?;
        doc.secret_extra = s.extra;
        s.password
    };
    Ok(Opened {
        doc,
        password: Zeroizing::new(password),
        format,
    })
}

/// Opens only the document (what listings need); format 1 is converted.
pub fn open_doc(
    key: &VaultKey,
    wire_site: &str,
    blob: &str,
    updated_at: &str,
) -> Result<Doc, CryptoError> {
    if crypto::blob_version(blob)? == FORMAT_V1 {
        let (site, username) = key.open_username(wire_site, blob)?;
        return Ok(Doc::from_v1(site, username, updated_at));
    }
    let hash = crypto::decode_site(wire_site)?;
    let (_, plain) = crypto::open_versioned(key.raw(), blob, |v| {
        (v == FORMAT_V2).then(|| aad_for(&hash, Field::Username, v))?
    })?;
    let doc: Doc = serde_json::from_slice(&plain).map_err(|_| CryptoError::BadPlaintext)?;
    if doc.v != DOC_VERSION {
        return Err(CryptoError::BadPlaintext);
    }
    if key.site_hash(&doc.name)? != hash {
        return Err(CryptoError::SiteMismatch);
    }
    Ok(doc)
}

#[cfg(test)]
#[path = "entry_tests.rs"]
mod tests;
