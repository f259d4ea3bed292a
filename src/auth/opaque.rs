//! The OPAQUE configuration shared by server and client: RFC 9807,
//! ristretto255-SHA512, exactly as `@serenity-kit/opaque` 1.x runs it.

use opaque_ke::CipherSuite;

/// ristretto255 OPRF, 3DH over ristretto255 with SHA-512, Argon2id stretching.
///
/// The server never runs the key-stretching function; the client must pass
/// [`serenity_ksf`](crate::client::opaque::serenity_ksf) explicitly, because
/// `Argon2::default()` differs from serenity's.
pub struct Suite;

impl CipherSuite for Suite {
    type OprfCs = opaque_ke::Ristretto255;
    type KeyExchange = opaque_ke::TripleDh<opaque_ke::Ristretto255, sha2::Sha512>;
    type Ksf = argon2::Argon2<'static>;
}

pub type ServerSetup = opaque_ke::ServerSetup<Suite>;

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use hmac::{Hmac, Mac};
use rand::RngCore;
use sha2::Sha256;

/// Seals the server's login state between `/login` and `/login/finish`.
///
/// That state holds the session key and the MAC the client must send to
/// finish. Stored in the clear, anyone who could read the `pending_logins`
/// table for a minute could finish a login they started themselves, for any
/// account, and get a token. Sealed under a key derived from `JWT_KEY` (which
/// is in `.env`, not the database), and bound to its `login_id`, the table is
/// worthless on its own.
pub struct LoginStateSeal {
    cipher: XChaCha20Poly1305,
}

impl LoginStateSeal {
    pub fn new(jwt_key: &[u8]) -> Self {
        let mut mac =
            <Hmac<Sha256> as Mac>::new_from_slice(jwt_key).expect("HMAC takes any key length");
        mac.update(b"vaultd login state v1");
        let key = mac.finalize().into_bytes();
        LoginStateSeal {
            cipher: XChaCha20Poly1305::new(&key),
        }
    }

    /// nonce (24) || ciphertext || tag (16).
    pub fn seal(&self, login_id: &[u8], state: &[u8]) -> Vec<u8> {
        let mut nonce = [0u8; 24];
        rand::rngs::OsRng.fill_bytes(&mut nonce);
        let sealed = self
            .cipher
            .encrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: state,
                    aad: login_id,
                },
            )
            .expect("XChaCha20-Poly1305 encryption of a short message cannot fail");
        [nonce.as_slice(), &sealed].concat()
    }

    /// `None` when the bytes were not sealed by this key for this login.
    pub fn open(&self, login_id: &[u8], sealed: &[u8]) -> Option<Vec<u8>> {
        if sealed.len() < 24 {
            return None;
        }
        let (nonce, ciphertext) = sealed.split_at(24);
        self.cipher
            .decrypt(
                XNonce::from_slice(nonce),
                Payload {
                    msg: ciphertext,
                    aad: login_id,
                },
            )
            .ok()
    }
}

/// Random bytes after the username in a credential identifier (API.md 1.1
/// asks for at least 16).
const CREDENTIAL_SUFFIX_LEN: usize = 32;

/// OPAQUE credential identifiers (API.md 1.1, Usernames).
///
/// The OPRF key of an account is derived from the server's seed and the
/// credential identifier. With the bare username (1.0), anyone could call
/// `/register` for a name not yet taken, keep the OPRF evaluations of their
/// guesses, and test them offline against one `/login` after the real
/// registration. A fresh random suffix per registration and per password
/// change makes every such evaluation useless; an unknown name gets a
/// suffix derived from a server secret, so that its `/login` answers are
/// repeatable and shaped like an account's.
pub struct CredentialIds {
    unknown_key: [u8; 32],
}

impl CredentialIds {
    pub fn new(jwt_key: &[u8]) -> Self {
        let mut mac =
            <Hmac<Sha256> as Mac>::new_from_slice(jwt_key).expect("HMAC takes any key length");
        mac.update(b"vaultd unknown credential id v1");
        CredentialIds {
            unknown_key: mac.finalize().into_bytes().into(),
        }
    }

    /// A new identifier for a registration or a password change.
    pub fn fresh(&self, username: &str) -> Vec<u8> {
        let mut suffix = [0u8; CREDENTIAL_SUFFIX_LEN];
        rand::rngs::OsRng.fill_bytes(&mut suffix);
        [username.as_bytes(), &suffix].concat()
    }

    /// The stable identifier `/login` uses for a name without an account.
    pub fn unknown(&self, username: &str) -> Vec<u8> {
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(&self.unknown_key)
            .expect("HMAC takes any key length");
        mac.update(username.as_bytes());
        [username.as_bytes(), &mac.finalize().into_bytes()].concat()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credential_ids_are_fresh_for_accounts_and_stable_for_unknown_names() {
        let ids = CredentialIds::new(&[7u8; 40]);
        let (a, b) = (ids.fresh("alice"), ids.fresh("alice"));
        assert_ne!(a, b);
        assert!(a.starts_with(b"alice") && a.len() == 5 + CREDENTIAL_SUFFIX_LEN);
        assert_eq!(ids.unknown("bob"), ids.unknown("bob"));
        assert_eq!(ids.unknown("bob").len(), 3 + CREDENTIAL_SUFFIX_LEN);
        assert_ne!(
            ids.unknown("bob"),
            CredentialIds::new(&[8u8; 40]).unknown("bob")
        );
    }

    #[test]
    fn sealed_state_opens_only_for_its_login_and_key() {
        let seal = LoginStateSeal::new(b"k".repeat(40).as_slice());
        let sealed = seal.seal(b"login-1", b"state bytes");
        assert!(!sealed.windows(5).any(|w| w == b"state"));
        assert_eq!(
            seal.open(b"login-1", &sealed).as_deref(),
            Some(&b"state bytes"[..])
        );
        assert_eq!(seal.open(b"login-2", &sealed), None);
        let other = LoginStateSeal::new(b"x".repeat(40).as_slice());
        assert_eq!(other.open(b"login-1", &sealed), None);
        let mut flipped = sealed.clone();
        flipped[30] ^= 1;
        assert_eq!(seal.open(b"login-1", &flipped), None);
        assert_eq!(seal.open(b"login-1", &sealed[..10]), None);
    }
}
