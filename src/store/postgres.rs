//! PostgreSQL backend.
pub struct PostgresStore;
