//! PostgreSQL backend (placeholder until the real backend lands).
use super::*;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SslMode {
    Disable,
    Prefer,
    Require,
}

impl std::str::FromStr for SslMode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "disable" => Ok(SslMode::Disable),
            "prefer" => Ok(SslMode::Prefer),
            "require" => Ok(SslMode::Require),
            _ => Err("sslmode must be disable, prefer or require".into()),
        }
    }
}

#[derive(Debug, Clone)]
pub struct PgSettings {
    pub host: String,
    pub port: u16,
    pub user: String,
    pub password: String,
    pub database: String,
    pub sslmode: SslMode,
}

pub struct PostgresStore;

impl PostgresStore {
    pub fn connect(_settings: &PgSettings, _pool_size: u32) -> StoreResult<PostgresStore> {
        Err(StoreError::Unavailable("not yet".into()))
    }
}

impl Store for PostgresStore {
    fn prepare(&self, _: bool) -> StoreResult<()> { unimplemented!() }
    fn health(&self) -> StoreResult<()> { unimplemented!() }
    fn create_user(&self, _: &str, _: &[u8], _: Option<&str>, _: Option<&[u8]>, _: i64) -> StoreResult<User> { unimplemented!() }
    fn user_by_name(&self, _: &str) -> StoreResult<Option<User>> { unimplemented!() }
    fn user_by_id(&self, _: i64) -> StoreResult<Option<User>> { unimplemented!() }
    fn user_rev(&self, _: i64) -> StoreResult<Option<i64>> { unimplemented!() }
    fn revoke_tokens(&self, _: i64) -> StoreResult<i64> { unimplemented!() }
    fn change_password(&self, _: i64, _: &[u8], _: Option<&str>) -> StoreResult<User> { unimplemented!() }
    fn delete_user(&self, _: i64) -> StoreResult<()> { unimplemented!() }
    fn put_login(&self, _: &PendingLogin, _: i64) -> StoreResult<()> { unimplemented!() }
    fn take_login(&self, _: &[u8], _: i64) -> StoreResult<Option<PendingLogin>> { unimplemented!() }
    fn create_invite(&self, _: &[u8], _: i64) -> StoreResult<()> { unimplemented!() }
    fn invite_valid(&self, _: &[u8], _: i64) -> StoreResult<bool> { unimplemented!() }
    fn add_entry(&self, _: i64, _: &str, _: Option<&str>, _: &str, _: i64) -> StoreResult<Entry> { unimplemented!() }
    fn get_entry(&self, _: i64, _: &str) -> StoreResult<Option<Entry>> { unimplemented!() }
    fn list_entries(&self, _: i64) -> StoreResult<Vec<Entry>> { unimplemented!() }
    fn change_entry(&self, _: i64, _: &str, _: &EntryChange, _: i64) -> StoreResult<i64> { unimplemented!() }
    fn delete_entry(&self, _: i64, _: &str) -> StoreResult<()> { unimplemented!() }
}
