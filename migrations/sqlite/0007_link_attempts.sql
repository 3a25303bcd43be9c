-- Wrong link codes tried (docs/security.md): counted per chat account and in all, so guessing
-- a code is slowed to a pace that cannot find one. Kept a day.
CREATE TABLE link_attempts (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    provider    TEXT NOT NULL,
    account_id  TEXT NOT NULL,
    at          BIGINT NOT NULL
);
CREATE INDEX link_attempts_account ON link_attempts(provider, account_id, at);
CREATE INDEX link_attempts_at ON link_attempts(at);
