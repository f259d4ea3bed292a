//! Fixtures shared by the fuzz targets: a deterministic OPAQUE server setup,
//! and the client half of OPAQUE with a cheap key-stretching function (the
//! server never runs it, so its cost is irrelevant to what is fuzzed and only
//! slows the fixtures down).

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use opaque_ke::{
    ClientLogin, ClientLoginFinishParameters, ClientRegistration,
    ClientRegistrationFinishParameters, CredentialResponse, Identifiers, ServerRegistration,
};
use rand::SeedableRng;
use rand::rngs::StdRng;
use vaultd::auth::opaque::{ServerSetup, Suite};

// The test kit's key stretching, the same file as the tests' and benchmarks'.
#[path = "../../tests/common/ksf.rs"]
mod ksf;
pub use ksf::cheap_ksf;

/// The `JWT_KEY` of every fixture (HS256 key and login-state seal).
pub const JWT_KEY: &[u8] = b"vaultd-fuzz-jwt-key-0123456789abcdef";

pub fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// A seeded CSPRNG, so that fixtures are the same on every run.
pub fn rng(seed: u64) -> StdRng {
    StdRng::seed_from_u64(seed)
}

/// The fixed `OPAQUE_SERVER_SETUP` of every target.
pub fn server_setup() -> ServerSetup {
    ServerSetup::new(&mut rng(1))
}

/// The client's two registration messages, as a real client sends them.
pub struct Registration {
    /// `registration_request` (32 bytes).
    pub request: Vec<u8>,
    /// `registration_record` (192 bytes).
    pub upload: Vec<u8>,
}

impl Registration {
    /// The record the server stores for this registration
    /// (`ServerRegistration::finish(upload).serialize()`).
    pub fn record(&self) -> Vec<u8> {
        let upload = opaque_ke::RegistrationUpload::<Suite>::deserialize(&self.upload)
            .expect("the fixture's upload parses");
        ServerRegistration::finish(upload).serialize().to_vec()
    }
}

/// Runs both halves of an OPAQUE registration of `username`.
pub fn register(setup: &ServerSetup, username: &str, password: &[u8], seed: u64) -> Registration {
    let mut rng = rng(seed);
    let start = ClientRegistration::<Suite>::start(&mut rng, password).expect("client start");
    let response =
        ServerRegistration::<Suite>::start(setup, start.message.clone(), username.as_bytes())
            .expect("server start");
    let ksf = cheap_ksf();
    let finish = start
        .state
        .finish(
            &mut rng,
            password,
            response.message,
            ClientRegistrationFinishParameters::new(Identifiers::default(), Some(&ksf)),
        )
        .expect("client finish");
    Registration {
        request: start.message.serialize().to_vec(),
        upload: finish.message.serialize().to_vec(),
    }
}

/// The first login message (`credential_request`, 96 bytes) and the client
/// state to finish it with.
pub fn login_start(password: &[u8], seed: u64) -> (ClientLogin<Suite>, Vec<u8>) {
    let start = ClientLogin::<Suite>::start(&mut rng(seed), password).expect("client login");
    (start.state, start.message.serialize().to_vec())
}

/// The `credential_finalization` (64 bytes) for a server's
/// `credential_response`, or `None` when the password is wrong.
pub fn login_finish(
    state: ClientLogin<Suite>,
    password: &[u8],
    credential_response: &[u8],
    seed: u64,
) -> Option<Vec<u8>> {
    let response = CredentialResponse::<Suite>::deserialize(credential_response).ok()?;
    let ksf = cheap_ksf();
    let finish = state
        .finish(
            &mut rng(seed),
            password,
            response,
            ClientLoginFinishParameters::new(None, Identifiers::default(), Some(&ksf)),
        )
        .ok()?;
    Some(finish.message.serialize().to_vec())
}

/// A scratch directory for a target's database: on tmpfs when there is one
/// (SQLite runs with `synchronous=FULL`; an fsync per write would make the
/// fuzzer crawl), named after this process. libFuzzer leaves by `exit()`, so
/// nothing removes it then: the directories of processes that are gone are
/// removed here instead.
pub fn scratch_dir(target: &str) -> std::path::PathBuf {
    let base = std::path::Path::new("/dev/shm");
    let base = if base.is_dir() {
        base.to_path_buf()
    } else {
        std::env::temp_dir()
    };
    let prefix = format!("vaultd-fuzz-{target}-");
    if let Ok(entries) = std::fs::read_dir(&base) {
        for entry in entries.flatten() {
            let name = entry.file_name();
            let Some(pid) = name.to_str().and_then(|n| n.strip_prefix(&prefix)) else {
                continue;
            };
            if pid.parse::<u32>().is_ok() && !std::path::Path::new("/proc").join(pid).exists() {
                let _ = std::fs::remove_dir_all(entry.path());
            }
        }
    }
    let dir = base.join(format!("{prefix}{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch directory");
    dir
}
