//! `vault`: the command-line client of vaultd. A thin shell over
//! `vaultd::client`: `args.rs` defines the arguments, `commands.rs` runs one
//! function per command, `prompt.rs` asks and prints; this file parses and
//! dispatches.
//!
//! Exit codes: 0 success; 1 error (one line on stderr saying what to do);
//! 2 usage; 3 no such site; 5 `vault import` imported some items but not
//! all (each one not imported is listed; 1 when it imported none).

mod agent;
mod args;
mod clip;
mod commands;
mod completions;
mod editor;
mod entries;
mod output;
mod prompt;

use std::process::ExitCode;

use argh::{ArgsInfo, FlagInfo, FlagInfoKind, FromArgs};

use args::{Args, Command};
use commands::Ctx;
use prompt::Res;
use vaultd::client::{self, text};

/// How a command failed.
pub enum Fail {
    /// Exit 2.
    Usage(String),
    /// Exit 1.
    Msg(String),
    /// Exit 1 or 3.
    Client(client::Error),
    /// Exit 5: `vault import` imported only part of the file.
    Partial(String),
}

impl From<client::Error> for Fail {
    fn from(e: client::Error) -> Self {
        Fail::Client(e)
    }
}

fn run(args: Args) -> Res {
    let Some(command) = args.command else {
        if args.version {
            return prompt::print_stdout(concat!("vault ", env!("CARGO_PKG_VERSION"), "\n"));
        }
        return Err(Fail::Usage("no command; `vault --help` lists them".into()));
    };
    // Commands that need no server, no profile.
    let command = match command {
        Command::Generate(g) => return commands::generate(g),
        Command::Completions(c) => return commands::completions(c),
        c => c,
    };
    let creates_profile = matches!(command, Command::Register(_) | Command::Config(_));
    let ctx = Ctx::resolve(
        &args.server,
        &args.username,
        &args.profile,
        &args.ca_file,
        args.strict,
        creates_profile,
    )?;
    let result = dispatch(&ctx, command);
    if result.is_ok() {
        ctx.finish();
    }
    result
}

fn dispatch(ctx: &Ctx, command: Command) -> Res {
    match command {
        Command::Generate(_) | Command::Completions(_) => unreachable!("handled in run"),
        Command::Register(r) => commands::register(ctx, r),
        Command::Unlock(u) => agent::unlock(ctx, u),
        Command::Lock(l) => agent::lock(ctx, l),
        Command::Status(s) => agent::status(ctx, s),
        Command::Add(a) => entries::add(ctx, a),
        Command::Get(g) => entries::get(ctx, g),
        Command::Show(s) => entries::show(ctx, s),
        Command::Code(c) => entries::code(ctx, c),
        Command::Ls(l) => entries::ls(ctx, l),
        Command::Search(s) => entries::search(ctx, s),
        Command::Edit(e) => entries::edit(ctx, e),
        Command::History(h) => entries::history(ctx, h),
        Command::Rm(r) => entries::rm(ctx, r),
        Command::Trash(t) => entries::trash(ctx, t),
        Command::Restore(r) => entries::restore(ctx, r),
        Command::Passwd(p) => commands::passwd(ctx, p),
        Command::Unregister(u) => commands::unregister(ctx, u),
        Command::Export(e) => commands::export(ctx, e),
        Command::Import(i) => commands::import(ctx, i),
        Command::Config(c) => commands::config(ctx, c),
        Command::Logout(l) => commands::logout(ctx, l),
        Command::Verify(v) => commands::verify(ctx, v),
    }
}

/// Edit distance, for "did you mean".
fn distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != *cb)).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
}

/// One `vault:` line for a parser error; an unknown command gets the
/// nearest known one suggested.
fn parser_error(args: &[String], output: &str) -> String {
    let info = Args::get_args_info();
    let mut i = 0;
    while i < args.len() && args[i].starts_with('-') {
        i += if takes_value(info.flags, &args[i]) {
            2
        } else {
            1
        };
    }
    if let Some(word) = args.get(i) {
        let names: Vec<&str> = info.commands.iter().map(|c| c.name).collect();
        if !names.contains(&word.as_str()) && word != "help" {
            let best = names.iter().min_by_key(|n| distance(word, n)).copied();
            return match best.filter(|n| distance(word, n) <= 2 || n.starts_with(word.as_str())) {
                Some(n) => format!("unknown command `{word}`; did you mean `{n}`?"),
                None => format!("unknown command `{word}`; `vault --help` lists them"),
            };
        }
    }
    let one: Vec<&str> = output
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    let cmd = args.get(i).map_or(String::new(), |c| format!(" {c}"));
    format!(
        "{}; see `vault{cmd} --help`",
        one.join(" ").trim_end_matches('.')
    )
}

/// Stands for a bare `-` (stdin) given as a positional argument: argh takes
/// every argument that starts with `-` for an option and would refuse it.
/// An argument can never hold U+0000, so the marker cannot clash with a file.
const STDIN_MARKER: &str = "\u{0}-";

/// A positional argument as the user typed it.
pub fn unmark_stdin(arg: &str) -> &str {
    if arg == STDIN_MARKER { "-" } else { arg }
}

/// Whether `arg` names one of `flags` that takes a value.
fn takes_value(flags: &[FlagInfo], arg: &str) -> bool {
    flags.iter().any(|f| {
        matches!(f.kind, FlagInfoKind::Option { .. })
            && (f.long == arg || f.short.is_some_and(|c| arg == format!("-{c}")))
    })
}

/// Swaps every bare `-` that is a positional argument of a command that
/// reads a `file` (not an option's value) for [`STDIN_MARKER`]. Which options take a value comes
/// from the argument definitions themselves, so no option can be missed.
/// `args` excludes the program name.
fn mark_stdin(args: &mut [String]) {
    let info = Args::get_args_info();
    let mut i = 0;
    while i < args.len() && args[i].starts_with('-') {
        i += if takes_value(info.flags, &args[i]) {
            2
        } else {
            1
        };
    }
    let Some(command) = args
        .get(i)
        .and_then(|name| info.commands.iter().find(|c| c.name == name))
        .filter(|c| c.command.positionals.iter().any(|p| p.name == "file"))
    else {
        return;
    };
    let flags = command.command.flags;
    let mut j = i + 1;
    while j < args.len() {
        if takes_value(flags, &args[j]) {
            j += 2;
            continue;
        }
        if args[j] == "-" {
            args[j] = STDIN_MARKER.to_owned();
        }
        j += 1;
    }
}

fn main() -> ExitCode {
    if let Some(seconds) = std::env::var_os(clip::CLEAR_MARKER) {
        return clip::clear_later(&seconds.to_string_lossy());
    }
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
    // The agent and shell completion's helper: hidden, not argh commands.
    match argv.get(1).map(String::as_str) {
        Some(agent::AGENT_COMMAND) => return agent::run_agent(&argv[2..]),
        Some(agent::SITES_COMMAND) => return agent::sites(),
        _ => {}
    }
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
                    let line = parser_error(&argv[1..], &early.output);
                    eprintln!("vault: {}", text::escape(&line));
                    ExitCode::from(2)
                }
            };
        }
    };
    match run(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(Fail::Usage(m)) => {
            eprintln!("vault: {}", text::escape(&m));
            ExitCode::from(2)
        }
        Err(Fail::Msg(m)) => {
            eprintln!("vault: {}", text::escape(&m));
            ExitCode::from(1)
        }
        Err(Fail::Partial(m)) => {
            eprintln!("vault: {}", text::escape(&m));
            ExitCode::from(5)
        }
        Err(Fail::Client(e)) => {
            // Error text may quote the server or an entry: one safe line.
            eprintln!("vault: {}", text::escape(&e.to_string()));
            ExitCode::from(e.exit_code() as u8)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn marked(args: &[&str]) -> Vec<String> {
        let mut v: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        mark_stdin(&mut v);
        v
    }

    #[test]
    fn nearest_command() {
        let args = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            parser_error(&args(&["--server", "x", "lst"]), ""),
            "unknown command `lst`; did you mean `ls`?"
        );
        assert_eq!(
            parser_error(&args(&["serch", "x"]), ""),
            "unknown command `serch`; did you mean `search`?"
        );
        assert_eq!(
            parser_error(
                &args(&["get"]),
                "Required positional arguments not provided:\n    site\n"
            ),
            "Required positional arguments not provided: site; see `vault get --help`"
        );
    }

    #[test]
    fn stdin_marker_after_every_global_option() {
        // Every global option that takes a value, `--ca-file` among them.
        for opt in ["--server", "--username", "--profile", "--ca-file"] {
            assert_eq!(
                marked(&[opt, "X", "import", "-", "--format", "json"]),
                [opt, "X", "import", STDIN_MARKER, "--format", "json"]
            );
        }
        // An option's value `-` is left alone.
        assert_eq!(
            marked(&["import", "--format", "-", "-"]),
            ["import", "--format", "-", STDIN_MARKER]
        );
        assert_eq!(marked(&["--server", "-", "ls"]), ["--server", "-", "ls"]);
        // Only a command that reads a file takes `-` for stdin.
        assert_eq!(marked(&["get", "-"]), ["get", "-"]);
    }
}
