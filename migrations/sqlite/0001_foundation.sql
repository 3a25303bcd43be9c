-- mentorops foundation schema (SQLite). Keep in step with ../postgres/0001_foundation.sql:
-- same tables, same columns, same version number (a test checks the names match).
-- Times are BIGINT milliseconds since the Unix epoch, UTC, in both dialects, so one SQL text
-- serves both backends through sqlx's Any driver.

CREATE TABLE organizations (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    name        TEXT NOT NULL UNIQUE,
    created_at  BIGINT NOT NULL
);

CREATE TABLE programs (
    id                         INTEGER PRIMARY KEY AUTOINCREMENT,
    org_id                     BIGINT NOT NULL REFERENCES organizations(id),
    name                       TEXT NOT NULL,
    max_choices                BIGINT NOT NULL,
    recommendations            BIGINT NOT NULL,
    offer_ttl_secs             BIGINT NOT NULL,
    offer_reminder_before_secs BIGINT NOT NULL,
    inactivity_after_secs      BIGINT NOT NULL,
    inactivity_repeat_secs     BIGINT NOT NULL,
    flash_mentoring            BIGINT NOT NULL,
    timezone                   TEXT NOT NULL,
    created_at                 BIGINT NOT NULL,
    UNIQUE (org_id, name)
);

CREATE TABLE users (
    id                INTEGER PRIMARY KEY AUTOINCREMENT,
    email             TEXT NOT NULL UNIQUE,
    phone             TEXT UNIQUE,
    external_id       TEXT UNIQUE,
    full_name         TEXT NOT NULL,
    status            TEXT NOT NULL,
    org_id            BIGINT REFERENCES organizations(id),
    created_at        BIGINT NOT NULL,
    first_seen_at     BIGINT,
    last_activity_at  BIGINT
);

CREATE TABLE user_tags (
    user_id  BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    key      TEXT NOT NULL,
    value    TEXT NOT NULL,
    PRIMARY KEY (user_id, key)
);

CREATE TABLE personas (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id       BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    role          TEXT NOT NULL,
    program_id    BIGINT REFERENCES programs(id),
    status        TEXT NOT NULL,
    match_status  TEXT NOT NULL,
    created_at    BIGINT NOT NULL
);
CREATE INDEX personas_user ON personas(user_id);
CREATE INDEX personas_program ON personas(program_id);

CREATE TABLE matches (
    id                 INTEGER PRIMARY KEY AUTOINCREMENT,
    program_id         BIGINT REFERENCES programs(id),
    mentee_persona_id  BIGINT REFERENCES personas(id) ON DELETE SET NULL,
    mentor_persona_id  BIGINT REFERENCES personas(id) ON DELETE SET NULL,
    status             TEXT NOT NULL,
    via                TEXT NOT NULL,
    created_at         BIGINT NOT NULL,
    closed_at          BIGINT
);
CREATE INDEX matches_mentee ON matches(mentee_persona_id);
CREATE INDEX matches_mentor ON matches(mentor_persona_id);

CREATE TABLE staff_roles (
    id          INTEGER PRIMARY KEY AUTOINCREMENT,
    user_id     BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    role        TEXT NOT NULL,
    program_id  BIGINT REFERENCES programs(id) ON DELETE CASCADE,
    created_at  BIGINT NOT NULL
);
CREATE INDEX staff_roles_user ON staff_roles(user_id);

CREATE TABLE chat_links (
    provider    TEXT NOT NULL,
    account_id  TEXT NOT NULL,
    user_id     BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    handle      TEXT,
    linked_at   BIGINT NOT NULL,
    PRIMARY KEY (provider, account_id)
);
CREATE INDEX chat_links_user ON chat_links(user_id);

CREATE TABLE link_codes (
    code        TEXT PRIMARY KEY,
    user_id     BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at  BIGINT NOT NULL,
    expires_at  BIGINT NOT NULL,
    used_at     BIGINT
);

CREATE TABLE audit_log (
    id               INTEGER PRIMARY KEY AUTOINCREMENT,
    at               BIGINT NOT NULL,
    actor_user_id    BIGINT REFERENCES users(id) ON DELETE SET NULL,
    frontend         TEXT NOT NULL,
    subject_user_id  BIGINT REFERENCES users(id) ON DELETE SET NULL,
    entity           TEXT NOT NULL,
    entity_id        BIGINT,
    field            TEXT NOT NULL,
    old_value        TEXT,
    new_value        TEXT,
    reason           TEXT,
    reverts          BIGINT,
    reverted_by      BIGINT
);
CREATE INDEX audit_subject ON audit_log(subject_user_id);

CREATE TABLE outbox (
    id                 INTEGER PRIMARY KEY AUTOINCREMENT,
    created_at         BIGINT NOT NULL,
    channel            TEXT NOT NULL,
    kind               TEXT NOT NULL,
    recipient_user_id  BIGINT REFERENCES users(id) ON DELETE CASCADE,
    recipient          TEXT NOT NULL,
    subject            TEXT NOT NULL,
    body_text          TEXT NOT NULL,
    body_html          TEXT,
    buttons            TEXT,
    idempotency_key    TEXT NOT NULL UNIQUE,
    status             TEXT NOT NULL,
    attempts           BIGINT NOT NULL,
    last_error         TEXT,
    available_at       BIGINT NOT NULL,
    sent_at            BIGINT
);
CREATE INDEX outbox_pending ON outbox(status, available_at);

CREATE TABLE pending_actions (
    token            TEXT PRIMARY KEY,
    actor_user_id    BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    action           TEXT NOT NULL,
    subject_user_id  BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    created_at       BIGINT NOT NULL,
    expires_at       BIGINT NOT NULL
);
