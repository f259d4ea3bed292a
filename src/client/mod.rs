//! The `vault` client's library half.

pub mod opaque;
