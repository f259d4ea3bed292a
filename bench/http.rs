//! `bench-http`: the HTTP throughput benchmark (docs/PERFORMANCE.md).
//!
//! A benchmark, not a test: it measures and prints, and asserts nothing about
//! time. It stops with an error when the server answers wrongly (a status
//! other than the expected one), and says so.
//!
//! In one run, on loopback:
//!
//! 1. **Ceilings.** The disk's durable-commit rate (`bench-fsync`: write +
//!    `fdatasync` in a loop, in the database's directory), and a bare
//!    tiny_http server (`bench-bare`: same worker count, `200 {}`) driven by
//!    `wrk` with the same request as the single-entry `/get`.
//! 2. **vaultd on SQLite**, then **on PostgreSQL** (a throwaway cluster this
//!    program starts with the server binaries it finds, durable settings:
//!    `fsync=on`, `synchronous_commit=on`; skipped when there are none).
//!    Users and entries are seeded through the API (OPAQUE registration and
//!    login with a cheap client Argon2id), then `wrk` (Lua scripts in
//!    `bench/wrk/`) drives `/get` (one entry; all of 10, 100, 1000 entries),
//!    `/add` (a new site each time) and `/change` (no `version`), at each
//!    connection count for a fixed time. Complete logins per second are
//!    driven by this program's own threads (the client's OPAQUE work runs
//!    here, with a cheap Argon2id; its CPU is reported separately).
//! 3. Optionally (`--growth`), **growth**: SQLite with 100 000 users and
//!    1 000 000 entries bulk-inserted in the schema's format, against the same
//!    server before the insert.
//!
//! For every run: requests per second, p50 and p99 latency (wrk), the
//! server's CPU seconds per 1 000 requests (`/proc/<pid>/stat` utime + stime),
//! its RSS before the run (idle) and its peak during the run (`VmHWM`, reset
//! before each run through `/proc/<pid>/clear_refs`), the CPU that other
//! processes used meanwhile (`/proc/stat` minus vaultd, the database, the
//! load generator), and each figure's ratio to its ceiling.
//!
//! Run: `make bench` (builds everything, installs wrk when missing and root).

#[path = "common.rs"]
mod common;
// The throwaway cluster's mechanics, the same file as the tests' (tests/common/pg.rs).
#[path = "../tests/common/pg_cluster.rs"]
mod pg_cluster;

use std::fmt::Write as _;
use std::io::Read;
use std::net::{SocketAddr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use argh::FromArgs;
use common::{
    Http, Res, Scratch, cheap_ksf, complete_login, expect, listening_addr, load_average, machine,
    percentile, prepare_server, stat_fields, status_field,
};
use pg_cluster::Cluster;
use serde_json::json;

/// The HTTP throughput benchmark (see docs/PERFORMANCE.md).
#[derive(FromArgs)]
struct Args {
    /// seconds per wrk run (default 5)
    #[argh(option, default = "5.0")]
    duration: f64,
    /// connection counts, comma-separated (default 1,16,64)
    #[argh(option, default = "String::from(\"1,16,64\")")]
    connections: String,
    /// concurrent clients for the login runs, comma-separated (default 1,16)
    #[argh(option, default = "String::from(\"1,16\")")]
    login_clients: String,
    /// worker threads of vaultd and bench-bare (default: vaultd's, two per
    /// core)
    #[argh(option)]
    threads: Option<usize>,
    /// the vaultd binary (default: the release build beside this program)
    #[argh(option)]
    vaultd: Option<PathBuf>,
    /// the bench-bare binary (default: beside this program)
    #[argh(option)]
    bare: Option<PathBuf>,
    /// the bench-fsync binary (default: beside this program)
    #[argh(option)]
    fsync: Option<PathBuf>,
    /// the wrk binary (default: wrk)
    #[argh(option, default = "String::from(\"wrk\")")]
    wrk: String,
    /// directory of the wrk scripts (default: bench/wrk of the sources)
    #[argh(option)]
    scripts: Option<PathBuf>,
    /// where the scratch directory goes (default: the temporary directory)
    #[argh(option)]
    dir: Option<PathBuf>,
    /// skip PostgreSQL
    #[argh(switch)]
    no_postgres: bool,
    /// also run the growth part (100 000 users, 1 000 000 entries; about 2 min)
    #[argh(switch)]
    growth: bool,
    /// run only the growth part
    #[argh(switch)]
    growth_only: bool,
    /// users for the growth part (default 100000)
    #[argh(option, default = "100_000")]
    growth_users: usize,
    /// entries for the growth part (default 1000000)
    #[argh(option, default = "1_000_000")]
    growth_entries: usize,
    /// only seed the vaultd at this address (users, entries, tokens) and
    /// print shell assignments for bench/profile.sh
    #[argh(option)]
    seed: Option<SocketAddr>,
}

fn main() {
    let args: Args = argh::from_env();
    let result = match args.seed {
        Some(addr) => seed_only(addr),
        None => run(&args),
    };
    if let Err(e) = result {
        eprintln!("bench-http: {e}");
        std::process::exit(1);
    }
}

// ---------------------------------------------------------------------------
// Context

struct Ctx {
    vaultd: PathBuf,
    bare: PathBuf,
    fsync: PathBuf,
    wrk: String,
    scripts: PathBuf,
    scratch: Scratch,
    threads: usize,
    duration: f64,
    connections: Vec<usize>,
    login_clients: Vec<usize>,
    ticks_per_second: f64,
}

fn parse_list(s: &str) -> Res<Vec<usize>> {
    let v: Vec<usize> = s
        .split(',')
        .filter(|p| !p.trim().is_empty())
        .map(|p| p.trim().parse::<usize>())
        .collect::<Result<_, _>>()?;
    if v.is_empty() || v.contains(&0) {
        return Err(format!("bad list {s:?}").into());
    }
    Ok(v)
}

fn run(args: &Args) -> Res<()> {
    let started = Instant::now();
    let (vaultd, bare, fsync) = binaries(args)?;
    let scripts = args
        .scripts
        .clone()
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("bench/wrk"));
    if !scripts.join("get.lua").exists() {
        return Err(format!("no wrk scripts in {}", scripts.display()).into());
    }
    if Command::new(&args.wrk)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_err()
    {
        return Err(format!(
            "`{}` not found: install wrk (Debian: apt-get install -y wrk), or pass --wrk",
            args.wrk
        )
        .into());
    }
    let parent = args.dir.clone().unwrap_or_else(std::env::temp_dir);
    let scratch = Scratch::new(&parent.join(format!("vaultd-bench-http-{}", std::process::id())))?;
    let threads = args.threads.unwrap_or_else(vaultd::config::default_threads);
    let ctx = Ctx {
        vaultd,
        bare,
        fsync,
        wrk: args.wrk.clone(),
        scripts,
        scratch,
        threads,
        duration: args.duration.max(1.0),
        connections: parse_list(&args.connections)?,
        login_clients: parse_list(&args.login_clients)?,
        ticks_per_second: clock_ticks(),
    };
    print_machine(&ctx);

    if !args.growth_only {
        let mut rows = Vec::new();
        let fsync = fsync_ceiling(&ctx, "3")?;
        let bare = bare_ceiling(&ctx, &mut rows)?;
        let sqlite = backend(&ctx, Backend::Sqlite, &fsync, &bare, &mut rows)?;
        let pg_note = if args.no_postgres {
            "PostgreSQL: skipped (--no-postgres)".to_string()
        } else {
            match PgCluster::start(&ctx) {
                Ok(Some(pg)) => {
                    let pg = Arc::new(pg);
                    backend(
                        &ctx,
                        Backend::Postgres(pg.clone()),
                        &fsync,
                        &bare,
                        &mut rows,
                    )?;
                    format!("PostgreSQL: {}", pg.describe)
                }
                Ok(None) => "PostgreSQL: skipped (no server binaries found)".to_string(),
                Err(e) => format!("PostgreSQL: skipped ({e})"),
            }
        };
        print_table(&ctx, &fsync, &rows, &sqlite, &pg_note);
    }
    if args.growth || args.growth_only {
        growth(&ctx, args.growth_users, args.growth_entries)?;
    }
    println!(
        "\nload average at the end: {}; whole run {:.0} s",
        load_average(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// vaultd, bench-bare, bench-fsync: given, or beside this program (built
/// first under `cargo run`).
fn binaries(args: &Args) -> Res<(PathBuf, PathBuf, PathBuf)> {
    let dir = common::profile_dir()?;
    let all_given = args.vaultd.is_some() && args.bare.is_some() && args.fsync.is_some();
    if !all_given {
        common::cargo_build(
            &[
                "--release",
                "--bin",
                "vaultd",
                "--example",
                "bench-bare",
                "--example",
                "bench-fsync",
            ],
            "bench-http: building vaultd, bench-bare, bench-fsync (release)",
        )?;
    }
    // Absolute: the servers are started in their own scratch directories.
    let pick = |given: &Option<PathBuf>, default: PathBuf| -> Res<PathBuf> {
        let p = given.clone().unwrap_or(default);
        std::fs::canonicalize(&p)
            .map_err(|_| format!("{} not found: run `make bench`", p.display()).into())
    };
    Ok((
        pick(&args.vaultd, dir.join("vaultd"))?,
        pick(&args.bare, dir.join("examples/bench-bare"))?,
        pick(&args.fsync, dir.join("examples/bench-fsync"))?,
    ))
}

// ---------------------------------------------------------------------------
// /proc

fn clock_ticks() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.trim().parse().ok())
        .unwrap_or(100.0)
}

/// utime + stime of a process, in clock ticks (every thread, living or
/// exited).
fn cpu_ticks(pid: u32) -> u64 {
    let f = stat_fields(&format!("/proc/{pid}/stat"));
    f.get(11).copied().unwrap_or(0) + f.get(12).copied().unwrap_or(0)
}

/// utime + stime, and cutime + cstime (waited-for children), of this process.
fn self_ticks() -> (u64, u64) {
    let f = stat_fields("/proc/self/stat");
    let g = |i: usize| f.get(i).copied().unwrap_or(0);
    (g(11) + g(12), g(13) + g(14))
}

/// Resets `VmHWM` to the current RSS (Linux 4.0+).
fn reset_peak(pid: u32) -> bool {
    std::fs::write(format!("/proc/{pid}/clear_refs"), "5").is_ok()
}

/// (busy, all) clock ticks of the whole machine, from `/proc/stat`.
fn machine_ticks() -> (u64, u64) {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let Some(line) = stat.lines().next() else {
        return (0, 0);
    };
    let v: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .take(8)
        .map(|f| f.parse().unwrap_or(0))
        .collect();
    if v.len() < 8 {
        return (0, 0);
    }
    let all: u64 = v.iter().sum();
    let idle = v[3] + v[4];
    (all - idle, all)
}

fn load1() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next().map(str::to_string))
        .unwrap_or_default()
}

/// The file system type of the mount holding `path` (longest mount point).
fn fs_type(path: &Path) -> String {
    let path = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    let mounts = std::fs::read_to_string("/proc/self/mounts").unwrap_or_default();
    let mut best = (0, String::from("?"), String::new());
    for line in mounts.lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.len() < 3 {
            continue;
        }
        if path.starts_with(f[1]) && f[1].len() >= best.0 {
            best = (f[1].len(), f[2].to_string(), f[0].to_string());
        }
    }
    format!("{} ({})", best.1, best.2)
}

fn print_machine(ctx: &Ctx) {
    let wrk = Command::new(&ctx.wrk)
        .arg("--version")
        .output()
        .map(|o| {
            let s = String::from_utf8_lossy(&o.stdout).to_string()
                + &String::from_utf8_lossy(&o.stderr);
            s.lines().next().unwrap_or("").to_string()
        })
        .unwrap_or_default();
    println!("## bench-http\n");
    println!("machine: {}", machine());
    println!(
        "scratch: {} on {}",
        ctx.scratch.0.display(),
        fs_type(&ctx.scratch.0)
    );
    println!("load generator: {wrk}, 1 thread (-t1)");
    println!(
        "vaultd: {} ({} bytes), {} worker threads; {:.0} s per run",
        ctx.vaultd.display(),
        file_size(&ctx.vaultd),
        ctx.threads,
        ctx.duration
    );
    println!("load average at the start: {}", load_average());
}

fn file_size(p: &Path) -> u64 {
    std::fs::metadata(p).map_or(0, |m| m.len())
}

// ---------------------------------------------------------------------------
// Servers

/// A server process (vaultd or bench-bare) with its stderr in a file,
/// stopped with SIGTERM (then SIGKILL) on drop.
struct Server {
    child: Child,
    addr: SocketAddr,
    log: PathBuf,
}

impl Server {
    fn start(mut cmd: Command, dir: &Path, name: &str) -> Res<Server> {
        let log = dir.join(format!("{name}.log"));
        let file = std::fs::File::create(&log)?;
        // Into a file, not a pipe: reading the access log would cost this
        // process CPU, which counts as the load generator's.
        prepare_server(&mut cmd, dir).stderr(file);
        let mut child = cmd.spawn().map_err(|e| format!("starting {name}: {e}"))?;
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            if let Some(addr) = listening_addr(&text) {
                let addr = addr.parse()?;
                return Ok(Server { child, addr, log });
            }
            if let Ok(Some(status)) = child.try_wait() {
                return Err(format!("{name} exited ({status}): {}", text.trim()).into());
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                return Err(format!("{name} did not start: {}", text.trim()).into());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn pid(&self) -> u32 {
        self.child.id()
    }

    fn stop(&mut self) {
        if let Ok(Some(_)) = self.child.try_wait() {
            return;
        }
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
    }
}

fn start_vaultd(ctx: &Ctx, dir: &Path) -> Res<Server> {
    let mut cmd = Command::new(&ctx.vaultd);
    cmd.args([
        "--bind",
        "127.0.0.1:0",
        "--init-db",
        "--trust-proxy",
        "--threads",
    ])
    .arg(ctx.threads.to_string());
    Server::start(cmd, dir, "vaultd")
}

// ---------------------------------------------------------------------------
// PostgreSQL: a throwaway cluster with durable settings

struct PgCluster {
    cluster: Cluster,
    port: u16,
    describe: String,
    postmaster: u32,
}

const PG_USER: &str = "vaultd";
const PG_PASSWORD: &str = "vaultd-bench";

impl PgCluster {
    /// Starts a cluster in the scratch directory; `None` without server
    /// binaries.
    fn start(ctx: &Ctx) -> Res<Option<PgCluster>> {
        let base = ctx.scratch.sub("pg")?;
        let Some(cluster) = Cluster::new(&base)? else {
            return Ok(None);
        };
        eprintln!(
            "bench-http: starting a PostgreSQL cluster in {}",
            base.display()
        );
        cluster.init(PG_USER, PG_PASSWORD)?;
        let port = free_port()?;
        // Durable defaults: fsync=on, synchronous_commit=on.
        cluster.start(port, &["fsync=on", "synchronous_commit=on"])?;
        let postmaster: u32 = std::fs::read_to_string(cluster.data.join("postmaster.pid"))?
            .lines()
            .next()
            .and_then(|l| l.trim().parse().ok())
            .ok_or("no postmaster.pid")?;
        let mut cluster = PgCluster {
            cluster,
            port,
            describe: String::new(),
            postmaster,
        };
        let mut admin = cluster.client("postgres")?;
        let version: String = admin.query_one("SHOW server_version", &[])?.get(0);
        let mut settings = Vec::new();
        for s in [
            "fsync",
            "synchronous_commit",
            "wal_sync_method",
            "shared_buffers",
        ] {
            let v: String = admin.query_one(&format!("SHOW {s}"), &[])?.get(0);
            settings.push(format!("{s}={v}"));
        }
        admin.batch_execute(
            "CREATE DATABASE vaultd_bench TEMPLATE template0 ENCODING 'UTF8' \
             LC_COLLATE 'C' LC_CTYPE 'C'",
        )?;
        cluster.describe = format!(
            "{version}, throwaway cluster on 127.0.0.1:{port}, {}",
            settings.join(", ")
        );
        Ok(Some(cluster))
    }

    fn client(&self, database: &str) -> Res<postgres::Client> {
        let mut config = postgres::Config::new();
        config
            .host("127.0.0.1")
            .port(self.port)
            .user(PG_USER)
            .password(PG_PASSWORD)
            .dbname(database)
            .connect_timeout(Duration::from_secs(5));
        Ok(config.connect(postgres::NoTls)?)
    }

    fn database_ini(&self) -> String {
        format!(
            "[postgresql]\nhost=127.0.0.1\nport={}\nuser={PG_USER}\npassword={PG_PASSWORD}\n\
             database=vaultd_bench\nsslmode=disable\n",
            self.port
        )
    }

    /// CPU ticks of the whole cluster: the postmaster with its reaped
    /// children, plus every live child (the backends).
    fn cpu_ticks(&self) -> u64 {
        let f = stat_fields(&format!("/proc/{}/stat", self.postmaster));
        let mut total: u64 = f.iter().skip(11).take(4).sum();
        if let Ok(procs) = std::fs::read_dir("/proc") {
            for p in procs.flatten() {
                let Some(pid) = p.file_name().to_str().and_then(|s| s.parse::<u32>().ok()) else {
                    continue;
                };
                let f = stat_fields(&format!("/proc/{pid}/stat"));
                // Index 1 is field 4, the parent's pid.
                if f.get(1).copied() == Some(self.postmaster as u64) {
                    total += f.get(11).copied().unwrap_or(0) + f.get(12).copied().unwrap_or(0);
                }
            }
        }
        total
    }
}

impl Drop for PgCluster {
    fn drop(&mut self) {
        self.cluster.stop();
    }
}

fn free_port() -> Res<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

// ---------------------------------------------------------------------------
// Seeding and logins through the API

/// How long a server is left alone before its idle RSS is read after the
/// runs: longer than tiny_http's 5 s for unused connection threads and
/// vaultd's 6 s before it returns free memory (src/http.rs).
const IDLE_WAIT: Duration = Duration::from_secs(8);

const PASSWORD: &[u8] = b"correct horse battery staple";

fn register(http: &mut Http, username: &str) -> Res<()> {
    // Every `/register` counts against its address in the login throttle
    // (API.md 1.1): each benchmark user registers from an address of its own
    // (vaultd runs with `--trust-proxy`), as users of a real server would.
    static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(1);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let address = format!("10.{}.{}.{}", (n >> 16) & 255, (n >> 8) & 255, n & 255);
    common::register(
        http,
        Some(("X-Forwarded-For", &address)),
        username,
        PASSWORD,
    )
}

/// A complete login (both requests); returns the token.
fn login(http: &mut Http, username: &str, ksf: &argon2::Argon2<'static>) -> Res<String> {
    let (_, r) = complete_login(http, None, username, PASSWORD, ksf)?;
    Ok(r.json()?["token"].as_str().ok_or("no token")?.to_string())
}

/// Strings shaped like what a client stores (as bench/wrk/common.lua).
const ENTRY_USERNAME_LEN: usize = 64;
const ENTRY_PASSWORD_LEN: usize = 88;

/// A 43-character site (the length of a base64url keyed hash).
fn site_name(prefix: &str, i: usize) -> String {
    let mut s = format!("{prefix}-{i:06}");
    while s.len() < 43 {
        s.push('x');
    }
    s
}

fn add_entries(http: &mut Http, token: &str, sites: &[String]) -> Res<()> {
    let username = "u".repeat(ENTRY_USERNAME_LEN);
    let password = "p".repeat(ENTRY_PASSWORD_LEN);
    let bearer = format!("Bearer {token}");
    for site in sites {
        let r = http.post(
            "/add",
            Some(("Authorization", &bearer)),
            &json!({"site": site, "username": username, "password": password}),
        )?;
        expect(&r, 201, "/add")?;
    }
    Ok(())
}

/// Seeds a fresh vaultd through the API: users `bench-e10`, `bench-e100`,
/// `bench-e1000`, `bench-e10000` with that many entries, `bench-add` (none), `bench-chg`
/// (64 entries `chg-0000` …), and `logins` (registered only). Returns a
/// token per entry-holding user.
fn seed(
    addr: SocketAddr,
    logins: &[String],
) -> Res<std::collections::HashMap<&'static str, String>> {
    let mut http = Http::new(addr);
    let ksf = cheap_ksf();
    let mut tokens = std::collections::HashMap::new();
    for user in [
        "bench-e10",
        "bench-e100",
        "bench-e1000",
        "bench-e10000",
        "bench-add",
        "bench-chg",
    ] {
        register(&mut http, user)?;
        tokens.insert(user, login(&mut http, user, &ksf)?);
    }
    for user in logins {
        register(&mut http, user)?;
    }
    for (user, n) in [
        ("bench-e10", 10),
        ("bench-e100", 100),
        ("bench-e1000", 1000),
        ("bench-e10000", 10_000),
    ] {
        let prefix = &user["bench-".len()..];
        let sites: Vec<String> = (0..n).map(|i| site_name(prefix, i)).collect();
        add_entries(&mut http, &tokens[user], &sites)?;
    }
    let chg_sites: Vec<String> = (0..64).map(|i| format!("chg-{i:04}")).collect();
    add_entries(&mut http, &tokens["bench-chg"], &chg_sites)?;
    Ok(tokens)
}

/// `--seed ADDR`: seeds and prints `NAME=value` lines for a shell.
fn seed_only(addr: SocketAddr) -> Res<()> {
    let tokens = seed(addr, &["bench-login-0".to_string()])?;
    for (user, var) in [
        ("bench-e10", "TOKEN_E10"),
        ("bench-e100", "TOKEN_E100"),
        ("bench-e1000", "TOKEN_E1000"),
        ("bench-add", "TOKEN_ADD"),
        ("bench-chg", "TOKEN_CHG"),
    ] {
        println!("{var}={}", tokens[user]);
    }
    println!("SITE_ONE={}", site_name("e10", 5));
    Ok(())
}

// ---------------------------------------------------------------------------
// Measuring one run

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Ceiling,
    Read,
    Write,
    Login,
}

#[derive(Clone)]
struct Row {
    backend: String,
    scenario: String,
    kind: Kind,
    conns: usize,
    requests: u64,
    seconds: f64,
    p50_us: f64,
    p99_us: f64,
    /// Server CPU seconds over the run.
    cpu_s: f64,
    /// The database server's CPU seconds (PostgreSQL).
    db_cpu_s: Option<f64>,
    /// The load generator's CPU seconds (wrk, or this program for logins).
    client_cpu_s: f64,
    /// CPU seconds of every other process on the machine.
    other_cpu_s: f64,
    rss_idle_kib: u64,
    rss_peak_kib: u64,
    load: String,
    /// Failed requests (socket errors, timeouts, statuses ≥ 400).
    errors: u64,
    /// For writes and logins: the durable-commit ceiling measured just
    /// before this backend's write runs (rate, p50 µs, p99 µs).
    fsync: Option<(f64, f64, f64)>,
}

impl Row {
    fn rate(&self) -> f64 {
        self.requests as f64 / self.seconds.max(1e-9)
    }
    /// Server CPU seconds per 1 000 requests.
    fn cpu_per_1k(&self) -> f64 {
        self.cpu_s * 1000.0 / self.requests.max(1) as f64
    }
}

/// Before/after counters around one run.
struct Probe {
    server: u32,
    db: Option<Arc<PgCluster>>,
    ticks: u64,
    db_ticks: u64,
    self_ticks: (u64, u64),
    machine: (u64, u64),
    rss_idle: u64,
    peak_reset: bool,
    load: String,
}

impl Probe {
    fn begin(server: u32, db: Option<Arc<PgCluster>>) -> Probe {
        let rss_idle = status_field(server, "VmRSS");
        let peak_reset = reset_peak(server);
        Probe {
            server,
            db_ticks: db.as_ref().map_or(0, |d| d.cpu_ticks()),
            db,
            ticks: cpu_ticks(server),
            self_ticks: self_ticks(),
            machine: machine_ticks(),
            rss_idle,
            peak_reset,
            load: load1(),
        }
    }

    /// Fills the CPU and memory figures of `row`. `client_is_self`: the load
    /// generator is this process (logins), else a waited-for child (wrk).
    fn end(self, ctx: &Ctx, row: &mut Row, client_is_self: bool) {
        let hz = ctx.ticks_per_second;
        let cpu = (cpu_ticks(self.server) - self.ticks) as f64 / hz;
        let db = self
            .db
            .as_ref()
            .map(|d| d.cpu_ticks().saturating_sub(self.db_ticks) as f64 / hz);
        let (own, children) = self_ticks();
        let client = if client_is_self {
            own - self.self_ticks.0
        } else {
            children - self.self_ticks.1
        } as f64
            / hz;
        let machine = machine_ticks();
        let busy = machine.0.saturating_sub(self.machine.0) as f64 / hz;
        row.cpu_s = cpu;
        row.db_cpu_s = db;
        row.client_cpu_s = client;
        row.other_cpu_s = (busy - cpu - db.unwrap_or(0.0) - client).max(0.0);
        row.rss_idle_kib = self.rss_idle;
        row.rss_peak_kib = if self.peak_reset {
            status_field(self.server, "VmHWM")
        } else {
            0
        };
        row.load = self.load;
    }
}

/// Runs wrk once against `url` with `script` and its arguments.
#[allow(clippy::too_many_arguments)]
fn wrk_run(
    ctx: &Ctx,
    server: &Server,
    db: Option<Arc<PgCluster>>,
    backend: &str,
    scenario: &str,
    kind: Kind,
    path: &str,
    script: &str,
    conns: usize,
    script_args: &[String],
    seconds: f64,
) -> Res<Row> {
    let mut cmd = Command::new(&ctx.wrk);
    cmd.args(["-t1", "-c"])
        .arg(conns.to_string())
        .arg("-d")
        .arg(format!("{}s", seconds.round().max(1.0) as u64))
        .args(["--timeout", "5s", "-s"])
        .arg(ctx.scripts.join(script))
        .arg(format!("http://{}{path}", server.addr))
        .arg("--")
        .args(script_args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let probe = Probe::begin(server.pid(), db);
    let mut child = cmd.spawn().map_err(|e| format!("starting wrk: {e}"))?;
    // wrk stops itself after -d; this is the guard in case it does not.
    let deadline = Instant::now() + Duration::from_secs_f64(seconds + 20.0);
    let mut stdout = child.stdout.take().ok_or("no stdout")?;
    let reader = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = stdout.read_to_string(&mut s);
        s
    });
    loop {
        if child.try_wait()?.is_some() {
            break;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return Err(format!("wrk did not stop: {backend} {scenario} c={conns}").into());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = reader.join().unwrap_or_default();
    let mut row = Row {
        backend: backend.to_string(),
        scenario: scenario.to_string(),
        kind,
        conns,
        requests: 0,
        seconds: 0.0,
        p50_us: 0.0,
        p99_us: 0.0,
        cpu_s: 0.0,
        db_cpu_s: None,
        client_cpu_s: 0.0,
        other_cpu_s: 0.0,
        rss_idle_kib: 0,
        rss_peak_kib: 0,
        load: String::new(),
        errors: 0,
        fsync: None,
    };
    probe.end(ctx, &mut row, false);
    let line = out
        .lines()
        .find_map(|l| l.strip_prefix("BENCH "))
        .ok_or_else(|| {
            let mut err = String::new();
            if let Some(mut e) = child.stderr.take() {
                let _ = e.read_to_string(&mut err);
            }
            format!("no result from wrk ({backend} {scenario} c={conns}): {out}{err}")
        })?;
    let field = |k: &str| -> f64 {
        line.split_whitespace()
            .find_map(|kv| kv.strip_prefix(k)?.strip_prefix('='))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0.0)
    };
    row.requests = field("requests") as u64;
    row.seconds = field("duration_us") / 1e6;
    row.p50_us = field("p50_us");
    row.p99_us = field("p99_us");
    row.errors = ["connect", "read", "write", "status", "timeout"]
        .iter()
        .map(|k| field(k) as u64)
        .sum();
    if row.errors > 0 {
        eprintln!("bench-http: WARNING {backend} {scenario} c={conns}: {line}");
    }
    eprintln!(
        "bench-http: {backend:<10} {scenario:<22} c={conns:<3} {:>8.0} req/s p50 {:>7.2} ms p99 {:>7.2} ms  (load {})",
        row.rate(),
        row.p50_us / 1000.0,
        row.p99_us / 1000.0,
        row.load
    );
    Ok(row)
}

/// Complete logins for `seconds` from `clients` threads, each its own user
/// and keep-alive connection.
fn login_run(
    ctx: &Ctx,
    server: &Server,
    db: Option<Arc<PgCluster>>,
    backend: &str,
    users: &[String],
    clients: usize,
    seconds: f64,
) -> Res<Row> {
    let stop = Arc::new(AtomicBool::new(false));
    let probe = Probe::begin(server.pid(), db);
    let t0 = Instant::now();
    let handles: Vec<_> = (0..clients)
        .map(|i| {
            let (stop, addr, user) = (stop.clone(), server.addr, users[i % users.len()].clone());
            std::thread::spawn(move || -> Result<Vec<Duration>, String> {
                let ksf = cheap_ksf();
                let mut http = Http::new(addr);
                let mut times = Vec::new();
                while !stop.load(Ordering::Relaxed) {
                    let t = Instant::now();
                    login(&mut http, &user, &ksf).map_err(|e| e.to_string())?;
                    times.push(t.elapsed());
                }
                Ok(times)
            })
        })
        .collect();
    std::thread::sleep(Duration::from_secs_f64(seconds));
    stop.store(true, Ordering::Relaxed);
    let mut times = Vec::new();
    for h in handles {
        times.extend(h.join().map_err(|_| "login thread panicked")??);
    }
    let elapsed = t0.elapsed().as_secs_f64();
    times.sort_unstable();
    let mut row = Row {
        backend: backend.to_string(),
        scenario: "complete login".into(),
        kind: Kind::Login,
        conns: clients,
        requests: times.len() as u64,
        seconds: elapsed,
        p50_us: percentile(&times, 50.0),
        p99_us: percentile(&times, 99.0),
        cpu_s: 0.0,
        db_cpu_s: None,
        client_cpu_s: 0.0,
        other_cpu_s: 0.0,
        rss_idle_kib: 0,
        rss_peak_kib: 0,
        load: String::new(),
        errors: 0,
        fsync: None,
    };
    probe.end(ctx, &mut row, true);
    eprintln!(
        "bench-http: {backend:<10} complete login         c={clients:<3} {:>8.0} logins/s, server CPU {:.3} ms per login (load {})",
        row.rate(),
        row.cpu_per_1k(),
        row.load
    );
    Ok(row)
}

// ---------------------------------------------------------------------------
// Ceilings

struct Fsync {
    rate: f64,
    p50_us: f64,
    p99_us: f64,
    append: String,
    load: String,
}

fn fsync_ceiling(ctx: &Ctx, seconds: &str) -> Res<Fsync> {
    let dir = ctx.scratch.sub("sqlite")?;
    let load = load1();
    let out = Command::new(&ctx.fsync)
        .arg("--dir")
        .arg(&dir)
        .args(["--seconds", seconds])
        .output()?;
    if !out.status.success() {
        return Err(format!(
            "bench-fsync failed: {}",
            String::from_utf8_lossy(&out.stderr)
        )
        .into());
    }
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let field = |line: &str, k: &str| -> f64 {
        line.split_whitespace()
            .find_map(|kv| kv.strip_prefix(k)?.strip_prefix('='))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0.0)
    };
    let over = text
        .lines()
        .find(|l| l.starts_with("fsync overwrite:"))
        .ok_or("no overwrite line from bench-fsync")?;
    let append = text
        .lines()
        .find(|l| l.starts_with("fsync append:"))
        .unwrap_or("");
    let f = Fsync {
        rate: field(over, "rate"),
        p50_us: field(over, "p50_us"),
        p99_us: field(over, "p99_us"),
        append: format!(
            "{:.0} commits/s, p50 {:.0} µs",
            field(append, "rate"),
            field(append, "p50_us")
        ),
        load,
    };
    eprintln!(
        "bench-http: durable commits (write 4 KiB + fdatasync, overwrite): {:.0}/s, p50 {:.0} µs, p99 {:.0} µs; append: {} (load {})",
        f.rate, f.p50_us, f.p99_us, f.append, f.load
    );
    Ok(f)
}

/// A token of the length vaultd issues, for the bare server's requests.
fn token_like() -> String {
    let keys = vaultd::auth::token::TokenKeys::new(b"bench-http: any key of 32+ bytes!", 3600);
    keys.issue(12, 0).unwrap_or_else(|_| "x".repeat(220))
}

fn bare_ceiling(ctx: &Ctx, rows: &mut Vec<Row>) -> Res<Vec<Row>> {
    let dir = ctx.scratch.sub("bare")?;
    let mut cmd = Command::new(&ctx.bare);
    cmd.args(["--bind", "127.0.0.1:0", "--threads"])
        .arg(ctx.threads.to_string());
    let server = Server::start(cmd, &dir, "bench-bare")?;
    let args = vec![token_like(), site_name("e10", 5)];
    // Warm-up, not reported.
    wrk_run(
        ctx,
        &server,
        None,
        "bare",
        "warm-up",
        Kind::Ceiling,
        "/get",
        "get.lua",
        16,
        &args,
        1.0,
    )?;
    let mut out = Vec::new();
    for &c in &ctx.connections {
        let row = wrk_run(
            ctx,
            &server,
            None,
            "tiny_http",
            "bare 200 {}",
            Kind::Ceiling,
            "/get",
            "get.lua",
            c,
            &args,
            ctx.duration,
        )?;
        out.push(row.clone());
        rows.push(row);
    }
    Ok(out)
}

// ---------------------------------------------------------------------------
// One backend

enum Backend {
    Sqlite,
    Postgres(Arc<PgCluster>),
}

/// What the targets need from the SQLite run.
struct BackendSummary {
    rss_start_kib: u64,
    rss_end_kib: u64,
    rss_peak_kib: u64,
}

fn backend(
    ctx: &Ctx,
    which: Backend,
    _fsync: &Fsync,
    _bare: &[Row],
    rows: &mut Vec<Row>,
) -> Res<BackendSummary> {
    let (name, dir, db) = match &which {
        Backend::Sqlite => ("SQLite", ctx.scratch.sub("sqlite")?, None),
        Backend::Postgres(pg) => {
            let dir = ctx.scratch.sub("postgres")?;
            std::fs::write(dir.join("database.ini"), pg.database_ini())?;
            ("PostgreSQL", dir, Some(pg.clone()))
        }
    };
    let mut server = start_vaultd(ctx, &dir)?;
    let pid = server.pid();
    let rss_start_kib = status_field(pid, "VmRSS");
    eprintln!(
        "bench-http: {name}: vaultd pid {pid} on {}, RSS {rss_start_kib} KiB; seeding",
        server.addr
    );

    let logins: Vec<String> = (0..*ctx.login_clients.iter().max().unwrap_or(&1))
        .map(|i| format!("bench-login-{i}"))
        .collect();
    let tokens = seed(server.addr, &logins)?;
    std::thread::sleep(Duration::from_millis(500));
    let rss_seeded = status_field(pid, "VmRSS");
    eprintln!("bench-http: {name}: seeded; RSS {rss_seeded} KiB");

    let get_one = vec![tokens["bench-e10"].clone(), site_name("e10", 5)];
    // Warm-up, not reported.
    wrk_run(
        ctx,
        &server,
        db.clone(),
        name,
        "warm-up",
        Kind::Read,
        "/get",
        "get.lua",
        16,
        &get_one,
        1.0,
    )?;
    let run_id = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let mut peak = 0;
    let mut push = |row: Row, rows: &mut Vec<Row>| {
        peak = peak.max(row.rss_peak_kib);
        rows.push(row);
    };
    for &c in &ctx.connections {
        let row = wrk_run(
            ctx,
            &server,
            db.clone(),
            name,
            "/get one entry",
            Kind::Read,
            "/get",
            "get.lua",
            c,
            &get_one,
            ctx.duration,
        )?;
        push(row, rows);
    }
    for (user, n) in [
        ("bench-e10", 10),
        ("bench-e100", 100),
        ("bench-e1000", 1000),
        ("bench-e10000", 10_000),
    ] {
        let args = vec![tokens[user].clone()];
        for &c in &ctx.connections {
            let row = wrk_run(
                ctx,
                &server,
                db.clone(),
                name,
                &format!("/get all, {n} entries"),
                Kind::Read,
                "/get",
                "get.lua",
                c,
                &args,
                ctx.duration,
            )?;
            push(row, rows);
        }
    }
    // A one-change /sync: the user's last write only, which must
    // cost the same in a small and a large vault (an index range).
    for (user, n) in [("bench-e10", 10), ("bench-e10000", 10_000)] {
        let args = vec![tokens[user].clone(), (n - 1).to_string()];
        for &c in &ctx.connections {
            let row = wrk_run(
                ctx,
                &server,
                db.clone(),
                name,
                &format!("/sync one change, {n} entries"),
                Kind::Read,
                "/sync",
                "sync.lua",
                c,
                &args,
                ctx.duration,
            )?;
            push(row, rows);
        }
    }
    // The disk's rate changes with other processes' I/O: measure it again
    // next to the writes, and compare them with this figure.
    let near = fsync_ceiling(ctx, "2")?;
    let near = Some((near.rate, near.p50_us, near.p99_us));
    let mut push = |mut row: Row, rows: &mut Vec<Row>| {
        row.fsync = near;
        push(row, rows);
    };
    for &c in &ctx.connections {
        let args = vec![tokens["bench-add"].clone(), format!("a{run_id}c{c}")];
        let row = wrk_run(
            ctx,
            &server,
            db.clone(),
            name,
            "/add",
            Kind::Write,
            "/add",
            "add.lua",
            c,
            &args,
            ctx.duration,
        )?;
        push(row, rows);
    }
    for &c in &ctx.connections {
        let args = vec![tokens["bench-chg"].clone(), "chg".into(), "64".into()];
        let row = wrk_run(
            ctx,
            &server,
            db.clone(),
            name,
            "/change",
            Kind::Write,
            "/change",
            "change.lua",
            c,
            &args,
            ctx.duration,
        )?;
        push(row, rows);
    }
    for &c in &ctx.login_clients {
        let row = login_run(ctx, &server, db.clone(), name, &logins, c, ctx.duration)?;
        push(row, rows);
    }
    // Idle as a server is idle: tiny_http ends unused connection threads
    // after 5 s, and vaultd returns free memory after 6 s without requests.
    std::thread::sleep(IDLE_WAIT);
    let rss_end_kib = status_field(pid, "VmRSS");
    let log_lines = std::fs::read_to_string(&server.log)
        .map(|t| t.lines().count())
        .unwrap_or(0);
    eprintln!(
        "bench-http: {name}: idle RSS at start {rss_start_kib} KiB, after seeding {rss_seeded} KiB, {} s after the runs {rss_end_kib} KiB; {log_lines} log lines",
        IDLE_WAIT.as_secs()
    );
    server.stop();
    Ok(BackendSummary {
        rss_start_kib,
        rss_end_kib,
        rss_peak_kib: peak,
    })
}

// ---------------------------------------------------------------------------
// The table

fn mib(kib: u64) -> String {
    format!("{:.1}", kib as f64 / 1024.0)
}

fn ratio(x: f64, of: f64) -> String {
    if of <= 0.0 {
        return "–".into();
    }
    format!("{:.2}", x / of)
}

fn print_table(ctx: &Ctx, fsync: &Fsync, rows: &[Row], sqlite: &BackendSummary, pg_note: &str) {
    let bare = |c: usize| {
        rows.iter()
            .find(|r| r.kind == Kind::Ceiling && r.conns == c)
    };
    println!("\n### Throughput, latency, CPU and memory\n");
    println!(
        "Ceilings: bare tiny_http ({} workers, `200 {{}}`) for reads; durable commits \
         (4 KiB write + fdatasync, one thread) for writes: **{:.0}/s**, p50 {:.0} µs, p99 {:.0} µs \
         at the start (load {}); appending instead: {}. Write rows are compared with \
         the rate measured again just before that backend's writes (last column). Logins \
         have no ceiling here: their two commits are not fsynced (pending logins are \
         ephemeral), so CPU bounds them.\n",
        ctx.threads, fsync.rate, fsync.p50_us, fsync.p99_us, fsync.load, fsync.append
    );
    println!(
        "| backend | scenario | conns | req/s | × ceiling | p50 ms (× ceiling) | p99 ms (× ceiling) \
         | server CPU s / 1k req (× bare) | RSS idle MiB | RSS peak MiB | wrk CPU s / 1k | other processes, cores | load | fsync ceiling /s |"
    );
    println!("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for r in rows {
        let (rate_ceiling, p50_ceiling, p99_ceiling, cpu_ceiling) = match r.kind {
            Kind::Ceiling => (r.rate(), r.p50_us, r.p99_us, r.cpu_per_1k()),
            Kind::Read => bare(r.conns).map_or((0.0, 0.0, 0.0, 0.0), |b| {
                (b.rate(), b.p50_us, b.p99_us, b.cpu_per_1k())
            }),
            Kind::Write => {
                let (rate, p50, p99) = r.fsync.unwrap_or((fsync.rate, fsync.p50_us, fsync.p99_us));
                (rate, p50, p99, 0.0)
            }
            Kind::Login => (0.0, 0.0, 0.0, 0.0),
        };
        let cpu = match r.db_cpu_s {
            Some(db) => format!(
                "{:.3} + {:.3} PostgreSQL",
                r.cpu_per_1k(),
                db * 1000.0 / r.requests.max(1) as f64
            ),
            None if cpu_ceiling > 0.0 => {
                format!(
                    "{:.3} ({})",
                    r.cpu_per_1k(),
                    ratio(r.cpu_per_1k(), cpu_ceiling)
                )
            }
            None => format!("{:.3}", r.cpu_per_1k()),
        };
        let client = if r.kind == Kind::Login {
            format!(
                "{:.3} (this program)",
                r.client_cpu_s * 1000.0 / r.requests.max(1) as f64
            )
        } else {
            format!("{:.3}", r.client_cpu_s * 1000.0 / r.requests.max(1) as f64)
        };
        let errors = if r.errors > 0 {
            format!(" **{} errors**", r.errors)
        } else {
            String::new()
        };
        println!(
            "| {} | {}{errors} | {} | {:.0} | {} | {:.2} ({}) | {:.2} ({}) | {cpu} | {} | {} | {client} | {:.2} | {} | {} |",
            r.backend,
            r.scenario,
            r.conns,
            r.rate(),
            ratio(r.rate(), rate_ceiling),
            r.p50_us / 1000.0,
            ratio(r.p50_us, p50_ceiling),
            r.p99_us / 1000.0,
            ratio(r.p99_us, p99_ceiling),
            mib(r.rss_idle_kib),
            mib(r.rss_peak_kib),
            r.other_cpu_s / r.seconds.max(1e-9),
            r.load,
            r.fsync.map_or("–".to_string(), |f| format!("{:.0}", f.0))
        );
    }
    println!("\n{pg_note}");

    // Targets (SQLite, 16 connections).
    let find = |scenario: &str, kind: Kind, c: usize| {
        rows.iter().find(|r| {
            r.backend == "SQLite" && r.scenario == scenario && r.kind == kind && r.conns == c
        })
    };
    let c = 16;
    let mut t = String::new();
    let verdict = |ok: bool| if ok { "met" } else { "**missed**" };
    let _ = writeln!(t, "\n### Targets (SQLite, {c} connections)\n");
    let _ = writeln!(t, "| target | figure | verdict |");
    let _ = writeln!(t, "|---|---|---|");
    match (find("/get one entry", Kind::Read, c), bare(c)) {
        (Some(g), Some(b)) => {
            let x = g.rate() / b.rate();
            let _ = writeln!(
                t,
                "| single-entry /get ≥ 0.6 × bare tiny_http req/s | {:.0} vs {:.0} req/s = {x:.2} × | {} |",
                g.rate(),
                b.rate(),
                verdict(x >= 0.6)
            );
            let _ = writeln!(
                t,
                "| single-entry /get p99 ≤ 2 ms | {:.2} ms | {} |",
                g.p99_us / 1000.0,
                verdict(g.p99_us <= 2000.0)
            );
        }
        _ => {
            let _ = writeln!(
                t,
                "| single-entry /get | not measured at {c} connections | – |"
            );
        }
    }
    match find("/add", Kind::Write, c) {
        Some(a) => {
            let ceiling = a.fsync.map_or(fsync.rate, |f| f.0);
            let x = a.rate() / ceiling;
            let _ = writeln!(
                t,
                "| /add ≥ 0.5 × durable-commit rate (measured just before) | {:.0} vs {:.0} /s = {x:.2} × | {} |",
                a.rate(),
                ceiling,
                verdict(x >= 0.5)
            );
        }
        None => {
            let _ = writeln!(t, "| /add | not measured at {c} connections | – |");
        }
    }
    for r in rows
        .iter()
        .filter(|r| r.backend == "SQLite" && r.kind == Kind::Login)
    {
        let ms = r.cpu_per_1k();
        let _ = writeln!(
            t,
            "| server CPU per complete login ≤ 0.5 ms ({} client{}) | {ms:.3} ms | {} |",
            r.conns,
            if r.conns == 1 { "" } else { "s" },
            verdict(ms <= 0.5)
        );
    }
    let idle = sqlite.rss_start_kib.max(sqlite.rss_end_kib);
    let _ = writeln!(
        t,
        "| RSS idle ≤ 8 MiB | {} MiB at start, {} MiB {} s after all runs | {} |",
        mib(sqlite.rss_start_kib),
        mib(sqlite.rss_end_kib),
        IDLE_WAIT.as_secs(),
        verdict(idle <= 8 * 1024)
    );
    let _ = writeln!(
        t,
        "| RSS peak ≤ 32 MiB | {} MiB (highest VmHWM of any run) | {} |",
        mib(sqlite.rss_peak_kib),
        verdict(sqlite.rss_peak_kib <= 32 * 1024)
    );
    let size = file_size(&ctx.vaultd);
    let stripped = is_stripped(&ctx.vaultd);
    let _ = writeln!(
        t,
        "| stripped release vaultd ≤ 6 MiB | {:.2} MiB ({size} bytes{}) | {} |",
        size as f64 / 1048576.0,
        if stripped {
            ", stripped"
        } else {
            ", NOT stripped"
        },
        verdict(size <= 6 * 1048576)
    );
    print!("{t}");
}

/// True when the ELF file has no `.symtab` section.
fn is_stripped(p: &Path) -> bool {
    let Ok(bytes) = std::fs::read(p) else {
        return false;
    };
    !bytes.windows(8).any(|w| w == b".symtab\0")
}

// ---------------------------------------------------------------------------
// Growth: 100 000 users, 1 000 000 entries

fn growth(ctx: &Ctx, users: usize, entries: usize) -> Res<()> {
    println!("\n### Growth: SQLite, {users} users and {entries} entries\n");
    let dir = ctx.scratch.sub("growth")?;
    let db_path = dir.join("vaultd.db");
    let mut server = start_vaultd(ctx, &dir)?;
    let mut http = Http::new(server.addr);
    let ksf = cheap_ksf();
    let sizes = [10usize, 100, 1000, 10_000];
    let mut tokens = Vec::new();
    for n in sizes {
        let user = format!("growth-e{n}");
        register(&mut http, &user)?;
        tokens.push(login(&mut http, &user, &ksf)?);
    }
    drop(http);
    // The benchmark users' entries, written behind the server's back.
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    {
        let mut conn = rusqlite::Connection::open(&db_path)?;
        conn.busy_timeout(Duration::from_secs(10))?;
        let tx = conn.transaction()?;
        {
            let mut insert = tx.prepare(
                "INSERT INTO entries (user_id, site, username, password, version, updated_at, seq)
                 SELECT id, ?2, ?3, ?4, 1, ?5, ?6 FROM users WHERE username = ?1",
            )?;
            let (u, p) = (
                "u".repeat(ENTRY_USERNAME_LEN),
                "p".repeat(ENTRY_PASSWORD_LEN),
            );
            for n in sizes {
                let user = format!("growth-e{n}");
                for i in 0..n {
                    insert.execute(rusqlite::params![
                        user,
                        site_name(&format!("e{n}"), i).as_bytes(),
                        u.as_bytes(),
                        p.as_bytes(),
                        now,
                        i as i64 + 1
                    ])?;
                }
            }
            // Each user's seq is its last write, as vaultd would keep it.
            tx.execute_batch(
                "UPDATE users SET seq = (SELECT COUNT(*) FROM entries WHERE user_id = users.id)
                 WHERE username LIKE 'growth-e%'",
            )?;
        }
        tx.commit()?;
    }

    let measure = |server: &Server, label: &str| -> Res<Vec<Row>> {
        let mut rows = Vec::new();
        let one = vec![tokens[0].clone(), site_name("e10", 5)];
        wrk_run(
            ctx,
            server,
            None,
            label,
            "warm-up",
            Kind::Read,
            "/get",
            "get.lua",
            16,
            &one,
            1.0,
        )?;
        for c in [1, 16] {
            rows.push(wrk_run(
                ctx,
                server,
                None,
                label,
                "/get one entry",
                Kind::Read,
                "/get",
                "get.lua",
                c,
                &one,
                ctx.duration,
            )?);
        }
        for (i, n) in sizes.iter().enumerate() {
            rows.push(wrk_run(
                ctx,
                server,
                None,
                label,
                &format!("/get all, {n} entries"),
                Kind::Read,
                "/get",
                "get.lua",
                // 16 connections: more requests in the run than one
                // connection gets past the 40 ms delayed-ACK stall, so the
                // CPU per request (10 ms ticks) is resolved.
                16,
                &[tokens[i].clone()],
                ctx.duration,
            )?);
        }
        Ok(rows)
    };
    let small = measure(&server, "small DB")?;
    server.stop();

    eprintln!("bench-http: growth: inserting {users} users and {entries} entries");
    let t = Instant::now();
    bulk_insert(&db_path, users, entries, now)?;
    let db_bytes = file_size(&db_path);
    let seed_s = t.elapsed().as_secs_f64();
    eprintln!(
        "bench-http: growth: inserted in {seed_s:.1} s; database {:.0} MiB",
        db_bytes as f64 / 1048576.0
    );
    let server = start_vaultd(ctx, &dir)?;
    let big = measure(&server, "big DB")?;
    let rss = status_field(server.pid(), "VmRSS");
    drop(server);

    println!(
        "Database after the bulk insert: {:.0} MiB ({seed_s:.0} s to insert); vaultd idle RSS on it after the runs: {} MiB.\n",
        db_bytes as f64 / 1048576.0,
        mib(rss)
    );
    println!(
        "| scenario | conns | small DB: req/s | p50 ms | p99 ms | CPU s / 1k | big DB: req/s | p50 ms | p99 ms | CPU s / 1k | p50 big / small | load small, big |"
    );
    println!("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
    for (s, b) in small.iter().zip(&big) {
        println!(
            "| {} | {} | {:.0} | {:.3} | {:.3} | {:.3} | {:.0} | {:.3} | {:.3} | {:.3} | {} | {}, {} |",
            s.scenario,
            s.conns,
            s.rate(),
            s.p50_us / 1000.0,
            s.p99_us / 1000.0,
            s.cpu_per_1k(),
            b.rate(),
            b.p50_us / 1000.0,
            b.p99_us / 1000.0,
            b.cpu_per_1k(),
            ratio(b.p50_us, s.p50_us),
            s.load,
            b.load
        );
    }
    // /get all: the server's time per request (CPU, which excludes the
    // delayed-ACK stall that dominates the latency, see docs) and the p50
    // latency, vs entries, fitted to t = a + b·n by least squares.
    println!("\n/get of all entries, 16 connections: server time per request vs entry count\n");
    println!(
        "| entries | small DB: CPU ms / req | p50 ms | big DB: CPU ms / req | p50 ms | big DB: CPU µs per entry |"
    );
    println!("|---:|---:|---:|---:|---:|---:|");
    let all: Vec<(&Row, &Row, usize)> = small
        .iter()
        .zip(&big)
        .skip(2)
        .zip(sizes)
        .map(|((s, b), n)| (s, b, n))
        .collect();
    for (s, b, n) in &all {
        println!(
            "| {n} | {:.3} | {:.3} | {:.3} | {:.3} | {:.2} |",
            s.cpu_per_1k(),
            s.p50_us / 1000.0,
            b.cpu_per_1k(),
            b.p50_us / 1000.0,
            b.cpu_per_1k() * 1000.0 / *n as f64
        );
    }
    for (label, pick) in [("small DB", 0usize), ("big DB", 1)] {
        let row = |s: &Row, b: &Row| if pick == 0 { s.clone() } else { b.clone() };
        let cpu: Vec<(f64, f64)> = all
            .iter()
            .map(|(s, b, n)| (*n as f64, row(s, b).cpu_per_1k() * 1000.0))
            .collect();
        let (a, b, r2) = fit(&cpu);
        println!(
            "\n{label}: server CPU per /get of all ≈ {a:.0} µs + {b:.2} µs × entries (R² = {r2:.4})"
        );
    }
    Ok(())
}

/// Least squares t = a + b·n; returns (a, b, R²).
fn fit(pts: &[(f64, f64)]) -> (f64, f64, f64) {
    let n = pts.len() as f64;
    if n < 2.0 {
        return (0.0, 0.0, 0.0);
    }
    let (sx, sy) = pts.iter().fold((0.0, 0.0), |(a, b), (x, y)| (a + x, b + y));
    let (mx, my) = (sx / n, sy / n);
    let sxx: f64 = pts.iter().map(|(x, _)| (x - mx).powi(2)).sum();
    let sxy: f64 = pts.iter().map(|(x, y)| (x - mx) * (y - my)).sum();
    let syy: f64 = pts.iter().map(|(_, y)| (y - my).powi(2)).sum();
    let b = sxy / sxx.max(1e-12);
    let a = my - b * mx;
    let r2 = if syy > 0.0 {
        sxy * sxy / (sxx * syy)
    } else {
        1.0
    };
    (a, b, r2)
}

/// splitmix64: fast filler bytes, not cryptographic.
struct Mix(u64);

impl Mix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// `len` base64url characters.
    fn text(&mut self, len: usize) -> Vec<u8> {
        const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
        let mut out = Vec::with_capacity(len);
        while out.len() < len {
            let mut v = self.next();
            for _ in 0..10 {
                if out.len() == len {
                    break;
                }
                out.push(ALPHABET[(v & 63) as usize]);
                v >>= 6;
            }
        }
        out
    }
}

/// Writes `users` users and `entries` entries straight into the database,
/// in the schema's format (src/store/sqlite.rs), in big transactions. The
/// server is stopped meanwhile.
fn bulk_insert(db: &Path, users: usize, entries: usize, now: i64) -> Res<()> {
    let mut conn = rusqlite::Connection::open(db)?;
    conn.execute_batch("PRAGMA synchronous = OFF;")?;
    // A real record, so that the rows look like real ones.
    let record: Vec<u8> =
        conn.query_row("SELECT record FROM users ORDER BY id LIMIT 1", [], |r| {
            r.get(0)
        })?;
    let mut mix = Mix(0x5eed);
    let per_user = entries / users.max(1);
    let extra = entries % users.max(1);
    let chunk = 10_000;
    let mut done = 0;
    while done < users {
        let tx = conn.transaction()?;
        {
            let mut user = tx.prepare(
                "INSERT INTO users (username, credential_id, record, vault_key, seq, created_at)
                 VALUES (?1, CAST(?1 AS BLOB), ?2, ?3, ?4, ?5)",
            )?;
            let mut entry = tx.prepare(
                "INSERT INTO entries (user_id, site, username, password, version, updated_at, seq)
                 VALUES (?1, ?2, ?3, ?4, 1, ?5, ?6)",
            )?;
            for i in done..(done + chunk).min(users) {
                let n = per_user + usize::from(i < extra);
                user.execute(rusqlite::params![
                    format!("filler-{i:07}"),
                    record,
                    mix.text(96),
                    n as i64,
                    now
                ])?;
                let id = tx.last_insert_rowid();
                let mut sites: Vec<Vec<u8>> = (0..n).map(|_| mix.text(43)).collect();
                sites.sort();
                for (seq, site) in sites.into_iter().enumerate() {
                    entry.execute(rusqlite::params![
                        id,
                        site,
                        mix.text(ENTRY_USERNAME_LEN),
                        mix.text(ENTRY_PASSWORD_LEN),
                        now,
                        seq as i64 + 1
                    ])?;
                }
            }
        }
        tx.commit()?;
        done = (done + chunk).min(users);
    }
    // No ANALYZE: vaultd never runs it, so the planner sees what it would.
    conn.execute_batch("PRAGMA wal_checkpoint(TRUNCATE);")?;
    Ok(())
}
