//! SQLite backend.
pub struct SqliteStore;
