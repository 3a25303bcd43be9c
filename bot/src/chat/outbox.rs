//! The one chat delivery driver (docs/chat-edge.md): the outbox's `chat:<platform>` rows —
//! replies to commands and messages to people alike — sent by lanes, one per recipient, so each
//! person's messages arrive in order while different people are served side by side.
//!
//! A row is claimed with a lease before it is sent (any number of processes may deliver; none
//! sends a row another holds), marked sent only once the platform accepted it, and a long
//! message remembers how many of its parts went out, so a retry sends only the rest. What a
//! failed attempt means is the platform's to say ([`SendError`]): try again later (a timeout, a
//! connection error, a 5xx: backoff, the person's later rows wait), refused for good (blocked
//! bot, unknown chat: failed with the reason, listed by `/deliveries`), or rate limited until
//! a time (waited out, then the same part again). Nothing goes to a person deactivated or
//! deleted since the row was queued.
//!
//! The platform's id of each message sent is kept (`sent_as`), so a later row can edit it
//! (`edits`: a message whose buttons can no longer do anything, docs/domain.md#edited-messages);
//! an edit the platform refuses, or whose message never went out, is dropped quietly.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use mentorops_core::command::Engine;
use mentorops_core::reply::Attachment;
use mentorops_core::store::outbox::{self, Message};
use tracing::{info, warn};

use super::lanes::{self, Step};
use super::pace::Pace;

/// Why one send did not go through.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SendError {
    /// Not sent, for a reason that may pass (timeout, connection, 5xx): try again later.
    Later(String),
    /// Refused for a reason a retry will not change.
    Refused(String),
    /// The platform asks us to wait this long first (a 429's `retry_after`).
    RateLimited(Duration),
}

/// What a platform tells the driver: how a row becomes requests, and how one is sent.
pub trait Platform: Send + Sync + 'static {
    /// One request (a text part, a file, an edit).
    type Part: Send + Sync;
    /// For people and logs: `Telegram`.
    const NAME: &'static str;
    /// `chat_links.provider` and the outbox channel's suffix: `telegram`.
    const PROVIDER: &'static str;

    /// The requests `row` is sent as, in order; Err when it can never be sent (a recipient
    /// that is not an id of this platform).
    fn parts(&self, row: &Message, files: Vec<Attachment>) -> Result<Vec<Self::Part>, String>;

    /// Sends one part; on success, the platform's id of the message it became when a later edit
    /// may need it (a text part, the one holding the buttons), recorded as the row's `sent_as`.
    fn send(
        &self,
        row: &Message,
        part: &Self::Part,
    ) -> impl Future<Output = Result<Option<String>, SendError>> + Send;

    /// The requests that change the message `earlier` became (`sent_as`, as [`Platform::send`]
    /// gave it) into `row`'s text, without buttons (an outbox row with `edits`,
    /// docs/domain.md#edited-messages); Err when it can never be done.
    fn edit(
        &self,
        row: &Message,
        earlier: &Message,
        sent_as: &str,
    ) -> Result<Vec<Self::Part>, String>;

    /// How long after it was queued a row can still be sent at all, when that is shorter than
    /// the driver's `give_up_after` (a Discord interaction's webhook lives 15 minutes).
    fn expires_after(&self, _row: &Message) -> Option<Duration> {
        None
    }
}

/// How the driver runs; `Default` is production's.
#[derive(Debug, Clone, Copy)]
pub struct Tuning {
    /// How long a claimed row is ours before another process may take it.
    pub lease: Duration,
    /// Recipients served at once by this process.
    pub lanes: usize,
    /// How often the outbox is looked at (a command that queued a row wakes it at once).
    pub every: Duration,
    /// The first retry after a failed attempt; doubled each time up to `max_backoff`.
    pub backoff: Duration,
    pub max_backoff: Duration,
    /// A 429 asking to wait up to this long is waited out in place; longer, the row is left
    /// for later (and the lease freed for it).
    pub max_inline_wait: Duration,
    /// A row not delivered this long after it was queued is given up (failed, listed by
    /// `/deliveries`): a reply a day late helps nobody.
    pub give_up_after: Duration,
}

impl Default for Tuning {
    fn default() -> Self {
        Self {
            lease: Duration::from_secs(60),
            lanes: 32,
            every: Duration::from_millis(500),
            backoff: Duration::from_secs(1),
            max_backoff: Duration::from_secs(300),
            max_inline_wait: Duration::from_secs(30),
            give_up_after: Duration::from_secs(24 * 3600),
        }
    }
}

/// The driver of one platform's outbox rows.
pub struct Delivery<P: Platform> {
    engine: Arc<Engine>,
    platform: P,
    pace: Pace,
    tuning: Tuning,
    channel: String,
    delivered: AtomicUsize,
}

impl<P: Platform> Delivery<P> {
    pub fn new(engine: Arc<Engine>, platform: P, pace: Pace, tuning: Tuning) -> Self {
        Self {
            engine,
            platform,
            pace,
            tuning,
            channel: outbox::chat_channel(P::PROVIDER),
            delivered: AtomicUsize::new(0),
        }
    }

    pub fn platform(&self) -> &P {
        &self.platform
    }

    /// Rows the platform accepted so far.
    pub fn delivered(&self) -> usize {
        self.delivered.load(Ordering::Relaxed)
    }

    /// Delivers until `stop`, woken by `wake` when a row was queued here.
    pub async fn run(
        self: Arc<Self>,
        wake: Arc<tokio::sync::Notify>,
        stop: tokio_util::sync::CancellationToken,
    ) {
        let limits = lanes::Limits {
            lanes: self.tuning.lanes,
            every: self.tuning.every,
        };
        lanes::run(self, limits, wake, stop, Duration::from_secs(10)).await;
    }

    /// Delivers every row due now, lane by lane, and returns how many were accepted (for the
    /// tests and one-off runs; [`Delivery::run`] is the long-running form).
    pub async fn drain(&self) -> anyhow::Result<usize> {
        let before = self.delivered();
        loop {
            let heads = lanes::Source::claim_heads(self, self.tuning.lanes).await?;
            if heads.is_empty() {
                return Ok(self.delivered() - before);
            }
            let work = heads.into_iter().map(|head| async move {
                let lane = head.recipient.clone();
                let mut row = head;
                loop {
                    if lanes::Source::work(self, row).await == Step::Hold {
                        return Ok::<(), anyhow::Error>(());
                    }
                    match lanes::Source::claim_next(self, &lane).await? {
                        Some(next) => row = next,
                        None => return Ok(()),
                    }
                }
            });
            for done in futures::future::join_all(work).await {
                done?;
            }
        }
    }

    /// Delivers what is due for one recipient now (a front-end that just queued a reply sends
    /// it at once this way); what cannot go now stays for [`Delivery::run`].
    pub async fn deliver_lane(&self, recipient: &str) -> anyhow::Result<()> {
        while let Some(row) = lanes::Source::claim_next(self, recipient).await? {
            if lanes::Source::work(self, row).await == Step::Hold {
                break;
            }
        }
        Ok(())
    }

    fn lease(&self) -> chrono::Duration {
        chrono::Duration::from_std(self.tuning.lease).unwrap_or(chrono::Duration::seconds(60))
    }

    fn backoff(&self, attempts: i64) -> Duration {
        let doubled = self
            .tuning
            .backoff
            .saturating_mul(1u32 << attempts.clamp(0, 16) as u32);
        doubled.min(self.tuning.max_backoff)
    }

    async fn deliver(&self, row: Message) -> anyhow::Result<Step> {
        let db = self.engine.db();
        let mut c = db.pool().acquire().await?;
        if let Some(reason) = outbox::undeliverable(&mut c, &row).await? {
            outbox::mark_failed(&mut c, row.id, reason).await?;
            info!(outbox_id = row.id, %reason, platform = P::NAME, "chat message not sent");
            return Ok(Step::Next);
        }
        let now = self.engine.now();
        let age = (now - row.created_at).to_std().unwrap_or_default();
        let give_up_after = self
            .platform
            .expires_after(&row)
            .map_or(self.tuning.give_up_after, |d| {
                d.min(self.tuning.give_up_after)
            });
        if age > give_up_after {
            let why = format!(
                "not delivered within {} minutes: {}",
                give_up_after.as_secs() / 60,
                row.last_error.as_deref().unwrap_or("no answer")
            );
            warn!(
                outbox_id = row.id,
                platform = P::NAME,
                "chat message given up"
            );
            // An edit nobody is waiting for is dropped quietly; a message is failed, for
            // `/deliveries`.
            if row.edits.is_some() {
                outbox::mark_skipped(&mut c, row.id, now, &why).await?;
            } else {
                outbox::mark_failed(&mut c, row.id, &why).await?;
            }
            return Ok(Step::Next);
        }
        let parts = match row.edits.as_deref() {
            // An edit of an earlier message (docs/domain.md#edited-messages): it comes after that
            // one in this lane, so the earlier one is delivered, failed or given up by now.
            Some(key) => {
                let earlier = outbox::by_key(&mut c, key).await?;
                let target = earlier.as_ref().and_then(|e| {
                    e.sent_as
                        .clone()
                        .filter(|_| e.status == "sent" && e.recipient == row.recipient)
                        .map(|sent_as| (e, sent_as))
                });
                let Some((earlier, sent_as)) = target else {
                    outbox::mark_skipped(
                        &mut c,
                        row.id,
                        now,
                        "nothing to edit: the message it changes was not delivered here",
                    )
                    .await?;
                    info!(
                        outbox_id = row.id,
                        platform = P::NAME,
                        "edit skipped: its message was not delivered"
                    );
                    return Ok(Step::Next);
                };
                drop(c);
                self.platform.edit(&row, earlier, &sent_as)
            }
            None => {
                let files = outbox::files(&mut c, row.id).await?;
                drop(c);
                self.platform.parts(&row, files)
            }
        };
        let parts = match parts {
            Ok(parts) => parts,
            Err(why) => {
                let mut c = db.pool().acquire().await?;
                outbox::mark_failed(&mut c, row.id, &why).await?;
                return Ok(Step::Next);
            }
        };
        let mut sent_as = None;
        let total = parts.len();
        let start = usize::try_from(row.parts_sent).unwrap_or(0);
        let mut held_until = row.available_at;
        for (i, part) in parts.iter().enumerate().skip(start) {
            let mut waits = 0;
            loop {
                self.pace.wait(&row.recipient).await;
                // The claim is a lease: past half of it (a long wait for the pace, a slow
                // database), make sure it is still ours and extend it, or leave the row to
                // the process that took it — sending it now would send it twice.
                let now = self.engine.now();
                if now + self.lease() / 2 > held_until {
                    let until = now + self.lease();
                    let mut c = db.pool().acquire().await?;
                    if !outbox::renew(&mut c, row.id, held_until, until).await? {
                        warn!(
                            outbox_id = row.id,
                            platform = P::NAME,
                            "lost the claim of a chat message before sending it; left to its new holder"
                        );
                        return Ok(Step::Hold);
                    }
                    held_until = until;
                }
                match self.platform.send(&row, part).await {
                    Ok(id) => {
                        if id.is_some() {
                            sent_as = id;
                        }
                        break;
                    }
                    Err(SendError::RateLimited(d))
                        if d <= self.tuning.max_inline_wait && waits < 5 =>
                    {
                        waits += 1;
                        tokio::time::sleep(d).await;
                    }
                    Err(SendError::RateLimited(d)) => {
                        let next = self.engine.now()
                            + chrono::Duration::from_std(d).unwrap_or(chrono::Duration::minutes(1));
                        let mut c = db.pool().acquire().await?;
                        outbox::mark_retry(&mut c, row.id, next, "rate limited").await?;
                        return Ok(Step::Hold);
                    }
                    Err(SendError::Later(e)) => {
                        let wait = self.backoff(row.attempts);
                        let next = self.engine.now()
                            + chrono::Duration::from_std(wait)
                                .unwrap_or(chrono::Duration::minutes(5));
                        warn!(outbox_id = row.id, error = %e, platform = P::NAME, retry_in_ms = wait.as_millis() as u64, "chat message not delivered yet; will retry");
                        let mut c = db.pool().acquire().await?;
                        outbox::mark_retry(&mut c, row.id, next, &e).await?;
                        return Ok(Step::Hold);
                    }
                    Err(SendError::Refused(e)) if row.edits.is_some() => {
                        // The platform will not change that message (too old, deleted): the
                        // buttons stay, and a press on one is refused as before. Never retried.
                        warn!(outbox_id = row.id, error = %e, platform = P::NAME, "edit refused; given up");
                        let mut c = db.pool().acquire().await?;
                        outbox::mark_skipped(
                            &mut c,
                            row.id,
                            self.engine.now(),
                            &format!("{} refused the edit: {e}", P::NAME),
                        )
                        .await?;
                        return Ok(Step::Next);
                    }
                    Err(SendError::Refused(e)) => {
                        warn!(outbox_id = row.id, error = %e, platform = P::NAME, "chat message refused; not retried");
                        let mut c = db.pool().acquire().await?;
                        outbox::mark_failed(
                            &mut c,
                            row.id,
                            &format!("{} refused it: {e}", P::NAME),
                        )
                        .await?;
                        return Ok(Step::Next);
                    }
                }
            }
            if i + 1 < total {
                let mut c = db.pool().acquire().await?;
                outbox::mark_parts_sent(&mut c, row.id, (i + 1) as i64).await?;
            }
        }
        let mut c = db.pool().acquire().await?;
        if outbox::mark_sent_as(&mut c, row.id, self.engine.now(), sent_as.as_deref()).await? {
            self.delivered.fetch_add(1, Ordering::Relaxed);
        }
        Ok(Step::Next)
    }
}

impl<P: Platform> lanes::Source for Delivery<P> {
    type Item = Message;

    fn lane(item: &Message) -> String {
        item.recipient.clone()
    }

    async fn claim_heads(&self, limit: usize) -> anyhow::Result<Vec<Message>> {
        let db = self.engine.db();
        let mut c = db.pool().acquire().await?;
        Ok(outbox::claim_heads(
            &mut c,
            db.backend(),
            &self.channel,
            self.engine.now(),
            self.lease(),
            limit as i64,
        )
        .await?)
    }

    async fn claim_next(&self, lane: &str) -> anyhow::Result<Option<Message>> {
        let db = self.engine.db();
        let mut c = db.pool().acquire().await?;
        Ok(outbox::claim_next(
            &mut c,
            db.backend(),
            &self.channel,
            lane,
            self.engine.now(),
            self.lease(),
        )
        .await?)
    }

    async fn work(&self, row: Message) -> Step {
        let id = row.id;
        match self.deliver(row).await {
            Ok(step) => step,
            Err(e) => {
                // Our side failed (the database): the row stays claimed until its lease ends,
                // then it is tried again.
                warn!(
                    outbox_id = id,
                    error = format!("{e:#}"),
                    platform = P::NAME,
                    "chat delivery failed on our side"
                );
                Step::Hold
            }
        }
    }
}
