//! The `[postgresql]` settings of `database.ini`.

use std::fmt;
use std::str::FromStr;

/// Whether to talk TLS to the server, as libpq's `sslmode`.
///
/// As in libpq, `require` encrypts but does not verify the server's
/// certificate (that would be `verify-ca`/`verify-full`, not offered yet);
/// `prefer` tries TLS and falls back to plain text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum SslMode {
    Disable,
    /// libpq's default.
    #[default]
    Prefer,
    Require,
}

impl FromStr for SslMode {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "disable" => Ok(SslMode::Disable),
            "prefer" => Ok(SslMode::Prefer),
            "require" => Ok(SslMode::Require),
            _ => Err(format!(
                "invalid sslmode {s:?}: expected one of disable, prefer, require"
            )),
        }
    }
}

impl fmt::Display for SslMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SslMode::Disable => "disable",
            SslMode::Prefer => "prefer",
            SslMode::Require => "require",
        })
    }
}

/// Where the database is: the `[postgresql]` section of `database.ini`.
/// A `host` starting with `/` is a Unix socket directory.
#[derive(Clone, PartialEq, Eq)]
pub struct PgSettings {
    pub host: String,
    pub port: u16,
    pub user: String,
    pub password: String,
    pub database: String,
    pub sslmode: SslMode,
}

/// Never prints the password.
impl fmt::Debug for PgSettings {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PgSettings")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("user", &self.user)
            .field("password", &"<redacted>")
            .field("database", &self.database)
            .field("sslmode", &self.sslmode)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sslmode_parses_the_three_libpq_names() {
        assert_eq!("disable".parse(), Ok(SslMode::Disable));
        assert_eq!("prefer".parse(), Ok(SslMode::Prefer));
        assert_eq!("Require".parse(), Ok(SslMode::Require));
        let err = "verify-full".parse::<SslMode>().unwrap_err();
        assert!(err.contains("disable, prefer, require"), "{err}");
        for mode in [SslMode::Disable, SslMode::Prefer, SslMode::Require] {
            assert_eq!(mode.to_string().parse(), Ok(mode));
        }
    }

    #[test]
    fn settings_debug_hides_the_password() {
        let settings = PgSettings {
            host: "127.0.0.1".into(),
            port: 5432,
            user: "vaultd".into(),
            password: "hunter2-secret".into(),
            database: "vaultd".into(),
            sslmode: SslMode::Disable,
        };
        let shown = format!("{settings:?}");
        assert!(!shown.contains("hunter2-secret"), "{shown}");
        assert!(shown.contains("127.0.0.1"), "{shown}");
    }
}
