//! `vault unlock`, `lock`, `status`, the hidden `__agent` (the agent process
//! that `unlock` starts) and `__sites` (shell completion), and the one hook
//! every other command has: [`session`], the unlocked agent's session of
//! the same server and user when there is one.

use std::io::{BufRead, BufReader, Write as _};
use std::process::{ExitCode, Stdio};
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use zeroize::Zeroizing;

use vaultd::client::agent::{self, Agent, NoAgent, Request, Response, Status, server};
use vaultd::client::api::Token;
use vaultd::client::crypto::{KEY_LEN, VaultKey};
use vaultd::client::{self, Session, text};

use crate::Fail;
use crate::args::{Lock, StatusCmd, Unlock};
use crate::commands::Ctx;
use crate::prompt::{Res, master_password};

/// The hidden command the agent runs as.
pub const AGENT_COMMAND: &str = "__agent";
/// The hidden command shell completion calls.
pub const SITES_COMMAND: &str = "__sites";

/// An agent of `ctx`'s account, if one is unlocked. A socket that exists
/// but cannot be trusted is said once and then ignored.
fn agent_for(ctx: &Ctx) -> Option<(Agent, Status)> {
    let mut agent = match Agent::connect() {
        Ok(a) => a,
        Err(NoAgent::Locked) => return None,
        Err(NoAgent::Problem(m)) => {
            eprintln!("vault: warning: {}; not using the agent", text::escape(&m));
            return None;
        }
    };
    let status = agent.call(&Request::Status).ok()?.status?;
    if !agent::same_server(&status.server, &ctx.server) {
        return None;
    }
    if let Some(name) = &ctx.username
        && client::normalise_username(name).ok()? != status.username
    {
        return None;
    }
    Some((agent, status))
}

/// The session of an unlocked agent of this account: its token, vault key
/// and copy, the copy checked here against the manifest and this device's
/// state file. `None` when there is no agent (or it locked meanwhile, which
/// is said): the caller logs in as before.
pub fn session(ctx: &Ctx, client: &client::Client) -> Res<Option<Session>> {
    let Some((mut agent, _)) = agent_for(ctx) else {
        return Ok(None);
    };
    // This process is about to hold the agent's key: the same care.
    agent::harden::no_dumps().map_err(Fail::Msg)?;
    let answer = match agent.call(&Request::Grant) {
        Ok(a) => a,
        Err(m) => {
            eprintln!("vault: warning: {}", text::escape(&m));
            return Ok(None);
        }
    };
    let Some(mut grant) = answer.grant.filter(|_| answer.ok) else {
        let why = answer.message.unwrap_or_default();
        eprintln!("vault: warning: {}", text::escape(&why));
        return Ok(None);
    };
    let bad = || Fail::Msg("the agent handed over a malformed key; run `vault lock`".into());
    let decoded = Zeroizing::new(URL_SAFE_NO_PAD.decode(&grant.key).map_err(|_| bad())?);
    let bytes: &[u8; KEY_LEN] = decoded.as_slice().try_into().map_err(|_| bad())?;
    let session = client.resume(
        std::mem::take(&mut grant.username),
        Token::new(std::mem::take(&mut grant.token)),
        VaultKey::from_bytes(bytes),
    );
    let copy = std::mem::take(&mut grant.copy);
    session.adopt(copy, Duration::from_millis(grant.synced_ago_ms))?;
    Ok(Some(session))
}

/// After `passwd`, `logout` and `unregister`: the agent of this account
/// locks (its token is no longer valid anyway).
pub fn lock_account(ctx: &Ctx) {
    if let Some((mut agent, _)) = agent_for(ctx) {
        let _ = agent.call(&Request::Lock);
    }
}

fn parse_timeout(t: Option<&str>) -> Res<Duration> {
    let Some(t) = t else {
        return Ok(agent::DEFAULT_TIMEOUT);
    };
    let d = match t.parse::<u64>() {
        Ok(secs) => Duration::from_secs(secs),
        Err(_) => humantime::parse_duration(t).map_err(|e| {
            Fail::Usage(format!(
                "bad --timeout `{t}` ({e}): use e.g. 90s, 15m or 2h"
            ))
        })?,
    };
    if d.is_zero() {
        return Err(Fail::Usage("--timeout must be above 0".into()));
    }
    Ok(d)
}

pub fn unlock(ctx: &Ctx, u: Unlock) -> Res {
    let timeout = parse_timeout(u.timeout.as_deref())?;
    let username = ctx.username()?.to_owned();
    // An agent already running goes on until the new one has logged in
    // and replaced its socket; then it locks itself (server::watch).
    let password = master_password(&username)?;
    let exe = std::env::current_exe()
        .map_err(|e| Fail::Msg(format!("cannot find the vault binary: {e}")))?;
    let mut cmd = std::process::Command::new(exe);
    cmd.arg(AGENT_COMMAND)
        .arg(&ctx.server)
        .arg(&username)
        .arg(timeout.as_secs_f64().to_string());
    if let Some(ca) = &ctx.ca_file {
        cmd.arg(ca);
    }
    // The password goes through a pipe, never the agent's environment.
    cmd.env_remove("VAULT_PASSWORD")
        .env_remove("VAULT_NEW_PASSWORD")
        .current_dir("/")
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let mut child = cmd
        .spawn()
        .map_err(|e| Fail::Msg(format!("cannot start the agent: {e}")))?;
    if let Some(mut pipe) = child.stdin.take() {
        let line = Zeroizing::new(format!("{}\n", password.as_str()));
        let sent = pipe.write_all(line.as_bytes());
        drop(pipe);
        sent.map_err(|e| Fail::Msg(format!("cannot hand the agent the password: {e}")))?;
    }
    let mut line = String::new();
    if let Some(err) = child.stderr.take() {
        let _ = BufReader::new(err).read_line(&mut line);
    }
    if line.trim_end() != "ok" {
        let _ = child.wait();
        let why = line
            .trim_end()
            .strip_prefix("error: ")
            .unwrap_or(line.trim_end());
        return Err(Fail::Msg(if why.is_empty() {
            "the agent did not start".to_owned()
        } else {
            why.to_owned()
        }));
    }
    // Like a first login, a first unlock fills an empty profile.
    *ctx.logged_in.borrow_mut() = client::normalise_username(&username).ok();
    eprintln!(
        "unlocked {username} at {}; locks after {} idle (vault lock to lock now)",
        ctx.server,
        humantime::format_duration(timeout)
    );
    Ok(())
}

pub fn lock(_ctx: &Ctx, _: Lock) -> Res {
    match Agent::connect() {
        Ok(mut a) => {
            a.call(&Request::Lock).map_err(Fail::Msg)?;
            eprintln!("locked");
        }
        Err(NoAgent::Locked) => eprintln!("locked already"),
        Err(NoAgent::Problem(m)) => return Err(Fail::Msg(m)),
    }
    Ok(())
}

/// Never a secret; does not count as use.
pub fn status(_ctx: &Ctx, _: StatusCmd) -> Res {
    let s = match Agent::connect() {
        // An agent that dies while answering has locked.
        Ok(mut a) => a.call(&Request::Status).ok().and_then(|r| r.status),
        Err(NoAgent::Locked) => None,
        Err(NoAgent::Problem(m)) => return Err(Fail::Msg(m)),
    };
    let Some(s) = s else {
        println!("locked");
        return Ok(());
    };
    let mins = |secs: u64| humantime::format_duration(Duration::from_secs(secs)).to_string();
    println!("unlocked");
    println!("server: {}", text::escape(&s.server));
    println!("username: {}", s.username);
    println!("seq: {}", s.seq);
    println!("entries: {}", s.entries);
    println!("locks in: {}", mins(s.idle_left.min(s.token_left)));
    println!("synced: {} ago", mins(s.synced_ago));
    println!("pid: {}", s.pid);
    Ok(())
}

/// `vault __sites`: the unlocked agent's site names, one a line; nothing
/// (and no prompt) when locked.
pub fn sites() -> ExitCode {
    if let Ok(mut a) = Agent::connect()
        && let Ok(Response {
            sites: Some(sites), ..
        }) = a.call(&Request::Sites)
    {
        for s in sites {
            println!("{}", text::escape(&s));
        }
    }
    ExitCode::SUCCESS
}

/// `vault __agent SERVER USERNAME TIMEOUT_SECS [CA_FILE]`, password on
/// stdin: logs in, says `ok` (or `error: …`) on stderr, then leaves the
/// terminal and serves until it locks.
pub fn run_agent(args: &[String]) -> ExitCode {
    match agent_main(args) {
        Ok(never) => match never {},
        Err(m) => {
            eprintln!("error: {}", text::escape(&m));
            ExitCode::from(1)
        }
    }
}

enum Never {}

fn agent_main(args: &[String]) -> Result<Never, String> {
    let [server, username, timeout, rest @ ..] = args else {
        return Err("usage: vault __agent SERVER USERNAME TIMEOUT_SECS [CA_FILE]".into());
    };
    // Its own session: the terminal's hangup does not end it.
    let _ = rustix::process::setsid();
    agent::harden::no_dumps()?;
    let timeout = timeout
        .parse::<f64>()
        .ok()
        .filter(|t| *t > 0.0)
        .map(Duration::from_secs_f64)
        .ok_or("bad timeout")?;
    let mut password = Zeroizing::new(String::new());
    std::io::stdin()
        .read_line(&mut password)
        .map_err(|e| format!("cannot read the password: {e}"))?;
    let password = Zeroizing::new(password.trim_end_matches(['\r', '\n']).to_owned());
    let null = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/null")
        .map_err(|e| format!("cannot open /dev/null: {e}"))?;
    rustix::stdio::dup2_stdin(&null).map_err(|e| e.to_string())?;
    let cfg = server::Config {
        server: server.clone(),
        username: username.clone(),
        ca_file: rest.first().map(Into::into),
        timeout,
        socket: agent::socket_path()?,
    };
    let unlocked = server::unlock(&cfg, &password).map_err(|e| e.to_string())?;
    drop(password);
    let listener = server::bind(&cfg.socket)?;
    eprintln!("ok");
    rustix::stdio::dup2_stdout(&null).map_err(|e| e.to_string())?;
    rustix::stdio::dup2_stderr(&null).map_err(|e| e.to_string())?;
    server::serve(listener, unlocked, &cfg)
}
