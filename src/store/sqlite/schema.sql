-- The SQLite schema, version 2 (SCHEMA_VERSION in store/mod.rs). Idempotent.
CREATE TABLE IF NOT EXISTS vaultd_meta (
    key   TEXT PRIMARY KEY,
    value INTEGER NOT NULL
);
-- AUTOINCREMENT: the id of a deleted account is never handed out again (a
-- token names its account by id). `credential_id` is the OPAQUE credential
-- identifier (API.md 1.1, Usernames); `seq` and `manifest` are the sync state.
CREATE TABLE IF NOT EXISTS users (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    username      TEXT NOT NULL UNIQUE,
    credential_id BLOB NOT NULL,
    record        BLOB NOT NULL,
    vault_key     BLOB,
    rev           INTEGER NOT NULL DEFAULT 0,
    epoch         INTEGER NOT NULL DEFAULT 0,
    seq           INTEGER NOT NULL DEFAULT 0,
    manifest      BLOB,
    created_at    INTEGER NOT NULL
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
    seq        INTEGER NOT NULL,
    PRIMARY KEY (user_id, site)
) WITHOUT ROWID;
-- `/sync` reads what changed after a seq: an index range, whatever the size.
CREATE INDEX IF NOT EXISTS entries_seq ON entries (user_id, seq);
-- Deletion markers, at most one per site; gone with the account.
CREATE TABLE IF NOT EXISTS deletions (
    user_id INTEGER NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    site    BLOB NOT NULL,
    seq     INTEGER NOT NULL,
    PRIMARY KEY (user_id, site)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS deletions_seq ON deletions (user_id, seq);
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
-- Registrations and password changes between their two steps (API.md 1.1
-- `registration_id`); `user_id` is set for a password change.
CREATE TABLE IF NOT EXISTS registrations (
    id            BLOB PRIMARY KEY,
    username      TEXT NOT NULL,
    user_id       INTEGER REFERENCES users(id) ON DELETE CASCADE,
    credential_id BLOB NOT NULL,
    expires_at    INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS registrations_expiry ON registrations (expires_at);
CREATE INDEX IF NOT EXISTS registrations_user ON registrations (user_id);
CREATE TABLE IF NOT EXISTS invites (
    hash       BLOB PRIMARY KEY,
    expires_at INTEGER NOT NULL,
    spent_at   INTEGER
);
