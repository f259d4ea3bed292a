//! The username rule of API.md (Usernames), in one place for the server
//! (`api::account`) and the `vault` client (`client`): trim surrounding
//! ASCII white space, lowercase ASCII letters (no Unicode case folding),
//! then only `[a-z0-9._@+-]`, 1 to [`MAX_LEN`] bytes.

/// The longest username, in bytes (all its characters are ASCII).
pub const MAX_LEN: usize = 64;
/// The characters allowed besides `a-z` and `0-9`.
pub const PUNCTUATION: &str = "._@+-";

/// The normalised username, or `None` when `raw` breaks the rule.
pub fn normalize(raw: &str) -> Option<String> {
    let name = raw
        .trim_matches(|c: char| c.is_ascii_whitespace())
        .to_ascii_lowercase();
    let allowed = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || PUNCTUATION.contains(c);
    let ok = (1..=MAX_LEN).contains(&name.len()) && name.chars().all(allowed);
    ok.then_some(name)
}

/// The rule in words, for error messages: `1 to 64 of a-z 0-9 . _ @ + -`.
pub fn rule() -> String {
    let punctuation: Vec<String> = PUNCTUATION.chars().map(String::from).collect();
    format!("1 to {MAX_LEN} of a-z 0-9 {}", punctuation.join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rule_of_api_md() {
        assert_eq!(
            normalize("  Alice@Example.ORG \t").as_deref(),
            Some("alice@example.org")
        );
        assert_eq!(normalize("a.b_c+d-e").as_deref(), Some("a.b_c+d-e"));
        assert_eq!(normalize(&"x".repeat(MAX_LEN)).map(|n| n.len()), Some(64));
        for bad in [
            "",
            "   ",
            "al ice",
            "ÄLICE",
            "İ",
            "a/b",
            "a\u{0}b",
            "a\u{a0}",
            &"x".repeat(MAX_LEN + 1),
        ] {
            assert_eq!(normalize(bad), None, "{bad:?}");
        }
        assert_eq!(rule(), "1 to 64 of a-z 0-9 . _ @ + -");
    }
}
