//! `vault edit SITE --editor`: the entry as readable JSON in $VISUAL or
//! $EDITOR. The file lives only on a memory file system
//! ($XDG_RUNTIME_DIR or /dev/shm, checked with statfs), mode 0600, and is
//! overwritten and removed afterwards, whatever happens.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use vaultd::client::entry::{Card, CustomField, Identity, TYPES};

use crate::Fail;
use crate::args::EditCmd;
use crate::commands::Ctx;
use crate::prompt::{Res, env};

/// What the editor shows: every member a user may change (not the name,
/// which is the entry's key, nor the times and history the client keeps).
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Editable {
    #[serde(rename = "type")]
    kind: String,
    username: Option<String>,
    password: String,
    urls: Vec<String>,
    notes: Option<String>,
    totp: Option<String>,
    fields: Vec<CustomField>,
    folder: Option<String>,
    favourite: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    card: Option<Card>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    identity: Option<Identity>,
}

// statfs(2): the one libc call of the CLI (no std API tells a file system's type).
#[allow(unsafe_code)]
fn is_memory_fs(dir: &Path) -> bool {
    use std::os::unix::ffi::OsStrExt;
    const TMPFS_MAGIC: i64 = 0x0102_1994;
    const RAMFS_MAGIC: i64 = 0x8584_58f6;
    let Ok(c) = std::ffi::CString::new(dir.as_os_str().as_bytes()) else {
        return false;
    };
    let mut st: libc::statfs = unsafe { std::mem::zeroed() };
    // SAFETY: `c` is a valid NUL-terminated path and `st` a writable statfs.
    let rc = unsafe { libc::statfs(c.as_ptr(), &mut st) };
    rc == 0 && matches!(st.f_type as i64, TMPFS_MAGIC | RAMFS_MAGIC)
}

/// $XDG_RUNTIME_DIR, else /dev/shm, if it is a memory file system.
fn memory_dir() -> Res<PathBuf> {
    let candidates = env("XDG_RUNTIME_DIR")
        .map(PathBuf::from)
        .into_iter()
        .chain([PathBuf::from("/dev/shm")]);
    for dir in candidates {
        if dir.is_dir() && is_memory_fs(&dir) {
            return Ok(dir);
        }
    }
    Err(Fail::Msg(
        "--editor needs a memory file system ($XDG_RUNTIME_DIR or /dev/shm, tmpfs) so that \
         the entry's text never reaches a disk; none is here"
            .into(),
    ))
}

/// The file, overwritten with zeros and removed on drop.
struct TempFile(PathBuf);

impl Drop for TempFile {
    fn drop(&mut self) {
        if let Ok(meta) = std::fs::metadata(&self.0)
            && let Ok(mut f) = std::fs::OpenOptions::new().write(true).open(&self.0)
        {
            let _ = f.write_all(&vec![0; meta.len() as usize]);
        }
        let _ = std::fs::remove_file(&self.0);
    }
}

fn run_editor(path: &Path) -> Res {
    let editor = env("VISUAL").or_else(|| env("EDITOR")).ok_or_else(|| {
        Fail::Usage("--editor needs $VISUAL or $EDITOR (e.g. EDITOR=nano)".into())
    })?;
    // Through the shell, so that EDITOR may carry arguments ("code -w").
    let status = std::process::Command::new("sh")
        .args(["-c", &format!("{editor} \"$1\""), "vault-editor"])
        .arg(path)
        .status()
        .map_err(|e| Fail::Msg(format!("cannot run the editor `{editor}`: {e}")))?;
    if !status.success() {
        return Err(Fail::Msg(format!(
            "the editor `{editor}` failed ({status}); nothing was changed"
        )));
    }
    Ok(())
}

pub fn edit(ctx: &Ctx, e: EditCmd) -> Res {
    let dir = memory_dir()?;
    let session = ctx.login()?;
    let current = session.get(&e.site)?;
    let d = &current.doc;
    let editable = Editable {
        kind: d.kind.clone(),
        username: d.username.clone(),
        password: current.password.to_string(),
        urls: d.urls.clone(),
        notes: d.notes.clone(),
        totp: d.totp.clone(),
        fields: d.fields.clone(),
        folder: d.folder.clone(),
        favourite: d.favourite,
        card: d.card.clone(),
        identity: d.identity.clone(),
    };
    let text = Zeroizing::new(serde_json::to_string_pretty(&editable).expect("serialises"));
    drop(editable);
    let mut name = [0u8; 8];
    getrandom::getrandom(&mut name).map_err(|e| Fail::Msg(format!("random: {e}")))?;
    let name: String = name.iter().map(|b| format!("{b:02x}")).collect();
    let file = TempFile(dir.join(format!("vault-edit-{name}.json")));
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&file.0)
        .map_err(|e| Fail::Msg(format!("cannot create {}: {e}", file.0.display())))?;
    f.write_all(text.as_bytes())
        .and_then(|_| f.write_all(b"\n"))
        .map_err(|e| Fail::Msg(format!("cannot write {}: {e}", file.0.display())))?;
    drop(f);
    run_editor(&file.0)?;
    let back = Zeroizing::new(
        std::fs::read_to_string(&file.0)
            .map_err(|e| Fail::Msg(format!("cannot read {} back: {e}", file.0.display())))?,
    );
    drop(file);
    let new: Editable = serde_json::from_str(&back).map_err(|e| {
        Fail::Msg(format!(
            "the edited entry is not valid: {e}; nothing was changed"
        ))
    })?;
    if !TYPES.contains(&new.kind.as_str()) {
        return Err(Fail::Msg(format!(
            "unknown type `{}`; nothing was changed",
            new.kind
        )));
    }
    if *back == format!("{}\n", text.as_str()) {
        eprintln!("no change to {}", current.site());
        return Ok(());
    }
    session.modify_entry(&current, |doc, pw| {
        doc.card = new.card.clone();
        doc.identity = new.identity.clone();
        doc.set_kind(&new.kind);
        doc.username = new.username.clone().filter(|u| !u.is_empty());
        *pw = Zeroizing::new(new.password.clone());
        doc.urls = new.urls.clone();
        doc.notes = new.notes.clone().filter(|n| !n.is_empty());
        doc.totp = new.totp.clone().filter(|t| !t.is_empty());
        doc.fields = new.fields.clone();
        doc.folder = new.folder.clone().filter(|f| !f.is_empty());
        doc.favourite = new.favourite;
        Ok(())
    })?;
    eprintln!("changed {}", current.site());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_memory_file_systems() {
        if Path::new("/dev/shm").is_dir() {
            assert!(is_memory_fs(Path::new("/dev/shm")));
        }
        // The build directory is on a disk.
        assert!(!is_memory_fs(Path::new(env!("CARGO_MANIFEST_DIR"))));
        assert!(!is_memory_fs(Path::new("/nonexistent")));
    }
}
