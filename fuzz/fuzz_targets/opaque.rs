//! opaque-ke's message decoding with vaultd's `Suite`, and for what decodes,
//! the server step that it feeds, as `src/api/account.rs` runs it; and the
//! login-state seal.
//!
//! Input: a mode byte, then the bytes of one message.
//! - 0 `RegistrationRequest` → `ServerRegistration::start` (`/register`)
//! - 1 `RegistrationUpload` → `ServerRegistration::finish`, its record back
//!   through `ServerRegistration::deserialize` and `ServerLogin::start`
//!   (`/register/finish`, then a login)
//! - 2 `CredentialRequest` → `ServerLogin::start` for a registered user and
//!   for an unknown one (`/login`)
//! - 3 `CredentialFinalization` → `ServerLogin::finish` of a real pending
//!   login (`/login/finish`)
//! - 4 a `ServerLogin` state → `finish` with the valid finalization
//! - 5 a stored `ServerRegistration` record → `ServerLogin::start`
//! - 6 `LoginStateSeal::open` (first byte: length of the login id), and a
//!   seal → open round trip
//! - 7 `CredentialResponse` → the client's `ClientLogin::finish` (what the
//!   `vault` client does with a server's answer)
//! - 8 `ServerSetup::deserialize` (`OPAQUE_SERVER_SETUP` from `.env`)
//!
//! Checks: no panic; what decodes re-encodes to the bytes it came from
//! (opaque-ke ignores trailing bytes, so the prefix); `ServerLogin::finish`
//! succeeds only for the one valid finalization; a seal opens only for its
//! login id.

#![no_main]

use std::sync::OnceLock;

use libfuzzer_sys::fuzz_target;
use opaque_ke::{
    ClientLogin, CredentialFinalization, CredentialRequest, CredentialResponse,
    RegistrationRequest, RegistrationUpload, ServerLogin, ServerLoginParameters,
    ServerRegistration,
};
use vaultd::auth::opaque::{LoginStateSeal, ServerSetup, Suite};
use vaultd_fuzz::{JWT_KEY, login_finish, login_start, register, rng, server_setup};

struct Fixture {
    setup: ServerSetup,
    seal: LoginStateSeal,
    /// alice's stored record.
    record: Vec<u8>,
    /// A valid `credential_request`.
    request: Vec<u8>,
    /// A server login state for alice, and the finalization that ends it.
    state: Vec<u8>,
    finalization: Vec<u8>,
    /// A client waiting for a `credential_response`.
    client: ClientLogin<Suite>,
    /// A valid `registration_request`.
    registration_request: Vec<u8>,
}

fn fixture() -> &'static Fixture {
    static FIXTURE: OnceLock<Fixture> = OnceLock::new();
    FIXTURE.get_or_init(|| {
        let setup = server_setup();
        let record = register(&setup, "alice", b"alice password", 2).record();
        let (client, request) = login_start(b"alice password", 3);
        let start = ServerLogin::start(
            &mut rng(4),
            &setup,
            Some(ServerRegistration::<Suite>::deserialize(&record).unwrap()),
            CredentialRequest::deserialize(&request).unwrap(),
            b"alice",
            ServerLoginParameters::default(),
        )
        .unwrap();
        let finalization = login_finish(
            client.clone(),
            b"alice password",
            &start.message.serialize(),
            5,
        )
        .unwrap();
        let registration_request = register(&setup, "carol", b"carol password", 11).request;
        Fixture {
            seal: LoginStateSeal::new(JWT_KEY),
            state: start.state.serialize().to_vec(),
            setup,
            record,
            request,
            finalization,
            client,
            registration_request,
        }
    })
}

/// Re-encoding gives back the bytes that were decoded.
fn same_prefix(encoded: &[u8], input: &[u8], what: &str) {
    assert!(
        input.len() >= encoded.len() && input[..encoded.len()] == *encoded,
        "{what} does not re-encode to its input"
    );
}

fn login_start_with(
    f: &Fixture,
    record: Option<ServerRegistration<Suite>>,
    request: CredentialRequest<Suite>,
    seed: u64,
) {
    let _ = ServerLogin::start(
        &mut rng(seed),
        &f.setup,
        record,
        request,
        b"alice",
        ServerLoginParameters::default(),
    );
}

fn fixed_request(f: &Fixture) -> CredentialRequest<Suite> {
    CredentialRequest::deserialize(&f.request).unwrap()
}

fuzz_target!(|data: &[u8]| {
    let Some((mode, msg)) = data.split_first() else {
        return;
    };
    let f = fixture();
    match mode % 9 {
        0 => {
            if let Ok(request) = RegistrationRequest::<Suite>::deserialize(msg) {
                same_prefix(&request.serialize(), msg, "RegistrationRequest");
                let _ = ServerRegistration::<Suite>::start(&f.setup, request, b"alice");
            }
        }
        1 => {
            if let Ok(upload) = RegistrationUpload::<Suite>::deserialize(msg) {
                same_prefix(&upload.serialize(), msg, "RegistrationUpload");
                let record = ServerRegistration::finish(upload).serialize().to_vec();
                let stored = ServerRegistration::<Suite>::deserialize(&record)
                    .expect("a record made from an upload decodes");
                assert_eq!(stored.serialize().to_vec(), record);
                login_start_with(f, Some(stored), fixed_request(f), 6);
            }
        }
        2 => {
            if let Ok(request) = CredentialRequest::<Suite>::deserialize(msg) {
                same_prefix(&request.serialize(), msg, "CredentialRequest");
                let record = ServerRegistration::<Suite>::deserialize(&f.record).unwrap();
                login_start_with(f, Some(record), request.clone(), 7);
                login_start_with(f, None, request, 8);
            }
        }
        3 => {
            if let Ok(message) = CredentialFinalization::<Suite>::deserialize(msg) {
                same_prefix(&message.serialize(), msg, "CredentialFinalization");
                let state = ServerLogin::<Suite>::deserialize(&f.state).unwrap();
                let finished = state.finish(message, ServerLoginParameters::default());
                assert_eq!(
                    finished.is_ok(),
                    msg[..f.finalization.len()] == *f.finalization,
                    "ServerLogin::finish disagrees with the one valid finalization"
                );
            }
        }
        4 => {
            if let Ok(state) = ServerLogin::<Suite>::deserialize(msg) {
                same_prefix(&state.serialize(), msg, "ServerLogin");
                let message = CredentialFinalization::deserialize(&f.finalization).unwrap();
                let _ = state.finish(message, ServerLoginParameters::default());
            }
        }
        5 => {
            if let Ok(record) = ServerRegistration::<Suite>::deserialize(msg) {
                same_prefix(&record.serialize(), msg, "ServerRegistration");
                login_start_with(f, Some(record), fixed_request(f), 9);
            }
        }
        6 => {
            let Some((&n, rest)) = msg.split_first() else {
                return;
            };
            let (id, sealed) = rest.split_at(usize::from(n).min(rest.len()));
            // Nobody but the key holder makes a seal that opens.
            assert_eq!(f.seal.open(id, sealed), None, "a forged seal opened");
            let resealed = f.seal.seal(id, sealed);
            assert_eq!(f.seal.open(id, &resealed).as_deref(), Some(sealed));
            let mut other = id.to_vec();
            other.push(0);
            assert_eq!(f.seal.open(&other, &resealed), None);
        }
        7 => {
            if let Ok(response) = CredentialResponse::<Suite>::deserialize(msg) {
                same_prefix(&response.serialize(), msg, "CredentialResponse");
                let _ = login_finish(f.client.clone(), b"alice password", msg, 10);
            }
        }
        _ => {
            if let Ok(setup) = ServerSetup::deserialize(msg) {
                same_prefix(&setup.serialize(), msg, "ServerSetup");
                let request =
                    RegistrationRequest::<Suite>::deserialize(&f.registration_request).unwrap();
                let _ = ServerRegistration::<Suite>::start(&setup, request, b"alice");
            }
        }
    }
});
