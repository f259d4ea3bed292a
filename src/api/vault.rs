//! `/add`, `/get`, `/change`, `/delete`: the server stores what the client
//! sends, byte for byte, and interprets nothing.

use std::time::{Duration, UNIX_EPOCH};

use serde::{Serialize, Serializer};
use serde_json::json;

use super::body::{Body, check_len};
use super::{App, Call, Reply};
use crate::error::ApiError;
use crate::store::{Entry, EntryChange, NewEntry, StoreError, SyncWrite, Written, unix_now};

const MAX_SITE: usize = 512;
const MAX_PASSWORD: usize = 8192;
/// API.md 1.1: the `username` field may hold 32 KiB (8 KiB in 1.0).
const MAX_USERNAME: usize = 32768;
const MAX_MANIFEST: usize = 4096;

fn site(body: &Body) -> Result<&str, ApiError> {
    let site = body.str("site")?;
    check_len("site", site, 1, MAX_SITE)?;
    Ok(site)
}

fn password(value: &str) -> Result<&str, ApiError> {
    check_len("password", value, 1, MAX_PASSWORD)?;
    Ok(value)
}

fn username(value: Option<&str>) -> Result<Option<&str>, ApiError> {
    if let Some(u) = value {
        check_len("username", u, 0, MAX_USERNAME)?;
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

/// The optional `base_seq` and `manifest` of a write (API.md 1.1).
fn sync_write(body: &Body) -> Result<SyncWrite, ApiError> {
    let base_seq = body.opt_i64("base_seq")?;
    if base_seq.is_some_and(|s| s < 0) {
        return Err(ApiError::bad_request("field `base_seq` must be 0 or more"));
    }
    let manifest = body.opt_str("manifest")?;
    if let Some(m) = manifest {
        check_len("manifest", m, 1, MAX_MANIFEST)?;
        if base_seq.is_none() {
            return Err(ApiError::bad_request("field `manifest` needs `base_seq`"));
        }
    }
    Ok(SyncWrite {
        base_seq,
        manifest: manifest.map(str::to_string),
    })
}

/// `{"site", "version", "seq"}`, the answer of `/add` and `/change`.
#[derive(Serialize)]
struct WriteAnswer<'a> {
    site: &'a str,
    version: i64,
    seq: i64,
}

/// `POST /add {"site", "password", "username"?, "base_seq"?, "manifest"?}` →
/// `201 {"site", "version": 1, "seq"}`.
pub fn add(app: &App, call: &Call) -> Result<Reply, ApiError> {
    let user = call.caller()?.user_id;
    let body = Body::parse(
        call.body,
        &["site", "password", "username", "base_seq", "manifest"],
    )?;
    let entry = NewEntry {
        site: site(&body)?.to_string(),
        password: password(body.str("password")?)?.to_string(),
        username: username(body.nullable_str("username")?.flatten())?.map(str::to_string),
    };
    let sync = sync_write(&body)?;
    match app.store.add_entry(user, &entry, &sync, unix_now()) {
        Ok(Written { version, seq }) => Reply::created(WriteAnswer {
            site: &entry.site,
            version,
            seq,
        }),
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

/// `POST /change {"site", "password"?, "username"?, "version"?, "base_seq"?,
/// "manifest"?}` → `200 {"site", "version", "seq"}`; a stale `version` or
/// `base_seq` is `409` and changes nothing.
pub fn change(app: &App, call: &Call) -> Result<Reply, ApiError> {
    let user = call.caller()?.user_id;
    let body = Body::parse(
        call.body,
        &[
            "site", "password", "username", "version", "base_seq", "manifest",
        ],
    )?;
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
    let sync = sync_write(&body)?;
    match app
        .store
        .change_entry(user, site, &change, &sync, unix_now())
    {
        Ok(Written { version, seq }) => Reply::ok(WriteAnswer { site, version, seq }),
        Err(StoreError::NotFound) => Err(ApiError::NotFound(NO_SUCH_ENTRY)),
        Err(StoreError::Conflict) => Err(ApiError::Conflict(
            "the entry has changed since that version; read it again",
        )),
        Err(e) => Err(e.into()),
    }
}

/// `POST /delete {"site", "base_seq"?, "manifest"?}` → `200 {"site", "seq"}`
/// or `404`.
pub fn delete(app: &App, call: &Call) -> Result<Reply, ApiError> {
    let user = call.caller()?.user_id;
    let body = Body::parse(call.body, &["site", "base_seq", "manifest"])?;
    let site = site(&body)?;
    let sync = sync_write(&body)?;
    match app.store.delete_entry(user, site, &sync) {
        Ok(Written { seq, .. }) => Reply::ok(json!({ "site": site, "seq": seq })),
        Err(StoreError::NotFound) => Err(ApiError::NotFound(NO_SUCH_ENTRY)),
        Err(e) => Err(e.into()),
    }
}

/// `{"seq", "entries", "deleted", "manifest"}`, serialized straight from the
/// stored rows like `/get`.
#[derive(Serialize)]
struct SyncAnswer<'a> {
    seq: i64,
    entries: Vec<EntryView<'a>>,
    deleted: &'a [String],
    manifest: Option<&'a str>,
}

/// `POST /sync {"since"}` → what changed after `since`, in one snapshot.
pub fn sync(app: &App, call: &Call) -> Result<Reply, ApiError> {
    let user = call.caller()?.user_id;
    let body = Body::parse(call.body, &["since"])?;
    let since = body
        .opt_i64("since")?
        .ok_or_else(|| ApiError::bad_request("field `since` is required"))?;
    if since < 0 {
        return Err(ApiError::bad_request("field `since` must be 0 or more"));
    }
    match app.store.changes(user, since) {
        Ok(changes) => Reply::ok(SyncAnswer {
            seq: changes.seq,
            entries: changes.entries.iter().map(EntryView::from).collect(),
            deleted: &changes.deleted,
            manifest: changes.manifest.as_deref(),
        }),
        Err(StoreError::NotFound) => Err(ApiError::Unauthorized),
        Err(e) => Err(e.into()),
    }
}
