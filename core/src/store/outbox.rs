//! The outbox (docs/domain.md#notifications): every message a change causes is written here in the
//! same transaction as the change, and delivered later, at least once, by the worker. The
//! idempotency key makes a second write of the same message a no-op, and keys the delivery so a
//! retry never sends twice.

use chrono::{DateTime, Utc};
use sqlx::Row;
use sqlx::any::AnyRow;

use super::{Conn, get_opt_time, get_time, ms};
use crate::db::Backend;
use crate::error::Result;
use crate::reply::{Attachment, Button};

pub const EMAIL: &str = "email";
/// The kind of a row that answers a command (to whoever sent it, linked or not).
pub const REPLY: &str = "reply";

/// `email`, or `chat:<provider>` for a chat DM.
pub fn chat_channel(provider: &str) -> String {
    format!("chat:{provider}")
}

#[derive(Debug, Clone)]
pub struct NewMessage {
    pub channel: String,
    pub kind: &'static str,
    pub recipient_user_id: Option<i64>,
    /// An email address, or the chat account id.
    pub recipient: String,
    pub subject: String,
    pub body_text: String,
    pub body_html: Option<String>,
    pub buttons: Vec<Button>,
    pub idempotency_key: String,
}

#[derive(Debug, Clone)]
pub struct Message {
    pub id: i64,
    pub created_at: DateTime<Utc>,
    pub channel: String,
    pub kind: String,
    pub recipient_user_id: Option<i64>,
    pub recipient: String,
    pub subject: String,
    pub body_text: String,
    pub body_html: Option<String>,
    pub buttons: Vec<Button>,
    pub idempotency_key: String,
    pub status: String,
    pub attempts: i64,
    pub last_error: Option<String>,
    pub sent_at: Option<DateTime<Utc>>,
    /// How a chat front-end shows it, as that front-end wrote it (None: a new message).
    pub target: Option<String>,
    /// Parts of a long chat message already accepted by the platform.
    pub parts_sent: i64,
    /// When the row is due; for a claimed row, when its lease ends (the claim's token).
    pub available_at: DateTime<Utc>,
    /// The platform's id of the message this chat row became (the part holding its buttons),
    /// once the platform accepted it: what an edit of it names.
    pub sent_as: Option<String>,
    /// On a row that changes an earlier chat message rather than sending a new one (see
    /// [`queue_edits`]): that message's idempotency key.
    pub edits: Option<String>,
    /// Not delivered before this time (None: as soon as it is due): a reminder or nudge that
    /// fell in its recipient's quiet hours waits for their end (docs/domain.md#quiet-hours).
    /// Such a row is left out of its chat's lane until then, so it holds up nothing behind it.
    pub not_before: Option<DateTime<Utc>>,
}

const COLS: &str = "id, created_at, channel, kind, recipient_user_id, recipient, subject, body_text, body_html, \
                    buttons, idempotency_key, status, attempts, last_error, sent_at, target, parts_sent, available_at, \
                    sent_as, edits, not_before";

fn from_row(r: &AnyRow) -> Result<Message> {
    let buttons: Option<String> = r.try_get("buttons")?;
    Ok(Message {
        id: r.try_get("id")?,
        created_at: get_time(r, "created_at")?,
        channel: r.try_get("channel")?,
        kind: r.try_get("kind")?,
        recipient_user_id: r.try_get("recipient_user_id")?,
        recipient: r.try_get("recipient")?,
        subject: r.try_get("subject")?,
        body_text: r.try_get("body_text")?,
        body_html: r.try_get("body_html")?,
        buttons: buttons
            .and_then(|b| serde_json::from_str(&b).ok())
            .unwrap_or_default(),
        idempotency_key: r.try_get("idempotency_key")?,
        status: r.try_get("status")?,
        attempts: r.try_get("attempts")?,
        last_error: r.try_get("last_error")?,
        sent_at: get_opt_time(r, "sent_at")?,
        target: r.try_get("target")?,
        parts_sent: r.try_get("parts_sent")?,
        available_at: get_time(r, "available_at")?,
        sent_as: r.try_get("sent_as")?,
        edits: r.try_get("edits")?,
        not_before: Some(r.try_get::<i64, _>("not_before")?)
            .filter(|t| *t > 0)
            .map(super::time),
    })
}

type Query<'q> = sqlx::query::Query<'q, sqlx::Any, sqlx::any::AnyArguments>;

/// `q` with a new message's nine columns bound next, as the INSERTs below list them: channel,
/// kind, recipient_user_id, recipient, subject, body_text, body_html, buttons (as JSON; NULL
/// when there are none), idempotency_key.
fn bind_message<'q>(q: Query<'q>, m: &NewMessage) -> Query<'q> {
    let buttons = if m.buttons.is_empty() {
        None
    } else {
        serde_json::to_string(&m.buttons).ok()
    };
    q.bind(&m.channel)
        .bind(m.kind)
        .bind(m.recipient_user_id)
        .bind(&m.recipient)
        .bind(&m.subject)
        .bind(&m.body_text)
        .bind(m.body_html.as_deref())
        .bind(buttons)
        .bind(&m.idempotency_key)
}

/// Queues a message; returns its id, or None when a message with that key is queued already.
pub async fn insert(c: &mut Conn, m: &NewMessage, now: DateTime<Utc>) -> Result<Option<i64>> {
    insert_with(c, m, None, &[], now).await
}

/// Queues a chat message with how to show it (`target`, the front-end's own words) and the
/// files that go with it; None when a message with that key is queued already.
pub async fn insert_with(
    c: &mut Conn,
    m: &NewMessage,
    target: Option<&str>,
    files: &[Attachment],
    now: DateTime<Utc>,
) -> Result<Option<i64>> {
    insert_row(c, m, target, files, None, now).await
}

/// Queues a message not to be delivered before `not_before` (None: at once; see
/// [`Message::not_before`]); None when a message with that key is queued already.
pub async fn insert_held(
    c: &mut Conn,
    m: &NewMessage,
    not_before: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Result<Option<i64>> {
    insert_row(c, m, None, &[], not_before, now).await
}

/// [`insert_held`] with the files that go with the message (a session's calendar invitation,
/// on an email or a chat row).
pub async fn insert_held_with(
    c: &mut Conn,
    m: &NewMessage,
    not_before: Option<DateTime<Utc>>,
    files: &[Attachment],
    now: DateTime<Utc>,
) -> Result<Option<i64>> {
    insert_row(c, m, None, files, not_before, now).await
}

/// `not_before` as stored (0: none) and the row's first `available_at`: due at once, or when
/// it may be delivered.
fn held(not_before: Option<DateTime<Utc>>, now: DateTime<Utc>) -> (i64, i64) {
    match not_before {
        Some(t) if t > now => (ms(t), ms(t)),
        _ => (0, ms(now)),
    }
}

async fn insert_row(
    c: &mut Conn,
    m: &NewMessage,
    target: Option<&str>,
    files: &[Attachment],
    not_before: Option<DateTime<Utc>>,
    now: DateTime<Utc>,
) -> Result<Option<i64>> {
    let (not_before, available) = held(not_before, now);
    let q = sqlx::query(
        "INSERT INTO outbox (created_at, channel, kind, recipient_user_id, recipient, subject, body_text, \
         body_html, buttons, idempotency_key, status, attempts, available_at, target, not_before) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 'pending', 0, $12, $11, $13) \
         ON CONFLICT (idempotency_key) DO NOTHING RETURNING id",
    )
    .bind(ms(now));
    let row = bind_message(q, m)
        .bind(target)
        .bind(available)
        .bind(not_before)
        .fetch_optional(&mut *c)
        .await?;
    let id: Option<i64> = row.map(|r| r.try_get("id")).transpose()?;
    if let Some(id) = id {
        for (position, f) in files.iter().enumerate() {
            sqlx::query(
                "INSERT INTO outbox_files (outbox_id, position, file_name, media_type, bytes) VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(id)
            .bind(position as i64)
            .bind(&f.file_name)
            .bind(&f.media_type)
            .bind(f.bytes.clone())
            .execute(&mut *c)
            .await?;
        }
    }
    Ok(id)
}

/// Queues many messages with one statement per few thousand (in the order given, so each
/// person's come out in that order); returns, for each, whether it was new (false: a message
/// with its key was queued already, or earlier in `messages`).
pub async fn insert_many(
    c: &mut Conn,
    messages: &[NewMessage],
    now: DateTime<Utc>,
) -> Result<Vec<bool>> {
    insert_many_held(c, messages, &[], now).await
}

/// [`insert_many`], each message not delivered before its `not_before` (in the same order as
/// `messages`; missing ones: at once; see [`Message::not_before`]).
pub async fn insert_many_held(
    c: &mut Conn,
    messages: &[NewMessage],
    not_before: &[Option<DateTime<Utc>>],
    now: DateTime<Utc>,
) -> Result<Vec<bool>> {
    // 10 parameters a row; both backends take well over 27 000 in one statement.
    const ROWS: usize = 2700;
    let mut seen = std::collections::HashSet::new();
    let fresh: Vec<(&NewMessage, i64)> = messages
        .iter()
        .enumerate()
        .filter(|(_, m)| seen.insert(m.idempotency_key.as_str()))
        .map(|(i, m)| (m, held(not_before.get(i).copied().flatten(), now).0))
        .collect();
    let mut inserted = std::collections::HashSet::new();
    for chunk in fresh.chunks(ROWS) {
        let mut sql = String::from(
            "INSERT INTO outbox (created_at, channel, kind, recipient_user_id, recipient, subject, body_text, \
             body_html, buttons, idempotency_key, status, attempts, available_at, not_before) VALUES ",
        );
        for i in 0..chunk.len() {
            let p = 2 + i * 10;
            if i > 0 {
                sql.push_str(", ");
            }
            // A held row is first available when it may be delivered (`held`).
            sql.push_str(&format!(
                "($1, ${}, ${}, ${}, ${}, ${}, ${}, ${}, ${}, ${}, 'pending', 0, \
                 CASE WHEN ${nb} > $1 THEN ${nb} ELSE $1 END, ${nb})",
                p,
                p + 1,
                p + 2,
                p + 3,
                p + 4,
                p + 5,
                p + 6,
                p + 7,
                p + 8,
                nb = p + 9
            ));
        }
        sql.push_str(" ON CONFLICT (idempotency_key) DO NOTHING RETURNING idempotency_key");
        let mut q = sqlx::query(super::sql(sql)).persistent(false).bind(ms(now));
        for (m, not_before) in chunk {
            q = bind_message(q, m).bind(*not_before);
        }
        for r in q.fetch_all(&mut *c).await? {
            inserted.insert(r.try_get::<String, _>("idempotency_key")?);
        }
    }
    let mut first = std::collections::HashSet::new();
    Ok(messages
        .iter()
        .map(|m| inserted.contains(&m.idempotency_key) && first.insert(m.idempotency_key.as_str()))
        .collect())
}

/// The files that go with a message, in order.
pub async fn files(c: &mut Conn, id: i64) -> Result<Vec<Attachment>> {
    let rows = sqlx::query(
        "SELECT file_name, media_type, bytes FROM outbox_files WHERE outbox_id = $1 ORDER BY position",
    )
    .bind(id)
    .fetch_all(&mut *c)
    .await?;
    rows.iter()
        .map(|r| {
            Ok(Attachment {
                file_name: r.try_get("file_name")?,
                media_type: r.try_get("media_type")?,
                bytes: r.try_get("bytes")?,
            })
        })
        .collect()
}

/// Claims the head (oldest pending message) of up to `limit` recipients of `channel` that is
/// due and not held, moving its `available_at` `lease` ahead. A recipient whose head is held
/// or waiting for a retry is skipped whole: each person's messages go out in order, and two
/// processes never hold the same person's messages at once.
pub async fn claim_heads(
    c: &mut Conn,
    backend: Backend,
    channel: &str,
    now: DateTime<Utc>,
    lease: chrono::Duration,
    limit: i64,
) -> Result<Vec<Message>> {
    claim_rows(c, backend, channel, None, now, lease, limit).await
}

/// Claims the head of one recipient's messages, when it is due and not held.
pub async fn claim_next(
    c: &mut Conn,
    backend: Backend,
    channel: &str,
    recipient: &str,
    now: DateTime<Utc>,
    lease: chrono::Duration,
) -> Result<Option<Message>> {
    Ok(
        claim_rows(c, backend, channel, Some(recipient), now, lease, 1)
            .await?
            .into_iter()
            .next(),
    )
}

/// A row of a lanes table (`store::lanes`) as it is read: the outbox's messages, and the
/// inbox's updates (`store::inbox`), which claims and puts off its rows with the same
/// [`claim_rows`] and [`put_off`].
pub(super) trait LaneRow: Sized {
    const LANES: super::lanes::Table;
    fn read(r: &AnyRow) -> Result<Self>;
    fn id(&self) -> i64;
}

impl LaneRow for Message {
    const LANES: super::lanes::Table = super::lanes::Table {
        name: "outbox",
        group: "channel",
        lane: "recipient",
        waiting: "status = 'pending'",
        also_set: "",
        cols: COLS,
        held_back: Some("not_before"),
    };
    fn read(r: &AnyRow) -> Result<Self> {
        from_row(r)
    }
    fn id(&self) -> i64 {
        self.id
    }
}

/// Claims the heads of up to `limit` lanes of `group` (or only `lane`'s) for `lease`, in id
/// order (`lanes::claim_heads` returns them in none).
pub(super) async fn claim_rows<T: LaneRow>(
    c: &mut Conn,
    backend: Backend,
    group: &str,
    lane: Option<&str>,
    now: DateTime<Utc>,
    lease: chrono::Duration,
    limit: i64,
) -> Result<Vec<T>> {
    let rows =
        super::lanes::claim_heads(c, backend, &T::LANES, group, lane, now, lease, limit).await?;
    let mut out: Vec<T> = rows.iter().map(T::read).collect::<Result<_>>()?;
    out.sort_by_key(T::id);
    Ok(out)
}

/// Puts a waiting row off until `next`, noting why; `also` sets more first (`attempts =
/// attempts + 1, `). Nothing happens to a row that is not waiting any more.
pub(super) async fn put_off<T: LaneRow>(
    c: &mut Conn,
    also: &str,
    id: i64,
    next: DateTime<Utc>,
    reason: &str,
) -> Result<()> {
    sqlx::query(super::sql(format!(
        "UPDATE {} SET {also}available_at = $1, last_error = $2 WHERE id = $3 AND {}",
        T::LANES.name,
        T::LANES.waiting
    )))
    .bind(ms(next))
    .bind(reason)
    .bind(id)
    .execute(&mut *c)
    .await?;
    Ok(())
}

/// Extends a claim: the lease that ends at `held_until` (ours, from the claim or the last
/// renewal) now ends at `until`. False when the row is not ours any more (the lease ran out
/// and another process took it, or it was settled): then it must not be sent.
pub async fn renew(
    c: &mut Conn,
    id: i64,
    held_until: DateTime<Utc>,
    until: DateTime<Utc>,
) -> Result<bool> {
    let done = sqlx::query(
        "UPDATE outbox SET available_at = $1 WHERE id = $2 AND status = 'pending' AND available_at = $3",
    )
    .bind(ms(until))
    .bind(id)
    .bind(ms(held_until))
    .execute(&mut *c)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Records that the platform accepted the first `parts` parts of a long message.
pub async fn mark_parts_sent(c: &mut Conn, id: i64, parts: i64) -> Result<()> {
    sqlx::query("UPDATE outbox SET parts_sent = $1 WHERE id = $2 AND status = 'pending'")
        .bind(parts)
        .bind(id)
        .execute(&mut *c)
        .await?;
    Ok(())
}

/// Forgets the replies to commands sent before `before` (they hold what the person asked to
/// see; the platform has them now). Messages to people stay, for `/deliveries` and the audit.
pub async fn prune_replies(c: &mut Conn, before: DateTime<Utc>) -> Result<u64> {
    let done =
        sqlx::query("DELETE FROM outbox WHERE kind = $1 AND status = 'sent' AND sent_at < $2")
            .bind(REPLY)
            .bind(ms(before))
            .execute(&mut *c)
            .await?;
    Ok(done.rows_affected())
}

pub async fn get(c: &mut Conn, id: i64) -> Result<Option<Message>> {
    let row = sqlx::query(super::sql(format!(
        "SELECT {COLS} FROM outbox WHERE id = $1"
    )))
    .bind(id)
    .fetch_optional(&mut *c)
    .await?;
    row.as_ref().map(from_row).transpose()
}

/// Pending messages of one channel that are due (and not held for quiet hours), oldest first.
pub async fn due(
    c: &mut Conn,
    channel: &str,
    now: DateTime<Utc>,
    limit: i64,
) -> Result<Vec<Message>> {
    let rows = sqlx::query(super::sql(format!(
        "SELECT {COLS} FROM outbox WHERE status = 'pending' AND channel = $1 AND available_at <= $2 \
         AND not_before <= $2 ORDER BY id LIMIT $3"
    )))
    .bind(channel)
    .bind(ms(now))
    .bind(limit)
    .fetch_all(&mut *c)
    .await?;
    rows.iter().map(from_row).collect()
}

pub async fn by_recipient(c: &mut Conn, user_id: i64) -> Result<Vec<Message>> {
    let rows = sqlx::query(super::sql(format!(
        "SELECT {COLS} FROM outbox WHERE recipient_user_id = $1 ORDER BY id"
    )))
    .bind(user_id)
    .fetch_all(&mut *c)
    .await?;
    rows.iter().map(from_row).collect()
}

/// Marks a pending message delivered; false if it was not pending any more.
pub async fn mark_sent(c: &mut Conn, id: i64, now: DateTime<Utc>) -> Result<bool> {
    mark_sent_as(c, id, now, None).await
}

/// [`mark_sent`], recording the platform's id of the message it became (`sent_as`), so a later
/// edit can name it.
pub async fn mark_sent_as(
    c: &mut Conn,
    id: i64,
    now: DateTime<Utc>,
    sent_as: Option<&str>,
) -> Result<bool> {
    let done = sqlx::query(
        "UPDATE outbox SET status = 'sent', sent_at = $1, attempts = attempts + 1, last_error = NULL, \
         sent_as = COALESCE($3, sent_as) WHERE id = $2 AND status = 'pending'",
    )
    .bind(ms(now))
    .bind(id)
    .bind(sent_as)
    .execute(&mut *c)
    .await?;
    if done.rows_affected() == 1 {
        // An export sent is the platform's to keep now; we keep no copy.
        sqlx::query("DELETE FROM outbox_files WHERE outbox_id = $1")
            .bind(id)
            .execute(&mut *c)
            .await?;
    }
    Ok(done.rows_affected() == 1)
}

/// Settles an edit that had nothing left to do (the message it changes was never delivered, or
/// the platform will not change it any more): done, not failed — nobody has to act on it — with
/// why in `last_error`. False if it was not pending any more.
pub async fn mark_skipped(c: &mut Conn, id: i64, now: DateTime<Utc>, why: &str) -> Result<bool> {
    let done = sqlx::query(
        "UPDATE outbox SET status = 'sent', sent_at = $1, attempts = attempts + 1, last_error = $2 \
         WHERE id = $3 AND status = 'pending'",
    )
    .bind(ms(now))
    .bind(why)
    .bind(id)
    .execute(&mut *c)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// The message queued under `key`, if any.
pub async fn by_key(c: &mut Conn, key: &str) -> Result<Option<Message>> {
    let row = sqlx::query(super::sql(format!(
        "SELECT {COLS} FROM outbox WHERE idempotency_key = $1"
    )))
    .bind(key)
    .fetch_optional(&mut *c)
    .await?;
    row.as_ref().map(from_row).transpose()
}

/// Queues, for each (earlier key, note, prefix), an edit of the chat message queued under that
/// key: its text with `note` below and no buttons, to the same chat, keyed `{prefix}:{earlier}`
/// (docs/domain.md#edited-messages). Keys that name no chat message are passed over (the person
/// had no chat account then). One statement per few hundred edits; each goes at the end of its
/// chat's lane, so after the message it changes, whatever became of that one — and an edit of a
/// message held for quiet hours is held as long, so it never overtakes it
/// (docs/domain.md#quiet-hours). Returns how many
/// were queued (an edit queued before is not queued again).
pub async fn queue_edits(
    c: &mut Conn,
    kind: &str,
    edits: &[(String, String, &str)],
    now: DateTime<Utc>,
) -> Result<u64> {
    // Three parameters an edit: well within both backends' limits.
    const ROWS: usize = 500;
    let mut queued = 0;
    for chunk in edits.chunks(ROWS) {
        let values = (0..chunk.len())
            .map(|i| {
                let p = 3 + i * 3;
                format!("SELECT ${p} AS k, ${} AS note, ${} AS suffix", p + 1, p + 2)
            })
            .collect::<Vec<_>>()
            .join(" UNION ALL ");
        // `WHERE` before `ON CONFLICT`: SQLite reads an `ON` right after a join as the join's.
        // In the order the messages were sent, on both backends.
        let sql = format!(
            "INSERT INTO outbox (created_at, channel, kind, recipient_user_id, recipient, subject, body_text, \
             body_html, buttons, idempotency_key, status, attempts, available_at, edits, not_before) \
             SELECT $1, o.channel, $2, o.recipient_user_id, o.recipient, '', o.body_text || v.note, NULL, NULL, \
             v.suffix || ':' || o.idempotency_key, 'pending', 0, \
             CASE WHEN o.not_before > $1 THEN o.not_before ELSE $1 END, o.idempotency_key, o.not_before \
             FROM outbox o JOIN ({values}) v ON o.idempotency_key = v.k \
             WHERE o.channel LIKE 'chat:%' AND o.edits IS NULL ORDER BY o.id \
             ON CONFLICT (idempotency_key) DO NOTHING"
        );
        let mut q = sqlx::query(super::sql(sql))
            .persistent(false)
            .bind(ms(now))
            .bind(kind.to_string());
        for (key, note, prefix) in chunk {
            q = q
                .bind(key.clone())
                .bind(note.clone())
                .bind(prefix.to_string());
        }
        queued += q.execute(&mut *c).await?.rows_affected();
    }
    Ok(queued)
}

/// Claims a due pending row for one delivery attempt — never before its `not_before`
/// (docs/domain.md#quiet-hours) —: moves its `available_at` `lease` ahead,
/// so a second job for the same row (a reconciler re-queue, a retry) finds it not due and
/// leaves it; if the sender dies mid-attempt, the row is due again once the lease is over.
/// False when the row is not pending or not due.
pub async fn claim(
    c: &mut Conn,
    id: i64,
    now: DateTime<Utc>,
    lease: chrono::Duration,
) -> Result<bool> {
    let done = sqlx::query(
        "UPDATE outbox SET available_at = $1 WHERE id = $2 AND status = 'pending' AND available_at <= $3 \
         AND not_before <= $3",
    )
    .bind(ms(now + lease))
    .bind(id)
    .bind(ms(now))
    .execute(&mut *c)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Why a queued message must not go out any more (checked again at delivery time: nothing is
/// ever sent to someone deactivated or deleted since it was queued), or None.
pub async fn undeliverable(c: &mut Conn, m: &Message) -> Result<Option<&'static str>> {
    let Some(uid) = m.recipient_user_id else {
        return Ok(None);
    };
    let active = super::users::user(c, uid)
        .await?
        .is_some_and(|u| !u.status.is_deactivated());
    Ok((!active).then_some("recipient deactivated or deleted before delivery"))
}

/// A delivery attempt failed for now: count it and try again at `next`.
pub async fn mark_retry(c: &mut Conn, id: i64, next: DateTime<Utc>, reason: &str) -> Result<()> {
    put_off::<Message>(c, "attempts = attempts + 1, ", id, next, reason).await
}

/// Messages in one delivery state, newest first.
pub async fn in_state(c: &mut Conn, status: &str, limit: i64) -> Result<Vec<Message>> {
    let rows = sqlx::query(super::sql(format!(
        "SELECT {COLS} FROM outbox WHERE status = $1 ORDER BY id DESC LIMIT $2"
    )))
    .bind(status)
    .bind(limit)
    .fetch_all(&mut *c)
    .await?;
    rows.iter().map(from_row).collect()
}

pub async fn mark_failed(c: &mut Conn, id: i64, reason: &str) -> Result<()> {
    sqlx::query("UPDATE outbox SET status = 'failed', last_error = $1, attempts = attempts + 1 WHERE id = $2 AND status = 'pending'")
        .bind(reason)
        .bind(id)
        .execute(&mut *c)
        .await?;
    Ok(())
}

/// Removes a deleted person from other people's messages: pending ones that mention them are
/// dropped (nothing about a deleted person is sent), delivered ones keep only a placeholder.
/// A message "mentions" them when its subject or body holds one of `needles` (their email,
/// phone, name).
pub async fn forget_mentions(c: &mut Conn, needles: &[&str]) -> Result<()> {
    for needle in needles.iter().filter(|n| n.len() >= 3) {
        let pattern = super::users::like_containing(&needle.to_lowercase());
        let mentions = "(lower(subject) LIKE $1 ESCAPE '\\' OR lower(body_text) LIKE $1 ESCAPE '\\' OR lower(COALESCE(body_html, '')) LIKE $1 ESCAPE '\\')";
        sqlx::query(super::sql(format!(
            "DELETE FROM outbox WHERE status = 'pending' AND {mentions}"
        )))
        .bind(&pattern)
        .execute(&mut *c)
        .await?;
        sqlx::query(super::sql(format!(
            "UPDATE outbox SET subject = '[removed]', body_text = '[removed: this message mentioned a person since deleted]', \
             body_html = NULL WHERE {mentions}"
        )))
        .bind(&pattern)
        .execute(&mut *c)
        .await?;
    }
    Ok(())
}

/// One page of the messages in `status`, newest first; with `reach`, only those to people it
/// reaches (docs/domain.md#scope).
pub async fn page_in_state(
    c: &mut Conn,
    status: &str,
    reach: Option<&super::users::Reach>,
    offset: i64,
    limit: i64,
) -> Result<Vec<Message>> {
    let rows = sqlx::query(super::sql(format!(
        "SELECT {COLS} FROM outbox WHERE status = $1{} ORDER BY id DESC LIMIT {limit} OFFSET {offset}",
        reached(reach)
    )))
    .bind(status)
    .fetch_all(&mut *c)
    .await?;
    rows.iter().map(from_row).collect()
}

/// How many messages are in `status` (to people `reach` reaches).
pub async fn count_in_state(
    c: &mut Conn,
    status: &str,
    reach: Option<&super::users::Reach>,
) -> Result<i64> {
    Ok(sqlx::query(super::sql(format!(
        "SELECT COUNT(*) AS n FROM outbox WHERE status = $1{}",
        reached(reach)
    )))
    .bind(status)
    .fetch_one(&mut *c)
    .await?
    .try_get("n")?)
}

fn reached(reach: Option<&super::users::Reach>) -> String {
    reach
        .map(|r| format!(" AND recipient_user_id IN ({})", r.sql()))
        .unwrap_or_default()
}
