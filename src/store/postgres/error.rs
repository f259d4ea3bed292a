//! PostgreSQL errors as `StoreError`s: short phrases without SQL, data or
//! host names.

use super::super::StoreError;

pub(super) type PgResult<T> = Result<T, ::postgres::Error>;

/// The fixed description of a client-side error (its kind, without the
/// source, which may name hosts or hold OS details).
pub(super) fn kind_of(e: &::postgres::Error) -> String {
    if e.is_closed() {
        return "connection closed".to_string();
    }
    let text = e.to_string();
    text.split(": ")
        .next()
        .unwrap_or("database error")
        .to_string()
}

/// A short phrase for a SQLSTATE that means "the database cannot serve now".
pub(super) fn describe_sqlstate(code: &str) -> String {
    match code {
        c if c.starts_with("08") => "connection to the database lost".into(),
        "57P01" | "57P02" => "the database is shutting down".into(),
        "57P03" => "the database is starting up".into(),
        "53100" => "the database's disk is full".into(),
        "53200" => "the database is out of memory".into(),
        "53300" => "the database has too many connections".into(),
        c if c.starts_with("53") => "the database is out of resources".into(),
        "25006" => "the database is read-only".into(),
        "40001" | "40P01" => "the database is busy, try again".into(),
        "57014" => "the database cancelled the statement".into(),
        _ => "database error".into(),
    }
}

/// Maps an error of a statement. `23505` (unique violation) is a `Conflict`
/// and `23503` (foreign key violation: the user is gone) a `NotFound`;
/// everything else is `Unavailable` with a message that holds no SQL or data.
pub(super) fn map_err(e: ::postgres::Error) -> StoreError {
    match e.code().map(|c| c.code()) {
        Some("23505") => StoreError::Conflict,
        Some("23503") => StoreError::NotFound,
        Some(code) => {
            let why = describe_sqlstate(code);
            if why == "database error" {
                // Unexpected: a bug or a damaged schema. The SQLSTATE helps
                // the operator and holds no data.
                eprintln!("vaultd: unexpected database error (SQLSTATE {code})");
            }
            StoreError::Unavailable(why)
        }
        None => StoreError::Unavailable(kind_of(&e)),
    }
}

/// Whether `e` means that the connection failed rather than the statement:
/// it is closed, its socket failed (reset, `TCP_USER_TIMEOUT`), or the
/// server ended the session (a FATAL error such as 57P01, sent by a server
/// shutting down or by `pg_terminate_backend`).
pub(super) fn connection_failed(e: &::postgres::Error) -> bool {
    use ::postgres::error::Severity;
    e.is_closed()
        || std::error::Error::source(e).is_some_and(|s| s.is::<std::io::Error>())
        || e.as_db_error().is_some_and(|db| {
            matches!(
                db.parsed_severity(),
                Some(Severity::Fatal) | Some(Severity::Panic)
            )
        })
}

pub(super) fn bad_value() -> StoreError {
    StoreError::Unavailable("the database returned an unexpected value".into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unavailable_messages_hold_no_details() {
        assert_eq!(
            describe_sqlstate("08006"),
            "connection to the database lost"
        );
        assert_eq!(describe_sqlstate("53100"), "the database's disk is full");
        assert_eq!(
            describe_sqlstate("53400"),
            "the database is out of resources"
        );
        assert_eq!(describe_sqlstate("25006"), "the database is read-only");
        assert_eq!(describe_sqlstate("57P01"), "the database is shutting down");
        assert_eq!(describe_sqlstate("42P01"), "database error");
    }
}
