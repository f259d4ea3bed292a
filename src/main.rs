//! `vaultd`: flags → configuration → serve (or a maintenance subcommand).

use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;

use argh::FromArgs;

use vaultd::api::{App, account};
use vaultd::auth::limiter::Limiter;
use vaultd::auth::opaque::{CredentialIds, LoginStateSeal};
use vaultd::auth::token::TokenKeys;
use vaultd::config::{self, Config, Settings, Signups};
use vaultd::http::{self, ServeOptions};
use vaultd::store::{self, Store, unix_now};

/// vaultd: a small self-hosted zero-knowledge password manager server.
/// Every flag can also be set with the environment variable in brackets.
#[derive(FromArgs)]
struct Flags {
    /// address and port to listen on [VAULTD_BIND] (default 127.0.0.1:8080)
    #[argh(option)]
    bind: Option<String>,
    /// worker threads [VAULTD_THREADS] (default: two per core)
    #[argh(option)]
    threads: Option<usize>,
    /// connections open at once; one more is answered 503 [VAULTD_MAX_CONNECTIONS] (default 512)
    #[argh(option)]
    max_connections: Option<usize>,
    /// create .env (if absent) and the database schema (if missing), then serve [VAULTD_INIT_DB=1]
    #[argh(switch)]
    init_db: bool,
    /// database.ini with a [postgresql] section [VAULTD_DATABASE_INI] (default ./database.ini)
    #[argh(option)]
    database_ini: Option<std::path::PathBuf>,
    /// file holding JWT_KEY and OPAQUE_SERVER_SETUP [VAULTD_ENV_FILE] (default ./.env)
    #[argh(option)]
    env_file: Option<std::path::PathBuf>,
    /// directory of the embedded SQLite database vaultd.db [VAULTD_DATA_DIR] (default .)
    #[argh(option)]
    data_dir: Option<std::path::PathBuf>,
    /// lifetime of a session token in seconds [VAULTD_SESSION_TTL] (default 3600)
    #[argh(option)]
    session_ttl: Option<u64>,
    /// open (default) or closed: registration then needs an invite from `vaultd invite` [VAULTD_SIGNUPS]
    #[argh(option)]
    signups: Option<Signups>,
    /// take the client address from the last X-Forwarded-For entry (behind a reverse proxy) [VAULTD_TRUST_PROXY=1]
    #[argh(switch)]
    trust_proxy: bool,
    /// PEM certificate chain to serve HTTPS [VAULTD_TLS_CERT]
    #[argh(option)]
    tls_cert: Option<std::path::PathBuf>,
    /// PEM private key to serve HTTPS [VAULTD_TLS_KEY]
    #[argh(option)]
    tls_key: Option<std::path::PathBuf>,
    /// auto: HTTPS with a local CA in <data-dir>/tls and certificates vaultd renews [VAULTD_TLS]
    #[argh(option)]
    tls: Option<String>,
    /// with --tls auto, one more name or address for the certificate (repeatable) [VAULTD_TLS_NAMES=a,b]
    #[argh(option)]
    tls_name: Vec<String>,
    /// with --tls auto, a plain-http set-up page (the CA) on ADDR:PORT; all else redirects to HTTPS [VAULTD_TLS_SETUP_BIND]
    #[argh(option)]
    tls_setup_bind: Option<String>,
    /// on (default) or off: serve the browser client at / and /web/ [VAULTD_WEB_VAULT]
    #[argh(option)]
    web_vault: Option<config::OnOff>,
    #[argh(subcommand)]
    command: Option<Command>,
}

#[derive(FromArgs)]
#[argh(subcommand)]
enum Command {
    Invite(InviteCommand),
    Backup(BackupCommand),
    Restore(RestoreCommand),
    Ca(CaCommand),
}

/// Print the CA certificate of --tls auto (for `vault --ca-file` and your
/// devices) and its SHA-256 fingerprint.
#[derive(FromArgs)]
#[argh(subcommand, name = "ca")]
struct CaCommand {
    /// also print the set-up address as a QR code
    #[argh(switch)]
    qr: bool,
}

/// Write a consistent snapshot of the SQLite database to a new file, while
/// vaultd serves. Back up .env too: without it the backup cannot be used.
#[derive(FromArgs)]
#[argh(subcommand, name = "backup")]
struct BackupCommand {
    /// the new backup file
    #[argh(positional)]
    path: std::path::PathBuf,
}

/// Put a backup made by `vaultd backup` in place of the SQLite database.
#[derive(FromArgs)]
#[argh(subcommand, name = "restore")]
struct RestoreCommand {
    /// the backup file
    #[argh(positional)]
    path: std::path::PathBuf,
}

/// Print a one-time invite code for registration with closed signups.
#[derive(FromArgs)]
#[argh(subcommand, name = "invite")]
struct InviteCommand {
    /// hours the invite stays valid (default 72)
    #[argh(option, default = "72")]
    hours: u32,
}

fn main() -> ExitCode {
    // A panic is a bug; its message could hold data, so log only where it
    // happened. The request answers 500 (http.rs) and the worker lives on.
    std::panic::set_hook(Box::new(|info| {
        let at = info
            .location()
            .map_or_else(String::new, |l| format!(" at {}:{}", l.file(), l.line()));
        eprintln!("vaultd: internal error{at}");
    }));
    let flags: Flags = argh::from_env();
    match run(flags) {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("vaultd: {message}");
            ExitCode::FAILURE
        }
    }
}

fn run(flags: Flags) -> Result<(), String> {
    let settings = Settings {
        bind: flags.bind,
        threads: flags.threads,
        max_connections: flags.max_connections,
        init_db: flags.init_db,
        database_ini: flags.database_ini,
        env_file: flags.env_file,
        data_dir: flags.data_dir,
        session_ttl: flags.session_ttl,
        signups: flags.signups,
        trust_proxy: flags.trust_proxy,
        tls_cert: flags.tls_cert,
        tls_key: flags.tls_key,
        tls_mode: flags.tls,
        tls_names: flags.tls_name,
        tls_setup_bind: flags.tls_setup_bind,
        web_vault: flags.web_vault,
    };
    let config = settings.resolve()?;
    match flags.command {
        None => serve(config),
        Some(Command::Invite(invite)) => make_invite(&config, invite.hours),
        Some(Command::Ca(c)) => vaultd::tls::print_ca(
            &config.data_dir,
            config.tls_auto.as_ref(),
            config.bind,
            c.qr,
        ),
        Some(Command::Backup(b)) => {
            store::sqlite_backup(sqlite_path(&config)?, &b.path)?;
            eprintln!(
                "vaultd: backed up to {}; keep a copy of {} with it",
                b.path.display(),
                config.env_file.display()
            );
            Ok(())
        }
        Some(Command::Restore(r)) => {
            store::sqlite_restore(&r.path, sqlite_path(&config)?)?;
            eprintln!(
                "vaultd: restored from {}; it needs the .env it was made with",
                r.path.display()
            );
            Ok(())
        }
    }
}

fn sqlite_path(config: &Config) -> Result<&std::path::Path, String> {
    match &config.database {
        store::Database::Sqlite(path) => Ok(path),
        store::Database::Postgres(_) => Err(
            "backup and restore are for the embedded SQLite; for PostgreSQL use \
             pg_dump --format=custom and pg_restore"
                .into(),
        ),
    }
}

fn open_store(config: &Config) -> Result<Box<dyn Store>, String> {
    let store = store::open(&config.database, config.threads as u32, config.init_db)?;
    store.prepare(config.init_db).map_err(|e| e.to_string())?;
    Ok(store)
}

fn serve(config: Config) -> Result<(), String> {
    // As many arenas as cores: no more threads than that allocate at once,
    // and every connection thread would otherwise keep one of its own.
    vaultd::memory::limit_arenas(std::thread::available_parallelism().map_or(2, |n| n.get()));
    let store = open_store(&config)?;
    let secrets_in_environment = std::env::var_os("OPAQUE_SERVER_SETUP").is_some();
    if config.init_db && !config.env_file.exists() && !secrets_in_environment {
        // New secrets would lock every existing user out for good.
        if store.has_users().map_err(|e| e.to_string())? {
            return Err(format!(
                "{} is missing but the database has accounts: restore .env from your backup \
                 (new secrets would lock every user out)",
                config.env_file.display()
            ));
        }
        if config::create_env_file_if_missing(&config.env_file)? {
            eprintln!(
                "vaultd: created {} with fresh secrets; back it up with the database",
                config.env_file.display()
            );
        }
    }
    let secrets = config::load_secrets(&config.env_file)?;
    let app = Arc::new(App {
        store,
        tokens: TokenKeys::new(&secrets.jwt_key, config.session_ttl),
        login_seal: LoginStateSeal::new(&secrets.jwt_key),
        credential_ids: CredentialIds::new(&secrets.jwt_key),
        server_setup: secrets.server_setup,
        signups: config.signups,
        limiter: Limiter::default(),
    });
    // Before "listening": a supervisor may stop us as soon as it sees that.
    let stop = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGTERM, signal_hook::consts::SIGINT] {
        signal_hook::flag::register(signal, stop.clone())
            .map_err(|e| format!("cannot install a signal handler: {e}"))?;
    }
    let server = bind(&config, &stop)?;
    let tls = config.tls.is_some() || config.tls_auto.is_some();
    let scheme = if tls { "https" } else { "http" };
    let addr = server
        .server_addr()
        .to_ip()
        .map_or_else(|| config.bind.to_string(), |a| a.to_string());
    eprintln!(
        "vaultd: listening on {scheme}://{addr} ({}, {} threads)",
        describe(&config.database),
        config.threads
    );
    let options = ServeOptions {
        threads: config.threads,
        max_connections: config.max_connections,
        trust_proxy: config.trust_proxy,
        hsts: tls,
        web_vault: config.web_vault,
    };
    http::serve(server, app, options, stop)?;
    eprintln!("vaultd: stopped");
    Ok(())
}

fn describe(database: &store::Database) -> String {
    match database {
        store::Database::Sqlite(path) => format!("SQLite at {}", path.display()),
        store::Database::Postgres(pg) => {
            format!("PostgreSQL {} at {}:{}", pg.database, pg.host, pg.port)
        }
    }
}

fn bind(config: &Config, stop: &Arc<AtomicBool>) -> Result<tiny_http::Server, String> {
    if let Some(auto) = &config.tls_auto {
        return vaultd::tls::bind(auto, config.bind, stop);
    }
    let cannot = |e: Box<dyn std::error::Error + Send + Sync>| {
        format!("cannot listen on {}: {e}", config.bind)
    };
    match &config.tls {
        None => tiny_http::Server::http(config.bind).map_err(cannot),
        Some((cert, key)) => bind_tls(config, cert, key).and_then(|r| r.map_err(cannot)),
    }
}

#[cfg(feature = "tls")]
type BindResult = Result<tiny_http::Server, Box<dyn std::error::Error + Send + Sync>>;

#[cfg(feature = "tls")]
fn bind_tls(
    config: &Config,
    cert: &std::path::Path,
    key: &std::path::Path,
) -> Result<BindResult, String> {
    let read = |p: &std::path::Path| {
        std::fs::read(p).map_err(|e| format!("{}: cannot read it: {e}", p.display()))
    };
    let ssl = tiny_http::SslConfig {
        certificate: read(cert)?,
        private_key: read(key)?,
    };
    Ok(tiny_http::Server::https(config.bind, ssl))
}

#[cfg(not(feature = "tls"))]
fn bind_tls(
    _config: &Config,
    _cert: &std::path::Path,
    _key: &std::path::Path,
) -> Result<Result<tiny_http::Server, Box<dyn std::error::Error + Send + Sync>>, String> {
    Err("this vaultd was built without the `tls` feature".into())
}

fn make_invite(config: &Config, hours: u32) -> Result<(), String> {
    let store = open_store(config)?;
    let code = account::new_invite_code();
    let expires_at = unix_now() + i64::from(hours) * 3600;
    store
        .create_invite(&account::invite_hash(&code), expires_at)
        .map_err(|e| e.to_string())?;
    println!("{code}");
    eprintln!("vaultd: invite valid for {hours} hours; it is spent by one registration");
    Ok(())
}
