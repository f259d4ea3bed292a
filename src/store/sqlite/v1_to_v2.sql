-- Schema 1 -> 2 (SQLite). Runs in one transaction with foreign keys off (the
-- users table is rebuilt, and dropping the old one must not cascade).
-- Every account and entry is kept; accounts keep the bare username as their
-- credential identifier (API.md 1.1); each user's entries are stamped 1..n in
-- site order and the user's seq is n, so a first /sync returns them all.
CREATE TABLE users_v2 (
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
INSERT INTO users_v2 (id, username, credential_id, record, vault_key, rev, epoch, seq, created_at)
    SELECT id, username, CAST(username AS BLOB), record, vault_key, rev, epoch,
           (SELECT COUNT(*) FROM entries e WHERE e.user_id = users.id), created_at
    FROM users;
DROP TABLE users;
ALTER TABLE users_v2 RENAME TO users;
ALTER TABLE entries ADD COLUMN seq INTEGER NOT NULL DEFAULT 0;
UPDATE entries SET seq = (
    SELECT COUNT(*) FROM entries e
    WHERE e.user_id = entries.user_id AND e.site <= entries.site
);
-- Tokens issued before the upgrade name accounts only by id and rev: end them
-- all (everyone logs in once more), so that none can match an account made
-- later under an id that schema 1 had handed out before.
UPDATE users SET rev = rev + 1;
-- Ids deleted under schema 1 above the highest one kept can be handed out
-- again once: an account made from now on accepts only tokens bound to it
-- (the `acct` claim), never a schema-1 token that names its id.
INSERT OR REPLACE INTO vaultd_meta (key, value) VALUES ('upgraded_from_1_at', CAST(strftime('%s', 'now') AS INTEGER));
