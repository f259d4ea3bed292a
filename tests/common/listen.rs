//! Spawn a server and wait until it listens: the one copy for the tests
//! (through `spawn.rs`) and the benchmarks (`bench/common.rs` includes this
//! file with `#[path]`). Self-contained: the standard library only.
//!
//! A server (vaultd, bench-bare) says `… listening on http://ADDR …` (or
//! `https://`) on stderr once it accepts connections.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, ChildStderr, Command, ExitStatus, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How long a server may take to say that it listens.
pub const START_TIMEOUT: Duration = Duration::from_secs(30);

/// A server that printed its `listening on` line.
pub struct Listening {
    pub child: Child,
    pub addr: SocketAddr,
    /// Everything it wrote on stderr (the access log among it), kept up to
    /// date by a reader thread.
    pub log: Arc<Mutex<String>>,
}

/// A server that did not print its `listening on` line.
#[derive(Debug)]
pub struct Refused {
    /// The program, for messages.
    pub program: String,
    /// Its exit status; `None` when it hung and was killed.
    pub status: Option<ExitStatus>,
    /// Everything it wrote on stderr.
    pub log: String,
}

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.status {
            Some(status) => write!(f, "{} did not start ({status})", self.program)?,
            None => write!(f, "{} did not start within {START_TIMEOUT:?}", self.program)?,
        }
        write!(f, ": {}", self.log.trim())
    }
}

impl std::error::Error for Refused {}

/// `ADDR` of the first `listening on http://ADDR` (or `https://`) in a
/// line, or in all of a server's stderr.
pub fn listening_addr(text: &str) -> Option<&str> {
    let rest = &text[text.find("listening on ")?..];
    rest.split("://").nth(1)?.split_whitespace().next()
}

/// Spawns `cmd` with stderr piped and waits up to [`START_TIMEOUT`] for its
/// `listening on` line; every stderr line is kept in `Listening::log`.
/// `Err` when it exits or hangs instead (it is killed then).
pub fn spawn_listening(cmd: Command) -> Result<Listening, Refused> {
    let log = Arc::new(Mutex::new(String::new()));
    let sink = log.clone();
    let (child, addr) = spawn_listening_with(cmd, move |line| {
        let mut log = sink.lock().unwrap_or_else(|p| p.into_inner());
        log.push_str(line);
        log.push('\n');
    })?;
    Ok(Listening { child, addr, log })
}

/// Like [`spawn_listening`], but every stderr line goes to `on_line` instead
/// of a log that grows for the server's life (a benchmark's access log is
/// millions of lines). A thread reads stderr to its end, so that the server
/// never blocks on a full pipe.
pub fn spawn_listening_with(
    mut cmd: Command,
    on_line: impl FnMut(&str) + Send + 'static,
) -> Result<(Child, SocketAddr), Refused> {
    let program = Path::new(cmd.get_program()).display().to_string();
    let mut child = match cmd.stderr(Stdio::piped()).spawn() {
        Ok(child) => child,
        Err(e) => {
            return Err(Refused {
                log: format!("cannot start it: {e}"),
                program,
                status: None,
            });
        }
    };
    let said = Arc::new(Mutex::new(String::new()));
    let stderr = child.stderr.take().expect("stderr is piped");
    let listening = read_stderr(stderr, said.clone(), on_line);
    let why = match listening.recv_timeout(START_TIMEOUT) {
        Ok(addr) => match addr.parse() {
            Ok(addr) => return Ok((child, addr)),
            Err(_) => RecvTimeoutError::Timeout,
        },
        Err(why) => why,
    };
    // Disconnected: stderr ended, so the server has exited (or is about to).
    let exited = why == RecvTimeoutError::Disconnected;
    if !exited {
        let _ = child.kill();
    }
    let status = child.wait().ok().filter(|_| exited);
    // The reader hangs up at the end of stderr: wait for it, so that the
    // last lines (the reason) are in.
    let _ = listening.recv_timeout(Duration::from_secs(5));
    let log = said.lock().unwrap_or_else(|p| p.into_inner()).clone();
    Err(Refused {
        program,
        status,
        log,
    })
}

/// Passes every stderr line to `on_line`, and keeps those before the
/// `listening on` line in `said`; sends that line's address.
fn read_stderr(
    stderr: ChildStderr,
    said: Arc<Mutex<String>>,
    mut on_line: impl FnMut(&str) + Send + 'static,
) -> Receiver<String> {
    let (tx, rx) = channel();
    std::thread::spawn(move || {
        let mut tx = Some(tx);
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            if tx.is_some() {
                if let Some(addr) = listening_addr(&line) {
                    let _ = tx.take().map(|tx| tx.send(addr.to_owned()));
                } else {
                    let mut said = said.lock().unwrap_or_else(|p| p.into_inner());
                    said.push_str(&line);
                    said.push('\n');
                }
            }
            on_line(&line);
        }
    });
    rx
}
