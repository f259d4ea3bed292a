//! Reading a JSON request body by hand, field by field, so that every
//! rule of API.md (unknown fields, wrong types, `null` for optional fields,
//! base64url) gives a precise `400` whose message never echoes a value.
//!
//! An object with the same key twice is refused, at any depth: serde_json
//! alone keeps the last, another parser on the path (a proxy, a WAF, a
//! client library) may keep the first, and the two would then disagree
//! about what a request says (API.md 1.1, General rules).

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};

use crate::error::ApiError;

/// The start of the error a duplicate key raises inside serde_json.
const DUPLICATE: &str = "duplicate field `";

/// A JSON value whose objects have no key twice.
struct Unique(Value);

impl<'de> Deserialize<'de> for Unique {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Unique, D::Error> {
        deserializer.deserialize_any(UniqueVisitor).map(Unique)
    }
}

struct UniqueVisitor;

impl<'de> Visitor<'de> for UniqueVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        // JSON has no NaN or infinity, so this is always a number.
        Ok(Number::from_f64(v).map_or(Value::Null, Value::Number))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(Unique(item)) = seq.next_element()? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut fields = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            if fields.contains_key(&key) {
                // Field names are the client's schema words, not secrets;
                // keep the echo short.
                let name: String = key.chars().take(32).collect();
                return Err(de::Error::custom(format!("{DUPLICATE}{name}`")));
            }
            let Unique(value) = map.next_value()?;
            fields.insert(key, value);
        }
        Ok(Value::Object(fields))
    }
}

/// The `400` message for a body serde_json could not take.
fn parse_error(e: &serde_json::Error) -> String {
    let text = e.to_string();
    if let Some(start) = text.find(DUPLICATE) {
        // serde_json appends " at line L column C"; the field is enough.
        let rest = &text[start..];
        return rest
            .rsplit_once(" at line ")
            .map_or(rest, |(message, _)| message)
            .to_string();
    }
    match e.classify() {
        serde_json::error::Category::Eof => "the body is not complete JSON",
        _ => "the body is not valid UTF-8 JSON",
    }
    .to_string()
}

pub struct Body {
    fields: Map<String, Value>,
}

impl Body {
    /// Parses a JSON object whose keys are all in `allowed`.
    pub fn parse(bytes: &[u8], allowed: &[&str]) -> Result<Body, ApiError> {
        let Unique(value) =
            serde_json::from_slice(bytes).map_err(|e| ApiError::bad_request(parse_error(&e)))?;
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
    fn duplicate_keys_are_refused_at_any_depth() {
        let dup = |body: &[u8]| msg(Body::parse(body, &["site", "password"]).map(|_| ()));
        assert_eq!(dup(br#"{"site":"a","site":"b"}"#), "duplicate field `site`");
        assert_eq!(
            dup(br#"{"site":"a","password":"p","site":"a"}"#),
            "duplicate field `site`",
            "even with the same value"
        );
        // The same name spelled with an escape is the same key.
        assert_eq!(
            dup(br#"{"site":"a","s\u0069te":"b"}"#),
            "duplicate field `site`"
        );
        assert!(dup(br#"{"site":{"x":1,"x":2}}"#).contains("duplicate field `x`"));
        assert!(dup(br#"{"site":[{"y":1,"y":1}]}"#).contains("duplicate field `y`"));
        let long = format!(r#"{{"{0}":1,"{0}":2}}"#, "k".repeat(100));
        assert_eq!(dup(long.as_bytes()).len(), DUPLICATE.len() + 32 + 1);
        // Distinct keys, nested values and numbers still parse as before.
        let b = Body::parse(
            br#"{"site":"a","password":{"x":[1,-2,3.5,null,true,{"x":0}]}}"#,
            &["site", "password"],
        )
        .unwrap();
        assert_eq!(b.str("site").unwrap(), "a");
        assert_eq!(
            b.fields["password"],
            serde_json::json!({"x":[1,-2,3.5,null,true,{"x":0}]})
        );
        assert!(msg(Body::parse(br#"{"site":"a""#, &["site"]).map(|_| ())).contains("complete"));
    }

    #[test]
    fn error_messages_never_echo_values() {
        let b = Body::parse(br#"{"site":"hunter2-secret"}"#, &["site"]).unwrap();
        let m = msg(b.opt_i64("site"));
        assert!(!m.contains("hunter2"), "{m}");
    }
}
