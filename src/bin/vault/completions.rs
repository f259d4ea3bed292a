//! Shell completion scripts for `vault`, generated from the argument
//! definitions (argh's `ArgsInfo`), so that every command and option is
//! offered without a second list to keep in step.

use argh::{ArgsInfo, FlagInfo, FlagInfoKind};

use crate::args::Args;

/// The values an option takes, where there is a fixed set.
fn values(option: &str) -> Option<&'static str> {
    match option {
        "--field" => Some("password username notes totp url folder"),
        "--format" => Some("json bitwarden-csv keepassxc-csv"),
        "--type" => Some("login note card identity"),
        _ => None,
    }
}

/// Commands whose first argument names an existing entry: completed with
/// the site names of an unlocked agent (`vault __sites`, which prints
/// nothing when locked, so completion never prompts).
fn takes_site(c: &argh::SubCommandInfo) -> bool {
    c.name != "add"
        && c.command
            .positionals
            .first()
            .is_some_and(|p| p.name == "site")
}

/// The helper that prints the agent's site names (crate::agent::SITES_COMMAND).
const SITES: &str = "command vault __sites 2>/dev/null";

fn long_names<'a>(flags: &[FlagInfo<'a>]) -> Vec<&'a str> {
    flags
        .iter()
        .filter(|f| !f.hidden && f.long != "--help")
        .map(|f| f.long)
        .collect()
}

fn value_options(flags: &[FlagInfo]) -> Vec<String> {
    flags
        .iter()
        .filter(|f| matches!(f.kind, FlagInfoKind::Option { .. }))
        .map(|f| f.long.to_owned())
        .collect()
}

fn first_line(s: &str) -> String {
    s.lines().next().unwrap_or("").replace('\'', "")
}

fn bash() -> String {
    let info = Args::get_args_info();
    let global_values = value_options(info.flags).join("|");
    let mut all_values: Vec<String> = value_options(info.flags);
    for c in &info.commands {
        all_values.extend(value_options(c.command.flags));
    }
    all_values.sort();
    all_values.dedup();
    let mut s = String::from(
        "# bash completion for vault: source it, or save it as\n\
         # ~/.local/share/bash-completion/completions/vault\n\
         _vault() {\n    local cur prev cmd i opts\n    cur=\"${COMP_WORDS[COMP_CWORD]}\"\n    \
         prev=\"${COMP_WORDS[COMP_CWORD-1]}\"\n    cmd=\"\"\n    \
         for ((i = 1; i < COMP_CWORD; i++)); do\n        case \"${COMP_WORDS[i]}\" in\n",
    );
    s += &format!("            {global_values}) ((i++)) ;;\n");
    s += "            -*) ;;\n            *) cmd=\"${COMP_WORDS[i]}\"; break ;;\n        esac\n    done\n    case \"$prev\" in\n";
    s += "        --ca-file) COMPREPLY=($(compgen -f -- \"$cur\")); return 0 ;;\n";
    for v in &all_values {
        if let Some(vals) = values(v) {
            s += &format!(
                "        {v}) COMPREPLY=($(compgen -W \"{vals}\" -- \"$cur\")); return 0 ;;\n"
            );
        }
    }
    let plain: Vec<&String> = all_values
        .iter()
        .filter(|v| values(v).is_none() && *v != "--ca-file")
        .collect();
    if !plain.is_empty() {
        s += &format!(
            "        {}) return 0 ;;\n",
            plain
                .iter()
                .map(|v| v.as_str())
                .collect::<Vec<_>>()
                .join("|")
        );
    }
    s += "    esac\n    case \"$cmd\" in\n";
    let names: Vec<&str> = info.commands.iter().map(|c| c.name).collect();
    s += &format!(
        "        \"\") opts=\"{} {} --help --version\" ;;\n",
        names.join(" "),
        long_names(info.flags).join(" ")
    );
    for c in &info.commands {
        let opts = long_names(c.command.flags).join(" ");
        match c.name {
            "import" => {
                s += &format!(
                    "        import)\n            if [[ \"$cur\" != -* ]]; then\n                COMPREPLY=($(compgen -f -- \"$cur\")); return 0\n            fi\n            opts=\"{opts}\" ;;\n"
                )
            }
            "completions" => s += "        completions) opts=\"bash zsh fish\" ;;\n",
            name if takes_site(c) => {
                s += &format!(
                    "        {name})\n            if [[ \"$cur\" != -* ]]; then\n                local IFS=$'\\n'\n                COMPREPLY=($(compgen -W \"$({SITES})\" -- \"$cur\")); return 0\n            fi\n            opts=\"{opts}\" ;;\n"
                )
            }
            name => s += &format!("        {name}) opts=\"{opts}\" ;;\n"),
        }
    }
    s += "        *) opts=\"\" ;;\n    esac\n    COMPREPLY=($(compgen -W \"$opts --help\" -- \"$cur\"))\n}\ncomplete -F _vault vault\n";
    s
}

fn zsh() -> String {
    let info = Args::get_args_info();
    let mut s = String::from(
        "#compdef vault\n# zsh completion for vault: save it as _vault in a directory of $fpath\n_vault_sites() {\n    local -a sites\n    sites=(${(f)\"$(command vault __sites 2>/dev/null)\"})\n    compadd -a sites\n}\n_vault() {\n    local curcontext=\"$curcontext\" state line\n    typeset -A opt_args\n    _arguments -C \\\n",
    );
    for f in info.flags {
        s += &format!("        '{}[{}]' \\\n", f.long, first_line(f.description));
    }
    s += "        '1:command:->command' \\\n        '*::arg:->args'\n    case $state in\n        command)\n            local -a cmds\n            cmds=(\n";
    for c in &info.commands {
        s += &format!(
            "                '{}:{}'\n",
            c.name,
            first_line(c.command.description)
        );
    }
    s += "            )\n            _describe 'command' cmds\n            ;;\n        args)\n            case $line[1] in\n";
    for c in &info.commands {
        let mut args: Vec<String> = c
            .command
            .flags
            .iter()
            .filter(|f| !f.hidden)
            .map(|f| {
                let takes = matches!(f.kind, FlagInfoKind::Option { .. });
                let vals = values(f.long).map_or(String::new(), |v| format!("({v})"));
                let tail = if takes {
                    format!(":value:{vals}")
                } else {
                    String::new()
                };
                format!("'{}[{}]{tail}'", f.long, first_line(f.description))
            })
            .collect();
        if c.name == "import" {
            args.push("'1:file:_files'".into());
        }
        if takes_site(c) {
            args.push("'1:site:_vault_sites'".into());
        }
        s += &format!(
            "                {}) _arguments {} ;;\n",
            c.name,
            args.join(" ")
        );
    }
    s += "            esac\n            ;;\n    esac\n}\n_vault \"$@\"\n";
    s
}

fn fish() -> String {
    let info = Args::get_args_info();
    let names: Vec<&str> = info.commands.iter().map(|c| c.name).collect();
    let mut s = format!(
        "# fish completion for vault: save it as ~/.config/fish/completions/vault.fish\nset -l cmds {}\ncomplete -c vault -f\n",
        names.join(" ")
    );
    let top = "not __fish_seen_subcommand_from $cmds";
    for f in info.flags {
        let r = if matches!(f.kind, FlagInfoKind::Option { .. }) {
            " -r"
        } else {
            ""
        };
        s += &format!(
            "complete -c vault -n \"{top}\" -l {}{r} -d '{}'\n",
            &f.long[2..],
            first_line(f.description)
        );
    }
    for c in &info.commands {
        s += &format!(
            "complete -c vault -n \"{top}\" -a {} -d '{}'\n",
            c.name,
            first_line(c.command.description)
        );
        for f in c
            .command
            .flags
            .iter()
            .filter(|f| !f.hidden && f.long != "--help")
        {
            let r = match (&f.kind, values(f.long)) {
                (FlagInfoKind::Option { .. }, Some(v)) => format!(" -x -a '{v}'"),
                (FlagInfoKind::Option { .. }, None) => " -r".into(),
                _ => String::new(),
            };
            s += &format!(
                "complete -c vault -n \"__fish_seen_subcommand_from {}\" -l {}{r} -d '{}'\n",
                c.name,
                &f.long[2..],
                first_line(f.description)
            );
        }
    }
    s += "complete -c vault -n \"__fish_seen_subcommand_from import\" -F\n";
    let with_site: Vec<&str> = info
        .commands
        .iter()
        .filter(|c| takes_site(c))
        .map(|c| c.name)
        .collect();
    s += &format!(
        "complete -c vault -n \"__fish_seen_subcommand_from {}\" -a '({SITES})'\n",
        with_site.join(" ")
    );
    s += "complete -c vault -n \"__fish_seen_subcommand_from completions\" -x -a 'bash zsh fish'\n";
    s
}

/// The script for `shell` (`bash`, `zsh` or `fish`).
pub fn script(shell: &str) -> Option<String> {
    match shell {
        "bash" => Some(bash()),
        "zsh" => Some(zsh()),
        "fish" => Some(fish()),
        _ => None,
    }
}
