//! Test helper: a fresh, empty PostgreSQL database for each call.
//!
//! The server is, in this order:
//!
//! 1. the one named by `VAULTD_TEST_PG` (`host=127.0.0.1 port=5432
//!    user=vaultd password=secret`; the role needs CREATEDB), or
//! 2. a throwaway cluster that this helper starts once per machine session
//!    and leaves running: data in `/tmp/vaultd-test-pg/data`, listening on
//!    127.0.0.1:54329 (and a socket in `/tmp/vaultd-test-pg`), superuser
//!    `vaultd` with password `vaultd-test`, run by the `postgres` OS user when
//!    the tests run as root. It needs the server binaries
//!    (`/usr/lib/postgresql/<version>/bin`, the highest version wins, else
//!    `initdb` and `pg_ctl` on `PATH`).
//!
//! Without either, `pg_settings_for_test` returns `None` and the caller skips,
//! unless `VAULTD_REQUIRE_PG=1`, which turns that into a panic (CI sets it so
//! that skipped PostgreSQL tests fail the run).
//!
//! Several test binaries, and several threads of each, may call this at once:
//! the cluster is started under a cross-process lock (an atomic `mkdir`), and
//! a running cluster is reused. Databases are named
//! `vt_<tag>_<pid>_<counter>`; those of test processes that have exited are
//! dropped from the throwaway cluster the next time a test process starts.
//!
//! Self-contained (its one module, `pg_cluster.rs`, is named by `#[path]`)
//! so that it can be included with `#[path = "common/pg.rs"] mod pg;` or
//! from `tests/common/mod.rs`.

#![allow(dead_code)]

use std::fs;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};
use std::thread::sleep;
use std::time::{Duration, Instant, SystemTime};

use vaultd::store::{PgSettings, SslMode};

// The cluster mechanics, shared with bench/http.rs.
#[path = "pg_cluster.rs"]
mod pg_cluster;
#[path = "skip.rs"]
mod skip;
use pg_cluster::Cluster;
pub use skip::skipped;

/// Home of the throwaway cluster (socket directory, log, data).
pub const TEST_PG_DIR: &str = "/tmp/vaultd-test-pg";
/// Port of the throwaway cluster.
pub const TEST_PG_PORT: u16 = 54329;
const TEST_PG_USER: &str = "vaultd";
const TEST_PG_PASSWORD: &str = "vaultd-test";
/// The cross-process lock: a directory, created atomically.
const LOCK_DIR: &str = "/tmp/vaultd-test-pg.lock";

/// A server on which tests may create databases.
#[derive(Clone, Debug)]
struct Server {
    host: String,
    port: u16,
    user: String,
    password: String,
}

static SERVER: OnceLock<Result<Server, String>> = OnceLock::new();
static COUNTER: AtomicU32 = AtomicU32::new(0);

/// Settings for a fresh, empty database, or `None` when no PostgreSQL is
/// available (a panic instead when `VAULTD_REQUIRE_PG=1`).
pub fn pg_settings_for_test(tag: &str) -> Option<PgSettings> {
    let server = match SERVER.get_or_init(find_server) {
        Ok(server) => server.clone(),
        Err(why) => {
            skipped(&format!("no PostgreSQL: {why}"));
            return None;
        }
    };
    let tag: String = tag
        .chars()
        .map(|c| c.to_ascii_lowercase())
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
        .take(32)
        .collect();
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let database = format!("vt_{tag}_{}_{n}", std::process::id());
    if let Err(why) = create_database(&server, &database) {
        panic!("cannot create the test database {database}: {why}");
    }
    Some(PgSettings {
        host: server.host,
        port: server.port,
        user: server.user,
        password: server.password,
        database,
        sslmode: SslMode::Disable,
    })
}

/// The `[postgresql]` section of a `database.ini` for these settings.
pub fn pg_settings_as_ini(s: &PgSettings) -> String {
    format!(
        "[postgresql]\nhost={}\nport={}\nuser={}\npassword={}\ndatabase={}\nsslmode={}\n",
        s.host, s.port, s.user, s.password, s.database, s.sslmode
    )
}

/// A plain client on the test database (for tests that look behind the
/// store's back).
pub fn pg_client(s: &PgSettings) -> postgres::Client {
    let mut config = postgres::Config::new();
    config
        .host(&s.host)
        .port(s.port)
        .user(&s.user)
        .password(&s.password)
        .dbname(&s.database)
        .connect_timeout(Duration::from_secs(5));
    config
        .connect(postgres::NoTls)
        .unwrap_or_else(|e| panic!("cannot connect to the test database {}: {e}", s.database))
}

fn require_pg() -> bool {
    std::env::var("VAULTD_REQUIRE_PG").is_ok_and(|v| !v.is_empty() && v != "0")
}

fn find_server() -> Result<Server, String> {
    if let Ok(spec) = std::env::var("VAULTD_TEST_PG") {
        let server = parse_spec(&spec);
        if let Err(e) = admin_client(&server) {
            panic!(
                "VAULTD_TEST_PG names {}:{} as user {}, but connecting fails: {e}",
                server.host, server.port, server.user
            );
        }
        return Ok(server);
    }
    match throwaway_cluster() {
        Ok(server) => {
            drop_stale_databases(&server);
            Ok(server)
        }
        Err(why) if require_pg() => {
            panic!("VAULTD_REQUIRE_PG=1 but no PostgreSQL for the tests: {why}")
        }
        Err(why) => Err(why),
    }
}

/// Parses `host=... port=... user=... password=...` (other keys ignored).
fn parse_spec(spec: &str) -> Server {
    let mut server = Server {
        host: "127.0.0.1".into(),
        port: 5432,
        user: TEST_PG_USER.into(),
        password: String::new(),
    };
    for pair in spec.split_whitespace() {
        let Some((key, value)) = pair.split_once('=') else {
            panic!("VAULTD_TEST_PG: expected key=value pairs, got {pair:?}");
        };
        match key {
            "host" => server.host = value.into(),
            "port" => {
                server.port = value
                    .parse()
                    .unwrap_or_else(|_| panic!("VAULTD_TEST_PG: bad port {value:?}"))
            }
            "user" => server.user = value.into(),
            "password" => server.password = value.into(),
            _ => {}
        }
    }
    server
}

fn admin_client(server: &Server) -> Result<postgres::Client, postgres::Error> {
    let mut config = postgres::Config::new();
    config
        .host(&server.host)
        .port(server.port)
        .user(&server.user)
        .dbname("postgres")
        .connect_timeout(Duration::from_secs(5));
    if !server.password.is_empty() {
        config.password(&server.password);
    }
    config.connect(postgres::NoTls)
}

fn create_database(server: &Server, name: &str) -> Result<(), String> {
    // `name` is made of [a-z0-9_] only, so it needs no quoting.
    let mut client = admin_client(server).map_err(|e| e.to_string())?;
    // A database of this name is left over from a dead process whose pid we
    // now have.
    client
        .batch_execute(&format!("DROP DATABASE IF EXISTS {name}"))
        .map_err(|e| e.to_string())?;
    let mut tries = 0;
    loop {
        // Fails with "source database is being accessed by other users" when
        // something else happens to be connected to template1: try again.
        match client.batch_execute(&format!(
            "CREATE DATABASE {name} TEMPLATE template0 \
             ENCODING 'UTF8' LC_COLLATE 'C' LC_CTYPE 'C'"
        )) {
            Ok(()) => return Ok(()),
            Err(e) if tries < 20 && e.code().is_some_and(|c| c.code() == "55006") => {
                tries += 1;
                sleep(Duration::from_millis(100));
            }
            Err(e) => return Err(e.to_string()),
        }
    }
}

/// Drops the test databases of test processes that no longer run. Only in
/// the throwaway cluster, which belongs to this machine.
fn drop_stale_databases(server: &Server) {
    let Ok(mut client) = admin_client(server) else {
        return;
    };
    let Ok(rows) = client.query(
        "SELECT datname FROM pg_database WHERE datname LIKE 'vt\\_%'",
        &[],
    ) else {
        return;
    };
    for row in rows {
        let name: String = row.get(0);
        let mut parts = name.rsplit('_');
        let (_counter, pid) = (parts.next(), parts.next());
        let Some(pid) = pid.and_then(|p| p.parse::<u32>().ok()) else {
            continue;
        };
        if name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
            && !Path::new(&format!("/proc/{pid}")).exists()
        {
            // Another process may be dropping it at the same moment: ignore.
            let _ = client.batch_execute(&format!("DROP DATABASE IF EXISTS {name}"));
        }
    }
}

// ---------------------------------------------------------------------------
// The throwaway cluster

fn throwaway_server() -> Server {
    Server {
        host: "127.0.0.1".into(),
        port: TEST_PG_PORT,
        user: TEST_PG_USER.into(),
        password: TEST_PG_PASSWORD.into(),
    }
}

/// The running throwaway cluster, started if needed.
fn throwaway_cluster() -> Result<Server, String> {
    let server = throwaway_server();
    if admin_client(&server).is_ok() {
        return Ok(server);
    }
    let _lock = DirLock::acquire(Path::new(LOCK_DIR), Duration::from_secs(180))?;
    // Another process may have started it while we waited for the lock.
    if admin_client(&server).is_ok() {
        return Ok(server);
    }
    let cluster = Cluster::new(Path::new(TEST_PG_DIR))?.ok_or(
        "no PostgreSQL server binaries (initdb, pg_ctl, postgres) under \
         /usr/lib/postgresql/*/bin or on PATH; install PostgreSQL or set VAULTD_TEST_PG",
    )?;
    cluster.init(TEST_PG_USER, TEST_PG_PASSWORD)?;
    // Speed over durability: the data is thrown away.
    let started = cluster.start(
        TEST_PG_PORT,
        &[
            "max_connections=300",
            "fsync=off",
            "synchronous_commit=off",
            "full_page_writes=off",
        ],
    );
    // Whatever pg_ctl said, the proof is a connection.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if admin_client(&server).is_ok() {
            return Ok(server);
        }
        if Instant::now() > deadline {
            let log = cluster.log();
            let tail = fs::read_to_string(&log).unwrap_or_default();
            let tail: Vec<&str> = tail.lines().rev().take(20).collect();
            let tail: Vec<&str> = tail.into_iter().rev().collect();
            return Err(format!(
                "the throwaway PostgreSQL did not come up ({}); end of {log:?}:\n{}",
                started.err().unwrap_or_else(|| "pg_ctl succeeded".into()),
                tail.join("\n")
            ));
        }
        sleep(Duration::from_millis(200));
    }
}

/// A lock shared by every process on the machine: whoever creates the
/// directory holds it; it is removed on drop (also when unwinding). A lock
/// whose owner died is broken.
struct DirLock(PathBuf);

impl DirLock {
    fn acquire(path: &Path, timeout: Duration) -> Result<DirLock, String> {
        let deadline = Instant::now() + timeout;
        loop {
            match fs::create_dir(path) {
                Ok(()) => {
                    let _ = fs::write(path.join("pid"), std::process::id().to_string());
                    return Ok(DirLock(path.to_owned()));
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    if Self::is_stale(path) {
                        let _ = fs::remove_dir_all(path);
                        continue;
                    }
                    if Instant::now() > deadline {
                        return Err(format!(
                            "timed out waiting for the lock {path:?} (remove it if no test runs)"
                        ));
                    }
                    sleep(Duration::from_millis(100));
                }
                Err(e) => return Err(format!("cannot create the lock {path:?}: {e}")),
            }
        }
    }

    fn is_stale(path: &Path) -> bool {
        match fs::read_to_string(path.join("pid")) {
            Ok(pid) => match pid.trim().parse::<u32>() {
                Ok(pid) => !Path::new(&format!("/proc/{pid}")).exists(),
                Err(_) => Self::older_than(path, Duration::from_secs(10)),
            },
            // The owner may be between `mkdir` and writing its pid.
            Err(_) => Self::older_than(path, Duration::from_secs(10)),
        }
    }

    fn older_than(path: &Path, age: Duration) -> bool {
        fs::metadata(path)
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| SystemTime::now().duration_since(t).ok())
            .is_some_and(|a| a > age)
    }
}

impl Drop for DirLock {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}
