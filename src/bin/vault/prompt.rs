//! Prompts, stdin and stdout: where a password comes from and where output
//! goes. Every failure is a [`Fail`] with one line saying what to do.

use std::io::{IsTerminal, Read, Write};

use zeroize::Zeroizing;

use vaultd::client::{generate, text};

use crate::Fail;

pub type Res<T = ()> = Result<T, Fail>;

/// A non-empty environment variable.
pub fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

/// How many times a mistyped confirmation is asked again.
const TRIES: usize = 3;

/// Asks without echo. Ctrl-D (end of input) and no terminal at all are
/// told apart.
pub fn prompt(text: &str) -> Res<Zeroizing<String>> {
    let what = text.trim_end_matches(": ").to_owned();
    rpassword::prompt_password(text)
        .map(Zeroizing::new)
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::UnexpectedEof => {
                eprintln!();
                Fail::Msg(format!("no input (Ctrl-D) at the prompt: {what}"))
            }
            std::io::ErrorKind::Interrupted => Fail::Msg("interrupted".into()),
            _ => Fail::Msg(format!(
                "cannot prompt for a password without a terminal ({what})"
            )),
        })
}

/// Asks twice; a mismatch asks again, up to [`TRIES`] times.
pub fn prompt_twice(text: &str) -> Res<Zeroizing<String>> {
    for attempt in 1..=TRIES {
        let first = prompt(text)?;
        let second = prompt("Repeat it: ")?;
        if *first == *second {
            return Ok(first);
        }
        if attempt < TRIES {
            eprintln!("the two differ; again ({} more)", TRIES - attempt);
        }
    }
    Err(Fail::Msg(format!(
        "the two passwords differed {TRIES} times; nothing was changed"
    )))
}

/// Asks the user to type `expected` (with echo, from the terminal), up to
/// [`TRIES`] times; without a terminal, refuses (pass --yes).
pub fn confirm(text: &str, expected: &str) -> Res {
    if !std::io::stdin().is_terminal() {
        return Err(Fail::Usage(
            "no terminal to confirm on; pass --yes to delete without asking".into(),
        ));
    }
    for attempt in 1..=TRIES {
        eprint!("{text}");
        let mut line = String::new();
        let n = std::io::stdin()
            .read_line(&mut line)
            .map_err(|e| Fail::Msg(format!("cannot read the answer: {e}")))?;
        if n == 0 {
            eprintln!();
            return Err(Fail::Msg("no input (Ctrl-D); nothing was deleted".into()));
        }
        if line.trim() == expected.trim() {
            return Ok(());
        }
        if attempt < TRIES {
            eprintln!("that is not `{expected}`; again ({} more)", TRIES - attempt);
        }
    }
    Err(Fail::Msg("not confirmed; nothing was deleted".into()))
}

/// The master password: VAULT_PASSWORD, else a prompt.
pub fn master_password(username: &str) -> Res<Zeroizing<String>> {
    match env("VAULT_PASSWORD") {
        Some(p) => Ok(Zeroizing::new(p)),
        None => prompt(&format!("Master password for {username}: ")).map_err(|e| match e {
            Fail::Msg(m) if m.starts_with("cannot prompt") => {
                Fail::Msg("no terminal to ask for the master password; set VAULT_PASSWORD".into())
            }
            e => e,
        }),
    }
}

/// Reads a password from stdin: everything, minus one trailing line break.
pub fn password_from_stdin() -> Res<Zeroizing<String>> {
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

/// How `add`/`edit` get an entry's password.
pub struct PasswordSource {
    pub generate: bool,
    pub length: Option<usize>,
    pub no_symbols: bool,
    pub from_stdin: bool,
}

impl PasswordSource {
    /// `--length` and `--no-symbols` only mean something with `--generate`.
    pub fn check(&self) -> Res {
        if (self.length.is_some() || self.no_symbols) && !self.generate {
            return Err(Fail::Usage(
                "--length and --no-symbols go with --generate".into(),
            ));
        }
        if self.generate && self.from_stdin {
            return Err(Fail::Usage(
                "use either --generate or --password-stdin".into(),
            ));
        }
        Ok(())
    }

    /// The entry password: generated, from stdin, or prompted.
    pub fn read(&self, site: &str) -> Res<Zeroizing<String>> {
        self.check()?;
        if self.generate {
            return generate::password(
                self.length.unwrap_or(generate::DEFAULT_LENGTH),
                !self.no_symbols,
            )
            .map_err(Fail::Usage);
        }
        if self.from_stdin || !std::io::stdin().is_terminal() {
            return password_from_stdin();
        }
        let pw = prompt_twice(&format!("Password for {}: ", site.trim()))?;
        if pw.is_empty() {
            return Err(Fail::Msg("the password must not be empty".into()));
        }
        Ok(pw)
    }
}

/// Prints what entries hold, one value a line: raw into a pipe or file (a
/// script gets the exact bytes), with control characters escaped on a
/// terminal (an entry written elsewhere must not drive it).
pub fn print_entry_lines<'a>(values: impl IntoIterator<Item = &'a str>) -> Res {
    let tty = std::io::stdout().is_terminal();
    let mut out = Zeroizing::new(String::new());
    for v in values {
        out.push_str(&if tty { text::escape(v) } else { v.into() });
        out.push('\n');
    }
    print_stdout(&out)
}

/// Like [`print_entry_lines`] for JSON: on a terminal, what serde_json
/// leaves raw becomes `\uXXXX` (the same JSON value).
pub fn print_entry_json(json: &str) -> Res {
    if std::io::stdout().is_terminal() {
        print_stdout(&text::escape_json(json))
    } else {
        print_stdout(json)
    }
}

pub fn print_stdout(text: &str) -> Res {
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())
        .and_then(|_| out.flush())
        .map_err(|e| Fail::Msg(format!("cannot write to stdout: {e}")))
}
