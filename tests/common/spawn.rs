//! Child processes of the tests: a vaultd waited for until it listens
//! (`listen.rs`), and a client (`vault`, `node`) run to its end with a
//! deadline.

use std::io::{Read, Write};
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use serde_json::Value;

/// Runs a `vaultd` command that does its work and exits (`backup`,
/// `restore`, `invite`) in `dir`, a server's directory.
pub fn vaultd_command(dir: &Path, args: &[&str]) -> Output {
    Command::new(super::vaultd_bin())
        .current_dir(dir)
        .args(args)
        .output()
        .unwrap()
}

// Spawn-and-wait-for-listening, shared with the benchmarks.
pub use super::listen::{Listening, Refused, spawn_listening};

/// What one run of a client program did.
#[derive(Debug)]
pub struct Out {
    pub run: String,
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Out {
    /// Exit 0.
    #[track_caller]
    pub fn ok(self) -> Out {
        assert_eq!(self.code, 0, "`{}` should succeed: {self:#?}", self.run);
        self
    }

    /// Exit `code`, nothing on stdout, one line on stderr containing `needle`.
    #[track_caller]
    pub fn fails(self, code: i32, needle: &str) -> Out {
        assert_eq!(
            self.code, code,
            "`{}` should exit {code}: {self:#?}",
            self.run
        );
        assert_eq!(self.stdout, "", "nothing on stdout on failure: {self:#?}");
        assert!(
            self.stderr.ends_with('\n') && self.stderr.matches('\n').count() == 1,
            "one line on stderr: {self:#?}"
        );
        assert!(
            self.stderr.contains(needle),
            "stderr should contain {needle:?}: {self:#?}"
        );
        self
    }

    /// stdout parsed as JSON.
    #[track_caller]
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("`{}` printed no JSON ({e}): {self:#?}", self.run))
    }

    pub fn lines(&self) -> Vec<&str> {
        self.stdout.lines().collect()
    }
}

/// Runs `cmd` to its end with `stdin` (or an empty, non-terminal stdin). A
/// run that takes over two minutes fails the test instead of hanging it;
/// `run` names it in messages.
pub fn run_to_end(mut cmd: Command, stdin: Option<&str>, run: String) -> Out {
    cmd.stdin(if stdin.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    })
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    let mut child = cmd
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start `{run}`: {e}"));
    if let Some(input) = stdin {
        let mut pipe = child.stdin.take().unwrap();
        let input = input.to_owned();
        // On a thread: a child that answers before reading all of its
        // input must not block us.
        std::thread::spawn(move || {
            let _ = pipe.write_all(input.as_bytes());
        });
    }
    let stdout = read_all(child.stdout.take().unwrap());
    let stderr = read_all(child.stderr.take().unwrap());
    let deadline = Instant::now() + Duration::from_secs(120);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("`{run}` did not finish within 120 s (waiting for a prompt?)");
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    Out {
        code: status
            .code()
            .unwrap_or_else(|| panic!("`{run}` was killed by a signal")),
        run,
        stdout: stdout.join().unwrap(),
        stderr: stderr.join().unwrap(),
    }
}

/// Reads `r` to its end on a thread, so that a child filling one pipe does
/// not stall while we wait on another.
pub fn read_all(mut r: impl Read + Send + 'static) -> JoinHandle<String> {
    std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = r.read_to_end(&mut buf);
        String::from_utf8(buf).expect("the programs under test write UTF-8")
    })
}
