//! The argument definitions of `vault`: every command and option, with the
//! help text argh prints. Nothing here runs; `commands.rs` does.

use argh::{ArgsInfo, FromArgs};

use vaultd::client::generate;

/// vault: a zero-knowledge password manager client for vaultd. The master
/// password comes from VAULT_PASSWORD or a prompt; nothing secret is written
/// to disk. Global options go before the command.
#[derive(FromArgs, ArgsInfo)]
#[argh(help_triggers("-h", "--help", "help"))]
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
    /// print the version and exit
    #[argh(switch)]
    pub version: bool,
    /// stop with exit 4 when the vault does not match its manifest, instead
    /// of warning (env VAULT_STRICT=1, or "strict": true in the profile)
    #[argh(switch)]
    pub strict: bool,
    #[argh(subcommand)]
    pub command: Option<Command>,
}

#[derive(FromArgs, ArgsInfo)]
#[argh(subcommand)]
pub enum Command {
    Register(Register),
    Unlock(Unlock),
    Lock(Lock),
    Status(StatusCmd),
    Add(Add),
    Get(Get),
    Show(Show),
    Code(Code),
    Ls(Ls),
    Search(Search),
    Edit(EditCmd),
    History(History),
    Rm(Rm),
    Trash(Trash),
    Restore(Restore),
    Generate(Generate),
    Passwd(Passwd),
    Export(Export),
    Import(Import),
    Config(Config),
    Logout(Logout),
    Verify(Verify),
    Unregister(Unregister),
    Completions(Completions),
}

/// create an account (master password asked twice; at least 10 characters
/// and not easily guessed); saves server and username to the profile
#[derive(FromArgs, ArgsInfo)]
#[argh(subcommand, name = "register")]
#[argh(help_triggers("-h", "--help", "help"))]
pub struct Register {
    /// invite code, when the server's signups are closed
    #[argh(option)]
    pub invite: Option<String>,
}

/// What `add` and `edit` both take besides the password.
#[derive(Default)]
pub struct Details {
    pub kind: Option<String>,
    pub urls: Vec<String>,
    pub notes: Option<String>,
    pub notes_stdin: bool,
    pub totp: Option<String>,
    pub fields: Vec<String>,
    pub hidden_fields: Vec<String>,
    pub folder: Option<String>,
    pub favourite: bool,
}

/// add an entry; a login's password comes from stdin when stdin is not a
/// terminal, else from a prompt, or is generated
#[derive(FromArgs, ArgsInfo)]
#[argh(subcommand, name = "add")]
#[argh(help_triggers("-h", "--help", "help"))]
pub struct Add {
    /// the name, e.g. mail.example.org (case and surrounding spaces ignored)
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
    /// login (default), note, card or identity
    #[argh(option, long = "type")]
    pub kind: Option<String>,
    /// a URL of the entry (repeat for several)
    #[argh(option)]
    pub url: Vec<String>,
    /// notes (free text)
    #[argh(option)]
    pub notes: Option<String>,
    /// read the notes from stdin
    #[argh(switch)]
    pub notes_stdin: bool,
    /// TOTP secret: an otpauth:// URI or base32
    #[argh(option)]
    pub totp: Option<String>,
    /// a custom field NAME=VALUE (repeat for several)
    #[argh(option)]
    pub field: Vec<String>,
    /// a hidden custom field NAME=VALUE (repeat for several)
    #[argh(option)]
    pub hidden_field: Vec<String>,
    /// the folder
    #[argh(option)]
    pub folder: Option<String>,
    /// mark as a favourite
    #[argh(switch)]
    pub favourite: bool,
}

/// print one field of an entry (the password by default), and only that,
/// on stdout; SITE may also be a URL or an unambiguous part of a name
#[derive(FromArgs, ArgsInfo)]
#[argh(subcommand, name = "get")]
#[argh(help_triggers("-h", "--help", "help"))]
pub struct Get {
    /// the site, a URL, or part of a name
    #[argh(positional)]
    pub site: String,
    /// field to print: password (default), username, notes, totp, url, or
    /// a custom field's name
    #[argh(option)]
    pub field: Option<String>,
    /// print JSON: the whole entry, or {FIELD: value} with --field
    #[argh(switch)]
    pub json: bool,
    /// copy to the clipboard instead (cleared after 45 s)
    #[argh(switch, short = 'c')]
    pub clip: bool,
}

/// print every field of an entry; secrets masked unless --reveal
#[derive(FromArgs, ArgsInfo)]
#[argh(subcommand, name = "show")]
#[argh(help_triggers("-h", "--help", "help"))]
pub struct Show {
    /// the site
    #[argh(positional)]
    pub site: String,
    /// show passwords, hidden fields, TOTP secret, card number and code
    #[argh(switch)]
    pub reveal: bool,
    /// print JSON: every member of the entry, secrets masked unless revealed
    #[argh(switch)]
    pub json: bool,
}

/// print the entry's current TOTP code (and on a terminal the seconds left)
#[derive(FromArgs, ArgsInfo)]
#[argh(subcommand, name = "code")]
#[argh(help_triggers("-h", "--help", "help"))]
pub struct Code {
    /// the site
    #[argh(positional)]
    pub site: String,
}

/// list the entries, sorted (not those in the trash)
#[derive(FromArgs, ArgsInfo)]
#[argh(subcommand, name = "ls")]
#[argh(help_triggers("-h", "--help", "help"))]
pub struct Ls {
    /// print JSON (site, username, version, updated_at; no passwords)
    #[argh(switch)]
    pub json: bool,
}

/// find entries by name, username, URL or folder (substring, then fuzzy)
#[derive(FromArgs, ArgsInfo)]
#[argh(subcommand, name = "search")]
#[argh(help_triggers("-h", "--help", "help"))]
pub struct Search {
    /// what to look for
    #[argh(positional)]
    pub term: String,
    /// print JSON (as ls --json)
    #[argh(switch)]
    pub json: bool,
}

/// change an entry (fails if it changed elsewhere meanwhile); without
/// options, asks for the new password
#[derive(FromArgs, ArgsInfo)]
#[argh(subcommand, name = "edit")]
#[argh(help_triggers("-h", "--help", "help"))]
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
    /// new type: login, note, card or identity
    #[argh(option, long = "type")]
    pub kind: Option<String>,
    /// the entry's URLs, replacing the old ones (repeat for several; "" clears)
    #[argh(option)]
    pub url: Vec<String>,
    /// new notes ("" clears them)
    #[argh(option)]
    pub notes: Option<String>,
    /// read the new notes from stdin
    #[argh(switch)]
    pub notes_stdin: bool,
    /// new TOTP secret ("" clears it)
    #[argh(option)]
    pub totp: Option<String>,
    /// set custom field NAME=VALUE (NAME= removes it; repeatable)
    #[argh(option)]
    pub field: Vec<String>,
    /// set hidden custom field NAME=VALUE (repeatable)
    #[argh(option)]
    pub hidden_field: Vec<String>,
    /// new folder ("" clears it)
    #[argh(option)]
    pub folder: Option<String>,
    /// mark as a favourite
    #[argh(switch)]
    pub favourite: bool,
    /// no longer a favourite
    #[argh(switch)]
    pub no_favourite: bool,
    /// edit the whole entry in $EDITOR (a file on a memory file system only)
    #[argh(switch)]
    pub editor: bool,
}

/// list the entry's earlier passwords, newest first (masked unless --reveal)
#[derive(FromArgs, ArgsInfo)]
#[argh(subcommand, name = "history")]
#[argh(help_triggers("-h", "--help", "help"))]
pub struct History {
    /// the site
    #[argh(positional)]
    pub site: String,
    /// show the passwords
    #[argh(switch)]
    pub reveal: bool,
}

/// move an entry to the trash (or delete it for good with --purge)
#[derive(FromArgs, ArgsInfo)]
#[argh(subcommand, name = "rm")]
#[argh(help_triggers("-h", "--help", "help"))]
pub struct Rm {
    /// the site
    #[argh(positional)]
    pub site: String,
    /// delete from the server for good (asks first)
    #[argh(switch)]
    pub purge: bool,
    /// with --purge: do not ask
    #[argh(switch)]
    pub yes: bool,
}

/// list the entries in the trash
#[derive(FromArgs, ArgsInfo)]
#[argh(subcommand, name = "trash")]
#[argh(help_triggers("-h", "--help", "help"))]
pub struct Trash {
    /// print JSON (as ls --json)
    #[argh(switch)]
    pub json: bool,
}

/// take an entry out of the trash
#[derive(FromArgs, ArgsInfo)]
#[argh(subcommand, name = "restore")]
#[argh(help_triggers("-h", "--help", "help"))]
pub struct Restore {
    /// the site
    #[argh(positional)]
    pub site: String,
}

/// print a random password (OS CSPRNG, unbiased) or passphrase
#[derive(FromArgs, ArgsInfo)]
#[argh(subcommand, name = "generate")]
#[argh(help_triggers("-h", "--help", "help"))]
pub struct Generate {
    /// length (default 24)
    #[argh(option, default = "generate::DEFAULT_LENGTH")]
    pub length: usize,
    /// letters and digits only
    #[argh(switch)]
    pub no_symbols: bool,
    /// words from the EFF long word list instead
    #[argh(switch)]
    pub passphrase: bool,
    /// number of words (default 6)
    #[argh(option)]
    pub words: Option<usize>,
    /// between the words (default "-")
    #[argh(option)]
    pub separator: Option<String>,
}

/// change the master password (new one from VAULT_NEW_PASSWORD or asked
/// twice); ends every other session
#[derive(FromArgs, ArgsInfo)]
#[argh(subcommand, name = "passwd")]
#[argh(help_triggers("-h", "--help", "help"))]
pub struct Passwd {}

/// print every entry, every field, decrypted as JSON on stdout (keep it
/// safe!), or with --encrypted write it sealed under a password you choose
#[derive(FromArgs, ArgsInfo)]
#[argh(subcommand, name = "export")]
#[argh(help_triggers("-h", "--help", "help"))]
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
#[argh(help_triggers("-h", "--help", "help"))]
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

/// show the profile (server, username), or set one of them:
/// `vault config server URL`, `vault config username NAME`
#[derive(FromArgs, ArgsInfo)]
#[argh(subcommand, name = "config")]
#[argh(help_triggers("-h", "--help", "help"))]
pub struct Config {
    /// nothing (show), or `server URL` or `username NAME` (set)
    #[argh(positional)]
    pub setting: Vec<String>,
}

/// end every session of the account
#[derive(FromArgs, ArgsInfo)]
#[argh(subcommand, name = "logout")]
#[argh(help_triggers("-h", "--help", "help"))]
pub struct Logout {}

/// delete the account and every entry on the server, for good
#[derive(FromArgs, ArgsInfo)]
#[argh(subcommand, name = "unregister")]
#[argh(help_triggers("-h", "--help", "help"))]
pub struct Unregister {
    /// confirm: without it nothing is deleted
    #[argh(switch)]
    pub yes: bool,
}

/// check the vault against its manifest: exit 0 when it matches, 4 (one
/// line saying what is wrong) when not
#[derive(FromArgs, ArgsInfo)]
#[argh(subcommand, name = "verify")]
pub struct Verify {
    /// seal a fresh manifest over the vault as it is now, once you have
    /// checked that its entries are right
    #[argh(switch)]
    pub reseal: bool,
}

/// print a completion script: bash, zsh or fish
#[derive(FromArgs, ArgsInfo)]
#[argh(subcommand, name = "completions")]
#[argh(help_triggers("-h", "--help", "help"))]
pub struct Completions {
    /// the shell
    #[argh(positional)]
    pub shell: String,
}

/// log in once and keep the vault unlocked in a background agent of this
/// user: later commands need no master password until it locks
#[derive(FromArgs, ArgsInfo)]
#[argh(subcommand, name = "unlock")]
#[argh(help_triggers("-h", "--help", "help"))]
pub struct Unlock {
    /// lock after this long unused, e.g. 90s, 15m, 2h (default 15m)
    #[argh(option)]
    pub timeout: Option<String>,
}

/// lock the vault now: the agent wipes its keys and exits
#[derive(FromArgs, ArgsInfo)]
#[argh(subcommand, name = "lock")]
#[argh(help_triggers("-h", "--help", "help"))]
pub struct Lock {}

/// say whether the vault is unlocked, for whom, and until when (no secret)
#[derive(FromArgs, ArgsInfo)]
#[argh(subcommand, name = "status")]
#[argh(help_triggers("-h", "--help", "help"))]
pub struct StatusCmd {}

impl Add {
    pub fn details(&self) -> Details {
        Details {
            kind: self.kind.clone(),
            urls: self.url.clone(),
            notes: self.notes.clone(),
            notes_stdin: self.notes_stdin,
            totp: self.totp.clone(),
            fields: self.field.clone(),
            hidden_fields: self.hidden_field.clone(),
            folder: self.folder.clone(),
            favourite: self.favourite,
        }
    }
}

impl EditCmd {
    pub fn details(&self) -> Details {
        Details {
            kind: self.kind.clone(),
            urls: self.url.clone(),
            notes: self.notes.clone(),
            notes_stdin: self.notes_stdin,
            totp: self.totp.clone(),
            fields: self.field.clone(),
            hidden_fields: self.hidden_field.clone(),
            folder: self.folder.clone(),
            favourite: self.favourite,
        }
    }
}
