//! 1Password's 1PUX export: a zip archive (read with the `zip` crate)
//! whose `export.data` is JSON: accounts → vaults → items, each with an
//! `overview` (title, URLs, tags) and `details` (login fields, notes,
//! sections of typed fields, password history). Logins and passwords
//! become logins, credit cards cards, identities identities, everything
//! else notes; the vault name is the folder; every section field that has
//! no member of its own is a custom field (concealed ones hidden).

use std::io::Read;

use serde_json::Value;

use super::{Items, common};
use crate::client::entry::{Card, CustomField, Doc, Identity, OldPassword};

/// Largest `export.data` read (a 1PUX of 100 000 items is ~100 MB).
const MAX_DATA: u64 = 256 << 20;

pub fn is_1pux(bytes: &[u8]) -> bool {
    zip::ZipArchive::new(std::io::Cursor::new(bytes))
        .is_ok_and(|z| z.file_names().any(|n| n == "export.data"))
}

pub fn parse(bytes: &[u8]) -> Result<Items, String> {
    let bad = |e: &dyn std::fmt::Display| format!("not a 1password-1pux file: {e}");
    let mut zip = zip::ZipArchive::new(std::io::Cursor::new(bytes)).map_err(|e| bad(&e))?;
    let mut data = String::new();
    zip.by_name("export.data")
        .map_err(|e| bad(&e))?
        .take(MAX_DATA)
        .read_to_string(&mut data)
        .map_err(|e| bad(&e))?;
    let v: Value = serde_json::from_str(&data).map_err(|e| bad(&e))?;
    let mut items = Vec::new();
    let mut skips = Vec::new();
    let mut n = 0;
    for account in v["accounts"].as_array().into_iter().flatten() {
        for vault in account["vaults"].as_array().into_iter().flatten() {
            let folder = vault["attrs"]["name"].as_str().map(str::to_owned);
            for it in vault["items"].as_array().into_iter().flatten() {
                n += 1;
                let place = format!("item {n}");
                if !it.is_object() {
                    skips.push(common::skipped(place, "", "item", "not a JSON object"));
                    continue;
                }
                let mut item = item(place, it);
                item.doc.folder = folder.clone();
                common::finish_names(&mut item.doc);
                items.push(item);
            }
        }
    }
    Ok((items, skips))
}

/// The `details` members mapped above.
const DETAILS: [&str; 6] = [
    "loginFields",
    "notesPlain",
    "sections",
    "passwordHistory",
    "password",
    "documentAttributes",
];

fn category(uuid: &str) -> (&'static str, &'static str) {
    match uuid {
        "001" => ("login", "login"),
        "002" => ("card", "credit card"),
        "003" => ("note", "secure note"),
        "004" => ("identity", "identity"),
        "005" => ("login", "password"),
        "006" => ("note", "document"),
        "100" => ("note", "software licence"),
        "101" => ("note", "bank account"),
        "102" => ("note", "database"),
        "103" => ("note", "driver licence"),
        "106" => ("note", "passport"),
        "108" => ("note", "social security number"),
        "109" => ("note", "wireless router"),
        "110" => ("note", "server"),
        "111" => ("note", "email account"),
        "112" => ("note", "API credential"),
        "114" => ("note", "SSH key"),
        _ => ("note", "other"),
    }
}

fn item(place: String, it: &Value) -> super::Item {
    let (kind, source) = category(it["categoryUuid"].as_str().unwrap_or(""));
    let ov = &it["overview"];
    let d = &it["details"];
    let mut doc = common::doc(kind, ov["title"].as_str().unwrap_or(""));
    doc.favourite = it["favIndex"].as_u64().is_some_and(|i| i > 0);
    let secs = |v: &Value| v.as_u64().map(common::unix);
    if let Some(c) = secs(&it["createdAt"]) {
        doc.created = c;
    }
    if let Some(u) = secs(&it["updatedAt"]) {
        doc.updated = u;
    }
    if let Some(s) = it["state"].as_str().filter(|s| *s != "active") {
        common::field(&mut doc, "1Password state", s, false);
    }
    doc.notes = d["notesPlain"]
        .as_str()
        .filter(|n| !n.is_empty())
        .map(str::to_owned);
    for u in ov["urls"].as_array().into_iter().flatten() {
        if let Some(url) = u["url"].as_str().filter(|u| !u.is_empty()) {
            doc.urls.push(url.to_owned());
        }
    }
    if doc.urls.is_empty()
        && let Some(url) = ov["url"].as_str().filter(|u| !u.is_empty())
    {
        doc.urls.push(url.to_owned());
    }
    if let Some(tags) = ov["tags"].as_array().filter(|t| !t.is_empty()) {
        let t: Vec<&str> = tags.iter().filter_map(Value::as_str).collect();
        common::field(&mut doc, "tags", t.join(", "), false);
    }
    let mut password = d["password"].as_str().unwrap_or("").to_owned();
    for f in d["loginFields"].as_array().into_iter().flatten() {
        let value = f["value"].as_str().unwrap_or("").to_owned();
        match f["designation"].as_str() {
            Some("username") if doc.username.is_none() => doc.username = Some(value),
            Some("password") if password.is_empty() => password = value,
            _ => {
                let name = f["name"].as_str().or(f["id"].as_str()).unwrap_or("field");
                common::field(&mut doc, name, value, f["fieldType"] == "P");
            }
        }
    }
    for h in d["passwordHistory"].as_array().into_iter().flatten() {
        doc.history.push(OldPassword {
            password: h["value"].as_str().unwrap_or("").to_owned(),
            replaced_at: secs(&h["time"]).unwrap_or_default(),
        });
    }
    sections(&mut doc, d);
    // Members of `details` this reader does not map: kept, not dropped.
    for (k, v) in d.as_object().into_iter().flatten() {
        let empty =
            v.is_null() || v.as_str() == Some("") || v.as_array().is_some_and(|a| a.is_empty());
        if !empty && !DETAILS.contains(&k.as_str()) {
            common::field(&mut doc, &format!("1Password {k}"), v.to_string(), false);
        }
    }
    let mut item = common::item(place, source, doc, password);
    if let Some(doc_attrs) = d.get("documentAttributes").filter(|a| a.is_object()) {
        let name = doc_attrs["fileName"].as_str().unwrap_or("file");
        item.lost.push(common::lost(
            &format!("file `{name}`"),
            "vault stores no files",
        ));
    }
    item
}

/// Section fields: the card and identity ones to their members, the rest
/// custom fields named by their section and title.
fn sections(doc: &mut Doc, d: &Value) {
    let mut card = Card::default();
    let mut id = Identity::default();
    for s in d["sections"].as_array().into_iter().flatten() {
        let section = s["title"].as_str().unwrap_or("");
        for f in s["fields"].as_array().into_iter().flatten() {
            let fid = f["id"].as_str().unwrap_or("");
            let (value, hidden, kind) = value_of(&f["value"]);
            if value.is_empty() {
                continue;
            }
            let slot: Option<&mut Option<String>> = match (doc.kind.as_str(), fid) {
                ("card", "cardholder") => Some(&mut card.cardholder),
                ("card", "type") => Some(&mut card.brand),
                ("card", "ccnum") => Some(&mut card.number),
                ("card", "cvv") => Some(&mut card.code),
                ("card", "expiry") => Some(&mut card.expiry),
                ("identity", "firstname") => Some(&mut id.first_name),
                ("identity", "initial") => Some(&mut id.middle_name),
                ("identity", "lastname") => Some(&mut id.last_name),
                ("identity", "company") => Some(&mut id.company),
                ("identity", "email") => Some(&mut id.email),
                ("identity", "defphone") => Some(&mut id.phone),
                _ => None,
            };
            if let Some(slot) = slot.filter(|s| s.is_none()) {
                *slot = Some(value);
                continue;
            }
            if kind == "totp" && doc.totp.is_none() {
                doc.totp = Some(value);
                continue;
            }
            if doc.kind == "identity" && kind == "address" && id.address1.is_none() {
                address(&mut id, &f["value"]["address"]);
                continue;
            }
            let title = f["title"].as_str().filter(|t| !t.is_empty()).unwrap_or(fid);
            let name = if section.is_empty() {
                title.to_owned()
            } else {
                format!("{section}: {title}")
            };
            doc.fields.push(CustomField {
                name,
                value,
                hidden,
            });
        }
    }
    match doc.kind.as_str() {
        "card" => doc.card = Some(card),
        "identity" => doc.identity = Some(id),
        _ => {}
    }
}

fn address(id: &mut Identity, a: &Value) {
    let g = |k: &str| a[k].as_str().filter(|s| !s.is_empty()).map(str::to_owned);
    id.address1 = g("street");
    id.city = g("city");
    id.state = g("state");
    id.postal_code = g("zip");
    id.country = g("country");
}

/// A typed value as text: (text, concealed, type).
fn value_of(v: &Value) -> (String, bool, String) {
    let Some((k, inner)) = v.as_object().and_then(|o| o.iter().next()) else {
        return (String::new(), false, String::new());
    };
    let text = match (k.as_str(), inner) {
        ("monthYear", Value::Number(n)) => {
            let n = n.as_u64().unwrap_or(0);
            format!("{:02}/{}", n % 100, n / 100)
        }
        ("date", Value::Number(n)) => n.as_u64().map(common::unix).unwrap_or_default(),
        ("email", o @ Value::Object(_)) => o["email_address"].as_str().unwrap_or("").to_owned(),
        ("address", o @ Value::Object(_)) => ["street", "city", "state", "zip", "country"]
            .iter()
            .filter_map(|f| o[*f].as_str().filter(|s| !s.is_empty()))
            .collect::<Vec<_>>()
            .join(", "),
        (_, Value::String(s)) => s.clone(),
        (_, Value::Null) => String::new(),
        (_, other) => other.to_string(),
    };
    (text, k == "concealed" || k == "creditCardNumber", k.clone())
}
