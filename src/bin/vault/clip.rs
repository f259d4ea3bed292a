//! `vault get --clip`: copy to the clipboard with the system's own tool
//! (`wl-copy` on Wayland, `xclip` on X11; no clipboard crate needs fewer
//! parts than these two well-kept programs), and clear it after
//! VAULT_CLIP_SECONDS (default 45) unless it changed meanwhile.

use std::io::Write;
use std::process::{Command, Stdio};

use sha2::{Digest, Sha256};

use crate::Fail;
use crate::prompt::{Res, env};

/// Set (to anything) in the environment of the clearing process.
pub const CLEAR_MARKER: &str = "VAULT_INTERNAL_CLEAR_CLIPBOARD";
const DEFAULT_SECONDS: u64 = 45;

struct Tool {
    copy: (&'static str, &'static [&'static str]),
    paste: (&'static str, &'static [&'static str]),
}

const WAYLAND: Tool = Tool {
    copy: ("wl-copy", &[]),
    paste: ("wl-paste", &["--no-newline"]),
};
const X11: Tool = Tool {
    copy: ("xclip", &["-selection", "clipboard", "-in"]),
    paste: ("xclip", &["-selection", "clipboard", "-out"]),
};

fn on_path(program: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(program).is_file()))
}

fn tool() -> Res<&'static Tool> {
    if env("WAYLAND_DISPLAY").is_some() && on_path(WAYLAND.copy.0) {
        return Ok(&WAYLAND);
    }
    if env("DISPLAY").is_some() && on_path(X11.copy.0) {
        return Ok(&X11);
    }
    Err(Fail::Msg(
        "no clipboard here: --clip needs a Wayland session with wl-copy (package wl-clipboard) \
         or an X11 session with xclip; without --clip the value goes to stdout"
            .into(),
    ))
}

fn copy_with(tool: &Tool, value: &[u8]) -> Res {
    let (program, args) = tool.copy;
    let fail = |e: std::io::Error| Fail::Msg(format!("cannot run {program}: {e}"));
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(fail)?;
    child
        .stdin
        .take()
        .expect("piped")
        .write_all(value)
        .map_err(fail)?;
    let status = child.wait().map_err(fail)?;
    if !status.success() {
        return Err(Fail::Msg(format!("{program} failed ({status})")));
    }
    Ok(())
}

fn digest(value: &[u8]) -> String {
    Sha256::digest(value)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Copies `value`; a detached copy of this program clears it later. Only
/// the SHA-256 of the value goes to that process, on its stdin.
pub fn copy(value: &str, what: &str) -> Res {
    let tool = tool()?;
    copy_with(tool, value.as_bytes())?;
    let seconds = env("VAULT_CLIP_SECONDS")
        .and_then(|s| s.parse().ok())
        .unwrap_or(DEFAULT_SECONDS);
    let me = std::env::current_exe().map_err(|e| {
        Fail::Msg(format!(
            "cannot find this program to clear the clipboard: {e}"
        ))
    })?;
    let mut child = Command::new(me)
        .env(CLEAR_MARKER, seconds.to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| Fail::Msg(format!("cannot start the clipboard clearer: {e}")))?;
    let sent = child
        .stdin
        .take()
        .expect("piped")
        .write_all(digest(value.as_bytes()).as_bytes());
    sent.map_err(|e| Fail::Msg(format!("cannot start the clipboard clearer: {e}")))?;
    eprintln!("copied the {what} to the clipboard; it is cleared in {seconds} s");
    Ok(())
}

/// The clearing process: waits, and clears the clipboard if it still holds
/// the value whose digest came on stdin.
pub fn clear_later(seconds: &str) -> std::process::ExitCode {
    let mut expected = String::new();
    let _ = std::io::Read::read_to_string(&mut std::io::stdin(), &mut expected);
    let seconds: u64 = seconds.parse().unwrap_or(DEFAULT_SECONDS);
    std::thread::sleep(std::time::Duration::from_secs(seconds));
    let Ok(tool) = tool() else {
        return std::process::ExitCode::FAILURE;
    };
    let (program, args) = tool.paste;
    let now = Command::new(program)
        .args(args)
        .stderr(Stdio::null())
        .output();
    if now.is_ok_and(|o| digest(&o.stdout) == expected.trim()) {
        let _ = copy_with(tool, b"");
    }
    std::process::ExitCode::SUCCESS
}
