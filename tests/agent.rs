//! `vault unlock` and its agent end to end: the real `vault` binary starts
//! the real agent (a daemon of its own) against a real vaultd. Each device
//! has its own XDG_RUNTIME_DIR (cli_kit), so tests in parallel get agents
//! of their own; removing it (the device's drop) also locks its agent.

mod cli_kit;
mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

use cli_kit::{Device, VAULT, register};
use common::spawn::{Out, run_to_end};
use common::{Backend, Options, TestServer};

const PASSWORD: &str = "correct horse battery staple";

/// A registered device with one entry.
fn device(server: &TestServer) -> Device {
    let d = Device::new(&server.base_url(), "alice", PASSWORD);
    let state = d.home.0.join("state").display().to_string();
    let d = d.with("XDG_STATE_HOME", &state);
    register(&d);
    d.input(
        &["add", "mail.example.org", "--username", "al"],
        "hunter2\n",
    )
    .ok();
    d
}

/// Without the master password: only an agent can answer.
fn no_password(d: &Device, args: &[&str]) -> Out {
    d.run_with(args, &[("VAULT_PASSWORD", "")], None)
}

/// `vault get mail.example.org` without the password: only an agent answers.
fn read_through_agent(d: &Device) -> String {
    no_password(d, &["get", "mail.example.org"]).ok().stdout
}

/// Exit `code`, `needle` on stderr (with the warnings before the error).
fn failed(out: &Out, code: i32, needle: &str) {
    assert_eq!(out.code, code, "{out:#?}");
    assert!(out.stderr.contains(needle), "{needle:?} not in {out:#?}");
    assert_eq!(out.stdout, "", "{out:#?}");
}

fn unlock(d: &Device, timeout: &str) {
    let out = d.run(&["unlock", "--timeout", timeout]).ok();
    assert!(out.stderr.starts_with("unlocked alice"), "{out:#?}");
}

fn status(d: &Device) -> String {
    no_password(d, &["status"]).ok().stdout
}

fn pid(d: &Device) -> u32 {
    let s = status(d);
    let line = s.lines().find_map(|l| l.strip_prefix("pid: "));
    line.unwrap_or_else(|| panic!("no pid in {s}"))
        .parse()
        .unwrap()
}

fn socket(d: &Device) -> PathBuf {
    d.home.0.join("run/vault/agent.sock")
}

/// Waits up to `limit` for the agent to lock.
fn wait_locked(d: &Device, limit: Duration) -> Duration {
    let start = Instant::now();
    while status(d) != "locked\n" {
        assert!(start.elapsed() < limit, "still unlocked after {limit:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
    start.elapsed()
}

fn logins(server: &TestServer) -> usize {
    server
        .log
        .lock()
        .unwrap()
        .matches("POST /login/finish 200")
        .count()
}

#[test]
fn unlocked_commands_need_no_password_and_status_tells_no_secret() {
    let server = TestServer::start(Backend::Sqlite).unwrap();
    let d = device(&server);
    assert_eq!(status(&d), "locked\n");
    no_password(&d, &["get", "mail.example.org"]).fails(1, "");
    unlock(&d, "10m");
    let before = logins(&server);
    let s = status(&d);
    for want in [
        "unlocked\n",
        "username: alice\n",
        "seq: 1\n",
        "entries: 1\n",
    ] {
        assert!(s.contains(want), "{s}");
    }
    assert!(
        s.contains(&format!("server: {}\n", server.base_url())),
        "{s}"
    );
    assert!(!s.contains("hunter2") && !s.contains(PASSWORD), "{s}");
    let mode = std::fs::metadata(socket(&d)).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    let got = no_password(&d, &["get", "mail.example.org"]).ok();
    assert_eq!(got.stdout, "hunter2\n");
    assert_eq!(
        no_password(&d, &["get", "mail.example.org", "--field", "username"])
            .ok()
            .stdout,
        "al\n"
    );
    // Writes use the agent's session, and its copy follows them.
    d.run_with(
        &["add", "b.example"],
        &[("VAULT_PASSWORD", "")],
        Some("pw-b\n"),
    )
    .ok();
    d.run_with(
        &["edit", "b.example", "--password-stdin"],
        &[("VAULT_PASSWORD", "")],
        Some("pw-b2\n"),
    )
    .ok();
    assert_eq!(
        no_password(&d, &["get", "b.example"]).ok().stdout,
        "pw-b2\n"
    );
    assert_eq!(
        no_password(&d, &["ls"]).ok().stdout,
        "b.example\nmail.example.org\n"
    );
    no_password(&d, &["rm", "b.example"]).ok();
    no_password(&d, &["get", "b.example"]).fails(3, "`b.example` is in the trash");
    let export = no_password(&d, &["export"]).ok();
    assert!(export.stdout.contains("hunter2"), "{export:#?}");
    // Shell completion: the site names, from the agent.
    assert_eq!(
        no_password(&d, &["__sites"]).ok().stdout,
        "mail.example.org\n"
    );
    // What a plain login sees: the writes landed, with a manifest.
    let plain = d.run_with(&["verify"], &[("XDG_RUNTIME_DIR", "/nonexistent")], None);
    assert!(plain.ok().stderr.contains("matches its manifest"));
    assert_eq!(
        logins(&server),
        before + 1,
        "only the plain `verify` logged in"
    );
    no_password(&d, &["lock"]).ok();
    assert_eq!(status(&d), "locked\n");
    assert!(!socket(&d).exists(), "the socket goes with the agent");
    assert_eq!(no_password(&d, &["__sites"]).ok().stdout, "");
    no_password(&d, &["get", "mail.example.org"]).fails(1, "");
}

/// Another user (`nobody`) cannot reach the socket, and when the socket is
/// made reachable by hand, the agent itself (SO_PEERCRED) refuses it.
#[test]
fn another_user_is_refused() {
    if !is_root() {
        common::skipped("not root: cannot run a command as nobody");
        return;
    }
    let server = TestServer::start(Backend::Sqlite).unwrap();
    let d = device(&server);
    unlock(&d, "10m");
    let run = d.home.0.join("run");
    let as_nobody = |args: &[&str]| {
        let mut cmd = Command::new("runuser");
        cmd.args(["-u", "nobody", "--", "env", "-i"])
            .arg(format!("XDG_RUNTIME_DIR={}", run.display()))
            .arg(format!("VAULT_SERVER={}", server.base_url()))
            .args(["VAULT_USERNAME=alice", "HOME=/tmp"])
            .args(args)
            .current_dir("/");
        run_to_end(cmd, None, format!("nobody: {}", args.join(" ")))
    };
    let out = as_nobody(&[VAULT, "status"]);
    assert_eq!(out.code, 1, "{out:#?}");
    let out = as_nobody(&[VAULT, "get", "mail.example.org"]);
    assert_ne!(out.code, 0, "{out:#?}");
    assert!(!out.stdout.contains("hunter2"), "{out:#?}");
    // Open the way by hand: the agent still answers nobody with a refusal.
    let open = |mode| std::fs::Permissions::from_mode(mode);
    for p in [&d.home.0, &run, &run.join("vault")] {
        std::fs::set_permissions(p, open(0o755)).unwrap();
    }
    std::fs::set_permissions(socket(&d), open(0o666)).unwrap();
    // The agent may refuse and close before the request is sent: a broken
    // pipe is fine, the refusal line is what counts.
    let script = "import socket,sys\ns=socket.socket(socket.AF_UNIX)\ns.settimeout(10)\n\
                  s.connect(sys.argv[1])\n\
                  try:\n  s.sendall(b'{\"op\":\"get\",\"site\":\"mail.example.org\"}\\n')\n\
                  except OSError:\n  pass\n\
                  print(s.makefile().readline(), end='')";
    let sock = socket(&d).display().to_string();
    let out = as_nobody(&["/usr/bin/python3", "-c", script, &sock]);
    assert!(out.stdout.contains("\"error\":\"forbidden\""), "{out:#?}");
    assert!(!out.stdout.contains("hunter2"), "{out:#?}");
    std::fs::set_permissions(socket(&d), open(0o600)).unwrap();
    std::fs::set_permissions(run.join("vault"), open(0o700)).unwrap();
    // And the agent still serves its own user.
    assert_eq!(read_through_agent(&d), "hunter2\n");
}

fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .is_ok_and(|s| s.lines().any(|l| l.starts_with("Uid:\t0\t")))
}

#[test]
fn locks_when_idle_and_status_is_not_use() {
    let server = TestServer::start(Backend::Sqlite).unwrap();
    let d = device(&server);
    unlock(&d, "3s");
    std::thread::sleep(Duration::from_millis(1500));
    // A use restarts the clock…
    no_password(&d, &["get", "mail.example.org"]).ok();
    let used = Instant::now();
    // …`status` (polled here all along) does not.
    wait_locked(&d, Duration::from_secs(10));
    let idle = used.elapsed();
    assert!(idle >= Duration::from_millis(2500), "locked after {idle:?}");
    assert!(!socket(&d).exists());
    no_password(&d, &["get", "mail.example.org"]).fails(1, "");
}

#[test]
fn locks_on_passwd_logout_and_unregister() {
    let server = TestServer::start(Backend::Sqlite).unwrap();
    let d = device(&server);
    unlock(&d, "10m");
    d.run_with(
        &["passwd"],
        &[("VAULT_NEW_PASSWORD", "a new long passphrase 7")],
        None,
    )
    .ok();
    assert_eq!(status(&d), "locked\n", "passwd locks");
    let d = d.with("VAULT_PASSWORD", "a new long passphrase 7");
    unlock(&d, "10m");
    d.run(&["logout"]).ok();
    assert_eq!(status(&d), "locked\n", "logout locks");
    unlock(&d, "10m");
    d.run(&["unregister", "--yes"]).ok();
    assert_eq!(status(&d), "locked\n", "unregister locks");
}

#[test]
fn locks_when_the_token_expires() {
    let options = Options {
        args: vec!["--session-ttl".into(), "60".into()],
    };
    let server = TestServer::start_with(Backend::Sqlite, options).unwrap();
    let d = device(&server);
    unlock(&d, "10m");
    let s = status(&d);
    let left = ["1m", "59s", "58s", "57s", "56s"];
    assert!(
        left.iter().any(|l| s.contains(&format!("locks in: {l}\n"))),
        "the token's minute: {s}"
    );
    let waited = wait_locked(&d, Duration::from_secs(90));
    assert!(waited > Duration::from_secs(40), "locked after {waited:?}");
}

#[test]
fn a_session_ended_elsewhere_locks_the_agent() {
    let server = TestServer::start(Backend::Sqlite).unwrap();
    let d = device(&server);
    unlock(&d, "10m");
    // Another device logs every session out; this agent's token dies.
    let other = Device::new(&server.base_url(), "alice", PASSWORD);
    other.run(&["logout"]).ok();
    let out = no_password(&d, &["get", "mail.example.org"]);
    failed(&out, 1, "the agent locked: run `vault unlock`");
    // …and the command went on as without an agent: a login, here without
    // a terminal to ask on.
    failed(&out, 1, "no terminal to ask for the master password");
    assert_eq!(status(&d), "locked\n");
}

#[test]
fn offline_reads_answer_from_the_copy_and_writes_fail_cleanly() {
    let server = TestServer::start(Backend::Sqlite).unwrap();
    let d = device(&server);
    unlock(&d, "10m");
    no_password(&d, &["get", "mail.example.org"]).ok();
    server.terminate();
    let got = no_password(&d, &["get", "mail.example.org"]).ok();
    assert_eq!(got.stdout, "hunter2\n");
    assert!(
        got.stderr.contains("warning: server unreachable")
            && got.stderr.contains("agent's copy of")
            && got.stderr.contains(" ago"),
        "{got:#?}"
    );
    assert_eq!(no_password(&d, &["ls"]).ok().stdout, "mail.example.org\n");
    let add = d.run_with(
        &["add", "new.example"],
        &[("VAULT_PASSWORD", "")],
        Some("x\n"),
    );
    failed(&add, 1, "changes need the server; nothing was changed");
    failed(
        &no_password(&d, &["rm", "mail.example.org"]),
        1,
        "changes need the server",
    );
    assert_eq!(no_password(&d, &["ls"]).ok().stdout, "mail.example.org\n");
}

#[test]
fn a_killed_agent_leaves_commands_working() {
    let server = TestServer::start(Backend::Sqlite).unwrap();
    let d = device(&server);
    unlock(&d, "10m");
    common::send_signal(pid(&d), "KILL");
    wait_locked(&d, Duration::from_secs(5));
    assert!(socket(&d).exists(), "a stale socket is left behind");
    // With the password, a plain login as before; the stale socket is ignored.
    let out = d.run(&["get", "mail.example.org"]).ok();
    assert_eq!(out.stdout, "hunter2\n");
    assert_eq!(out.stderr, "");
    unlock(&d, "10m");
    assert_eq!(read_through_agent(&d), "hunter2\n");
}

#[test]
fn eight_commands_in_parallel_cost_one_login_and_no_429() {
    let server = TestServer::start(Backend::Sqlite).unwrap();
    let d = device(&server);
    let before = logins(&server);
    unlock(&d, "10m");
    let outs: Vec<Out> = std::thread::scope(|s| {
        let runs: Vec<_> = (0..8)
            .map(|i| {
                let d = &d;
                s.spawn(move || {
                    if i % 2 == 0 {
                        no_password(d, &["get", "mail.example.org"])
                    } else {
                        no_password(d, &["ls"])
                    }
                })
            })
            .collect();
        runs.into_iter().map(|r| r.join().unwrap()).collect()
    });
    for out in outs {
        let out = out.ok();
        assert!(out.stdout == "hunter2\n" || out.stdout == "mail.example.org\n");
    }
    assert_eq!(logins(&server), before + 1, "the unlock's login only");
    assert!(!server.log.lock().unwrap().contains(" 429 "));
}

/// Gone, or a zombie nobody reaped yet: not running.
fn running(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .is_ok_and(|s| !s.lines().any(|l| l.starts_with("State:\tZ")))
}

#[test]
fn a_second_unlock_replaces_the_first_only_once_it_logged_in() {
    let server = TestServer::start(Backend::Sqlite).unwrap();
    let d = device(&server);
    unlock(&d, "10m");
    let first = pid(&d);
    d.run_with(&["unlock"], &[("VAULT_PASSWORD", "not the password")], None)
        .fails(1, "wrong master password");
    assert_eq!(pid(&d), first, "a failed unlock leaves the agent alone");
    unlock(&d, "10m");
    let second = pid(&d);
    assert_ne!(first, second);
    let start = Instant::now();
    while running(first) {
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "the old agent runs on"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(read_through_agent(&d), "hunter2\n");
}

/// What can be seen of the agent from outside: its key pages locked, no
/// core dumps, no password in its environment or arguments, its standard
/// streams on /dev/null, and no file but the socket (and the non-secret
/// seen.json every command keeps) written.
#[test]
fn the_agent_keeps_its_secrets_to_itself() {
    let server = TestServer::start(Backend::Sqlite).unwrap();
    let d = device(&server);
    unlock(&d, "10m");
    let proc = PathBuf::from(format!("/proc/{}", pid(&d)));
    let status = std::fs::read_to_string(proc.join("status")).unwrap();
    let locked: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmLck:"))
        .and_then(|v| v.trim().trim_end_matches(" kB").parse().ok())
        .unwrap();
    assert!(locked >= 4, "{status}");
    let limits = std::fs::read_to_string(proc.join("limits")).unwrap();
    let core = limits.lines().find(|l| l.starts_with("Max core file size"));
    assert!(
        core.unwrap().split_whitespace().nth(4) == Some("0"),
        "{limits}"
    );
    for file in ["environ", "cmdline"] {
        let bytes = std::fs::read(proc.join(file)).unwrap();
        assert!(
            !cli_kit::contains(&bytes, PASSWORD),
            "the password in {file}"
        );
    }
    for fd in 0..3 {
        let target = std::fs::read_link(proc.join(format!("fd/{fd}"))).unwrap();
        assert_eq!(target, PathBuf::from("/dev/null"), "fd {fd}");
    }
    no_password(&d, &["get", "mail.example.org"]).ok();
    let files = cli_kit::files_under(&d.home.0);
    let names: Vec<String> = files
        .iter()
        .map(|f| f.strip_prefix(&d.home.0).unwrap().display().to_string())
        .collect();
    assert_eq!(
        names,
        [
            ".config/vault/config.json",
            "run/vault/agent.sock",
            "state/vault/seen.json"
        ]
    );
    for f in files {
        let bytes = std::fs::read(&f).unwrap_or_default();
        assert!(!cli_kit::contains(&bytes, "hunter2"), "{f:?}");
    }
}

/// A shell's completion of `vault get WORD`, with the device's variables
/// and the `vault` under test first on PATH; `None` without that shell.
fn complete_in(d: &Device, shell: &str, word: &str) -> Option<Vec<String>> {
    let path = format!("/usr/bin/{shell}");
    if !std::path::Path::new(&path).exists() {
        common::skipped(&format!("{shell} not installed: its completion not run"));
        return None;
    }
    let script = d.home.0.join(format!("vault.{shell}"));
    std::fs::write(&script, d.run(&["completions", shell]).ok().stdout).unwrap();
    let script = script.display();
    let line = match shell {
        "bash" => format!(
            "source {script}; COMP_WORDS=(vault get '{word}'); COMP_CWORD=2; _vault; printf '%s\\n' \"${{COMPREPLY[@]}}\""
        ),
        "fish" => format!("source {script}; complete -C 'vault get {word}'"),
        // zsh's completion system needs a terminal: run the script's site
        // helper with `compadd` printing what it is given.
        _ => format!(
            "eval \"$(sed -n '/^_vault_sites()/,/^}}/p' {script})\"; \
             compadd() {{ print -rl -- ${{(P)2}} }}; _vault_sites"
        ),
    };
    let flag = if shell == "bash" {
        "--norc"
    } else {
        "--no-config"
    };
    let mut cmd = Command::new(&path);
    if shell == "zsh" {
        cmd.arg("-f");
    } else {
        cmd.arg(flag);
    }
    cmd.args(["-c", &line]).env_clear();
    for (k, v) in d.env.iter().filter(|(k, _)| k != "VAULT_PASSWORD") {
        cmd.env(k, v);
    }
    let bin_dir = std::path::Path::new(VAULT).parent().unwrap();
    cmd.env("PATH", format!("{}:/usr/bin:/bin", bin_dir.display()));
    let out = run_to_end(cmd, None, format!("{shell} completes {word}")).ok();
    // fish adds a description after a tab; zsh's helper offers every name.
    let mut words: Vec<String> = out
        .stdout
        .lines()
        .map(|l| l.split('\t').next().unwrap().to_owned())
        .filter(|w| !w.is_empty() && w.starts_with(word))
        .collect();
    words.sort();
    Some(words)
}

/// bash, zsh and fish complete site names from the unlocked agent, and
/// offer none (without prompting) while it is locked.
#[test]
fn shells_complete_site_names_from_the_agent() {
    let server = TestServer::start(Backend::Sqlite).unwrap();
    let d = device(&server);
    d.input(&["add", "mail.example.net"], "pw\n").ok();
    let both = ["mail.example.net", "mail.example.org"];
    for shell in ["bash", "zsh", "fish"] {
        if let Some(words) = complete_in(&d, shell, "mail") {
            assert!(words.is_empty(), "{shell}, locked: {words:?}");
        }
    }
    unlock(&d, "10m");
    for shell in ["bash", "zsh", "fish"] {
        if let Some(words) = complete_in(&d, shell, "mail") {
            assert_eq!(words, both, "{shell}");
        }
        if let Some(words) = complete_in(&d, shell, "mail.example.n") {
            assert_eq!(words, ["mail.example.net"], "{shell}");
        }
    }
}
