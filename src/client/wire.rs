//! The values that cross the wire, as the API client hands them over: the
//! session token, the login reply, stored entries and the write and sync
//! bodies of API.md 1.1.

use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

/// A session token; wiped from memory on drop and never printed by `Debug`.
#[derive(Clone)]
pub struct Token(Zeroizing<String>);

impl Token {
    /// Wraps a token string.
    pub fn new(token: String) -> Token {
        Token(Zeroizing::new(token))
    }

    /// The raw token, for the `Authorization` header.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Token(…)")
    }
}

/// The answer of `/login/finish` and `/account/password/finish` (the
/// client's logged-in state is `client::Session`).
#[derive(Debug, Clone)]
pub struct LoginReply {
    pub token: Token,
    pub expires_in: u64,
    /// The stored `vault_key` blob, `None` if none was stored.
    pub vault_key: Option<String>,
}

/// An entry as stored on the server (fields still sealed).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WireEntry {
    pub site: String,
    pub username: Option<String>,
    pub password: String,
    pub version: i64,
    pub updated_at: String,
}

/// The body of `/change`.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Change {
    pub site: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub password: Option<String>,
    /// `Some(None)` sends `"username": null` (clears it); `None` leaves it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub username: Option<Option<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub version: Option<i64>,
}

/// The answer of `/sync` (API 1.1).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct SyncAnswer {
    pub seq: i64,
    pub entries: Vec<WireEntry>,
    pub deleted: Vec<String>,
    pub manifest: Option<String>,
}

/// One write of [`Api::write_at`].
#[derive(Debug, Clone)]
pub enum Write<'a> {
    Add {
        site: &'a str,
        username: Option<&'a str>,
        password: &'a str,
    },
    Change(&'a Change),
    Delete {
        site: &'a str,
    },
}

/// The answer of a write: the entry's new version (none for `/delete`) and
/// the user's new `seq`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub struct Written {
    #[serde(default)]
    pub version: Option<i64>,
    pub seq: i64,
}
