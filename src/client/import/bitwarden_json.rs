//! Bitwarden's JSON export ("File > Export vault > .json"): every item type
//! (login, secure note, card, identity, SSH key), folders, custom fields,
//! URIs with their match type, TOTP, password history, favourites, dates,
//! the trash. The password-protected "encrypted JSON" export is opened
//! first (`bitwarden_crypt`); an account-restricted one cannot be.

#[path = "bitwarden_crypt.rs"]
mod crypt;

use std::collections::HashMap;

use serde_json::{Map, Value};

use super::{Format, Items, Secrets, common};
use crate::client::entry::{Card, Doc, Identity, OldPassword};

pub fn detect(v: &Value) -> Option<Format> {
    let o = v.as_object()?;
    let bw = o.get("encrypted").is_some_and(Value::is_boolean)
        && (o.contains_key("items") || o.contains_key("passwordProtected"));
    bw.then_some(Format::BitwardenJson)
}

pub fn parse(text: &str, secrets: &mut dyn Secrets) -> Result<Items, String> {
    let v: Value = serde_json::from_str(text)
        .map_err(|e| format!("not a bitwarden-json file: not JSON ({e})"))?;
    if v.get("encrypted").and_then(Value::as_bool) == Some(true) {
        if v.get("passwordProtected").and_then(Value::as_bool) != Some(true) {
            return Err(
                "this bitwarden-json export is \"account restricted\": only that \
                Bitwarden account can open it; export again choosing \"Password protected\""
                    .into(),
            );
        }
        let password = secrets.password("bitwarden-json (password protected)")?;
        let plain = crypt::open(&v, &password)?;
        return parse(&plain, secrets);
    }
    let names = |key: &str| -> HashMap<String, String> {
        v.get(key)
            .and_then(Value::as_array)
            .map(|a| {
                a.iter()
                    .filter_map(|f| Some((str_of(f, "id")?, str_of(f, "name")?)))
                    .collect()
            })
            .unwrap_or_default()
    };
    // An organisation's export has collections where a personal one has folders.
    let mut folders = names("folders");
    folders.extend(names("collections"));
    let Some(items) = v.get("items").and_then(Value::as_array) else {
        return Err("not a bitwarden-json file: no `items` array".into());
    };
    let mut out = Vec::new();
    let mut skips = Vec::new();
    for (i, it) in items.iter().enumerate() {
        let place = format!("item {}", i + 1);
        match it.as_object() {
            Some(o) => out.push(item(place, o, &folders)),
            None => skips.push(common::skipped(place, "", "item", "not a JSON object")),
        }
    }
    Ok((out, skips))
}

fn str_of(v: &Value, k: &str) -> Option<String> {
    v.get(k).and_then(Value::as_str).map(str::to_owned)
}

/// A JSON value as text for a custom field.
fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        v => v.to_string(),
    }
}

const URI_MATCH: [&str; 6] = [
    "domain",
    "host",
    "starts with",
    "exact",
    "regular expression",
    "never",
];

/// The item members this file maps; any other non-null one is kept as a
/// custom field so nothing new in Bitwarden's format is lost.
const KNOWN: [&str; 24] = [
    "id",
    "organizationId",
    "folderId",
    "type",
    "name",
    "notes",
    "favorite",
    "fields",
    "login",
    "secureNote",
    "card",
    "identity",
    "sshKey",
    "collectionIds",
    "revisionDate",
    "creationDate",
    "deletedDate",
    "passwordHistory",
    "reprompt",
    "archivedDate",
    "key",
    "edit",
    "viewPassword",
    "organizationUseTotp",
];

fn item(place: String, o: &Map<String, Value>, folders: &HashMap<String, String>) -> super::Item {
    let get = |k: &str| o.get(k).filter(|v| !v.is_null());
    let s = |k: &str| get(k).and_then(Value::as_str).map(str::to_owned);
    let (kind, source) = match get("type").and_then(Value::as_u64) {
        Some(1) => ("login", "login"),
        Some(2) => ("note", "secure note"),
        Some(3) => ("card", "card"),
        Some(4) => ("identity", "identity"),
        Some(5) => ("note", "ssh key"),
        _ => ("note", "unknown type"),
    };
    let mut doc = common::doc(kind, &s("name").unwrap_or_default());
    doc.notes = s("notes").filter(|n| !n.is_empty());
    doc.favourite = get("favorite").and_then(Value::as_bool).unwrap_or(false);
    doc.folder = s("folderId").and_then(|id| folders.get(&id).cloned());
    common::dates(
        &mut doc,
        s("creationDate").as_deref(),
        s("revisionDate").as_deref(),
    );
    doc.trashed_at = s("deletedDate").and_then(|d| common::date(&d));
    if let Some(Value::Array(h)) = get("passwordHistory") {
        for p in h {
            doc.history.push(OldPassword {
                password: str_of(p, "password").unwrap_or_default(),
                replaced_at: str_of(p, "lastUsedDate")
                    .and_then(|d| common::date(&d))
                    .unwrap_or_default(),
            });
        }
    }
    if get("reprompt").and_then(Value::as_u64) == Some(1) {
        common::field(&mut doc, "reprompt", "master password", false);
    }
    let mut password = String::new();
    match source {
        "login" => password = login(&mut doc, get("login")),
        "card" => card(&mut doc, get("card")),
        "identity" => identity(&mut doc, get("identity")),
        "ssh key" => ssh_key(&mut doc, get("sshKey")),
        _ => {}
    }
    if let Some(Value::Array(fields)) = get("fields") {
        for f in fields {
            custom_field(&mut doc, f);
        }
    }
    if let Some(Value::Array(ids)) = get("collectionIds") {
        // Collection names, as the organisation's members know them.
        let named: Vec<String> = ids
            .iter()
            .map(|id| {
                let id = text(id);
                folders.get(&id).cloned().unwrap_or(id)
            })
            .collect();
        common::field(&mut doc, "bitwarden collections", named.join(", "), false);
    }
    for (k, v) in o {
        if k == "collectionIds" {
            continue;
        }
        let empty = v.is_null() || v.as_array().is_some_and(|a| a.is_empty());
        let org = k == "collectionIds" || k == "organizationId";
        if !empty && (org || !KNOWN.contains(&k.as_str())) {
            // Organisation membership, or a member this file does not know.
            common::field(&mut doc, &format!("bitwarden {k}"), text(v), false);
        }
    }
    common::item(place, source, doc, password)
}

fn custom_field(doc: &mut Doc, f: &Value) {
    let t = f.get("type").and_then(Value::as_u64);
    let value = if t == Some(3) {
        // A linked field shows another field (e.g. the username) under this name.
        let id = f.get("linkedId").map(text).unwrap_or_default();
        format!("linked to {}", linked(&id))
    } else {
        f.get("value")
            .filter(|v| !v.is_null())
            .map(text)
            .unwrap_or_default()
    };
    // A field with an empty value is still a field the user made: kept.
    doc.fields.push(crate::client::entry::CustomField {
        name: str_of(f, "name").unwrap_or_default(),
        value,
        hidden: t == Some(1),
    });
}

/// Bitwarden's `LinkedIdType` numbers.
fn linked(id: &str) -> &str {
    match id {
        "100" => "username",
        "101" => "password",
        "300" => "cardholder name",
        "301" => "expiry month",
        "302" => "expiry year",
        "303" => "code",
        "304" => "brand",
        "305" => "number",
        other => other,
    }
}

fn login(doc: &mut Doc, l: Option<&Value>) -> String {
    let Some(l) = l else { return String::new() };
    doc.username = str_of(l, "username").filter(|u| !u.is_empty());
    doc.totp = str_of(l, "totp").filter(|t| !t.is_empty());
    if let Some(Value::Array(uris)) = l.get("uris") {
        for u in uris {
            let Some(uri) = str_of(u, "uri") else {
                continue;
            };
            if let Some(m) = u.get("match").and_then(Value::as_u64) {
                let what = URI_MATCH.get(m as usize).copied().unwrap_or("unknown");
                common::field(doc, &format!("URL match ({uri})"), what, false);
            }
            doc.urls.push(uri);
        }
    }
    if let Some(Value::Array(keys)) = l.get("fido2Credentials")
        && !keys.is_empty()
    {
        // A passkey's private key is in there: hidden, kept whole.
        for k in keys {
            common::field(doc, "passkey (Bitwarden)", k.to_string(), true);
        }
    }
    if let Some(d) = str_of(l, "passwordRevisionDate") {
        common::field(doc, "password changed", d, false);
    }
    unknown(doc, "login", l, &LOGIN);
    str_of(l, "password").unwrap_or_default()
}

/// Members of a login/card/identity object this reader does not know:
/// kept as custom fields.
fn unknown(doc: &mut Doc, what: &str, o: &Value, known: &[&str]) {
    for (k, v) in o.as_object().into_iter().flatten() {
        let empty = v.is_null() || v.as_array().is_some_and(|a| a.is_empty());
        if !empty && !known.contains(&k.as_str()) {
            common::field(doc, &format!("bitwarden {what}.{k}"), text(v), false);
        }
    }
}

const LOGIN: [&str; 6] = [
    "username",
    "password",
    "totp",
    "uris",
    "fido2Credentials",
    "passwordRevisionDate",
];
const CARD: [&str; 6] = [
    "cardholderName",
    "brand",
    "number",
    "expMonth",
    "expYear",
    "code",
];
const IDENTITY: [&str; 18] = [
    "title",
    "firstName",
    "middleName",
    "lastName",
    "address1",
    "address2",
    "address3",
    "city",
    "state",
    "postalCode",
    "country",
    "company",
    "email",
    "phone",
    "ssn",
    "username",
    "passportNumber",
    "licenseNumber",
];

fn card(doc: &mut Doc, c: Option<&Value>) {
    let Some(c) = c else { return };
    unknown(doc, "card", c, &CARD);
    let g = |k: &str| str_of(c, k).filter(|s| !s.is_empty());
    let expiry = match (g("expMonth"), g("expYear")) {
        (None, None) => None,
        (m, y) => Some(format!(
            "{:0>2}/{}",
            m.unwrap_or_default(),
            y.unwrap_or_default()
        )),
    };
    doc.card = Some(Card {
        cardholder: g("cardholderName"),
        brand: g("brand"),
        number: g("number"),
        expiry,
        code: g("code"),
    });
}

fn identity(doc: &mut Doc, i: Option<&Value>) {
    let Some(i) = i else { return };
    unknown(doc, "identity", i, &IDENTITY);
    let g = |k: &str| str_of(i, k).filter(|s| !s.is_empty());
    doc.username = g("username");
    doc.identity = Some(Identity {
        title: g("title"),
        first_name: g("firstName"),
        middle_name: g("middleName"),
        last_name: g("lastName"),
        company: g("company"),
        email: g("email"),
        phone: g("phone"),
        address1: g("address1"),
        address2: g("address2"),
        address3: g("address3"),
        city: g("city"),
        state: g("state"),
        postal_code: g("postalCode"),
        country: g("country"),
        ssn: g("ssn"),
        passport_number: g("passportNumber"),
        license_number: g("licenseNumber"),
    });
}

fn ssh_key(doc: &mut Doc, k: Option<&Value>) {
    let Some(k) = k else { return };
    for (key, name, hidden) in [
        ("privateKey", "private key", true),
        ("publicKey", "public key", false),
        ("keyFingerprint", "fingerprint", false),
    ] {
        if let Some(v) = str_of(k, key) {
            common::field(doc, name, v, hidden);
        }
    }
}
