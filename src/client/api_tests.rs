//! Unit tests of the API client (`api.rs`).
use super::*;

#[test]
fn change_body_shapes() {
    let c = Change {
        site: "s".into(),
        password: Some("p".into()),
        username: None,
        version: Some(3),
    };
    assert_eq!(
        serde_json::to_value(&c).unwrap(),
        json!({"site": "s", "password": "p", "version": 3})
    );
    let c = Change {
        site: "s".into(),
        username: Some(None),
        ..Default::default()
    };
    assert_eq!(
        serde_json::to_value(&c).unwrap(),
        json!({"site": "s", "username": null})
    );
}

#[test]
fn urls() {
    assert!(Api::new("http://127.0.0.1:8080/").is_ok());
    assert_eq!(Api::new("http://h:1///").unwrap().base_url(), "http://h:1");
    assert!(matches!(Api::new("ftp://h"), Err(HttpError::BadUrl { .. })));
    assert!(matches!(Api::new("h:80"), Err(HttpError::BadUrl { .. })));
}

#[test]
fn unreachable_server() {
    // A port nothing listens on: bind one, learn it, close it.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let api = Api::new(&format!("http://127.0.0.1:{port}")).unwrap();
    match api.health() {
        Err(HttpError::Unreachable { url, .. }) => {
            assert_eq!(url, format!("http://127.0.0.1:{port}"))
        }
        other => panic!("{other:?}"),
    }
}

/// What a [`fake_server`] was asked: (path, JSON body) per request.
type Seen = std::sync::Arc<std::sync::Mutex<Vec<(String, Value)>>>;

/// A loopback HTTP/1.1 server answering each request with `answer(path,
/// body)` = (status, body), one request per connection.
pub(super) fn fake_server(
    answer: impl Fn(&str, &Value) -> (u16, String) + Send + 'static,
) -> (String, Seen) {
    use std::io::{BufRead, BufReader, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let seen: Seen = Default::default();
    let log = seen.clone();
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(conn) = conn else { return };
            let mut reader = BufReader::new(conn.try_clone().unwrap());
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            let path = line.split_whitespace().nth(1).unwrap_or("").to_owned();
            let mut len = 0;
            loop {
                let mut h = String::new();
                reader.read_line(&mut h).unwrap();
                if h.trim().is_empty() {
                    break;
                }
                if let Some((k, v)) = h.split_once(':')
                    && k.eq_ignore_ascii_case("content-length")
                {
                    len = v.trim().parse().unwrap();
                }
            }
            let mut body = vec![0; len];
            reader.read_exact(&mut body).unwrap();
            let body: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
            let (status, reply) = answer(&path, &body);
            log.lock().unwrap().push((path, body));
            let mut conn = conn;
            let _ = write!(
                conn,
                "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{reply}",
                reply.len()
            );
        }
    });
    (url, seen)
}

/// API 1.1: the `registration_id` of `/register` and `/account/password`
/// goes back unchanged with the finish call; a 1.0 server (none given)
/// gets no such field.
#[test]
fn registration_id_is_sent_back_only_when_given() {
    let response = b64(&[7u8; 64]);
    for id in [Some("reg-id_123"), None] {
        let r = response.clone();
        let (url, seen) = fake_server(move |path, _| {
            let mut body = json!({"registration_response": r});
            if let Some(id) = id {
                body["registration_id"] = json!(id);
            }
            match path {
                "/register" | "/account/password" => (200, body.to_string()),
                "/register/finish" => (201, json!({"username": "ann"}).to_string()),
                _ => (200, json!({"token": "t", "vault_key": null}).to_string()),
            }
        });
        let api = Api::new(&url).unwrap();
        let start = api.register("ann", &[1; 32], None).unwrap();
        assert_eq!(start.response, [7u8; 64]);
        assert_eq!(start.registration_id.as_deref(), id);
        api.register_finish(
            "ann",
            start.registration_id.as_deref(),
            &[2; 192],
            None,
            None,
        )
        .unwrap();
        let token = Token::new("t".into());
        let start = api.account_password(&token, &[1; 32]).unwrap();
        api.account_password_finish(&token, start.registration_id.as_deref(), &[2; 192], None)
            .unwrap();
        let seen = seen.lock().unwrap();
        let finishes: Vec<&Value> = seen
            .iter()
            .filter(|(p, _)| p.ends_with("/finish"))
            .map(|(_, b)| b)
            .collect();
        assert_eq!(finishes.len(), 2);
        for body in finishes {
            assert_eq!(body.get("registration_id"), id.map(|i| json!(i)).as_ref());
        }
    }
}
