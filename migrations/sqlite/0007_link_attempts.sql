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

-- A new code revokes the person's unused ones (store::links::revoke_unused): found by person,
-- not by a scan of every code (an import of 130 000 people issues 130 000 codes).
CREATE INDEX link_codes_user ON link_codes(user_id);
