//! `ApiError`: every way a request can fail, and the status and
//! `{"error","message"}` body each one answers with (API.md).

use crate::store::StoreError;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApiError {
    BadRequest(String),
    Unauthorized,
    Forbidden(&'static str),
    NotFound(&'static str),
    MethodNotAllowed,
    Conflict(&'static str),
    PayloadTooLarge,
    UnsupportedMediaType,
    TooManyRequests {
        retry_after: u64,
    },
    Internal,
    /// The database is unreachable or refused; the store's redacted reason
    /// (such as "disk full"), for the log line only, never for the client.
    Unavailable(String),
}

impl ApiError {
    pub fn bad_request(message: impl Into<String>) -> Self {
        ApiError::BadRequest(message.into())
    }

    pub fn status(&self) -> u16 {
        match self {
            ApiError::BadRequest(_) => 400,
            ApiError::Unauthorized => 401,
            ApiError::Forbidden(_) => 403,
            ApiError::NotFound(_) => 404,
            ApiError::MethodNotAllowed => 405,
            ApiError::Conflict(_) => 409,
            ApiError::PayloadTooLarge => 413,
            ApiError::UnsupportedMediaType => 415,
            ApiError::TooManyRequests { .. } => 429,
            ApiError::Internal => 500,
            ApiError::Unavailable(_) => 503,
        }
    }

    /// The machine-readable `error` code of API.md.
    pub fn code(&self) -> &'static str {
        match self {
            ApiError::BadRequest(_) => "bad_request",
            ApiError::Unauthorized => "unauthorized",
            ApiError::Forbidden(_) => "forbidden",
            ApiError::NotFound(_) => "not_found",
            ApiError::MethodNotAllowed => "method_not_allowed",
            ApiError::Conflict(_) => "conflict",
            ApiError::PayloadTooLarge => "payload_too_large",
            ApiError::UnsupportedMediaType => "unsupported_media_type",
            ApiError::TooManyRequests { .. } => "too_many_requests",
            ApiError::Internal => "internal",
            ApiError::Unavailable(_) => "unavailable",
        }
    }

    /// A human-readable message. Never holds SQL, data or secrets.
    pub fn message(&self) -> String {
        match self {
            ApiError::BadRequest(m) => m.clone(),
            ApiError::Unauthorized => "missing, invalid, expired or revoked token".into(),
            ApiError::Forbidden(m) | ApiError::NotFound(m) | ApiError::Conflict(m) => {
                (*m).to_string()
            }
            ApiError::MethodNotAllowed => "method not allowed on this path".into(),
            ApiError::PayloadTooLarge => format!(
                "request body larger than {} KiB",
                crate::http::MAX_BODY / 1024
            ),
            ApiError::UnsupportedMediaType => "the body must be sent as application/json".into(),
            ApiError::TooManyRequests { retry_after } => {
                format!("too many failed logins; retry in {retry_after} s")
            }
            ApiError::Internal => "internal error".into(),
            ApiError::Unavailable(_) => "the database is unavailable; retry later".into(),
        }
    }

    /// Why a 5xx happened, for the server's log: the store's redacted
    /// reason. `None` for every other error.
    pub fn cause(&self) -> Option<&str> {
        match self {
            ApiError::Unavailable(why) => Some(why),
            ApiError::Internal => Some("internal error"),
            _ => None,
        }
    }

    /// The serialized `{"error", "message"}` body.
    pub fn body(&self) -> Vec<u8> {
        let body = serde_json::json!({ "error": self.code(), "message": self.message() });
        serde_json::to_vec(&body).unwrap_or_default()
    }
}

/// A write whose `base_seq` is not the user's `seq` (API.md 1.1, Sync).
pub const STALE_SEQ: &str = "the vault has changed since base_seq: sync and retry";
/// A `registration_id` that is unknown, expired, spent or another's.
pub const BAD_REGISTRATION: &str =
    "field `registration_id` is unknown, expired or already used: start the registration again";
/// Closed signups without a valid invite.
pub const NO_INVITE: &str = "signups are closed: a valid invite is required";

impl From<StoreError> for ApiError {
    /// Routes map `Conflict`/`NotFound` themselves when those are expected;
    /// what reaches this conversion is an outage or a bug.
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::Conflict => ApiError::Conflict("already exists"),
            StoreError::NotFound => ApiError::NotFound("not found"),
            StoreError::StaleSeq => ApiError::Conflict(STALE_SEQ),
            StoreError::Invalid(crate::store::Invalid::Registration) => {
                ApiError::bad_request(BAD_REGISTRATION)
            }
            StoreError::Invalid(crate::store::Invalid::Invite) => ApiError::Forbidden(NO_INVITE),
            StoreError::Unavailable(why) | StoreError::Schema(why) => ApiError::Unavailable(why),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_store_outage_keeps_its_reason_for_the_log_only() {
        let e = ApiError::from(StoreError::Unavailable("disk full".into()));
        assert_eq!((e.status(), e.cause()), (503, Some("disk full")));
        let body = String::from_utf8(e.body()).unwrap();
        assert!(!body.contains("disk full"), "{body}");
        assert_eq!(ApiError::Unauthorized.cause(), None);
    }
}
