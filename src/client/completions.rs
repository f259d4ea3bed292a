//! Shell completion scripts for `vault` (argh generates none).
//! Keep them in step with the commands of `src/bin/vault.rs`.

/// The script for `shell` (`bash`, `zsh` or `fish`).
pub fn script(shell: &str) -> Option<&'static str> {
    match shell {
        "bash" => Some(BASH),
        "zsh" => Some(ZSH),
        "fish" => Some(FISH),
        _ => None,
    }
}

const BASH: &str = r#"# bash completion for vault: source it, or save it as
# ~/.local/share/bash-completion/completions/vault
_vault() {
    local cur prev cmd i opts
    cur="${COMP_WORDS[COMP_CWORD]}"
    prev="${COMP_WORDS[COMP_CWORD-1]}"
    cmd=""
    for ((i = 1; i < COMP_CWORD; i++)); do
        case "${COMP_WORDS[i]}" in
            --server|--username|--profile|--ca-file) ((i++)) ;;
            -*) ;;
            *) cmd="${COMP_WORDS[i]}"; break ;;
        esac
    done
    case "$prev" in
        --server|--username|--profile|--invite|--length) return 0 ;;
        --ca-file) COMPREPLY=($(compgen -f -- "$cur")); return 0 ;;
        --field) COMPREPLY=($(compgen -W "password username" -- "$cur")); return 0 ;;
        --format) COMPREPLY=($(compgen -W "vault vault-encrypted bitwarden-json bitwarden-csv keepass keepassxc-csv 1password-1pux lastpass-csv chrome-csv firefox-csv" -- "$cur")); return 0 ;;
        --on-duplicate) COMPREPLY=($(compgen -W "rename skip overwrite" -- "$cur")); return 0 ;;
        --key-file|--encrypted) COMPREPLY=($(compgen -f -- "$cur")); return 0 ;;
    esac
    case "$cmd" in
        "") opts="register add get ls edit rm generate passwd export import logout unregister completions --server --username --profile --ca-file --help" ;;
        register) opts="--invite" ;;
        add) opts="--username --generate --length --no-symbols" ;;
        get) opts="--field --json" ;;
        ls) opts="--json" ;;
        edit) opts="--username --generate --length --no-symbols --password-stdin" ;;
        generate) opts="--length --no-symbols" ;;
        unregister) opts="--yes" ;;
        import)
            if [[ "$cur" != -* ]]; then
                COMPREPLY=($(compgen -f -- "$cur")); return 0
            fi
            opts="--format --dry-run --on-duplicate --key-file" ;;
        export) opts="--encrypted" ;;
        completions) opts="bash zsh fish" ;;
        *) opts="" ;;
    esac
    COMPREPLY=($(compgen -W "$opts --help" -- "$cur"))
}
complete -F _vault vault
"#;

const ZSH: &str = r#"#compdef vault
# zsh completion for vault: save it as _vault in a directory of $fpath
_vault() {
    local curcontext="$curcontext" state line
    typeset -A opt_args
    _arguments -C \
        '--server[server URL]:url:' \
        '--username[account name]:username:' \
        '--profile[profile of the config file]:profile:' \
        '--ca-file[PEM certificate to trust]:file:_files' \
        '--help[show help]' \
        '1:command:->command' \
        '*::arg:->args'
    case $state in
        command)
            local -a cmds
            cmds=(
                'register:create an account'
                'add:add an entry'
                'get:print an entry'\''s password or username'
                'ls:list the sites'
                'edit:change an entry'
                'rm:delete an entry'
                'generate:print a random password'
                'passwd:change the master password'
                'export:print every entry decrypted as JSON'
                'import:import entries from a file'
                'logout:end every session'
                'unregister:delete the account and every entry'
                'completions:print a shell completion script'
            )
            _describe 'command' cmds
            ;;
        args)
            case $line[1] in
                register) _arguments '--invite[invite code]:invite:' ;;
                add) _arguments '1:site:' '--username[entry username]:username:' '--generate[generate the password]' '--length[generated length]:length:' '--no-symbols[letters and digits only]' ;;
                get) _arguments '1:site:' '--field[field to print]:field:(password username)' '--json[print the entry as JSON]' ;;
                ls) _arguments '--json[print JSON]' ;;
                edit) _arguments '1:site:' '--username[new username]:username:' '--generate[generate a new password]' '--length[generated length]:length:' '--no-symbols[letters and digits only]' '--password-stdin[read the new password from stdin]' ;;
                rm) _arguments '1:site:' ;;
                generate) _arguments '--length[length]:length:' '--no-symbols[letters and digits only]' ;;
                unregister) _arguments '--yes[confirm the deletion]' ;;
                import) _arguments '1:file:_files' '--format[file format]:format:(vault vault-encrypted bitwarden-json bitwarden-csv keepass keepassxc-csv 1password-1pux lastpass-csv chrome-csv firefox-csv)' '--dry-run[show what would be imported; write nothing]' '--on-duplicate[when a name is taken]:action:(rename skip overwrite)' '--key-file[KeePass key file]:file:_files' ;;
                export) _arguments '--encrypted[write an encrypted export to FILE]:file:_files' ;;
                completions) _arguments '1:shell:(bash zsh fish)' ;;
            esac
            ;;
    esac
}
_vault "$@"
"#;

const FISH: &str = r#"# fish completion for vault: save it as ~/.config/fish/completions/vault.fish
set -l cmds register add get ls edit rm generate passwd export import logout unregister completions
complete -c vault -f
complete -c vault -n "not __fish_seen_subcommand_from $cmds" -l server -r -d 'server URL'
complete -c vault -n "not __fish_seen_subcommand_from $cmds" -l username -r -d 'account name'
complete -c vault -n "not __fish_seen_subcommand_from $cmds" -l profile -r -d 'profile of the config file'
complete -c vault -n "not __fish_seen_subcommand_from $cmds" -l ca-file -r -F -d 'PEM certificate to trust'
complete -c vault -n "not __fish_seen_subcommand_from $cmds" -a register -d 'create an account'
complete -c vault -n "not __fish_seen_subcommand_from $cmds" -a add -d 'add an entry'
complete -c vault -n "not __fish_seen_subcommand_from $cmds" -a get -d 'print a password or username'
complete -c vault -n "not __fish_seen_subcommand_from $cmds" -a ls -d 'list the sites'
complete -c vault -n "not __fish_seen_subcommand_from $cmds" -a edit -d 'change an entry'
complete -c vault -n "not __fish_seen_subcommand_from $cmds" -a rm -d 'delete an entry'
complete -c vault -n "not __fish_seen_subcommand_from $cmds" -a generate -d 'print a random password'
complete -c vault -n "not __fish_seen_subcommand_from $cmds" -a passwd -d 'change the master password'
complete -c vault -n "not __fish_seen_subcommand_from $cmds" -a export -d 'print every entry decrypted'
complete -c vault -n "not __fish_seen_subcommand_from $cmds" -a import -d 'import entries from a file'
complete -c vault -n "not __fish_seen_subcommand_from $cmds" -a logout -d 'end every session'
complete -c vault -n "not __fish_seen_subcommand_from $cmds" -a unregister -d 'delete the account'
complete -c vault -n "not __fish_seen_subcommand_from $cmds" -a completions -d 'print a completion script'
complete -c vault -n "__fish_seen_subcommand_from register" -l invite -r -d 'invite code'
complete -c vault -n "__fish_seen_subcommand_from add edit" -l username -r -d 'entry username'
complete -c vault -n "__fish_seen_subcommand_from add edit" -l generate -d 'generate the password'
complete -c vault -n "__fish_seen_subcommand_from add edit generate" -l length -r -d 'generated length'
complete -c vault -n "__fish_seen_subcommand_from add edit generate" -l no-symbols -d 'letters and digits only'
complete -c vault -n "__fish_seen_subcommand_from edit" -l password-stdin -d 'read the new password from stdin'
complete -c vault -n "__fish_seen_subcommand_from get" -l field -x -a 'password username' -d 'field to print'
complete -c vault -n "__fish_seen_subcommand_from get ls" -l json -d 'print JSON'
complete -c vault -n "__fish_seen_subcommand_from import" -F
complete -c vault -n "__fish_seen_subcommand_from import" -l format -x -a 'vault vault-encrypted bitwarden-json bitwarden-csv keepass keepassxc-csv 1password-1pux lastpass-csv chrome-csv firefox-csv' -d 'file format'
complete -c vault -n "__fish_seen_subcommand_from import" -l dry-run -d 'show what would be imported; write nothing'
complete -c vault -n "__fish_seen_subcommand_from import" -l on-duplicate -x -a 'rename skip overwrite' -d 'when a name is taken'
complete -c vault -n "__fish_seen_subcommand_from import" -l key-file -r -F -d 'KeePass key file'
complete -c vault -n "__fish_seen_subcommand_from export" -l encrypted -r -F -d 'write an encrypted export to FILE'
complete -c vault -n "__fish_seen_subcommand_from unregister" -l yes -d 'confirm the deletion'
complete -c vault -n "__fish_seen_subcommand_from completions" -x -a 'bash zsh fish'
"#;

#[cfg(test)]
mod tests {
    #[test]
    fn every_shell_names_every_command() {
        for shell in ["bash", "zsh", "fish"] {
            let s = super::script(shell).unwrap();
            for cmd in [
                "register",
                "add",
                "get",
                "ls",
                "edit",
                "rm",
                "generate",
                "passwd",
                "export",
                "import",
                "logout",
                "unregister",
                "completions",
            ] {
                assert!(s.contains(cmd), "{shell} lacks {cmd}");
            }
        }
        assert!(super::script("tcsh").is_none());
    }
}
