//! The contract of `Store`, for any backend: every test body takes a
//! `&dyn Store` and knows nothing of the backend. `store_sqlite.rs` and
//! `store_postgres.rs` run them all through `store_tests!`.
#![allow(dead_code)]

use std::sync::Barrier;
use std::thread;

use vaultd::store::{
    Changes, Entry, EntryChange, NewEntry, NewUser, PendingLogin, PendingRegistration, Store,
    StoreError, StoreResult, SyncWrite, User, Written,
};

pub const NOW: i64 = 1_700_000_000;

static REGISTRATION: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);

/// A fresh `registration_id` for `name` (and `user_id`, for a password change).
pub fn registration(s: &dyn Store, name: &str, user_id: Option<i64>) -> Vec<u8> {
    let n = REGISTRATION.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    let id = [b"reg-".as_slice(), &n.to_be_bytes(), name.as_bytes()].concat();
    let pending = PendingRegistration {
        id: id.clone(),
        username: name.to_string(),
        user_id,
        credential_id: [name.as_bytes(), b"-cred"].concat(),
        expires_at: NOW + 600,
    };
    s.put_registration(&pending, NOW).expect("put_registration");
    id
}

/// Both steps of a registration, with `rev` 0.
pub fn create(
    s: &dyn Store,
    name: &str,
    record: &[u8],
    vault_key: Option<&str>,
    invite: Option<&[u8]>,
    now: i64,
) -> StoreResult<User> {
    let new = NewUser {
        registration: registration(s, name, None),
        username: name.to_string(),
        record: record.to_vec(),
        vault_key: vault_key.map(str::to_string),
        invite: invite.map(<[u8]>::to_vec),
    };
    s.create_user(&new, now)
}

/// Both steps of a password change.
pub fn change_pw(
    s: &dyn Store,
    id: i64,
    record: &[u8],
    vault_key: Option<&str>,
) -> StoreResult<User> {
    // A registration for a user that is gone cannot be stored (its foreign
    // key), so such a change gets one that is not this user's.
    let registration = match s.user_by_id(id)? {
        Some(u) => registration(s, &u.username, Some(id)),
        None => registration(s, "gone", None),
    };
    s.change_password(id, &registration, record, vault_key, NOW)
}

/// An add without sync fields; the entry as it was stored.
pub fn add(
    s: &dyn Store,
    user: i64,
    site: &str,
    username: Option<&str>,
    password: &str,
    now: i64,
) -> StoreResult<Entry> {
    let entry = NewEntry {
        site: site.to_string(),
        username: username.map(str::to_string),
        password: password.to_string(),
    };
    s.add_entry(user, &entry, &SyncWrite::default(), now)?;
    Ok(Entry {
        site: entry.site,
        username: entry.username,
        password: entry.password,
        version: 1,
        updated_at: now,
    })
}

/// A change without sync fields; the new version.
pub fn chg(
    s: &dyn Store,
    user: i64,
    site: &str,
    change: &EntryChange,
    now: i64,
) -> StoreResult<i64> {
    s.change_entry(user, site, change, &SyncWrite::default(), now)
        .map(|w| w.version)
}

/// A delete without sync fields.
pub fn del(s: &dyn Store, user: i64, site: &str) -> StoreResult<()> {
    s.delete_entry(user, site, &SyncWrite::default())
        .map(|_| ())
}

pub fn user(s: &dyn Store, name: &str) -> User {
    create(s, name, b"record", None, None, NOW).expect("create_user")
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
    let alice =
        create(s, "alice", &record, Some("wrapped-key\u{0}é"), None, NOW).expect("create alice");
    assert_eq!(alice.username, "alice");
    assert_eq!(alice.record, record);
    assert_eq!(alice.vault_key.as_deref(), Some("wrapped-key\u{0}é"));
    assert_eq!((alice.rev, alice.epoch), (0, 0));

    let bob = create(s, "bob", b"r2", None, None, NOW).expect("create bob");
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
        create(s, "alice", b"other", Some("k"), None, NOW + 1),
        Err(StoreError::Conflict)
    );
    assert_eq!(s.user_by_name("alice"), Ok(Some(alice)));
}

pub fn users_revoke_and_change_password(s: &dyn Store) {
    let alice = create(s, "alice", b"old", Some("old key"), None, NOW).unwrap();
    let bob = user(s, "bob");
    assert_eq!(s.revoke_tokens(alice.id), Ok(1));
    assert_eq!(s.revoke_tokens(alice.id), Ok(2));
    assert_eq!(s.user_rev(alice.id), Ok(Some(2)));
    assert_eq!(s.user_by_id(alice.id).unwrap().unwrap().epoch, 0);

    let changed = change_pw(s, alice.id, b"new", Some("new key")).unwrap();
    assert_eq!(changed.id, alice.id);
    assert_eq!(changed.username, "alice");
    assert_eq!(changed.record, b"new");
    assert_eq!(changed.vault_key.as_deref(), Some("new key"));
    assert_eq!((changed.rev, changed.epoch), (3, 1));
    assert_eq!(s.user_by_id(alice.id), Ok(Some(changed)));

    // Without a vault key the stored one is cleared.
    let changed = change_pw(s, alice.id, b"newer", None).unwrap();
    assert_eq!(changed.vault_key, None);
    assert_eq!((changed.rev, changed.epoch), (4, 2));
    assert_eq!(s.user_by_name("alice"), Ok(Some(changed)));

    // Other users are untouched.
    assert_eq!(s.user_by_id(bob.id), Ok(Some(bob.clone())));

    let missing = alice.id.max(bob.id) + 1000;
    assert_eq!(change_pw(s, missing, b"x", None), Err(StoreError::NotFound));
    assert_eq!(s.revoke_tokens(missing), Err(StoreError::NotFound));
}

pub fn users_delete_cascades(s: &dyn Store) {
    let alice = user(s, "alice");
    let bob = user(s, "bob");
    for u in [&alice, &bob] {
        add(s, u.id, "site-a", Some("user"), "pw", NOW).unwrap();
        add(s, u.id, "site-b", None, "pw", NOW).unwrap();
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

    let carol =
        create(s, "carol", b"rec", None, Some(&hash), NOW).expect("an unspent invite admits");
    assert_eq!(s.user_by_name("carol"), Ok(Some(carol)));
    assert_eq!(s.invite_valid(&hash, NOW), Ok(false));

    // Spent: reuse admits nobody.
    assert_eq!(
        create(s, "dave", b"rec", None, Some(&hash), NOW),
        Err(StoreError::Invalid(vaultd::store::Invalid::Invite))
    );
    assert_eq!(s.user_by_name("dave"), Ok(None));
    // Unknown invite.
    assert_eq!(
        create(s, "erin", b"rec", None, Some(&[9u8; 32]), NOW),
        Err(StoreError::Invalid(vaultd::store::Invalid::Invite))
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
        create(s, "frank", b"rec", None, Some(&hash), NOW + 1),
        Err(StoreError::Invalid(vaultd::store::Invalid::Invite))
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
        create(s, "alice", b"rec", None, Some(&hash), NOW),
        Err(StoreError::Conflict)
    );
    assert_eq!(s.user_by_name("alice"), Ok(Some(alice)));
    assert_eq!(s.invite_valid(&hash, NOW), Ok(true), "rolled back");
    create(s, "grace", b"rec", None, Some(&hash), NOW).expect("the invite still works");
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
    let added = add(s, alice.id, "example.org", Some("me"), "secret", NOW).unwrap();
    assert_eq!(added.site, "example.org");
    assert_eq!(added.username.as_deref(), Some("me"));
    assert_eq!(added.password, "secret");
    assert_eq!((added.version, added.updated_at), (1, NOW));
    assert_eq!(
        s.get_entry(alice.id, "example.org"),
        Ok(Some(added.clone()))
    );

    assert_eq!(
        add(s, alice.id, "example.org", None, "other", NOW + 5),
        Err(StoreError::Conflict)
    );
    assert_eq!(
        s.get_entry(alice.id, "example.org"),
        Ok(Some(added.clone()))
    );

    // Users do not see each other's entries, and may use the same site.
    assert_eq!(s.get_entry(bob.id, "example.org"), Ok(None));
    assert_eq!(s.list_entries(bob.id), Ok(vec![]));
    let bobs = add(s, bob.id, "example.org", None, "bob's", NOW).unwrap();
    assert_eq!(bobs.username, None);
    assert_eq!(s.get_entry(bob.id, "example.org"), Ok(Some(bobs)));

    let second = add(s, alice.id, "a.example", None, "pw2", NOW + 1).unwrap();
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
        add(
            s,
            alice.id,
            site,
            Some(&username),
            &password,
            NOW + i as i64,
        )
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
    add(s, alice.id, "site", Some("name"), "pw1", NOW).unwrap();

    // Password only.
    assert_eq!(
        chg(
            s,
            alice.id,
            "site",
            &change(Some("pw2"), None, None),
            NOW + 1
        ),
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
        chg(
            s,
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
        chg(
            s,
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
            chg(
                s,
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
            chg(
                s,
                alice.id,
                "nosite",
                &change(Some("x"), None, expected),
                NOW
            ),
            Err(StoreError::NotFound)
        );
        assert_eq!(
            chg(s, bob.id, "site", &change(Some("x"), None, expected), NOW),
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
        add(s, gone.id, "site", None, "pw", NOW),
        Err(StoreError::NotFound)
    );
}

pub fn entries_delete(s: &dyn Store) {
    let alice = user(s, "alice");
    let bob = user(s, "bob");
    let kept = add(s, alice.id, "keep", None, "pw", NOW).unwrap();
    add(s, alice.id, "drop", None, "pw", NOW).unwrap();

    assert_eq!(del(s, bob.id, "drop"), Err(StoreError::NotFound));
    assert_eq!(del(s, alice.id, "drop"), Ok(()));
    assert_eq!(s.get_entry(alice.id, "drop"), Ok(None));
    assert_eq!(del(s, alice.id, "drop"), Err(StoreError::NotFound));
    assert_eq!(s.list_entries(alice.id), Ok(vec![kept]));
    // The site can be added again, from version 1.
    let again = add(s, alice.id, "drop", None, "pw", NOW).unwrap();
    assert_eq!(again.version, 1);
}

pub fn entries_change_race_has_one_winner(s: &dyn Store) {
    const THREADS: usize = 16;
    let alice = user(s, "alice");
    add(s, alice.id, "raced", None, "pw0", NOW).unwrap();

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
                    let r = chg(
                        s,
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

// ---------------------------------------------------------------------------
// API 1.1: registrations, ids, sync

pub fn registrations_are_single_use_and_bound_to_their_name(s: &dyn Store) {
    let id = registration(s, "alice", None);
    let new = |name: &str, registration: &[u8]| NewUser {
        registration: registration.to_vec(),
        username: name.to_string(),
        record: b"rec".to_vec(),
        vault_key: None,
        invite: None,
    };
    let invalid = Err(StoreError::Invalid(vaultd::store::Invalid::Registration));
    // Another username's registration makes no account and is not spent.
    assert_eq!(s.create_user(&new("bob", &id), NOW).map(|u| u.id), invalid);
    let alice = s.create_user(&new("alice", &id), NOW).unwrap();
    assert_eq!(
        (alice.rev, alice.credential_id.as_slice()),
        (0, &b"alice-cred"[..])
    );
    // Spent.
    assert_eq!(
        s.create_user(&new("alice", &id), NOW).map(|u| u.id),
        invalid
    );
    assert_eq!(
        s.create_user(&new("carol", b"unknown"), NOW).map(|u| u.id),
        invalid
    );
    // Expired.
    let late = registration(s, "dave", None);
    assert_eq!(
        s.create_user(&new("dave", &late), NOW + 601).map(|u| u.id),
        invalid
    );
    // A taken name: `Conflict`, and the registration stays for a retry.
    let again = registration(s, "alice", None);
    assert_eq!(
        s.create_user(&new("alice", &again), NOW).map(|u| u.id),
        Err(StoreError::Conflict)
    );
    // A new account cannot be made from a password change's registration.
    let change = registration(s, "erin", Some(alice.id));
    assert_eq!(
        s.create_user(&new("erin", &change), NOW).map(|u| u.id),
        invalid
    );
}

pub fn password_changes_take_their_own_registration(s: &dyn Store) {
    let alice = user(s, "alice");
    let bob = user(s, "bob");
    let invalid = Err(StoreError::Invalid(vaultd::store::Invalid::Registration));
    let first = registration(s, "alice", Some(alice.id));
    let second = registration(s, "alice", Some(alice.id));
    let bobs = registration(s, "bob", Some(bob.id));
    let change = |id: &[u8]| {
        s.change_password(alice.id, id, b"new", None, NOW)
            .map(|u| u.epoch)
    };
    assert_eq!(change(&bobs), invalid);
    assert_eq!(change(&registration(s, "alice", None)), invalid);
    assert_eq!(change(&second), Ok(1));
    assert_eq!(change(&second), invalid);
    assert_eq!(change(&first), Ok(2));
    let gone = registration(s, "bob", Some(bob.id));
    s.delete_user(bob.id).unwrap();
    assert_eq!(
        s.change_password(bob.id, &gone, b"x", None, NOW)
            .map(|u| u.id),
        Err(StoreError::NotFound)
    );
}

pub fn user_ids_are_never_reused(s: &dyn Store) {
    let mut last = 0;
    for round in 0..3 {
        let u = user(s, &format!("user{round}"));
        assert!(u.id > last, "id {} after {last}", u.id);
        last = u.id;
        s.delete_user(u.id).unwrap();
    }
    assert!(user(s, "user0").id > last);
}

fn sync(base_seq: Option<i64>, manifest: Option<&str>) -> SyncWrite {
    SyncWrite {
        base_seq,
        manifest: manifest.map(str::to_string),
    }
}

fn entry(site: &str, password: &str) -> NewEntry {
    NewEntry {
        site: site.to_string(),
        username: None,
        password: password.to_string(),
    }
}

fn sites(changes: &Changes) -> Vec<&str> {
    changes.entries.iter().map(|e| e.site.as_str()).collect()
}

pub fn sync_numbers_every_write_and_lists_what_changed(s: &dyn Store) {
    let alice = user(s, "alice");
    let a = alice.id;
    let none = SyncWrite::default();
    let empty = s.changes(a, 0).unwrap();
    assert_eq!(
        (empty.seq, empty.entries.len(), empty.manifest),
        (0, 0, None)
    );
    assert_eq!(
        s.add_entry(a, &entry("b", "1"), &none, NOW),
        Ok(Written { version: 1, seq: 1 })
    );
    assert_eq!(
        s.add_entry(a, &entry("a", "1"), &none, NOW),
        Ok(Written { version: 1, seq: 2 })
    );
    let change = EntryChange {
        password: Some("2".into()),
        ..Default::default()
    };
    assert_eq!(
        s.change_entry(a, "b", &change, &none, NOW),
        Ok(Written { version: 2, seq: 3 })
    );
    assert_eq!(s.delete_entry(a, "a", &none).map(|w| w.seq), Ok(4));
    // Failed writes change nothing.
    assert_eq!(
        s.add_entry(a, &entry("b", "x"), &none, NOW),
        Err(StoreError::Conflict)
    );
    assert_eq!(s.delete_entry(a, "zzz", &none), Err(StoreError::NotFound));
    assert_eq!(s.changes(a, 0).unwrap().seq, 4);

    let all = s.changes(a, 0).unwrap();
    assert_eq!((sites(&all), all.deleted.len()), (vec!["b"], 0));
    let since2 = s.changes(a, 2).unwrap();
    assert_eq!(
        (sites(&since2), since2.deleted.clone()),
        (vec!["b"], vec!["a".to_string()])
    );
    let since3 = s.changes(a, 3).unwrap();
    assert_eq!(
        (sites(&since3).len(), since3.deleted.clone()),
        (0, vec!["a".to_string()])
    );
    let ahead = s.changes(a, 99).unwrap();
    assert_eq!(
        (ahead.seq, ahead.entries.len(), ahead.deleted.len()),
        (4, 0, 0)
    );
    // Added again: in `entries` only.
    s.add_entry(a, &entry("a", "3"), &none, NOW).unwrap();
    let since2 = s.changes(a, 2).unwrap();
    assert_eq!((sites(&since2), since2.deleted.len()), (vec!["a", "b"], 0));
    // Another user's sequence is its own.
    let bob = user(s, "bob");
    assert_eq!(
        s.add_entry(bob.id, &entry("a", "1"), &none, NOW)
            .map(|w| w.seq),
        Ok(1)
    );
    assert_eq!(s.changes(999_999, 0), Err(StoreError::NotFound));
}

pub fn sync_base_seq_and_manifest_go_with_the_write(s: &dyn Store) {
    let a = user(s, "alice").id;
    let write = sync;
    assert_eq!(
        s.add_entry(a, &entry("x", "1"), &write(Some(0), Some("m1")), NOW)
            .map(|w| w.seq),
        Ok(1)
    );
    assert_eq!(s.changes(a, 0).unwrap().manifest.as_deref(), Some("m1"));
    // A stale base_seq: nothing changes, the manifest neither.
    assert_eq!(
        s.add_entry(a, &entry("y", "1"), &write(Some(0), Some("m2")), NOW),
        Err(StoreError::StaleSeq)
    );
    let change = EntryChange {
        password: Some("2".into()),
        ..Default::default()
    };
    assert_eq!(
        s.change_entry(a, "x", &change, &write(Some(5), None), NOW),
        Err(StoreError::StaleSeq)
    );
    assert_eq!(
        s.delete_entry(a, "x", &write(Some(7), None)),
        Err(StoreError::StaleSeq)
    );
    let state = s.changes(a, 0).unwrap();
    assert_eq!(
        (state.seq, state.manifest.as_deref(), sites(&state)),
        (1, Some("m1"), vec!["x"])
    );
    // A write without a manifest keeps the stored one; a failed entry rule
    // with a current base_seq leaves seq and manifest alone.
    s.change_entry(a, "x", &change, &write(Some(1), None), NOW)
        .unwrap();
    assert_eq!(s.changes(a, 0).unwrap().manifest.as_deref(), Some("m1"));
    let stale_version = EntryChange {
        expected_version: Some(1),
        ..change.clone()
    };
    assert_eq!(
        s.change_entry(a, "x", &stale_version, &write(Some(2), Some("m3")), NOW),
        Err(StoreError::Conflict)
    );
    let state = s.changes(a, 0).unwrap();
    assert_eq!((state.seq, state.manifest.as_deref()), (2, Some("m1")));
    assert_eq!(
        s.delete_entry(a, "x", &write(Some(2), Some("m4")))
            .map(|w| w.seq),
        Ok(3)
    );
    assert_eq!(s.changes(a, 0).unwrap().manifest.as_deref(), Some("m4"));
}

pub fn sync_markers_go_with_the_account(s: &dyn Store) {
    let alice = user(s, "alice");
    let none = SyncWrite::default();
    s.add_entry(alice.id, &entry("x", "1"), &none, NOW).unwrap();
    s.delete_entry(alice.id, "x", &none).unwrap();
    assert_eq!(
        s.changes(alice.id, 1).unwrap().deleted,
        vec!["x".to_string()]
    );
    s.delete_user(alice.id).unwrap();
    let again = user(s, "alice");
    let state = s.changes(again.id, 0).unwrap();
    assert_eq!((state.seq, state.deleted.len()), (0, 0));
}

pub fn sync_concurrent_writes_each_get_their_own_seq(s: &dyn Store) {
    let a = user(s, "alice").id;
    let barrier = Barrier::new(8);
    let seqs: Vec<i64> = thread::scope(|scope| {
        let handles: Vec<_> = (0..8)
            .map(|i| {
                let barrier = &barrier;
                scope.spawn(move || {
                    barrier.wait();
                    let site = format!("site{i}");
                    s.add_entry(a, &entry(&site, "pw"), &SyncWrite::default(), NOW)
                        .unwrap()
                        .seq
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let mut sorted = seqs.clone();
    sorted.sort();
    assert_eq!(sorted, (1..=8).collect::<Vec<_>>());
    assert_eq!(s.changes(a, 0).unwrap().seq, 8);
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
            registrations_are_single_use_and_bound_to_their_name,
            password_changes_take_their_own_registration,
            user_ids_are_never_reused,
            sync_numbers_every_write_and_lists_what_changed,
            sync_base_seq_and_manifest_go_with_the_write,
            sync_markers_go_with_the_account,
            sync_concurrent_writes_each_get_their_own_seq,
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
