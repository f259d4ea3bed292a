CREATE TABLE IF NOT EXISTS vaultd_meta (
    key   TEXT PRIMARY KEY,
    value BIGINT
);

CREATE TABLE IF NOT EXISTS users (
    id         BIGSERIAL PRIMARY KEY,
    username   TEXT   NOT NULL UNIQUE,
    record     BYTEA  NOT NULL,
    vault_key  BYTEA  NULL,
    rev        BIGINT NOT NULL DEFAULT 0,
    epoch      BIGINT NOT NULL DEFAULT 0,
    created_at BIGINT NOT NULL
);

CREATE TABLE IF NOT EXISTS entries (
    user_id    BIGINT NOT NULL REFERENCES users (id) ON DELETE CASCADE,
    site       BYTEA  NOT NULL,
    username   BYTEA  NULL,
    password   BYTEA  NOT NULL,
    version    BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    PRIMARY KEY (user_id, site)
);

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

CREATE TABLE IF NOT EXISTS invites (
    hash       BYTEA  PRIMARY KEY,
    expires_at BIGINT NOT NULL,
    spent_at   BIGINT NULL
);
