//! The shapes `vault` prints as JSON. Field names are part of the CLI's
//! interface: scripts read them.

use serde::Serialize;

use vaultd::client::{Entry, Summary};

/// `vault get --json`: one entry, password included.
#[derive(Serialize)]
pub struct EntryJson<'a> {
    pub site: &'a str,
    pub username: Option<&'a str>,
    pub password: &'a str,
    pub version: i64,
    pub updated_at: &'a str,
}

impl<'a> EntryJson<'a> {
    pub fn of(entry: &'a Entry) -> Self {
        EntryJson {
            site: &entry.site,
            username: entry.username.as_deref(),
            password: &entry.password,
            version: entry.version,
            updated_at: &entry.updated_at,
        }
    }
}

/// `vault ls --json`: one line of the listing, never a password.
#[derive(Serialize)]
pub struct SummaryJson<'a> {
    pub site: &'a str,
    pub username: Option<&'a str>,
    pub version: i64,
    pub updated_at: &'a str,
}

impl<'a> SummaryJson<'a> {
    pub fn of(s: &'a Summary) -> Self {
        SummaryJson {
            site: &s.site,
            username: s.username.as_deref(),
            version: s.version,
            updated_at: &s.updated_at,
        }
    }
}

/// One JSON document and a line break.
pub fn json_line<T: Serialize + ?Sized>(value: &T) -> String {
    format!(
        "{}\n",
        serde_json::to_string(value).expect("our output shapes serialise")
    )
}
