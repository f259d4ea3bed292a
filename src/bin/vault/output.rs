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
            site: entry.site(),
            username: entry.username(),
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
            site: s.site(),
            username: s.username(),
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

/// What a masked secret shows.
pub const MASK: &str = "********";

fn mask(v: &str, reveal: bool) -> String {
    if reveal || v.is_empty() {
        v.to_owned()
    } else {
        MASK.to_owned()
    }
}

/// `vault show --json`: the document, the password, the server's version;
/// secrets as [`MASK`] unless revealed.
#[derive(Serialize)]
pub struct ShowJson {
    #[serde(flatten)]
    pub doc: serde_json::Value,
    pub password: String,
    pub version: i64,
    pub updated_at: String,
}

impl ShowJson {
    pub fn of(e: &Entry, reveal: bool) -> ShowJson {
        let mut doc = serde_json::to_value(&e.doc).expect("a document serialises");
        if !reveal {
            let m = |v: &mut serde_json::Value| {
                if let Some(s) = v.as_str() {
                    *v = mask(s, false).into();
                }
            };
            doc.get_mut("totp").map(m);
            for f in doc["fields"].as_array_mut().into_iter().flatten() {
                if f["hidden"] == true {
                    f.get_mut("value").map(m);
                }
            }
            for h in doc["history"].as_array_mut().into_iter().flatten() {
                h.get_mut("password").map(m);
            }
            if let Some(card) = doc.get_mut("card").filter(|c| c.is_object()) {
                card.get_mut("number").map(m);
                card.get_mut("code").map(m);
            }
        }
        ShowJson {
            doc,
            password: mask(&e.password, reveal),
            version: e.version,
            updated_at: e.updated_at.clone(),
        }
    }
}

/// `vault show`: one `label: value` line per field that has a value;
/// multi-line values continue indented.
pub fn show_lines(e: &Entry, reveal: bool) -> Vec<String> {
    let d = &e.doc;
    let mut rows: Vec<(String, String)> = vec![
        ("name".into(), d.name.clone()),
        ("type".into(), d.kind.clone()),
    ];
    fn push(rows: &mut Vec<(String, String)>, label: &str, v: Option<&str>) {
        if let Some(v) = v.filter(|v| !v.is_empty()) {
            rows.push((label.into(), v.to_owned()));
        }
    }
    push(&mut rows, "username", d.username.as_deref());
    push(&mut rows, "password", Some(&mask(&e.password, reveal)));
    push(&mut rows, "url", Some(&d.urls.join("\n")));
    push(
        &mut rows,
        "totp",
        d.totp.as_deref().map(|t| mask(t, reveal)).as_deref(),
    );
    push(&mut rows, "notes", d.notes.as_deref());
    push(&mut rows, "folder", d.folder.as_deref());
    push(&mut rows, "favourite", d.favourite.then_some("yes"));
    if let Some(c) = &d.card {
        push(&mut rows, "cardholder", c.cardholder.as_deref());
        push(&mut rows, "brand", c.brand.as_deref());
        push(
            &mut rows,
            "number",
            c.number.as_deref().map(|v| mask(v, reveal)).as_deref(),
        );
        push(&mut rows, "expiry", c.expiry.as_deref());
        push(
            &mut rows,
            "code",
            c.code.as_deref().map(|v| mask(v, reveal)).as_deref(),
        );
    }
    if let Some(i) = &d.identity {
        let v = serde_json::to_value(i).expect("an identity serialises");
        for (k, val) in v.as_object().into_iter().flatten() {
            push(&mut rows, &k.replace('_', " "), val.as_str());
        }
    }
    for f in &d.fields {
        rows.push((f.name.clone(), mask(&f.value, reveal || !f.hidden)));
    }
    let n = d.history.len();
    push(
        &mut rows,
        "history",
        (n > 0)
            .then(|| format!("{n} earlier password(s): vault history {}", d.name))
            .as_deref(),
    );
    push(&mut rows, "trashed", d.trashed_at.as_deref());
    push(&mut rows, "created", Some(&d.created));
    push(&mut rows, "updated", Some(&d.updated));
    let width = rows
        .iter()
        .map(|(l, _)| l.chars().count())
        .max()
        .unwrap_or(0)
        + 1;
    let mut lines = Vec::new();
    for (label, value) in rows {
        for (i, line) in value.split('\n').enumerate() {
            let head = if i == 0 {
                format!("{label}:")
            } else {
                String::new()
            };
            lines.push(format!("{head:width$} {line}"));
        }
    }
    lines
}
