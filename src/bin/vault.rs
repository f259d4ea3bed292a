//! `vault`: the command-line client of vaultd. A thin shell over
//! `vaultd::client`: arguments, prompts, output and exit codes.
//!
//! Exit codes: 0 success; 1 error (one line on stderr saying what to do);
//! 2 usage; 3 no such site.

use std::io::{IsTerminal, Read, Write};
use std::process::ExitCode;

use argh::FromArgs;
use zeroize::Zeroizing;

use vaultd::client::{self, Client, Edit, Session, config, generate, import};

/// vault: a zero-knowledge password manager client for vaultd. The master
/// password comes from VAULT_PASSWORD or a prompt; nothing secret is written
/// to disk. Global options go before the command.
#[derive(FromArgs)]
struct Args {
    /// server URL (env VAULT_SERVER; default http://127.0.0.1:8080)
    #[argh(option)]
    server: Option<String>,
    /// account name (env VAULT_USERNAME)
    #[argh(option)]
    username: Option<String>,
    /// profile of $XDG_CONFIG_HOME/vault/config.json holding server and
    /// username (env VAULT_PROFILE; default "default")
    #[argh(option)]
    profile: Option<String>,
    /// PEM certificate to trust for an https:// server with a self-signed
    /// certificate (env VAULT_CA_FILE)
    #[argh(option)]
    ca_file: Option<std::path::PathBuf>,
    #[argh(subcommand)]
    command: Command,
}

#[derive(FromArgs)]
#[argh(subcommand)]
enum Command {
    Register(Register),
    Add(Add),
    Get(Get),
    Ls(Ls),
    Edit(EditCmd),
    Rm(Rm),
    Generate(Generate),
    Passwd(Passwd),
    Export(Export),
    Import(Import),
    Logout(Logout),
    Unregister(Unregister),
    Completions(Completions),
}

/// create an account (master password asked twice)
#[derive(FromArgs)]
#[argh(subcommand, name = "register")]
struct Register {
    /// invite code, when the server's signups are closed
    #[argh(option)]
    invite: Option<String>,
}

/// add an entry; its password comes from stdin when stdin is not a
/// terminal, else from a prompt, or is generated
#[derive(FromArgs)]
#[argh(subcommand, name = "add")]
struct Add {
    /// the site, e.g. mail.example.org (case and surrounding spaces ignored)
    #[argh(positional)]
    site: String,
    /// the entry's username
    #[argh(option)]
    username: Option<String>,
    /// generate the password
    #[argh(switch)]
    generate: bool,
    /// length of the generated password (default 24)
    #[argh(option)]
    length: Option<usize>,
    /// generate letters and digits only
    #[argh(switch)]
    no_symbols: bool,
}

/// print an entry's password (or username), and only that, on stdout
#[derive(FromArgs)]
#[argh(subcommand, name = "get")]
struct Get {
    /// the site
    #[argh(positional)]
    site: String,
    /// field to print: password (default) or username
    #[argh(option, default = "String::from(\"password\")")]
    field: String,
    /// print the whole entry as JSON
    #[argh(switch)]
    json: bool,
}

/// list the sites, sorted
#[derive(FromArgs)]
#[argh(subcommand, name = "ls")]
struct Ls {
    /// print JSON (site, username, version, updated_at; no passwords)
    #[argh(switch)]
    json: bool,
}

/// change an entry (fails if it changed elsewhere meanwhile); without
/// options, asks for the new password
#[derive(FromArgs)]
#[argh(subcommand, name = "edit")]
struct EditCmd {
    /// the site
    #[argh(positional)]
    site: String,
    /// new username ("" clears it)
    #[argh(option)]
    username: Option<String>,
    /// generate a new password
    #[argh(switch)]
    generate: bool,
    /// length of the generated password (default 24)
    #[argh(option)]
    length: Option<usize>,
    /// generate letters and digits only
    #[argh(switch)]
    no_symbols: bool,
    /// read the new password from stdin
    #[argh(switch)]
    password_stdin: bool,
}

/// delete an entry
#[derive(FromArgs)]
#[argh(subcommand, name = "rm")]
struct Rm {
    /// the site
    #[argh(positional)]
    site: String,
}

/// print a random password (OS CSPRNG, unbiased)
#[derive(FromArgs)]
#[argh(subcommand, name = "generate")]
struct Generate {
    /// length (default 24)
    #[argh(option, default = "generate::DEFAULT_LENGTH")]
    length: usize,
    /// letters and digits only
    #[argh(switch)]
    no_symbols: bool,
}

/// change the master password (new one from VAULT_NEW_PASSWORD or asked
/// twice); ends every other session
#[derive(FromArgs)]
#[argh(subcommand, name = "passwd")]
struct Passwd {}

/// print every entry decrypted as JSON on stdout (keep it safe!)
#[derive(FromArgs)]
#[argh(subcommand, name = "export")]
struct Export {}

/// import entries from a file ("-" for stdin); bad rows are reported with
/// their line and skipped, existing sites are left alone
#[derive(FromArgs)]
#[argh(subcommand, name = "import")]
struct Import {
    /// the file
    #[argh(positional)]
    file: String,
    /// json (vault export), bitwarden-csv or keepassxc-csv
    #[argh(option)]
    format: String,
}

/// end every session of the account
#[derive(FromArgs)]
#[argh(subcommand, name = "logout")]
struct Logout {}

/// delete the account and every entry on the server, for good
#[derive(FromArgs)]
#[argh(subcommand, name = "unregister")]
struct Unregister {
    /// confirm: without it nothing is deleted
    #[argh(switch)]
    yes: bool,
}

/// print a completion script: bash, zsh or fish
#[derive(FromArgs)]
#[argh(subcommand, name = "completions")]
struct Completions {
    /// the shell
    #[argh(positional)]
    shell: String,
}

/// How a command failed.
enum Fail {
    /// Exit 2.
    Usage(String),
    /// Exit 1.
    Msg(String),
    /// Exit 1 or 3.
    Client(client::Error),
}

impl From<client::Error> for Fail {
    fn from(e: client::Error) -> Self {
        Fail::Client(e)
    }
}

type Res<T = ()> = Result<T, Fail>;

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

struct Ctx {
    server: String,
    username: Option<String>,
    ca_file: Option<std::path::PathBuf>,
}

impl Ctx {
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

fn prompt(text: &str) -> Res<Zeroizing<String>> {
    rpassword::prompt_password(text)
        .map(Zeroizing::new)
        .map_err(|_| {
            Fail::Msg(format!(
                "cannot prompt for a password without a terminal ({})",
                text.trim_end_matches(": ")
            ))
        })
}

fn prompt_twice(text: &str) -> Res<Zeroizing<String>> {
    let first = prompt(text)?;
    let second = prompt("Repeat it: ")?;
    if *first != *second {
        return Err(Fail::Msg("the two passwords differ; try again".into()));
    }
    Ok(first)
}

fn master_password(username: &str) -> Res<Zeroizing<String>> {
    match env("VAULT_PASSWORD") {
        Some(p) => Ok(Zeroizing::new(p)),
        None => prompt(&format!("Master password for {username}: ")).map_err(|_| {
            Fail::Msg("no terminal to ask for the master password; set VAULT_PASSWORD".into())
        }),
    }
}

/// Reads a password from stdin: everything, minus one trailing line break.
fn password_from_stdin() -> Res<Zeroizing<String>> {
    let mut buf = Zeroizing::new(String::new());
    std::io::stdin()
        .read_to_string(&mut buf)
        .map_err(|e| Fail::Msg(format!("cannot read the password from stdin: {e}")))?;
    let trimmed = buf
        .strip_suffix("\r\n")
        .or_else(|| buf.strip_suffix('\n'))
        .unwrap_or(&buf);
    if trimmed.is_empty() {
        return Err(Fail::Msg("no password on stdin".into()));
    }
    Ok(Zeroizing::new(trimmed.to_owned()))
}

/// The entry password for `add`/`edit`: generated, from stdin, or prompted.
fn entry_password(
    site: &str,
    generate_it: bool,
    length: Option<usize>,
    no_symbols: bool,
    from_stdin: bool,
) -> Res<Zeroizing<String>> {
    if (length.is_some() || no_symbols) && !generate_it {
        return Err(Fail::Usage(
            "--length and --no-symbols go with --generate".into(),
        ));
    }
    if generate_it {
        if from_stdin {
            return Err(Fail::Usage(
                "use either --generate or --password-stdin".into(),
            ));
        }
        return generate::password(length.unwrap_or(generate::DEFAULT_LENGTH), !no_symbols)
            .map_err(Fail::Usage);
    }
    if from_stdin || !std::io::stdin().is_terminal() {
        return password_from_stdin();
    }
    let pw = prompt_twice(&format!("Password for {}: ", site.trim()))?;
    if pw.is_empty() {
        return Err(Fail::Msg("the password must not be empty".into()));
    }
    Ok(pw)
}

fn print_stdout(text: &str) -> Res {
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())
        .and_then(|_| out.flush())
        .map_err(|e| Fail::Msg(format!("cannot write to stdout: {e}")))
}

fn run(args: Args) -> Res {
    // Commands that need no server.
    match &args.command {
        Command::Generate(g) => {
            let pw = generate::password(g.length, !g.no_symbols).map_err(Fail::Usage)?;
            return print_stdout(&format!("{}\n", pw.as_str()));
        }
        Command::Completions(c) => {
            let script = client::completions::script(&c.shell).ok_or_else(|| {
                Fail::Usage(format!(
                    "unknown shell `{}`: use bash, zsh or fish",
                    c.shell
                ))
            })?;
            return print_stdout(script);
        }
        _ => {}
    }

    let profile_name = args.profile.clone().or_else(|| env("VAULT_PROFILE"));
    let explicit = profile_name.is_some();
    let profile_name = profile_name.unwrap_or_else(|| config::DEFAULT_PROFILE.to_owned());
    let profile = match config::config_path() {
        Some(path) => config::load_profile(&path, &profile_name, explicit).map_err(Fail::Usage)?,
        None => config::Profile::default(),
    };
    let ctx = Ctx {
        server: config::first_of(&[args.server, env("VAULT_SERVER"), profile.server])
            .unwrap_or_else(|| config::DEFAULT_SERVER.to_owned()),
        username: config::first_of(&[args.username, env("VAULT_USERNAME"), profile.username]),
        ca_file: args
            .ca_file
            .or_else(|| env("VAULT_CA_FILE").map(Into::into)),
    };

    match args.command {
        Command::Generate(_) | Command::Completions(_) => unreachable!("handled above"),
        Command::Register(r) => {
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
        Command::Add(a) => {
            let password = entry_password(&a.site, a.generate, a.length, a.no_symbols, false)?;
            let session = ctx.login()?;
            let username = a.username.as_deref().filter(|u| !u.is_empty());
            session.add(&a.site, username, &password)?;
            eprintln!("added {}", a.site.trim());
            Ok(())
        }
        Command::Get(g) => {
            if g.field != "password" && g.field != "username" {
                return Err(Fail::Usage(format!(
                    "unknown field `{}`: use password or username",
                    g.field
                )));
            }
            let session = ctx.login()?;
            let entry = session.get(&g.site)?;
            let out = if g.json {
                #[derive(serde::Serialize)]
                struct Out<'a> {
                    site: &'a str,
                    username: Option<&'a str>,
                    password: &'a str,
                    version: i64,
                    updated_at: &'a str,
                }
                let out = Out {
                    site: &entry.site,
                    username: entry.username.as_deref(),
                    password: &entry.password,
                    version: entry.version,
                    updated_at: &entry.updated_at,
                };
                Zeroizing::new(format!(
                    "{}\n",
                    serde_json::to_string(&out).expect("an entry serialises")
                ))
            } else if g.field == "username" {
                Zeroizing::new(format!("{}\n", entry.username.as_deref().unwrap_or("")))
            } else {
                Zeroizing::new(format!("{}\n", entry.password.as_str()))
            };
            print_stdout(&out)
        }
        Command::Ls(l) => {
            let session = ctx.login()?;
            let listing = session.list()?;
            let out = if l.json {
                #[derive(serde::Serialize)]
                struct Out<'a> {
                    site: &'a str,
                    username: Option<&'a str>,
                    version: i64,
                    updated_at: &'a str,
                }
                let items: Vec<_> = listing
                    .entries
                    .iter()
                    .map(|e| Out {
                        site: &e.site,
                        username: e.username.as_deref(),
                        version: e.version,
                        updated_at: &e.updated_at,
                    })
                    .collect();
                format!(
                    "{}\n",
                    serde_json::to_string(&items).expect("a listing serialises")
                )
            } else {
                listing
                    .entries
                    .iter()
                    .map(|e| format!("{}\n", e.site))
                    .collect()
            };
            print_stdout(&out)?;
            if !listing.unreadable.is_empty() {
                let n = listing.unreadable.len();
                return Err(Fail::Msg(format!(
                    "{n} {} failed verification (tampered, or not written by vault) and {} not shown",
                    if n == 1 { "entry" } else { "entries" },
                    if n == 1 { "is" } else { "are" },
                )));
            }
            Ok(())
        }
        Command::Edit(e) => {
            let wants_password = e.generate || e.password_stdin;
            if (e.length.is_some() || e.no_symbols) && !e.generate {
                return Err(Fail::Usage(
                    "--length and --no-symbols go with --generate".into(),
                ));
            }
            let password = if wants_password || e.username.is_none() {
                if !wants_password && !std::io::stdin().is_terminal() {
                    return Err(Fail::Usage(
                        "nothing to change: pass --username, --generate or --password-stdin".into(),
                    ));
                }
                Some(entry_password(
                    &e.site,
                    e.generate,
                    e.length,
                    e.no_symbols,
                    e.password_stdin,
                )?)
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
        Command::Rm(r) => {
            let session = ctx.login()?;
            session.remove(&r.site)?;
            eprintln!("removed {}", r.site.trim());
            Ok(())
        }
        Command::Passwd(_) => {
            let session = ctx.login()?;
            let new = match env("VAULT_NEW_PASSWORD") {
                Some(p) => Zeroizing::new(p),
                None => prompt_twice("New master password: ")?,
            };
            session.change_password(&new)?;
            eprintln!("master password changed; other sessions have ended");
            Ok(())
        }
        Command::Unregister(u) => {
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
        Command::Export(_) => {
            let session = ctx.login()?;
            let json = session.export()?;
            eprintln!(
                "warning: this export holds every password in plain text; keep it safe and delete it when done"
            );
            print_stdout(&format!("{}\n", json.as_str()))
        }
        Command::Import(i) => {
            let format: import::Format = i.format.parse().map_err(Fail::Usage)?;
            let file = if i.file == STDIN_MARKER {
                "-"
            } else {
                i.file.as_str()
            };
            let mut text = Zeroizing::new(String::new());
            let read = if file == "-" {
                std::io::stdin().read_to_string(&mut text).map(|_| ())
            } else {
                std::fs::File::open(file).and_then(|mut f| f.read_to_string(&mut text).map(|_| ()))
            };
            read.map_err(|e| Fail::Msg(format!("cannot read {file}: {e}")))?;
            let (rows, mut problems) = import::parse(format, &text)
                .map_err(|e| Fail::Msg(format!("cannot import {file}: {e}")))?;
            let total = rows.len() + problems.len();
            let session = ctx.login()?;
            let tty = std::io::stderr().is_terminal();
            let report = session.import(&rows, |done, n| {
                if tty {
                    eprint!("\rimporting {done}/{n}");
                }
            })?;
            if tty && !rows.is_empty() {
                eprintln!();
            }
            problems.extend(report.problems);
            for p in &problems {
                eprintln!("{}: {} (skipped)", p.place, p.reason);
            }
            eprintln!(
                "imported {} of {} entries from {}",
                report.imported, total, file
            );
            if problems.is_empty() {
                Ok(())
            } else {
                let n = problems.len();
                Err(Fail::Msg(format!(
                    "{n} {} not imported; see the lines above",
                    if n == 1 { "entry was" } else { "entries were" }
                )))
            }
        }
        Command::Logout(_) => {
            let session = ctx.login()?;
            session.logout()?;
            eprintln!("every session has ended");
            Ok(())
        }
    }
}

/// Stands for a bare `-` (stdin) given to `vault import`: argh takes every
/// argument that starts with `-` for an option and would refuse it. An
/// argument can never hold U+0000, so the marker cannot clash with a file.
const STDIN_MARKER: &str = "\u{0}-";

/// Swaps the bare `-` arguments of `vault import` (not an option's value)
/// for [`STDIN_MARKER`]. `args` excludes the program name.
fn mark_stdin(args: &mut [String]) {
    // Global options, some with a value, come before the command.
    let mut i = 0;
    while i < args.len() && args[i].starts_with('-') {
        let takes_value = matches!(args[i].as_str(), "--server" | "--username" | "--profile");
        i += if takes_value { 2 } else { 1 };
    }
    if args.get(i).map(String::as_str) != Some("import") {
        return;
    }
    for j in i + 1..args.len() {
        if args[j] == "-" && args[j - 1] != "--format" {
            args[j] = STDIN_MARKER.to_owned();
        }
    }
}

fn main() -> ExitCode {
    let mut argv: Vec<String> = match std::env::args_os().map(|a| a.into_string()).collect() {
        Ok(v) => v,
        Err(bad) => {
            eprintln!(
                "vault: argument is not valid UTF-8: {}",
                bad.to_string_lossy()
            );
            return ExitCode::from(2);
        }
    };
    if let Some(args) = argv.get_mut(1..) {
        mark_stdin(args);
    }
    let strs: Vec<&str> = argv.iter().skip(1).map(String::as_str).collect();
    let args = match Args::from_args(&["vault"], &strs) {
        Ok(a) => a,
        Err(early) => {
            return match early.status {
                Ok(()) => {
                    println!("{}", early.output);
                    ExitCode::SUCCESS
                }
                Err(()) => {
                    eprintln!("{}", early.output.trim_end());
                    ExitCode::from(2)
                }
            };
        }
    };
    match run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(Fail::Usage(m)) => {
            eprintln!("vault: {m}");
            ExitCode::from(2)
        }
        Err(Fail::Msg(m)) => {
            eprintln!("vault: {m}");
            ExitCode::from(1)
        }
        Err(Fail::Client(e)) => {
            eprintln!("vault: {e}");
            ExitCode::from(e.exit_code() as u8)
        }
    }
}
