//! The only place where the client writes to the server: `/add`,
//! `/change`, `/delete`. Every entry write of every command goes through
//! these three functions, so that the sync layer (issue 14: `base_seq` and
//! the sealed manifest) has one place to hook in.

use super::api::{ApiError, Change};
use super::entry::Sealed;
use super::{Error, Session, authed};

impl Session {
    /// `/add` of a sealed entry; `SiteExists` if its site has one.
    pub(crate) fn write_add(&self, sealed: &Sealed, label: &str) -> Result<(), Error> {
        self.api
            .add(
                &self.token,
                &sealed.site,
                &sealed.password,
                Some(&sealed.username),
            )
            .map_err(|e| match e {
                ApiError::Conflict { .. } => Error::SiteExists(label.to_owned()),
                e => authed(e),
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
        self.api.change(&self.token, &change).map_err(|e| match e {
            ApiError::Conflict { .. } => Error::ChangedElsewhere(label.to_owned()),
            ApiError::NotFound { .. } => Error::NoSuchSite(label.to_owned()),
            e => authed(e),
        })
    }

    /// `/delete` of the entry stored under `wire_site`.
    pub(crate) fn write_delete(&self, wire_site: &str, label: &str) -> Result<(), Error> {
        self.api
            .delete(&self.token, wire_site)
            .map_err(|e| match e {
                ApiError::NotFound { .. } => Error::NoSuchSite(label.to_owned()),
                e => authed(e),
            })
    }
}
