//! Configuration: flags > environment variables > files > defaults.
//!
//! `database.ini` chooses the database (a `[postgresql]` section, as in the
//! original Flask server; otherwise the embedded SQLite), `.env` holds the two
//! secrets. Everything here fails with one line that names the fix.

use std::fs;
use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::RngCore;

use crate::auth::opaque::ServerSetup;
use crate::store::{Database, PgSettings, SslMode};

/// The shortest `JWT_KEY` accepted (HS256 wants at least 256 bits).
pub const MIN_JWT_KEY_LEN: usize = 32;
/// OPRF seed (64) || server private key (32) || dummy public key (32), the
/// layout `npx @serenity-kit/opaque create-server-setup` prints too.
pub const SERVER_SETUP_LEN: usize = 128;

/// Who may register.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Signups {
    Open,
    /// Only with a one-time invite from `vaultd invite`.
    Closed,
}

impl std::str::FromStr for Signups {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "open" => Ok(Signups::Open),
            "closed" => Ok(Signups::Closed),
            _ => Err(format!("signups must be `open` or `closed`, not `{s}`")),
        }
    }
}

/// `on` or `off` (`--web-vault`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OnOff(pub bool);

impl std::str::FromStr for OnOff {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "on" => Ok(OnOff(true)),
            "off" => Ok(OnOff(false)),
            _ => Err(format!("must be `on` or `off`, not `{s}`")),
        }
    }
}

/// Everything the server needs to run, secrets excepted.
#[derive(Debug, Clone)]
pub struct Config {
    pub bind: SocketAddr,
    pub threads: usize,
    pub max_connections: usize,
    pub init_db: bool,
    pub database: Database,
    pub env_file: PathBuf,
    pub session_ttl: u64,
    pub signups: Signups,
    pub trust_proxy: bool,
    pub tls: Option<(PathBuf, PathBuf)>,
    /// `--tls auto` (src/tls): a local CA and certificates vaultd renews.
    pub tls_auto: Option<crate::tls::AutoTls>,
    /// `--data-dir`: SQLite's file and `--tls auto`'s `tls/` live here.
    pub data_dir: PathBuf,
    /// Serve the browser client (`--web-vault`, default on).
    pub web_vault: bool,
}

/// The two secrets of `.env`. Never logged, never stored in the database.
pub struct Secrets {
    pub jwt_key: Vec<u8>,
    pub server_setup: ServerSetup,
}

impl std::fmt::Debug for Secrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secrets(..)")
    }
}

/// The raw settings from flags and environment, before files are read.
/// Each `None` falls back to the environment variable, then the default.
#[derive(Debug, Default, Clone)]
pub struct Settings {
    pub bind: Option<String>,
    pub threads: Option<usize>,
    pub max_connections: Option<usize>,
    pub init_db: bool,
    pub database_ini: Option<PathBuf>,
    pub env_file: Option<PathBuf>,
    pub data_dir: Option<PathBuf>,
    pub session_ttl: Option<u64>,
    pub signups: Option<Signups>,
    pub trust_proxy: bool,
    pub tls_cert: Option<PathBuf>,
    pub tls_key: Option<PathBuf>,
    /// `--tls auto`
    pub tls_mode: Option<String>,
    pub tls_names: Vec<String>,
    pub tls_setup_bind: Option<String>,
    pub web_vault: Option<OnOff>,
}

/// Reads `VAULTD_<NAME>` from the environment, parsed.
fn from_env<T: std::str::FromStr>(name: &str) -> Result<Option<T>, String>
where
    T::Err: std::fmt::Display,
{
    match std::env::var(name) {
        Ok(v) if !v.is_empty() => v
            .parse()
            .map(Some)
            .map_err(|e| format!("environment variable {name}: {e}")),
        _ => Ok(None),
    }
}

fn env_flag(name: &str) -> bool {
    matches!(
        std::env::var(name).as_deref(),
        Ok("1" | "true" | "yes" | "on")
    )
}

impl Settings {
    /// Resolves flags, environment and `database.ini` into a `Config`.
    pub fn resolve(self) -> Result<Config, String> {
        let bind_text = match self.bind {
            Some(b) => b,
            None => from_env("VAULTD_BIND")?.unwrap_or_else(|| "127.0.0.1:8080".to_string()),
        };
        let bind = bind_text.parse::<SocketAddr>().map_err(|_| {
            format!("--bind: `{bind_text}` is not an ADDRESS:PORT such as 127.0.0.1:8080")
        })?;
        let threads = match self.threads {
            Some(n) => n,
            None => from_env("VAULTD_THREADS")?.unwrap_or_else(default_threads),
        };
        if threads == 0 || threads > 1024 {
            return Err("--threads must be between 1 and 1024".into());
        }
        let max_connections = match self.max_connections {
            Some(n) => n,
            None => from_env("VAULTD_MAX_CONNECTIONS")?.unwrap_or(DEFAULT_MAX_CONNECTIONS),
        };
        if max_connections == 0 || max_connections > 65_536 {
            return Err("--max-connections must be between 1 and 65536".into());
        }
        let path = |flag: Option<PathBuf>, var: &str, default: &str| -> Result<PathBuf, String> {
            Ok(flag
                .or(from_env(var)?)
                .unwrap_or_else(|| PathBuf::from(default)))
        };
        let database_ini = path(self.database_ini, "VAULTD_DATABASE_INI", "database.ini")?;
        let env_file = path(self.env_file, "VAULTD_ENV_FILE", ".env")?;
        let data_dir = path(self.data_dir, "VAULTD_DATA_DIR", ".")?;
        let session_ttl = match self.session_ttl {
            Some(t) => t,
            None => from_env("VAULTD_SESSION_TTL")?.unwrap_or(3600),
        };
        if !(60..=30 * 86400).contains(&session_ttl) {
            return Err("--session-ttl must be between 60 and 2592000 seconds".into());
        }
        let signups = match self.signups {
            Some(s) => s,
            None => from_env("VAULTD_SIGNUPS")?.unwrap_or(Signups::Open),
        };
        let tls_cert = self.tls_cert.or(from_env("VAULTD_TLS_CERT")?);
        let tls_key = self.tls_key.or(from_env("VAULTD_TLS_KEY")?);
        let tls = match (tls_cert, tls_key) {
            (Some(c), Some(k)) => Some((c, k)),
            (None, None) => None,
            _ => return Err("--tls-cert and --tls-key go together".into()),
        };
        let tls_auto = crate::tls::AutoTls::resolve(
            self.tls_mode,
            self.tls_names,
            self.tls_setup_bind,
            &data_dir,
        )?;
        if tls.is_some() && tls_auto.is_some() {
            return Err("--tls auto and --tls-cert/--tls-key exclude each other".into());
        }
        Ok(Config {
            bind,
            threads,
            max_connections,
            init_db: self.init_db || env_flag("VAULTD_INIT_DB"),
            database: read_database_ini(&database_ini, &data_dir)?,
            data_dir,
            env_file,
            session_ttl,
            signups,
            trust_proxy: self.trust_proxy || env_flag("VAULTD_TRUST_PROXY"),
            tls,
            tls_auto,
            web_vault: match self.web_vault {
                Some(OnOff(on)) => on,
                None => from_env::<OnOff>("VAULTD_WEB_VAULT")?.is_none_or(|v| v.0),
            },
        })
    }
}

/// Connections open at once (API.md); each has a thread and two descriptors.
pub const DEFAULT_MAX_CONNECTIONS: usize = 512;

/// Two workers per core: a worker whose write waits for the disk's fsync
/// (milliseconds on an SD card) uses no CPU, and the writes waiting together
/// share one commit (see store/sqlite.rs), while the other workers keep
/// answering reads.
pub fn default_threads() -> usize {
    2 * std::thread::available_parallelism().map_or(2, |n| n.get())
}

/// `[postgresql]` in `database.ini` selects PostgreSQL; no file (or no such
/// section) means SQLite at `<data_dir>/vaultd.db`.
pub fn read_database_ini(path: &Path, data_dir: &Path) -> Result<Database, String> {
    let sqlite = Database::Sqlite(data_dir.join("vaultd.db"));
    if !path.exists() {
        return Ok(sqlite);
    }
    let ini = ini::Ini::load_from_file(path)
        .map_err(|e| format!("{}: cannot read it: {e}", path.display()))?;
    let Some(section) = ini.section(Some("postgresql")) else {
        return Ok(sqlite);
    };
    let get = |key: &str| section.get(key).map(str::to_string);
    let need = |key: &str| {
        get(key).ok_or_else(|| format!("{}: [postgresql] needs a `{key}` line", path.display()))
    };
    let port = match get("port") {
        Some(p) => p
            .parse()
            .map_err(|_| format!("{}: port `{p}` is not a number", path.display()))?,
        None => 5432,
    };
    let sslmode = match get("sslmode") {
        Some(m) => m
            .parse::<SslMode>()
            .map_err(|e| format!("{}: {e}", path.display()))?,
        None => SslMode::Prefer,
    };
    Ok(Database::Postgres(PgSettings {
        host: get("host").unwrap_or_else(|| "localhost".to_string()),
        port,
        user: need("user")?,
        password: get("password").unwrap_or_default(),
        database: need("database")?,
        sslmode,
    }))
}

/// The `JWT_KEY` line of `.env.example`: a key everyone can read, so a
/// token forged with it would be accepted (API.md, Sessions).
pub const PLACEHOLDER_JWT_KEY: &str = "replace-with-at-least-32-random-characters";

/// Whether `value` is a placeholder of `.env.example` rather than a secret:
/// its exact `JWT_KEY`, anything else in its `replace-with-…` style, or an
/// empty value (its `OPAQUE_SERVER_SETUP=`).
fn is_placeholder(value: &str) -> bool {
    let value = value.trim();
    value.is_empty() || value == PLACEHOLDER_JWT_KEY || value.starts_with("replace-with")
}

/// Refuses a `.env` that users other than its owner may read or write: it
/// holds the keys to every session and every login.
#[cfg(unix)]
fn check_env_file_mode(env_file: &Path, metadata: &fs::Metadata) -> Result<(), String> {
    use std::os::unix::fs::PermissionsExt;
    let mode = metadata.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        return Err(format!(
            "{path} may be read or written by other users (mode {mode:04o}): \
             run `chmod 600 {path}`",
            path = env_file.display()
        ));
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_env_file_mode(_: &Path, _: &fs::Metadata) -> Result<(), String> {
    Ok(())
}

/// The `KEY=VALUE` lines of `.env`, after checking its mode; none when
/// there is no such file (the environment may hold both secrets).
fn read_env_file(env_file: &Path) -> Result<Vec<(String, String)>, String> {
    let cannot = |e: std::io::Error| format!("{}: cannot read it: {e}", env_file.display());
    let metadata = match fs::metadata(env_file) {
        Ok(m) => m,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(cannot(e)),
    };
    check_env_file_mode(env_file, &metadata)?;
    fs::read_to_string(env_file)
        .map(|text| parse_env_file(&text))
        .map_err(cannot)
}

/// Reads the two secrets: the process environment first, then the `.env`
/// file.
pub fn load_secrets(env_file: &Path) -> Result<Secrets, String> {
    let file = read_env_file(env_file)?;
    let lookup = |key: &str| {
        std::env::var(key)
            .ok()
            .filter(|v| !v.is_empty())
            .or_else(|| file.iter().find(|(k, _)| k == key).map(|(_, v)| v.clone()))
    };
    let hint = format!(
        "set it in {} (run `vaultd --init-db` once to create that file)",
        env_file.display()
    );
    let jwt_key = lookup("JWT_KEY").ok_or_else(|| format!("JWT_KEY is missing: {hint}"))?;
    if is_placeholder(&jwt_key) {
        return Err(format!(
            "JWT_KEY is the placeholder of .env.example, which anyone can read: set it in {} \
             to a long random value (e.g. the output of `openssl rand -base64 48`)",
            env_file.display()
        ));
    }
    if jwt_key.len() < MIN_JWT_KEY_LEN {
        return Err(format!(
            "JWT_KEY is shorter than {MIN_JWT_KEY_LEN} characters: use a long random value"
        ));
    }
    let setup = lookup("OPAQUE_SERVER_SETUP")
        .ok_or_else(|| format!("OPAQUE_SERVER_SETUP is missing: {hint}"))?;
    if is_placeholder(&setup) {
        return Err(format!(
            "OPAQUE_SERVER_SETUP is the placeholder of .env.example: restore {} from your \
             backup, or on a new server delete it and run `vaultd --init-db` once to create it",
            env_file.display()
        ));
    }
    let server_setup = decode_server_setup(&setup).ok_or_else(|| {
        "OPAQUE_SERVER_SETUP is malformed: it must be the base64url of a 128-byte server \
         setup (restore it from your backup of .env; a new one locks every user out)"
            .to_string()
    })?;
    Ok(Secrets {
        jwt_key: jwt_key.into_bytes(),
        server_setup,
    })
}

pub fn decode_server_setup(text: &str) -> Option<ServerSetup> {
    let bytes = URL_SAFE_NO_PAD.decode(text.trim()).ok()?;
    // opaque-ke ignores trailing bytes; a setup of another length is a
    // copy-and-paste accident, not a setup.
    if bytes.len() != SERVER_SETUP_LEN {
        return None;
    }
    ServerSetup::deserialize(&bytes).ok()
}

pub fn encode_server_setup(setup: &ServerSetup) -> String {
    URL_SAFE_NO_PAD.encode(setup.serialize())
}

/// `KEY=VALUE` lines; `#` comments, `export ` prefixes and surrounding quotes
/// are accepted, as dotenv files usually have them.
fn parse_env_file(text: &str) -> Vec<(String, String)> {
    text.lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .filter_map(|line| {
            let line = line.strip_prefix("export ").unwrap_or(line);
            let (key, value) = line.split_once('=')?;
            let value = value.trim();
            let value = value
                .strip_prefix('"')
                .and_then(|v| v.strip_suffix('"'))
                .or_else(|| value.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')))
                .unwrap_or(value);
            Some((key.trim().to_string(), value.to_string()))
        })
        .collect()
}

/// Creates `.env` with fresh random secrets, mode 0600, only when it does not
/// exist: replacing `OPAQUE_SERVER_SETUP` would lock every user out.
/// Returns whether a file was created.
pub fn create_env_file_if_missing(env_file: &Path) -> Result<bool, String> {
    let mut options = fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut file = match options.open(env_file) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => return Ok(false),
        Err(e) => return Err(format!("{}: cannot create it: {e}", env_file.display())),
    };
    let mut key = [0u8; 48];
    rand::rngs::OsRng.fill_bytes(&mut key);
    let setup = ServerSetup::new(&mut rand::rngs::OsRng);
    let text = format!(
        "# vaultd secrets. Back this file up with the database: without\n\
         # OPAQUE_SERVER_SETUP no user can log in again.\n\
         JWT_KEY={}\nOPAQUE_SERVER_SETUP={}\n",
        URL_SAFE_NO_PAD.encode(key),
        encode_server_setup(&setup)
    );
    file.write_all(text.as_bytes())
        .and_then(|()| file.sync_all())
        .map_err(|e| format!("{}: cannot write it: {e}", env_file.display()))?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn env_file_lines() {
        let parsed = parse_env_file(
            "# comment\nJWT_KEY=abc\nexport OPAQUE_SERVER_SETUP=\"xyz\"\n\nQ='v=1'\nbroken\n",
        );
        assert_eq!(
            parsed,
            vec![
                ("JWT_KEY".into(), "abc".into()),
                ("OPAQUE_SERVER_SETUP".into(), "xyz".into()),
                ("Q".into(), "v=1".into()),
            ]
        );
    }

    #[test]
    fn database_ini_selects_backend() {
        let dir = std::env::temp_dir().join(format!("vaultd-config-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let ini = dir.join("database.ini");
        assert!(
            matches!(read_database_ini(&ini, &dir), Ok(Database::Sqlite(p)) if p == dir.join("vaultd.db"))
        );
        fs::write(&ini, "[postgresql]\nhost=db\ndatabase=vault\nuser=u\npassword=p\nport=6543\nsslmode=require\n").unwrap();
        match read_database_ini(&ini, &dir).unwrap() {
            Database::Postgres(pg) => {
                assert_eq!(
                    (pg.host.as_str(), pg.port, pg.user.as_str()),
                    ("db", 6543, "u")
                );
                assert_eq!((pg.password.as_str(), pg.database.as_str()), ("p", "vault"));
                assert_eq!(pg.sslmode, SslMode::Require);
            }
            other => panic!("expected PostgreSQL, got {other:?}"),
        }
        fs::write(
            &ini,
            "[postgresql]\nhost=db\ndatabase=vault\nuser=u\nsslmode=maybe\n",
        )
        .unwrap();
        assert!(
            read_database_ini(&ini, &dir)
                .unwrap_err()
                .contains("sslmode")
        );
        fs::write(&ini, "[postgresql]\nhost=db\nuser=u\n").unwrap();
        assert!(
            read_database_ini(&ini, &dir)
                .unwrap_err()
                .contains("database")
        );
        fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn env_file_is_created_once_with_private_mode() {
        let dir = std::env::temp_dir().join(format!("vaultd-envfile-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let env = dir.join(".env");
        assert!(create_env_file_if_missing(&env).unwrap());
        let first = fs::read_to_string(&env).unwrap();
        assert!(!create_env_file_if_missing(&env).unwrap());
        assert_eq!(
            fs::read_to_string(&env).unwrap(),
            first,
            "an existing .env is never replaced"
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(
                fs::metadata(&env).unwrap().permissions().mode() & 0o777,
                0o600
            );
        }
        let secrets = load_secrets(&env).unwrap();
        assert!(secrets.jwt_key.len() >= MIN_JWT_KEY_LEN);
        assert_eq!(secrets.server_setup.serialize().len(), 128);
        fs::write(&env, "JWT_KEY=short\nOPAQUE_SERVER_SETUP=x\n").unwrap();
        assert!(load_secrets(&env).unwrap_err().contains("JWT_KEY"));
        fs::write(
            &env,
            format!("JWT_KEY={}\nOPAQUE_SERVER_SETUP=AAAA\n", "k".repeat(40)),
        )
        .unwrap();
        assert!(
            load_secrets(&env)
                .unwrap_err()
                .contains("OPAQUE_SERVER_SETUP is malformed")
        );
        fs::remove_dir_all(&dir).unwrap();
    }

    /// A private scratch `.env` holding `text`, mode 0600.
    fn private_env(tag: &str, text: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("vaultd-{tag}-{}", std::process::id()));
        fs::create_dir_all(&dir).unwrap();
        let env = dir.join(".env");
        let _ = fs::remove_file(&env);
        assert!(create_env_file_if_missing(&env).unwrap());
        fs::write(&env, text).unwrap();
        env
    }

    #[test]
    fn placeholders_of_env_example_are_refused() {
        let example = include_str!("../.env.example");
        assert!(example.contains(&format!("JWT_KEY={PLACEHOLDER_JWT_KEY}\n")));
        let env = private_env("example", example);
        let err = load_secrets(&env).unwrap_err();
        assert!(err.starts_with("JWT_KEY is the placeholder"), "{err}");
        assert!(!err.contains('\n'), "one line: {err}");
        // A real key, the setup left as in the example (empty).
        let real_key = format!("JWT_KEY={}\n", "k".repeat(40));
        let text = example.replace(&format!("JWT_KEY={PLACEHOLDER_JWT_KEY}\n"), &real_key);
        fs::write(&env, &text).unwrap();
        let err = load_secrets(&env).unwrap_err();
        assert!(
            err.starts_with("OPAQUE_SERVER_SETUP is the placeholder"),
            "{err}"
        );
        fs::write(
            &env,
            format!("{real_key}OPAQUE_SERVER_SETUP=replace-with-yours\n"),
        )
        .unwrap();
        let err = load_secrets(&env).unwrap_err();
        assert!(err.contains("--init-db"), "{err}");
        fs::remove_dir_all(env.parent().unwrap()).unwrap();
    }

    #[cfg(unix)]
    #[test]
    fn env_file_others_may_read_or_write_is_refused() {
        use std::os::unix::fs::PermissionsExt;
        let env = private_env("mode", "");
        fs::remove_file(&env).unwrap();
        assert!(create_env_file_if_missing(&env).unwrap());
        assert!(load_secrets(&env).is_ok());
        for mode in [0o644, 0o640, 0o604, 0o620, 0o602, 0o666] {
            fs::set_permissions(&env, fs::Permissions::from_mode(mode)).unwrap();
            let err = load_secrets(&env).unwrap_err();
            assert!(
                err.contains(&format!("mode {mode:04o}"))
                    && err.contains(&format!("chmod 600 {}", env.display())),
                "{mode:o}: {err}"
            );
        }
        for mode in [0o600, 0o400] {
            fs::set_permissions(&env, fs::Permissions::from_mode(mode)).unwrap();
            assert!(load_secrets(&env).is_ok(), "{mode:o}");
        }
        fs::remove_dir_all(env.parent().unwrap()).unwrap();
    }
}
