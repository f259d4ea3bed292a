//! Soak: a release vaultd under mixed load for some minutes, sampling its
//! resident memory, open file descriptors and threads, to show they stay flat.
//! A measurement, not a test: it prints a table and asserts nothing about
//! time (it stops with an error only when a request fails in a way that a
//! correct server never answers).
//!
//!   cargo build --release && cargo run --release --example soak -- --minutes 10
//!
//! Options: --minutes M (10), --threads N (4), --sample-seconds S (30),
//! --vaultd PATH (target/release/vaultd).

#[path = "common.rs"]
mod common;

use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use common::{Scratch, spawn_listening_with, status_field};
use vaultd::client::Client;
use vaultd::client::api::{Api, Change, HttpError, Token};

struct Options {
    minutes: f64,
    threads: usize,
    sample_seconds: u64,
    vaultd: PathBuf,
}

fn options() -> Options {
    let mut o = Options {
        minutes: 10.0,
        threads: 4,
        sample_seconds: 30,
        vaultd: PathBuf::from("target/release/vaultd"),
    };
    let args: Vec<String> = std::env::args().skip(1).collect();
    for pair in args.chunks(2) {
        let value = pair.get(1).map(String::as_str).unwrap_or("");
        match pair[0].as_str() {
            "--minutes" => o.minutes = value.parse().expect("--minutes M"),
            "--threads" => o.threads = value.parse().expect("--threads N"),
            "--sample-seconds" => o.sample_seconds = value.parse().expect("--sample-seconds S"),
            "--vaultd" => o.vaultd = PathBuf::from(value),
            other => panic!("unknown option {other}; see the comment at the top of bench/soak.rs"),
        }
    }
    o
}

/// A vaultd on a fresh SQLite database in `dir`; its URL.
fn start_vaultd(bin: &Path, dir: &Path) -> (Child, String) {
    let bin = std::fs::canonicalize(bin)
        .unwrap_or_else(|e| panic!("{}: {e} (cargo build --release first)", bin.display()));
    let mut cmd = Command::new(&bin);
    cmd.current_dir(dir)
        .args(["--init-db", "--bind", "127.0.0.1:0", "--threads", "2"]);
    // The access log is read and dropped, so that vaultd never blocks on stderr.
    let (child, addr) = spawn_listening_with(cmd, |_| {})
        .unwrap_or_else(|e| panic!("{e} (cargo build --release first)"));
    (child, format!("http://{addr}"))
}

/// VmRSS and VmHWM in KiB, open descriptors, threads.
fn sample(pid: u32) -> (u64, u64, usize, u64) {
    let fds = std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, |d| d.count());
    (
        status_field(pid, "VmRSS"),
        status_field(pid, "VmHWM"),
        fds,
        status_field(pid, "Threads"),
    )
}

/// One round of the mix: add, read one, read all, change, delete.
fn round(api: &Api, token: &Token, worker: usize, n: u64) -> Result<(), HttpError> {
    let site = format!("soak-{worker}-{n}");
    api.add(token, &site, "secret-password", Some("user"))?;
    api.get(token, &site)?;
    if n.is_multiple_of(10) {
        api.get_all(token)?;
    }
    let change = Change {
        site: site.clone(),
        password: Some("another-password".into()),
        ..Change::default()
    };
    api.change(token, &change)?;
    // Keep about a hundred entries per worker: delete an older one.
    if n >= 100 {
        api.delete(token, &format!("soak-{worker}-{}", n - 100))?;
    }
    Ok(())
}

fn main() {
    let o = options();
    let dir =
        Scratch::new(&std::env::temp_dir().join(format!("vaultd-soak-{}", std::process::id())))
            .unwrap();
    let (mut child, url) = start_vaultd(&o.vaultd, &dir.0);
    let pid = child.id();

    let client = Client::new(&url).unwrap();
    client
        .register("soak", "soak master password", None)
        .unwrap();
    let session = client.login("soak", "soak master password").unwrap();
    let token = session.token().clone();

    let stop = Arc::new(AtomicBool::new(false));
    let requests = Arc::new(AtomicU64::new(0));
    let logins = Arc::new(AtomicU64::new(0));
    let mut workers: Vec<_> = (0..o.threads)
        .map(|w| {
            let (stop, requests, url, token) =
                (stop.clone(), requests.clone(), url.clone(), token.clone());
            std::thread::spawn(move || {
                let api = Api::new(&url).unwrap();
                let mut n = 0;
                while !stop.load(Ordering::Relaxed) {
                    round(&api, &token, w, n).unwrap_or_else(|e| panic!("worker {w}: {e}"));
                    requests.fetch_add(
                        4 + u64::from(n >= 100) + u64::from(n % 10 == 0),
                        Ordering::Relaxed,
                    );
                    n += 1;
                }
            })
        })
        .collect();
    // Full OPAQUE logins now and then (client Argon2id included), as devices do.
    {
        let (stop, logins, url) = (stop.clone(), logins.clone(), url.clone());
        workers.push(std::thread::spawn(move || {
            let client = Client::new(&url).unwrap();
            while !stop.load(Ordering::Relaxed) {
                client.login("soak", "soak master password").unwrap();
                logins.fetch_add(1, Ordering::Relaxed);
                std::thread::sleep(Duration::from_secs(2));
            }
        }));
    }

    println!("| minute | requests | logins | RSS KiB | peak RSS KiB | open fds | threads |");
    println!("|---:|---:|---:|---:|---:|---:|---:|");
    let started = Instant::now();
    let total = Duration::from_secs_f64(o.minutes * 60.0);
    let mut samples = Vec::new();
    while started.elapsed() < total {
        std::thread::sleep(
            Duration::from_secs(o.sample_seconds).min(total.saturating_sub(started.elapsed())),
        );
        let (rss, hwm, fds, threads) = sample(pid);
        println!(
            "| {:.1} | {} | {} | {rss} | {hwm} | {fds} | {threads} |",
            started.elapsed().as_secs_f64() / 60.0,
            requests.load(Ordering::Relaxed),
            logins.load(Ordering::Relaxed),
        );
        samples.push((rss, fds));
    }
    stop.store(true, Ordering::Relaxed);
    for w in workers {
        w.join().unwrap();
    }
    let seconds = started.elapsed().as_secs_f64();
    // Compare the second sample (warmed up) with the last.
    let (first, last) = (
        samples.get(1).or(samples.first()).copied(),
        samples.last().copied(),
    );
    if let (Some((rss0, fd0)), Some((rss1, fd1))) = (first, last) {
        println!(
            "\n{} requests and {} logins in {seconds:.0} s; RSS {rss0} → {rss1} KiB, open fds {fd0} → {fd1}",
            requests.load(Ordering::Relaxed),
            logins.load(Ordering::Relaxed)
        );
    }
    let _ = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status();
    let status = child.wait().unwrap();
    println!("vaultd stopped on SIGTERM: {status}");
}
