//! Login throttling (filled in with the login routes).
