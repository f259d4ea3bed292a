//! Child processes of the tests: a vaultd waited for until it listens, and a
//! client (`vault`, `node`) run to its end with a deadline.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, ChildStderr, Command, Output, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::sync::{Arc, Mutex};
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

/// A vaultd that printed its `listening on` line.
pub struct Listening {
    pub child: Child,
    pub addr: SocketAddr,
    /// Everything it wrote on stderr (the access log among it), kept up to
    /// date by a reader thread.
    pub log: Arc<Mutex<String>>,
}

/// A vaultd that did not print its `listening on` line.
#[derive(Debug)]
pub struct Refused {
    /// Its exit status; `None` when it hung and was killed.
    pub status: Option<std::process::ExitStatus>,
    /// Everything it wrote on stderr.
    pub log: String,
}

/// Spawns `cmd` (a vaultd) with stderr piped and waits up to 30 s for its
/// `listening on` line. `Err` when it exits or hangs instead (it is killed
/// then).
pub fn spawn_listening(mut cmd: Command) -> Result<Listening, Refused> {
    let mut child = cmd.stderr(Stdio::piped()).spawn().expect("starting vaultd");
    let log = Arc::new(Mutex::new(String::new()));
    let listening = collect_log(child.stderr.take().unwrap(), log.clone());
    match listening.recv_timeout(Duration::from_secs(30)) {
        Ok(addr) => Ok(Listening {
            child,
            addr: addr.parse().unwrap(),
            log,
        }),
        Err(why) => {
            // Disconnected: stderr ended, so vaultd has exited (or is about to).
            let exited = why == RecvTimeoutError::Disconnected;
            if !exited {
                let _ = child.kill();
            }
            let status = child.wait().ok().filter(|_| exited);
            // The reader thread hangs up at the end of stderr: wait for it,
            // so that the last lines (the reason) are in the log.
            let _ = listening.recv_timeout(Duration::from_secs(5));
            let text = log.lock().unwrap().clone();
            Err(Refused { status, log: text })
        }
    }
}

/// Appends every stderr line to `log`, on a thread that runs to the end of
/// stderr (so vaultd never blocks on a full pipe); sends the address of the
/// first `listening on` line.
fn collect_log(stderr: ChildStderr, log: Arc<Mutex<String>>) -> Receiver<String> {
    let (tx, rx) = channel();
    std::thread::spawn(move || {
        let mut tx = Some(tx);
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            if let Some(addr) = listening_addr(&line)
                && let Some(tx) = tx.take()
            {
                let _ = tx.send(addr.to_owned());
            }
            let mut log = log.lock().unwrap();
            log.push_str(&line);
            log.push('\n');
        }
    });
    rx
}

/// `127.0.0.1:PORT` of `vaultd: listening on http://127.0.0.1:PORT (…)`
/// (or `https://`).
fn listening_addr(line: &str) -> Option<&str> {
    if !line.contains("listening on") {
        return None;
    }
    line.split("://").nth(1)?.split_whitespace().next()
}

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
