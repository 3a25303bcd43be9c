//! The Telegram front-end (teloxide's client and types), as thin as the console: an update is
//! recorded in the inbox, then run once as `engine.run_inbound(…)`; its reply is queued in the
//! outbox in the command's transaction and sent by the chat delivery driver (text, an inline
//! keyboard whose buttons carry the command a press runs, documents, the outcome of a press in
//! the pressed message), like the messages other people's commands cause. Every decision
//! (permissions, deactivated or unlinked accounts, presses by the wrong person or too late) is
//! the core's; this module only renders what it answers. See docs/chat-edge.md.
//!
//! - Transport: long polling in one process at a time (a lease), or a webhook
//!   (`telegram.mode = "webhook"`, every replica) whose every request must carry
//!   `X-Telegram-Bot-Api-Secret-Token`, compared in constant time.
//! - Rate limits: the outbox's own pacer (28/s per process, 1/s per chat, a 429's
//!   `retry_after` waited out and the part sent again).
//! - Menus: the default scope shows the commands of an unlinked account; each private chat gets
//!   the commands its user may run, published again whenever that list changes.
//! - Shutdown: [`run`] stops when the `CancellationToken` is cancelled.

mod delivery;
mod handlers;
mod menus;
mod poll;
mod render;
mod webhook;

use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use mentorops_core::command::Engine;
use mentorops_core::settings::{TelegramMode, TelegramSettings};
use secrecy::ExposeSecret;
use teloxide::prelude::*;
use tokio::net::TcpListener;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

pub use delivery::{
    OUTBOX_PER_SECOND, Telegram as TelegramPlatform, classify, deliver_due, driver,
};
pub use handlers::lane_of;
pub use menus::{command_list, menu_for_account};
pub use poll::LEASE as POLLING_LEASE;

use crate::chat::{self, lanes};

/// The chat provider name in `chat_links` and the outbox channel (`chat:telegram`).
pub const PROVIDER: &str = "telegram";

/// Knobs of the running front-end; `Default` is what production uses.
#[derive(Debug, Clone)]
pub struct Tuning {
    /// The outbox driver (lease, lanes, backoff).
    pub delivery: chat::outbox::Tuning,
    /// Outbox messages a second from this process (Telegram allows about 30 for the bot).
    pub per_second: usize,
    /// The inbox: chats run at once by this process, and how often it is looked at.
    pub updates: lanes::Limits,
    /// How long a claimed update is ours before another process may run it.
    pub update_lease: Duration,
    /// Tries of an update that fails on our side before it is answered with an apology.
    pub max_attempts: i64,
    /// The long-polling timeout of `getUpdates`.
    pub poll_timeout: Duration,
    /// How long any other request may take before it counts as failed (and is retried).
    pub request_timeout: Duration,
    /// The polling lease's lifetime (another process polls at most this long plus a quarter
    /// after the poller died).
    pub lease_ttl: Duration,
}

impl Default for Tuning {
    fn default() -> Self {
        Self {
            delivery: chat::outbox::Tuning::default(),
            per_second: OUTBOX_PER_SECOND,
            updates: lanes::Limits {
                lanes: 16,
                every: Duration::from_millis(500),
            },
            update_lease: Duration::from_secs(60),
            max_attempts: 5,
            poll_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(17),
            lease_ttl: chat::lease::TTL,
        }
    }
}

impl Tuning {
    /// Production's tuning with the operator's `[chat]` settings.
    pub fn from_settings(chat: &mentorops_core::settings::ChatSettings) -> Self {
        let d = Self::default();
        let lease = Duration::from_secs(chat.lease_secs);
        Self {
            delivery: crate::chat::outbox::Tuning {
                lease,
                ..d.delivery
            },
            per_second: chat.telegram_per_second,
            update_lease: lease,
            request_timeout: Duration::from_secs(chat.request_timeout_secs),
            ..d
        }
    }
}

/// Starts the Telegram front-end configured in `engine.settings().telegram` (long polling, or
/// the webhook server on `telegram.webhook_addr`), the inbox's lanes and the delivery of the
/// `chat:telegram` outbox, and runs until `shutdown` is cancelled.
pub async fn run(engine: Arc<Engine>, shutdown: CancellationToken) -> anyhow::Result<()> {
    let settings = engine.settings().telegram.clone();
    Telegram::new(engine, settings).run(shutdown).await
}

/// The front-end with explicit settings (tests point `api_url` at a fake Bot API).
pub struct Telegram {
    engine: Arc<Engine>,
    settings: TelegramSettings,
    tuning: Tuning,
}

impl Telegram {
    pub fn new(engine: Arc<Engine>, settings: TelegramSettings) -> Self {
        let tuning = Tuning::from_settings(&engine.settings().chat);
        Self {
            engine,
            settings,
            tuning,
        }
    }

    pub fn tuning(mut self, tuning: Tuning) -> Self {
        self.tuning = tuning;
        self
    }

    /// Polling or webhook, as configured; returns after `shutdown` is cancelled.
    pub async fn run(self, shutdown: CancellationToken) -> anyhow::Result<()> {
        if self.settings.mode == TelegramMode::Webhook {
            // Settings loaded from the configuration have it (checked at load); these may have
            // been built by hand.
            let addr = self.settings.webhook_addr.context(
                "telegram.webhook_addr (MENTOROPS__TELEGRAM__WEBHOOK_ADDR) must be set in webhook mode, like 0.0.0.0:8443",
            )?;
            let listener = TcpListener::bind(addr)
                .await
                .with_context(|| format!("cannot listen on {addr} for the Telegram webhook"))?;
            self.run_webhook_on(listener, shutdown).await
        } else {
            let poll_bot = bot_with_timeout(
                &self.settings,
                self.tuning.poll_timeout + Duration::from_secs(10),
            )?;
            let started = self.start().await?;
            info!("Telegram front-end started (long polling, one process at a time)");
            let transport = {
                let engine = started.state.engine.clone();
                let (timeout, ttl) = (started.tuning.poll_timeout, started.tuning.lease_ttl);
                let wake = started.wake_updates.clone();
                let stop = shutdown.child_token();
                (
                    tokio::spawn(async move {
                        poll::run(engine, poll_bot, timeout, ttl, wake, stop).await;
                        Ok(())
                    }),
                    None,
                )
            };
            started.serve(transport, shutdown).await
        }
    }

    /// Webhook mode on a listener the caller bound (tests bind 127.0.0.1:0). Registers
    /// `telegram.webhook_url` with Telegram (`setWebhook` with the secret), then serves it.
    /// Every replica may serve it: updates are recorded, then run once by whichever claims them.
    pub async fn run_webhook_on(
        self,
        listener: TcpListener,
        shutdown: CancellationToken,
    ) -> anyhow::Result<()> {
        let secret = self.settings.webhook_secret.clone().context(
            "telegram.webhook_secret (MENTOROPS__TELEGRAM__WEBHOOK_SECRET) must be set in webhook mode",
        )?;
        let url = self.settings.webhook_url.clone().context(
            "telegram.webhook_url (MENTOROPS__TELEGRAM__WEBHOOK_URL) must be the public https:// URL of the webhook",
        )?;
        let started = self.start().await?;
        let addr = listener.local_addr()?;
        let path = match url.path() {
            "" => "/".to_string(),
            p => p.to_string(),
        };
        let router = webhook::router(
            &path,
            secret.clone(),
            started.state.engine.clone(),
            started.wake_updates.clone(),
        );
        started
            .state
            .bot
            .set_webhook(url)
            .secret_token(secret.expose_secret().to_string())
            .allowed_updates([
                teloxide::types::AllowedUpdate::Message,
                teloxide::types::AllowedUpdate::CallbackQuery,
            ])
            .await
            .context("Telegram refused setWebhook for telegram.webhook_url")?;
        let stop = shutdown.child_token();
        let server = {
            let stop = stop.clone();
            tokio::spawn(async move {
                axum::serve(listener, router)
                    .with_graceful_shutdown(stop.cancelled_owned())
                    .await
                    .context("the Telegram webhook server failed")
            })
        };
        info!(%addr, %path, "Telegram front-end started (webhook)");
        // The webhook stays registered: Telegram keeps the updates until the next start.
        started.serve((server, Some(stop)), shutdown).await
    }

    /// Builds the bot, checks the token (`getMe`) and publishes the default command menu.
    async fn start(self) -> anyhow::Result<Started> {
        let bot = bot_with_timeout(&self.settings, self.tuning.request_timeout)?;
        let me = bot.get_me().await.context(
            "cannot reach the Telegram Bot API with this token (telegram.token / telegram.api_url)",
        )?;
        if let Err(e) = menus::publish_default(&bot).await {
            warn!(error = %e, "could not publish the default Telegram command menu");
        }
        let lease = chrono::Duration::from_std(self.tuning.update_lease)
            .unwrap_or(chrono::Duration::seconds(60));
        let state = Arc::new(handlers::State {
            engine: self.engine,
            bot,
            me: me.username().to_string(),
            wake_delivery: Arc::new(Notify::new()),
            menus: Default::default(),
            lease,
            max_attempts: self.tuning.max_attempts,
        });
        Ok(Started {
            state,
            tuning: self.tuning,
            wake_updates: Arc::new(Notify::new()),
        })
    }
}

struct Started {
    state: Arc<handlers::State>,
    tuning: Tuning,
    wake_updates: Arc<Notify>,
}

type Transport = (
    tokio::task::JoinHandle<anyhow::Result<()>>,
    Option<CancellationToken>,
);

impl Started {
    /// Runs the transport (webhook server or poller), the inbox's lanes and the outbox
    /// delivery until `shutdown`; then stops taking updates, lets the lanes finish what they
    /// hold, and lets the delivery finish the message it is sending.
    async fn serve(self, transport: Transport, shutdown: CancellationToken) -> anyhow::Result<()> {
        let (mut transport, transport_stop) = transport;
        let stop_work = CancellationToken::new();
        let updates = tokio::spawn(lanes::run(
            Arc::new(handlers::Updates(self.state.clone())),
            self.tuning.updates,
            self.wake_updates.clone(),
            stop_work.clone(),
            Duration::from_secs(10),
        ));
        let stop_delivery = CancellationToken::new();
        let delivery = driver(
            self.state.engine.clone(),
            self.state.bot.clone(),
            self.tuning.delivery,
            self.tuning.per_second,
        );
        let delivering =
            tokio::spawn(delivery.run(self.state.wake_delivery.clone(), stop_delivery.clone()));
        let ended_early = tokio::select! {
            _ = shutdown.cancelled() => None,
            ended = &mut transport => Some(ended),
        };
        if let Some(t) = &transport_stop {
            t.cancel();
        }
        let transport_result = match ended_early {
            Some(r) => r,
            None => match tokio::time::timeout(Duration::from_secs(15), transport).await {
                Ok(r) => r,
                Err(_) => {
                    warn!("the Telegram transport did not stop in 15 s");
                    Ok(Ok(()))
                }
            },
        };
        stop_work.cancel();
        let _ = updates.await;
        // Replies of the last updates run are in the outbox: give the delivery a moment to
        // send them, then stop it (what is left goes out at the next start, or from another
        // process).
        stop_delivery.cancel();
        let _ = delivering.await;
        match transport_result {
            Ok(Ok(())) if shutdown.is_cancelled() => {}
            Ok(Ok(())) => bail!("Telegram updates stopped unexpectedly"),
            Ok(Err(e)) => return Err(e),
            Err(e) => bail!("the Telegram transport task failed: {e}"),
        }
        info!("Telegram front-end stopped");
        Ok(())
    }
}

/// The plain teloxide client for these settings: the token, and the Bot API URL when set.
/// Its `Debug` prints the token: never log it.
pub fn bot_from_settings(settings: &TelegramSettings) -> anyhow::Result<Bot> {
    bot_with(settings, teloxide::net::default_reqwest_settings())
}

/// The client with every request limited to `timeout` (a request that takes longer counts as
/// failed, and an outbox message is sent again).
pub fn bot_with_timeout(settings: &TelegramSettings, timeout: Duration) -> anyhow::Result<Bot> {
    bot_with(
        settings,
        teloxide::net::default_reqwest_settings().timeout(timeout),
    )
}

fn bot_with(settings: &TelegramSettings, client: reqwest::ClientBuilder) -> anyhow::Result<Bot> {
    let token = settings
        .token
        .as_ref()
        .context("telegram.token (MENTOROPS__TELEGRAM__TOKEN) is not set")?;
    let client = client
        .build()
        .context("cannot build the HTTP client for Telegram")?;
    let mut bot = Bot::with_client(token.expose_secret(), client);
    if let Some(url) = settings.api_url.clone() {
        bot = bot.set_api_url(url);
    }
    Ok(bot)
}
