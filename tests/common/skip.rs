//! Tests that cannot run here (no PostgreSQL, no Node, no browser, no
//! `chattr`) pass without checking anything, so a green run could overstate
//! what was tested. Each one says so through [`skipped`], which appends a
//! line to `<target>/tmp/vaultd-skipped.tsv`; `make test` empties that file
//! first and prints a summary at the end (`tests/common/skipped.sh`).
//! Self-contained: the standard library only.

use std::io::Write;
use std::path::PathBuf;

/// Where the skips of this run are listed: one `binary<TAB>test<TAB>reason`
/// line each.
pub fn skip_log() -> PathBuf {
    let dir = option_env!("CARGO_TARGET_TMPDIR").map_or_else(std::env::temp_dir, PathBuf::from);
    dir.join("vaultd-skipped.tsv")
}

/// Records that the running test skips, and why (one short line: the same
/// reason for every test it stops, so the summary can group them).
pub fn skipped(reason: &str) {
    let thread = std::thread::current();
    let test = thread.name().unwrap_or("?");
    // `api-0123abcd…` → `api`.
    let binary = std::env::current_exe()
        .ok()
        .and_then(|p| p.file_stem().map(|s| s.to_string_lossy().into_owned()))
        .map(|stem| {
            stem.rsplit_once('-')
                .map_or(stem.clone(), |(name, _)| name.to_owned())
        })
        .unwrap_or_default();
    let reason = reason.replace(['\t', '\n'], " ");
    eprintln!("{test}: skipped: {reason}");
    let line = format!("{binary}\t{test}\t{reason}\n");
    let path = skip_log();
    let written = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
        // One write per line: the threads of a test binary append at once.
        .and_then(|mut f| f.write_all(line.as_bytes()));
    if let Err(e) = written {
        eprintln!("cannot record the skip in {}: {e}", path.display());
    }
}
