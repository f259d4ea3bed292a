//! The key-stretching function of every test client, benchmark client and
//! fuzz target: Argon2id at its minimum cost. Key stretching is the
//! client's choice and the server never runs it, so a cheap one changes
//! nothing on the server's side; the real parameters (API.md, OPAQUE) are
//! tested by the `vault` client's tests, the serenity interoperability run,
//! and measured by `bench-login`.
//!
//! Self-contained (only `argon2`), so that `bench/common.rs` and
//! `fuzz/src/lib.rs` include this very file with `#[path]`.

/// Argon2id, 8 KiB, one pass, one lane, 64-byte output.
pub fn cheap_ksf() -> argon2::Argon2<'static> {
    argon2::Argon2::new(
        argon2::Algorithm::Argon2id,
        argon2::Version::V0x13,
        argon2::Params::new(8, 1, 1, Some(64)).expect("valid Argon2 parameters"),
    )
}
