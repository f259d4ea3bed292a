//! One function per `vault` command: read the arguments, ask what must be
//! asked, call the library, print. The account commands are here, the
//! entry commands in `entries.rs`. Checks that need no secret run before
//! any prompt or login.

use std::path::PathBuf;

use zeroize::Zeroizing;

use vaultd::client::{self, Client, Session, config, generate, search};

use crate::Fail;
use crate::args::*;
use crate::prompt::{Res, env, master_password, print_stdout, prompt_twice};

// `vault import` and `vault export` live in their own file.
#[path = "transfer.rs"]
mod transfer;
pub use transfer::{export, import};

/// Where and as whom: the global options resolved against the environment
/// and the profile file.
pub struct Ctx {
    pub server: String,
    pub username: Option<String>,
    pub ca_file: Option<std::path::PathBuf>,
    /// The profile file and the profile's name and contents, to save what
    /// worked (register, the first login).
    pub profile_path: Option<PathBuf>,
    pub profile_name: String,
    pub profile: config::Profile,
    /// The username of a successful login, saved to a fresh profile once
    /// the command has succeeded.
    pub logged_in: std::cell::RefCell<Option<String>>,
    /// A vault that does not match its manifest stops the command (exit 4).
    pub strict: bool,
}

impl Ctx {
    /// Flags > environment > profile file > defaults.
    #[allow(clippy::ref_option)] // the parsed arguments, as argh holds them
    pub fn resolve(
        server: &Option<String>,
        username: &Option<String>,
        profile: &Option<String>,
        ca_file: &Option<PathBuf>,
        strict: bool,
        creates_profile: bool,
    ) -> Res<Ctx> {
        let profile_name = profile.clone().or_else(|| env("VAULT_PROFILE"));
        // A named profile must exist, except for the commands that make it.
        let explicit = profile_name.is_some() && !creates_profile;
        let profile_name = profile_name.unwrap_or_else(|| config::DEFAULT_PROFILE.to_owned());
        let profile_path = config::config_path();
        let profile = match &profile_path {
            Some(path) => {
                config::load_profile(path, &profile_name, explicit).map_err(Fail::Usage)?
            }
            None => config::Profile::default(),
        };
        Ok(Ctx {
            server: config::first_of(&[
                server.clone(),
                env("VAULT_SERVER"),
                profile.server.clone(),
            ])
            .unwrap_or_else(|| config::DEFAULT_SERVER.to_owned()),
            username: config::first_of(&[
                username.clone(),
                env("VAULT_USERNAME"),
                profile.username.clone(),
            ]),
            profile_path,
            profile_name,
            logged_in: Default::default(),
            ca_file: ca_file
                .clone()
                .or_else(|| env("VAULT_CA_FILE").map(Into::into)),
            strict: strict
                || env("VAULT_STRICT").is_some_and(|v| v == "1")
                || profile.strict == Some(true),
            profile,
        })
    }

    fn client(&self) -> Res<Client> {
        if let Some(host) = plain_http_host(&self.server) {
            eprintln!(
                "warning: plain http:// to {host}, which is not this machine: anyone on the \
                 way can read the session token and the sealed entries; use https://"
            );
        }
        Ok(Client::with_ca_file(&self.server, self.ca_file.as_deref())?)
    }

    /// After a command succeeded: the first successful login fills a
    /// profile that has neither server nor username.
    pub fn finish(&self) {
        if let Some(name) = self.logged_in.borrow().as_deref() {
            self.save_profile(name, false);
        }
    }

    /// Writes server and username to the profile when the profile lacks
    /// them or says otherwise (`always`), or only when it has none yet.
    fn save_profile(&self, username: &str, always: bool) {
        let Some(path) = &self.profile_path else {
            return;
        };
        let fresh = self.profile.server.is_none() && self.profile.username.is_none();
        let same = self.profile.server.as_deref() == Some(&self.server)
            && self.profile.username.as_deref() == Some(username);
        if same || !(always || fresh) {
            return;
        }
        let p = config::Profile {
            server: Some(self.server.clone()),
            username: Some(username.to_owned()),
            strict: self.profile.strict,
        };
        match config::save_profile(path, &self.profile_name, &p) {
            Ok(()) => eprintln!(
                "saved server and username to profile `{}` ({})",
                self.profile_name,
                path.display()
            ),
            Err(e) => eprintln!("warning: {e}"),
        }
    }

    pub fn username(&self) -> Res<&str> {
        let name = self.username.as_deref().ok_or_else(|| {
            Fail::Usage(
                "no username: pass --username NAME, set VAULT_USERNAME, or put it in a profile"
                    .into(),
            )
        })?;
        client::normalise_username(name).map_err(|e| Fail::Usage(e.to_string()))?;
        Ok(name)
    }

    /// The session of this account's unlocked agent, else a login (the
    /// master password asked as usual). Warnings (a vault that does not
    /// match its manifest, answers from the agent's copy) go to stderr.
    pub fn login(&self) -> Res<Session> {
        let client = self.client()?;
        let session = match crate::agent::session(self, &client)? {
            Some(s) => s,
            None => self.login_with(&client)?,
        };
        session.on_warning(|m| eprintln!("vault: warning: {m}"));
        Ok(session)
    }

    /// Always a login with the master password (passwd and unregister ask
    /// for it even while unlocked).
    pub fn fresh_login(&self) -> Res<Session> {
        self.login_with(&self.client()?)
    }

    fn login_with(&self, client: &Client) -> Res<Session> {
        let username = self.username()?;
        let password = master_password(username)?;
        let session = client.login(username, &password)?;
        *self.logged_in.borrow_mut() = Some(session.username().to_owned());
        Ok(session)
    }

    /// Logs in and checks the vault against its manifest: a mismatch is a
    /// warning on stderr, or exit 4 under `--strict`. The session's reads
    /// come from the snapshot checked here.
    pub fn open_vault(&self) -> Res<Session> {
        let session = self.login()?;
        session.set_strict(self.strict);
        session.guard()?;
        Ok(session)
    }
}

/// `vault verify [--reseal]`: exit 0 when the vault matches its manifest,
/// 4 with one line when not; `--reseal` seals the vault as it is now.
pub fn verify(ctx: &Ctx, v: Verify) -> Res {
    let session = ctx.login()?;
    let verdict = session.check_all()?;
    if v.reseal {
        let seq = session.reseal()?;
        eprintln!(
            "sealed a fresh manifest over {} entries at seq {seq}",
            verdict.entries
        );
        return Ok(());
    }
    if let Some(m) = verdict.mismatch {
        return Err(Fail::Client(client::Error::Unverified(m)));
    }
    eprintln!(
        "the vault matches its manifest: {} entries at seq {}",
        verdict.entries, verdict.seq
    );
    Ok(())
}

/// The host of an `http://` URL that is not a loopback address.
fn plain_http_host(url: &str) -> Option<String> {
    let lower = url.trim().to_ascii_lowercase();
    lower.strip_prefix("http://")?;
    let host = search::host_of(&lower)?;
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    let loopback = bare == "localhost"
        || bare
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback());
    (!loopback).then_some(host)
}

/// At least 10 characters and a zxcvbn score of 3 or more.
fn check_strength(password: &str, username: &str) -> Res {
    let n = password.chars().count();
    if n < 10 {
        return Err(Fail::Msg(format!(
            "the master password is too short ({n} characters): use at least 10, e.g. several words"
        )));
    }
    let estimate = zxcvbn::zxcvbn(password, &[username, "vault", "vaultd"]);
    let score = u8::from(estimate.score());
    if score < 3 {
        let hint = estimate
            .feedback()
            .and_then(|f| f.warning())
            .map(|w| format!(" ({w})"))
            .unwrap_or_default();
        return Err(Fail::Msg(format!(
            "the master password is too easy to guess{hint}: strength {score} of 4, at least 3 needed; \
             try four or five random words (`vault generate --passphrase`)"
        )));
    }
    Ok(())
}

/// A new master password: the variable, else asked twice; checked.
fn new_master_password(var: &str, text: &str, username: &str) -> Res<Zeroizing<String>> {
    let pw = match env(var) {
        Some(p) => Zeroizing::new(p),
        None => prompt_twice(text)?,
    };
    check_strength(&pw, username)?;
    Ok(pw)
}

pub fn generate(g: Generate) -> Res {
    let passphrase_only = g.words.is_some() || g.separator.is_some();
    if passphrase_only && !g.passphrase {
        return Err(Fail::Usage(
            "--words and --separator go with --passphrase".into(),
        ));
    }
    let pw = if g.passphrase {
        let sep = g.separator.as_deref().unwrap_or("-");
        generate::passphrase(g.words.unwrap_or(generate::DEFAULT_WORDS), sep)
            .map_err(Fail::Usage)?
    } else {
        generate::password(g.length, !g.no_symbols).map_err(Fail::Usage)?
    };
    print_stdout(&format!("{}\n", pw.as_str()))
}

pub fn completions(c: Completions) -> Res {
    let script = crate::completions::script(&c.shell).ok_or_else(|| {
        Fail::Usage(format!(
            "unknown shell `{}`: use bash, zsh or fish",
            c.shell
        ))
    })?;
    print_stdout(&script)
}

pub fn register(ctx: &Ctx, r: Register) -> Res {
    let username = ctx.username()?;
    let client = ctx.client()?;
    let text = format!("New master password for {username}: ");
    let password = new_master_password("VAULT_PASSWORD", &text, username)?;
    let name = client.register(username, &password, r.invite.as_deref())?;
    eprintln!("registered {name} at {}", ctx.server);
    ctx.save_profile(&name, true);
    Ok(())
}

pub fn passwd(ctx: &Ctx, _: Passwd) -> Res {
    let username = ctx.username()?.to_owned();
    let session = ctx.fresh_login()?;
    let new = new_master_password("VAULT_NEW_PASSWORD", "New master password: ", &username)?;
    session.change_password(&new)?;
    crate::agent::lock_account(ctx);
    eprintln!("master password changed; other sessions have ended");
    Ok(())
}

pub fn unregister(ctx: &Ctx, u: Unregister) -> Res {
    if !u.yes {
        return Err(Fail::Usage(
            "unregister deletes the account and every entry for good; \
             run `vault export` first if you want them, then pass --yes"
                .into(),
        ));
    }
    let username = ctx.username()?.to_owned();
    ctx.fresh_login()?.delete_account()?;
    crate::agent::lock_account(ctx);
    eprintln!("deleted the account {username} and every entry");
    Ok(())
}

pub fn config(ctx: &Ctx, c: Config) -> Res {
    if c.setting.len() > 2 {
        return Err(Fail::Usage(
            "`vault config` takes a setting and a value".into(),
        ));
    }
    let mut setting = c.setting.into_iter();
    let Some(key) = setting.next() else {
        let show = |v: &Option<String>| v.clone().unwrap_or_else(|| "(not set)".into());
        let path = ctx
            .profile_path
            .as_ref()
            .map_or_else(|| "(no HOME)".into(), |p| p.display().to_string());
        return print_stdout(&format!(
            "profile:  {}\nfile:     {path}\nserver:   {}\nusername: {}\nin use:   {} as {}\n",
            ctx.profile_name,
            show(&ctx.profile.server),
            show(&ctx.profile.username),
            ctx.server,
            ctx.username.as_deref().unwrap_or("(no username)"),
        ));
    };
    let value = setting
        .next()
        .ok_or_else(|| Fail::Usage(format!("`vault config {key}` needs a value")))?;
    let mut p = ctx.profile.clone();
    match key.as_str() {
        "server" => {
            client::api::Api::new(&value).map_err(|e| Fail::Usage(e.to_string()))?;
            p.server = Some(value);
        }
        "username" => {
            client::normalise_username(&value).map_err(|e| Fail::Usage(e.to_string()))?;
            p.username = Some(value);
        }
        other => {
            return Err(Fail::Usage(format!(
                "unknown setting `{other}`: use server or username"
            )));
        }
    }
    let path = ctx
        .profile_path
        .as_ref()
        .ok_or_else(|| Fail::Msg("no HOME or XDG_CONFIG_HOME to keep the profile in".into()))?;
    config::save_profile(path, &ctx.profile_name, &p).map_err(Fail::Msg)?;
    eprintln!("set {key} in profile `{}`", ctx.profile_name);
    Ok(())
}

pub fn logout(ctx: &Ctx, _: Logout) -> Res {
    let session = ctx.login()?;
    session.logout()?;
    crate::agent::lock_account(ctx);
    eprintln!("every session has ended");
    Ok(())
}
