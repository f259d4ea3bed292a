//! One function per `vault` command: read the arguments, ask what must be
//! asked, call the library, print. Checks that need no secret run before
//! any prompt or login.

use std::io::IsTerminal;

use zeroize::Zeroizing;

use vaultd::client::{self, Client, Edit, Session, config, generate};

use crate::Fail;
use crate::args::*;

// `vault import` and `vault export` (issue 15) live in their own file.
#[path = "transfer.rs"]
mod transfer;
use crate::output::{EntryJson, SummaryJson, json_line};
use crate::prompt::{
    PasswordSource, Res, env, master_password, print_entry_json, print_entry_lines, print_stdout,
    prompt_twice,
};
pub use transfer::{export, import};

/// Where and as whom: the global options resolved against the environment
/// and the profile file.
pub struct Ctx {
    pub server: String,
    pub username: Option<String>,
    pub ca_file: Option<std::path::PathBuf>,
}

impl Ctx {
    /// Flags > environment > profile file > defaults.
    pub fn resolve(args: &Args) -> Res<Ctx> {
        let profile_name = args.profile.clone().or_else(|| env("VAULT_PROFILE"));
        let explicit = profile_name.is_some();
        let profile_name = profile_name.unwrap_or_else(|| config::DEFAULT_PROFILE.to_owned());
        let profile = match config::config_path() {
            Some(path) => {
                config::load_profile(&path, &profile_name, explicit).map_err(Fail::Usage)?
            }
            None => config::Profile::default(),
        };
        Ok(Ctx {
            server: config::first_of(&[args.server.clone(), env("VAULT_SERVER"), profile.server])
                .unwrap_or_else(|| config::DEFAULT_SERVER.to_owned()),
            username: config::first_of(&[
                args.username.clone(),
                env("VAULT_USERNAME"),
                profile.username,
            ]),
            ca_file: args
                .ca_file
                .clone()
                .or_else(|| env("VAULT_CA_FILE").map(Into::into)),
        })
    }

    fn client(&self) -> Res<Client> {
        Ok(Client::with_ca_file(&self.server, self.ca_file.as_deref())?)
    }

    fn username(&self) -> Res<&str> {
        let name = self.username.as_deref().ok_or_else(|| {
            Fail::Usage(
                "no username: pass --username NAME, set VAULT_USERNAME, or put it in a profile"
                    .into(),
            )
        })?;
        client::normalise_username(name).map_err(|e| Fail::Usage(e.to_string()))?;
        Ok(name)
    }

    fn login(&self) -> Res<Session> {
        let username = self.username()?;
        let client = self.client()?;
        let password = master_password(username)?;
        Ok(client.login(username, &password)?)
    }
}

pub fn generate(g: Generate) -> Res {
    let pw = generate::password(g.length, !g.no_symbols).map_err(Fail::Usage)?;
    print_stdout(&format!("{}\n", pw.as_str()))
}

pub fn completions(c: Completions) -> Res {
    let script = client::completions::script(&c.shell).ok_or_else(|| {
        Fail::Usage(format!(
            "unknown shell `{}`: use bash, zsh or fish",
            c.shell
        ))
    })?;
    print_stdout(script)
}

pub fn register(ctx: &Ctx, r: Register) -> Res {
    let username = ctx.username()?;
    let client = ctx.client()?;
    let password = match env("VAULT_PASSWORD") {
        Some(p) => Zeroizing::new(p),
        None => prompt_twice(&format!("New master password for {username}: "))?,
    };
    let name = client.register(username, &password, r.invite.as_deref())?;
    eprintln!("registered {name} at {}", ctx.server);
    Ok(())
}

pub fn add(ctx: &Ctx, a: Add) -> Res {
    let source = PasswordSource {
        generate: a.generate,
        length: a.length,
        no_symbols: a.no_symbols,
        from_stdin: false,
    };
    let password = source.read(&a.site)?;
    let session = ctx.login()?;
    let username = a.username.as_deref().filter(|u| !u.is_empty());
    session.add(&a.site, username, &password)?;
    eprintln!("added {}", a.site.trim());
    Ok(())
}

pub fn get(ctx: &Ctx, g: Get) -> Res {
    if g.field != "password" && g.field != "username" {
        return Err(Fail::Usage(format!(
            "unknown field `{}`: use password or username",
            g.field
        )));
    }
    let session = ctx.login()?;
    let entry = session.get(&g.site)?;
    if g.json {
        return print_entry_json(&Zeroizing::new(json_line(&EntryJson::of(&entry))));
    }
    let value = if g.field == "username" {
        entry.username.as_deref().unwrap_or("")
    } else {
        entry.password.as_str()
    };
    print_entry_lines([value])
}

pub fn ls(ctx: &Ctx, l: Ls) -> Res {
    let session = ctx.login()?;
    let listing = session.list()?;
    if l.json {
        let items: Vec<_> = listing.entries.iter().map(SummaryJson::of).collect();
        print_entry_json(&json_line(&items))?;
    } else {
        print_entry_lines(listing.entries.iter().map(|e| e.site.as_str()))?;
    }
    unreadable(listing.unreadable.len())
}

/// The error for `n` entries that failed verification (none: `Ok`).
fn unreadable(n: usize) -> Res {
    if n == 0 {
        return Ok(());
    }
    Err(Fail::Msg(format!(
        "{n} {} failed verification (tampered, or not written by vault) and {} not shown",
        if n == 1 { "entry" } else { "entries" },
        if n == 1 { "is" } else { "are" },
    )))
}

pub fn edit(ctx: &Ctx, e: EditCmd) -> Res {
    let source = PasswordSource {
        generate: e.generate,
        length: e.length,
        no_symbols: e.no_symbols,
        from_stdin: e.password_stdin,
    };
    source.check()?;
    let wants_password = e.generate || e.password_stdin;
    let password = if wants_password || e.username.is_none() {
        if !wants_password && !std::io::stdin().is_terminal() {
            return Err(Fail::Usage(
                "nothing to change: pass --username, --generate or --password-stdin".into(),
            ));
        }
        Some(source.read(&e.site)?)
    } else {
        None
    };
    let session = ctx.login()?;
    let edit = Edit {
        username: e.username.map(|u| Some(u).filter(|u| !u.is_empty())),
        password,
    };
    session.edit(&e.site, edit)?;
    eprintln!("changed {}", e.site.trim());
    Ok(())
}

pub fn rm(ctx: &Ctx, r: Rm) -> Res {
    let session = ctx.login()?;
    session.remove(&r.site)?;
    eprintln!("removed {}", r.site.trim());
    Ok(())
}

pub fn passwd(ctx: &Ctx, _: Passwd) -> Res {
    let session = ctx.login()?;
    let new = match env("VAULT_NEW_PASSWORD") {
        Some(p) => Zeroizing::new(p),
        None => prompt_twice("New master password: ")?,
    };
    session.change_password(&new)?;
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
    ctx.login()?.delete_account()?;
    eprintln!("deleted the account {username} and every entry");
    Ok(())
}

pub fn logout(ctx: &Ctx, _: Logout) -> Res {
    let session = ctx.login()?;
    session.logout()?;
    eprintln!("every session has ended");
    Ok(())
}
