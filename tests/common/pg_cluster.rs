//! A throwaway PostgreSQL cluster's mechanics: find the server binaries,
//! `initdb`, `pg_ctl start`/`stop`, as the `postgres` user when we are
//! root. The one copy for the tests (`pg.rs`, which keeps one cluster for
//! every test run) and the benchmarks (`bench/http.rs`, a fresh durable one
//! per run), which include this file with `#[path]`. Self-contained: the
//! standard library only.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// The `bin` directory of the newest PostgreSQL under /usr/lib/postgresql
/// (by the whole version, `9.6` < `10` < `16`), else the directory on PATH
/// that has the server tools.
pub fn find_bin_dir() -> Option<PathBuf> {
    let has_tools = |dir: &Path| {
        ["initdb", "pg_ctl", "postgres"]
            .iter()
            .all(|tool| dir.join(tool).is_file())
    };
    let mut versions: Vec<(Vec<u32>, PathBuf)> = fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| {
            let version = parse_version(&entry.file_name().into_string().ok()?)?;
            let bin = entry.path().join("bin");
            has_tools(&bin).then_some((version, bin))
        })
        .collect();
    versions.sort();
    if let Some((_, bin)) = versions.pop() {
        return Some(bin);
    }
    std::env::split_paths(&std::env::var_os("PATH")?).find(|dir| has_tools(dir))
}

/// `16` → `[16]`, `9.6` → `[9, 6]`; anything else is not a version.
pub fn parse_version(name: &str) -> Option<Vec<u32>> {
    name.split('.').map(|part| part.parse().ok()).collect()
}

pub fn running_as_root() -> bool {
    // The effective uid is the second number of the `Uid:` line.
    let status = fs::read_to_string("/proc/self/status").unwrap_or_default();
    if let Some(line) = status.lines().find(|l| l.starts_with("Uid:")) {
        return line.split_whitespace().nth(2) == Some("0");
    }
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|out| out.stdout.trim_ascii() == b"0")
}

/// A PostgreSQL tool, run as the `postgres` user when we are root (the
/// server refuses to run as root), in `cwd` (the postgres user may not be
/// allowed into our working directory).
pub fn pg_command(tool: &Path, as_postgres: bool, cwd: &Path) -> Command {
    let mut command = if as_postgres {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--"]).arg(tool);
        c
    } else {
        Command::new(tool)
    };
    command.current_dir(cwd).stdin(Stdio::null());
    command
}

/// One cluster: its binaries, its data directory, and `base`, the
/// directory that holds the data, the log, the socket and the password file.
pub struct Cluster {
    pub bin: PathBuf,
    pub base: PathBuf,
    pub data: PathBuf,
    pub as_postgres: bool,
}

impl Cluster {
    /// A cluster in `base` (created, and given to the postgres user when we
    /// are root); `None` without server binaries.
    pub fn new(base: &Path) -> Result<Option<Cluster>, String> {
        let Some(bin) = find_bin_dir() else {
            return Ok(None);
        };
        let as_postgres = running_as_root();
        if as_postgres && !command_ok(Command::new("id").args(["-u", "postgres"])) {
            return Err(
                "running as root, but there is no `postgres` user to run PostgreSQL".into(),
            );
        }
        fs::create_dir_all(base).map_err(|e| format!("cannot create {base:?}: {e}"))?;
        let cluster = Cluster {
            bin,
            base: base.to_path_buf(),
            data: base.join("data"),
            as_postgres,
        };
        cluster.give_to_postgres(base)?;
        Ok(Some(cluster))
    }

    fn give_to_postgres(&self, path: &Path) -> Result<(), String> {
        if !self.as_postgres {
            return Ok(());
        }
        run(Command::new("chown").arg("postgres:postgres").arg(path))
    }

    /// `initdb` with superuser `user` and `password` (scram over TCP, trust
    /// on the socket), UTF-8 and the C locale, unless the data directory
    /// already holds a cluster; a half-done one is removed first.
    pub fn init(&self, user: &str, password: &str) -> Result<(), String> {
        if self.data.join("PG_VERSION").exists() {
            return Ok(());
        }
        if self.data.exists() {
            fs::remove_dir_all(&self.data)
                .map_err(|e| format!("cannot remove {:?}: {e}", self.data))?;
        }
        let pwfile = self.base.join("pwfile");
        fs::write(&pwfile, format!("{password}\n"))
            .map_err(|e| format!("cannot write {pwfile:?}: {e}"))?;
        self.give_to_postgres(&pwfile)?;
        let initdb = self
            .tool("initdb")
            .arg("-D")
            .arg(&self.data)
            .args(["-U", user, "--pwfile"])
            .arg(&pwfile)
            .args([
                "--auth-local=trust",
                "--auth-host=scram-sha-256",
                "-E",
                "UTF8",
                "--locale=C",
                "--no-sync",
            ])
            .output();
        let _ = fs::remove_file(&pwfile);
        check("initdb", initdb)
    }

    /// `pg_ctl start` on 127.0.0.1:`port`, its socket in `base`, with the
    /// server `settings` (`-c name=value` each), logging to `base/log`.
    pub fn start(&self, port: u16, settings: &[&str]) -> Result<(), String> {
        let mut options = format!(
            "-p {port} -k {} -c listen_addresses=127.0.0.1",
            self.base.display()
        );
        for setting in settings {
            options.push_str(" -c ");
            options.push_str(setting);
        }
        let started = self
            .tool("pg_ctl")
            .arg("-D")
            .arg(&self.data)
            .arg("-l")
            .arg(self.log())
            .args(["-w", "-t", "60", "-o", &options, "start"])
            .output();
        check("pg_ctl start", started)
    }

    /// `pg_ctl stop -m fast`, waiting for it.
    pub fn stop(&self) {
        let _ = self
            .tool("pg_ctl")
            .arg("-D")
            .arg(&self.data)
            .args(["-m", "fast", "-w", "stop"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }

    pub fn log(&self) -> PathBuf {
        self.base.join("log")
    }

    fn tool(&self, name: &str) -> Command {
        pg_command(&self.bin.join(name), self.as_postgres, &self.base)
    }
}

fn command_ok(command: &mut Command) -> bool {
    command
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

pub fn run(command: &mut Command) -> Result<(), String> {
    let what = format!("{command:?}");
    check(&what, command.stdin(Stdio::null()).output())
}

pub fn check(what: &str, output: std::io::Result<Output>) -> Result<(), String> {
    match output {
        Ok(out) if out.status.success() => Ok(()),
        Ok(out) => Err(format!(
            "{what} failed ({}): {}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        )),
        Err(e) => Err(format!("cannot run {what}: {e}")),
    }
}
