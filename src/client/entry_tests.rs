//! Unit tests of entry format 2 (`entry.rs`), with the test vectors of
//! docs/CRYPTO.md.

use super::*;

fn seq<const N: usize>(start: u8) -> [u8; N] {
    std::array::from_fn(|i| start.wrapping_add(i as u8))
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// The entry of the test vectors: its name typed decomposed (U+0301).
fn vector_doc() -> Doc {
    let mut d = Doc::new("login", "  Cafe\u{301}.Example ");
    d.username = Some("alice".into());
    d.urls = vec!["https://café.example/login".into()];
    d.notes = Some("recovery: 1234".into());
    d.totp = Some("JBSWY3DPEHPK3PXP".into());
    d.fields = vec![CustomField {
        name: "PIN".into(),
        value: "0000".into(),
        hidden: true,
    }];
    d.folder = Some("Work".into());
    d.favourite = true;
    d.created = "2026-01-01T00:00:00Z".into();
    d.updated = "2026-01-02T00:00:00Z".into();
    d.history = vec![OldPassword {
        password: "old-pw".into(),
        replaced_at: "2026-01-02T00:00:00Z".into(),
    }];
    d
}

const DOC_PLAINTEXT: &str = "{\"v\":2,\"type\":\"login\",\"name\":\"Cafe\u{301}.Example\",\"username\":\"alice\",\"urls\":[\"https://café.example/login\"],\"notes\":\"recovery: 1234\",\"totp\":\"JBSWY3DPEHPK3PXP\",\"fields\":[{\"name\":\"PIN\",\"value\":\"0000\",\"hidden\":true}],\"folder\":\"Work\",\"favourite\":true,\"created\":\"2026-01-01T00:00:00Z\",\"updated\":\"2026-01-02T00:00:00Z\",\"history\":[{\"password\":\"old-pw\",\"replaced_at\":\"2026-01-02T00:00:00Z\"}],\"trashed_at\":null}";

/// docs/CRYPTO.md "Test vectors (format 2)": computed by this code, pinned
/// here, and opened again through the public functions.
#[test]
fn known_answer_vectors_v2() {
    let key = VaultKey::from_bytes(&seq(0x40));
    let nfc_hash = key.site_hash("café.example").unwrap();
    assert_eq!(key.site_hash("  Cafe\u{301}.EXAMPLE").unwrap(), nfc_hash);
    let v1_hash = key.site_hash_v1("Cafe\u{301}.Example").unwrap();
    assert_ne!(v1_hash, nfc_hash, "format 1 hashed decomposed names apart");

    let mut doc = vector_doc();
    assert_eq!(serde_json::to_string(&doc).unwrap(), DOC_PLAINTEXT);
    assert_eq!(DOC_PLAINTEXT.len(), 398);
    let sealed = seal_with_nonces(&key, &mut doc, "hunter2", seq(0xc0), seq(0xe0)).unwrap();
    let got = [
        hex(&nfc_hash),
        URL_SAFE_NO_PAD.encode(nfc_hash),
        URL_SAFE_NO_PAD.encode(v1_hash),
        sealed.username.clone(),
        sealed.password.clone(),
    ];
    assert_eq!(got, VECTORS.map(String::from));

    let opened = open(
        &key,
        &sealed.site,
        Some(&sealed.username),
        &sealed.password,
        "",
    )
    .unwrap();
    assert_eq!(opened.format, 2);
    assert_eq!(opened.password.as_str(), "hunter2");
    assert_eq!(opened.doc, vector_doc_trimmed());
}

fn vector_doc_trimmed() -> Doc {
    let mut d = vector_doc();
    d.name = "Cafe\u{301}.Example".into();
    d
}

const VECTORS: [&str; 5] = [
    "85412b6ac7dac364201444da3d5b4d0522998bf972563f46e1bfe634d560d595",
    "hUErasfaw2QgFETaPVtNBSKZi_lyVj9G4b_mNNVg1ZU",
    "_FmMlm7xmmCLYMj_3sZ65CPzZaIQyqVN-R-9YeJCo0E",
    "AsDBwsPExcbHyMnKy8zNzs_Q0dLT1NXW1yFzpMjIxPOnJvNXF7wSOwGW5QxOKfQsOb760WxqyknMoIx3Mb_lJAUjhzMvYf8uPe7xl_C1VoaUwFUOUlKpmtj-QIHSfdF1QSK6kpJVvBnPYIEOlMNLGMxqodboc3rRuAmEDRBLj718enolcISzbYwQqwl4X-CdT-ZMdPfj00HdtjWqZfxbC6aPcB7Xtsg3wiSWo-54Vc5-uFMQJT9Ecljkwj8MAc4NUzM1P3bHZzjT7GKbeGMwQHwpWpSYpwzZTq8ziZlC7uQt_kbx2dXkpcQH6BsodSPGW7eAMxDxtWJGnlTpLlhMdwqRyIOlafQpph74ge0YtN_77QMN3jYSGkjxWVjSrzYpNFOwvo0lQVPJEjK6pvUH-kJJ1GWkiT4_w8sTGV6Gwp81IvjIiwv3aN7wDFYiAPcV3tayL-rtgRZzb3kY6qcGlelpgliA8xtmm9fwbs-fCq0btXPjhxe066OnutJm3QAtifUTSigyVw2o1HfezBtspM93_TqHwwHXWBM_8eae61CKCnWZSBvqOduwtVobq5qTiydM3ZplkA",
    "AuDh4uPk5ebn6Onq6-zt7u_w8fLz9PX29_eOJUbe6fZbo9Kww6BICvGD1zq2tacEzOjwHpg3drFUGBceDE1Y",
];

#[test]
fn unknown_members_are_kept_and_order_is_free() {
    let key = VaultKey::from_bytes(&seq(0x40));
    let text = r#"{"future":{"x":1},"name":"a.org","type":"card","v":2,"card":{"number":"4111","extra":1},"pinned":true}"#;
    let doc: Doc = serde_json::from_str(text).unwrap();
    assert_eq!(doc.kind, "card");
    assert_eq!(doc.card.as_ref().unwrap().number.as_deref(), Some("4111"));
    assert_eq!(doc.extra.get("pinned"), Some(&serde_json::json!(true)));
    let mut doc = doc;
    let sealed = seal(&key, &mut doc, "").unwrap();
    let back = open(
        &key,
        &sealed.site,
        Some(&sealed.username),
        &sealed.password,
        "",
    )
    .unwrap();
    assert_eq!(
        back.doc.extra.get("future"),
        Some(&serde_json::json!({"x": 1}))
    );
    assert_eq!(back.password.as_str(), "");
}

#[test]
fn fields_stay_bound_to_entry_field_and_format() {
    let key = VaultKey::from_bytes(&seq(0x40));
    let a = seal(&key, &mut Doc::new("login", "a.org"), "pw-a").unwrap();
    let b = seal(&key, &mut Doc::new("login", "b.org"), "pw-b").unwrap();
    // Swapped between entries, between fields: refused.
    assert_eq!(
        open(&key, &a.site, Some(&b.username), &a.password, "").err(),
        Some(CryptoError::Decrypt)
    );
    assert_eq!(
        open(&key, &a.site, Some(&a.username), &b.password, "").err(),
        Some(CryptoError::Decrypt)
    );
    assert_eq!(
        open(&key, &a.site, Some(&a.password), &a.username, "").err(),
        Some(CryptoError::Decrypt)
    );
    // A format 1 password blob beside a format 2 document: refused.
    let hash = key.site_hash("a.org").unwrap();
    let v1_pw = key.seal_field(&hash, Field::Password, b"pw-a").unwrap();
    assert_eq!(
        open(&key, &a.site, Some(&a.username), &v1_pw, "").err(),
        Some(CryptoError::UnsupportedVersion(1))
    );
}

#[test]
fn format_1_entries_read_as_logins() {
    let key = VaultKey::from_bytes(&seq(0x40));
    let old = key
        .seal_entry("Shop.Example", Some("bob"), "v1-pw")
        .unwrap();
    let opened = open(
        &key,
        &old.site,
        Some(&old.username),
        &old.password,
        "2025-05-05T00:00:00Z",
    )
    .unwrap();
    assert_eq!(opened.format, 1);
    assert_eq!(
        (
            opened.doc.kind.as_str(),
            opened.doc.name.as_str(),
            opened.doc.username.as_deref()
        ),
        ("login", "Shop.Example", Some("bob"))
    );
    assert_eq!(opened.doc.updated, "2025-05-05T00:00:00Z");
    assert_eq!(opened.password.as_str(), "v1-pw");
}

#[test]
fn limits() {
    let key = VaultKey::from_bytes(&seq(0x40));
    let mut d = Doc::new("note", "big.org");
    d.notes = Some("x".repeat(MAX_DOC_PLAINTEXT));
    assert!(matches!(
        seal(&key, &mut d, ""),
        Err(EntryError::TooLarge { .. })
    ));
    // Just within the limit: the blob is exactly the API's 32 768 characters.
    let mut d = Doc::new("note", "big.org");
    let base = serde_json::to_vec(&d).unwrap().len() + 2; // the two quotes of a string
    d.notes = Some("x".repeat(MAX_DOC_PLAINTEXT - base + 4)); // "null" → "\"x…\""
    let s = seal(&key, &mut d, "").unwrap();
    assert_eq!(s.username.len(), 32_768);
    // History goes first when it does not fit.
    let mut d = Doc::new("login", "h.org");
    d.notes = Some("n".repeat(MAX_DOC_PLAINTEXT - 2000));
    for _ in 0..MAX_HISTORY {
        d.push_history(&"p".repeat(300));
    }
    assert_eq!(d.history.len(), MAX_HISTORY);
    seal(&key, &mut d, "pw").unwrap();
    assert!(
        d.history.len() < MAX_HISTORY && !d.history.is_empty(),
        "{}",
        d.history.len()
    );
    assert!(matches!(
        seal(&key, &mut Doc::new("login", "a\nb"), "pw"),
        Err(EntryError::ControlCharacters("name"))
    ));
    assert!(matches!(
        seal(
            &key,
            &mut Doc::new("login", "ok"),
            &"p".repeat(MAX_SECRET_PLAINTEXT)
        ),
        Err(EntryError::TooLarge {
            what: "password",
            ..
        })
    ));
}
