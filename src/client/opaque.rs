//! The client half of OPAQUE (RFC 9807), run exactly as `@serenity-kit/opaque`
//! 1.x runs it, so that an account made with one client works with the other:
//!
//! - the suite [`Suite`]: ristretto255 OPRF, 3DH over ristretto255 with SHA-512;
//! - empty context, no client or server identifiers (they default to the
//!   public keys);
//! - the key-stretching function built explicitly as Argon2id v0x13,
//!   m = 65 536 KiB, t = 3, p = 4, 64-byte output ([`serenity_ksf`]), never
//!   `Argon2::default()`, whose parameters differ and would give other keys;
//! - the password is its UTF-8 bytes, unchanged (no trimming, no Unicode
//!   normalisation).
//!
//! Messages go over the wire as the bytes returned here (the API encodes them
//! as base64url without padding). The 64-byte export key is the root of the
//! vault's key hierarchy (see [`super::crypto`]).

use argon2::{Algorithm, Argon2, Params, Version};
use opaque_ke::{
    ClientLogin, ClientLoginFinishParameters, ClientRegistration,
    ClientRegistrationFinishParameters, CredentialResponse, Identifiers, RegistrationResponse,
    errors::ProtocolError,
};
use rand::rngs::OsRng;
use zeroize::Zeroizing;

use crate::auth::opaque::Suite;

/// Length of the OPAQUE export key (the output size of SHA-512).
pub const EXPORT_KEY_LEN: usize = 64;

/// The 64-byte export key: stable for one password, one account and one
/// server setup; never sent anywhere.
pub type ExportKey = Zeroizing<[u8; EXPORT_KEY_LEN]>;

/// Argon2 memory cost in KiB (64 MiB), as `@serenity-kit/opaque` 1.x.
pub const ARGON2_M_COST: u32 = 65_536;
/// Argon2 iterations, as `@serenity-kit/opaque` 1.x.
pub const ARGON2_T_COST: u32 = 3;
/// Argon2 lanes, as `@serenity-kit/opaque` 1.x.
pub const ARGON2_P_COST: u32 = 4;

/// The key-stretching function of `@serenity-kit/opaque` 1.x: Argon2id v0x13,
/// m = 65 536 KiB, t = 3, p = 4, 64-byte output. (opaque-ke hashes the
/// OPRF output with a 16-byte all-zero salt.)
pub fn serenity_ksf() -> Argon2<'static> {
    let params = Params::new(ARGON2_M_COST, ARGON2_T_COST, ARGON2_P_COST, Some(64))
        .expect("constant Argon2 parameters are valid");
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
}

/// What can go wrong on the client side of OPAQUE.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OpaqueError {
    /// The server's answer does not verify: a wrong password, an unknown
    /// user (the server sends a fake record), or a server that is not the one
    /// the account was registered with.
    InvalidLogin,
    /// The server's message is malformed, or it reflected our own value.
    BadServerMessage,
    /// Something failed inside the library (the key-stretching function, …).
    Internal(String),
}

impl std::fmt::Display for OpaqueError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            OpaqueError::InvalidLogin => {
                f.write_str("the server's OPAQUE response does not verify")
            }
            OpaqueError::BadServerMessage => {
                f.write_str("malformed OPAQUE message from the server")
            }
            OpaqueError::Internal(m) => write!(f, "OPAQUE failed: {m}"),
        }
    }
}

impl std::error::Error for OpaqueError {}

impl From<ProtocolError> for OpaqueError {
    fn from(e: ProtocolError) -> Self {
        match e {
            ProtocolError::InvalidLoginError => OpaqueError::InvalidLogin,
            ProtocolError::SerializationError
            | ProtocolError::SizeError { .. }
            | ProtocolError::ReflectedValueError => OpaqueError::BadServerMessage,
            other => OpaqueError::Internal(format!("{other:?}")),
        }
    }
}

fn export_key_from(bytes: &[u8]) -> ExportKey {
    let mut key = Zeroizing::new([0u8; EXPORT_KEY_LEN]);
    key.copy_from_slice(bytes);
    key
}

/// State kept between the two registration steps (zeroized on drop).
pub struct RegistrationState(ClientRegistration<Suite>);

/// The result of [`finish_registration`].
pub struct RegistrationFinish {
    /// `registration_record` for `/register/finish` (raw bytes).
    pub upload: Vec<u8>,
    /// The export key of this registration.
    pub export_key: ExportKey,
}

/// State kept between the two login steps (zeroized on drop).
pub struct LoginState(ClientLogin<Suite>);

/// The result of a successful [`finish_login`].
pub struct LoginFinish {
    /// `credential_finalization` for `/login/finish` (raw bytes).
    pub credential_finalization: Vec<u8>,
    /// The export key: equal to the one of the registration.
    pub export_key: ExportKey,
    /// The server's static public key (32 bytes), for pinning if wanted.
    pub server_public_key: Vec<u8>,
}

/// Step 1 of registration: returns the state and `registration_request`.
pub fn start_registration(password: &[u8]) -> Result<(RegistrationState, Vec<u8>), OpaqueError> {
    let start = ClientRegistration::<Suite>::start(&mut OsRng, password)?;
    Ok((
        RegistrationState(start.state),
        start.message.serialize().to_vec(),
    ))
}

/// Step 2 of registration: from the server's `registration_response`,
/// returns the `registration_record` and the export key.
pub fn finish_registration(
    state: RegistrationState,
    password: &[u8],
    registration_response: &[u8],
) -> Result<RegistrationFinish, OpaqueError> {
    finish_registration_with(state, password, registration_response, &serenity_ksf())
}

pub(crate) fn finish_registration_with(
    state: RegistrationState,
    password: &[u8],
    registration_response: &[u8],
    ksf: &Argon2<'static>,
) -> Result<RegistrationFinish, OpaqueError> {
    let response = RegistrationResponse::<Suite>::deserialize(registration_response)
        .map_err(|_| OpaqueError::BadServerMessage)?;
    let params = ClientRegistrationFinishParameters::new(Identifiers::default(), Some(ksf));
    let result = state.0.finish(&mut OsRng, password, response, params)?;
    Ok(RegistrationFinish {
        upload: result.message.serialize().to_vec(),
        export_key: export_key_from(&result.export_key),
    })
}

/// Step 1 of login: returns the state and `credential_request`.
pub fn start_login(password: &[u8]) -> Result<(LoginState, Vec<u8>), OpaqueError> {
    let start = ClientLogin::<Suite>::start(&mut OsRng, password)?;
    Ok((LoginState(start.state), start.message.serialize().to_vec()))
}

/// Step 2 of login: from the server's `credential_response`, returns the
/// `credential_finalization` and the export key, or
/// [`OpaqueError::InvalidLogin`] for a wrong password or an unknown user.
pub fn finish_login(
    state: LoginState,
    password: &[u8],
    credential_response: &[u8],
) -> Result<LoginFinish, OpaqueError> {
    finish_login_with(state, password, credential_response, &serenity_ksf())
}

pub(crate) fn finish_login_with(
    state: LoginState,
    password: &[u8],
    credential_response: &[u8],
    ksf: &Argon2<'static>,
) -> Result<LoginFinish, OpaqueError> {
    let response = CredentialResponse::<Suite>::deserialize(credential_response)
        .map_err(|_| OpaqueError::BadServerMessage)?;
    // Empty context (None), no identifiers, the explicit KSF.
    let params = ClientLoginFinishParameters::new(None, Identifiers::default(), Some(ksf));
    let result = state.0.finish(&mut OsRng, password, response, params)?;
    Ok(LoginFinish {
        credential_finalization: result.message.serialize().to_vec(),
        export_key: export_key_from(&result.export_key),
        server_public_key: result.server_s_pk.serialize().to_vec(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use opaque_ke::{
        CredentialFinalization, CredentialRequest, RegistrationRequest, RegistrationUpload,
        ServerLogin, ServerLoginParameters, ServerRegistration, ServerSetup,
    };

    /// A cheap Argon2id so that most tests run fast in debug builds; the
    /// real parameters are exercised by `real_parameters_round_trip`.
    fn cheap_ksf() -> Argon2<'static> {
        Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            Params::new(8, 1, 1, Some(64)).unwrap(),
        )
    }

    struct Server {
        setup: ServerSetup<Suite>,
    }

    impl Server {
        fn new() -> Self {
            Server {
                setup: ServerSetup::<Suite>::new(&mut OsRng),
            }
        }

        fn register_start(&self, username: &[u8], request: &[u8]) -> Vec<u8> {
            let request = RegistrationRequest::<Suite>::deserialize(request).unwrap();
            ServerRegistration::<Suite>::start(&self.setup, request, username)
                .unwrap()
                .message
                .serialize()
                .to_vec()
        }

        fn register_finish(upload: &[u8]) -> Vec<u8> {
            let upload = RegistrationUpload::<Suite>::deserialize(upload).unwrap();
            ServerRegistration::<Suite>::finish(upload)
                .serialize()
                .to_vec()
        }

        fn login_start(
            &self,
            record: Option<&[u8]>,
            username: &[u8],
            request: &[u8],
        ) -> (ServerLogin<Suite>, Vec<u8>) {
            let record = record.map(|r| ServerRegistration::<Suite>::deserialize(r).unwrap());
            let request = CredentialRequest::<Suite>::deserialize(request).unwrap();
            let start = ServerLogin::start(
                &mut OsRng,
                &self.setup,
                record,
                request,
                username,
                ServerLoginParameters::default(),
            )
            .unwrap();
            (start.state, start.message.serialize().to_vec())
        }

        fn login_finish(state: ServerLogin<Suite>, finalization: &[u8]) -> Result<(), ()> {
            let fin = CredentialFinalization::<Suite>::deserialize(finalization).map_err(|_| ())?;
            state
                .finish(fin, ServerLoginParameters::default())
                .map(|_| ())
                .map_err(|_| ())
        }
    }

    fn register(
        server: &Server,
        user: &[u8],
        pw: &[u8],
        ksf: &Argon2<'static>,
    ) -> (Vec<u8>, ExportKey) {
        let (state, request) = start_registration(pw).unwrap();
        let response = server.register_start(user, &request);
        let fin = finish_registration_with(state, pw, &response, ksf).unwrap();
        (Server::register_finish(&fin.upload), fin.export_key)
    }

    fn login(
        server: &Server,
        record: Option<&[u8]>,
        user: &[u8],
        pw: &[u8],
        ksf: &Argon2<'static>,
    ) -> Result<ExportKey, OpaqueError> {
        let (state, request) = start_login(pw).unwrap();
        let (server_state, response) = server.login_start(record, user, &request);
        let fin = finish_login_with(state, pw, &response, ksf)?;
        Server::login_finish(server_state, &fin.credential_finalization)
            .expect("the server accepts the client's finalization");
        assert_eq!(fin.server_public_key.len(), 32);
        Ok(fin.export_key)
    }

    #[test]
    fn real_parameters_round_trip() {
        // The serenity parameters, once: registration, a login with the right
        // password, and the export keys agree.
        let server = Server::new();
        let ksf = serenity_ksf();
        let (record, reg_key) = register(&server, b"alice", b"correct horse", &ksf);
        let login_key = login(&server, Some(&record), b"alice", b"correct horse", &ksf).unwrap();
        assert_eq!(*reg_key, *login_key);
        assert_ne!(*reg_key, [0u8; 64]);
    }

    #[test]
    fn serenity_ksf_parameters() {
        let ksf = serenity_ksf();
        let p = ksf.params();
        assert_eq!(
            (p.m_cost(), p.t_cost(), p.p_cost(), p.output_len()),
            (65_536, 3, 4, Some(64))
        );
        // The explicit parameters differ from Argon2::default()'s.
        let d = Argon2::default();
        assert_ne!(
            (
                d.params().m_cost(),
                d.params().t_cost(),
                d.params().p_cost()
            ),
            (p.m_cost(), p.t_cost(), p.p_cost())
        );
    }

    #[test]
    fn correct_password_logs_in_with_the_same_export_key() {
        let server = Server::new();
        let ksf = cheap_ksf();
        let (record, reg_key) = register(&server, b"bob", "pässword ü".as_bytes(), &ksf);
        let k1 = login(
            &server,
            Some(&record),
            b"bob",
            "pässword ü".as_bytes(),
            &ksf,
        )
        .unwrap();
        let k2 = login(
            &server,
            Some(&record),
            b"bob",
            "pässword ü".as_bytes(),
            &ksf,
        )
        .unwrap();
        assert_eq!(*reg_key, *k1);
        assert_eq!(*k1, *k2);
    }

    #[test]
    fn wrong_password_fails_on_the_client() {
        let server = Server::new();
        let ksf = cheap_ksf();
        let (record, _) = register(&server, b"carol", b"right", &ksf);
        let err = login(&server, Some(&record), b"carol", b"wrong", &ksf).unwrap_err();
        assert_eq!(err, OpaqueError::InvalidLogin);
    }

    #[test]
    fn fake_record_fails_on_the_client() {
        let server = Server::new();
        let ksf = cheap_ksf();
        let err = login(&server, None, b"nobody", b"anything", &ksf).unwrap_err();
        assert_eq!(err, OpaqueError::InvalidLogin);
    }

    #[test]
    fn other_credential_identifier_or_server_fails() {
        let server = Server::new();
        let ksf = cheap_ksf();
        let (record, _) = register(&server, b"dave", b"pw", &ksf);
        // Same record, another credential identifier: another OPRF key.
        let err = login(&server, Some(&record), b"eve", b"pw", &ksf).unwrap_err();
        assert_eq!(err, OpaqueError::InvalidLogin);
        // Another server setup (e.g. a lost OPAQUE_SERVER_SETUP).
        let other = Server::new();
        let err = login(&other, Some(&record), b"dave", b"pw", &ksf).unwrap_err();
        assert_eq!(err, OpaqueError::InvalidLogin);
    }

    #[test]
    fn different_ksf_gives_other_keys() {
        // Registering with one KSF and logging in with another fails: the
        // parameters are part of the protocol.
        let server = Server::new();
        let (record, _) = register(&server, b"frank", b"pw", &cheap_ksf());
        let other = Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            Params::new(16, 1, 1, Some(64)).unwrap(),
        );
        let err = login(&server, Some(&record), b"frank", b"pw", &other).unwrap_err();
        assert_eq!(err, OpaqueError::InvalidLogin);
    }

    #[test]
    fn malformed_server_messages_are_rejected() {
        let (state, _) = start_login(b"pw").unwrap();
        assert_eq!(
            finish_login_with(state, b"pw", &[0u8; 10], &cheap_ksf()).err(),
            Some(OpaqueError::BadServerMessage)
        );
        let (state, _) = start_registration(b"pw").unwrap();
        assert!(matches!(
            finish_registration_with(state, b"pw", &[0xffu8; 64], &cheap_ksf()),
            Err(OpaqueError::BadServerMessage)
        ));
    }

    #[test]
    fn message_sizes_of_a_full_run() {
        // The sizes docs/CRYPTO.md lists for browser implementers.
        let server = Server::new();
        let ksf = cheap_ksf();
        let (state, request) = start_registration(b"pw").unwrap();
        let response = server.register_start(b"u", &request);
        let fin = finish_registration_with(state, b"pw", &response, &ksf).unwrap();
        assert_eq!(
            (request.len(), response.len(), fin.upload.len()),
            (32, 64, 192)
        );
        let (state, request) = start_login(b"pw").unwrap();
        let (_, response) = server.login_start(Some(&fin.upload), b"u", &request);
        let fin = finish_login_with(state, b"pw", &response, &ksf).unwrap();
        assert_eq!(
            (
                request.len(),
                response.len(),
                fin.credential_finalization.len()
            ),
            (96, 320, 64)
        );
    }

    #[test]
    fn message_sizes() {
        // Sizes a browser client sees: registration_request 32, credential_request 96.
        let (_, req) = start_registration(b"pw").unwrap();
        assert_eq!(req.len(), 32);
        let (_, req) = start_login(b"pw").unwrap();
        assert_eq!(req.len(), 96);
    }
}
