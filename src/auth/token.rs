//! Session tokens (JWT HS256).
