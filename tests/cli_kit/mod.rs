//! What every `vault` end-to-end test uses: a [`Device`] (its own HOME,
//! a cleared environment) that runs the real binary, and small helpers.
//! Included by `tests/cli*.rs` with `mod cli_kit;`.

#![allow(dead_code)] // each test file uses its own part of the kit

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::common::TempDir;
use crate::common::spawn::{Out, run_to_end};

pub const VAULT: &str = env!("CARGO_BIN_EXE_vault");

// --- Running the CLI ---------------------------------------------------------

/// The commands that use an unlocked agent (`Ctx::login` in the CLI).
const AGENT_COMMANDS: [&str; 14] = [
    "add", "get", "show", "code", "ls", "search", "edit", "history", "rm", "trash", "restore",
    "export", "import", "verify",
];

/// One machine running `vault`: its own HOME (with `.config` inside, where
/// XDG_CONFIG_HOME points) and the VAULT_* variables its user set.
pub struct Device {
    pub home: TempDir,
    pub env: Vec<(String, String)>,
}

impl Device {
    /// A device with VAULT_SERVER, VAULT_USERNAME and VAULT_PASSWORD set.
    pub fn new(server: &str, username: &str, password: &str) -> Device {
        Device::bare()
            .with("VAULT_SERVER", server)
            .with("VAULT_USERNAME", username)
            .with("VAULT_PASSWORD", password)
    }

    /// A device without any VAULT_* variable. Its XDG_RUNTIME_DIR (where
    /// an agent's socket goes) is its own `run/`, so tests running side by
    /// side never meet each other's agents, and removing the device
    /// removes the socket, which locks its agent.
    pub fn bare() -> Device {
        use std::os::unix::fs::PermissionsExt;
        let home = TempDir::new("cli-home");
        let config = home.0.join(".config");
        std::fs::create_dir_all(&config).unwrap();
        let run = home.0.join("run");
        std::fs::create_dir(&run).unwrap();
        std::fs::set_permissions(&run, std::fs::Permissions::from_mode(0o700)).unwrap();
        let env = vec![
            ("HOME".to_owned(), home.0.display().to_string()),
            ("XDG_CONFIG_HOME".to_owned(), config.display().to_string()),
            ("XDG_RUNTIME_DIR".to_owned(), run.display().to_string()),
        ];
        Device { home, env }
    }

    /// Sets (or, with "", removes) a variable.
    pub fn with(mut self, key: &str, value: &str) -> Device {
        self.env.retain(|(k, _)| k != key);
        if !value.is_empty() {
            self.env.push((key.to_owned(), value.to_owned()));
        }
        self
    }

    /// Where `vault` looks for its profile file.
    pub fn config_file(&self) -> PathBuf {
        self.home.0.join(".config/vault/config.json")
    }

    pub fn run(&self, args: &[&str]) -> Out {
        self.run_with(args, &[], None)
    }

    /// Runs with `stdin` as standard input.
    pub fn input(&self, args: &[&str], stdin: &str) -> Out {
        self.run_with(args, &[], Some(stdin))
    }

    /// Runs with extra variables (a "" value removes one).
    pub fn run_with(&self, args: &[&str], extra: &[(&str, &str)], stdin: Option<&str>) -> Out {
        if std::env::var_os("VAULT_TEST_AGENT").is_some_and(|v| v == "1") {
            self.ensure_agent(args, extra);
        }
        self.run_plain(args, extra, stdin)
    }

    /// Under `VAULT_TEST_AGENT=1` (the suite run through the agent),
    /// unlocks before a command that would use the agent, with the same
    /// global options and variables. A run that brings a master password
    /// of its own tests the login itself: the agent is locked for it. A
    /// failed unlock is left to the command to report.
    fn ensure_agent(&self, args: &[&str], extra: &[(&str, &str)]) {
        let Some(at) = args.iter().position(|a| AGENT_COMMANDS.contains(a)) else {
            return;
        };
        let mut global: Vec<&str> = args[..at].to_vec();
        if extra.iter().any(|(k, _)| *k == "VAULT_PASSWORD") {
            global.push("lock");
            self.run_plain(&global, extra, None);
            return;
        }
        global.push("status");
        if self.run_plain(&global, extra, None).stdout != "locked\n" {
            return;
        }
        global.pop();
        global.push("unlock");
        self.run_plain(&global, extra, None);
    }

    fn run_plain(&self, args: &[&str], extra: &[(&str, &str)], stdin: Option<&str>) -> Out {
        let mut cmd = Command::new(VAULT);
        cmd.args(args).env_clear().current_dir(&self.home.0);
        if let Some(path) = std::env::var_os("PATH") {
            cmd.env("PATH", path);
        }
        for (k, v) in &self.env {
            if !extra.iter().any(|(e, _)| e == k) {
                cmd.env(k, v);
            }
        }
        for (k, v) in extra {
            if !v.is_empty() {
                cmd.env(k, v);
            }
        }
        let shown: Vec<String> = extra.iter().map(|(k, v)| format!("{k}={v} ")).collect();
        run_to_end(
            cmd,
            stdin,
            format!("{}vault {}", shown.concat(), args.join(" ")),
        )
    }
}

/// A loopback address nothing listens on.
pub fn dead_url() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    format!("http://{addr}")
}

/// Registers the device's account.
pub fn register(device: &Device) {
    let out = device.run(&["register"]).ok();
    assert!(out.stderr.starts_with("registered "), "{out:#?}");
}

/// `vault ls` on stdout, one site a line.
pub fn ls(device: &Device) -> Vec<String> {
    device
        .run(&["ls"])
        .ok()
        .lines()
        .into_iter()
        .map(str::to_owned)
        .collect()
}

/// Every file under `dir`, recursively.
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(files_under(&path));
        } else {
            out.push(path);
        }
    }
    out.sort();
    out
}

pub fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

/// Runs `vault ARGS` on a pseudo-terminal (util-linux `script`) that
/// receives `typed` as keystrokes; returns (exit code, what the terminal
/// showed, `\r\n` as `\n`).
pub fn on_terminal(device: &Device, args: &[&str], typed: &str) -> String {
    on_terminal_code(device, args, typed).1
}

/// [`on_terminal`] with the exit code.
pub fn on_terminal_code(device: &Device, args: &[&str], typed: &str) -> (i32, String) {
    use std::io::Write;
    let line = std::iter::once(VAULT)
        .chain(args.iter().copied())
        .map(|a| format!("'{}'", a.replace('\'', "'\\''")))
        .collect::<Vec<_>>()
        .join(" ");
    let mut cmd = Command::new("script");
    cmd.args(["-qec", &line, "/dev/null"]).env_clear();
    cmd.env("PATH", std::env::var_os("PATH").unwrap());
    for (k, v) in &device.env {
        cmd.env(k, v);
    }
    cmd.stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped());
    let mut child = cmd.spawn().expect("script runs");
    let mut stdin = child.stdin.take().unwrap();
    let typed = typed.to_owned();
    // Keystrokes a little apart, as a person types lines.
    let feeder = std::thread::spawn(move || {
        for chunk in typed.split_inclusive(['\n', '\u{4}']) {
            std::thread::sleep(std::time::Duration::from_millis(300));
            if stdin.write_all(chunk.as_bytes()).is_err() {
                return;
            }
        }
        std::thread::sleep(std::time::Duration::from_millis(300));
    });
    let out = child.wait_with_output().unwrap();
    let _ = feeder.join();
    let text = String::from_utf8_lossy(&out.stdout).replace("\r\n", "\n");
    (out.status.code().unwrap_or(-1), text)
}
