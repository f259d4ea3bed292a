//! The `vault` client's library half.

pub mod crypto;
pub mod opaque;
