CREATE TABLE IF NOT EXISTS vaultd_meta (
    key   TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS users (
    id         INTEGER PRIMARY KEY,
    username   TEXT NOT NULL UNIQUE,
    record     BLOB NOT NULL,
    vault_key  BLOB,
    rev        INTEGER NOT NULL DEFAULT 0,
    epoch      INTEGER NOT NULL DEFAULT 0,
    created_at INTEGER NOT NULL
);
-- Strings are stored as BLOBs of their UTF-8 bytes: they may hold U+0000,
-- and BLOBs compare by bytes, which is the order API.md requires.
CREATE TABLE IF NOT EXISTS entries (
    user_id    INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    site       BLOB NOT NULL,
    username   BLOB,
    password   BLOB NOT NULL,
    version    INTEGER NOT NULL,
    updated_at INTEGER NOT NULL,
    PRIMARY KEY (user_id, site)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS pending_logins (
    id         BLOB PRIMARY KEY,
    username   TEXT NOT NULL,
    user_id    INTEGER REFERENCES users(id) ON DELETE CASCADE,
    epoch      INTEGER NOT NULL,
    state      BLOB NOT NULL,
    expires_at INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS pending_logins_expiry ON pending_logins (expires_at);
CREATE INDEX IF NOT EXISTS pending_logins_user ON pending_logins (user_id);
CREATE TABLE IF NOT EXISTS invites (
    hash       BLOB PRIMARY KEY,
    expires_at INTEGER NOT NULL,
    spent_at   INTEGER
);
