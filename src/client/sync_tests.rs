//! Unit tests of sync.rs: the state file and the predicted state after a write.

use super::*;
use std::os::unix::fs::PermissionsExt;

fn scratch(tag: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("vault-sync-{tag}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

#[test]
fn the_state_file_keeps_the_highest_seq_per_account_privately() {
    let dir = scratch("state");
    let f = StateFile::new(dir.join("vault").join("seen.json"));
    assert_eq!(f.seen("http://a:1", "ann").unwrap(), 0);
    f.record("http://a:1", "ann", 5, false).unwrap();
    f.record("http://a:1", "bob", 2, false).unwrap();
    f.record("http://b:2", "ann", 9, false).unwrap();
    // Never lowered, except on purpose (a reseal).
    f.record("http://a:1", "ann", 3, false).unwrap();
    assert_eq!(f.seen("http://a:1", "ann").unwrap(), 5);
    assert_eq!(f.seen("http://a:1", "bob").unwrap(), 2);
    assert_eq!(f.seen("http://b:2", "ann").unwrap(), 9);
    f.record("http://a:1", "ann", 4, true).unwrap();
    assert_eq!(f.seen("http://a:1", "ann").unwrap(), 4);
    let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&dir.join("vault")), 0o700);
    assert_eq!(mode(f.path()), 0o600);
    // Only the file itself is left (no temporary file).
    assert_eq!(std::fs::read_dir(dir.join("vault")).unwrap().count(), 1);
    // A file that is not ours is an error that names it, not a silent 0.
    std::fs::write(f.path(), "{\"seen\": 3}").unwrap();
    let e = f.seen("http://a:1", "ann").unwrap_err().to_string();
    assert!(
        e.contains("seen.json") && e.contains("fix or remove"),
        "{e}"
    );
    std::fs::remove_dir_all(&dir).unwrap();
}

fn wire(site: &str, version: i64, password: &str) -> WireEntry {
    WireEntry {
        site: site.into(),
        username: Some("u".into()),
        password: password.into(),
        version,
        updated_at: String::new(),
    }
}

#[test]
fn the_state_after_a_write_is_predicted_as_the_server_will_store_it() {
    let mut entries = BTreeMap::new();
    for e in [wire("a", 3, "pa"), wire("b", 1, "pb")] {
        entries.insert(e.site.clone(), e);
    }
    let snap = Snapshot {
        seq: 4,
        entries,
        manifest: None,
        seen: 0,
        verdict: Ok(()),
    };
    let predict = |w: &Write<'_>| {
        let (rest, changed) = snap.after(w);
        manifest::digest(rest.into_iter().chain(changed.as_ref()))
    };
    let change = Change {
        site: "a".into(),
        password: Some("pa2".into()),
        username: Some(None),
        version: Some(3),
    };
    let mut changed_a = wire("a", 4, "pa2");
    changed_a.username = None;
    assert_eq!(
        predict(&Write::Change(&change)),
        manifest::digest([&changed_a, &wire("b", 1, "pb")])
    );
    assert_eq!(
        predict(&Write::Delete { site: "b" }),
        manifest::digest([&wire("a", 3, "pa")])
    );
    let add = Write::Add {
        site: "c",
        username: Some("u"),
        password: "pc",
    };
    assert_eq!(
        predict(&add),
        manifest::digest([
            &wire("a", 3, "pa"),
            &wire("b", 1, "pb"),
            &wire("c", 1, "pc")
        ])
    );
}

#[test]
fn ages_read_as_people_say_them() {
    assert_eq!(age(Duration::from_secs(0)), "0 s");
    assert_eq!(age(Duration::from_secs(90)), "1 min 30 s");
    assert_eq!(age(Duration::from_secs(7260)), "2 h 1 min");
}

#[test]
fn only_a_server_out_of_reach_is_offline() {
    let unreachable = HttpError::Unreachable {
        url: "http://h:1".into(),
        reason: "refused".into(),
    };
    assert!(is_offline(&unreachable));
    assert!(is_offline(&HttpError::Unavailable {
        message: "db".into()
    }));
    assert!(!is_offline(&HttpError::Unauthorized {
        message: "expired".into()
    }));
    assert!(!is_offline(&HttpError::Conflict {
        message: "x".into()
    }));
}
