-- Calendar-ready sessions (docs/domain.md#sessions): how long a session lasts, in minutes
-- (every session before this migration was taken to last an hour: 60), and where it takes
-- place (free text, NULL: not said). The invitation's DTEND and a flash match's close
-- (docs/domain.md#flash-mentoring) read the length. The DEFAULT keeps every INSERT that does
-- not name the column working.
ALTER TABLE sessions ADD COLUMN duration_minutes BIGINT NOT NULL DEFAULT 60;
ALTER TABLE sessions ADD COLUMN place TEXT DEFAULT NULL;
-- Keep in step with ../sqlite/0014_session_details.sql.
