//! Unit tests of the vault cryptography (`crypto.rs`), with the format 1
//! test vectors of docs/CRYPTO.md.
use super::*;

fn kek(seed: u8) -> Kek {
    Kek::from_export_key(&[seed; 64])
}

fn flip(blob: &str, byte: usize, bit: u8) -> String {
    let mut b = URL_SAFE_NO_PAD.decode(blob).unwrap();
    b[byte] ^= 1 << bit;
    URL_SAFE_NO_PAD.encode(b)
}

#[test]
fn kek_is_hkdf_sha256_of_the_export_key() {
    // Independent computation: HKDF-Extract with the default (zero) salt,
    // then one Expand block.
    let ikm = [7u8; 64];
    let prk = {
        let mut m = <Hmac<Sha256> as Mac>::new_from_slice(&[0u8; 32]).unwrap();
        m.update(&ikm);
        m.finalize().into_bytes()
    };
    let okm = {
        let mut m = <Hmac<Sha256> as Mac>::new_from_slice(&prk).unwrap();
        m.update(b"vault kek v1");
        m.update(&[1]);
        m.finalize().into_bytes()
    };
    assert_eq!(&Kek::from_export_key(&ikm).0[..], &okm[..]);
}

#[test]
fn vault_key_wrap_round_trip_and_layout() {
    let vk = VaultKey::generate().unwrap();
    let blob = vk.wrap(&kek(1)).unwrap();
    assert_eq!(blob.len(), 98);
    let raw = URL_SAFE_NO_PAD.decode(&blob).unwrap();
    assert_eq!(raw.len(), 1 + 24 + 32 + 16);
    assert_eq!(raw[0], FORMAT_V1);
    let back = VaultKey::unwrap(&blob, &kek(1)).unwrap();
    assert_eq!(*back.key, *vk.key);
    assert_eq!(*back.site_key, *vk.site_key);
    // Random nonces: wrapping twice differs.
    assert_ne!(vk.wrap(&kek(1)).unwrap(), blob);
}

#[test]
fn vault_key_with_the_wrong_kek_fails() {
    let vk = VaultKey::generate().unwrap();
    let blob = vk.wrap(&kek(1)).unwrap();
    assert_eq!(
        VaultKey::unwrap(&blob, &kek(2)).err(),
        Some(CryptoError::Decrypt)
    );
}

#[test]
fn vault_key_tampering_is_detected() {
    let vk = VaultKey::generate().unwrap();
    let blob = vk.wrap(&kek(1)).unwrap();
    for byte in [1, 24, 25, 40, 72] {
        let bad = flip(&blob, byte, 3);
        assert_eq!(
            VaultKey::unwrap(&bad, &kek(1)).err(),
            Some(CryptoError::Decrypt)
        );
    }
    assert_eq!(
        VaultKey::unwrap(&flip(&blob, 0, 1), &kek(1)).err(),
        Some(CryptoError::UnsupportedVersion(3))
    );
    assert_eq!(
        VaultKey::unwrap("not base64!", &kek(1)).err(),
        Some(CryptoError::Malformed)
    );
    assert_eq!(
        VaultKey::unwrap(&blob[..40], &kek(1)).err(),
        Some(CryptoError::Malformed)
    );
    assert_eq!(
        VaultKey::unwrap("", &kek(1)).err(),
        Some(CryptoError::Malformed)
    );
}

#[test]
fn a_field_sealed_under_another_aad_does_not_pass_as_vault_key() {
    let k = kek(1);
    // 32 bytes sealed with the KEK but another AAD.
    let other = seal(&k.0, &[5u8; 32], b"something else").unwrap();
    assert_eq!(
        VaultKey::unwrap(&other, &k).err(),
        Some(CryptoError::Decrypt)
    );
}

#[test]
fn entry_round_trip() {
    let vk = VaultKey::generate().unwrap();
    let e = vk
        .seal_entry(" Mail.Example.org ", Some("alice"), "s3cret ü\0")
        .unwrap();
    assert_eq!(e.site.len(), 43);
    assert_eq!(e.site, vk.site_id("mail.example.org").unwrap());
    let (site, user) = vk.open_username(&e.site, &e.username).unwrap();
    assert_eq!(site, "Mail.Example.org");
    assert_eq!(user.as_deref(), Some("alice"));
    assert_eq!(
        vk.open_password(&e.site, &e.password).unwrap().as_str(),
        "s3cret ü\0"
    );

    let e = vk.seal_entry("x.org", None, "p").unwrap();
    assert_eq!(
        vk.open_username(&e.site, &e.username).unwrap(),
        ("x.org".to_owned(), None)
    );
}

#[test]
fn field_layout_and_aad() {
    let vk = VaultKey::from_bytes(&[3; 32]);
    let hash = vk.site_hash("example.org").unwrap();
    let blob = vk.seal_field(&hash, Field::Password, b"hunter2").unwrap();
    let raw = URL_SAFE_NO_PAD.decode(&blob).unwrap();
    assert_eq!(raw.len(), 1 + 24 + 7 + 16);
    assert_eq!(raw[0], 1);
    // Decrypt by hand with the documented AAD.
    let mut aad = b"vault field v1\0".to_vec();
    aad.extend_from_slice(&hash);
    aad.extend_from_slice(b"\0password");
    let plain = XChaCha20Poly1305::new((&[3u8; 32]).into())
        .decrypt(
            XNonce::from_slice(&raw[1..25]),
            Payload {
                msg: &raw[25..],
                aad: &aad,
            },
        )
        .unwrap();
    assert_eq!(plain, b"hunter2");
}

#[test]
fn site_hash_is_hmac_of_the_normalised_name_under_the_site_key() {
    let vk = VaultKey::from_bytes(&[4; 32]);
    let site_key = hkdf_sha256(&[4; 32], b"site index v1");
    let mut m = <Hmac<Sha256> as Mac>::new_from_slice(&site_key[..]).unwrap();
    m.update(b"mail.example.org");
    let expect: [u8; 32] = m.finalize().into_bytes().into();
    assert_eq!(vk.site_hash("mail.example.org").unwrap(), expect);
    assert_eq!(
        vk.site_id("mail.example.org").unwrap(),
        URL_SAFE_NO_PAD.encode(expect)
    );
}

#[test]
fn field_tampering_is_detected() {
    let vk = VaultKey::generate().unwrap();
    let e = vk.seal_entry("a.org", Some("u"), "pw").unwrap();
    let len = URL_SAFE_NO_PAD.decode(&e.password).unwrap().len();
    for byte in 1..len {
        let bad = flip(&e.password, byte, (byte % 8) as u8);
        assert_eq!(
            vk.open_password(&e.site, &bad).err(),
            Some(CryptoError::Decrypt),
            "byte {byte}"
        );
    }
    let bad = flip(&e.username, 30, 0);
    assert_eq!(
        vk.open_username(&e.site, &bad).err(),
        Some(CryptoError::Decrypt)
    );
}

#[test]
fn swapping_between_sites_is_detected() {
    let vk = VaultKey::generate().unwrap();
    let a = vk.seal_entry("a.org", Some("ua"), "pa").unwrap();
    let b = vk.seal_entry("b.org", Some("ub"), "pb").unwrap();
    assert_eq!(
        vk.open_password(&a.site, &b.password).err(),
        Some(CryptoError::Decrypt)
    );
    assert_eq!(
        vk.open_username(&a.site, &b.username).err(),
        Some(CryptoError::Decrypt)
    );
    assert_eq!(
        vk.open_password(&b.site, &a.password).err(),
        Some(CryptoError::Decrypt)
    );
}

#[test]
fn swapping_between_fields_is_detected() {
    let vk = VaultKey::generate().unwrap();
    let a = vk.seal_entry("a.org", Some("ua"), "pa").unwrap();
    assert_eq!(
        vk.open_password(&a.site, &a.username).err(),
        Some(CryptoError::Decrypt)
    );
    assert_eq!(
        vk.open_username(&a.site, &a.password).err(),
        Some(CryptoError::Decrypt)
    );
}

#[test]
fn site_name_inside_must_match_the_site_hash() {
    // A username field sealed under a.org's hash but naming b.org (which
    // only a client holding the vault key could make) is still refused.
    let vk = VaultKey::generate().unwrap();
    let ha = vk.site_hash("a.org").unwrap();
    let blob = vk.seal_username(&ha, "b.org", None).unwrap();
    let site = URL_SAFE_NO_PAD.encode(ha);
    assert_eq!(
        vk.open_username(&site, &blob).err(),
        Some(CryptoError::SiteMismatch)
    );
}

#[test]
fn another_vault_key_cannot_open() {
    let vk1 = VaultKey::generate().unwrap();
    let vk2 = VaultKey::generate().unwrap();
    let e = vk1.seal_entry("a.org", None, "pw").unwrap();
    assert_ne!(e.site, vk2.site_id("a.org").unwrap());
    assert_eq!(
        vk2.open_password(&e.site, &e.password).err(),
        Some(CryptoError::Decrypt)
    );
}

#[test]
fn site_normalisation() {
    assert_eq!(normalise_site("  Mail.Example.ORG "), "mail.example.org");
    assert_eq!(normalise_site("\tÄBC.de\n"), "äbc.de");
    let vk = VaultKey::generate().unwrap();
    assert_eq!(
        vk.site_id("  Mail.Example.ORG ").unwrap(),
        vk.site_id("mail.example.org").unwrap()
    );
    assert_ne!(
        vk.site_id("mail.example.org").unwrap(),
        vk.site_id("mail.example.com").unwrap()
    );
    assert_eq!(vk.site_id("   ").err(), Some(CryptoError::EmptySite));
}

#[test]
fn length_limit_fits_the_api() {
    let vk = VaultKey::generate().unwrap();
    let long = "x".repeat(MAX_FIELD_PLAINTEXT);
    let e = vk.seal_entry("a.org", None, &long).unwrap();
    assert!(e.password.len() <= 8192);
    let too_long = "x".repeat(MAX_FIELD_PLAINTEXT + 1);
    assert_eq!(
        vk.seal_entry("a.org", None, &too_long).err(),
        Some(CryptoError::TooLong)
    );
}

fn seq<const N: usize>(start: u8) -> [u8; N] {
    std::array::from_fn(|i| start.wrapping_add(i as u8))
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// The test vectors of docs/CRYPTO.md.
#[test]
fn known_answer_vectors() {
    let export_key: [u8; 64] = seq(0x00);
    let kek = Kek::from_export_key(&export_key);
    let vk = VaultKey::from_bytes(&seq(0x40));
    let wrapped = seal_with_nonce(&kek.0, &seq(0x60), &vk.key[..], VAULT_KEY_AAD).unwrap();
    let site_hash = vk.site_hash("  Mail.Example.ORG ").unwrap();
    let user_plain = br#"{"site":"mail.example.org","username":"alice"}"#;
    let user = seal_with_nonce(
        &vk.key,
        &seq(0x80),
        user_plain,
        &field_aad(&site_hash, Field::Username),
    )
    .unwrap();
    let pass = seal_with_nonce(
        &vk.key,
        &seq(0xa0),
        b"hunter2",
        &field_aad(&site_hash, Field::Password),
    )
    .unwrap();
    let got = [
        hex(&kek.0[..]),
        wrapped.clone(),
        hex(&vk.site_key[..]),
        URL_SAFE_NO_PAD.encode(site_hash),
        user.clone(),
        pass.clone(),
    ];
    assert_eq!(got, VECTORS.map(String::from));
    // And they open through the public API.
    assert_eq!(
        *VaultKey::unwrap(&wrapped, &kek).unwrap().key,
        seq::<32>(0x40)
    );
    let site = URL_SAFE_NO_PAD.encode(site_hash);
    assert_eq!(
        vk.open_username(&site, &user).unwrap(),
        ("mail.example.org".to_owned(), Some("alice".to_owned()))
    );
    assert_eq!(vk.open_password(&site, &pass).unwrap().as_str(), "hunter2");
}

const VECTORS: [&str; 6] = [
    "0b09c2a0a219535e7cfffb031a17925d6e82d9d80c598cdeb2faf06414b86c11",
    "AWBhYmNkZWZnaGlqa2xtbm9wcXJzdHV2d-f9eC0Ht4c6aOvI-pQz3UIzm7_cu49PkIBzPrOdl3HirmPVpdTFpkpnAyJfZfaYqA",
    "2cdd4f91d6cfc3004dc3d2c016f6bad095ec393ba64e9d54fdc0484b30885bcd",
    "Sd_LkJwJpJEDc10W33O482d-fFBVSMpTdBWuLRoGSBo",
    "AYCBgoOEhYaHiImKi4yNjo-QkZKTlJWWl3mBBZC0V3tOCOGdcOpBpi3PSqHV9vkKUtv3OMueglugJ3-bA08ayC4uLi0nuOGnmj293UlryplWV-Si8UMX",
    "AaChoqOkpaanqKmqq6ytrq-wsbKztLW2twOvf4wYkOVuB34ltGJG2DVLxqGRbndk",
];

#[test]
fn bad_wire_site_is_malformed() {
    let vk = VaultKey::generate().unwrap();
    let e = vk.seal_entry("a.org", None, "pw").unwrap();
    assert_eq!(
        vk.open_password("a.org", &e.password).err(),
        Some(CryptoError::Malformed)
    );
}
