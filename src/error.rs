//! API errors.
