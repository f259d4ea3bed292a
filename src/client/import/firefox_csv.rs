//! Firefox's "Export Logins" CSV: url, username, password, httpRealm,
//! formActionOrigin, guid, timeCreated, timeLastUsed, timePasswordChanged
//! (milliseconds since 1970). Firefox has no names: the host is the name.

use super::{Items, common};

pub fn parse(text: &str) -> Result<Items, String> {
    common::map_csv(
        text,
        "firefox-csv",
        &["url", "username", "password"],
        "url",
        |place, row| {
            let url = row.take("url").unwrap_or_default();
            let mut doc = common::doc("login", &common::host_of(&url));
            doc.urls = vec![url].into_iter().filter(|u| !u.is_empty()).collect();
            doc.username = row.take("username");
            if let Some(realm) = row.take("httpRealm") {
                common::field(&mut doc, "HTTP realm", realm, false);
            }
            if let Some(form) = row.take("formActionOrigin") {
                common::field(&mut doc, "form action origin", form, false);
            }
            // Firefox's own identifier: nothing outside Firefox uses it.
            let _ = row.take("guid");
            let created = row.take("timeCreated");
            let changed = row.take("timePasswordChanged");
            common::dates(&mut doc, created.as_deref(), changed.as_deref());
            if let Some(used) = row.take("timeLastUsed").and_then(|t| common::date(&t)) {
                common::field(&mut doc, "last used", used, false);
            }
            let password = row.take("password").unwrap_or_default();
            Ok(common::item(place, "login", doc, password))
        },
    )
}
