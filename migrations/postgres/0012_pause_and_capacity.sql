-- A mentor's pause and places (docs/domain.md#availability, docs/domain.md#capacity).
-- users.paused_until: when the person's pause of new mentee requests ends (UTC milliseconds);
-- NULL when they are not paused, or once the worker has ended it and told them.
-- programs.mentor_capacity: how many mentees a mentor takes at once in the program (1 as before
-- this setting existed); mentor_capacities: a mentor's own number in one program (/capacity).
-- The DEFAULT and the NULL keep every INSERT that does not name the columns working.
ALTER TABLE users ADD COLUMN paused_until BIGINT;
ALTER TABLE programs ADD COLUMN mentor_capacity BIGINT NOT NULL DEFAULT 1;
CREATE TABLE mentor_capacities (
    user_id     BIGINT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    program_id  BIGINT NOT NULL REFERENCES programs(id) ON DELETE CASCADE,
    capacity    BIGINT NOT NULL,
    PRIMARY KEY (user_id, program_id)
);
-- The worker finds the pauses that have ended without reading everyone.
CREATE INDEX users_paused_until ON users (paused_until);
-- Keep in step with ../sqlite/0012_pause_and_capacity.sql.
