//! `bench-login`: the login benchmark (docs/PERFORMANCE.md).
//!
//! A benchmark, not a test: it measures and prints, and asserts nothing about
//! time. Three parts, each skippable:
//!
//! 1. **In-process server work** of a complete login (`ServerLogin::start` and
//!    `finish`, with the (de)serialisations the `/login` handlers do), for a
//!    known and an unknown username, and of a registration. The test client uses
//!    a cheap Argon2id, so the client's key stretching is not in the figures
//!    (and is not timed anyway: only the server calls are).
//! 2. **The client's real key stretching**: serenity's Argon2id (m = 65 536 KiB,
//!    t = 3, p = 4, 64-byte output), alone and inside a complete client login,
//!    as the `vault` CLI runs it.
//! 3. **Over HTTP** against a real release `vaultd` (SQLite, `--init-db` in a
//!    scratch directory, `--trust-proxy` so that every login comes from its own
//!    `X-Forwarded-For` address and the login throttle never answers `429`):
//!    `/login` and a wrong `/login/finish` for a known and an unknown username,
//!    interleaved; the response lengths; and the server process's CPU per
//!    login, from `/proc/<pid>/stat` and `/proc/<pid>/task/*/schedstat`.
//!
//! Run: `cargo run --release --example bench-login` (or `bench/login.sh`).
//! Under `cargo run` it first runs `cargo build --release --bin vaultd`, so
//! the server it measures is built from the same sources.

#[path = "common.rs"]
mod common;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use argh::FromArgs;
use common::{
    Header, Http, Res, Scratch, cheap_ksf, complete_login, load_average, login_finish, login_start,
    machine, percentile, prepare_server, register, spawn_listening_with, stat_fields, status_field,
};
use opaque_ke::{
    ClientLogin, ClientLoginFinishParameters, ClientRegistration,
    ClientRegistrationFinishParameters, CredentialFinalization, CredentialRequest,
    CredentialResponse, RegistrationRequest, RegistrationResponse, RegistrationUpload, ServerLogin,
    ServerLoginParameters, ServerRegistration,
};
use rand::RngCore;
use rand::rngs::OsRng;
use vaultd::auth::opaque::{ServerSetup, Suite};
use vaultd::client::opaque as client;

/// The login benchmark (see docs/PERFORMANCE.md).
#[derive(FromArgs)]
struct Args {
    /// in-process logins per kind (known, unknown) (default 2000)
    #[argh(option, default = "2000")]
    iterations: usize,
    /// interleaved HTTP rounds: each one /login and one wrong /login/finish
    /// per kind, plus one GET /health (default 500)
    #[argh(option, default = "500")]
    http_rounds: usize,
    /// complete logins over HTTP for the server CPU figure (default 1000)
    #[argh(option, default = "1000")]
    complete: usize,
    /// runs of serenity's Argon2id, alone and in a client login (default 3)
    #[argh(option, default = "3")]
    argon2_runs: usize,
    /// the vaultd binary (default: the release build beside this program)
    #[argh(option)]
    vaultd: Option<PathBuf>,
    /// skip the in-process part
    #[argh(switch)]
    skip_inprocess: bool,
    /// skip the Argon2id client cost
    #[argh(switch)]
    skip_argon2: bool,
    /// skip the HTTP part
    #[argh(switch)]
    skip_http: bool,
    /// skip the login-throttle bookkeeping part
    #[argh(switch)]
    skip_limiter: bool,
}

fn main() {
    let args: Args = argh::from_env();
    if let Err(e) = run(&args) {
        eprintln!("bench-login: {e}");
        std::process::exit(1);
    }
}

fn run(args: &Args) -> Res<()> {
    print_machine();
    if !args.skip_inprocess {
        in_process(args.iterations.max(1))?;
    }
    if !args.skip_argon2 && args.argon2_runs > 0 {
        argon2_client(args.argon2_runs)?;
    }
    if !args.skip_http {
        let bin = vaultd_binary(args)?;
        over_http(&bin, args.http_rounds.max(1), args.complete.max(1))?;
    }
    if !args.skip_limiter {
        limiter();
    }
    println!("\nload average at the end: {}", load_average());
    Ok(())
}

// ---------------------------------------------------------------------------
// Statistics and small helpers

/// Median, p90, p99 (nearest rank) and mean of a sample, in microseconds.
struct Stats {
    n: usize,
    median: f64,
    p90: f64,
    p99: f64,
    mean: f64,
}

fn stats(samples: &[Duration]) -> Stats {
    let mut sorted = samples.to_vec();
    sorted.sort_unstable();
    let total_us: f64 = sorted.iter().map(|d| d.as_secs_f64() * 1e6).sum();
    Stats {
        n: sorted.len(),
        median: percentile(&sorted, 50.0),
        p90: percentile(&sorted, 90.0),
        p99: percentile(&sorted, 99.0),
        mean: total_us / sorted.len() as f64,
    }
}

fn row(label: &str, s: &Stats) {
    println!(
        "| {label:<44} | {:>5} | {:>9.1} | {:>9.1} | {:>9.1} | {:>9.1} |",
        s.n, s.median, s.p90, s.p99, s.mean
    );
}

fn table_head(title: &str) {
    println!("\n### {title}\n");
    println!(
        "| {:<44} | {:>5} | {:>9} | {:>9} | {:>9} | {:>9} |",
        "µs", "n", "median", "p90", "p99", "mean"
    );
    println!(
        "|{:-<46}|{:->7}|{:->11}|{:->11}|{:->11}|{:->11}|",
        "", ":", ":", ":", ":", ":"
    );
}

/// Known vs unknown: the gap between the medians (the criterion:
/// within 10%), and the median of the paired differences `unknown[i] -
/// known[i]` (samples taken side by side), which cancels drift and other
/// processes' load better.
fn gap(known: &[Duration], unknown: &[Duration]) -> String {
    let (k, u) = (stats(known).median, stats(unknown).median);
    let pct = (u / k - 1.0) * 100.0;
    let verdict = if pct.abs() <= 10.0 {
        "within"
    } else {
        "NOT within"
    };
    let mut diffs: Vec<f64> = known
        .iter()
        .zip(unknown)
        .map(|(k, u)| (u.as_secs_f64() - k.as_secs_f64()) * 1e6)
        .collect();
    diffs.sort_by(|a, b| a.total_cmp(b));
    let paired = diffs.get(diffs.len() / 2).copied().unwrap_or(0.0);
    format!(
        "medians {k:.1} vs {u:.1} µs: {pct:+.1}% ({verdict} 10%); paired difference, median {paired:+.1} µs ({:+.1}%)",
        paired / k * 100.0
    )
}

fn random_bytes(n: usize) -> Vec<u8> {
    let mut v = vec![0u8; n];
    OsRng.fill_bytes(&mut v);
    v
}

/// On-CPU nanoseconds of this thread (scheduler statistics).
fn thread_cpu_ns() -> u64 {
    schedstat_ns(Path::new("/proc/thread-self/schedstat")).unwrap_or(0)
}

fn schedstat_ns(path: &Path) -> Option<u64> {
    std::fs::read_to_string(path)
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// On-CPU nanoseconds of every thread of a process.
fn process_cpu_ns(pid: u32) -> u64 {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return 0;
    };
    tasks
        .flatten()
        .filter_map(|t| schedstat_ns(&t.path().join("schedstat")))
        .sum()
}

/// (utime, stime) of a process in clock ticks (`/proc/<pid>/stat`, fields
/// 14 and 15; 100 ticks per second on Linux).
fn process_ticks(pid: u32) -> (u64, u64) {
    let f = stat_fields(&format!("/proc/{pid}/stat"));
    let field = |i: usize| f.get(i).copied().unwrap_or(0);
    (field(11), field(12))
}

fn peak_rss_kib() -> u64 {
    status_field("self", "VmHWM")
}

fn print_machine() {
    println!("## bench-login\n");
    println!("machine: {}", machine());
    println!("load average at the start: {}", load_average());
}

// ---------------------------------------------------------------------------
// 1. In-process server work

/// One pending login of the in-process benchmark.
struct Pending {
    request: Vec<u8>,
    response: Vec<u8>,
    state: Vec<u8>,
    finalization: Vec<u8>,
}

/// Registers `username` against `setup` with the cheap client, timing the
/// server's two calls; returns the stored record and the server time.
fn register_in_process(
    setup: &ServerSetup,
    username: &str,
    password: &[u8],
) -> Res<(Vec<u8>, Duration)> {
    let ksf = cheap_ksf();
    let start = ClientRegistration::<Suite>::start(&mut OsRng, password)?;
    let request = start.message.serialize().to_vec();

    let t = Instant::now();
    let response = ServerRegistration::<Suite>::start(
        setup,
        RegistrationRequest::deserialize(&request)?,
        username.as_bytes(),
    )?
    .message
    .serialize()
    .to_vec();
    let mut server = t.elapsed();

    let finish = start.state.finish(
        &mut OsRng,
        password,
        RegistrationResponse::deserialize(&response)?,
        ClientRegistrationFinishParameters::new(Default::default(), Some(&ksf)),
    )?;
    let upload = finish.message.serialize().to_vec();

    let t = Instant::now();
    let record = ServerRegistration::finish(RegistrationUpload::<Suite>::deserialize(&upload)?)
        .serialize()
        .to_vec();
    server += t.elapsed();
    Ok((record, server))
}

/// Per-kind samples of the in-process benchmark.
#[derive(Default)]
struct ServerSamples {
    start: Vec<Duration>,
    finish: Vec<Duration>,
    total: Vec<Duration>,
    cpu_ns: u64,
}

/// A chunk of logins: all client starts, then the server's `/login` work
/// (timed), then the client finishes, then the server's `/login/finish` work
/// (timed). `record` is `None` for an unknown username.
fn login_chunk(
    setup: &ServerSetup,
    username: &str,
    password: &[u8],
    record: Option<&[u8]>,
    n: usize,
    out: &mut ServerSamples,
) -> Res<()> {
    let ksf = cheap_ksf();
    let mut pending = Vec::with_capacity(n);
    let mut clients = Vec::with_capacity(n);
    for _ in 0..n {
        let start = ClientLogin::<Suite>::start(&mut OsRng, password)?;
        clients.push(start.state);
        pending.push(Pending {
            request: start.message.serialize().to_vec(),
            response: Vec::new(),
            state: Vec::new(),
            finalization: Vec::new(),
        });
    }

    // What `account::login` does with OPAQUE: parse the request, parse the
    // stored record (or make a fake one), start, serialise state and reply.
    let mut starts = Vec::with_capacity(n);
    let cpu = thread_cpu_ns();
    for p in &mut pending {
        let t = Instant::now();
        let request = CredentialRequest::<Suite>::deserialize(&p.request)?;
        let stored = match record {
            Some(r) => Some(ServerRegistration::<Suite>::deserialize(r)?),
            None => None,
        };
        let start = ServerLogin::start(
            &mut OsRng,
            setup,
            stored,
            request,
            username.as_bytes(),
            ServerLoginParameters::default(),
        )?;
        p.state = start.state.serialize().to_vec();
        p.response = start.message.serialize().to_vec();
        starts.push(t.elapsed());
    }
    out.cpu_ns += thread_cpu_ns() - cpu;

    for (p, client) in pending.iter_mut().zip(clients) {
        let finished = client.finish(
            &mut OsRng,
            password,
            CredentialResponse::deserialize(&p.response)?,
            ClientLoginFinishParameters::new(None, Default::default(), Some(&ksf)),
        );
        p.finalization = match (record.is_some(), finished) {
            (true, Ok(f)) => f.message.serialize().to_vec(),
            (true, Err(e)) => return Err(format!("known user: client login failed: {e:?}").into()),
            // The client finds the fake record wrong; all it could send is garbage.
            (false, Ok(_)) => return Err("unknown user: the client accepted a fake record".into()),
            (false, Err(_)) => random_bytes(64),
        };
    }

    // What `account::finish_login` does with OPAQUE.
    let cpu = thread_cpu_ns();
    for (p, start) in pending.iter().zip(&starts) {
        let t = Instant::now();
        let state = ServerLogin::<Suite>::deserialize(&p.state)?;
        let message = CredentialFinalization::<Suite>::deserialize(&p.finalization)?;
        let ok = state
            .finish(message, ServerLoginParameters::default())
            .is_ok();
        let finish = t.elapsed();
        if ok != record.is_some() {
            return Err(format!(
                "server finish: expected success {}, got {ok}",
                record.is_some()
            )
            .into());
        }
        out.start.push(*start);
        out.finish.push(finish);
        out.total.push(*start + finish);
    }
    out.cpu_ns += thread_cpu_ns() - cpu;
    Ok(())
}

fn in_process(iterations: usize) -> Res<()> {
    println!("\n## 1. Server work per login, in process (no HTTP, no database)");
    let setup = ServerSetup::new(&mut OsRng);
    let password = b"correct horse battery staple";

    let mut registrations = Vec::new();
    let mut record = Vec::new();
    for i in 0..20 {
        let (r, t) = register_in_process(&setup, &format!("user{i}"), password)?;
        registrations.push(t);
        record = r;
    }
    let username = "user19";

    const CHUNK: usize = 100;
    let (mut known, mut unknown) = (ServerSamples::default(), ServerSamples::default());
    // Warm-up, not counted.
    login_chunk(
        &setup,
        username,
        password,
        Some(&record),
        50,
        &mut ServerSamples::default(),
    )?;
    login_chunk(
        &setup,
        "nobody",
        password,
        None,
        50,
        &mut ServerSamples::default(),
    )?;
    let mut done = 0;
    let mut round = 0;
    while done < iterations {
        let n = CHUNK.min(iterations - done);
        // Alternate the order, so that drift touches both kinds alike.
        if round % 2 == 0 {
            login_chunk(&setup, username, password, Some(&record), n, &mut known)?;
            login_chunk(&setup, "nobody", password, None, n, &mut unknown)?;
        } else {
            login_chunk(&setup, "nobody", password, None, n, &mut unknown)?;
            login_chunk(&setup, username, password, Some(&record), n, &mut known)?;
        }
        done += n;
        round += 1;
    }

    // The one OPAQUE step only the known path takes: parsing the stored
    // record (it decodes the client's public key, a ristretto255 point).
    let mut parse = Vec::with_capacity(iterations);
    for _ in 0..iterations {
        let t = Instant::now();
        let r = ServerRegistration::<Suite>::deserialize(&record)?;
        parse.push(t.elapsed());
        drop(std::hint::black_box(r));
    }

    table_head("Server-side OPAQUE work (wall time of the server calls, single thread)");
    row("known user: /login part (start)", &stats(&known.start));
    row(
        "known user: /login/finish part (finish)",
        &stats(&known.finish),
    );
    row("known user: complete login (both)", &stats(&known.total));
    row(
        "unknown user: /login part (fake record)",
        &stats(&unknown.start),
    );
    row(
        "unknown user: /login/finish part (fails)",
        &stats(&unknown.finish),
    );
    row("unknown user: both steps", &stats(&unknown.total));
    row(
        "registration (start + finish), 20 users",
        &stats(&registrations),
    );
    row("known path only: parse the stored record", &stats(&parse));
    let per = |s: &ServerSamples| s.cpu_ns as f64 / s.total.len() as f64 / 1000.0;
    println!(
        "\nthread CPU (schedstat) per complete login: known {:.1} µs, unknown {:.1} µs",
        per(&known),
        per(&unknown)
    );
    println!(
        "/login part, unknown vs known: {}",
        gap(&known.start, &unknown.start)
    );
    Ok(())
}

// ---------------------------------------------------------------------------
// 2. The client's Argon2id

fn argon2_client(runs: usize) -> Res<()> {
    println!("\n## 2. Client key stretching: serenity's Argon2id (m=65536 KiB, t=3, p=4, 64 B)");
    let ksf = client::serenity_ksf();
    let rss_before = peak_rss_kib();
    let mut alone = Vec::new();
    let mut alone_cpu = Vec::new();
    for _ in 0..runs {
        let mut out = [0u8; 64];
        let input = random_bytes(64);
        let (t, cpu) = (Instant::now(), thread_cpu_ns());
        ksf.hash_password_into(&input, &[0u8; 16], &mut out)
            .map_err(|e| format!("argon2: {e}"))?;
        alone.push(t.elapsed());
        alone_cpu.push(Duration::from_nanos(thread_cpu_ns() - cpu));
    }
    let rss_after = peak_rss_kib();

    // A complete client login as `vault` runs it, against an in-process server.
    let setup = ServerSetup::new(&mut OsRng);
    let password = b"correct horse battery staple";
    let (state, request) = client::start_registration(password)?;
    let response = ServerRegistration::<Suite>::start(
        &setup,
        RegistrationRequest::deserialize(&request)?,
        b"alice",
    )?
    .message
    .serialize()
    .to_vec();
    let t = Instant::now();
    let finish = client::finish_registration(state, password, &response)?;
    let registration = t.elapsed();
    let record =
        ServerRegistration::finish(RegistrationUpload::<Suite>::deserialize(&finish.upload)?);

    let mut logins = Vec::new();
    for _ in 0..runs {
        let t = Instant::now();
        let (state, request) = client::start_login(password)?;
        let mut client_time = t.elapsed();
        let start = ServerLogin::start(
            &mut OsRng,
            &setup,
            Some(record.clone()),
            CredentialRequest::deserialize(&request)?,
            b"alice",
            ServerLoginParameters::default(),
        )?;
        let response = start.message.serialize().to_vec();
        let t = Instant::now();
        let done = client::finish_login(state, password, &response)?;
        client_time += t.elapsed();
        start
            .state
            .finish(
                CredentialFinalization::deserialize(&done.credential_finalization)?,
                ServerLoginParameters::default(),
            )
            .map_err(|e| format!("server rejected a correct login: {e:?}"))?;
        logins.push(client_time);
    }

    table_head("Client-side cost (one core: argon2 0.5 runs the 4 lanes in sequence)");
    row("Argon2id alone (wall)", &stats(&alone));
    row("Argon2id alone (thread CPU)", &stats(&alone_cpu));
    row("client login: start + finish (wall)", &stats(&logins));
    row("client registration finish (wall)", &stats(&[registration]));
    println!(
        "\npeak RSS of this process: {} MiB before, {} MiB after the first Argon2id",
        rss_before / 1024,
        rss_after / 1024
    );
    Ok(())
}

// ---------------------------------------------------------------------------
// 3. Over HTTP

/// Finds the vaultd binary; under `cargo run`, builds it first so that it
/// matches the sources.
fn vaultd_binary(args: &Args) -> Res<PathBuf> {
    if let Some(p) = &args.vaultd {
        return Ok(p.clone());
    }
    if let Some(p) = std::env::var_os("VAULTD_BIN") {
        return Ok(PathBuf::from(p));
    }
    let dir = common::profile_dir()?;
    let release = dir.file_name().is_some_and(|n| n == "release");
    let mut build = vec!["--bin", "vaultd"];
    if release {
        build.push("--release");
    }
    let what = format!(
        "bench-login: building vaultd ({})",
        if release { "release" } else { "dev" }
    );
    if common::cargo_build(&build, &what)? && !release {
        eprintln!("bench-login: WARNING: not a release build; run with --release");
    }
    let bin = dir.join("vaultd");
    if !bin.exists() {
        return Err(format!(
            "{} not found: run `cargo build --release --bin vaultd` or pass --vaultd",
            bin.display()
        )
        .into());
    }
    Ok(bin)
}

/// One access-log line of vaultd: `POST /login 200 1234us`.
#[derive(Debug)]
struct LogLine {
    path: String,
    status: u16,
    us: u64,
}

fn parse_log_line(line: &str) -> Option<LogLine> {
    let mut parts = line.split_whitespace();
    let _method = parts.next()?;
    let path = parts.next()?.to_string();
    let status = parts.next()?.parse().ok()?;
    let us = parts.next()?.strip_suffix("us")?.parse().ok()?;
    Some(LogLine { path, status, us })
}

/// A running vaultd, killed on drop.
struct Server {
    child: Child,
    addr: SocketAddr,
    log: Arc<Mutex<Vec<LogLine>>>,
    _dir: Scratch,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    fn start(bin: &Path) -> Res<Server> {
        let dir = Scratch::new(
            &std::env::temp_dir().join(format!("vaultd-bench-{}", std::process::id())),
        )?;
        let mut cmd = Command::new(bin);
        prepare_server(&mut cmd, &dir.0).args([
            "--bind",
            "127.0.0.1:0",
            "--init-db",
            "--trust-proxy",
        ]);
        let log = Arc::new(Mutex::new(Vec::new()));
        let access_log = log.clone();
        let (child, addr) = spawn_listening_with(cmd, move |line| {
            if let Some(entry) = parse_log_line(line) {
                access_log
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .push(entry);
            }
        })?;
        Ok(Server {
            child,
            addr,
            log,
            _dir: dir,
        })
    }

    fn take_log(&self) -> Vec<LogLine> {
        // The log line is written after the response: let the last one arrive.
        std::thread::sleep(Duration::from_millis(200));
        std::mem::take(&mut *self.log.lock().unwrap_or_else(|p| p.into_inner()))
    }
}

/// A fresh client address per login: `10.a.b.c`, counting up.
struct Addresses(u32);

impl Addresses {
    fn next(&mut self) -> String {
        self.0 += 1;
        let n = self.0;
        format!("10.{}.{}.{}", (n >> 16) & 255, (n >> 8) & 255, n & 255)
    }
}

/// The client address a request claims (vaultd runs with `--trust-proxy`):
/// each failed attempt claims a fresh one, so that the login throttle never
/// answers `429`.
fn forwarded_for(address: &str) -> Header<'_> {
    Some(("X-Forwarded-For", address))
}

#[derive(Default)]
struct Kind {
    login: Vec<Duration>,
    finish: Vec<Duration>,
    login_lengths: Vec<usize>,
    finish_lengths: Vec<usize>,
    /// The server's own time for each request (its access log).
    server_login: Vec<Duration>,
    server_finish: Vec<Duration>,
}

fn lengths(v: &[usize]) -> String {
    let mut v = v.to_vec();
    v.sort_unstable();
    v.dedup();
    format!("{v:?}")
}

fn over_http(bin: &Path, rounds: usize, complete: usize) -> Res<()> {
    println!("\n## 3. Over HTTP: release vaultd, SQLite, loopback, keep-alive, one client");
    let server = Server::start(bin)?;
    let pid = server.child.id();
    println!(
        "vaultd {} (pid {pid}) on {}, default worker threads",
        bin.display(),
        server.addr
    );
    let mut http = Http::new(server.addr);
    let password = b"correct horse battery staple";
    // Same length as the unknown name, so the request bodies match too.
    let (known, unknown) = ("alice", "mallo");
    register(&mut http, forwarded_for("192.0.2.1"), known, password)?;

    let mut addresses = Addresses(0x01_0000);
    let (mut k, mut u) = (Kind::default(), Kind::default());
    let mut health = Vec::new();
    let mut order: Vec<bool> = Vec::new(); // true = known, in /login order
    let warmup = 50;
    server.take_log();
    for i in 0..(warmup + rounds) {
        let counted = i >= warmup;
        let known_first = i % 2 == 0;
        let kinds = if known_first {
            [true, false]
        } else {
            [false, true]
        };
        let mut logins = Vec::new();
        for &is_known in &kinds {
            let from = addresses.next();
            let name = if is_known { known } else { unknown };
            let (_, r, v) = login_start(&mut http, forwarded_for(&from), name, password)?;
            if counted {
                let kind = if is_known { &mut k } else { &mut u };
                kind.login.push(r.elapsed);
                kind.login_lengths.push(r.body.len());
            }
            order.push(is_known);
            logins.push((is_known, from, v));
        }
        // A wrong password: the client's own check fails, so garbage is all
        // it could send (64 bytes, the size of a real finalization).
        for (is_known, from, v) in &logins {
            let r = login_finish(&mut http, forwarded_for(from), v, &random_bytes(64))?;
            if r.status != 401 {
                return Err(format!("wrong /login/finish answered {}", r.status).into());
            }
            if counted {
                let kind = if *is_known { &mut k } else { &mut u };
                kind.finish.push(r.elapsed);
                kind.finish_lengths.push(r.body.len());
            }
        }
        let r = http.request("GET", "/health", None, b"")?;
        if counted {
            health.push(r.elapsed);
        }
    }
    // Pair the server's access-log times with the requests, in order.
    let log = server.take_log();
    let logins: Vec<&LogLine> = log.iter().filter(|l| l.path == "/login").collect();
    let finishes: Vec<&LogLine> = log.iter().filter(|l| l.path == "/login/finish").collect();
    let paired = logins.len() == order.len()
        && finishes.len() == order.len()
        && logins.iter().all(|l| l.status == 200)
        && finishes.iter().all(|l| l.status == 401);
    if paired {
        for (j, is_known) in order.iter().enumerate() {
            if j < 2 * warmup {
                continue;
            }
            let kind = if *is_known { &mut k } else { &mut u };
            kind.server_login.push(Duration::from_micros(logins[j].us));
            kind.server_finish
                .push(Duration::from_micros(finishes[j].us));
        }
    } else {
        println!(
            "(access log not paired: {} /login and {} /login/finish lines for {} requests)",
            logins.len(),
            finishes.len(),
            order.len()
        );
    }

    table_head(&format!(
        "Latency seen by the client, {rounds} interleaved rounds (after {warmup} warm-up)"
    ));
    row("/login, known username", &stats(&k.login));
    row("/login, unknown username", &stats(&u.login));
    row("/login/finish wrong password, known", &stats(&k.finish));
    row("/login/finish, unknown username", &stats(&u.finish));
    row("GET /health (HTTP + one SQLite read)", &stats(&health));
    if paired {
        // The access-log time runs until `respond` returns and the line is
        // formatted: a worker preempted after sending inflates it.
        table_head("Server's own time per request (its access log, paired by order)");
        row("/login, known username", &stats(&k.server_login));
        row("/login, unknown username", &stats(&u.server_login));
        row(
            "/login/finish wrong password, known",
            &stats(&k.server_finish),
        );
        row("/login/finish, unknown username", &stats(&u.server_finish));
    }
    println!();
    println!(
        "/login, unknown vs known (client): {}",
        gap(&k.login, &u.login)
    );
    println!(
        "/login/finish, unknown vs known (client): {}",
        gap(&k.finish, &u.finish)
    );
    if paired {
        println!(
            "/login, unknown vs known (server log): {}",
            gap(&k.server_login, &u.server_login)
        );
    }
    println!(
        "/login body lengths: known {}, unknown {}; /login/finish (401) lengths: known {}, unknown {}",
        lengths(&k.login_lengths),
        lengths(&u.login_lengths),
        lengths(&k.finish_lengths),
        lengths(&u.finish_lengths)
    );
    let equal = lengths(&k.login_lengths) == lengths(&u.login_lengths)
        && lengths(&k.finish_lengths) == lengths(&u.finish_lengths);
    println!(
        "response lengths equal: {}",
        if equal { "yes" } else { "NO" }
    );

    // Server CPU: failed attempts per kind, then complete logins.
    let idle = {
        let (t, c) = (process_ticks(pid), process_cpu_ns(pid));
        std::thread::sleep(Duration::from_secs(1));
        let t1 = process_ticks(pid);
        (t1.0 + t1.1 - t.0 - t.1, process_cpu_ns(pid) - c)
    };
    // Alternating chunks of each kind; the median over chunks resists the
    // odd chunk that another process's load inflates.
    let (mut cpu_known, mut cpu_unknown) = (Vec::new(), Vec::new());
    let per_kind = rounds.clamp(100, 400);
    let chunk = 10;
    for c in 0..per_kind.div_ceil(chunk) {
        for is_known in if c % 2 == 0 {
            [true, false]
        } else {
            [false, true]
        } {
            let name = if is_known { known } else { unknown };
            let before = process_cpu_ns(pid);
            for _ in 0..chunk {
                let from = addresses.next();
                let (_, _, v) = login_start(&mut http, forwarded_for(&from), name, password)?;
                login_finish(&mut http, forwarded_for(&from), &v, &random_bytes(64))?;
            }
            let per_attempt = Duration::from_nanos((process_cpu_ns(pid) - before) / chunk as u64);
            if is_known {
                cpu_known.push(per_attempt)
            } else {
                cpu_unknown.push(per_attempt)
            }
        }
    }

    let ksf = cheap_ksf();
    let mut login_time = Vec::with_capacity(complete);
    let (ticks0, ns0) = (process_ticks(pid), process_cpu_ns(pid));
    let wall = Instant::now();
    for _ in 0..complete {
        let (latency, _) =
            complete_login(&mut http, forwarded_for("192.0.2.1"), known, password, &ksf)?;
        login_time.push(latency);
    }
    let wall = wall.elapsed();
    let ticks1 = process_ticks(pid);
    let (user, system) = (ticks1.0 - ticks0.0, ticks1.1 - ticks0.1);
    let (ticks, ns) = (user + system, process_cpu_ns(pid) - ns0);

    table_head("Complete login over HTTP (known user, right password)");
    row("both requests, client-side latency", &stats(&login_time));
    println!();
    println!(
        "server CPU per complete login: {:.0} µs from /proc/{pid}/stat ({ticks} ticks of 10 ms over {complete} logins), {:.0} µs from schedstat",
        ticks as f64 * 10_000.0 / complete as f64,
        ns as f64 / 1000.0 / complete as f64
    );
    println!("  of which user {user} ticks, system {system} ticks");
    table_head(&format!(
        "Server CPU per failed attempt (/login + wrong /login/finish), schedstat, chunks of {chunk}"
    ));
    row(
        "known username, per attempt (n = chunks)",
        &stats(&cpu_known),
    );
    row(
        "unknown username, per attempt (n = chunks)",
        &stats(&cpu_unknown),
    );
    println!(
        "\nserver CPU per failed attempt, unknown vs known (chunk pairs): {}",
        gap(&cpu_known, &cpu_unknown)
    );
    println!(
        "server idle CPU over 1 s: {} ticks, {:.0} µs (worker polling)",
        idle.0,
        idle.1 as f64 / 1000.0
    );
    println!(
        "{complete} complete logins took {:.2} s of wall time: {:.0} logins/s with one sequential client (cheap client Argon2id)",
        wall.as_secs_f64(),
        complete as f64 / wall.as_secs_f64()
    );
    Ok(())
}

// ---------------------------------------------------------------------------
// 4. The login throttle's bookkeeping

/// The cost of `Limiter::begin` (every `/login` runs it, under one mutex) as
/// the number of addresses that failed within the window grows.
fn limiter() {
    use std::net::{IpAddr, Ipv4Addr};
    use vaultd::auth::limiter::Limiter;
    println!("\n## 4. Login throttle: cost of one /login's bookkeeping vs addresses in the window");
    table_head("Limiter::begin, fresh address each time (in process)");
    let address = |n: u32| IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + n));
    for tracked in [1_000u32, 4_000, 6_000, 20_000] {
        let limiter = Limiter::default();
        // Each begin adds a (username, address) and an address key.
        for n in 0..tracked {
            let _ = limiter.begin("alice", address(n));
        }
        let mut samples = Vec::new();
        for n in tracked..tracked + 200 {
            let t = Instant::now();
            let _ = limiter.begin("alice", address(n));
            samples.push(t.elapsed());
        }
        row(
            &format!("{tracked} addresses ({} keys) already failed", 2 * tracked),
            &stats(&samples),
        );
    }
}
