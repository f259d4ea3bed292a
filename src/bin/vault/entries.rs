//! The commands on entries: add, get, show, code, ls, search, edit,
//! history, rm, trash, restore. Checks that need no secret run before any
//! prompt; the entry's password is asked only after the login showed that
//! the command can go ahead.

use std::io::{IsTerminal, Read};

use zeroize::Zeroizing;

use vaultd::client::entry::{self, CustomField, Doc};
use vaultd::client::totp::Totp;
use vaultd::client::{Entry, Error, Session, Summary, search};

use crate::Fail;
use crate::args::*;
use crate::commands::Ctx;
use crate::output::{MASK, ShowJson, SummaryJson, json_line, show_lines};
use crate::prompt::{PasswordSource, Res, confirm, print_entry_json, print_entry_lines};

/// A name the server would refuse, or that cannot be hashed: before any prompt.
fn check_name(site: &str) -> Res {
    if site.trim().is_empty() {
        return Err(Fail::Usage("the site name must not be empty".into()));
    }
    if site.chars().any(char::is_control) {
        return Err(Fail::Client(Error::InvalidSiteName(site.to_owned())));
    }
    Ok(())
}

/// `NAME=VALUE` of `--field`.
fn name_value(arg: &str, option: &str) -> Res<(String, String)> {
    match arg.split_once('=') {
        Some((n, v)) if !n.trim().is_empty() => Ok((n.trim().to_owned(), v.to_owned())),
        _ => Err(Fail::Usage(format!(
            "{option} takes NAME=VALUE, not `{arg}`"
        ))),
    }
}

/// Notes from stdin: everything, minus one trailing line break.
fn notes_from_stdin() -> Res<String> {
    let mut buf = String::new();
    std::io::stdin()
        .read_to_string(&mut buf)
        .map_err(|e| Fail::Msg(format!("cannot read the notes from stdin: {e}")))?;
    let trimmed = buf
        .strip_suffix("\r\n")
        .or_else(|| buf.strip_suffix('\n'))
        .unwrap_or(&buf);
    Ok(trimmed.to_owned())
}

/// Checks the options of `add`/`edit` that need no secret.
fn check_details(d: &Details) -> Res {
    if let Some(k) = &d.kind
        && !entry::TYPES.contains(&k.as_str())
    {
        return Err(Fail::Usage(format!(
            "unknown type `{k}`: use login, note, card or identity"
        )));
    }
    if d.notes.is_some() && d.notes_stdin {
        return Err(Fail::Usage("use either --notes or --notes-stdin".into()));
    }
    if let Some(t) = d.totp.as_deref().filter(|t| !t.is_empty()) {
        Totp::parse(t).map_err(|e| Fail::Usage(format!("--totp: {e}")))?;
    }
    for f in &d.fields {
        name_value(f, "--field")?;
    }
    for f in &d.hidden_fields {
        name_value(f, "--hidden-field")?;
    }
    Ok(())
}

/// Applies the options (checked by [`check_details`]) to a document;
/// `notes` is what stdin gave, if asked.
fn apply_details(doc: &mut Doc, d: Details, notes: Option<String>) {
    let some = |v: String| Some(v).filter(|v| !v.is_empty());
    if let Some(k) = d.kind {
        doc.set_kind(&k);
    }
    if !d.urls.is_empty() {
        doc.urls = d.urls.into_iter().filter(|u| !u.is_empty()).collect();
    }
    if let Some(n) = d.notes.or(notes) {
        doc.notes = some(n);
    }
    if let Some(t) = d.totp {
        doc.totp = some(t);
    }
    let fields = d.fields.iter().map(|f| (f, false));
    for (arg, hidden) in fields.chain(d.hidden_fields.iter().map(|f| (f, true))) {
        let Ok((name, value)) = name_value(arg, "--field") else {
            continue; // refused by check_details before
        };
        let at = doc.fields.iter().position(|f| f.name == name);
        match (at, value.is_empty()) {
            (Some(i), true) => {
                doc.fields.remove(i);
            }
            (Some(i), false) => {
                doc.fields[i] = CustomField {
                    name,
                    value,
                    hidden,
                }
            }
            (None, _) => doc.fields.push(CustomField {
                name,
                value,
                hidden,
            }),
        }
    }
    if let Some(f) = d.folder {
        doc.folder = some(f);
    }
    if d.favourite {
        doc.favourite = true;
    }
}

pub fn add(ctx: &Ctx, a: Add) -> Res {
    check_name(&a.site)?;
    let details = a.details();
    check_details(&details)?;
    let kind = details.kind.clone().unwrap_or_else(|| "login".into());
    let source = PasswordSource {
        generate: a.generate,
        length: a.length,
        no_symbols: a.no_symbols,
        from_stdin: false,
    };
    source.check()?;
    if kind == "login" && details.notes_stdin && !a.generate {
        return Err(Fail::Usage(
            "stdin holds the notes: give the login's password with --generate".into(),
        ));
    }
    let session = ctx.open_vault()?;
    match session.get(&a.site) {
        Ok(_) | Err(Error::InTrash(_)) => {
            return Err(Fail::Client(Error::SiteExists(a.site.trim().to_owned())));
        }
        Err(Error::NoSuchSite(_)) => {}
        Err(e) => return Err(e.into()),
    }
    let notes = details.notes_stdin.then(notes_from_stdin).transpose()?;
    // A login needs a password; other types only when asked to generate one.
    let password = if kind == "login" || a.generate {
        source.read(&a.site)?
    } else {
        Zeroizing::new(String::new())
    };
    let mut doc = Doc::new(&kind, &a.site);
    doc.username = a.username.filter(|u| !u.is_empty());
    apply_details(&mut doc, details, notes);
    session.add_doc(doc, &password)?;
    eprintln!("added {}", a.site.trim());
    Ok(())
}

/// The entry `query` means: its exact name, else a URL or an unambiguous
/// part of a name (an ambiguous one names the candidates).
pub fn find(session: &Session, query: &str) -> Res<Entry> {
    match session.get(query) {
        Err(Error::NoSuchSite(_)) => {}
        other => return Ok(other?),
    }
    let listing = session.list()?;
    let hits = search::candidates(&listing.entries, query);
    match hits.as_slice() {
        [] => Err(Fail::Client(Error::NoSuchSite(query.trim().to_owned()))),
        [one] => Ok(session.get(one.site())?),
        many => Err(Fail::Client(Error::Ambiguous(
            query.trim().to_owned(),
            many.iter().map(|s| s.site().to_owned()).collect(),
        ))),
    }
}

/// A live entry (not in the trash).
fn live(e: Entry) -> Res<Entry> {
    if e.doc.trashed_at.is_some() {
        return Err(Fail::Client(Error::InTrash(e.site().to_owned())));
    }
    Ok(e)
}

/// The value of `--field NAME`.
fn field_value(e: &Entry, field: &str) -> Res<String> {
    let d = &e.doc;
    let v = match field {
        "password" => Some(e.password.to_string()),
        "username" => Some(d.username.clone().unwrap_or_default()),
        "notes" => Some(d.notes.clone().unwrap_or_default()),
        "totp" => Some(d.totp.clone().unwrap_or_default()),
        "url" => Some(d.urls.join("\n")),
        "folder" => Some(d.folder.clone().unwrap_or_default()),
        name => d
            .fields
            .iter()
            .find(|f| f.name == name)
            .map(|f| f.value.clone()),
    };
    v.ok_or_else(|| {
        Fail::Usage(format!(
            "unknown field `{field}`: use password, username, notes, totp, url, folder or a custom field's name"
        ))
    })
}

pub fn get(ctx: &Ctx, g: Get) -> Res {
    if g.site.trim().is_empty() {
        return Err(Fail::Usage("the site name must not be empty".into()));
    }
    let session = ctx.open_vault()?;
    let e = live(find(&session, &g.site)?)?;
    if g.json && g.field.is_none() && !g.clip {
        let json = json_line(&crate::output::EntryJson::of(&e));
        return print_entry_json(&Zeroizing::new(json));
    }
    let field = g.field.as_deref().unwrap_or("password");
    let value = Zeroizing::new(field_value(&e, field)?);
    if g.clip {
        return crate::clip::copy(&value, &format!("{field} of {}", e.site()));
    }
    if g.json {
        let mut m = serde_json::Map::new();
        m.insert(field.to_owned(), value.to_string().into());
        return print_entry_json(&Zeroizing::new(json_line(&m)));
    }
    print_entry_lines(value.split('\n'))
}

pub fn show(ctx: &Ctx, s: Show) -> Res {
    let session = ctx.open_vault()?;
    let e = find(&session, &s.site)?;
    if s.json {
        return print_entry_json(&Zeroizing::new(json_line(&ShowJson::of(&e, s.reveal))));
    }
    let lines = show_lines(&e, s.reveal);
    print_entry_lines(lines.iter().map(String::as_str))
}

pub fn code(ctx: &Ctx, c: Code) -> Res {
    let session = ctx.open_vault()?;
    let e = live(find(&session, &c.site)?)?;
    let secret = e.doc.totp.as_deref().ok_or_else(|| {
        Fail::Msg(format!(
            "`{}` has no TOTP secret; add one with `vault edit {} --totp SECRET`",
            e.site(),
            e.site()
        ))
    })?;
    let totp = Totp::parse(secret).map_err(|m| Fail::Msg(format!("{}: {m}", e.site())))?;
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let code = totp.code_at(now);
    if std::io::stdout().is_terminal() {
        let left = totp.seconds_left(now);
        return print_entry_lines([format!("{code}  ({left} s left)").as_str()]);
    }
    print_entry_lines([code.as_str()])
}

fn print_summaries(entries: &[&Summary], json: bool) -> Res {
    if json {
        let items: Vec<_> = entries.iter().map(|s| SummaryJson::of(s)).collect();
        return print_entry_json(&json_line(&items));
    }
    print_entry_lines(entries.iter().map(|e| e.site()))
}

/// The error for `n` entries that failed verification (none: `Ok`).
fn unreadable(n: usize) -> Res {
    if n == 0 {
        return Ok(());
    }
    Err(Fail::Msg(format!(
        "{n} {} failed verification (tampered, or not written by vault) and {} not shown",
        if n == 1 { "entry" } else { "entries" },
        if n == 1 { "is" } else { "are" },
    )))
}

pub fn ls(ctx: &Ctx, l: Ls) -> Res {
    let listing = ctx.open_vault()?.list()?;
    print_summaries(&listing.entries.iter().collect::<Vec<_>>(), l.json)?;
    unreadable(listing.unreadable.len())
}

pub fn trash(ctx: &Ctx, t: Trash) -> Res {
    let listing = ctx.open_vault()?.list()?;
    print_summaries(&listing.trashed.iter().collect::<Vec<_>>(), t.json)?;
    unreadable(listing.unreadable.len())
}

pub fn search(ctx: &Ctx, s: Search) -> Res {
    if s.term.trim().is_empty() {
        return Err(Fail::Usage("nothing to search for".into()));
    }
    let listing = ctx.open_vault()?.list()?;
    let hits = search::search(&listing.entries, &s.term);
    if hits.is_empty() {
        return Err(Fail::Client(Error::NoSuchSite(s.term.trim().to_owned())));
    }
    print_summaries(&hits, s.json)
}

pub fn history(ctx: &Ctx, h: History) -> Res {
    let session = ctx.open_vault()?;
    let e = find(&session, &h.site)?;
    if e.doc.history.is_empty() {
        eprintln!("{} has no earlier passwords", e.site());
        return Ok(());
    }
    let lines: Vec<String> = e
        .doc
        .history
        .iter()
        .map(|o| {
            let pw = if h.reveal { o.password.as_str() } else { MASK };
            format!("{}  {pw}", o.replaced_at)
        })
        .collect();
    print_entry_lines(lines.iter().map(String::as_str))
}

pub fn edit(ctx: &Ctx, e: EditCmd) -> Res {
    if e.editor {
        return crate::editor::edit(ctx, e);
    }
    let details = e.details();
    check_details(&details)?;
    let source = PasswordSource {
        generate: e.generate,
        length: e.length,
        no_symbols: e.no_symbols,
        from_stdin: e.password_stdin,
    };
    source.check()?;
    if e.password_stdin && details.notes_stdin {
        return Err(Fail::Usage(
            "stdin can hold the password or the notes, not both".into(),
        ));
    }
    let other_change = e.username.is_some()
        || details.kind.is_some()
        || !details.urls.is_empty()
        || details.notes.is_some()
        || details.notes_stdin
        || details.totp.is_some()
        || !details.fields.is_empty()
        || !details.hidden_fields.is_empty()
        || details.folder.is_some()
        || e.favourite
        || e.no_favourite;
    let wants_password = e.generate || e.password_stdin;
    if !wants_password && !other_change && !std::io::stdin().is_terminal() {
        return Err(Fail::Usage(
            "nothing to change: pass --username, --generate, --password-stdin or another option"
                .into(),
        ));
    }
    let session = ctx.open_vault()?;
    let current = live(session.get(&e.site)?)?;
    let notes = details.notes_stdin.then(notes_from_stdin).transpose()?;
    let password = if wants_password || !other_change {
        Some(source.read(&e.site)?)
    } else {
        None
    };
    session.modify_entry(&current, |doc, pw| {
        if let Some(u) = e.username {
            doc.username = Some(u).filter(|u| !u.is_empty());
        }
        if e.no_favourite {
            doc.favourite = false;
        }
        if let Some(p) = password {
            *pw = p;
        }
        apply_details(doc, details, notes);
        Ok(())
    })?;
    eprintln!("changed {}", e.site.trim());
    Ok(())
}

pub fn rm(ctx: &Ctx, r: Rm) -> Res {
    if r.yes && !r.purge {
        return Err(Fail::Usage("--yes goes with --purge".into()));
    }
    let session = ctx.open_vault()?;
    let e = session.get(&r.site)?;
    if r.purge {
        if !r.yes {
            confirm(
                &format!(
                    "Delete {} for good? It cannot be restored. Type its name to confirm: ",
                    e.site()
                ),
                e.site(),
            )?;
        }
        session.remove(e.site())?;
        eprintln!("deleted {} for good", r.site.trim());
        return Ok(());
    }
    if e.doc.trashed_at.is_some() {
        return Err(Fail::Msg(format!(
            "`{}` is in the trash already; `vault rm {} --purge` deletes it for good",
            e.site(),
            e.site()
        )));
    }
    session.modify_entry(&e, |doc, _| {
        doc.trashed_at = Some(entry::now());
        Ok(())
    })?;
    eprintln!(
        "moved {} to the trash (`vault restore {}` brings it back)",
        r.site.trim(),
        e.site()
    );
    Ok(())
}

pub fn restore(ctx: &Ctx, r: Restore) -> Res {
    let session = ctx.open_vault()?;
    let e = session.get(&r.site)?;
    if e.doc.trashed_at.is_none() {
        return Err(Fail::Msg(format!("`{}` is not in the trash", e.site())));
    }
    session.modify_entry(&e, |doc, _| {
        doc.trashed_at = None;
        Ok(())
    })?;
    eprintln!("restored {}", r.site.trim());
    Ok(())
}
