//! Reading other password managers' exports (and our own) into plain rows.
//!
//! Formats: our JSON export (or a bare JSON array of `{site, username?,
//! password}`), Bitwarden's unencrypted CSV and KeePassXC's CSV. A bad row
//! becomes a [`Problem`] naming its line (entry, for JSON); the other rows
//! are still returned.

use serde::{Deserialize, Serialize};
use zeroize::Zeroizing;

use super::entry::{CustomField, Doc};

/// The formats `vault import` reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// `vault export`'s JSON, or a bare array of entries.
    Json,
    /// Bitwarden "File > Export vault > .csv".
    BitwardenCsv,
    /// KeePassXC "Database > Export > CSV file".
    KeepassxcCsv,
}

impl std::str::FromStr for Format {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "json" => Ok(Format::Json),
            "bitwarden-csv" => Ok(Format::BitwardenCsv),
            "keepassxc-csv" => Ok(Format::KeepassxcCsv),
            _ => Err(format!(
                "unknown format `{s}`: expected json, bitwarden-csv or keepassxc-csv"
            )),
        }
    }
}

/// One entry to import.
pub struct Row {
    /// Where it came from: "line 7" or "entry 3".
    pub place: String,
    /// Readable site name.
    pub site: String,
    pub username: Option<String>,
    pub password: Zeroizing<String>,
    /// Everything else the source had (format 2 document), if anything.
    pub doc: Option<Doc>,
}

/// A row that was not imported, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub place: String,
    pub reason: String,
}

/// The export file written by `vault export`, read by `vault import --format json`.
#[derive(Serialize, Deserialize)]
pub struct ExportFile {
    /// Always `"vault-export"`.
    pub format: String,
    /// 2 (1: vault 0.1, without `entry`).
    pub version: u32,
    pub entries: Vec<ExportEntry>,
}

/// One decrypted entry of an [`ExportFile`].
#[derive(Serialize, Deserialize)]
pub struct ExportEntry {
    pub site: String,
    #[serde(default)]
    pub username: Option<String>,
    pub password: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated_at: Option<String>,
    /// Version 2: the whole entry (docs/CRYPTO.md "The document"); its
    /// `name` is `site` and its `username` is `username`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub entry: Option<Doc>,
}

/// The value of [`ExportFile::format`].
pub const EXPORT_FORMAT: &str = "vault-export";

/// Parses `text` in `format`. A file that cannot be read at all (no header,
/// not JSON) is an `Err`; bad rows are reported in the `Vec<Problem>`.
pub fn parse(format: Format, text: &str) -> Result<(Vec<Row>, Vec<Problem>), String> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    match format {
        Format::Json => parse_json(text),
        Format::BitwardenCsv => parse_csv_export(
            text,
            &CsvColumns {
                name: "name",
                url: "login_uri",
                username: "login_username",
                password: "login_password",
            },
            |h, f| match column(h, f, "type") {
                Some(t) if !t.is_empty() && t != "login" && t != "note" => Some(format!(
                    "a Bitwarden `{t}` item (only logins and notes are read)"
                )),
                _ => None,
            },
            bitwarden_doc,
        ),
        Format::KeepassxcCsv => parse_csv_export(
            text,
            &CsvColumns {
                name: "Title",
                url: "URL",
                username: "Username",
                password: "Password",
            },
            |h, f| match column(h, f, "Group") {
                Some(g) if g.split('/').any(|p| p == "Recycle Bin") => {
                    Some("in the recycle bin".to_owned())
                }
                _ => None,
            },
            keepassxc_doc,
        ),
    }
}

fn parse_json(text: &str) -> Result<(Vec<Row>, Vec<Problem>), String> {
    let value: serde_json::Value =
        serde_json::from_str(text).map_err(|e| format!("not valid JSON: {e}"))?;
    let items = match value {
        serde_json::Value::Array(a) => a,
        serde_json::Value::Object(mut o) => {
            if let Some(f) = o.get("format").and_then(|f| f.as_str())
                && f != EXPORT_FORMAT
            {
                return Err(format!("unknown export format `{f}`"));
            }
            match o.remove("entries") {
                Some(serde_json::Value::Array(a)) => a,
                _ => return Err("expected an `entries` array".into()),
            }
        }
        _ => return Err("expected a JSON object or array".into()),
    };
    let mut rows = Vec::new();
    let mut problems = Vec::new();
    for (i, item) in items.into_iter().enumerate() {
        let place = format!("entry {}", i + 1);
        match serde_json::from_value::<ExportEntry>(item) {
            Ok(e) => {
                let password = Zeroizing::new(e.password);
                // Only a login needs a password (a note or card has none).
                let login = e.entry.as_ref().is_none_or(|d| d.kind == "login");
                let checked = if login {
                    check(&e.site, &password)
                } else {
                    check(&e.site, "-")
                };
                match checked {
                    Ok(()) => rows.push(Row {
                        place,
                        site: e.site.trim().to_owned(),
                        username: e.username.clone().filter(|u| !u.is_empty()),
                        password,
                        doc: e.entry.clone(),
                    }),
                    Err(reason) => problems.push(Problem { place, reason }),
                }
            }
            Err(e) => problems.push(Problem {
                place,
                reason: format!("not an entry ({e})"),
            }),
        }
    }
    Ok((rows, problems))
}

fn check(site: &str, password: &str) -> Result<(), String> {
    if site.trim().is_empty() {
        return Err("no site name".into());
    }
    if password.is_empty() {
        return Err("no password".into());
    }
    Ok(())
}

struct CsvColumns {
    name: &'static str,
    url: &'static str,
    username: &'static str,
    password: &'static str,
}

/// What a Bitwarden row holds beyond name, username and password.
fn bitwarden_doc(h: &[String], f: &[String]) -> Doc {
    let col = |name| column(h, f, name).unwrap_or_default().to_owned();
    let mut doc = Doc::new(
        if col("type") == "note" {
            "note"
        } else {
            "login"
        },
        "",
    );
    doc.urls = split_list(&col("login_uri"), ',');
    doc.notes = Some(col("notes")).filter(|n| !n.is_empty());
    doc.totp = Some(col("login_totp")).filter(|t| !t.is_empty());
    doc.folder = Some(col("folder")).filter(|t| !t.is_empty());
    doc.favourite = col("favorite") == "1";
    // Custom fields: one `name: value` a line.
    doc.fields = col("fields")
        .lines()
        .filter_map(|l| l.split_once(": "))
        .map(|(n, v)| CustomField {
            name: n.trim().to_owned(),
            value: v.to_owned(),
            hidden: false,
        })
        .collect();
    doc
}

/// What a KeePassXC row holds beyond name, username and password.
fn keepassxc_doc(h: &[String], f: &[String]) -> Doc {
    let col = |name| column(h, f, name).unwrap_or_default().to_owned();
    let mut doc = Doc::new("login", "");
    doc.urls = split_list(&col("URL"), '\n');
    doc.notes = Some(col("Notes")).filter(|n| !n.is_empty());
    doc.totp = Some(col("TOTP")).filter(|t| !t.is_empty());
    let group = col("Group");
    let group = group
        .strip_prefix("Root")
        .unwrap_or(&group)
        .trim_start_matches('/');
    doc.folder = Some(group.to_owned()).filter(|g| !g.is_empty());
    doc
}

fn split_list(text: &str, sep: char) -> Vec<String> {
    text.split(sep)
        .map(str::trim)
        .filter(|u| !u.is_empty())
        .map(str::to_owned)
        .collect()
}

/// Where the name, URL, username and password columns are.
fn column_indexes(
    header: &[String],
    cols: &CsvColumns,
) -> Result<(usize, Option<usize>, usize, usize), String> {
    let index = |name: &str| header.iter().position(|h| h.trim() == name);
    let need = |name: &'static str| {
        index(name).ok_or_else(|| format!("no `{name}` column in the header line"))
    };
    Ok((
        need(cols.name)?,
        index(cols.url),
        need(cols.username)?,
        need(cols.password)?,
    ))
}

fn parse_csv_export(
    text: &str,
    cols: &CsvColumns,
    skip: impl Fn(&[String], &[String]) -> Option<String>,
    extra: impl Fn(&[String], &[String]) -> Doc,
) -> Result<(Vec<Row>, Vec<Problem>), String> {
    let mut records = parse_csv(text).into_iter();
    let header = match records.next() {
        Some(Ok(r)) => r.fields,
        Some(Err(e)) => return Err(format!("line {}: {}", e.line, e.reason)),
        None => return Err("the file is empty".into()),
    };
    let (i_name, i_url, i_user, i_pass) = column_indexes(&header, cols)?;
    let mut rows = Vec::new();
    let mut problems = Vec::new();
    for rec in records {
        let rec = match rec {
            Ok(r) => r,
            Err(e) => {
                problems.push(Problem {
                    place: format!("line {}", e.line),
                    reason: e.reason,
                });
                continue;
            }
        };
        let place = format!("line {}", rec.line);
        let fields = Zeroizing::new(rec.fields);
        if fields.iter().all(|f| f.is_empty()) {
            continue; // a blank line
        }
        if fields.len() != header.len() {
            problems.push(Problem {
                place,
                reason: format!(
                    "{} fields where the header has {}",
                    fields.len(),
                    header.len()
                ),
            });
            continue;
        }
        if let Some(reason) = skip(&header, &fields) {
            problems.push(Problem { place, reason });
            continue;
        }
        let name = fields[i_name].trim();
        let site = if name.is_empty() {
            i_url.map(|i| host_of(&fields[i])).unwrap_or_default()
        } else {
            name.to_owned()
        };
        let password = Zeroizing::new(fields[i_pass].clone());
        let doc = extra(&header, &fields);
        // A note has no password.
        let needs = if doc.kind == "login" {
            password.as_str()
        } else {
            "-"
        };
        if let Err(reason) = check(&site, needs) {
            problems.push(Problem { place, reason });
            continue;
        }
        let username = Some(fields[i_user].clone()).filter(|u| !u.is_empty());
        rows.push(Row {
            place,
            site,
            username,
            password,
            doc: Some(doc),
        });
    }
    Ok((rows, problems))
}

/// The field of `fields` under the header column `name`.
fn column<'a>(header: &[String], fields: &'a [String], name: &str) -> Option<&'a str> {
    let i = header.iter().position(|h| h.trim() == name)?;
    fields.get(i).map(String::as_str)
}

/// The host of a URL-ish string: `https://user@Mail.Example.org:443/x` →
/// `Mail.Example.org`; a bare `example.org/path` → `example.org`.
fn host_of(url: &str) -> String {
    let s = url.trim();
    let s = s.split_once("://").map(|(_, rest)| rest).unwrap_or(s);
    let authority = s.split(['/', '?', '#']).next().unwrap_or("");
    let host_port = authority
        .rsplit_once('@')
        .map(|(_, h)| h)
        .unwrap_or(authority);
    let host = if let Some(rest) = host_port.strip_prefix('[') {
        rest.split(']').next().unwrap_or("")
    } else {
        host_port.split(':').next().unwrap_or("")
    };
    host.to_owned()
}

/// One CSV record and the line it starts on (1-based).
#[derive(Debug, PartialEq, Eq)]
pub struct Record {
    pub line: usize,
    pub fields: Vec<String>,
}

/// A record that cannot be parsed.
#[derive(Debug, PartialEq, Eq)]
pub struct CsvError {
    pub line: usize,
    pub reason: String,
}

/// RFC 4180 CSV: comma-separated, `"` quotes fields, `""` is a quote inside
/// a quoted field, quoted fields may hold commas and line breaks, records end
/// with LF or CRLF. A record with a stray quote is an error for that record
/// only; parsing resumes on the next line. An unterminated quote swallows
/// the rest of the file and is reported at the line it opened.
pub fn parse_csv(text: &str) -> Vec<Result<Record, CsvError>> {
    let mut out = Vec::new();
    let mut chars = text.chars().peekable();
    let mut line = 1usize;
    while chars.peek().is_some() {
        out.push(read_record(&mut chars, &mut line));
    }
    out
}

/// Where the CSV reader is: at field start, inside a quoted field, after a
/// closing quote, inside an unquoted field.
#[derive(PartialEq)]
enum St {
    Start,
    Quoted,
    AfterQuote,
    Plain,
}

/// One record (which may span lines inside quotes); `line` is the line it
/// starts on, and moves past it.
fn read_record(
    chars: &mut std::iter::Peekable<std::str::Chars<'_>>,
    line: &mut usize,
) -> Result<Record, CsvError> {
    let start = *line;
    let mut fields = Vec::new();
    let mut field = String::new();
    let mut error: Option<String> = None;
    let mut quoted_open_line = None;
    let mut st = St::Start;
    loop {
        let c = chars.next();
        match (&st, c) {
            (_, None) => {
                if st == St::Quoted {
                    error = Some(format!(
                        "a quoted field opened on line {} is never closed",
                        quoted_open_line.unwrap_or(start)
                    ));
                }
                fields.push(std::mem::take(&mut field));
                break;
            }
            (St::Quoted, Some('"')) => {
                if chars.peek() == Some(&'"') {
                    chars.next();
                    field.push('"');
                } else {
                    st = St::AfterQuote;
                }
            }
            (St::Quoted, Some(ch)) => {
                if ch == '\n' {
                    *line += 1;
                }
                field.push(ch);
            }
            (_, Some(',')) => {
                fields.push(std::mem::take(&mut field));
                st = St::Start;
            }
            (_, Some('\r')) if chars.peek() == Some(&'\n') => {}
            (_, Some('\n')) => {
                *line += 1;
                fields.push(std::mem::take(&mut field));
                break;
            }
            (St::Start, Some('"')) => {
                st = St::Quoted;
                quoted_open_line = Some(*line);
            }
            (St::AfterQuote, Some(ch)) => {
                error.get_or_insert_with(|| format!("unexpected `{ch}` after a closing quote"));
                field.push(ch);
            }
            (St::Plain, Some('"')) => {
                error.get_or_insert_with(|| "a quote inside an unquoted field".to_owned());
                field.push('"');
            }
            (_, Some(ch)) => {
                st = St::Plain;
                field.push(ch);
            }
        }
    }
    match error {
        Some(reason) => Err(CsvError {
            line: start,
            reason,
        }),
        None => Ok(Record {
            line: start,
            fields,
        }),
    }
}

#[cfg(test)]
#[path = "import_tests.rs"]
mod tests;
