-- Inactivity reminders (SPEC §7): when the last one went out, so each inactivity period gets
-- one, then at most one more every inactivity_repeat. Same in both dialects.
ALTER TABLE users ADD COLUMN inactivity_reminded_at BIGINT;
