-- Quiet hours (docs/domain.md#quiet-hours). Reminders and nudges that fall in a person's quiet
-- hours wait for the window's end: the outbox row carries when it may be delivered
-- (not_before, UTC milliseconds; 0 = at once, every row before this migration), and the chat
-- lanes and the email delivery leave it until then. A program's window (default 21-8, in its
-- time zone; "off" for none) and a person's own window and time zone (NULL: the program's).
-- The DEFAULTs keep every INSERT that does not name the columns working.
ALTER TABLE outbox ADD COLUMN not_before BIGINT NOT NULL DEFAULT 0;
ALTER TABLE programs ADD COLUMN quiet_hours TEXT NOT NULL DEFAULT '21-08';
ALTER TABLE users ADD COLUMN quiet_hours TEXT DEFAULT NULL;
ALTER TABLE users ADD COLUMN timezone TEXT DEFAULT NULL;
-- Keep in step with ../postgres/0013_quiet_hours.sql.
