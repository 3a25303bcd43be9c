-- Ready on approval (docs/domain.md#ready-on-approval): when a program sets it, approving a
-- person (/status … A from AI or SI, the /screening button) also moves their personas in that
-- program N/A or RS → RTBM, in the same transaction. 0 = no (the default, as before this
-- setting existed); the DEFAULT keeps every INSERT that does not name the column working.
ALTER TABLE programs ADD COLUMN ready_on_approval BIGINT NOT NULL DEFAULT 0;
-- Keep in step with ../sqlite/0011_ready_on_approval.sql.
