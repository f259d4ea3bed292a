//! LastPass's CSV export: url, username, password, totp, extra, name,
//! grouping, fav. A secure note has the url `http://sn`; a typed one holds
//! `NoteType:…` and `Key:Value` lines in `extra` (credit cards become
//! cards, addresses identities, the rest notes with custom fields).

use super::{Items, common};
use crate::client::entry::{Card, Doc, Identity};

pub fn parse(text: &str) -> Result<Items, String> {
    common::map_csv(
        text,
        "lastpass-csv",
        &["url", "username", "password", "extra", "name", "grouping"],
        "name",
        |place, row| {
            let url = row.take("url").unwrap_or_default();
            let name = row.take("name").unwrap_or_default();
            let extra = row.take("extra").unwrap_or_default();
            let note = url == "http://sn";
            let mut doc = common::doc(if note { "note" } else { "login" }, &name);
            doc.folder = row.take("grouping");
            doc.favourite = row.take("fav").is_some_and(|f| f == "1");
            doc.username = row.take("username");
            doc.totp = row.take("totp");
            let password = row.take("password").unwrap_or_default();
            let source = if note {
                secure_note(&mut doc, &extra)
            } else {
                doc.urls = vec![url].into_iter().filter(|u| !u.is_empty()).collect();
                doc.notes = Some(extra).filter(|e| !e.is_empty());
                "login"
            };
            Ok(common::item(place, source, doc, password))
        },
    )
}

/// `NoteType:X` then `Key:Value` lines; `Notes:` takes the rest.
fn secure_note(doc: &mut Doc, extra: &str) -> &'static str {
    let Some(rest) = extra.strip_prefix("NoteType:") else {
        doc.notes = Some(extra.to_owned()).filter(|e| !e.is_empty());
        return "secure note";
    };
    let (kind, body) = rest.split_once('\n').unwrap_or((rest, ""));
    let mut pairs: Vec<(String, String)> = Vec::new();
    let mut lines = body.split('\n');
    while let Some(line) = lines.next() {
        let (k, v) = line.split_once(':').unwrap_or((line, ""));
        if k == "Notes" {
            let rest: Vec<&str> = std::iter::once(v).chain(lines.by_ref()).collect();
            doc.notes = Some(rest.join("\n")).filter(|n| !n.is_empty());
            break;
        }
        if !k.is_empty() || !v.is_empty() {
            pairs.push((k.to_owned(), v.to_owned()));
        }
    }
    let mut take = |k: &str| {
        let i = pairs.iter().position(|(n, _)| n == k)?;
        Some(pairs.remove(i).1).filter(|v| !v.is_empty())
    };
    let source = match kind {
        "Credit Card" => {
            doc.kind = "card".into();
            doc.card = Some(Card {
                cardholder: take("Name on Card"),
                brand: take("Type"),
                number: take("Number"),
                code: take("Security Code"),
                expiry: take("Expiration Date"),
            });
            "credit card"
        }
        "Address" => {
            doc.kind = "identity".into();
            doc.identity = Some(Identity {
                title: take("Title"),
                first_name: take("First Name"),
                middle_name: take("Middle Name"),
                last_name: take("Last Name"),
                company: take("Company"),
                email: take("Email Address"),
                phone: take("Phone"),
                address1: take("Address 1"),
                address2: take("Address 2"),
                address3: take("Address 3"),
                city: take("City / Town"),
                state: take("State"),
                postal_code: take("Zip / Postal Code"),
                country: take("Country"),
                ..Identity::default()
            });
            if doc.username.is_none() {
                doc.username = take("Username");
            }
            "address"
        }
        _ => "secure note",
    };
    common::field(doc, "LastPass note type", kind, false);
    for (k, v) in pairs {
        let hidden = common::looks_secret(&k);
        common::field(doc, &k, v, hidden);
    }
    source
}
