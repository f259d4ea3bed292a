//! The only place where the client writes to the server: `/add`,
//! `/change`, `/delete`. Every entry write of every command goes through
//! these three functions, and each through the sync layer (sync.rs: the
//! write's `base_seq` and the manifest of the state after it).

use super::api::{Change, HttpError, Write};
use super::entry::Sealed;
use super::{Error, Session};

impl Session {
    /// `/add` of a sealed entry; `SiteExists` if its site has one.
    pub(crate) fn write_add(&self, sealed: &Sealed, label: &str) -> Result<(), Error> {
        self.write(&Write::Add {
            site: &sealed.site,
            username: Some(&sealed.username),
            password: &sealed.password,
        })
        .map_err(|e| match e {
            Error::Api(HttpError::Conflict { .. }) => Error::SiteExists(label.to_owned()),
            e => e,
        })?;
        Ok(())
    }

    /// `/change` of both fields if the entry is still at `version`.
    /// Returns the new version.
    pub(crate) fn write_change(
        &self,
        sealed: &Sealed,
        version: i64,
        label: &str,
    ) -> Result<i64, Error> {
        let change = Change {
            site: sealed.site.clone(),
            password: Some(sealed.password.clone()),
            username: Some(Some(sealed.username.clone())),
            version: Some(version),
        };
        let written = self.write(&Write::Change(&change)).map_err(|e| match e {
            Error::Api(HttpError::Conflict { .. }) => Error::ChangedElsewhere(label.to_owned()),
            Error::Api(HttpError::NotFound { .. }) => Error::NoSuchSite(label.to_owned()),
            e => e,
        })?;
        Ok(written.version.unwrap_or(version + 1))
    }

    /// `/delete` of the entry stored under `wire_site`.
    pub(crate) fn write_delete(&self, wire_site: &str, label: &str) -> Result<(), Error> {
        self.write(&Write::Delete { site: wire_site })
            .map(|_| ())
            .map_err(|e| match e {
                Error::Api(HttpError::NotFound { .. }) => Error::NoSuchSite(label.to_owned()),
                e => e,
            })
    }
}
