//! Authentication: the OPAQUE suite, session tokens and login throttling.

pub mod limiter;
pub mod opaque;
pub mod token;
