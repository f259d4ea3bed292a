//! Detection, duplicate planning and the "nothing silently dropped" rule
//! for columns and members a format does not name.

use super::*;
use crate::client::import::write::Existing;

struct NoSecrets;

impl Secrets for NoSecrets {
    fn password(&mut self, _: &str) -> Result<Zeroizing<String>, String> {
        Err("no password here".into())
    }
    fn key_file(&mut self) -> Result<Option<Zeroizing<Vec<u8>>>, String> {
        Ok(None)
    }
}

fn fixture(name: &str) -> Vec<u8> {
    let path = format!(
        "{}/tests/fixtures/import/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read(path).unwrap()
}

#[test]
fn every_fixture_is_detected() {
    for (file, want) in [
        ("bitwarden.json", Format::BitwardenJson),
        ("bitwarden_encrypted_pbkdf2.json", Format::BitwardenJson),
        ("bitwarden.csv", Format::BitwardenCsv),
        ("keepass31.kdbx", Format::Kdbx),
        ("keepass4.kdbx", Format::Kdbx),
        ("keepassxc.csv", Format::KeepassxcCsv),
        ("lastpass.csv", Format::LastpassCsv),
        ("chrome.csv", Format::ChromeCsv),
        ("firefox.csv", Format::FirefoxCsv),
        ("onepassword.1pux", Format::OnePassword1pux),
    ] {
        assert_eq!(detect(&fixture(file), file), Some(want), "{file}");
    }
    assert_eq!(detect(b"hello\n", "x.txt"), None);
    assert_eq!(detect(b"PK\x03\x04garbage", "x.zip"), None);
    assert_eq!(
        detect(
            br#"{"format":"vault-export","version":2,"entries":[]}"#,
            "x"
        ),
        Some(Format::Vault)
    );
    for (f, name) in FORMATS {
        assert_eq!(name.parse::<Format>(), Ok(f));
        assert_eq!(f.to_string(), name);
    }
    assert_eq!("json".parse::<Format>(), Ok(Format::Vault));
    assert!(
        "lastpass"
            .parse::<Format>()
            .unwrap_err()
            .contains("unknown format")
    );
}

/// A column no format names is a custom field, not lost.
#[test]
fn unknown_csv_columns_become_custom_fields() {
    let text = "name,url,username,password,note,passkey_hint\nA,https://a.example,u,p,n,\"hint, \"\"q\"\"\"\n";
    let (items, skipped) = parse(Format::ChromeCsv, text.as_bytes(), &mut NoSecrets)
        .map(|p| (p.items, p.skipped))
        .unwrap();
    assert!(skipped.is_empty());
    let f = &items[0].doc.fields;
    assert_eq!(f.len(), 1);
    assert_eq!(
        (f[0].name.as_str(), f[0].value.as_str()),
        ("passkey_hint", "hint, \"q\"")
    );
}

/// A Bitwarden member this reader does not know is kept as a custom field;
/// an account-restricted export is refused with what to do.
#[test]
fn bitwarden_unknown_members_and_account_restricted() {
    let text = r#"{"encrypted":false,"folders":[],"items":[{"type":1,"name":"A",
        "login":{"username":"u","password":"p"},"newThing":{"x":1},"organizationId":"org-1"}]}"#;
    let p = parse(Format::BitwardenJson, text.as_bytes(), &mut NoSecrets).unwrap();
    let names: Vec<_> = p.items[0]
        .doc
        .fields
        .iter()
        .map(|f| f.name.as_str())
        .collect();
    assert_eq!(names, ["bitwarden newThing", "bitwarden organizationId"]);
    let org = r#"{"encrypted":false,"collections":[{"id":"c1","organizationId":"o","name":"Team, ops"}],
        "items":[{"type":2,"name":"N","secureNote":{"type":0},"organizationId":"o","collectionIds":["c1","c9"]}]}"#;
    let p = parse(Format::BitwardenJson, org.as_bytes(), &mut NoSecrets).unwrap();
    let f: Vec<_> = p.items[0]
        .doc
        .fields
        .iter()
        .map(|f| (f.name.as_str(), f.value.as_str()))
        .collect();
    assert_eq!(
        f,
        [
            ("bitwarden collections", "Team, ops, c9"),
            ("bitwarden organizationId", "o")
        ]
    );
    let restricted = r#"{"encrypted":true,"encKeyValidation_DO_NOT_EDIT":"2.a|b|c","data":"2.a|b|c","items":[]}"#;
    let err = parse(Format::BitwardenJson, restricted.as_bytes(), &mut NoSecrets)
        .err()
        .unwrap();
    assert!(err.contains("account restricted"), "{err}");
}

fn item(place: &str, name: &str) -> Item {
    common::item(
        place.into(),
        "login",
        common::doc("login", name),
        "pw".into(),
    )
}

fn names(plan: &Plan) -> Vec<(String, Option<String>)> {
    plan.writes
        .iter()
        .map(|p| (p.item.doc.name.clone(), p.renamed_from.clone()))
        .collect()
}

#[test]
fn duplicates_are_renamed_skipped_or_overwritten() {
    let vault = [Existing {
        name: "GitHub".into(),
        wire_site: "S".into(),
        version: 4,
    }];
    let items = || {
        vec![
            item("line 2", "github"),
            item("line 3", "GitHub"),
            item("line 4", "GitHub (2)"),
        ]
    };
    let p = plan(items(), &vault, Duplicate::Rename);
    assert_eq!(
        names(&p),
        [
            ("github (2)".into(), Some("github".into())),
            ("GitHub (3)".into(), Some("GitHub".into())),
            ("GitHub (2) (2)".into(), Some("GitHub (2)".into())),
        ]
    );
    assert!(p.skipped.is_empty());

    let p = plan(items(), &vault, Duplicate::Skip);
    assert_eq!(names(&p), [("GitHub (2)".into(), None)]);
    let why: Vec<_> = p
        .skipped
        .iter()
        .map(|s| (s.place.as_str(), s.why.as_str()))
        .collect();
    assert_eq!(
        why,
        [
            (
                "line 2",
                "the name is already taken in the vault (--on-duplicate skip)"
            ),
            (
                "line 3",
                "the name is already taken in the vault (--on-duplicate skip)"
            ),
        ]
    );

    let p = plan(items(), &vault, Duplicate::Overwrite);
    assert_eq!(
        names(&p),
        [("GitHub".into(), None), ("GitHub (2)".into(), None)]
    );
    assert_eq!(p.writes[0].replaces, Some(("S".into(), 4)));
    assert_eq!(p.writes[0].item.place, "line 3");
    assert_eq!(p.skipped.len(), 1);
    assert_eq!(p.skipped[0].place, "line 2");
    assert!(p.skipped[0].why.contains("overwritten by line 3"));
}
