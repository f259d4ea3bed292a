//! Reading other password managers' exports (and vault's own) into entry
//! format 2 documents (docs/CRYPTO.md), without losing anything silently:
//! every field of every item lands in the entry (its own
//! member, a custom field, or the notes), or the item says which field it
//! did not keep and why ([`Lost`]); an item not imported at all is a
//! [`Skipped`] naming its place and name.
//!
//! One file per format; [`detect`] picks the format when `--format` is not
//! given. [`plan`] resolves duplicate names, [`write`] writes the plan.

mod bitwarden_csv;
mod bitwarden_json;
mod chrome_csv;
mod common;
mod firefox_csv;
mod keepass;
mod keepassxc_csv;
mod lastpass_csv;
mod onepassword_1pux;
pub mod vault;
pub mod write;

use zeroize::Zeroizing;

use super::entry::Doc;

pub use vault::{EXPORT_FORMAT, ExportEntry, ExportFile};
pub use write::{Duplicate, Outcome, Plan, plan, write};

/// The formats `vault import` reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `vault export` (plain JSON, format 1 or 2).
    Vault,
    /// `vault export --encrypted`.
    VaultEncrypted,
    /// Bitwarden JSON, unencrypted or password-protected.
    BitwardenJson,
    BitwardenCsv,
    /// KeePass / KeePassXC databases, KDBX 3.1 and 4.
    Kdbx,
    KeepassxcCsv,
    /// 1Password's 1PUX archive.
    OnePassword1pux,
    LastpassCsv,
    /// Chrome and Edge "Export passwords".
    ChromeCsv,
    FirefoxCsv,
}

/// Every format, with its `--format` name.
pub const FORMATS: [(Format, &str); 10] = [
    (Format::Vault, "vault"),
    (Format::VaultEncrypted, "vault-encrypted"),
    (Format::BitwardenJson, "bitwarden-json"),
    (Format::BitwardenCsv, "bitwarden-csv"),
    (Format::Kdbx, "keepass"),
    (Format::KeepassxcCsv, "keepassxc-csv"),
    (Format::OnePassword1pux, "1password-1pux"),
    (Format::LastpassCsv, "lastpass-csv"),
    (Format::ChromeCsv, "chrome-csv"),
    (Format::FirefoxCsv, "firefox-csv"),
];

impl Format {
    /// The `--format` name, used in every message.
    pub fn name(self) -> &'static str {
        FORMATS
            .iter()
            .find(|(f, _)| *f == self)
            .map_or("?", |f| f.1)
    }
}

impl std::fmt::Display for Format {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Format {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        // The names vault 0.1 took stay valid.
        let s = match s {
            "json" => "vault",
            "kdbx" | "keepassxc" => "keepass",
            "edge-csv" => "chrome-csv",
            "1pux" => "1password-1pux",
            s => s,
        };
        FORMATS
            .iter()
            .find(|(_, n)| *n == s)
            .map(|(f, _)| *f)
            .ok_or_else(|| {
                let names: Vec<_> = FORMATS.iter().map(|f| f.1).collect();
                format!("unknown format `{s}`: expected one of {}", names.join(", "))
            })
    }
}

/// What a format needs besides the file: a password (encrypted exports,
/// KeePass), a key file (KeePass). Asked only when the file needs it.
pub trait Secrets {
    /// The password protecting the file; `what` names the file's format.
    fn password(&mut self, what: &str) -> Result<Zeroizing<String>, String>;
    /// The KeePass key file's bytes, if one was given.
    fn key_file(&mut self) -> Result<Option<Zeroizing<Vec<u8>>>, String>;
}

/// A field an imported item did not keep, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lost {
    pub field: String,
    pub why: String,
}

/// One item of the file, mapped to an entry.
pub struct Item {
    /// "line 7", "item 3", "entry 3".
    pub place: String,
    /// What the other manager called it: "login", "secure note", "card"…
    pub source_kind: String,
    pub doc: Doc,
    pub password: Zeroizing<String>,
    pub lost: Vec<Lost>,
}

/// An item of the file that is not imported at all, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Skipped {
    pub place: String,
    /// Its name, or "" when it has none.
    pub name: String,
    pub source_kind: String,
    pub why: String,
}

/// A file read.
pub struct Parsed {
    pub format: Format,
    pub items: Vec<Item>,
    pub skipped: Vec<Skipped>,
}

/// The format of `bytes`, from its content (and `file_name`'s extension
/// where the content is a zip): `None` when nothing matches.
pub fn detect(bytes: &[u8], file_name: &str) -> Option<Format> {
    if keepass::is_kdbx(bytes) {
        return Some(Format::Kdbx);
    }
    if bytes.starts_with(b"PK\x03\x04") {
        return onepassword_1pux::is_1pux(bytes).then_some(Format::OnePassword1pux);
    }
    let text = std::str::from_utf8(bytes).ok()?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text).trim_start();
    if text.starts_with('{') || text.starts_with('[') {
        let v: serde_json::Value = serde_json::from_str(text).ok()?;
        return vault::detect(&v).or_else(|| bitwarden_json::detect(&v));
    }
    let header = common::csv_header(text)?;
    let has = |cols: &[&str]| cols.iter().all(|c| header.iter().any(|h| h == c));
    let _ = file_name;
    if has(&["login_uri", "login_username", "login_password"]) {
        Some(Format::BitwardenCsv)
    } else if has(&["Group", "Title", "Username", "Password", "URL"]) {
        Some(Format::KeepassxcCsv)
    } else if has(&["url", "username", "password", "extra", "grouping"]) {
        Some(Format::LastpassCsv)
    } else if has(&[
        "url",
        "username",
        "password",
        "httpRealm",
        "formActionOrigin",
    ]) {
        Some(Format::FirefoxCsv)
    } else if has(&["name", "url", "username", "password"]) {
        Some(Format::ChromeCsv)
    } else {
        None
    }
}

/// Reads `bytes` in `format`. A file that cannot be read at all (not the
/// format, wrong password) is an `Err` naming the format; items that
/// cannot be mapped are [`Skipped`].
pub fn parse(format: Format, bytes: &[u8], secrets: &mut dyn Secrets) -> Result<Parsed, String> {
    let text = || -> Result<&str, String> {
        let t = std::str::from_utf8(bytes).map_err(|e| format!("not UTF-8 text ({e})"))?;
        Ok(t.strip_prefix('\u{feff}').unwrap_or(t))
    };
    let (items, skipped) = match format {
        Format::Vault => vault::parse(text()?)?,
        Format::VaultEncrypted => vault::parse_encrypted(text()?, secrets)?,
        Format::BitwardenJson => bitwarden_json::parse(text()?, secrets)?,
        Format::BitwardenCsv => bitwarden_csv::parse(text()?)?,
        Format::Kdbx => keepass::parse(bytes, secrets)?,
        Format::KeepassxcCsv => keepassxc_csv::parse(text()?)?,
        Format::OnePassword1pux => onepassword_1pux::parse(bytes)?,
        Format::LastpassCsv => lastpass_csv::parse(text()?)?,
        Format::ChromeCsv => chrome_csv::parse(text()?)?,
        Format::FirefoxCsv => firefox_csv::parse(text()?)?,
    };
    Ok(Parsed {
        format,
        items,
        skipped,
    })
}

/// What every parser returns.
pub(crate) type Items = (Vec<Item>, Vec<Skipped>);

#[cfg(test)]
#[path = "tests.rs"]
mod tests;
