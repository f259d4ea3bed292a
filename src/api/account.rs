//! Registration, login, logout and the account routes: OPAQUE (RFC 9807) on
//! the server side. The server never sees the password or anything derived
//! from it that could be tested offline without `OPAQUE_SERVER_SETUP`.

use opaque_ke::{
    CredentialFinalization, CredentialRequest, RegistrationRequest, RegistrationUpload,
    ServerLogin, ServerLoginParameters, ServerRegistration,
};
use rand::RngCore;
use rand::rngs::OsRng;
use serde_json::json;
use sha2::{Digest, Sha256};

use super::body::{Body, check_len};
use super::{App, Call, Reply};
use crate::auth::opaque::Suite;
use crate::config::Signups;
use crate::error::ApiError;
use crate::store::{NewUser, PendingLogin, PendingRegistration, StoreError, User, unix_now};

/// How long a login may take between its two steps.
pub const LOGIN_TTL_SECONDS: i64 = 60;
/// How long a registration (or password change) may take between its two
/// steps (API.md 1.1, `registration_id`).
pub const REGISTRATION_TTL_SECONDS: i64 = 600;
/// Account routes need a token at most this old.
pub const FRESH_TOKEN_SECONDS: u64 = 300;
const MAX_VAULT_KEY: usize = 1024;

/// The username rule of API.md (`crate::username`), as a `400`.
pub fn normalize_username(raw: &str) -> Result<String, ApiError> {
    crate::username::normalize(raw)
        .ok_or_else(|| ApiError::bad_request(format!("a username is {}", crate::username::rule())))
}

fn username(body: &Body) -> Result<String, ApiError> {
    normalize_username(body.str("username")?)
}

/// The stored form of an invite code: its SHA-256, so a database leak does
/// not hand out usable invites.
pub fn invite_hash(code: &str) -> Vec<u8> {
    Sha256::digest(code.trim().as_bytes()).to_vec()
}

/// A fresh invite code: 128 random bits, base64url.
pub fn new_invite_code() -> String {
    b64(&random_bytes::<16>())
}

fn b64(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// With closed signups, the invite, hashed; `403` without a valid one.
fn required_invite(app: &App, invite: Option<&str>) -> Result<Option<Vec<u8>>, ApiError> {
    if app.signups == Signups::Open {
        return Ok(None);
    }
    const CLOSED: ApiError = ApiError::Forbidden(crate::error::NO_INVITE);
    let hash = invite_hash(invite.ok_or(CLOSED)?);
    if !app.store.invite_valid(&hash, unix_now())? {
        return Err(CLOSED);
    }
    Ok(Some(hash))
}

fn vault_key(body: &Body) -> Result<Option<&str>, ApiError> {
    let key = body.opt_str("vault_key")?;
    if let Some(k) = key {
        check_len("vault_key", k, 0, MAX_VAULT_KEY)?;
    }
    Ok(key)
}

fn bad_message(name: &str) -> ApiError {
    ApiError::bad_request(format!("field `{name}` is not a valid OPAQUE message"))
}

/// Sizes of the OPAQUE messages of ristretto255-SHA512. opaque-ke ignores
/// trailing bytes; a message of another length is malformed, not padded.
const REGISTRATION_REQUEST_LEN: usize = 32;
const REGISTRATION_RECORD_LEN: usize = 192;
const CREDENTIAL_REQUEST_LEN: usize = 96;
const CREDENTIAL_FINALIZATION_LEN: usize = 64;

/// A base64url OPAQUE message of exactly `len` bytes.
fn message(body: &Body, name: &str, len: usize) -> Result<Vec<u8>, ApiError> {
    let bytes = body.bytes(name)?;
    if bytes.len() != len {
        return Err(bad_message(name));
    }
    Ok(bytes)
}

/// The `registration_request` of a body, checked.
fn registration_request(body: &Body) -> Result<RegistrationRequest<Suite>, ApiError> {
    RegistrationRequest::<Suite>::deserialize(&message(
        body,
        "registration_request",
        REGISTRATION_REQUEST_LEN,
    )?)
    .map_err(|_| bad_message("registration_request"))
}

fn random_bytes<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    OsRng.fill_bytes(&mut bytes);
    bytes
}

/// The OPRF step shared by registration and password change: evaluated
/// under a fresh credential identifier, which is kept (single use, 10
/// minutes) under the `registration_id` the client sends back.
fn start_registration(
    app: &App,
    request: RegistrationRequest<Suite>,
    username: &str,
    user_id: Option<i64>,
) -> Result<Reply, ApiError> {
    let credential_id = app.credential_ids.fresh(username);
    let response = ServerRegistration::<Suite>::start(&app.server_setup, request, &credential_id)
        .map_err(|_| bad_message("registration_request"))?;
    let id = random_bytes::<32>().to_vec();
    let now = unix_now();
    app.store.put_registration(
        &PendingRegistration {
            id: id.clone(),
            username: username.to_string(),
            user_id,
            credential_id,
            expires_at: now + REGISTRATION_TTL_SECONDS,
        },
        now,
    )?;
    Reply::ok(json!({
        "registration_response": b64(&response.message.serialize()),
        "registration_id": b64(&id),
    }))
}

/// The record a client uploads at the end of registration, checked and
/// serialized for storage.
fn registration_record(body: &Body) -> Result<Vec<u8>, ApiError> {
    let upload = RegistrationUpload::<Suite>::deserialize(&message(
        body,
        "registration_record",
        REGISTRATION_RECORD_LEN,
    )?)
    .map_err(|_| bad_message("registration_record"))?;
    Ok(ServerRegistration::finish(upload).serialize().to_vec())
}

/// The body of a successful login (and of a password change).
fn session_reply(app: &App, user: &User) -> Result<Reply, ApiError> {
    let token = app
        .tokens
        .issue_for_account(user.id, user.rev, user.created_at)
        .map_err(|_| ApiError::Internal)?;
    Reply::ok(json!({
        "token": token,
        "token_type": "Bearer",
        "expires_in": app.tokens.ttl_seconds(),
        "vault_key": user.vault_key,
    }))
}

/// `POST /register {"username", "registration_request", "invite"?}`.
pub fn register(app: &App, call: &Call) -> Result<Reply, ApiError> {
    let body = Body::parse(call.body, &["username", "registration_request", "invite"])?;
    // The whole body is checked (400) before invites (403) and names (409).
    let username = username(&body)?;
    let request = registration_request(&body)?;
    required_invite(app, body.opt_str("invite")?)?;
    // Every `/register` counts against its address (API.md 1.1), taken
    // names included: names cannot be probed for free.
    app.limiter
        .check_finish(None, call.client)
        .map_err(throttled)?;
    app.limiter.record_failure(None, call.client);
    if app.store.user_by_name(&username)?.is_some() {
        return Err(ApiError::Conflict("this username is taken"));
    }
    start_registration(app, request, &username, None)
}

/// `POST /register/finish {"username", "registration_id", "registration_record",
/// "vault_key"?, "invite"?}`.
pub fn register_finish(app: &App, call: &Call) -> Result<Reply, ApiError> {
    let body = Body::parse(
        call.body,
        &[
            "username",
            "registration_id",
            "registration_record",
            "vault_key",
            "invite",
        ],
    )?;
    let user = NewUser {
        username: username(&body)?,
        registration: body.bytes("registration_id")?,
        record: registration_record(&body)?,
        vault_key: vault_key(&body)?.map(str::to_string),
        invite: required_invite(app, body.opt_str("invite")?)?,
    };
    match app.store.create_user(&user, unix_now()) {
        Ok(user) => Reply::created(json!({ "username": user.username })),
        Err(StoreError::Conflict) => Err(ApiError::Conflict("this username is taken")),
        // A spent invite (a concurrent registration) is 403, an unknown
        // registration 400: see `ApiError::from`.
        Err(e) => Err(e.into()),
    }
}

fn throttled(retry_after: u64) -> ApiError {
    ApiError::TooManyRequests { retry_after }
}

/// `POST /login {"username", "credential_request"}` →
/// `{"login_id", "credential_response"}`, for unknown usernames too.
pub fn login(app: &App, call: &Call) -> Result<Reply, ApiError> {
    let body = Body::parse(call.body, &["username", "credential_request"])?;
    let username = username(&body)?;
    let request = CredentialRequest::<Suite>::deserialize(&message(
        &body,
        "credential_request",
        CREDENTIAL_REQUEST_LEN,
    )?)
    .map_err(|_| bad_message("credential_request"))?;
    app.limiter
        .begin(&username, call.client)
        .map_err(throttled)?;
    let user = app.store.user_by_name(&username)?;
    // An unknown user gets a response made from a fake record: the same
    // shape, length and work, so `/login` does not tell who has an account.
    let record = match &user {
        Some(u) => Some(
            ServerRegistration::<Suite>::deserialize(&u.record).map_err(|_| ApiError::Internal)?,
        ),
        None => None,
    };
    let credential_id = match &user {
        Some(u) => u.credential_id.clone(),
        None => app.credential_ids.unknown(&username),
    };
    let start = ServerLogin::start(
        &mut OsRng,
        &app.server_setup,
        record,
        request,
        &credential_id,
        ServerLoginParameters::default(),
    )
    .map_err(|_| bad_message("credential_request"))?;
    let id = random_bytes::<32>().to_vec();
    let now = unix_now();
    app.store.put_login(
        &PendingLogin {
            id: id.clone(),
            username,
            user_id: user.as_ref().map(|u| u.id),
            epoch: user.as_ref().map_or(0, |u| u.epoch),
            state: app.login_seal.seal(&id, &start.state.serialize()),
            expires_at: now + LOGIN_TTL_SECONDS,
        },
        now,
    )?;
    Reply::ok(json!({
        "login_id": b64(&id),
        "credential_response": b64(&start.message.serialize()),
    }))
}

/// `POST /login/finish {"login_id", "credential_finalization"}` → a token.
pub fn login_finish(app: &App, call: &Call) -> Result<Reply, ApiError> {
    let body = Body::parse(call.body, &["login_id", "credential_finalization"])?;
    let login_id = body.bytes("login_id")?;
    let finalization = body.bytes("credential_finalization")?;
    // Single use: the pending login is gone whatever happens next.
    let Some(login) = app.store.take_login(&login_id, unix_now())? else {
        app.limiter
            .check_finish(None, call.client)
            .map_err(throttled)?;
        app.limiter.record_failure(None, call.client);
        return Err(ApiError::Unauthorized);
    };
    app.limiter
        .check_finish(Some(&login.username), call.client)
        .map_err(throttled)?;
    // A failure was counted when the login started (see `Limiter`).
    match finish_login(app, &login, &finalization)? {
        Some(user) => {
            app.limiter.succeeded(&login.username, call.client);
            session_reply(app, &user)
        }
        None => Err(ApiError::Unauthorized),
    }
}

/// The user, when the client proved its password for a login that is still
/// current; `None` for every kind of failure alike.
fn finish_login(
    app: &App,
    login: &PendingLogin,
    finalization: &[u8],
) -> Result<Option<User>, ApiError> {
    let Some(state) = app.login_seal.open(&login.id, &login.state) else {
        return Ok(None);
    };
    let Ok(state) = ServerLogin::<Suite>::deserialize(&state) else {
        return Ok(None);
    };
    if finalization.len() != CREDENTIAL_FINALIZATION_LEN {
        return Ok(None);
    }
    let Ok(message) = CredentialFinalization::<Suite>::deserialize(finalization) else {
        return Ok(None);
    };
    if state
        .finish(message, ServerLoginParameters::default())
        .is_err()
    {
        return Ok(None);
    }
    let Some(user_id) = login.user_id else {
        return Ok(None);
    };
    // The account may have been deleted, or its password changed, since the
    // login started.
    Ok(app
        .store
        .user_by_id(user_id)?
        .filter(|u| u.epoch == login.epoch))
}

/// `POST /logout {}`: every token of the caller stops working.
pub fn logout(app: &App, call: &Call) -> Result<Reply, ApiError> {
    Body::parse(call.body, &[])?;
    match app.store.revoke_tokens(call.caller()?.user_id) {
        Ok(_) => Reply::ok(json!({})),
        Err(StoreError::NotFound) => Err(ApiError::Unauthorized),
        Err(e) => Err(e.into()),
    }
}

fn current_user(app: &App, call: &Call) -> Result<User, ApiError> {
    app.store
        .user_by_id(call.caller()?.user_id)?
        .ok_or(ApiError::Unauthorized)
}

/// `POST /account/password {"registration_request"}`: the OPRF step of a
/// re-registration under the same username.
pub fn password(app: &App, call: &Call) -> Result<Reply, ApiError> {
    let body = Body::parse(call.body, &["registration_request"])?;
    let request = registration_request(&body)?;
    let user = current_user(app, call)?;
    start_registration(app, request, &user.username, Some(user.id))
}

/// `POST /account/password/finish {"registration_id", "registration_record",
/// "vault_key"?}`: replaces the credential identifier and record, ends every
/// older token and pending login, and answers like `/login/finish`.
pub fn password_finish(app: &App, call: &Call) -> Result<Reply, ApiError> {
    let body = Body::parse(
        call.body,
        &["registration_id", "registration_record", "vault_key"],
    )?;
    let registration = body.bytes("registration_id")?;
    let record = registration_record(&body)?;
    let vault_key = vault_key(&body)?;
    match app.store.change_password(
        call.caller()?.user_id,
        &registration,
        &record,
        vault_key,
        unix_now(),
    ) {
        Ok(user) => session_reply(app, &user),
        Err(StoreError::NotFound) => Err(ApiError::Unauthorized),
        Err(e) => Err(e.into()),
    }
}

/// `POST /account/delete {}`: the user and every entry are gone.
pub fn delete(app: &App, call: &Call) -> Result<Reply, ApiError> {
    Body::parse(call.body, &[])?;
    match app.store.delete_user(call.caller()?.user_id) {
        Ok(()) => Reply::ok(json!({})),
        Err(StoreError::NotFound) => Err(ApiError::Unauthorized),
        Err(e) => Err(e.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames_normalise_as_api_md_says() {
        assert_eq!(
            normalize_username("  Alice@Example.ORG \t").unwrap(),
            "alice@example.org"
        );
        assert_eq!(normalize_username("a.b_c+d-e").unwrap(), "a.b_c+d-e");
        assert_eq!(normalize_username(&"x".repeat(64)).unwrap().len(), 64);
        for bad in [
            "",
            "   ",
            "al ice",
            "ålice",
            "a/b",
            "x\u{0}",
            &"x".repeat(65),
        ] {
            assert!(normalize_username(bad).is_err(), "{bad:?}");
        }
        // Only ASCII letters are lowercased: no Unicode case folding.
        assert!(normalize_username("İ").is_err());
    }
}
