-- The worker's feed (SPEC §10): when a pending offer, a booked session or an email row was
-- last turned into queue jobs. NULL = not yet, so the feeder picks it up; the reconciler sets
-- it back to NULL when the queue lost its data. Same in both dialects.
ALTER TABLE offers ADD COLUMN queued_at BIGINT;
ALTER TABLE sessions ADD COLUMN queued_at BIGINT;
ALTER TABLE outbox ADD COLUMN queued_at BIGINT;
CREATE INDEX offers_to_queue ON offers(state, queued_at);
CREATE INDEX sessions_to_queue ON sessions(state, queued_at);
CREATE INDEX outbox_to_queue ON outbox(status, channel, queued_at);
