//! vaultd: a small self-hosted zero-knowledge password manager server, and the
//! library half of its `vault` client. The modules are public so that the
//! integration tests drive the real thing.

pub mod api;
pub mod auth;
pub mod client;
pub mod config;
pub mod error;
pub mod http;
pub mod memory;
pub mod store;
pub mod web;
