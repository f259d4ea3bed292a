//! `bench-fsync`: the durable-commit ceiling (docs/PERFORMANCE.md).
//!
//! One thread writes 4 KiB and calls `fdatasync` in a loop, for a fixed time,
//! on a file in the directory it is given (the benchmark passes the directory
//! of the SQLite database). SQLite in WAL mode with `synchronous=FULL` does
//! one WAL write and one `fsync` of the WAL per commit, and vaultd's writes
//! are serialised on one connection, so this rate bounds `/add` and
//! `/change` on SQLite.
//!
//! Two patterns, one after the other:
//! - `overwrite`: `pwrite` at cycling offsets in a preallocated 4 MiB file.
//!   SQLite reuses its WAL from the start after each checkpoint, so this is
//!   what most commits do. It is the ceiling the benchmark uses.
//! - `append`: the file grows by 4 KiB per commit, so every `fdatasync` also
//!   writes the new size (the WAL before its first wrap).
//!
//! Output: one line per pattern,
//! `fsync overwrite: commits=N seconds=S rate=R p50_us=A p99_us=B`.

#[path = "common.rs"]
mod common;

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::FileExt;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use argh::FromArgs;
use common::percentile;

/// Durable-commit rate: write + fdatasync in a loop.
#[derive(FromArgs)]
struct Args {
    /// directory for the scratch file (the database's directory)
    #[argh(option, default = "PathBuf::from(\".\")")]
    dir: PathBuf,
    /// seconds per pattern (default 3)
    #[argh(option, default = "3.0")]
    seconds: f64,
    /// bytes per write (default 4096, one page)
    #[argh(option, default = "4096")]
    size: usize,
}

fn main() {
    let args: Args = argh::from_env();
    let path = args
        .dir
        .join(format!("bench-fsync-{}.tmp", std::process::id()));
    let result = run(&args, &path);
    let _ = std::fs::remove_file(&path);
    if let Err(e) = result {
        eprintln!("bench-fsync: {}: {e}", path.display());
        std::process::exit(1);
    }
}

fn run(args: &Args, path: &std::path::Path) -> std::io::Result<()> {
    let block = vec![0x5au8; args.size.max(1)];
    let span = Duration::from_secs_f64(args.seconds.max(0.1));

    // Preallocate and make the file's size durable first.
    let file = OpenOptions::new()
        .create(true)
        .truncate(true)
        .read(true)
        .write(true)
        .open(path)?;
    let slots = (4 << 20) / block.len();
    for i in 0..slots {
        file.write_all_at(&block, (i * block.len()) as u64)?;
    }
    file.sync_all()?;
    let mut slot = 0;
    measure("overwrite", span, || {
        file.write_all_at(&block, (slot * block.len()) as u64)?;
        slot = (slot + 1) % slots;
        file.sync_data()
    })?;
    drop(file);

    let mut file: File = OpenOptions::new()
        .create(true)
        .truncate(true)
        .write(true)
        .open(path)?;
    file.sync_all()?;
    measure("append", span, || {
        file.write_all(&block)?;
        file.sync_data()
    })
}

fn measure(
    name: &str,
    span: Duration,
    mut commit: impl FnMut() -> std::io::Result<()>,
) -> std::io::Result<()> {
    let mut times = Vec::new();
    let start = Instant::now();
    while start.elapsed() < span {
        let t = Instant::now();
        commit()?;
        times.push(t.elapsed());
    }
    let seconds = start.elapsed().as_secs_f64();
    times.sort_unstable();
    println!(
        "fsync {name}: commits={} seconds={seconds:.3} rate={:.1} p50_us={:.1} p99_us={:.1}",
        times.len(),
        times.len() as f64 / seconds,
        percentile(&times, 50.0),
        percentile(&times, 99.0)
    );
    Ok(())
}
