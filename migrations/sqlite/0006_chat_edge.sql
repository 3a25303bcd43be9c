-- The chat edge (docs/chat-edge.md): what came in, who holds a platform connection, and what
-- goes out, durable the way the worker's jobs are.

-- Every update or interaction received, keyed by the platform's own id, so a second delivery
-- runs nothing. Telegram updates are written here before Telegram is told it has them (the next
-- getUpdates offset, or the webhook's 200) and run from here, in order per lane (chat);
-- Discord interactions are written already done, in the transaction of the command they ran.
CREATE TABLE chat_inbox (
    id            INTEGER PRIMARY KEY AUTOINCREMENT,
    platform      TEXT NOT NULL,
    update_key    TEXT NOT NULL,
    lane          TEXT NOT NULL,
    payload       TEXT NOT NULL,
    received_at   BIGINT NOT NULL,
    state         TEXT NOT NULL,
    available_at  BIGINT NOT NULL,
    attempts      BIGINT NOT NULL,
    last_error    TEXT,
    done_at       BIGINT
);
CREATE UNIQUE INDEX chat_inbox_key ON chat_inbox(platform, update_key);
-- The heads of the lanes: the oldest update of each chat not run yet (only those rows).
CREATE INDEX chat_inbox_lane ON chat_inbox(platform, lane, id) WHERE state = 'new';
CREATE INDEX chat_inbox_done ON chat_inbox(state, done_at);

-- Leases: which process holds a connection only one may hold (Telegram long polling, the
-- Discord gateway) until expires_at; renewed while it lives.
CREATE TABLE leases (
    name        TEXT PRIMARY KEY,
    holder      TEXT NOT NULL,
    expires_at  BIGINT NOT NULL
);

-- Replies go out through the outbox too. target: how the front-end shows it (a new message,
-- or the outcome of a button press in the pressed message), as the front-end wrote it;
-- parts_sent: parts of a long message already accepted, so a retry sends only the rest.
ALTER TABLE outbox ADD COLUMN target TEXT;
ALTER TABLE outbox ADD COLUMN parts_sent BIGINT NOT NULL DEFAULT 0;
-- The heads of the lanes: each recipient's oldest message not sent yet (only those rows).
CREATE INDEX outbox_lane ON outbox(channel, recipient, id) WHERE status = 'pending';

-- Files that go with an outbox row (an export as a reply); deleted once the row is sent.
CREATE TABLE outbox_files (
    outbox_id   BIGINT NOT NULL REFERENCES outbox(id) ON DELETE CASCADE,
    position    BIGINT NOT NULL,
    file_name   TEXT NOT NULL,
    media_type  TEXT NOT NULL,
    bytes       BLOB NOT NULL,
    PRIMARY KEY (outbox_id, position)
);
