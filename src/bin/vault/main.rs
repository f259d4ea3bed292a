//! `vault`: the command-line client of vaultd. A thin shell over
//! `vaultd::client`: `args.rs` defines the arguments, `commands.rs` runs one
//! function per command, `prompt.rs` asks and prints; this file parses and
//! dispatches.
//!
//! Exit codes: 0 success; 1 error (one line on stderr saying what to do);
//! 2 usage; 3 no such site; 5 `vault import` imported some items but not
//! all (each one not imported is listed; 1 when it imported none).

mod args;
mod commands;
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
    // Commands that need no server, no profile.
    let args = match args.command {
        Command::Generate(g) => return commands::generate(g),
        Command::Completions(c) => return commands::completions(c),
        _ => args,
    };
    let ctx = Ctx::resolve(&args)?;
    match args.command {
        Command::Generate(_) | Command::Completions(_) => unreachable!("handled above"),
        Command::Register(r) => commands::register(&ctx, r),
        Command::Add(a) => commands::add(&ctx, a),
        Command::Get(g) => commands::get(&ctx, g),
        Command::Ls(l) => commands::ls(&ctx, l),
        Command::Edit(e) => commands::edit(&ctx, e),
        Command::Rm(r) => commands::rm(&ctx, r),
        Command::Passwd(p) => commands::passwd(&ctx, p),
        Command::Unregister(u) => commands::unregister(&ctx, u),
        Command::Export(e) => commands::export(&ctx, e),
        Command::Import(i) => commands::import(&ctx, i),
        Command::Logout(l) => commands::logout(&ctx, l),
    }
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
