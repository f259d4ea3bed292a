-- Schema 1 -> 2 (PostgreSQL), in one transaction. Every account and entry is
-- kept; accounts keep the bare username as their credential identifier
-- (API.md 1.1); each user's entries are stamped 1..n in site order and the
-- user's seq is n, so a first /sync returns them all. New tables and indexes
-- come from schema.sql, which runs after this.
ALTER TABLE users ADD COLUMN credential_id BYTEA NULL,
                  ADD COLUMN seq BIGINT NOT NULL DEFAULT 0,
                  ADD COLUMN manifest BYTEA NULL;
UPDATE users SET credential_id = convert_to(username, 'UTF8');
ALTER TABLE users ALTER COLUMN credential_id SET NOT NULL;
ALTER TABLE entries ADD COLUMN seq BIGINT NOT NULL DEFAULT 0;
UPDATE entries SET seq = numbered.n
    FROM (SELECT user_id, site, row_number() OVER (PARTITION BY user_id ORDER BY site) AS n
          FROM entries) AS numbered
    WHERE entries.user_id = numbered.user_id AND entries.site = numbered.site;
ALTER TABLE entries ALTER COLUMN seq DROP DEFAULT;
UPDATE users SET seq = (SELECT COUNT(*) FROM entries WHERE entries.user_id = users.id);
-- End every token issued before the upgrade (everyone logs in once more).
UPDATE users SET rev = rev + 1;
-- An account made from now on accepts only tokens bound to it (the `acct`
-- claim): see the SQLite step for why.
INSERT INTO vaultd_meta (key, value)
    VALUES ('upgraded_from_1_at', extract(epoch FROM now())::BIGINT)
    ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value;
