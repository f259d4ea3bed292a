-- The PostgreSQL schema, version 2 (SCHEMA_VERSION in store/mod.rs). Idempotent.
CREATE TABLE IF NOT EXISTS vaultd_meta (
    key   TEXT PRIMARY KEY,
    value BIGINT
);

-- A sequence never hands out an id twice, so a token of a deleted account
-- can never name a later one. `credential_id` is the OPAQUE credential
-- identifier (API.md 1.1, Usernames); `seq` and `manifest` the sync state.
CREATE TABLE IF NOT EXISTS users (
    id            BIGSERIAL PRIMARY KEY,
    username      TEXT   NOT NULL UNIQUE,
    credential_id BYTEA  NOT NULL,
    record        BYTEA  NOT NULL,
    vault_key     BYTEA  NULL,
    rev           BIGINT NOT NULL DEFAULT 0,
    epoch         BIGINT NOT NULL DEFAULT 0,
    seq           BIGINT NOT NULL DEFAULT 0,
    manifest      BYTEA  NULL,
    created_at    BIGINT NOT NULL
);

CREATE TABLE IF NOT EXISTS entries (
    user_id    BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    site       BYTEA  NOT NULL,
    username   BYTEA  NULL,
    password   BYTEA  NOT NULL,
    version    BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    seq        BIGINT NOT NULL,
    PRIMARY KEY (user_id, site)
);
-- `/sync` reads what changed after a seq: an index range, whatever the size.
CREATE INDEX IF NOT EXISTS entries_seq ON entries (user_id, seq);

-- Deletion markers, at most one per site; gone with the account.
CREATE TABLE IF NOT EXISTS deletions (
    user_id BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    site    BYTEA  NOT NULL,
    seq     BIGINT NOT NULL,
    PRIMARY KEY (user_id, site)
);
CREATE INDEX IF NOT EXISTS deletions_seq ON deletions (user_id, seq);

CREATE TABLE IF NOT EXISTS pending_logins (
    id         BYTEA  PRIMARY KEY,
    username   TEXT   NOT NULL,
    user_id    BIGINT NULL REFERENCES users (id) ON DELETE CASCADE,
    epoch      BIGINT NOT NULL,
    state      BYTEA  NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX IF NOT EXISTS pending_logins_expires_at ON pending_logins (expires_at);
-- Makes the cascade of a user's deletion an index lookup.
CREATE INDEX IF NOT EXISTS pending_logins_user_id ON pending_logins (user_id);

-- Registrations and password changes between their two steps (API.md 1.1
-- `registration_id`); `user_id` is set for a password change.
CREATE TABLE IF NOT EXISTS registrations (
    id            BYTEA  PRIMARY KEY,
    username      TEXT   NOT NULL,
    user_id       BIGINT NULL REFERENCES users (id) ON DELETE CASCADE,
    credential_id BYTEA  NOT NULL,
    expires_at    BIGINT NOT NULL
);
CREATE INDEX IF NOT EXISTS registrations_expires_at ON registrations (expires_at);
CREATE INDEX IF NOT EXISTS registrations_user_id ON registrations (user_id);

CREATE TABLE IF NOT EXISTS invites (
    hash       BYTEA  PRIMARY KEY,
    expires_at BIGINT NOT NULL,
    spent_at   BIGINT NULL
);
