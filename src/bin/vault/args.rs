//! The argument definitions of `vault`: every command and option, with the
//! help text argh prints. Nothing here runs; `commands.rs` does.

use argh::{ArgsInfo, FromArgs};

use vaultd::client::generate;

/// vault: a zero-knowledge password manager client for vaultd. The master
/// password comes from VAULT_PASSWORD or a prompt; nothing secret is written
/// to disk. Global options go before the command.
#[derive(FromArgs, ArgsInfo)]
pub struct Args {
    /// server URL (env VAULT_SERVER; default http://127.0.0.1:8080)
    #[argh(option)]
    pub server: Option<String>,
    /// account name (env VAULT_USERNAME)
    #[argh(option)]
    pub username: Option<String>,
    /// profile of $XDG_CONFIG_HOME/vault/config.json holding server and
    /// username (env VAULT_PROFILE; default "default")
    #[argh(option)]
    pub profile: Option<String>,
    /// PEM certificate to trust for an https:// server with a self-signed
    /// certificate (env VAULT_CA_FILE)
    #[argh(option)]
    pub ca_file: Option<std::path::PathBuf>,
    #[argh(subcommand)]
    pub command: Command,
}

#[derive(FromArgs, ArgsInfo)]
#[argh(subcommand)]
pub enum Command {
    Register(Register),
    Add(Add),
    Get(Get),
    Ls(Ls),
    Edit(EditCmd),
    Rm(Rm),
    Generate(Generate),
    Passwd(Passwd),
    Export(Export),
    Import(Import),
    Logout(Logout),
    Unregister(Unregister),
    Completions(Completions),
}

/// create an account (master password asked twice)
#[derive(FromArgs, ArgsInfo)]
#[argh(subcommand, name = "register")]
pub struct Register {
    /// invite code, when the server's signups are closed
    #[argh(option)]
    pub invite: Option<String>,
}

/// add an entry; its password comes from stdin when stdin is not a
/// terminal, else from a prompt, or is generated
#[derive(FromArgs, ArgsInfo)]
#[argh(subcommand, name = "add")]
pub struct Add {
    /// the site, e.g. mail.example.org (case and surrounding spaces ignored)
    #[argh(positional)]
    pub site: String,
    /// the entry's username
    #[argh(option)]
    pub username: Option<String>,
    /// generate the password
    #[argh(switch)]
    pub generate: bool,
    /// length of the generated password (default 24)
    #[argh(option)]
    pub length: Option<usize>,
    /// generate letters and digits only
    #[argh(switch)]
    pub no_symbols: bool,
}

/// print an entry's password (or username), and only that, on stdout
#[derive(FromArgs, ArgsInfo)]
#[argh(subcommand, name = "get")]
pub struct Get {
    /// the site
    #[argh(positional)]
    pub site: String,
    /// field to print: password (default) or username
    #[argh(option, default = "String::from(\"password\")")]
    pub field: String,
    /// print the whole entry as JSON
    #[argh(switch)]
    pub json: bool,
}

/// list the sites, sorted
#[derive(FromArgs, ArgsInfo)]
#[argh(subcommand, name = "ls")]
pub struct Ls {
    /// print JSON (site, username, version, updated_at; no passwords)
    #[argh(switch)]
    pub json: bool,
}

/// change an entry (fails if it changed elsewhere meanwhile); without
/// options, asks for the new password
#[derive(FromArgs, ArgsInfo)]
#[argh(subcommand, name = "edit")]
pub struct EditCmd {
    /// the site
    #[argh(positional)]
    pub site: String,
    /// new username ("" clears it)
    #[argh(option)]
    pub username: Option<String>,
    /// generate a new password
    #[argh(switch)]
    pub generate: bool,
    /// length of the generated password (default 24)
    #[argh(option)]
    pub length: Option<usize>,
    /// generate letters and digits only
    #[argh(switch)]
    pub no_symbols: bool,
    /// read the new password from stdin
    #[argh(switch)]
    pub password_stdin: bool,
}

/// delete an entry
#[derive(FromArgs, ArgsInfo)]
#[argh(subcommand, name = "rm")]
pub struct Rm {
    /// the site
    #[argh(positional)]
    pub site: String,
}

/// print a random password (OS CSPRNG, unbiased)
#[derive(FromArgs, ArgsInfo)]
#[argh(subcommand, name = "generate")]
pub struct Generate {
    /// length (default 24)
    #[argh(option, default = "generate::DEFAULT_LENGTH")]
    pub length: usize,
    /// letters and digits only
    #[argh(switch)]
    pub no_symbols: bool,
}

/// change the master password (new one from VAULT_NEW_PASSWORD or asked
/// twice); ends every other session
#[derive(FromArgs, ArgsInfo)]
#[argh(subcommand, name = "passwd")]
pub struct Passwd {}

/// print every entry, every field, decrypted as JSON on stdout (keep it
/// safe!), or with --encrypted write it sealed under a password you choose
#[derive(FromArgs, ArgsInfo)]
#[argh(subcommand, name = "export")]
pub struct Export {
    /// write an encrypted export to this file instead (password from
    /// VAULT_EXPORT_PASSWORD or asked twice); `vault import` reads it
    #[argh(option)]
    pub encrypted: Option<String>,
}

/// import from another password manager's export or vault's own ("-" for
/// stdin): Bitwarden JSON/CSV, KeePass KDBX, KeePassXC CSV, 1Password 1PUX,
/// LastPass, Chrome/Edge and Firefox CSV. Exit 5 when some items were not
/// imported (each is listed)
#[derive(FromArgs, ArgsInfo)]
#[argh(subcommand, name = "import")]
pub struct Import {
    /// the file
    #[argh(positional)]
    pub file: String,
    /// the format, when not detected: vault, vault-encrypted,
    /// bitwarden-json, bitwarden-csv, keepass, keepassxc-csv,
    /// 1password-1pux, lastpass-csv, chrome-csv, firefox-csv
    #[argh(option)]
    pub format: Option<String>,
    /// print what would be imported and what would not be kept; write nothing
    #[argh(switch)]
    pub dry_run: bool,
    /// when a name is taken: rename (default, "GitHub (2)"), skip or overwrite
    #[argh(option, default = "String::from(\"rename\")")]
    pub on_duplicate: String,
    /// a KeePass key file (with or without a database password)
    #[argh(option)]
    pub key_file: Option<std::path::PathBuf>,
}

/// end every session of the account
#[derive(FromArgs, ArgsInfo)]
#[argh(subcommand, name = "logout")]
pub struct Logout {}

/// delete the account and every entry on the server, for good
#[derive(FromArgs, ArgsInfo)]
#[argh(subcommand, name = "unregister")]
pub struct Unregister {
    /// confirm: without it nothing is deleted
    #[argh(switch)]
    pub yes: bool,
}

/// print a completion script: bash, zsh or fish
#[derive(FromArgs, ArgsInfo)]
#[argh(subcommand, name = "completions")]
pub struct Completions {
    /// the shell
    #[argh(positional)]
    pub shell: String,
}
