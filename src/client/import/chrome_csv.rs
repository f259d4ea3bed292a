//! Chrome's and Edge's "Export passwords" CSV: name, url, username,
//! password, and (newer versions) note.

use super::{Items, common};

pub fn parse(text: &str) -> Result<Items, String> {
    common::map_csv(
        text,
        "chrome-csv",
        &["name", "url", "username", "password"],
        "name",
        |place, row| {
            let mut doc = common::doc("login", &row.take("name").unwrap_or_default());
            doc.urls = row.take("url").into_iter().collect();
            doc.username = row.take("username");
            doc.notes = row.take("note");
            let password = row.take("password").unwrap_or_default();
            Ok(common::item(place, "password", doc, password))
        },
    )
}
