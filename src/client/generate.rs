//! Password generation from the operating system's CSPRNG, without modulo
//! bias: each character is drawn uniformly by rejection sampling, and a
//! password lacking one of the character classes is drawn again as a whole
//! (so the result is uniform over the passwords that contain every class).

use zeroize::Zeroizing;

const LOWER: &str = "abcdefghijklmnopqrstuvwxyz";
const UPPER: &str = "ABCDEFGHIJKLMNOPQRSTUVWXYZ";
const DIGITS: &str = "0123456789";
/// Symbols that need no quoting in most shells and forms: no quotes,
/// backslash, backtick, `$` or space.
const SYMBOLS: &str = "!#%&()*+,-./:;<=>?@[]^_{|}~";

/// Default length of a generated password.
pub const DEFAULT_LENGTH: usize = 24;
/// Shortest length accepted (one character of each class must fit).
pub const MIN_LENGTH: usize = 8;
/// Longest length accepted.
pub const MAX_LENGTH: usize = 1024;

/// Fills `buf` from the OS CSPRNG.
fn random_fill(buf: &mut [u8]) -> Result<(), String> {
    getrandom::getrandom(buf).map_err(|e| format!("the system random number generator failed: {e}"))
}

/// A uniform index below `n` (1 ≤ n ≤ 256) by rejection sampling.
fn uniform_below(n: usize, pool: &mut Vec<u8>) -> Result<usize, String> {
    assert!((1..=256).contains(&n));
    // Largest multiple of n that fits in a byte's 256 values.
    let limit = 256 - (256 % n);
    loop {
        if pool.is_empty() {
            pool.resize(64, 0);
            random_fill(pool)?;
        }
        let b = pool.pop().expect("refilled above") as usize;
        if b < limit {
            return Ok(b % n);
        }
    }
}

/// A random password of `length` characters: letters, digits and (unless
/// `symbols` is false) symbols, with at least one of each class.
/// The EFF long word list (7 776 words, 12.9 bits each), CC BY 3.0 US,
/// Electronic Frontier Foundation, embedded so that no file is needed.
const EFF_LONG: &str = include_str!("eff_large_wordlist.txt");
/// Default number of passphrase words (77 bits).
pub const DEFAULT_WORDS: usize = 6;

/// A uniform index below `n` (n ≤ 65 536) from two random bytes, by
/// rejection sampling.
fn uniform_below_u16(n: usize) -> Result<usize, String> {
    let limit = 65_536 - (65_536 % n);
    loop {
        let mut b = [0u8; 2];
        random_fill(&mut b)?;
        let v = u16::from_be_bytes(b) as usize;
        if v < limit {
            return Ok(v % n);
        }
    }
}

/// `words` words of the EFF long list joined by `separator`.
pub fn passphrase(words: usize, separator: &str) -> Result<Zeroizing<String>, String> {
    if !(4..=40).contains(&words) {
        return Err(format!("--words must be between 4 and 40, not {words}"));
    }
    if separator.chars().any(char::is_control) {
        return Err("the separator must not hold control characters".into());
    }
    let list: Vec<&str> = EFF_LONG.lines().collect();
    let mut out = Zeroizing::new(String::new());
    for i in 0..words {
        if i > 0 {
            out.push_str(separator);
        }
        out.push_str(list[uniform_below_u16(list.len())?]);
    }
    Ok(out)
}

pub fn password(length: usize, symbols: bool) -> Result<Zeroizing<String>, String> {
    if !(MIN_LENGTH..=MAX_LENGTH).contains(&length) {
        return Err(format!(
            "the length must be between {MIN_LENGTH} and {MAX_LENGTH}"
        ));
    }
    let mut classes: Vec<&[u8]> = vec![LOWER.as_bytes(), UPPER.as_bytes(), DIGITS.as_bytes()];
    if symbols {
        classes.push(SYMBOLS.as_bytes());
    }
    let alphabet: Vec<u8> = classes.concat();
    let mut pool = Zeroizing::new(Vec::new());
    loop {
        let mut pw = Zeroizing::new(String::with_capacity(length));
        for _ in 0..length {
            pw.push(alphabet[uniform_below(alphabet.len(), &mut pool)?] as char);
        }
        if classes
            .iter()
            .all(|class| pw.bytes().any(|b| class.contains(&b)))
        {
            return Ok(pw);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_eff_long_list_is_whole() {
        let words: Vec<&str> = EFF_LONG.lines().collect();
        assert_eq!(words.len(), 7776);
        assert_eq!((words[0], words[7775]), ("abacus", "zoom"));
        let unique: std::collections::BTreeSet<_> = words.iter().collect();
        assert_eq!(unique.len(), 7776);
        let p = passphrase(6, " ").unwrap();
        assert_eq!(p.split(' ').count(), 6);
        assert!(p.split(' ').all(|w| words.contains(&w)));
        assert!(passphrase(3, "-").is_err());
    }

    #[test]
    fn lengths_and_classes() {
        for len in [8, 24, 100] {
            let pw = password(len, true).unwrap();
            assert_eq!(pw.chars().count(), len);
            assert!(pw.bytes().any(|b| b.is_ascii_lowercase()));
            assert!(pw.bytes().any(|b| b.is_ascii_uppercase()));
            assert!(pw.bytes().any(|b| b.is_ascii_digit()));
            assert!(pw.bytes().any(|b| SYMBOLS.as_bytes().contains(&b)));
        }
        let pw = password(30, false).unwrap();
        assert!(pw.bytes().all(|b| b.is_ascii_alphanumeric()));
        assert!(password(7, true).is_err());
        assert!(password(MAX_LENGTH + 1, true).is_err());
        assert_ne!(*password(24, true).unwrap(), *password(24, true).unwrap());
    }

    #[test]
    fn no_modulo_bias() {
        // Rejection sampling: every index below n is reachable and no byte
        // value above the last full multiple is used.
        let mut pool = Vec::new();
        let mut seen = [0usize; 89];
        for _ in 0..20_000 {
            seen[uniform_below(89, &mut pool).unwrap()] += 1;
        }
        assert!(seen.iter().all(|&c| c > 0));
        // A pool of one rejected byte (255 ≥ 3·85 = 255) is skipped.
        let mut pool = vec![7u8, 255u8];
        assert_eq!(uniform_below(85, &mut pool).unwrap(), 7);
    }
}
