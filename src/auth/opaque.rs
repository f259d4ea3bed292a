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
