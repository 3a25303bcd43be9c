-- Messages a person can follow (docs/domain.md#edited-messages): a chat message whose buttons
-- can no longer do anything is edited to say what became of it.
-- sent_as: the platform's id of the message a chat row became (the part holding its buttons),
-- recorded when the platform accepted it; edits: on a row that changes an earlier message
-- instead of sending a new one, that message's idempotency key.
ALTER TABLE outbox ADD COLUMN sent_as TEXT;
ALTER TABLE outbox ADD COLUMN edits TEXT;
-- Keep in step with ../postgres/0009_sent_messages.sql.
