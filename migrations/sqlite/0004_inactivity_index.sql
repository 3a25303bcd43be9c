-- The inactivity sweep (SPEC §7) looks for people who can use the bot and whose last activity
-- (or, never seen, their creation) is older than the smallest inactivity threshold. Without
-- this it reads every user each hour. Keep in step with ../postgres/0004_inactivity_index.sql.
CREATE INDEX users_inactivity ON users (status, COALESCE(last_activity_at, created_at));
