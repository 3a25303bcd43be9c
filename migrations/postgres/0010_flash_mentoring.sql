-- Flash mentoring (docs/domain.md#flash-mentoring): a match in a flash program closes once its
-- first session since it was opened has ended. reopened_at is when /match_reopen last opened a
-- closed match again (NULL: never), so the session held before it was closed does not close it
-- again at once. The index lets the worker find the open matches without reading closed ones.
ALTER TABLE matches ADD COLUMN reopened_at BIGINT;
CREATE INDEX matches_status ON matches (status, program_id);
-- Keep in step with ../sqlite/0010_flash_mentoring.sql.
