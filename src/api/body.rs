//! Reading a JSON request body by hand, field by field, so that every
//! rule of API.md (unknown fields, wrong types, `null` for optional fields,
//! base64url) gives a precise `400` whose message never echoes a value.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value};

use crate::error::ApiError;

pub struct Body {
    fields: Map<String, Value>,
}

impl Body {
    /// Parses a JSON object whose keys are all in `allowed`.
    pub fn parse(bytes: &[u8], allowed: &[&str]) -> Result<Body, ApiError> {
        let value: Value = serde_json::from_slice(bytes).map_err(|e| {
            ApiError::bad_request(match e.classify() {
                serde_json::error::Category::Eof => "the body is not complete JSON",
                _ => "the body is not valid UTF-8 JSON",
            })
        })?;
        let Value::Object(fields) = value else {
            return Err(ApiError::bad_request("the body must be a JSON object"));
        };
        if let Some(unknown) = fields.keys().find(|k| !allowed.contains(&k.as_str())) {
            // Field names are the client's own schema words, not secrets, but
            // keep the echo short.
            let name: String = unknown.chars().take(32).collect();
            return Err(ApiError::bad_request(format!("unknown field `{name}`")));
        }
        Ok(Body { fields })
    }

    /// A present, non-null field.
    fn present(&self, name: &str) -> Option<&Value> {
        self.fields.get(name).filter(|v| !v.is_null())
    }

    pub fn str(&self, name: &str) -> Result<&str, ApiError> {
        self.opt_str(name)?
            .ok_or_else(|| ApiError::bad_request(format!("field `{name}` is required")))
    }

    /// An optional string: absent and `null` both mean `None`.
    pub fn opt_str(&self, name: &str) -> Result<Option<&str>, ApiError> {
        match self.present(name) {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(_) => Err(ApiError::bad_request(format!(
                "field `{name}` must be a string"
            ))),
        }
    }

    /// A field where `null` is a value: `None` when absent, `Some(None)` when
    /// `null`.
    pub fn nullable_str(&self, name: &str) -> Result<Option<Option<&str>>, ApiError> {
        match self.fields.get(name) {
            None => Ok(None),
            Some(Value::Null) => Ok(Some(None)),
            Some(Value::String(s)) => Ok(Some(Some(s))),
            Some(_) => Err(ApiError::bad_request(format!(
                "field `{name}` must be a string or null"
            ))),
        }
    }

    pub fn opt_i64(&self, name: &str) -> Result<Option<i64>, ApiError> {
        match self.present(name) {
            None => Ok(None),
            Some(v) => v
                .as_i64()
                .map(Some)
                .ok_or_else(|| ApiError::bad_request(format!("field `{name}` must be an integer"))),
        }
    }

    /// A required base64url (no padding) field, decoded.
    pub fn bytes(&self, name: &str) -> Result<Vec<u8>, ApiError> {
        decode_b64(name, self.str(name)?)
    }

    pub fn opt_bytes(&self, name: &str) -> Result<Option<Vec<u8>>, ApiError> {
        self.opt_str(name)?.map(|s| decode_b64(name, s)).transpose()
    }
}

fn decode_b64(name: &str, text: &str) -> Result<Vec<u8>, ApiError> {
    URL_SAFE_NO_PAD.decode(text).map_err(|_| {
        ApiError::bad_request(format!("field `{name}` must be base64url without padding"))
    })
}

/// Checks a string's length in UTF-8 bytes.
pub fn check_len(name: &str, value: &str, min: usize, max: usize) -> Result<(), ApiError> {
    if (min..=max).contains(&value.len()) {
        Ok(())
    } else if min > 0 && value.is_empty() {
        Err(ApiError::bad_request(format!(
            "field `{name}` must not be empty"
        )))
    } else {
        Err(ApiError::bad_request(format!(
            "field `{name}` must be at most {max} bytes"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn msg(r: Result<impl std::fmt::Debug, ApiError>) -> String {
        match r.unwrap_err() {
            ApiError::BadRequest(m) => m,
            other => panic!("expected 400, got {other:?}"),
        }
    }

    #[test]
    fn rejects_what_api_md_rejects() {
        assert!(msg(Body::parse(b"[]", &[]).map(|_| ())).contains("JSON object"));
        assert!(msg(Body::parse(b"{", &[]).map(|_| ())).contains("JSON"));
        assert!(msg(Body::parse(b"\xff", &[]).map(|_| ())).contains("JSON"));
        assert!(
            msg(Body::parse(br#"{"x":1}"#, &["site"]).map(|_| ())).contains("unknown field `x`")
        );
        let b = Body::parse(
            br#"{"site":1,"v":"1","n":null,"b":"a+b="}"#,
            &["site", "v", "n", "b"],
        )
        .unwrap();
        assert!(msg(b.str("site")).contains("must be a string"));
        assert!(msg(b.opt_i64("v")).contains("integer"));
        assert!(msg(b.str("n")).contains("required"));
        assert!(msg(b.str("missing")).contains("required"));
        assert_eq!(b.opt_str("n").unwrap(), None);
        assert_eq!(b.nullable_str("n").unwrap(), Some(None));
        assert_eq!(b.nullable_str("missing").unwrap(), None);
        assert!(msg(b.bytes("b")).contains("base64url"));
    }

    #[test]
    fn error_messages_never_echo_values() {
        let b = Body::parse(br#"{"site":"hunter2-secret"}"#, &["site"]).unwrap();
        let m = msg(b.opt_i64("site"));
        assert!(!m.contains("hunter2"), "{m}");
    }
}
