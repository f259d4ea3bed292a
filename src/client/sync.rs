//! Sync and the write protocol of API 1.1, checked against the manifest
//! ([`super::manifest`]) and against the highest `seq` this device has
//! verified ([`StateFile`]).
//!
//! A [`Session`] keeps one snapshot of the vault (`/sync` since 0, then only
//! what changed) and serves every read from it, so what is shown is what was
//! checked. Every write sends `base_seq` and the manifest of the state after
//! the write; a `409` on `base_seq` (another device wrote) makes it sync,
//! check, recompute and retry, up to [`MAX_ATTEMPTS`] times. A write never
//! seals a manifest over a state that failed the check: only
//! [`Session::reseal`] does, when the user says so.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

pub use super::state::StateFile;

use super::api::{Change, HttpError, SyncAnswer, WireEntry, Write, Written};
use super::manifest::{self, Manifest, ManifestKey, Mismatch};
use super::{Error, Session, authed};

/// Tries of one write before giving up on a vault that keeps changing.
pub const MAX_ATTEMPTS: usize = 5;
/// The readable site name of the entry [`Session::reseal`] adds and deletes
/// again when the vault is empty.
pub const RESEAL_SITE: &str = "vault reseal";

/// The sync state of a [`Session`].
#[derive(Default)]
pub struct SyncState(Mutex<Inner>);

#[derive(Default)]
struct Inner {
    snapshot: Option<Snapshot>,
    /// `Some(None)`: keep no state file; `None`: the default one.
    state_file: Option<Option<PathBuf>>,
    /// A mismatch fails every read and write ([`Error::Unverified`]).
    strict: bool,
    /// Otherwise each new mismatch goes here, once.
    warn: Option<Warn>,
    reported: Option<Mismatch>,
    /// A snapshot handed over by an agent ([`Session::adopt`]), and when
    /// it was last synced: while the server cannot be reached, reads are
    /// answered from it (with one warning naming its age).
    copy_synced: Option<Instant>,
    offline_warned: bool,
}

type Warn = Box<dyn Fn(&dyn std::fmt::Display) + Send>;

/// A vault as the server sent it: what an agent keeps and hands to the
/// commands it serves (every field still sealed).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct SealedCopy {
    pub seq: i64,
    pub entries: Vec<WireEntry>,
    pub manifest: Option<String>,
}

/// The server cannot be reached (or has no database): a copy may answer.
pub fn is_offline(e: &HttpError) -> bool {
    matches!(
        e,
        HttpError::Unreachable { .. } | HttpError::Unavailable { .. }
    )
}

/// `90 s` → "1 min 30 s".
pub fn age(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        0..60 => format!("{s} s"),
        60..3600 => format!("{} min {} s", s / 60, s % 60),
        _ => format!("{} h {} min", s / 3600, (s % 3600) / 60),
    }
}

struct Snapshot {
    seq: i64,
    /// Every entry by `site`; a BTreeMap of `String` is in byte order.
    entries: BTreeMap<String, WireEntry>,
    manifest: Option<String>,
    /// The highest seq verified before this snapshot (from the state file).
    seen: i64,
    verdict: Result<(), Mismatch>,
}

impl Snapshot {
    /// A write may seal a new manifest over this state: it verified, or
    /// the vault never had one and this device never verified it (trust on
    /// first use; a device that did verify one treats its loss as an attack).
    fn endorsable(&self) -> bool {
        match &self.verdict {
            Ok(()) => true,
            Err(Mismatch::ManifestMissing { .. }) => self.seen == 0,
            Err(_) => false,
        }
    }

    /// The entries after `write`, the changed one with its next version.
    fn after<'a>(&'a self, write: &Write<'_>) -> (Vec<&'a WireEntry>, Option<WireEntry>) {
        let site = site_of(write);
        let rest = self.entries.values().filter(|e| e.site != site).collect();
        (rest, apply(self.entries.get(site), write, None))
    }
}

/// The entry `write` leaves for its site (`None` after `/delete`), with
/// `version` or the one the server will give it.
fn apply(old: Option<&WireEntry>, write: &Write<'_>, version: Option<i64>) -> Option<WireEntry> {
    match write {
        Write::Add {
            site,
            username,
            password,
        } => Some(WireEntry {
            site: (*site).to_owned(),
            username: username.map(str::to_owned),
            password: (*password).to_owned(),
            version: version.unwrap_or(1),
            updated_at: String::new(),
        }),
        Write::Change(c) => {
            let mut e = old?.clone();
            e.version = version.unwrap_or(e.version + 1);
            if let Some(p) = &c.password {
                e.password = p.clone();
            }
            if let Some(u) = &c.username {
                e.username = u.clone();
            }
            Some(e)
        }
        Write::Delete { .. } => None,
    }
}

/// The outcome of [`Session::check`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verdict {
    /// The vault's `seq` as served.
    pub seq: i64,
    /// How many entries it holds.
    pub entries: usize,
    /// What is wrong, if anything.
    pub mismatch: Option<Mismatch>,
}

impl Session {
    fn sync_state(&self) -> MutexGuard<'_, Inner> {
        // A panic elsewhere cannot leave the snapshot half-updated in a way
        // that matters: it is re-checked on every sync.
        self.sync.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Where this session remembers the highest verified `seq`: `None`
    /// keeps nothing (tests); the default is [`StateFile::default_path`].
    pub fn set_state_file(&self, path: Option<PathBuf>) {
        self.sync_state().state_file = Some(path);
    }

    fn state_file(&self, inner: &Inner) -> Option<StateFile> {
        let path = match &inner.state_file {
            Some(p) => p.clone(),
            None => StateFile::default_path(),
        };
        path.map(StateFile::new)
    }

    /// Syncs (everything the first time, then what changed) and checks the
    /// vault against its manifest and this device's highest verified `seq`.
    /// Every read of this session is served from that snapshot.
    pub fn check(&self) -> Result<Verdict, Error> {
        let mut inner = self.sync_state();
        self.resync(&mut inner)?;
        let snap = inner.snapshot.as_ref().expect("resync leaves a snapshot");
        Ok(Verdict {
            seq: snap.seq,
            entries: snap.entries.len(),
            mismatch: snap.verdict.clone().err(),
        })
    }

    /// [`check`](Self::check) of everything the server serves now rather
    /// than a delta on the snapshot (`vault verify`: an agent's copy holds
    /// what was verified, and a server that rewrote rows without a new
    /// `seq` would not show in a delta).
    pub fn check_all(&self) -> Result<Verdict, Error> {
        self.sync_state().snapshot = None;
        self.check()
    }

    /// Under `strict`, reads and writes of a vault that does not match its
    /// manifest fail with [`Error::Unverified`]; otherwise they go on, and
    /// each new mismatch is handed to the [`on_warning`](Self::on_warning)
    /// function.
    pub fn set_strict(&self, strict: bool) {
        self.sync_state().strict = strict;
    }

    /// What to do with a mismatch when not strict, or with answering from
    /// an agent's copy while offline (the CLI prints it).
    pub fn on_warning(&self, warn: impl Fn(&dyn std::fmt::Display) + Send + 'static) {
        self.sync_state().warn = Some(Box::new(warn));
    }

    /// Syncs and applies the policy above (the CLI's check before a command).
    pub fn guard(&self) -> Result<(), Error> {
        let mut inner = self.sync_state();
        self.resync(&mut inner)?;
        police(&mut inner)
    }

    /// Every entry, in `site` byte order, from a snapshot synced and checked
    /// now (a delta from the last one).
    pub(super) fn synced_entries(&self) -> Result<Vec<WireEntry>, Error> {
        let mut inner = self.sync_state();
        self.resync(&mut inner)?;
        police(&mut inner)?;
        let snap = inner.snapshot.as_ref().expect("resync leaves a snapshot");
        Ok(snap.entries.values().cloned().collect())
    }

    /// The entry of wire `site`, as [`synced_entries`](Self::synced_entries).
    pub(super) fn synced_entry(&self, site: &str) -> Result<Option<WireEntry>, Error> {
        let mut inner = self.sync_state();
        self.resync(&mut inner)?;
        police(&mut inner)?;
        let snap = inner.snapshot.as_ref().expect("resync leaves a snapshot");
        Ok(snap.entries.get(site).cloned())
    }

    /// The snapshot a write builds on: the last one (a stale one costs a
    /// `409` and a sync), or a fresh one.
    fn ensure<'a>(&self, inner: &'a mut Inner, force: bool) -> Result<&'a Snapshot, Error> {
        if inner.snapshot.is_none() {
            self.resync(inner)?;
            if !force {
                police(inner)?;
            }
        }
        Ok(inner.snapshot.as_ref().expect("resync leaves a snapshot"))
    }

    /// `/sync` since the snapshot's seq, applied and checked. Only a
    /// verified snapshot is a base for a delta: after a mismatch everything
    /// is fetched again, so a repaired vault verifies again. An adopted
    /// copy answers while the server is unreachable.
    fn resync(&self, inner: &mut Inner) -> Result<(), Error> {
        let failed = inner.snapshot.as_ref().is_some_and(|s| s.verdict.is_err());
        let since = match &inner.snapshot {
            Some(s) if !failed => s.seq,
            _ => 0,
        };
        let answer = match self.api.sync(&self.token, since) {
            Ok(a) => a,
            Err(e) if is_offline(&e) && inner.copy_synced.is_some() && inner.snapshot.is_some() => {
                offline(inner, &e);
                return Ok(());
            }
            Err(e) => return Err(authed(e)),
        };
        if inner.copy_synced.is_some() {
            inner.copy_synced = Some(Instant::now());
        }
        if self.still_verified(inner, &answer)? {
            return Ok(());
        }
        let mut entries = match inner.snapshot.take() {
            Some(s) if !failed => s.entries,
            _ => BTreeMap::new(),
        };
        for site in &answer.deleted {
            entries.remove(site);
        }
        for e in answer.entries {
            entries.insert(e.site.clone(), e);
        }
        self.settle(inner, answer.seq, entries, answer.manifest)
    }

    /// Nothing changed since a snapshot that verified, and this device has
    /// verified nothing newer meanwhile: the verdict stands without
    /// another pass over every entry (a command makes several reads).
    fn still_verified(&self, inner: &Inner, answer: &SyncAnswer) -> Result<bool, Error> {
        let Some(snap) = &inner.snapshot else {
            return Ok(false);
        };
        let unchanged = snap.verdict.is_ok()
            && answer.entries.is_empty()
            && answer.deleted.is_empty()
            && answer.seq == snap.seq
            && answer.manifest == snap.manifest;
        if !unchanged {
            return Ok(false);
        }
        let seen = match self.state_file(inner) {
            Some(f) => f.seen(self.api.base_url(), &self.username)?,
            None => 0,
        };
        Ok(seen <= snap.seq)
    }

    /// Checks `entries` at `seq` against `manifest` and this device's
    /// highest verified seq, and makes them the snapshot.
    fn settle(
        &self,
        inner: &mut Inner,
        seq: i64,
        entries: BTreeMap<String, WireEntry>,
        manifest: Option<String>,
    ) -> Result<(), Error> {
        let state = self.state_file(inner);
        let seen = match &state {
            Some(f) => f.seen(self.api.base_url(), &self.username)?,
            None => 0,
        };
        let key = ManifestKey::of(&self.key);
        let all: Vec<&WireEntry> = entries.values().collect();
        let verdict = manifest::check(&key, seq, &all, manifest.as_deref(), seen);
        if let (Ok(Some(m)), Some(f)) = (&verdict, &state) {
            f.record(self.api.base_url(), &self.username, m.seq, false)?;
        }
        inner.snapshot = Some(Snapshot {
            seq,
            entries,
            manifest,
            seen,
            verdict: verdict.map(|_| ()),
        });
        Ok(())
    }

    /// The vault as last synced, sealed (what an agent keeps).
    pub fn copy(&self) -> Option<SealedCopy> {
        let inner = self.sync_state();
        let snap = inner.snapshot.as_ref()?;
        Some(SealedCopy {
            seq: snap.seq,
            entries: snap.entries.values().cloned().collect(),
            manifest: snap.manifest.clone(),
        })
    }

    /// Starts from a copy handed over by an agent, last synced `synced_ago`:
    /// checked here like a sync (the agent is not trusted to have), then
    /// brought up to date by the next read's `/sync`, or, while the server
    /// cannot be reached, answering reads on its own.
    pub fn adopt(&self, copy: SealedCopy, synced_ago: Duration) -> Result<(), Error> {
        let mut inner = self.sync_state();
        let entries = copy
            .entries
            .into_iter()
            .map(|e| (e.site.clone(), e))
            .collect();
        let synced = Instant::now()
            .checked_sub(synced_ago)
            .unwrap_or_else(Instant::now);
        inner.copy_synced = Some(synced);
        self.settle(&mut inner, copy.seq, entries, copy.manifest)
    }

    /// One write by the protocol above; the version and `seq` the server
    /// gave. Errors are the API's (a `409` that syncing does not explain is
    /// returned as it came) with `401` as [`Error::SessionEnded`].
    pub(super) fn write(&self, write: &Write<'_>) -> Result<Written, Error> {
        self.write_with(write, false)
    }

    /// `force`: seal the manifest whatever the check said, and accept the
    /// vault's seq as this device's highest (the user decided).
    fn write_with(&self, write: &Write<'_>, force: bool) -> Result<Written, Error> {
        let mut inner = self.sync_state();
        let key = ManifestKey::of(&self.key);
        for _ in 0..MAX_ATTEMPTS {
            let snap = self.ensure(&mut inner, force)?;
            let base = snap.seq;
            let endorse = force || snap.endorsable();
            let sealed = if endorse {
                let (rest, changed) = snap.after(write);
                let m = Manifest::of(base + 1, rest.into_iter().chain(changed.as_ref()));
                Some(m.seal(&key)?)
            } else {
                None
            };
            match self
                .api
                .write_at(&self.token, write, base, sealed.as_deref())
            {
                Ok(written) => {
                    self.landed(&mut inner, write, written, sealed, force)?;
                    return Ok(written);
                }
                Err(HttpError::Conflict { message }) => {
                    self.resync(&mut inner)?;
                    if !force {
                        police(&mut inner)?;
                    }
                    let now = inner.snapshot.as_ref().map_or(base, |s| s.seq);
                    if now == base {
                        // Not about base_seq: the site exists, or the
                        // entry's version moved on.
                        return Err(Error::Api(HttpError::Conflict { message }));
                    }
                }
                Err(e) if is_offline(&e) && inner.copy_synced.is_some() => {
                    return Err(Error::Offline(e));
                }
                Err(e) => return Err(authed(e)),
            }
        }
        Err(Error::Api(HttpError::Other {
            status: 409,
            message: format!(
                "the vault kept changing during {MAX_ATTEMPTS} attempts of this write; run it again"
            ),
        }))
    }

    /// Brings the snapshot to the state after a write that landed.
    fn landed(
        &self,
        inner: &mut Inner,
        write: &Write<'_>,
        written: Written,
        sealed: Option<String>,
        force: bool,
    ) -> Result<(), Error> {
        let state = self.state_file(inner);
        let Some(snap) = inner.snapshot.as_mut() else {
            return Ok(());
        };
        let old = snap.entries.get(site_of(write));
        let predicted = apply(old, write, None);
        let changed = apply(old, write, written.version);
        // The server numbers as the contract says, or the manifest just
        // sealed is wrong: then forget the snapshot and check afresh.
        let as_sealed = written.seq == snap.seq + 1
            && changed.as_ref().map(|e| e.version) == predicted.as_ref().map(|e| e.version);
        match changed {
            Some(e) => snap.entries.insert(e.site.clone(), e),
            None => snap.entries.remove(site_of(write)),
        };
        snap.seq = written.seq;
        if sealed.is_none() {
            return Ok(());
        }
        if !as_sealed {
            inner.snapshot = None;
            return Ok(());
        }
        snap.manifest = sealed;
        snap.verdict = Ok(());
        if let Some(f) = state {
            f.record(self.api.base_url(), &self.username, written.seq, force)?;
        }
        Ok(())
    }

    /// Seals a manifest over the vault as the server serves it now, after
    /// the user decided that it is right (`vault verify --reseal`), and
    /// makes its seq this device's highest verified one, even if lower.
    /// A manifest is only stored with a write, so this re-sends the first
    /// entry's password blob unchanged (its version goes up by one); an
    /// empty vault gets an entry added and deleted again. Returns the new
    /// `seq` (0: a vault never written needs no manifest).
    pub fn reseal(&self) -> Result<i64, Error> {
        let (first, seq) = {
            let mut inner = self.sync_state();
            inner.snapshot = None;
            self.resync(&mut inner)?;
            let snap = inner.snapshot.as_ref().expect("resync leaves a snapshot");
            (snap.entries.values().next().cloned(), snap.seq)
        };
        let Some(first) = first else {
            if seq == 0 {
                return Ok(0);
            }
            let sealed = self.key.seal_entry(RESEAL_SITE, None, "-")?;
            self.write_with(
                &Write::Add {
                    site: &sealed.site,
                    username: Some(&sealed.username),
                    password: &sealed.password,
                },
                true,
            )?;
            let done = self.write_with(&Write::Delete { site: &sealed.site }, true)?;
            return Ok(done.seq);
        };
        let change = Change {
            site: first.site,
            password: Some(first.password),
            username: None,
            version: Some(first.version),
        };
        Ok(self.write_with(&Write::Change(&change), true)?.seq)
    }
}

/// The server is out of reach and the snapshot is an agent's copy: reads
/// answer from it, with one warning naming its age.
fn offline(inner: &mut Inner, e: &HttpError) {
    if std::mem::replace(&mut inner.offline_warned, true) {
        return;
    }
    let (Some(warn), Some(synced), Some(snap)) = (&inner.warn, inner.copy_synced, &inner.snapshot)
    else {
        return;
    };
    warn(&format_args!(
        "{e}; answering from the agent's copy of {} ago (seq {})",
        age(synced.elapsed()),
        snap.seq
    ));
}

/// Fails under strict, or warns once, for a snapshot that did not verify.
fn police(inner: &mut Inner) -> Result<(), Error> {
    let Some(Err(m)) = inner.snapshot.as_ref().map(|s| &s.verdict) else {
        return Ok(());
    };
    let m = m.clone();
    if inner.strict {
        return Err(Error::Unverified(m));
    }
    if inner.reported.as_ref() != Some(&m) {
        if let Some(warn) = &inner.warn {
            warn(&m);
        }
        inner.reported = Some(m);
    }
    Ok(())
}

fn site_of<'a>(write: &'a Write<'_>) -> &'a str {
    match write {
        Write::Add { site, .. } | Write::Delete { site } => site,
        Write::Change(c) => &c.site,
    }
}

#[cfg(test)]
#[path = "sync_tests.rs"]
mod tests;
