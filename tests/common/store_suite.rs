//! The contract of `Store`, for any backend: every test body takes a
//! `&dyn Store` and knows nothing of the backend. `store_sqlite.rs` and
//! `store_postgres.rs` run them all through `store_tests!`.
#![allow(dead_code)]

use std::sync::Barrier;
use std::thread;

use vaultd::store::{EntryChange, PendingLogin, Store, StoreError, User};

pub const NOW: i64 = 1_700_000_000;

pub fn user(s: &dyn Store, name: &str) -> User {
    s.create_user(name, b"record", None, None, NOW)
        .expect("create_user")
}

pub fn login(id: u8, user_id: Option<i64>, expires_at: i64) -> PendingLogin {
    PendingLogin {
        id: vec![id; 32],
        username: format!("user{id}"),
        user_id,
        epoch: 0,
        state: vec![id, 0, 255, 7],
        expires_at,
    }
}

fn change(
    password: Option<&str>,
    username: Option<Option<&str>>,
    expected_version: Option<i64>,
) -> EntryChange {
    EntryChange {
        password: password.map(str::to_owned),
        username: username.map(|u| u.map(str::to_owned)),
        expected_version,
    }
}

pub fn health_answers(s: &dyn Store) {
    assert_eq!(s.health(), Ok(()));
    assert_eq!(s.prepare(false), Ok(()));
    assert!(!s.has_users().unwrap());
    user(s, "someone");
    assert!(s.has_users().unwrap());
}

pub fn users_create_and_look_up(s: &dyn Store) {
    let record = b"\x00opaque\xffrecord".to_vec();
    let alice = s
        .create_user("alice", &record, Some("wrapped-key\u{0}é"), None, NOW)
        .expect("create alice");
    assert_eq!(alice.username, "alice");
    assert_eq!(alice.record, record);
    assert_eq!(alice.vault_key.as_deref(), Some("wrapped-key\u{0}é"));
    assert_eq!((alice.rev, alice.epoch), (0, 0));

    let bob = s
        .create_user("bob", b"r2", None, None, NOW)
        .expect("create bob");
    assert_ne!(bob.id, alice.id);
    assert_eq!(bob.vault_key, None);

    assert_eq!(s.user_by_name("alice"), Ok(Some(alice.clone())));
    assert_eq!(s.user_by_id(alice.id), Ok(Some(alice.clone())));
    assert_eq!(s.user_by_id(bob.id), Ok(Some(bob.clone())));
    assert_eq!(s.user_by_name("carol"), Ok(None));
    assert_eq!(
        s.user_by_name("Alice"),
        Ok(None),
        "names are stored as given"
    );
    let missing = alice.id.max(bob.id) + 1000;
    assert_eq!(s.user_by_id(missing), Ok(None));
    assert_eq!(s.user_rev(alice.id), Ok(Some(0)));
    assert_eq!(s.user_rev(missing), Ok(None));
}

pub fn users_taken_name_is_a_conflict(s: &dyn Store) {
    let alice = user(s, "alice");
    assert_eq!(
        s.create_user("alice", b"other", Some("k"), None, NOW + 1),
        Err(StoreError::Conflict)
    );
    assert_eq!(s.user_by_name("alice"), Ok(Some(alice)));
}

pub fn users_revoke_and_change_password(s: &dyn Store) {
    let alice = s
        .create_user("alice", b"old", Some("old key"), None, NOW)
        .unwrap();
    let bob = user(s, "bob");
    assert_eq!(s.revoke_tokens(alice.id), Ok(1));
    assert_eq!(s.revoke_tokens(alice.id), Ok(2));
    assert_eq!(s.user_rev(alice.id), Ok(Some(2)));
    assert_eq!(s.user_by_id(alice.id).unwrap().unwrap().epoch, 0);

    let changed = s
        .change_password(alice.id, b"new", Some("new key"))
        .unwrap();
    assert_eq!(changed.id, alice.id);
    assert_eq!(changed.username, "alice");
    assert_eq!(changed.record, b"new");
    assert_eq!(changed.vault_key.as_deref(), Some("new key"));
    assert_eq!((changed.rev, changed.epoch), (3, 1));
    assert_eq!(s.user_by_id(alice.id), Ok(Some(changed)));

    // Without a vault key the stored one is cleared.
    let changed = s.change_password(alice.id, b"newer", None).unwrap();
    assert_eq!(changed.vault_key, None);
    assert_eq!((changed.rev, changed.epoch), (4, 2));
    assert_eq!(s.user_by_name("alice"), Ok(Some(changed)));

    // Other users are untouched.
    assert_eq!(s.user_by_id(bob.id), Ok(Some(bob.clone())));

    let missing = alice.id.max(bob.id) + 1000;
    assert_eq!(
        s.change_password(missing, b"x", None),
        Err(StoreError::NotFound)
    );
    assert_eq!(s.revoke_tokens(missing), Err(StoreError::NotFound));
}

pub fn users_delete_cascades(s: &dyn Store) {
    let alice = user(s, "alice");
    let bob = user(s, "bob");
    for u in [&alice, &bob] {
        s.add_entry(u.id, "site-a", Some("user"), "pw", NOW)
            .unwrap();
        s.add_entry(u.id, "site-b", None, "pw", NOW).unwrap();
    }
    s.put_login(&login(1, Some(alice.id), NOW + 60), NOW)
        .unwrap();
    s.put_login(&login(2, Some(bob.id), NOW + 60), NOW).unwrap();

    assert_eq!(s.delete_user(alice.id), Ok(()));
    assert_eq!(s.user_by_id(alice.id), Ok(None));
    assert_eq!(s.user_by_name("alice"), Ok(None));
    assert_eq!(s.user_rev(alice.id), Ok(None));
    assert_eq!(s.list_entries(alice.id), Ok(vec![]));
    assert_eq!(s.get_entry(alice.id, "site-a"), Ok(None));
    assert_eq!(s.take_login(&[1; 32], NOW), Ok(None));
    assert_eq!(s.delete_user(alice.id), Err(StoreError::NotFound));

    // Bob keeps everything.
    assert_eq!(s.user_by_id(bob.id), Ok(Some(bob.clone())));
    assert_eq!(s.list_entries(bob.id).unwrap().len(), 2);
    assert_eq!(
        s.take_login(&[2; 32], NOW),
        Ok(Some(login(2, Some(bob.id), NOW + 60)))
    );

    // The name is free again.
    let again = user(s, "alice");
    assert_ne!(again.id, alice.id);
    assert_eq!(s.list_entries(again.id), Ok(vec![]));
}

pub fn invites_are_spent_once(s: &dyn Store) {
    let hash = [7u8; 32];
    s.create_invite(&hash, NOW + 3600).unwrap();
    assert_eq!(s.invite_valid(&hash, NOW), Ok(true));
    assert_eq!(s.invite_valid(&[8u8; 32], NOW), Ok(false));
    assert_eq!(
        s.create_invite(&hash, NOW + 7200),
        Err(StoreError::Conflict)
    );

    let carol = s
        .create_user("carol", b"rec", None, Some(&hash), NOW)
        .expect("an unspent invite admits");
    assert_eq!(s.user_by_name("carol"), Ok(Some(carol)));
    assert_eq!(s.invite_valid(&hash, NOW), Ok(false));

    // Spent: reuse admits nobody.
    assert_eq!(
        s.create_user("dave", b"rec", None, Some(&hash), NOW),
        Err(StoreError::NotFound)
    );
    assert_eq!(s.user_by_name("dave"), Ok(None));
    // Unknown invite.
    assert_eq!(
        s.create_user("erin", b"rec", None, Some(&[9u8; 32]), NOW),
        Err(StoreError::NotFound)
    );
    assert_eq!(s.user_by_name("erin"), Ok(None));
}

pub fn invites_expire(s: &dyn Store) {
    let hash = b"expiring invite".to_vec();
    s.create_invite(&hash, NOW).unwrap();
    // Valid until `expires_at`, inclusive.
    assert_eq!(s.invite_valid(&hash, NOW - 1), Ok(true));
    assert_eq!(s.invite_valid(&hash, NOW), Ok(true));
    assert_eq!(s.invite_valid(&hash, NOW + 1), Ok(false));
    assert_eq!(
        s.create_user("frank", b"rec", None, Some(&hash), NOW + 1),
        Err(StoreError::NotFound)
    );
    assert_eq!(s.user_by_name("frank"), Ok(None));
    // Still unspent: a failed attempt does not spend it.
    assert_eq!(s.invite_valid(&hash, NOW), Ok(true));
}

pub fn invites_stay_unspent_when_the_name_is_taken(s: &dyn Store) {
    let alice = user(s, "alice");
    let hash = [3u8; 32];
    s.create_invite(&hash, NOW + 60).unwrap();
    assert_eq!(
        s.create_user("alice", b"rec", None, Some(&hash), NOW),
        Err(StoreError::Conflict)
    );
    assert_eq!(s.user_by_name("alice"), Ok(Some(alice)));
    assert_eq!(s.invite_valid(&hash, NOW), Ok(true), "rolled back");
    s.create_user("grace", b"rec", None, Some(&hash), NOW)
        .expect("the invite still works");
    assert_eq!(s.invite_valid(&hash, NOW), Ok(false));
}

pub fn logins_are_taken_once(s: &dyn Store) {
    let alice = user(s, "alice");
    let known = PendingLogin {
        epoch: 5,
        ..login(1, Some(alice.id), NOW + 60)
    };
    let unknown = login(2, None, NOW + 60);
    s.put_login(&known, NOW).unwrap();
    s.put_login(&unknown, NOW).unwrap();

    assert_eq!(s.take_login(&known.id, NOW), Ok(Some(known.clone())));
    assert_eq!(s.take_login(&known.id, NOW), Ok(None), "single use");
    assert_eq!(
        s.take_login(&unknown.id, NOW + 60),
        Ok(Some(unknown.clone()))
    );
    assert_eq!(s.take_login(&unknown.id, NOW), Ok(None));
    assert_eq!(s.take_login(&[9; 32], NOW), Ok(None));
}

pub fn logins_expire(s: &dyn Store) {
    let l = login(1, None, NOW + 60);
    s.put_login(&l, NOW).unwrap();
    assert_eq!(s.take_login(&l.id, NOW + 61), Ok(None), "expired");
    // And it is gone, not just hidden.
    assert_eq!(s.take_login(&l.id, NOW), Ok(None));
}

pub fn logins_expired_are_purged_by_put(s: &dyn Store) {
    let old = login(1, None, NOW + 10);
    let young = login(2, None, NOW + 100);
    s.put_login(&old, NOW).unwrap();
    s.put_login(&young, NOW).unwrap();
    s.put_login(&login(3, None, NOW + 110), NOW + 50).unwrap();
    // Asked with a `now` at which it would still be valid: purged anyway.
    assert_eq!(s.take_login(&old.id, NOW), Ok(None));
    assert_eq!(s.take_login(&young.id, NOW), Ok(Some(young)));
}

pub fn entries_add_get_list(s: &dyn Store) {
    let alice = user(s, "alice");
    let bob = user(s, "bob");
    let added = s
        .add_entry(alice.id, "example.org", Some("me"), "secret", NOW)
        .unwrap();
    assert_eq!(added.site, "example.org");
    assert_eq!(added.username.as_deref(), Some("me"));
    assert_eq!(added.password, "secret");
    assert_eq!((added.version, added.updated_at), (1, NOW));
    assert_eq!(
        s.get_entry(alice.id, "example.org"),
        Ok(Some(added.clone()))
    );

    assert_eq!(
        s.add_entry(alice.id, "example.org", None, "other", NOW + 5),
        Err(StoreError::Conflict)
    );
    assert_eq!(
        s.get_entry(alice.id, "example.org"),
        Ok(Some(added.clone()))
    );

    // Users do not see each other's entries, and may use the same site.
    assert_eq!(s.get_entry(bob.id, "example.org"), Ok(None));
    assert_eq!(s.list_entries(bob.id), Ok(vec![]));
    let bobs = s
        .add_entry(bob.id, "example.org", None, "bob's", NOW)
        .unwrap();
    assert_eq!(bobs.username, None);
    assert_eq!(s.get_entry(bob.id, "example.org"), Ok(Some(bobs)));

    let second = s
        .add_entry(alice.id, "a.example", None, "pw2", NOW + 1)
        .unwrap();
    assert_eq!(s.list_entries(alice.id), Ok(vec![second, added]));
    assert_eq!(s.get_entry(alice.id, "nowhere"), Ok(None));
}

pub fn entries_round_trip_bytes_and_sort_by_bytes(s: &dyn Store) {
    let alice = user(s, "alice");
    let sites = [
        "b", "a", "Z", "é", "e", "\u{0}", "a\u{0}b", "a\u{0}", "日本", "😀", "\u{7f}", "~", "ÿ",
        "Ā",
    ];
    for (i, site) in sites.iter().enumerate() {
        let username = format!("user\u{0}{i}ü");
        let password = format!("\u{0}pw\u{0}{site}\u{10FFFF}");
        s.add_entry(alice.id, site, Some(&username), &password, NOW + i as i64)
            .unwrap();
    }
    let listed = s.list_entries(alice.id).unwrap();
    let mut expected: Vec<&str> = sites.to_vec();
    expected.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
    let got: Vec<&str> = listed.iter().map(|e| e.site.as_str()).collect();
    assert_eq!(got, expected);

    for (i, site) in sites.iter().enumerate() {
        let entry = s.get_entry(alice.id, site).unwrap().expect("present");
        assert_eq!(entry.site.as_bytes(), site.as_bytes());
        assert_eq!(
            entry.username.as_deref().map(str::as_bytes),
            Some(format!("user\u{0}{i}ü").as_bytes())
        );
        assert_eq!(
            entry.password.as_bytes(),
            format!("\u{0}pw\u{0}{site}\u{10FFFF}").as_bytes()
        );
        assert_eq!(entry.updated_at, NOW + i as i64);
        assert!(listed.contains(&entry));
    }
    // "a" and "a\u{0}" are different sites.
    assert_eq!(s.get_entry(alice.id, "a\u{0}b\u{0}"), Ok(None));
}

pub fn entries_change(s: &dyn Store) {
    let alice = user(s, "alice");
    let bob = user(s, "bob");
    s.add_entry(alice.id, "site", Some("name"), "pw1", NOW)
        .unwrap();

    // Password only.
    assert_eq!(
        s.change_entry(alice.id, "site", &change(Some("pw2"), None, None), NOW + 1),
        Ok(2)
    );
    let e = s.get_entry(alice.id, "site").unwrap().unwrap();
    assert_eq!(
        (
            e.username.as_deref(),
            e.password.as_str(),
            e.version,
            e.updated_at
        ),
        (Some("name"), "pw2", 2, NOW + 1)
    );

    // Clear the username.
    assert_eq!(
        s.change_entry(
            alice.id,
            "site",
            &change(None, Some(None), Some(2)),
            NOW + 2
        ),
        Ok(3)
    );
    let e = s.get_entry(alice.id, "site").unwrap().unwrap();
    assert_eq!(
        (
            e.username.as_deref(),
            e.password.as_str(),
            e.version,
            e.updated_at
        ),
        (None, "pw2", 3, NOW + 2)
    );

    // Set both.
    assert_eq!(
        s.change_entry(
            alice.id,
            "site",
            &change(Some("pw\u{0}3"), Some(Some("new\u{0}name")), None),
            NOW + 3
        ),
        Ok(4)
    );
    let before = s.get_entry(alice.id, "site").unwrap().unwrap();
    assert_eq!(
        (before.username.as_deref(), before.password.as_str()),
        (Some("new\u{0}name"), "pw\u{0}3")
    );

    // A stale version: Conflict, and nothing changes.
    for stale in [1, 3, 5] {
        assert_eq!(
            s.change_entry(
                alice.id,
                "site",
                &change(Some("lost"), Some(None), Some(stale)),
                NOW + 9
            ),
            Err(StoreError::Conflict)
        );
    }
    assert_eq!(s.get_entry(alice.id, "site"), Ok(Some(before.clone())));

    // No such entry, with or without a version; another user's entry is
    // no entry at all.
    for expected in [None, Some(1), Some(4)] {
        assert_eq!(
            s.change_entry(alice.id, "nosite", &change(Some("x"), None, expected), NOW),
            Err(StoreError::NotFound)
        );
        assert_eq!(
            s.change_entry(bob.id, "site", &change(Some("x"), None, expected), NOW),
            Err(StoreError::NotFound)
        );
    }
    assert_eq!(s.get_entry(alice.id, "site"), Ok(Some(before)));
    assert_eq!(s.get_entry(alice.id, "nosite"), Ok(None));
}

pub fn entries_for_a_deleted_user_are_not_found(s: &dyn Store) {
    let gone = user(s, "gone");
    s.delete_user(gone.id).unwrap();
    // A user deleted between the token check and the write: not a conflict.
    assert_eq!(
        s.add_entry(gone.id, "site", None, "pw", NOW),
        Err(StoreError::NotFound)
    );
}

pub fn entries_delete(s: &dyn Store) {
    let alice = user(s, "alice");
    let bob = user(s, "bob");
    let kept = s.add_entry(alice.id, "keep", None, "pw", NOW).unwrap();
    s.add_entry(alice.id, "drop", None, "pw", NOW).unwrap();

    assert_eq!(s.delete_entry(bob.id, "drop"), Err(StoreError::NotFound));
    assert_eq!(s.delete_entry(alice.id, "drop"), Ok(()));
    assert_eq!(s.get_entry(alice.id, "drop"), Ok(None));
    assert_eq!(s.delete_entry(alice.id, "drop"), Err(StoreError::NotFound));
    assert_eq!(s.list_entries(alice.id), Ok(vec![kept]));
    // The site can be added again, from version 1.
    let again = s.add_entry(alice.id, "drop", None, "pw", NOW).unwrap();
    assert_eq!(again.version, 1);
}

pub fn entries_change_race_has_one_winner(s: &dyn Store) {
    const THREADS: usize = 16;
    let alice = user(s, "alice");
    s.add_entry(alice.id, "raced", None, "pw0", NOW).unwrap();

    // Open the connections first, so that the race is between statements
    // and not between connection set-ups.
    let barrier = Barrier::new(THREADS);
    thread::scope(|scope| {
        for _ in 0..THREADS {
            scope.spawn(|| {
                barrier.wait();
                s.health().unwrap();
                barrier.wait();
            });
        }
    });

    let barrier = Barrier::new(THREADS);
    let results: Vec<(usize, Result<i64, StoreError>)> = thread::scope(|scope| {
        let handles: Vec<_> = (0..THREADS)
            .map(|i| {
                let barrier = &barrier;
                scope.spawn(move || {
                    let password = format!("pw-from-{i}");
                    barrier.wait();
                    let r = s.change_entry(
                        alice.id,
                        "raced",
                        &change(Some(&password), None, Some(1)),
                        NOW + 1,
                    );
                    (i, r)
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });

    let winners: Vec<usize> = results
        .iter()
        .filter(|(_, r)| *r == Ok(2))
        .map(|(i, _)| *i)
        .collect();
    let conflicts = results
        .iter()
        .filter(|(_, r)| *r == Err(StoreError::Conflict))
        .count();
    assert_eq!(winners.len(), 1, "{results:?}");
    assert_eq!(conflicts, THREADS - 1, "{results:?}");
    let entry = s.get_entry(alice.id, "raced").unwrap().unwrap();
    assert_eq!(entry.version, 2);
    assert_eq!(entry.password, format!("pw-from-{}", winners[0]));
}

/// Makes one `#[test]` per suite function, each on a fresh store from
/// `suite_store(tag) -> Option<impl Store>` (None: backend unavailable).
#[macro_export]
macro_rules! store_tests {
    () => {
        store_tests!(@each
            health_answers,
            users_create_and_look_up,
            users_taken_name_is_a_conflict,
            users_revoke_and_change_password,
            users_delete_cascades,
            invites_are_spent_once,
            invites_expire,
            invites_stay_unspent_when_the_name_is_taken,
            logins_are_taken_once,
            logins_expire,
            logins_expired_are_purged_by_put,
            entries_add_get_list,
            entries_round_trip_bytes_and_sort_by_bytes,
            entries_change,
            entries_delete,
            entries_for_a_deleted_user_are_not_found,
            entries_change_race_has_one_winner,
        );
    };
    (@each $($name:ident),* $(,)?) => {$(
        #[test]
        fn $name() {
            let Some(store) = suite_store(stringify!($name)) else {
                return;
            };
            suite::$name(&store);
        }
    )*};
}
