//! `/add`, `/get`, `/change`, `/delete`: the server stores what the client
//! sends, byte for byte, and interprets nothing.

use std::time::{Duration, UNIX_EPOCH};

use serde::{Serialize, Serializer};
use serde_json::json;

use super::body::{Body, check_len};
use super::{App, Call, Reply};
use crate::error::ApiError;
use crate::store::{Entry, EntryChange, StoreError, unix_now};

const MAX_SITE: usize = 512;
const MAX_FIELD: usize = 8192;

fn site(body: &Body) -> Result<&str, ApiError> {
    let site = body.str("site")?;
    check_len("site", site, 1, MAX_SITE)?;
    Ok(site)
}

fn password(value: &str) -> Result<&str, ApiError> {
    check_len("password", value, 1, MAX_FIELD)?;
    Ok(value)
}

fn username(value: Option<&str>) -> Result<Option<&str>, ApiError> {
    if let Some(u) = value {
        check_len("username", u, 0, MAX_FIELD)?;
    }
    Ok(value)
}

const NO_SUCH_ENTRY: &str = "no entry for this site";

/// An entry as API.md shows it, serialized straight from the stored entry
/// (a `/get` of every entry writes thousands of them).
#[derive(Serialize)]
struct EntryView<'a> {
    site: &'a str,
    username: Option<&'a str>,
    password: &'a str,
    version: i64,
    #[serde(serialize_with = "rfc3339")]
    updated_at: i64,
}

impl<'a> From<&'a Entry> for EntryView<'a> {
    fn from(entry: &'a Entry) -> Self {
        EntryView {
            site: &entry.site,
            username: entry.username.as_deref(),
            password: &entry.password,
            version: entry.version,
            updated_at: entry.updated_at,
        }
    }
}

/// `{"entries": [...]}`: a `json!` here would copy every entry into a
/// `serde_json::Value` tree first.
#[derive(Serialize)]
struct AllEntries<'a> {
    entries: Vec<EntryView<'a>>,
}

/// `{"entry": {...}}`.
#[derive(Serialize)]
struct OneEntry<'a> {
    entry: EntryView<'a>,
}

/// Unix seconds as RFC 3339 UTC (`2026-11-25T12:00:00Z`), written without an
/// intermediate string.
fn rfc3339<S: Serializer>(unix: &i64, serializer: S) -> Result<S::Ok, S::Error> {
    let time = UNIX_EPOCH + Duration::from_secs((*unix).max(0) as u64);
    serializer.collect_str(&humantime::format_rfc3339_seconds(time))
}

/// `POST /add {"site", "password", "username"?}` → `201 {"site", "version": 1}`.
pub fn add(app: &App, call: &Call) -> Result<Reply, ApiError> {
    let user = call.caller()?.user_id;
    let body = Body::parse(call.body, &["site", "password", "username"])?;
    let site = site(&body)?;
    let password = password(body.str("password")?)?;
    let username = username(body.nullable_str("username")?.flatten())?;
    match app
        .store
        .add_entry(user, site, username, password, unix_now())
    {
        Ok(entry) => Reply::created(json!({ "site": entry.site, "version": entry.version })),
        Err(StoreError::Conflict) => Err(ApiError::Conflict("an entry for this site exists")),
        // The account was deleted after its token was checked.
        Err(StoreError::NotFound) => Err(ApiError::Unauthorized),
        Err(e) => Err(e.into()),
    }
}

/// `POST /get {}` → every entry; `POST /get {"site"}` → that entry or `404`.
pub fn get(app: &App, call: &Call) -> Result<Reply, ApiError> {
    let user = call.caller()?.user_id;
    let body = Body::parse(call.body, &["site"])?;
    if body.opt_str("site")?.is_none() {
        let entries = app.store.list_entries(user)?;
        let entries = entries.iter().map(EntryView::from).collect();
        return Reply::ok(AllEntries { entries });
    }
    match app.store.get_entry(user, site(&body)?)? {
        Some(entry) => Reply::ok(OneEntry {
            entry: EntryView::from(&entry),
        }),
        None => Err(ApiError::NotFound(NO_SUCH_ENTRY)),
    }
}

/// `POST /change {"site", "password"?, "username"?, "version"?}` →
/// `200 {"site", "version"}`; a stale `version` is `409` and changes nothing.
pub fn change(app: &App, call: &Call) -> Result<Reply, ApiError> {
    let user = call.caller()?.user_id;
    let body = Body::parse(call.body, &["site", "password", "username", "version"])?;
    let site = site(&body)?;
    let change = EntryChange {
        password: body
            .opt_str("password")?
            .map(password)
            .transpose()?
            .map(str::to_string),
        username: match body.nullable_str("username")? {
            Some(u) => Some(username(u)?.map(str::to_string)),
            None => None,
        },
        expected_version: body.opt_i64("version")?,
    };
    if change.password.is_none() && change.username.is_none() {
        return Err(ApiError::bad_request(
            "at least one of `password` and `username` is required",
        ));
    }
    match app.store.change_entry(user, site, &change, unix_now()) {
        Ok(version) => Reply::ok(json!({ "site": site, "version": version })),
        Err(StoreError::NotFound) => Err(ApiError::NotFound(NO_SUCH_ENTRY)),
        Err(StoreError::Conflict) => Err(ApiError::Conflict(
            "the entry has changed since that version; read it again",
        )),
        Err(e) => Err(e.into()),
    }
}

/// `POST /delete {"site"}` → `200 {"site"}` or `404`.
pub fn delete(app: &App, call: &Call) -> Result<Reply, ApiError> {
    let user = call.caller()?.user_id;
    let body = Body::parse(call.body, &["site"])?;
    let site = site(&body)?;
    match app.store.delete_entry(user, site) {
        Ok(()) => Reply::ok(json!({ "site": site })),
        Err(StoreError::NotFound) => Err(ApiError::NotFound(NO_SUCH_ENTRY)),
        Err(e) => Err(e.into()),
    }
}
