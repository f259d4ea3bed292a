//! The `vault` client's library half.
