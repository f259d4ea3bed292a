//! The CLI's helpers end to end: the saved profile and `vault config`,
//! `generate --passphrase`, `get --clip` (through a stand-in clipboard
//! tool on PATH), and `edit --editor` (through a scripted $EDITOR).

mod cli_kit;
mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::Duration;

use cli_kit::{Device, dead_url, files_under, register};
use common::{Backend, TempDir, TestServer};
use serde_json::json;

const LOWER: &str = "abcdefghijklmnopqrstuvwxyz";
const UPPER: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZ";
const DIGITS: &str = "0123456789";
const SYMBOLS: &str = "!#%&()*+,-./:;<=>?@[]^_{|}~";

const WORDS: &str = include_str!("../src/client/eff_large_wordlist.txt");

#[test]
fn passphrases() {
    let d = Device::bare();
    let words: Vec<&str> = WORDS.lines().collect();
    let out = d.run(&["generate", "--passphrase"]).ok().stdout;
    let got: Vec<&str> = out.trim_end().split('-').collect();
    assert_eq!(got.len(), 6, "{out}");
    assert!(got.iter().all(|w| words.contains(w)), "{out}");
    let out = d
        .run(&[
            "generate",
            "--passphrase",
            "--words",
            "9",
            "--separator",
            " ",
        ])
        .ok()
        .stdout;
    assert_eq!(out.trim_end().split(' ').count(), 9, "{out}");
    d.run(&["generate", "--passphrase", "--words", "2"])
        .fails(2, "between 4 and 40");
    d.run(&["generate", "--words", "5"])
        .fails(2, "go with --passphrase");
}

/// register saves server and username to the profile; `vault config`
/// shows and sets them; a later run needs neither flag nor variable.
#[test]
fn profile_saved_and_config() {
    let server = TestServer::start(Backend::Sqlite).unwrap();
    let url = server.base_url();
    let d = Device::bare().with("VAULT_PASSWORD", "saved profile master pw");
    let out = d
        .run(&["--server", &url, "--username", "Sal", "register"])
        .ok();
    assert!(
        out.stderr
            .contains("saved server and username to profile `default`"),
        "{out:#?}"
    );
    let file: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(d.config_file()).unwrap()).unwrap();
    assert_eq!(
        file,
        json!({"profiles": {"default": {"server": url, "username": "sal"}}})
    );
    let mode = std::fs::metadata(d.config_file())
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
    d.input(&["add", "p.example"], "p-pw").ok();
    let shown = d.run(&["config"]).ok().stdout;
    assert!(
        shown.contains(&format!("server:   {url}")) && shown.contains("username: sal"),
        "{shown}"
    );
    d.run(&["config", "server", "ftp://x"]).fails(2, "http://");
    d.run(&["config", "colour", "red"])
        .fails(2, "unknown setting `colour`");
    // `config` (and `register`) make a profile that does not exist yet.
    d.run(&["--profile", "work", "ls"])
        .fails(2, "no profile `work`");
    d.run(&["--profile", "work", "config", "username", "sal-work"])
        .ok();
    let file: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(d.config_file()).unwrap()).unwrap();
    assert_eq!(file["profiles"]["work"], json!({"username": "sal-work"}));
    d.run(&["config", "username", "other"]).ok();
    d.run(&["get", "p.example"])
        .fails(1, "wrong master password");
    d.run(&["config", "username", "sal"]).ok();
    assert_eq!(d.run(&["get", "p.example"]).ok().stdout, "p-pw\n");
    // The first successful login fills an empty profile (and only then).
    // (The password given with each run: the login's own doing, never an
    // agent's `unlock`, which fills an empty profile the same way.)
    let e = Device::bare();
    let pw = [("VAULT_PASSWORD", "saved profile master pw")];
    let with_pw = |args: &[&str]| e.run_with(args, &pw, None);
    with_pw(&["--server", &url, "--username", "sal", "get", "nope.example"]).fails(3, "no entry");
    assert!(!e.config_file().exists(), "a failed command saves nothing");
    with_pw(&["--server", &url, "--username", "sal", "get", "p.example"]).ok();
    assert!(e.config_file().exists());
    assert_eq!(with_pw(&["get", "p.example"]).ok().stdout, "p-pw\n");
    for f in files_under(&e.home.0) {
        let text = std::fs::read_to_string(&f).unwrap();
        assert!(
            !text.contains("master pw") && !text.contains("p-pw"),
            "{}",
            f.display()
        );
    }
}

/// A stand-in for xclip: copies stdin to a file, pastes the file.
fn fake_xclip(dir: &Path) {
    let clip = dir.join("clipboard");
    let script = format!(
        "#!/bin/sh\ncase \"$*\" in *-out*) cat '{0}' 2>/dev/null ;; *) cat > '{0}' ;; esac\n",
        clip.display()
    );
    let path = dir.join("xclip");
    std::fs::write(&path, script).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
}

#[test]
fn clipboard() {
    let server = TestServer::start(Backend::Sqlite).unwrap();
    let d = Device::new(&server.base_url(), "cleo", "clipboard tools master pw");
    register(&d);
    d.input(
        &["add", "clip.example", "--username", "cleo"],
        "clip-secret",
    )
    .ok();
    let bin = TempDir::new("fake-clip");
    fake_xclip(&bin.0);
    let clip = bin.0.join("clipboard");
    let path = format!("{}:{}", bin.0.display(), std::env::var("PATH").unwrap());
    let env = [
        ("PATH", path.as_str()),
        ("DISPLAY", ":99"),
        ("VAULT_CLIP_SECONDS", "3"),
    ];
    let out = d.run_with(&["get", "clip.example", "-c"], &env, None).ok();
    assert_eq!(out.stdout, "", "nothing on stdout");
    assert!(out.stderr.contains("cleared in 3 s"), "{out:#?}");
    assert_eq!(std::fs::read_to_string(&clip).unwrap(), "clip-secret");
    std::thread::sleep(Duration::from_secs(6));
    assert_eq!(std::fs::read_to_string(&clip).unwrap(), "", "cleared");
    // Changed meanwhile: left alone.
    d.run_with(
        &["get", "clip.example", "--clip", "--field", "username"],
        &env,
        None,
    )
    .ok();
    assert_eq!(std::fs::read_to_string(&clip).unwrap(), "cleo");
    std::fs::write(&clip, "something else").unwrap();
    std::thread::sleep(Duration::from_secs(6));
    assert_eq!(std::fs::read_to_string(&clip).unwrap(), "something else");
    // No clipboard at all.
    let none = [
        ("PATH", "/usr/bin:/bin"),
        ("DISPLAY", ""),
        ("WAYLAND_DISPLAY", ""),
    ];
    d.run_with(&["get", "clip.example", "--clip"], &none, None)
        .fails(1, "no clipboard here");
}

#[test]
fn editor_on_a_memory_file_system() {
    if !Path::new("/dev/shm").is_dir() {
        eprintln!("skipped: no /dev/shm");
        return;
    }
    let server = TestServer::start(Backend::Sqlite).unwrap();
    let d = Device::new(&server.base_url(), "eddy", "editor tools master pw");
    register(&d);
    d.input(&["add", "ed.example", "--username", "before"], "ed-pw")
        .ok();
    let shm = TempDir(std::path::PathBuf::from(format!(
        "/dev/shm/vault-test-{}",
        std::process::id()
    )));
    std::fs::create_dir_all(&shm.0).unwrap();
    let log = TempDir::new("editor-log");
    let seen = log.0.join("seen");
    // The editor records where the file is and its mode, then edits it.
    let editor = log.0.join("editor.sh");
    std::fs::write(
        &editor,
        format!(
            "#!/bin/sh\nstat -c '%a %n' \"$1\" > '{}'\nsed -i 's/\"before\"/\"after\"/; s/\"notes\": null/\"notes\": \"from the editor\"/' \"$1\"\n",
            seen.display()
        ),
    )
    .unwrap();
    std::fs::set_permissions(&editor, std::fs::Permissions::from_mode(0o755)).unwrap();
    let xdg = shm.0.display().to_string();
    let ed = editor.display().to_string();
    let env = [("EDITOR", ed.as_str()), ("XDG_RUNTIME_DIR", xdg.as_str())];
    d.run_with(&["edit", "ed.example", "--editor"], &env, None)
        .ok();
    let seen = std::fs::read_to_string(&seen).unwrap();
    assert!(
        seen.starts_with(&format!("600 {xdg}/vault-edit-")),
        "{seen}"
    );
    // (Run through an agent, its socket is there too, in `vault/`.)
    let edit_files = std::fs::read_dir(&shm.0)
        .unwrap()
        .filter(|e| e.as_ref().unwrap().file_name() != "vault");
    assert_eq!(edit_files.count(), 0, "the file is removed");
    let j = d
        .run(&["show", "ed.example", "--json", "--reveal"])
        .ok()
        .json();
    assert_eq!(
        (&j["username"], &j["notes"], &j["password"]),
        (&json!("after"), &json!("from the editor"), &json!("ed-pw"))
    );
    // Not a memory file system (the test's HOME is on disk): refused.
    let home = d.home.0.display().to_string();
    let disk = [("EDITOR", ed.as_str()), ("XDG_RUNTIME_DIR", home.as_str())];
    let out = d.run_with(&["edit", "ed.example", "--editor"], &disk, None);
    // /dev/shm is the fallback here; a machine without one is refused.
    assert_eq!(out.code, 0, "{out:#?}");
    assert_eq!(
        std::fs::read_dir("/dev/shm")
            .unwrap()
            .filter_map(Result::ok)
            .filter(|e| e.file_name().to_string_lossy().starts_with("vault-edit-"))
            .count(),
        0
    );
}

/// `vault export` (version 2) carries whole entries; `import` into another
/// account gives them back, notes, URLs, fields and all.
#[test]
fn export_import_keeps_every_field() {
    let server = TestServer::start(Backend::Sqlite).unwrap();
    let a = Device::new(&server.base_url(), "xa", "export tools master pw");
    register(&a);
    a.input(
        &[
            "add",
            "rich.example",
            "--url",
            "https://rich.example",
            "--notes",
            "n1",
            "--hidden-field",
            "PIN=1",
            "--totp",
            "JBSWY3DPEHPK3PXP",
            "--folder",
            "F",
        ],
        "rich-pw",
    )
    .ok();
    a.run(&["add", "Note only", "--type", "note", "--notes", "just text"])
        .ok();
    let export = a.run(&["export"]).ok().stdout;
    assert_eq!(
        serde_json::from_str::<serde_json::Value>(&export).unwrap()["version"],
        2
    );
    let b = Device::new(&server.base_url(), "xb", "export tools master pw");
    register(&b);
    b.input(&["import", "-", "--format", "json"], &export).ok();
    for name in ["rich.example", "Note only"] {
        let mut x = a.run(&["show", name, "--json", "--reveal"]).ok().json();
        let mut y = b.run(&["show", name, "--json", "--reveal"]).ok().json();
        for j in [&mut x, &mut y] {
            for k in ["created", "updated", "updated_at"] {
                j.as_object_mut().unwrap().remove(k);
            }
        }
        assert_eq!(x, y, "{name}");
    }
}

/// `vault generate`: length, --no-symbols, the character set, one of each
/// class; no server needed.
#[test]
fn generate() {
    // A dead server: generate must not need one.
    let d = Device::new(&dead_url(), "nobody", "x");
    let all: String = [LOWER, UPPER, DIGITS, SYMBOLS].concat();
    let mut seen = Vec::new();
    for (args, len, symbols) in [
        (&["generate"][..], 24, true),
        (&["generate", "--length", "64"][..], 64, true),
        (&["generate", "--length", "8", "--no-symbols"][..], 8, false),
        (
            &["generate", "--no-symbols", "--length", "300"][..],
            300,
            false,
        ),
    ] {
        let out = d.run(args).ok();
        assert_eq!(out.stderr, "");
        let pw = out
            .stdout
            .strip_suffix('\n')
            .unwrap_or_else(|| panic!("one line: {out:#?}"));
        assert_eq!(pw.chars().count(), len, "{pw}");
        let allowed = if symbols {
            all.clone()
        } else {
            [LOWER, UPPER, DIGITS].concat()
        };
        assert!(pw.chars().all(|c| allowed.contains(c)), "{pw}");
        for class in [LOWER, UPPER, DIGITS] {
            assert!(
                pw.chars().any(|c| class.contains(c)),
                "{pw} lacks one of {class}"
            );
        }
        if symbols {
            assert!(
                pw.chars().any(|c| SYMBOLS.contains(c)),
                "{pw} lacks a symbol"
            );
        }
        // Never characters that need quoting in a shell.
        assert!(!pw.chars().any(|c| "\"'`\\$ ".contains(c)), "{pw}");
        seen.push(pw.to_owned());
    }
    let again = d.run(&["generate"]).ok().stdout;
    assert_ne!(again.trim_end(), seen[0], "two runs give two passwords");
    d.run(&["generate", "--length", "7"])
        .fails(2, "between 8 and 1024");
    d.run(&["generate", "--length", "1025"])
        .fails(2, "between 8 and 1024");
    assert_eq!(d.run(&["generate", "--length", "many"]).code, 2);
}
