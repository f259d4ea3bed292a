//! Text that came from elsewhere (the server, or an entry another client
//! wrote) made safe for a terminal: control characters (C0, DEL, C1) and
//! the bidirectional overrides that reorder what a line shows are written
//! as visible escapes, so a hostile server cannot clear the screen, set the
//! window title, forge lines or hide text.

use std::borrow::Cow;

/// Whether `c` must not reach a terminal raw.
pub fn is_unsafe(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}')
}

/// `s` with every unsafe character as `\n`, `\t`, `\r` or `\u{…}`
/// (Rust's escape spelling); unchanged (borrowed) when there is none.
pub fn escape(s: &str) -> Cow<'_, str> {
    if !s.chars().any(is_unsafe) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            c if is_unsafe(c) => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// JSON text (as serde_json writes it) safe for a terminal: serde_json
/// escapes C0 but writes DEL, C1 and the bidi controls raw; those become
/// `\uXXXX`. Outside strings JSON has none of them, so the result is the
/// same JSON value.
pub fn escape_json(json: &str) -> Cow<'_, str> {
    if !json.chars().any(is_unsafe) {
        return Cow::Borrowed(json);
    }
    let mut out = String::with_capacity(json.len() + 8);
    for c in json.chars() {
        if is_unsafe(c) && c != '\n' {
            out.push_str(&format!("\\u{:04x}", c as u32));
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_what_a_terminal_would_obey() {
        assert_eq!(escape("plain é 🔑"), "plain é 🔑");
        assert!(matches!(escape("plain"), Cow::Borrowed(_)));
        assert_eq!(
            escape("\u{1b}[2J\u{1b}]0;title\u{7}a\nb\tc\r\u{7f}\u{9b}\u{202e}x"),
            "\\u{1b}[2J\\u{1b}]0;title\\u{7}a\\nb\\tc\\r\\u{7f}\\u{9b}\\u{202e}x"
        );
    }

    #[test]
    fn json_stays_the_same_value() {
        let v = serde_json::json!({"p": "a\u{1b}b\u{9b}c\u{7f}\u{202e}"});
        let text = serde_json::to_string(&v).unwrap();
        let safe = escape_json(&text);
        assert!(!safe.chars().any(is_unsafe), "{safe}");
        assert_eq!(serde_json::from_str::<serde_json::Value>(&safe).unwrap(), v);
    }
}
