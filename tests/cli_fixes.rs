//! The fixes of the new-user trial, end to end: help and version,
//! parser errors, time-outs, prompts (Ctrl-D, mistyped confirmations),
//! checks before prompts, weak master passwords, plain-http warnings.

mod cli_kit;
mod common;

use std::net::TcpListener;
use std::time::{Duration, Instant};

use cli_kit::{Device, dead_url, ls, on_terminal_code, register};
use common::{Backend, TestServer};

#[test]
fn help_version_and_parser_errors() {
    let d = Device::new(&dead_url(), "nobody", "x");
    for args in [
        &["-h"][..],
        &["--help"],
        &["help"],
        &["get", "-h"],
        &["show", "--help"],
    ] {
        let out = d.run(args).ok();
        assert!(out.stdout.starts_with("Usage: vault"), "{args:?}: {out:#?}");
    }
    let out = d.run(&["--version"]).ok();
    assert_eq!(out.stdout, format!("vault {}\n", env!("CARGO_PKG_VERSION")));
    for (args, line) in [
        (
            &["lst"][..],
            "vault: unknown command `lst`; did you mean `ls`?",
        ),
        (
            &["--server", "http://h:1", "serch", "x"],
            "vault: unknown command `serch`; did you mean `search`?",
        ),
        (
            &["frobnicate"],
            "vault: unknown command `frobnicate`; `vault --help` lists them",
        ),
        (
            &["get"],
            "vault: Required positional arguments not provided: site; see `vault get --help`",
        ),
        (
            &["add", "x", "--length"],
            "vault: No value provided for option '--length'; see `vault add --help`",
        ),
        (&[], "vault: no command; `vault --help` lists them"),
    ] {
        let out = d.run(args);
        assert_eq!((out.code, out.stdout.as_str()), (2, ""), "{out:#?}");
        assert_eq!(out.stderr, format!("{line}\n"), "{args:?}");
    }
}

/// A server that accepts connections and never answers: the CLI gives up
/// after its read time-out (about 15 s, not 60) and says what to check.
#[test]
fn a_silent_server_times_out() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let held = std::thread::spawn(move || {
        let conns: Vec<_> = listener.incoming().take(1).collect();
        std::thread::sleep(Duration::from_secs(40));
        drop(conns);
    });
    let d = Device::new(&url, "ann", "ann fixes master pw");
    let start = Instant::now();
    // The login's own time-out: with the password given, never an agent.
    let pw = [("VAULT_PASSWORD", "ann fixes master pw")];
    d.run_with(&["ls"], &pw, None).fails(
        1,
        &format!("server unreachable: is vaultd running at {url}? check --server"),
    );
    let took = start.elapsed();
    assert!(
        took >= Duration::from_secs(14) && took < Duration::from_secs(30),
        "{took:?}"
    );
    drop(held);
}

/// Ctrl-D at a prompt is reported as such; a mistyped confirmation is
/// asked again (three times at most).
#[test]
fn prompts_on_a_terminal() {
    let server = TestServer::start(Backend::Sqlite).unwrap();
    let d = Device::bare()
        .with("VAULT_SERVER", &server.base_url())
        .with("VAULT_USERNAME", "pat");
    let (code, shown) = on_terminal_code(&d, &["ls"], "\u{4}");
    assert_eq!(code, 1, "{shown}");
    assert!(
        shown.contains("vault: no input (Ctrl-D) at the prompt: Master password for pat"),
        "{shown}"
    );
    let strong = "Tangerine Harbor Violin 73";
    let typed = format!("{strong}\nmistyped\n{strong}\n{strong}\n");
    let (code, shown) = on_terminal_code(&d, &["register"], &typed);
    assert_eq!(code, 0, "{shown}");
    assert!(shown.contains("the two differ; again (2 more)"), "{shown}");
    assert!(shown.contains("registered pat"), "{shown}");
    let typed = "a1\nb1\na2\nb2\na3\nb3\n";
    let other = Device::bare()
        .with("VAULT_SERVER", &server.base_url())
        .with("VAULT_USERNAME", "pat2");
    let (code, shown) = on_terminal_code(&other, &["register"], typed);
    assert_eq!(code, 1, "{shown}");
    assert!(shown.contains("differed 3 times"), "{shown}");
    // The account works with the password typed.
    let d = d.with("VAULT_PASSWORD", strong);
    assert_eq!(ls(&d), Vec::<String>::new());
    // rm --purge asks for the name; a wrong answer asks again.
    d.input(&["add", "gone.example"], "pw").ok();
    let (code, shown) = on_terminal_code(
        &d,
        &["rm", "gone.example", "--purge"],
        "nope\ngone.example\n",
    );
    assert_eq!(code, 0, "{shown}");
    assert!(
        shown.contains("that is not `gone.example`; again"),
        "{shown}"
    );
    assert_eq!(d.run(&["trash"]).ok().stdout, "");
    assert_eq!(ls(&d), Vec::<String>::new());
}

/// What needs no secret is checked before anything is asked; a weak
/// master password is refused at register and passwd.
#[test]
fn checks_before_prompts_and_weak_passwords() {
    let server = TestServer::start(Backend::Sqlite).unwrap();
    let d = Device::new(&server.base_url(), "quinn", "quinn fixes master pw");
    register(&d);
    d.input(&["add", "here.example"], "pw").ok();
    // Exists already: said before the (empty) stdin is read as a password.
    d.run(&["add", "here.example"]).fails(1, "exists already");
    // An empty name: before any login (the server is not even asked).
    let dead = Device::new(&dead_url(), "quinn", "x");
    dead.run(&["add", "  "])
        .fails(2, "the site name must not be empty");
    dead.run(&["add", "a", "--type", "boat"])
        .fails(2, "unknown type");

    for (pw, why) in [
        ("short pw", "too short"),
        ("password123", "too easy to guess"),
        ("aaaaaaaaaaaaaa", "too easy"),
    ] {
        let weak = Device::new(&server.base_url(), "weak", pw);
        weak.run(&["register"]).fails(1, why);
        d.run_with(&["passwd"], &[("VAULT_NEW_PASSWORD", pw)], None)
            .fails(1, why);
    }
    assert_eq!(ls(&d), ["here.example"], "the old password still works");
}

/// Plain http:// to a host that is not this machine is warned about.
#[test]
fn plain_http_warning() {
    let d = Device::new("http://192.0.2.1:9", "rae", "x");
    let out = d.run(&["ls"]);
    assert_eq!(out.code, 1);
    assert!(
        out.stderr.contains("warning: plain http:// to 192.0.2.1"),
        "{out:#?}"
    );
    let out = Device::new(&dead_url(), "rae", "x").run(&["ls"]);
    assert!(!out.stderr.contains("warning"), "{out:#?}");
}
