//! vaultd: a small self-hosted zero-knowledge password manager server, and the
//! library half of its `vault` client. The modules are public so that the
//! integration tests drive the real thing.

pub mod api;
pub mod auth;
pub mod client;
pub mod config;
pub mod error;
pub mod http;
// The one unsafe code: glibc's mallopt and malloc_trim, behind safe functions.
#[allow(unsafe_code)]
pub mod memory;
pub mod store;
pub mod tls;
pub mod username;
pub mod web;
