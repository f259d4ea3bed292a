//! Writes the committed seed corpus: `cargo run --example make_seeds` in
//! `fuzz/` (plain cargo, no sanitizer). Deterministic: the OPAQUE messages
//! come from the fixtures' seeded RNG, so running it again rewrites the same
//! bytes.

use std::path::Path;

use opaque_ke::{CredentialRequest, ServerLogin, ServerLoginParameters, ServerRegistration};
use vaultd::auth::opaque::Suite;
use vaultd_fuzz::{login_finish, login_start, register, rng, server_setup};

fn write(target: &str, name: &str, bytes: &[u8]) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("corpus")
        .join(target);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join(name), bytes).unwrap();
}

/// Calls for the `routes` target: `[route][who]body`, joined by 0xFF.
fn calls(calls: &[(&str, char, &str)]) -> Vec<u8> {
    const ROUTES: &str = "ABCDEFGHIJKLM";
    let paths = [
        "/health",
        "/register",
        "/register/finish",
        "/login",
        "/login/finish",
        "/logout",
        "/account/password",
        "/account/password/finish",
        "/account/delete",
        "/add",
        "/get",
        "/change",
        "/delete",
    ];
    let mut out = Vec::new();
    for (i, (path, who, body)) in calls.iter().enumerate() {
        if i > 0 {
            out.push(0xFF);
        }
        let index = paths.iter().position(|p| p == path).expect("a route");
        out.push(ROUTES.as_bytes()[index]);
        out.push(*who as u8);
        out.extend_from_slice(body.as_bytes());
    }
    out
}

fn routes() {
    // '0' no caller, '1' alice (fresh token), '3' bob; open signups.
    // 'P' (0x50: bit 6 set) no caller with closed signups.
    write(
        "routes",
        "register",
        &calls(&[
            (
                "/register",
                '0',
                r#"{"username":" Dave ","registration_request":"$RREQ"}"#,
            ),
            (
                "/register/finish",
                '0',
                r#"{"username":"dave","registration_record":"$RREC","vault_key":"k"}"#,
            ),
            (
                "/register",
                '0',
                r#"{"username":"dave","registration_request":"$RREQ"}"#,
            ),
        ]),
    );
    write(
        "routes",
        "register-invite",
        &calls(&[
            (
                "/register",
                'P',
                r#"{"username":"erin","registration_request":"$RREQ","invite":"$INVITE"}"#,
            ),
            (
                "/register/finish",
                'P',
                r#"{"username":"erin","registration_record":"$RREC","invite":"$INVITE","vault_key":null}"#,
            ),
            (
                "/register/finish",
                'P',
                r#"{"username":"frank","registration_record":"$RREC","invite":"$INVITE"}"#,
            ),
        ]),
    );
    write(
        "routes",
        "login",
        &calls(&[
            (
                "/login",
                '0',
                r#"{"username":"alice","credential_request":"$CREQ"}"#,
            ),
            (
                "/login",
                '0',
                r#"{"username":"nobody","credential_request":"$CREQ"}"#,
            ),
            (
                "/login/finish",
                '0',
                r#"{"login_id":"$LOGIN","credential_finalization":"$CFIN"}"#,
            ),
            (
                "/login/finish",
                '0',
                r#"{"login_id":"$LOGIN2","credential_finalization":"$CFIN"}"#,
            ),
            (
                "/login/finish",
                '0',
                r#"{"login_id":"$LOGIN","credential_finalization":"$CFIN"}"#,
            ),
        ]),
    );
    write(
        "routes",
        "vault",
        &calls(&[
            (
                "/add",
                '1',
                r#"{"site":"new\u0000site","password":"p","username":null}"#,
            ),
            ("/get", '1', "{}"),
            ("/get", '1', r#"{"site":"example.com"}"#),
            (
                "/change",
                '1',
                r#"{"site":"example.com","password":"q","username":null,"version":1}"#,
            ),
            (
                "/change",
                '1',
                r#"{"site":"example.com","username":"u","version":1}"#,
            ),
            ("/delete", '1', r#"{"site":"new\u0000site"}"#),
            ("/get", '3', r#"{"site":"example.com"}"#),
        ]),
    );
    write(
        "routes",
        "account",
        &calls(&[
            (
                "/account/password",
                '1',
                r#"{"registration_request":"$RREQ"}"#,
            ),
            (
                "/account/password/finish",
                '1',
                r#"{"registration_record":"$RREC","vault_key":"v"}"#,
            ),
            ("/logout", '1', "{}"),
            ("/account/delete", '3', "{}"),
            ("/get", '3', "{}"),
        ]),
    );
    write(
        "routes",
        "bad-bodies",
        &calls(&[
            ("/health", '0', ""),
            ("/add", '1', "[]"),
            ("/add", '1', r#"{"site":1,"password":"p"}"#),
            ("/change", '1', r#"{"site":"example.com"}"#),
            ("/get", '4', "{}"),
            (
                "/login/finish",
                '0',
                r#"{"login_id":"AAAA","credential_finalization":"A"}"#,
            ),
        ]),
    );
}

fn token() {
    write("token", "garbage", b"0eyJhbGciOiJIUzI1NiJ9.e30.AAAA");
    write(
        "token",
        "alg-none",
        b"0eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.eyJzdWIiOiIxIn0.",
    );
    let mut round_trip = b"1".to_vec();
    round_trip.extend_from_slice(&42i64.to_le_bytes());
    round_trip.extend_from_slice(&7i64.to_le_bytes());
    round_trip.extend_from_slice(&[60, 1, 100, 0x20]);
    write("token", "round-trip", &round_trip);
    let mut signed = b"2".to_vec();
    signed.extend_from_slice(br#"{"alg":"HS256","typ":"JWT"}"#);
    signed.push(0xFF);
    signed
        .extend_from_slice(br#"{"sub":"1","rev":0,"iat":1700000000,"exp":99999999999,"jti":"x"}"#);
    write("token", "signed", &signed);
    let mut other_alg = b"2".to_vec();
    other_alg.extend_from_slice(br#"{"alg":"HS512","typ":"JWT"}"#);
    other_alg.push(0xFF);
    other_alg.extend_from_slice(br#"{"sub":"1","rev":0,"iat":1700000000,"exp":99999999999}"#);
    write("token", "signed-hs512", &other_alg);
}

fn opaque() {
    let setup = server_setup();
    let alice = register(&setup, "alice", b"alice password", 2);
    let record = alice.record();
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
    let response = start.message.serialize().to_vec();
    let finalization = login_finish(client, b"alice password", &response, 5).unwrap();
    let with_mode = |mode: u8, bytes: &[u8]| [&[mode][..], bytes].concat();
    write(
        "opaque",
        "0-registration-request",
        &with_mode(b'0', &alice.request),
    );
    write(
        "opaque",
        "1-registration-upload",
        &with_mode(b'1', &alice.upload),
    );
    write("opaque", "2-credential-request", &with_mode(b'2', &request));
    write(
        "opaque",
        "3-credential-finalization",
        &with_mode(b'3', &finalization),
    );
    write(
        "opaque",
        "4-server-login",
        &with_mode(b'4', &start.state.serialize()),
    );
    write("opaque", "5-record", &with_mode(b'5', &record));
    write("opaque", "6-seal", b"6\x05login0123456789abcdef0123456789");
    write(
        "opaque",
        "7-credential-response",
        &with_mode(b'7', &response),
    );
    write(
        "opaque",
        "8-server-setup",
        &with_mode(b'8', &setup.serialize()),
    );
}

fn body() {
    // The first byte is the index of the allowed-field list in `ALLOWED`.
    write(
        "body",
        "add",
        b"\x02{\"site\":\"a\\u0000b\",\"password\":\"p\",\"username\":null}",
    );
    write(
        "body",
        "change",
        b"\x03{\"site\":\"s\",\"version\":-9223372036854775808,\"username\":\"\"}",
    );
    write(
        "body",
        "login-finish",
        b"\x07{\"login_id\":\"AAEC\",\"credential_finalization\":\"_-8\"}",
    );
    write(
        "body",
        "wrong-types",
        b"\x05{\"username\":1,\"registration_record\":[],\"vault_key\":{}}",
    );
    write("body", "unknown-field", b"\x01{\"site\":\"x\",\"sitE\":1}");
    write("body", "not-json", b"\x00{\"a\xff\":1");
}

fn main() {
    routes();
    token();
    opaque();
    body();
}
