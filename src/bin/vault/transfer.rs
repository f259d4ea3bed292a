//! `vault import` and `vault export`: nothing is dropped without
//! a line naming the item and the field; the format is named in every
//! message; exit 0 when everything was imported, 5 when some items were
//! not (each listed), 1 when none was or on an error.

use std::collections::BTreeMap;
use std::io::{IsTerminal, Read};

use zeroize::Zeroizing;

use vaultd::client::import::{self, Format, Item, Parsed, Plan, Secrets, Skipped, vault};
use vaultd::client::text;

use super::Ctx;
use crate::Fail;
use crate::args::{Export, Import};
use crate::prompt::{Res, env, print_entry_json, prompt, prompt_twice};

pub fn export(ctx: &Ctx, e: Export) -> Res {
    let session = ctx.open_vault()?;
    let json = import::vault::export(&session)?;
    let Some(path) = e.encrypted else {
        eprintln!(
            "warning: this export holds every password in plain text; keep it safe and delete it when done \
             (or use `vault export --encrypted FILE`)"
        );
        return print_entry_json(&Zeroizing::new(format!("{}\n", json.as_str())));
    };
    let password = match env("VAULT_EXPORT_PASSWORD") {
        Some(p) => Zeroizing::new(p),
        None => prompt_twice("Password for the encrypted export: ")?,
    };
    if password.is_empty() {
        return Err(Fail::Usage("the export password must not be empty".into()));
    }
    let sealed = vault::seal(&json, &password, vault::KDF).map_err(Fail::Msg)?;
    write_private(&path, sealed.as_bytes())?;
    eprintln!("wrote an encrypted export to {path} (vault import reads it back)");
    Ok(())
}

/// Writes `bytes` to a new file only its owner can read.
fn write_private(path: &str, bytes: &[u8]) -> Res {
    use std::io::Write;
    let mut o = std::fs::OpenOptions::new();
    o.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut o, 0o600);
    o.open(path)
        .and_then(|mut f| f.write_all(bytes).and_then(|_| f.sync_all()))
        .map_err(|e| Fail::Msg(format!("cannot write {path}: {e}")))
}

/// The password of an encrypted file (VAULT_IMPORT_PASSWORD or asked, like
/// the master password) and the KeePass key file.
struct Asked {
    file: String,
    key_file: Option<std::path::PathBuf>,
}

impl Secrets for Asked {
    fn password(&mut self, what: &str) -> Result<Zeroizing<String>, String> {
        if let Some(p) = env("VAULT_IMPORT_PASSWORD") {
            return Ok(Zeroizing::new(p));
        }
        prompt(&format!("Password of the {what} {}: ", self.file)).map_err(|_| {
            format!("no terminal to ask for the password of the {what}; set VAULT_IMPORT_PASSWORD")
        })
    }

    fn key_file(&mut self) -> Result<Option<Zeroizing<Vec<u8>>>, String> {
        let Some(p) = &self.key_file else {
            return Ok(None);
        };
        std::fs::read(p)
            .map(|b| Some(Zeroizing::new(b)))
            .map_err(|e| format!("cannot read the key file {}: {e}", p.display()))
    }
}

fn read_input(file: &str) -> Res<Zeroizing<Vec<u8>>> {
    let mut bytes = Zeroizing::new(Vec::new());
    let read = if file == "-" {
        std::io::stdin().read_to_end(&mut bytes).map(|_| ())
    } else {
        std::fs::File::open(file).and_then(|mut f| f.read_to_end(&mut bytes).map(|_| ()))
    };
    read.map_err(|e| Fail::Msg(format!("cannot read {file}: {e}")))?;
    Ok(bytes)
}

pub fn import(ctx: &Ctx, i: Import) -> Res {
    let on_duplicate: import::Duplicate = i.on_duplicate.parse().map_err(Fail::Usage)?;
    let given: Option<Format> = i
        .format
        .as_deref()
        .map(str::parse)
        .transpose()
        .map_err(Fail::Usage)?;
    let file = crate::unmark_stdin(&i.file).to_owned();
    let bytes = read_input(&file)?;
    let format = match given.or_else(|| import::detect(&bytes, &file)) {
        Some(f) => f,
        None => {
            return Err(Fail::Msg(format!(
                "cannot tell which manager's export {file} is; pass --format (one of {})",
                import::FORMATS.map(|f| f.1).join(", ")
            )));
        }
    };
    let mut secrets = Asked {
        file: file.clone(),
        key_file: i.key_file.clone(),
    };
    let parsed = import::parse(format, &bytes, &mut secrets)
        .map_err(|e| Fail::Msg(format!("{format}: cannot import {file}: {e}")))?;
    drop(bytes);
    let session = ctx.open_vault()?;
    let Parsed {
        items, mut skipped, ..
    } = parsed;
    let found = items.len() + skipped.len();
    let existing = import::write::existing(&session)?;
    let plan = import::plan(items, &existing, on_duplicate);
    report_plan(format, &plan);
    skipped.extend(plan.skipped.iter().cloned());
    if i.dry_run {
        dry_run_summary(format, &plan, &skipped);
        for s in &skipped {
            report_skip(format, s);
        }
        eprintln!("{format}: dry run, nothing written");
        return verdict(format, &file, plan.writes.len(), found, "would import");
    }
    let total = plan.writes.len();
    let progress = Progress::new(format, total);
    let outcome = import::write(&session, plan, |done, n| progress.show(done, n))?;
    progress.end();
    skipped.extend(outcome.failed);
    for s in &skipped {
        report_skip(format, s);
    }
    verdict(format, &file, outcome.imported, found, "imported")
}

/// `GitHub` as the messages show a name: quoted, control characters escaped.
fn shown(name: &str) -> String {
    format!("\"{}\"", text::escape(name))
}

fn report_plan(format: Format, plan: &Plan) {
    for p in &plan.writes {
        let it = &p.item;
        if let Some(old) = &p.renamed_from {
            eprintln!(
                "{format} {} {}: renamed {} (the name is taken)",
                it.place,
                shown(old),
                shown(&it.doc.name)
            );
        }
        for l in &it.lost {
            eprintln!(
                "{format} {} {}: {} not kept: {}",
                it.place,
                shown(&it.doc.name),
                text::escape(&l.field),
                text::escape(&l.why)
            );
        }
    }
}

fn report_skip(format: Format, s: &Skipped) {
    eprintln!(
        "{format} {} {} ({}): not imported: {}",
        s.place,
        shown(&s.name),
        text::escape(&s.source_kind),
        text::escape(&s.why)
    );
}

/// Per item type: how many map to what, renamed, with fields not kept,
/// not imported.
fn dry_run_summary(format: Format, plan: &Plan, skipped: &[Skipped]) {
    let mut rows: BTreeMap<(String, String), [usize; 3]> = BTreeMap::new();
    let key = |it: &Item| (it.source_kind.clone(), it.doc.kind.clone());
    for p in &plan.writes {
        let r = rows.entry(key(&p.item)).or_default();
        r[0] += 1;
        r[1] += usize::from(p.renamed_from.is_some());
        r[2] += usize::from(!p.item.lost.is_empty());
    }
    for ((from, to), [n, renamed, lossy]) in &rows {
        eprintln!("{format}: {n} {from} → {to} ({renamed} renamed, {lossy} with fields not kept)");
    }
    let mut not: BTreeMap<&str, usize> = BTreeMap::new();
    for s in skipped {
        *not.entry(&s.source_kind).or_default() += 1;
    }
    for (kind, n) in not {
        eprintln!("{format}: {n} {kind} not imported (listed below)");
    }
}

/// Exit 0 when every item is (or would be) imported, 5 when some are, 1
/// when none is.
fn verdict(format: Format, file: &str, imported: usize, found: usize, did: &str) -> Res {
    let msg = format!("{format}: {did} {imported} of {found} items from {file}");
    if imported == found && found > 0 {
        eprintln!("{msg}");
        Ok(())
    } else if imported == 0 {
        Err(Fail::Msg(if found == 0 {
            format!("{format}: {file} holds no items")
        } else {
            format!("{msg}; see the lines above")
        }))
    } else {
        Err(Fail::Partial(format!(
            "{msg}; {} not imported, see the lines above",
            found - imported
        )))
    }
}

/// A progress line on stderr for 100 items and more: rewritten in place
/// on a terminal, every tenth elsewhere.
struct Progress {
    format: Format,
    on: bool,
    tty: bool,
}

impl Progress {
    fn new(format: Format, total: usize) -> Progress {
        Progress {
            format,
            on: total >= 100,
            tty: std::io::stderr().is_terminal(),
        }
    }

    fn show(&self, done: usize, n: usize) {
        if !self.on {
            return;
        }
        if self.tty {
            eprint!("\r{}: importing {done}/{n}", self.format);
        } else if done.is_multiple_of(n.div_ceil(10)) || done == n {
            eprintln!("{}: importing {done}/{n}", self.format);
        }
    }

    fn end(&self) {
        if self.on && self.tty {
            eprintln!();
        }
    }
}
