-- Matching (SPEC §4–6): questionnaires, answers, ranked offers, sessions, previews.
-- Keep in step with ../postgres/0002_matching.sql.

-- The program's application questionnaire, as JSON (copied from config when the program is made).
ALTER TABLE programs ADD COLUMN questionnaire TEXT NOT NULL DEFAULT '[]';

CREATE TABLE answers (
    user_id       BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    program_id    BIGINT NOT NULL REFERENCES programs(id) ON DELETE CASCADE,
    question      TEXT NOT NULL,
    value         TEXT NOT NULL,
    complete      BIGINT NOT NULL,
    answered_at   BIGINT NOT NULL,
    PRIMARY KEY (user_id, program_id, question)
);

-- One row per ranked choice of a mentee; the row becomes the offer when its turn comes.
CREATE TABLE offers (
    id                 INTEGER PRIMARY KEY AUTOINCREMENT,
    program_id         BIGINT REFERENCES programs(id) ON DELETE CASCADE,
    mentee_persona_id  BIGINT NOT NULL REFERENCES personas(id) ON DELETE CASCADE,
    mentor_persona_id  BIGINT NOT NULL REFERENCES personas(id) ON DELETE CASCADE,
    round              BIGINT NOT NULL,
    rank               BIGINT NOT NULL,
    state              TEXT NOT NULL,
    reason             TEXT,
    created_at         BIGINT NOT NULL,
    sent_at            BIGINT,
    deadline_at        BIGINT,
    remind_at          BIGINT,
    reminded_at        BIGINT,
    decided_at         BIGINT
);
CREATE INDEX offers_mentee ON offers(mentee_persona_id, round, rank);
CREATE INDEX offers_mentor ON offers(mentor_persona_id, state);
CREATE INDEX offers_due ON offers(state, deadline_at);

CREATE TABLE sessions (
    id                  INTEGER PRIMARY KEY AUTOINCREMENT,
    match_id            BIGINT NOT NULL REFERENCES matches(id) ON DELETE CASCADE,
    starts_at           BIGINT NOT NULL,
    booked_by_user_id   BIGINT REFERENCES users(id) ON DELETE SET NULL,
    state               TEXT NOT NULL,
    created_at          BIGINT NOT NULL,
    cancelled_at        BIGINT,
    reminded_24h_at     BIGINT,
    reminded_1h_at      BIGINT
);
CREATE INDEX sessions_match ON sessions(match_id);
CREATE INDEX sessions_due ON sessions(state, starts_at);

-- A preview shown before a bulk change (auto-pairing), applied only with its token.
CREATE TABLE previews (
    token          TEXT PRIMARY KEY,
    actor_user_id  BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    action         TEXT NOT NULL,
    program_id     BIGINT NOT NULL REFERENCES programs(id) ON DELETE CASCADE,
    payload        TEXT NOT NULL,
    created_at     BIGINT NOT NULL,
    expires_at     BIGINT NOT NULL
);
