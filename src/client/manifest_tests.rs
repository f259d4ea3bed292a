//! Unit tests of the manifest: the test vectors of docs/CRYPTO.md
//! ("Manifest") and every way the check must fail.

use super::*;
use crate::client::crypto::VaultKey;

fn seq<const N: usize>(start: u8) -> [u8; N] {
    std::array::from_fn(|i| start + i as u8)
}

fn entry(site: &str, version: i64, username: Option<&str>, password: &str) -> WireEntry {
    WireEntry {
        site: site.to_owned(),
        username: username.map(str::to_owned),
        password: password.to_owned(),
        version,
        updated_at: "2026-01-01T00:00:00Z".to_owned(),
    }
}

/// The entries of the vectors, deliberately not in site order.
fn vector_entries() -> Vec<WireEntry> {
    vec![
        entry("é", 9, Some(""), "p\u{0}q"),
        entry(
            "Sd_LkJwJpJEDc10W33O482d-fFBVSMpTdBWuLRoGSBo",
            2,
            Some(
                "AYCBgoOEhYaHiImKi4yNjo-QkZKTlJWWl3mBBZC0V3tOCOGdcOpBpi3PSqHV9vkKUtv3OMueglugJ3-bA08ayC4uLi0nuOGnmj293UlryplWV-Si8UMX",
            ),
            "AaChoqOkpaanqKmqq6ytrq-wsbKztLW2twOvf4wYkOVuB34ltGJG2DVLxqGRbndk",
        ),
        entry("b", 1, None, "x"),
    ]
}

fn key() -> ManifestKey {
    ManifestKey::of(&VaultKey::from_bytes(&seq(0x40)))
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

const KEY_HEX: &str = "0645080ce07bf8e91472b082167ed643024f9c30a18aeedb39ea2fa4fe9ebc9c";
const EMPTY_DIGEST_HEX: &str = "4bbfd17449d661bf94d8f571f58fe14e1c0741d8448528e55f6e6d211738bd62";
const DIGEST_HEX: &str = "a10c1ed71afb450a29a6d1dd53969fd12d808042165df25f77f25cdec832d7f8";
const SEALED: &str = "AcDBwsPExcbHyMnKy8zNzs_Q0dLT1NXW10F-O4X1vSvnHwJ5EbC5OuoDWS07Q0praeTd-RlTN14GYGGo3XEGykbPgY2b8CDDkbmgTEeewhlkv3rCHLKnSWQ";

#[test]
fn known_answer_vectors() {
    assert_eq!(hex(key().as_bytes()), KEY_HEX);
    assert_eq!(hex(&digest([])), EMPTY_DIGEST_HEX);
    let entries = vector_entries();
    assert_eq!(hex(&digest(&entries)), DIGEST_HEX);
    let m = Manifest::of(7, &entries);
    assert_eq!(m.count, 3);
    let sealed = m.seal_with_nonce(&key(), &seq(0xc0));
    assert_eq!(sealed, SEALED);
    assert_eq!(sealed.len(), 119);
    assert_eq!(Manifest::open(&sealed, &key()), Some(m));
}

/// Runs the check of `entries` at `seq` against a manifest of `sealed_over`
/// at `sealed_seq`, with `seen` remembered.
fn verdict(
    sealed_over: &[WireEntry],
    sealed_seq: i64,
    entries: &[WireEntry],
    seq: i64,
    seen: i64,
) -> Result<Option<Manifest>, Mismatch> {
    let blob = Manifest::of(sealed_seq, sealed_over).seal(&key()).unwrap();
    let all: Vec<&WireEntry> = entries.iter().collect();
    check(&key(), seq, &all, Some(&blob), seen)
}

#[test]
fn a_matching_vault_passes_in_any_order() {
    let entries = vector_entries();
    let mut shuffled = entries.clone();
    shuffled.reverse();
    let m = verdict(&entries, 7, &shuffled, 7, 7).unwrap().unwrap();
    assert_eq!((m.seq, m.count), (7, 3));
    // A never-written vault needs no manifest.
    assert_eq!(check(&key(), 0, &[], None, 0), Ok(None));
}

#[test]
fn every_tampering_fails() {
    let good = vector_entries();
    let manifest_seq = 7;
    let mut dropped = good.clone();
    dropped.remove(1);
    assert_eq!(
        verdict(&good, 7, &dropped, 7, 0),
        Err(Mismatch::EntryMissing {
            missing: 1,
            manifest_seq
        })
    );
    let mut extra = good.clone();
    extra.push(entry("zz", 1, None, "y"));
    assert_eq!(
        verdict(&good, 7, &extra, 7, 0),
        Err(Mismatch::EntryAdded {
            added: 1,
            manifest_seq
        })
    );
    // An older version of an entry, an altered blob of either field, and a
    // username that became null: each is a change.
    let changes: [fn(&mut WireEntry); 5] = [
        |e| e.version -= 1,
        |e| e.password.push('A'),
        |e| e.username = Some("other".into()),
        |e| e.username = None,
        |e| e.site = "c".into(),
    ];
    for change in changes {
        let mut altered = good.clone();
        change(&mut altered[0]);
        assert_eq!(
            verdict(&good, 7, &altered, 7, 0),
            Err(Mismatch::EntryChanged { manifest_seq })
        );
    }
    // updated_at is the server's clock: not bound.
    let mut touched = good.clone();
    touched[0].updated_at = "2030-01-01T00:00:00Z".into();
    assert!(verdict(&good, 7, &touched, 7, 0).is_ok());
}

#[test]
fn older_vaults_and_manifests_fail() {
    let good = vector_entries();
    // The whole vault rolled back, its manifest with it.
    assert_eq!(
        verdict(&good, 7, &good, 7, 9),
        Err(Mismatch::VaultOlder { seen: 9, served: 7 })
    );
    // seq lowered under its manifest.
    assert_eq!(
        verdict(&good, 7, &good, 6, 0),
        Err(Mismatch::VaultOlder { seen: 7, served: 6 })
    );
    // An older manifest put back, seq kept.
    assert_eq!(
        verdict(&good, 7, &good, 9, 8),
        Err(Mismatch::VaultOlder { seen: 8, served: 7 })
    );
    // seq moved on without a manifest (a client that keeps none).
    assert_eq!(
        verdict(&good, 7, &good, 8, 7),
        Err(Mismatch::SeqAhead {
            manifest_seq: 7,
            seq: 8
        })
    );
}

#[test]
fn missing_and_foreign_manifests_fail() {
    let good = vector_entries();
    let all: Vec<&WireEntry> = good.iter().collect();
    assert_eq!(
        check(&key(), 3, &all, None, 0),
        Err(Mismatch::ManifestMissing { seq: 3 })
    );
    assert_eq!(
        check(&key(), 1, &[], None, 0),
        Err(Mismatch::ManifestMissing { seq: 1 })
    );
    let other = ManifestKey::of(&VaultKey::from_bytes(&seq(0x41)));
    let foreign = Manifest::of(7, &good).seal(&other).unwrap();
    let mut flipped = Manifest::of(7, &good).seal(&key()).unwrap().into_bytes();
    flipped[60] = if flipped[60] == b'A' { b'B' } else { b'A' };
    let flipped = String::from_utf8(flipped).unwrap();
    let short = Manifest::of(7, &good).seal(&key()).unwrap()[..100].to_owned();
    for blob in [foreign.as_str(), &flipped, &short, "not base64!", "AQ"] {
        assert_eq!(
            check(&key(), 7, &all, Some(blob), 0),
            Err(Mismatch::ManifestUnreadable),
            "{blob}"
        );
    }
}

#[test]
fn the_encoding_is_unambiguous() {
    // Bytes moved between neighbouring fields, or a null username against
    // an empty one, give different digests.
    let pairs = [
        (
            entry("ab", 1, Some("c"), "d"),
            entry("a", 1, Some("bc"), "d"),
        ),
        (
            entry("a", 1, Some("bc"), "d"),
            entry("a", 1, Some("b"), "cd"),
        ),
        (entry("a", 1, None, "d"), entry("a", 1, Some(""), "d")),
    ];
    for (x, y) in pairs {
        assert_ne!(digest([&x]), digest([&y]));
    }
    // One entry of two, or two entries of one.
    let one = [entry("a", 1, None, "b")];
    let two = [entry("a", 1, None, "b"), entry("c", 1, None, "d")];
    assert_ne!(digest(&one), digest(&two));
}

#[test]
fn messages_are_one_line_and_point_at_reseal() {
    let all = [
        Mismatch::EntryMissing {
            missing: 2,
            manifest_seq: 4,
        },
        Mismatch::EntryChanged { manifest_seq: 4 },
        Mismatch::EntryAdded {
            added: 1,
            manifest_seq: 4,
        },
        Mismatch::VaultOlder { seen: 5, served: 3 },
        Mismatch::SeqAhead {
            manifest_seq: 4,
            seq: 5,
        },
        Mismatch::ManifestMissing { seq: 2 },
        Mismatch::ManifestUnreadable,
    ];
    for m in all {
        let text = m.to_string();
        assert!(!text.contains('\n'), "{text}");
        assert!(text.contains("vault verify --reseal"), "{text}");
    }
}
