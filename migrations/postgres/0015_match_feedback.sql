-- Close-of-match feedback (docs/domain.md#feedback): each of the two people of a closed match
-- answers three questions by buttons; one row per (match, person, question), so a second
-- answer to the same question replaces the first. program_id is the match's, copied so
-- /overview counts a program's answers without a join. A person deleted for good takes their
-- answers with them (docs/domain.md#permanent-delete), as with their other rows.
CREATE TABLE match_feedback (
    match_id     BIGINT NOT NULL REFERENCES matches(id),
    user_id      BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    program_id   BIGINT DEFAULT NULL,
    question     BIGINT NOT NULL,
    answer       TEXT NOT NULL DEFAULT '',
    answered_at  BIGINT NOT NULL DEFAULT 0,
    PRIMARY KEY (match_id, user_id, question)
);
CREATE INDEX match_feedback_program ON match_feedback(program_id, question);
-- Keep in step with ../sqlite/0015_match_feedback.sql.
