// Placeholder until the PostgreSQL harness lands.
pub fn pg_settings_for_test(_tag: &str) -> Option<vaultd::store::PgSettings> {
    None
}
pub fn pg_settings_as_ini(_s: &vaultd::store::PgSettings) -> String {
    String::new()
}
