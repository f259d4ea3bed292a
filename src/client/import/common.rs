//! What the parsers share: CSV rows whose unused columns become custom
//! fields, document helpers, dates, names made valid without loss.

use zeroize::Zeroizing;

use super::{Item, Lost, Skipped};
use crate::client::entry::{self, CustomField, Doc, MAX_NAME};

/// The header line of a CSV text (names trimmed), if it parses.
pub fn csv_header(text: &str) -> Option<Vec<String>> {
    let mut r = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(text.as_bytes());
    let rec = r.records().next()?.ok()?;
    Some(rec.iter().map(|h| h.trim().to_owned()).collect())
}

/// A CSV file: its header and records, each with the line it starts on.
pub struct Csv {
    pub header: Vec<String>,
    /// (line, fields, why the row is unusable).
    pub rows: Vec<(usize, Vec<String>, Option<String>)>,
}

/// Reads CSV with the `csv` crate (RFC 4180: quotes, `""`, line breaks in
/// fields). `need` are columns the format must have.
pub fn read_csv(text: &str, format: &str, need: &[&str]) -> Result<Csv, String> {
    let mut r = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(text.as_bytes());
    let mut records = r.records();
    let header: Vec<String> = match records.next() {
        Some(Ok(h)) => h.iter().map(|h| h.trim().to_owned()).collect(),
        Some(Err(e)) => return Err(format!("not a {format} file: {e}")),
        None => return Err(format!("not a {format} file: it is empty")),
    };
    for n in need {
        if !header.iter().any(|h| h == n) {
            return Err(format!(
                "not a {format} file: no `{n}` column in the header line"
            ));
        }
    }
    let mut rows = Vec::new();
    for rec in records {
        match rec {
            Ok(rec) => {
                let line = rec.position().map_or(0, |p| p.line() as usize);
                let fields: Vec<String> = rec.iter().map(str::to_owned).collect();
                if fields.iter().all(|f| f.is_empty()) {
                    continue; // a blank line
                }
                let bad = (fields.len() != header.len()).then(|| {
                    format!(
                        "{} fields where the header has {}",
                        fields.len(),
                        header.len()
                    )
                });
                rows.push((line, fields, bad));
            }
            Err(e) => {
                let line = e.position().map_or(0, |p| p.line() as usize);
                rows.push((line, Vec::new(), Some(format!("not valid CSV: {e}"))));
            }
        }
    }
    Ok(Csv { header, rows })
}

/// One CSV record being mapped: every column taken is marked, and what is
/// left over (non-empty) becomes custom fields, so no column is dropped.
pub struct Row<'a> {
    header: &'a [String],
    fields: Zeroizing<Vec<String>>,
    used: Vec<bool>,
}

impl<'a> Row<'a> {
    pub fn new(header: &'a [String], fields: Vec<String>) -> Row<'a> {
        let used = vec![false; header.len()];
        Row {
            header,
            fields: Zeroizing::new(fields),
            used,
        }
    }

    /// The column `name`, marked used; `None` when absent or empty.
    pub fn take(&mut self, name: &str) -> Option<String> {
        let i = self.header.iter().position(|h| h == name)?;
        self.used[i] = true;
        Some(self.fields[i].clone()).filter(|v| !v.is_empty())
    }

    /// The columns not taken, non-empty, as custom fields (hidden when the
    /// column name says it is a secret).
    pub fn rest(&mut self) -> Vec<CustomField> {
        let mut out = Vec::new();
        for (i, h) in self.header.iter().enumerate() {
            if !self.used[i] && !self.fields[i].is_empty() {
                self.used[i] = true;
                out.push(CustomField {
                    name: h.clone(),
                    value: self.fields[i].clone(),
                    hidden: looks_secret(h),
                });
            }
        }
        out
    }
}

/// Whether a field name suggests a secret (masked unless revealed).
pub fn looks_secret(name: &str) -> bool {
    let n = name.to_lowercase();
    [
        "password", "pin", "secret", "cvv", "code", "key", "token", "otp",
    ]
    .iter()
    .any(|w| n.contains(w))
}

/// A document of `kind`, created now (a parser sets the dates it has).
pub fn doc(kind: &str, name: &str) -> Doc {
    Doc::new(kind, name)
}

pub fn field(doc: &mut Doc, name: &str, value: impl Into<String>, hidden: bool) {
    let value = value.into();
    if !value.is_empty() {
        doc.fields.push(CustomField {
            name: name.to_owned(),
            value,
            hidden,
        });
    }
}

/// A date in the format's `YYYY-MM-DDTHH:MM:SSZ`, from RFC 3339 (with or
/// without fractions or `T`), `YYYY-MM-DD HH:MM:SS`, or Unix seconds or
/// milliseconds.
pub fn date(s: &str) -> Option<String> {
    let s = s.trim();
    if s.is_empty() {
        return None;
    }
    if let Ok(n) = s.parse::<u64>() {
        // Milliseconds from 2001 on are 13 digits; seconds are 10.
        return Some(unix(if n > 100_000_000_000 { n / 1000 } else { n }));
    }
    let t = humantime::parse_rfc3339_weak(s.trim_end_matches('Z'))
        .ok()
        .or_else(|| humantime::parse_rfc3339(s).ok())?;
    Some(humantime::format_rfc3339_seconds(t).to_string())
}

pub fn unix(secs: u64) -> String {
    let t = std::time::UNIX_EPOCH + std::time::Duration::from_secs(secs);
    humantime::format_rfc3339_seconds(t).to_string()
}

/// Sets `created`/`updated` from the file; a date that does not parse is
/// kept as a custom field.
pub fn dates(doc: &mut Doc, created: Option<&str>, updated: Option<&str>) {
    for (raw, is_created) in [(created, true), (updated, false)] {
        let Some(raw) = raw.filter(|r| !r.is_empty()) else {
            continue;
        };
        match date(raw) {
            Some(d) if is_created => doc.created = d,
            Some(d) => doc.updated = d,
            None => field(
                doc,
                if is_created { "created" } else { "updated" },
                raw,
                false,
            ),
        }
    }
    if doc.updated < doc.created {
        doc.updated = doc.created.clone();
    }
}

/// Makes name and folder valid without loss: line breaks and other
/// control characters become spaces and an over-long value is cut, the
/// original kept as a custom field; an empty name takes the first URL's
/// host, else "(untitled)".
pub fn finish_names(doc: &mut Doc) {
    if doc.name.trim().is_empty() {
        doc.name = doc
            .urls
            .first()
            .map(|u| host_of(u))
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| "(untitled)".to_owned());
    }
    let name = doc.name.clone();
    if let Some(fixed) = valid_name(&name) {
        field(doc, "name (as exported)", name, false);
        doc.name = fixed;
    }
    doc.name = doc.name.trim().to_owned();
    if let Some(folder) = doc.folder.clone()
        && let Some(fixed) = valid_name(&folder)
    {
        field(doc, "folder (as exported)", folder, false);
        doc.folder = Some(fixed);
    }
}

fn valid_name(s: &str) -> Option<String> {
    let clean = s.chars().any(char::is_control) || s.len() > MAX_NAME;
    if !clean {
        return None;
    }
    let mut out: String = s
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    while out.len() > MAX_NAME {
        out.pop();
    }
    Some(out.trim().to_owned())
}

/// The host of a URL-ish string: `https://user@Mail.Example.org:443/x` →
/// `Mail.Example.org`.
pub fn host_of(url: &str) -> String {
    let s = url.trim();
    let s = s.split_once("://").map(|(_, rest)| rest).unwrap_or(s);
    let authority = s.split(['/', '?', '#']).next().unwrap_or("");
    let host_port = authority
        .rsplit_once('@')
        .map(|(_, h)| h)
        .unwrap_or(authority);
    if let Some(rest) = host_port.strip_prefix('[') {
        return rest.split(']').next().unwrap_or("").to_owned();
    }
    host_port.split(':').next().unwrap_or("").to_owned()
}

/// An item from a finished document.
pub fn item(place: String, source_kind: &str, mut doc: Doc, password: String) -> Item {
    finish_names(&mut doc);
    Item {
        place,
        source_kind: source_kind.to_owned(),
        doc,
        password: Zeroizing::new(password),
        lost: Vec::new(),
    }
}

pub fn skipped(place: String, name: &str, kind: &str, why: impl Into<String>) -> Skipped {
    Skipped {
        place,
        name: name.to_owned(),
        source_kind: kind.to_owned(),
        why: why.into(),
    }
}

pub fn lost(field: &str, why: &str) -> Lost {
    Lost {
        field: field.to_owned(),
        why: why.to_owned(),
    }
}

/// Now, as the format writes it (re-exported for the parsers).
pub fn now() -> String {
    entry::now()
}

/// A CSV file mapped row by row with `map(line, row) -> Item`; bad rows
/// become [`Skipped`].
pub fn map_csv(
    text: &str,
    format: &str,
    need: &[&str],
    name_col: &str,
    mut map: impl FnMut(String, &mut Row) -> Result<Item, Skipped>,
) -> Result<super::Items, String> {
    let csv = read_csv(text, format, need)?;
    let mut items = Vec::new();
    let mut skips = Vec::new();
    for (line, fields, bad) in csv.rows {
        let place = format!("line {line}");
        if let Some(why) = bad {
            // Name the row by its name column when it has one.
            let name = csv
                .header
                .iter()
                .position(|h| h == name_col)
                .and_then(|i| fields.get(i))
                .map_or("", String::as_str);
            skips.push(skipped(place, name, "row", why));
            continue;
        }
        let mut row = Row::new(&csv.header, fields);
        match map(place, &mut row) {
            Ok(mut item) => {
                for f in row.rest() {
                    item.doc.fields.push(f);
                }
                items.push(item);
            }
            Err(mut s) => {
                if s.name.is_empty() {
                    s.name = row.take(name_col).unwrap_or_default();
                }
                skips.push(s);
            }
        }
    }
    Ok((items, skips))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_parse() {
        assert_eq!(
            date("2024-01-02T03:04:05.678Z").as_deref(),
            Some("2024-01-02T03:04:05Z")
        );
        assert_eq!(
            date("2024-01-02 03:04:05").as_deref(),
            Some("2024-01-02T03:04:05Z")
        );
        assert_eq!(date("1700000000").as_deref(), Some("2023-11-14T22:13:20Z"));
        assert_eq!(
            date("1700000000123").as_deref(),
            Some("2023-11-14T22:13:20Z")
        );
        assert_eq!(date("yesterday"), None);
    }

    #[test]
    fn names_without_loss() {
        let mut d = doc("login", "x");
        d.name = "two\nlines".into();
        finish_names(&mut d);
        assert_eq!(d.name, "two lines");
        assert_eq!(d.fields[0].value, "two\nlines");
        let mut d = doc("login", "");
        d.urls = vec!["https://u@Mail.Example.org:8443/x".into()];
        finish_names(&mut d);
        assert_eq!(d.name, "Mail.Example.org");
    }
}
