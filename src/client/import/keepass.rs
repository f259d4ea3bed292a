//! KeePass and KeePassXC databases (KDBX 3.1 and 4), read with the
//! `keepass` crate under the database password and/or a key file. Groups
//! become folders (`Work/Git`); Title, UserName, Password, URL, Notes and
//! the TOTP attribute (`otp`, or KeePass's `TimeOtp-*`) map to their own
//! members, every other attribute becomes a custom field (protected ones
//! hidden), tags, expiry, colours, auto-type and plug-in data custom fields
//! too; earlier passwords become the history. Entries in the recycle bin
//! are skipped, each named.

use keepass::db::{EntryRef, GroupRef};
use keepass::{Database, DatabaseKey};

use super::{Item, Items, Secrets, Skipped, common};
use crate::client::entry::{Doc, OldPassword};

/// The first four bytes of every KDBX file, then KeePass 2's signature.
const MAGIC: [u8; 8] = [0x03, 0xd9, 0xa2, 0x9a, 0x67, 0xfb, 0x4b, 0xb5];

pub fn is_kdbx(bytes: &[u8]) -> bool {
    bytes.starts_with(&MAGIC)
}

/// Small text attachments are kept as custom fields; larger or binary
/// ones are not (an entry holds at most 24 535 bytes of text).
const MAX_TEXT_ATTACHMENT: usize = 4096;

pub fn parse(bytes: &[u8], secrets: &mut dyn Secrets) -> Result<Items, String> {
    if !is_kdbx(bytes) {
        return Err("not a keepass database (no KDBX signature)".into());
    }
    let key_file = secrets.key_file()?;
    let password = secrets.password("keepass database")?;
    let mut key = DatabaseKey::new();
    if !password.is_empty() || key_file.is_none() {
        key = key.with_password(&password);
    }
    if let Some(kf) = &key_file {
        key = key
            .with_keyfile(&mut &kf[..])
            .map_err(|e| format!("cannot read the key file: {e}"))?;
    }
    let db = Database::parse(bytes, key).map_err(|e| match e {
        keepass::db::DatabaseOpenError::Key(_) => {
            "wrong password or key file for this keepass database".to_owned()
        }
        keepass::db::DatabaseOpenError::UnsupportedVersion => {
            "this keepass database is of an unsupported version (KDBX 3.1 and 4 are read)".into()
        }
        e => format!("cannot open this keepass database: {e}"),
    })?;
    let bin = db.recycle_bin().map(|g| g.id());
    let mut out = Walk {
        items: Vec::new(),
        skipped: Vec::new(),
        n: 0,
    };
    out.group(&db.root(), &[], bin, false);
    Ok((out.items, out.skipped))
}

struct Walk {
    items: Vec<Item>,
    skipped: Vec<Skipped>,
    n: usize,
}

impl Walk {
    fn group(
        &mut self,
        g: &GroupRef,
        path: &[String],
        bin: Option<keepass::db::GroupId>,
        in_bin: bool,
    ) {
        let in_bin = in_bin || Some(g.id()) == bin;
        for e in g.entries() {
            self.n += 1;
            let place = format!("entry {}", self.n);
            let title = e.get_title().unwrap_or("").to_owned();
            if in_bin {
                self.skipped.push(common::skipped(
                    place,
                    &title,
                    "entry",
                    "in the keepass recycle bin (deleted there)",
                ));
                continue;
            }
            self.items.push(entry(place, &e, path));
        }
        for sub in g.groups() {
            let mut p = path.to_vec();
            p.push(sub.name.clone());
            self.group(&sub, &p, bin, in_bin);
        }
    }
}

const STANDARD: [&str; 5] = ["Title", "UserName", "Password", "URL", "Notes"];

fn entry(place: String, e: &EntryRef, path: &[String]) -> Item {
    let get = |k: &str| e.get(k).filter(|v| !v.is_empty()).map(str::to_owned);
    let mut doc = common::doc("login", &get("Title").unwrap_or_default());
    doc.username = get("UserName");
    doc.urls = get("URL").into_iter().collect();
    doc.notes = get("Notes");
    doc.folder = Some(path.join("/")).filter(|f| !f.is_empty());
    let totp_key = ["otp", "TimeOtp-Secret-Base32"]
        .into_iter()
        .find(|k| get(k).is_some());
    doc.totp = totp_key.and_then(get);
    let mut names: Vec<&String> = e.fields.keys().collect();
    names.sort();
    for k in names {
        if STANDARD.contains(&k.as_str()) || Some(k.as_str()) == totp_key {
            continue;
        }
        let v = &e.fields[k];
        doc.fields.push(crate::client::entry::CustomField {
            name: k.clone(),
            value: v.get().clone(),
            hidden: v.is_protected(),
        });
    }
    let t = &e.times;
    let fmt = |d: &chrono::NaiveDateTime| d.format("%Y-%m-%dT%H:%M:%SZ").to_string();
    if let Some(c) = &t.creation {
        doc.created = fmt(c);
    }
    if let Some(m) = &t.last_modification {
        doc.updated = fmt(m);
    }
    if t.expires == Some(true) {
        common::field(&mut doc, "expires", fmt(&t.expiry), false);
    }
    if !e.tags.is_empty() {
        common::field(&mut doc, "tags", e.tags.join(", "), false);
    }
    extras(&mut doc, e);
    let mut lost = attachments(&mut doc, e);
    history(&mut doc, e);
    let max = crate::client::entry::MAX_HISTORY;
    if doc.history.len() > max {
        lost.push(common::lost(
            &format!("{} oldest earlier passwords", doc.history.len() - max),
            "an entry keeps its 10 latest earlier passwords",
        ));
        doc.history.truncate(max);
    }
    let password = get("Password").unwrap_or_default();
    let mut item = common::item(place, "entry", doc, password);
    item.lost = lost;
    item
}

/// What KeePass keeps besides the attributes: all of it as custom fields.
fn extras(doc: &mut Doc, e: &EntryRef) {
    if let Some(u) = e.override_url.as_deref().filter(|u| !u.is_empty()) {
        common::field(doc, "override URL", u, false);
    }
    for (what, c) in [
        ("foreground", &e.foreground_color),
        ("background", &e.background_color),
    ] {
        if let Some(c) = c {
            common::field(
                doc,
                &format!("KeePass {what} colour"),
                format!("#{:02X}{:02X}{:02X}", c.r, c.g, c.b),
                false,
            );
        }
    }
    if let Some(a) = &e.autotype {
        if let Some(seq) = a.default_sequence.as_deref().filter(|s| !s.is_empty()) {
            common::field(doc, "auto-type sequence", seq, false);
        }
        for assoc in &a.associations {
            common::field(
                doc,
                &format!("auto-type: {}", assoc.window),
                assoc.sequence.clone(),
                false,
            );
        }
    }
    let mut keys: Vec<&String> = e.custom_data.keys().collect();
    keys.sort();
    for k in keys {
        let v = match &e.custom_data[k].value {
            Some(keepass::db::CustomDataValue::String(s)) => s.clone(),
            Some(other) => format!("{other:?}"),
            None => String::new(),
        };
        common::field(doc, &format!("KeePass data: {k}"), v, false);
    }
}

fn attachments(doc: &mut Doc, e: &EntryRef) -> Vec<super::Lost> {
    let mut lost = Vec::new();
    for (name, a) in e.attachments_named() {
        let data = a.data.get();
        match std::str::from_utf8(data) {
            Ok(text) if data.len() <= MAX_TEXT_ATTACHMENT => {
                common::field(
                    doc,
                    &format!("attachment: {name}"),
                    text,
                    a.data.is_protected(),
                );
            }
            _ => lost.push(common::lost(
                &format!("attachment `{name}` ({} bytes)", data.len()),
                "vault stores no files: only text attachments up to 4 KiB are kept",
            )),
        }
    }
    lost
}

/// Earlier passwords, newest first, each replaced when the next version
/// was made.
fn history(doc: &mut Doc, e: &EntryRef) {
    let Some(h) = &e.history else { return };
    let versions = h.get_entries();
    let current = e.get_password().unwrap_or("");
    let mut seen = vec![current.to_owned()];
    for (i, old) in versions.iter().enumerate().rev() {
        let pw = old.get_password().unwrap_or("").to_owned();
        if pw.is_empty() || seen.contains(&pw) {
            continue;
        }
        let next = versions.get(i + 1).map_or(&e.times, |n| &n.times);
        let replaced_at = next
            .last_modification
            .map(|d| d.format("%Y-%m-%dT%H:%M:%SZ").to_string())
            .unwrap_or_default();
        seen.push(pw.clone());
        doc.history.push(OldPassword {
            password: pw,
            replaced_at,
        });
    }
}
