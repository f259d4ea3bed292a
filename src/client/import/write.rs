//! Duplicate names and the writes. An entry's `site` is the hash of its
//! normalised name, so two entries cannot share a name: a duplicate (in the
//! file, or with the vault) is renamed `GitHub (2)`, skipped, or
//! overwrites, as `--on-duplicate` says, and every skip says so.

use std::collections::HashMap;

use super::{Item, Skipped, common};
use crate::client::api::HttpError;
use crate::client::crypto::normalise_site;
use crate::client::entry;
use crate::client::{Error, Session, authed};

/// `--on-duplicate`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Duplicate {
    Rename,
    Skip,
    Overwrite,
}

impl std::str::FromStr for Duplicate {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "rename" => Ok(Duplicate::Rename),
            "skip" => Ok(Duplicate::Skip),
            "overwrite" => Ok(Duplicate::Overwrite),
            _ => Err(format!(
                "unknown --on-duplicate `{s}`: expected rename, skip or overwrite"
            )),
        }
    }
}

/// An entry already in the vault.
pub struct Existing {
    pub name: String,
    pub wire_site: String,
    pub version: i64,
}

/// One item to write.
pub struct Planned {
    pub item: Item,
    /// The name in the file, when it was renamed.
    pub renamed_from: Option<String>,
    /// The vault entry it replaces (`--on-duplicate overwrite`).
    pub replaces: Option<(String, i64)>,
}

/// What an import will do.
pub struct Plan {
    pub writes: Vec<Planned>,
    /// Items left out because of their name (each with its line).
    pub skipped: Vec<Skipped>,
}

/// The entries of the vault (names only; nothing else is opened).
pub fn existing(session: &Session) -> Result<Vec<Existing>, Error> {
    // The snapshot checked against the manifest, like every read.
    let all = session.synced_entries()?;
    let mut out = Vec::with_capacity(all.len());
    for w in all {
        let Some(blob) = w.username.as_deref() else {
            continue;
        };
        if let Ok(doc) = entry::open_doc(&session.key, &w.site, blob, &w.updated_at) {
            out.push(Existing {
                name: doc.name.clone(),
                wire_site: w.site,
                version: w.version,
            });
        }
    }
    Ok(out)
}

/// Resolves duplicate names of `items` among themselves and with `vault`.
pub fn plan(items: Vec<Item>, vault: &[Existing], on_duplicate: Duplicate) -> Plan {
    let mut taken: HashMap<String, Option<usize>> = HashMap::new(); // name → vault index
    for (i, e) in vault.iter().enumerate() {
        taken.insert(normalise_site(&e.name), Some(i));
    }
    let mut in_file: HashMap<String, usize> = HashMap::new(); // name → index in writes
    let mut plan = Plan {
        writes: Vec::new(),
        skipped: Vec::new(),
    };
    for mut item in items {
        let key = normalise_site(&item.doc.name);
        let earlier = in_file.get(&key).copied();
        let in_vault = taken.get(&key).copied().flatten();
        if earlier.is_none() && !taken.contains_key(&key) {
            in_file.insert(key.clone(), plan.writes.len());
            taken.insert(key, None);
            plan.writes.push(Planned {
                item,
                renamed_from: None,
                replaces: None,
            });
            continue;
        }
        let where_ = match earlier {
            Some(i) => format!("as {}", plan.writes[i].item.place),
            None => "in the vault".to_owned(),
        };
        match on_duplicate {
            Duplicate::Rename => {
                let base = item.doc.name.clone();
                let new = (2..)
                    .map(|n| format!("{base} ({n})"))
                    .find(|n| !taken.contains_key(&normalise_site(n)))
                    .expect("a free name");
                item.doc.name = new.clone();
                let k = normalise_site(&new);
                in_file.insert(k.clone(), plan.writes.len());
                taken.insert(k, None);
                plan.writes.push(Planned {
                    item,
                    renamed_from: Some(base),
                    replaces: None,
                });
            }
            Duplicate::Skip => plan.skipped.push(common::skipped(
                item.place.clone(),
                &item.doc.name,
                &item.source_kind,
                format!("the name is already taken {where_} (--on-duplicate skip)"),
            )),
            Duplicate::Overwrite => {
                let replaces = in_vault.map(|i| (vault[i].wire_site.clone(), vault[i].version));
                let planned = Planned {
                    item,
                    renamed_from: None,
                    replaces,
                };
                match earlier {
                    Some(i) => overwrite_earlier(&mut plan, i, planned),
                    None => {
                        in_file.insert(key, plan.writes.len());
                        plan.writes.push(planned);
                    }
                }
            }
        }
    }
    plan
}

/// The later item of the file wins over the earlier one of its name
/// (which keeps the vault entry it replaces); the earlier one is named.
fn overwrite_earlier(plan: &mut Plan, i: usize, planned: Planned) {
    let old = std::mem::replace(&mut plan.writes[i], planned);
    let by = plan.writes[i].item.place.clone();
    plan.writes[i].replaces = old.replaces;
    plan.skipped.push(common::skipped(
        old.item.place.clone(),
        &old.item.doc.name,
        &old.item.source_kind,
        format!("overwritten by {by} of the same name (--on-duplicate overwrite)"),
    ));
}

/// What [`write`] did.
pub struct Outcome {
    pub imported: usize,
    /// Items the server or the sealing refused, each with why.
    pub failed: Vec<Skipped>,
}

/// Writes the plan; `progress(done, total)` after each item. An error that
/// is not about one item (server unreachable, session ended) stops it.
pub fn write(
    session: &Session,
    plan: Plan,
    mut progress: impl FnMut(usize, usize),
) -> Result<Outcome, Error> {
    let total = plan.writes.len();
    let mut out = Outcome {
        imported: 0,
        failed: Vec::new(),
    };
    for (i, p) in plan.writes.into_iter().enumerate() {
        let fail = |why: String| {
            common::skipped(
                p.item.place.clone(),
                &p.item.doc.name,
                &p.item.source_kind,
                why,
            )
        };
        match write_one(session, &p) {
            Ok(()) => out.imported += 1,
            Err(Failed::Entry(why)) => out.failed.push(fail(why)),
            Err(Failed::Client(e)) => match e {
                Error::Api(HttpError::BadRequest { message }) => out
                    .failed
                    .push(fail(format!("refused by the server: {message}"))),
                Error::Api(HttpError::Conflict { .. })
                | Error::SiteExists(_)
                | Error::ChangedElsewhere(_) => out
                    .failed
                    .push(fail("an entry of this name appeared meanwhile".into())),
                e => return Err(e),
            },
        }
        progress(i + 1, total);
    }
    Ok(out)
}

/// Why one write failed: the entry itself (too large…), or the client.
enum Failed {
    Entry(String),
    Client(Error),
}

impl From<HttpError> for Failed {
    fn from(e: HttpError) -> Self {
        Failed::Client(authed(e))
    }
}

fn write_one(session: &Session, p: &Planned) -> Result<(), Failed> {
    let mut doc = p.item.doc.clone();
    let sealed = entry::seal(&session.key, &mut doc, &p.item.password)
        .map_err(|e| Failed::Entry(e.to_string()))?;
    let label = &p.item.doc.name;
    // Through the session's three writes: each sends `base_seq` and the
    // manifest of the vault after it (sync.rs).
    match &p.replaces {
        Some((site, version)) if *site == sealed.site => {
            session
                .write_change(&sealed, *version, label)
                .map_err(Failed::Client)?;
        }
        Some((old_site, _)) => {
            // A vault 0.1 entry filed under its name's old hash: add, then delete.
            session.write_add(&sealed, label).map_err(Failed::Client)?;
            session
                .write_delete(old_site, label)
                .map_err(Failed::Client)?;
        }
        None => session.write_add(&sealed, label).map_err(Failed::Client)?,
    }
    Ok(())
}
