//! A command that came from a platform update: its key (so it runs once however often the
//! platform delivers it) and where its reply goes, queued in the command's own transaction
//! (docs/chat-edge.md).

use sqlx::{Any, Transaction};

use crate::error::Result;
use crate::reply::Reply;
use crate::store::{self, outbox::NewMessage};

/// A command that came from a platform update: its key, and where its reply goes.
#[derive(Debug, Clone)]
pub struct Inbound {
    pub key: store::inbox::Key,
    /// True when the update was first written to the inbox (Telegram: it is finished there);
    /// false when it runs as it arrives (a Discord interaction: recorded there when it runs).
    pub received: bool,
    /// Where the reply is queued, in the command's transaction; None when the front-end
    /// answers it itself (Discord's first answer is the interaction's response).
    pub reply: Option<ReplyRoute>,
}

/// An outbox address for a reply.
#[derive(Debug, Clone)]
pub struct ReplyRoute {
    /// `chat:<platform>`.
    pub channel: String,
    /// The chat to answer in (the outbox's lane: one person's messages go in order).
    pub recipient: String,
    /// How to show a successful reply.
    pub on_success: ReplyTarget,
    /// How to show a refusal.
    pub on_refusal: ReplyTarget,
}

/// How a front-end shows a reply it queues.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReplyTarget {
    /// A new message in the chat.
    New,
    /// Some other way, in the front-end's own words (the outbox row's `target`): in the
    /// message whose button was pressed, say.
    As(String),
    /// Not at all (a refusal of someone else's press: they see an alert, and the message
    /// stays as it was for the person it was sent to).
    Nowhere,
}

impl Inbound {
    /// Records the update as handled (false: it was already). A command normally does this
    /// first in its own transaction; `/user_import` does it once the file is found valid, in a
    /// short transaction of its own, before its first chunk (see `command::import`).
    pub(crate) async fn mark_done(
        &self,
        tx: &mut Transaction<'static, Any>,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<bool> {
        if self.received {
            store::inbox::finish(tx, &self.key, now).await
        } else {
            store::inbox::record_done(tx, &self.key, now).await
        }
    }

    pub(crate) async fn queue_reply(
        &self,
        tx: &mut Transaction<'static, Any>,
        reply: &Reply,
        success: bool,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<()> {
        let Some(route) = &self.reply else {
            return Ok(());
        };
        let message = NewMessage {
            channel: route.channel.clone(),
            kind: store::outbox::REPLY,
            // A reply goes to whoever asked, linked or not, even when the command itself just
            // deactivated them ("your account is deactivated" must reach them).
            recipient_user_id: None,
            recipient: route.recipient.clone(),
            subject: String::new(),
            body_text: reply.text.clone(),
            body_html: None,
            buttons: reply.buttons.clone(),
            idempotency_key: format!("reply:{}:{}", self.key.platform, self.key.update_key),
        };
        let target = match if success {
            &route.on_success
        } else {
            &route.on_refusal
        } {
            ReplyTarget::New => None,
            ReplyTarget::As(t) => Some(t.as_str()),
            ReplyTarget::Nowhere => return Ok(()),
        };
        store::outbox::insert_with(tx, &message, target, &reply.attachments, now).await?;
        Ok(())
    }
}

/// What every successful command does last, in its final transaction: the caller's activity
/// (docs/domain.md#activity), and the reply queued where the update wants it.
pub(crate) async fn finish(
    tx: &mut Transaction<'static, Any>,
    user_id: Option<i64>,
    inbound: Option<&Inbound>,
    reply: &Reply,
    now: chrono::DateTime<chrono::Utc>,
) -> Result<()> {
    if let Some(id) = user_id
        && store::users::user(tx, id).await?.is_some()
    {
        store::users::touch_activity(tx, id, now).await?;
    }
    if let Some(inbound) = inbound {
        inbound.queue_reply(tx, reply, true, now).await?;
    }
    Ok(())
}
