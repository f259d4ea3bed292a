//! Unit tests of the import formats (`import.rs`).
use super::*;

fn records(text: &str) -> Vec<Result<(usize, Vec<String>), usize>> {
    parse_csv(text)
        .into_iter()
        .map(|r| r.map(|r| (r.line, r.fields)).map_err(|e| e.line))
        .collect()
}

fn v(fields: &[&str]) -> Vec<String> {
    fields.iter().map(|s| s.to_string()).collect()
}

#[test]
fn csv_basics() {
    assert_eq!(
        records("a,b,c\n1,\"x,y\",\"he said \"\"hi\"\"\"\r\n\"multi\nline\",,z\nlast"),
        vec![
            Ok((1, v(&["a", "b", "c"]))),
            Ok((2, v(&["1", "x,y", "he said \"hi\""]))),
            Ok((3, v(&["multi\nline", "", "z"]))),
            Ok((5, v(&["last"]))),
        ]
    );
    assert_eq!(records(""), vec![]);
    assert_eq!(
        records("a\n\nb\n"),
        vec![Ok((1, v(&["a"]))), Ok((2, v(&[""]))), Ok((3, v(&["b"]))),]
    );
}

#[test]
fn csv_errors_stay_in_their_record() {
    assert_eq!(
        records("h1,h2\n\"a\"b,c\nok,1\nx\"y,2\n"),
        vec![
            Ok((1, v(&["h1", "h2"]))),
            Err(2),
            Ok((3, v(&["ok", "1"]))),
            Err(4),
        ]
    );
    let r = parse_csv("h\n\"never closed\nmore\n");
    assert_eq!(r.len(), 2);
    assert_eq!(r[1].as_ref().unwrap_err().line, 2);
}

#[test]
fn bitwarden() {
    let text = "\u{feff}folder,favorite,type,name,notes,fields,reprompt,login_uri,login_username,login_password,login_totp\n\
        ,,login,Mail,,,0,https://mail.example.org/login,alice,\"p,w\"\"1\",\n\
        ,,note,A note,secret text,,0,,,,\n\
        ,,login,,,,0,https://user@Shop.Example.com:8443/x,,pw2,\n\
        ,,login,NoPass,,,0,,bob,,\n\
        ,,login,Short,,\n";
    let (rows, problems) = parse(Format::BitwardenCsv, text).unwrap();
    let got: Vec<_> = rows
        .iter()
        .map(|r| {
            (
                r.place.as_str(),
                r.site.as_str(),
                r.username.as_deref(),
                r.password.as_str(),
            )
        })
        .collect();
    assert_eq!(
        got,
        vec![
            ("line 2", "Mail", Some("alice"), "p,w\"1"),
            ("line 3", "A note", None, ""),
            ("line 4", "Shop.Example.com", None, "pw2"),
        ]
    );
    let note = rows[1].doc.as_ref().unwrap();
    assert_eq!(
        (note.kind.as_str(), note.notes.as_deref()),
        ("note", Some("secret text"))
    );
    let mail = rows[0].doc.as_ref().unwrap();
    assert_eq!(mail.urls, ["https://mail.example.org/login"]);
    let places: Vec<_> = problems.iter().map(|p| p.place.as_str()).collect();
    assert_eq!(places, vec!["line 5", "line 6"]);
}

#[test]
fn keepassxc() {
    let text = "\"Group\",\"Title\",\"Username\",\"Password\",\"URL\",\"Notes\",\"TOTP\",\"Icon\",\"Last Modified\",\"Created\"\n\
        \"Root\",\"Forum\",\"me\",\"pw\",\"https://forum.example.net\",\"multi\nline note\",\"\",\"0\",\"2024-01-01T00:00:00Z\",\"2024-01-01T00:00:00Z\"\n\
        \"Root/Recycle Bin\",\"Old\",\"me\",\"pw\",\"\",\"\",\"\",\"0\",\"\",\"\"\n\
        \"Root/Work\",\"\",\"\",\"pw3\",\"git.example.com/path\",\"\",\"\",\"0\",\"\",\"\"\n";
    let (rows, problems) = parse(Format::KeepassxcCsv, text).unwrap();
    let got: Vec<_> = rows
        .iter()
        .map(|r| (r.place.as_str(), r.site.as_str(), r.username.as_deref()))
        .collect();
    assert_eq!(
        got,
        vec![
            ("line 2", "Forum", Some("me")),
            ("line 5", "git.example.com", None)
        ]
    );
    assert_eq!(problems.len(), 1);
    assert_eq!(problems[0].place, "line 4");
}

#[test]
fn missing_header_column() {
    assert!(parse(Format::KeepassxcCsv, "a,b\n1,2\n").is_err());
    assert!(parse(Format::BitwardenCsv, "").is_err());
}

#[test]
fn json_export_and_array() {
    let text = r#"{"format":"vault-export","version":1,"entries":[
        {"site":"a.org","username":"u","password":"p"},
        {"site":"b.org","password":""},
        {"site":"c.org","username":null,"password":"q","updated_at":"2024-01-01T00:00:00Z"},
        {"nope":1}]}"#;
    let (rows, problems) = parse(Format::Json, text).unwrap();
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[1].site, "c.org");
    assert_eq!(rows[1].username, None);
    let places: Vec<_> = problems.iter().map(|p| p.place.as_str()).collect();
    assert_eq!(places, vec!["entry 2", "entry 4"]);
    let (rows, _) = parse(Format::Json, r#"[{"site":"x","password":"y"}]"#).unwrap();
    assert_eq!(rows.len(), 1);
    assert!(parse(Format::Json, "{").is_err());
    assert!(parse(Format::Json, r#"{"format":"other","entries":[]}"#).is_err());
}

#[test]
fn hosts() {
    assert_eq!(host_of("https://a.b/c?d"), "a.b");
    assert_eq!(host_of("http://u:p@h.example:80"), "h.example");
    assert_eq!(host_of("h.example/path"), "h.example");
    assert_eq!(host_of("https://[::1]:8080/"), "::1");
    assert_eq!(host_of(""), "");
}
