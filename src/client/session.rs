//! A logged-in session: reading, writing and re-indexing entries (format
//! 2, docs/CRYPTO.md), password changes, export and import. The writes
//! themselves are in `writes.rs`.

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use zeroize::Zeroizing;

use super::api::{Api, HttpError, Token, WireEntry};
use super::crypto::{self, CryptoError, Kek, VaultKey};
use super::entry::{self, Doc};
use super::{Error, authed, opaque};

/// A decrypted entry.
pub struct Entry {
    pub doc: Doc,
    pub password: Zeroizing<String>,
    pub version: i64,
    pub updated_at: String,
    /// 1 or 2: the format it is stored in.
    pub format: u8,
    /// The `site` it is stored under.
    pub wire_site: String,
}

impl Entry {
    /// The name as it was entered (trimmed).
    pub fn site(&self) -> &str {
        &self.doc.name
    }

    pub fn username(&self) -> Option<&str> {
        self.doc.username.as_deref()
    }
}

/// An entry without its password (what `ls` and `search` look at).
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    pub doc: Doc,
    pub version: i64,
    pub updated_at: String,
    pub format: u8,
    pub wire_site: String,
}

impl Summary {
    pub fn site(&self) -> &str {
        &self.doc.name
    }

    pub fn username(&self) -> Option<&str> {
        self.doc.username.as_deref()
    }
}

/// The result of [`Session::list`].
pub struct Listing {
    /// Entries that decrypted and are not in the trash, sorted by
    /// normalised name.
    pub entries: Vec<Summary>,
    /// Entries in the trash, sorted the same way.
    pub trashed: Vec<Summary>,
    /// Wire `site` values of entries that failed to decrypt or verify.
    pub unreadable: Vec<String>,
}

/// What [`Session::edit`] changes. `None` leaves a field as it is.
#[derive(Default)]
pub struct Edit {
    /// `Some(None)` clears the entry's username.
    pub username: Option<Option<String>>,
    pub password: Option<Zeroizing<String>>,
}

/// Logged in: holds the token and the vault key (both wiped on drop).
pub struct Session {
    pub(crate) api: Api,
    pub(crate) username: String,
    pub(crate) token: Token,
    pub(crate) key: VaultKey,
    /// The verified snapshot every read comes from (sync.rs).
    pub(crate) sync: super::sync::SyncState,
}

fn by_name(a: &Summary, b: &Summary) -> std::cmp::Ordering {
    crypto::normalise_site(a.site())
        .cmp(&crypto::normalise_site(b.site()))
        .then_with(|| a.site().cmp(b.site()))
}

impl Session {
    /// The normalised username.
    pub fn username(&self) -> &str {
        &self.username
    }

    /// The session token (e.g. for tests driving the API directly).
    pub fn token(&self) -> &Token {
        &self.token
    }

    /// The vault key (for tests and tooling that seal entries themselves).
    pub fn vault_key(&self) -> &VaultKey {
        &self.key
    }

    /// The wire `site` for a readable site name.
    pub fn site_id(&self, site: &str) -> Result<String, Error> {
        Ok(self.key.site_id(site)?)
    }

    /// Adds a login; `SiteExists` if the site has an entry.
    pub fn add(&self, site: &str, username: Option<&str>, password: &str) -> Result<(), Error> {
        let mut doc = Doc::new("login", site);
        doc.username = username.map(str::to_owned);
        self.add_doc(doc, password)
    }

    /// Adds an entry in format 2.
    pub fn add_doc(&self, mut doc: Doc, password: &str) -> Result<(), Error> {
        if doc.name.chars().any(char::is_control) {
            return Err(Error::InvalidSiteName(doc.name.clone()));
        }
        let sealed = entry::seal(&self.key, &mut doc, password)?;
        self.write_add(&sealed, &doc.name)
    }

    /// The entry stored under `id`, `None` if there is none.
    fn fetch(&self, id: &str, label: &str) -> Result<Option<WireEntry>, Error> {
        // From the snapshot checked against the manifest, never a separate
        // `/get` that the check did not see.
        let Some(wire) = self.synced_entry(id)? else {
            return Ok(None);
        };
        if wire.site != id {
            return Err(Error::Tampered {
                site: label.to_owned(),
                cause: CryptoError::SiteMismatch,
            });
        }
        Ok(Some(wire))
    }

    fn open(&self, wire: WireEntry, label: &str) -> Result<Entry, Error> {
        let opened = entry::open(
            &self.key,
            &wire.site,
            wire.username.as_deref(),
            &wire.password,
            &wire.updated_at,
        )
        .map_err(|cause| Error::Tampered {
            site: label.to_owned(),
            cause,
        })?;
        Ok(Entry {
            doc: opened.doc,
            password: opened.password,
            version: wire.version,
            updated_at: wire.updated_at,
            format: opened.format,
            wire_site: wire.site,
        })
    }

    /// Fetches and decrypts the entry named `site` (trashed or not); any
    /// verification failure is [`Error::Tampered`] and nothing is
    /// returned. An entry vault 0.1 filed under the name's old hash is
    /// re-indexed on the way.
    pub fn get(&self, site: &str) -> Result<Entry, Error> {
        let label = site.trim();
        let id = self.key.site_id(site)?;
        if let Some(wire) = self.fetch(&id, label)? {
            return self.open(wire, label);
        }
        let old = URL_SAFE_NO_PAD.encode(self.key.site_hash_v1(site)?);
        if old != id
            && let Some(wire) = self.fetch(&old, label)?
        {
            let e = self.open(wire, label)?;
            if e.format == 1 {
                return self.reindex(e);
            }
        }
        Err(Error::NoSuchSite(label.to_owned()))
    }

    /// Moves a format 1 entry to the site its name has under the NFC rule
    /// (docs/CRYPTO.md "Re-indexing"): add there, then delete the old one.
    /// Returns the entry as it is now.
    fn reindex(&self, old: Entry) -> Result<Entry, Error> {
        let label = old.site().to_owned();
        let new_id = self.key.site_id(old.site())?;
        let mut doc = old.doc.clone();
        let sealed = entry::seal(&self.key, &mut doc, &old.password)?;
        match self.write_add(&sealed, &label) {
            Ok(()) => {}
            Err(Error::SiteExists(_)) => {
                let there = self
                    .fetch(&new_id, &label)?
                    .map(|w| self.open(w, &label))
                    .transpose()?;
                let same = there.as_ref().is_some_and(|t| {
                    t.doc.name == old.doc.name
                        && t.doc.username == old.doc.username
                        && *t.password == *old.password
                });
                if !same {
                    // Two entries the user made: leave both.
                    return Ok(old);
                }
            }
            Err(e) => return Err(e),
        }
        self.write_delete(&old.wire_site, &label)?;
        let wire = self
            .fetch(&new_id, &label)?
            .ok_or_else(|| Error::NoSuchSite(label.clone()))?;
        self.open(wire, &label)
    }

    /// Every entry's document (passwords stay sealed), re-indexing format
    /// 1 entries whose hash used the old rule.
    pub fn list(&self) -> Result<Listing, Error> {
        let mut listing = self.list_once()?;
        let stale: Vec<Summary> = listing
            .entries
            .iter()
            .chain(&listing.trashed)
            .filter(|s| {
                s.format == 1 && self.key.site_id(s.site()).ok().as_ref() != Some(&s.wire_site)
            })
            .cloned()
            .collect();
        if stale.is_empty() {
            return Ok(listing);
        }
        for s in stale {
            if let Some(wire) = self.fetch(&s.wire_site, s.site())? {
                let e = self.open(wire, s.site())?;
                self.reindex(e)?;
            }
        }
        listing = self.list_once()?;
        Ok(listing)
    }

    fn list_once(&self) -> Result<Listing, Error> {
        Ok(self.listing_of(self.synced_entries()?))
    }

    /// [`list`](Self::list) of the snapshot as it is, without asking the
    /// server (an agent's shell completion).
    pub fn list_copy(&self) -> Listing {
        self.listing_of(self.copy().map(|c| c.entries).unwrap_or_default())
    }

    fn listing_of(&self, all: Vec<WireEntry>) -> Listing {
        let mut listing = Listing {
            entries: Vec::with_capacity(all.len()),
            trashed: Vec::new(),
            unreadable: Vec::new(),
        };
        for w in all {
            let blob = w.username.as_deref().ok_or(CryptoError::Malformed);
            let opened = blob.and_then(|b| {
                let doc = entry::open_doc(&self.key, &w.site, b, &w.updated_at)?;
                Ok((doc, crypto::blob_version(b)?))
            });
            match opened {
                Ok((doc, format)) => {
                    let s = Summary {
                        doc,
                        version: w.version,
                        updated_at: w.updated_at,
                        format,
                        wire_site: w.site,
                    };
                    if s.doc.trashed_at.is_some() {
                        listing.trashed.push(s);
                    } else {
                        listing.entries.push(s);
                    }
                }
                Err(_) => listing.unreadable.push(w.site),
            }
        }
        listing.entries.sort_by(by_name);
        listing.trashed.sort_by(by_name);
        listing
    }

    /// Every entry (trashed ones too), decrypted, sorted by normalised
    /// name. Fails as a whole if any entry does not verify.
    pub fn get_all(&self) -> Result<Vec<Entry>, Error> {
        let all = self.synced_entries()?;
        let mut out = Vec::with_capacity(all.len());
        for w in all {
            // Name the entry by its readable site if that much decrypts.
            let label = w
                .username
                .as_deref()
                .and_then(|b| entry::open_doc(&self.key, &w.site, b, "").ok())
                .map_or_else(|| w.site.clone(), |d| d.name.clone());
            out.push(self.open(w, &label)?);
        }
        out.sort_by_key(|e| crypto::normalise_site(e.site()));
        Ok(out)
    }

    /// Changes the entry named `site` with `change(doc, password)`, if
    /// nobody changed it since it was read (the `version` check). The
    /// entry is written in format 2; a changed password goes to the
    /// history. Returns the new version.
    pub fn modify(
        &self,
        site: &str,
        change: impl FnOnce(&mut Doc, &mut Zeroizing<String>) -> Result<(), Error>,
    ) -> Result<i64, Error> {
        let current = self.get(site)?;
        self.modify_entry(&current, change)
    }

    /// [`Session::modify`] of an entry already read (one request fewer);
    /// the write still fails if the entry changed since.
    pub fn modify_entry(
        &self,
        current: &Entry,
        change: impl FnOnce(&mut Doc, &mut Zeroizing<String>) -> Result<(), Error>,
    ) -> Result<i64, Error> {
        let mut doc = current.doc.clone();
        let mut password = current.password.clone();
        change(&mut doc, &mut password)?;
        if doc.name != current.doc.name {
            return Err(Error::InvalidSiteName(doc.name.clone()));
        }
        if *password != *current.password {
            doc.push_history(&current.password);
        }
        doc.updated = entry::now();
        let sealed = entry::seal(&self.key, &mut doc, &password)?;
        if sealed.site != current.wire_site {
            // Only a format 1 entry left where it was (a conflict).
            return Err(Error::ChangedElsewhere(current.site().to_owned()));
        }
        self.write_change(&sealed, current.version, current.site())
    }

    /// Changes username and/or password. Returns the new version.
    pub fn edit(&self, site: &str, edit: Edit) -> Result<i64, Error> {
        self.modify(site, |doc, password| {
            if let Some(u) = edit.username {
                doc.username = u;
            }
            if let Some(p) = edit.password {
                *password = p;
            }
            Ok(())
        })
    }

    /// Deletes the entry named `site` from the server, for good.
    pub fn remove(&self, site: &str) -> Result<(), Error> {
        let e = self.get(site)?;
        self.write_delete(&e.wire_site, site.trim())
    }

    /// Changes the master password: a new OPAQUE registration through
    /// `/account/password`, with the same vault key re-wrapped under the
    /// new export key. Entries are untouched. Every other session ends;
    /// the returned one is valid.
    pub fn change_password(self, new_password: &str) -> Result<Session, Error> {
        if new_password.is_empty() {
            return Err(Error::EmptyPassword);
        }
        let reauth = |e: HttpError| match e {
            HttpError::Forbidden { .. } => Error::ReauthRequired,
            e => authed(e),
        };
        let (state, request) = opaque::start_registration(new_password.as_bytes())?;
        let start = self
            .api
            .account_password(&self.token, &request)
            .map_err(reauth)?;
        let fin = opaque::finish_registration(state, new_password.as_bytes(), &start.response)?;
        let kek = Kek::from_export_key(&fin.export_key[..]);
        let wrapped = self.key.wrap(&kek)?;
        let session = self
            .api
            .account_password_finish(
                &self.token,
                start.registration_id.as_deref(),
                &fin.upload,
                Some(&wrapped),
            )
            .map_err(reauth)?;
        Ok(Session {
            token: session.token,
            ..self
        })
    }
    /// Ends every session of this user (`/logout`).
    pub fn logout(self) -> Result<(), Error> {
        self.api.logout(&self.token).map_err(authed)
    }
    /// Deletes the account and every entry.
    pub fn delete_account(self) -> Result<(), Error> {
        self.api.account_delete(&self.token).map_err(|e| match e {
            HttpError::Forbidden { .. } => Error::ReauthRequired,
            e => authed(e),
        })
    }
}
