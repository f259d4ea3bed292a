//! Bitwarden's CSV export: logins and secure notes (Bitwarden writes no
//! cards or identities to CSV). `fields` holds one `name: value` a line;
//! `login_uri` several URIs separated by commas.

use super::{Items, common};

pub fn parse(text: &str) -> Result<Items, String> {
    common::map_csv(
        text,
        "bitwarden-csv",
        &["name", "login_uri", "login_username", "login_password"],
        "name",
        |place, row| {
            let kind = row.take("type").unwrap_or_else(|| "login".into());
            let (to, source) = match kind.as_str() {
                "login" => ("login", "login"),
                "note" => ("note", "secure note"),
                other => {
                    return Err(common::skipped(
                        place,
                        "",
                        other,
                        format!("an item of type `{other}`, which bitwarden-csv does not define"),
                    ));
                }
            };
            let mut doc = common::doc(to, &row.take("name").unwrap_or_default());
            doc.folder = row.take("folder");
            doc.favourite = row
                .take("favorite")
                .is_some_and(|f| f == "1" || f == "true");
            doc.notes = row.take("notes");
            doc.username = row.take("login_username");
            doc.totp = row.take("login_totp");
            if let Some(uris) = row.take("login_uri") {
                doc.urls = uris
                    .split(',')
                    .map(|u| u.trim().to_owned())
                    .filter(|u| !u.is_empty())
                    .collect();
            }
            if row.take("reprompt").is_some_and(|r| r == "1") {
                common::field(&mut doc, "reprompt", "master password", false);
            }
            if let Some(fields) = row.take("fields") {
                for line in fields.lines() {
                    let (n, v) = line.split_once(": ").unwrap_or((line, ""));
                    doc.fields.push(crate::client::entry::CustomField {
                        name: n.to_owned(),
                        value: v.to_owned(),
                        hidden: false,
                    });
                }
            }
            let password = row.take("login_password").unwrap_or_default();
            Ok(common::item(place, source, doc, password))
        },
    )
}
