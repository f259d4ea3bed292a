//! TOTP codes (RFC 6238 over RFC 4226) from an entry's `totp`: an
//! `otpauth://totp/…` URI or a bare base32 secret (docs/CRYPTO.md "TOTP").

use hmac::{Hmac, Mac};
use zeroize::Zeroizing;

/// HMAC-`$d`(key, msg), for each digest in turn.
macro_rules! hmac_with {
    ($d:ty, $key:expr, $msg:expr) => {{
        let mut mac = <Hmac<$d> as Mac>::new_from_slice($key).expect("HMAC takes any key length");
        mac.update($msg);
        mac.finalize().into_bytes().to_vec()
    }};
}

/// The HMAC of a TOTP.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Algorithm {
    Sha1,
    Sha256,
    Sha512,
}

/// A parsed TOTP: secret, algorithm, digits, period.
#[derive(Debug)]
pub struct Totp {
    secret: Zeroizing<Vec<u8>>,
    pub algorithm: Algorithm,
    pub digits: u32,
    pub period: u64,
}

/// RFC 4648 base32, case-insensitive, spaces, dashes and padding ignored.
fn base32(text: &str) -> Result<Zeroizing<Vec<u8>>, String> {
    let mut out = Zeroizing::new(Vec::with_capacity(text.len() * 5 / 8));
    let (mut acc, mut bits) = (0u64, 0u32);
    for c in text.chars().filter(|c| !matches!(c, ' ' | '-' | '=')) {
        let v = match c.to_ascii_uppercase() {
            c @ 'A'..='Z' => c as u64 - 'A' as u64,
            c @ '2'..='7' => c as u64 - '2' as u64 + 26,
            _ => return Err(format!("the TOTP secret is not base32 (`{c}`)")),
        };
        acc = (acc << 5) | v;
        bits += 5;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
            acc &= (1 << bits) - 1;
        }
    }
    if out.is_empty() {
        return Err("the TOTP secret is empty".into());
    }
    Ok(out)
}

/// `%XX` decoding of a URI query value.
fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = b
            .get(i + 1..i + 3)
            .and_then(|h| std::str::from_utf8(h).ok());
        match (b[i], hex.and_then(|h| u8::from_str_radix(h, 16).ok())) {
            (b'%', Some(v)) => {
                out.push(v);
                i += 3;
            }
            (c, _) => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

impl Totp {
    /// Parses an entry's `totp`.
    pub fn parse(text: &str) -> Result<Totp, String> {
        let text = text.trim();
        let mut totp = Totp {
            secret: Zeroizing::new(Vec::new()),
            algorithm: Algorithm::Sha1,
            digits: 6,
            period: 30,
        };
        let Some(rest) = strip_prefix_ci(text, "otpauth://") else {
            totp.secret = base32(text)?;
            return Ok(totp);
        };
        if strip_prefix_ci(rest, "totp/").is_none() {
            return Err("only otpauth://totp/ URIs are supported (not hotp)".into());
        }
        let query = rest.split_once('?').map_or("", |(_, q)| q);
        let mut secret = None;
        for (k, v) in query.split('&').filter_map(|kv| kv.split_once('=')) {
            let v = percent_decode(v);
            match k.to_ascii_lowercase().as_str() {
                "secret" => secret = Some(base32(&v)?),
                "algorithm" => {
                    totp.algorithm = match v.to_ascii_uppercase().as_str() {
                        "SHA1" => Algorithm::Sha1,
                        "SHA256" => Algorithm::Sha256,
                        "SHA512" => Algorithm::Sha512,
                        _ => return Err(format!("unknown TOTP algorithm `{v}`")),
                    }
                }
                "digits" => {
                    totp.digits = v
                        .parse()
                        .ok()
                        .filter(|d| (6..=8).contains(d))
                        .ok_or_else(|| format!("TOTP digits must be 6 to 8, not `{v}`"))?
                }
                "period" => {
                    totp.period = v
                        .parse()
                        .ok()
                        .filter(|p| *p >= 1)
                        .ok_or_else(|| format!("TOTP period must be 1 s or more, not `{v}`"))?
                }
                _ => {}
            }
        }
        totp.secret = secret.ok_or("the otpauth URI has no secret")?;
        Ok(totp)
    }

    /// The code at `unix` seconds.
    pub fn code_at(&self, unix: u64) -> String {
        let counter = (unix / self.period).to_be_bytes();
        let mac = match self.algorithm {
            Algorithm::Sha1 => hmac_with!(sha1::Sha1, &self.secret, &counter),
            Algorithm::Sha256 => hmac_with!(sha2::Sha256, &self.secret, &counter),
            Algorithm::Sha512 => hmac_with!(sha2::Sha512, &self.secret, &counter),
        };
        let off = (mac[mac.len() - 1] & 0x0f) as usize;
        let bin = u32::from_be_bytes([mac[off] & 0x7f, mac[off + 1], mac[off + 2], mac[off + 3]]);
        let code = bin % 10u32.pow(self.digits);
        format!("{code:0width$}", width = self.digits as usize)
    }

    /// Seconds until the code at `unix` changes.
    pub fn seconds_left(&self, unix: u64) -> u64 {
        self.period - unix % self.period
    }
}

fn strip_prefix_ci<'a>(s: &'a str, prefix: &str) -> Option<&'a str> {
    let head = s.get(..prefix.len())?;
    head.eq_ignore_ascii_case(prefix)
        .then(|| &s[prefix.len()..])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn b32(bytes: &[u8]) -> String {
        const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
        let mut out = String::new();
        let (mut acc, mut bits) = (0u32, 0);
        for &b in bytes {
            acc = (acc << 8) | b as u32;
            bits += 8;
            while bits >= 5 {
                bits -= 5;
                out.push(A[((acc >> bits) & 31) as usize] as char);
            }
        }
        if bits > 0 {
            out.push(A[((acc << (5 - bits)) & 31) as usize] as char);
        }
        out
    }

    /// RFC 6238 Appendix B, all three algorithms, 8 digits.
    #[test]
    fn rfc_6238_vectors() {
        let seeds = [
            ("SHA1", b"12345678901234567890".to_vec()),
            ("SHA256", b"12345678901234567890123456789012".to_vec()),
            (
                "SHA512",
                b"1234567890123456789012345678901234567890123456789012345678901234".to_vec(),
            ),
        ];
        let table: [(u64, [&str; 3]); 6] = [
            (59, ["94287082", "46119246", "90693936"]),
            (1111111109, ["07081804", "68084774", "25091201"]),
            (1111111111, ["14050471", "67062674", "99943326"]),
            (1234567890, ["89005924", "91819424", "93441116"]),
            (2000000000, ["69279037", "90698825", "38618901"]),
            (20000000000, ["65353130", "77737706", "47863826"]),
        ];
        for (i, (alg, seed)) in seeds.iter().enumerate() {
            let uri = format!(
                "otpauth://totp/Ex:a@b?secret={}&algorithm={alg}&digits=8&period=30&issuer=Ex",
                b32(seed)
            );
            let t = Totp::parse(&uri).unwrap();
            for (time, codes) in &table {
                assert_eq!(t.code_at(*time), codes[i], "{alg} at {time}");
            }
        }
    }

    #[test]
    fn bare_secrets_and_options() {
        let t = Totp::parse("gezd gnbv gy3t qojq gezd gnbv gy3t qojq").unwrap();
        assert_eq!((t.algorithm, t.digits, t.period), (Algorithm::Sha1, 6, 30));
        assert_eq!(t.code_at(59), "287082");
        assert_eq!(t.seconds_left(59), 1);
        let t = Totp::parse(
            "otpauth://totp/x?secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ&digits=7&period=60",
        )
        .unwrap();
        assert_eq!((t.digits, t.period), (7, 60));
        assert_eq!(t.code_at(1111111109).len(), 7);
        for bad in [
            "",
            "not base32!",
            "otpauth://hotp/x?secret=GEZD",
            "otpauth://totp/x?digits=6",
            "otpauth://totp/x?secret=GEZD&digits=9",
            "otpauth://totp/x?secret=GEZD&period=0",
            "otpauth://totp/x?secret=GEZD&algorithm=MD5",
        ] {
            assert!(Totp::parse(bad).is_err(), "{bad}");
        }
    }
}
