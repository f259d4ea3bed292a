//! KeePassXC's CSV export ("Database > Export > CSV file"): Group, Title,
//! Username, Password, URL, Notes, TOTP, Icon, Last Modified, Created (and
//! whatever columns a newer KeePassXC adds, kept as custom fields). The
//! group path becomes the folder; the recycle bin is skipped, and said so.

use super::{Items, common};

pub fn parse(text: &str) -> Result<Items, String> {
    common::map_csv(
        text,
        "keepassxc-csv",
        &["Group", "Title", "Username", "Password", "URL"],
        "Title",
        |place, row| {
            let group = row.take("Group").unwrap_or_default();
            let title = row.take("Title").unwrap_or_default();
            if group.split('/').any(|p| p == "Recycle Bin") {
                return Err(common::skipped(
                    place,
                    &title,
                    "entry",
                    "in the KeePassXC recycle bin (deleted there)",
                ));
            }
            let mut doc = common::doc("login", &title);
            doc.folder = folder_of(&group);
            doc.username = row.take("Username");
            doc.urls = row.take("URL").into_iter().collect();
            doc.notes = row.take("Notes");
            doc.totp = row.take("TOTP");
            // The icon number only means something inside KeePass.
            if let Some(icon) = row.take("Icon").filter(|i| i != "0") {
                common::field(&mut doc, "KeePass icon", icon, false);
            }
            let (c, u) = (row.take("Created"), row.take("Last Modified"));
            common::dates(&mut doc, c.as_deref(), u.as_deref());
            let password = row.take("Password").unwrap_or_default();
            Ok(common::item(place, "entry", doc, password))
        },
    )
}

/// `Root/Work/Git` → `Work/Git`; the root alone is no folder.
pub fn folder_of(group: &str) -> Option<String> {
    let mut parts: Vec<&str> = group.split('/').collect();
    if parts.len() > 1 || parts.first().is_some_and(|p| *p == "Root") {
        parts.remove(0);
    }
    let f = parts.join("/");
    (!f.is_empty()).then_some(f)
}
