//! The Telegram front-end (teloxide), as thin as the console: a message becomes
//! `engine.handle_text(caller, text, attachments)`, the `Reply` becomes Telegram messages
//! (text, an inline keyboard whose buttons carry the command a press runs, documents), a button
//! press runs its command as the presser, and the outbox's `chat:telegram` rows are delivered
//! as direct messages. Every decision (permissions, deactivated or unlinked accounts, presses
//! by the wrong person or too late) is the core's; this module only renders what it answers.
//!
//! - Transport: long polling by default, or a webhook (`telegram.mode = "webhook"`) whose every
//!   request must carry `X-Telegram-Bot-Api-Secret-Token`, compared in constant time.
//! - Rate limits: every request goes through one teloxide [`Throttle`] (1 message/s per chat,
//!   30/s overall, `retry_after` of a 429 honoured and the request retried).
//! - Menus: the default scope shows the commands of an unlinked account; each private chat gets
//!   the commands its user may run, published again whenever that list changes.
//! - Shutdown: [`run`] stops when the `CancellationToken` is cancelled.

mod delivery;
mod handlers;
mod menus;
mod render;
mod webhook;

use std::fmt::Display;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, bail};
use mentorops_core::command::Engine;
use mentorops_core::settings::TelegramSettings;
use secrecy::ExposeSecret;
use teloxide::adaptors::Throttle;
use teloxide::dispatching::UpdateHandler;
use teloxide::error_handlers::ErrorHandler;
use teloxide::prelude::*;
use teloxide::update_listeners::{Polling, webhooks};
use tokio::net::TcpListener;
use tokio::sync::Notify;
use tokio_util::sync::CancellationToken;
use tracing::{info, warn};

pub use delivery::deliver_due;
pub use menus::{command_list, menu_for_account};
pub use teloxide::adaptors::throttle::Limits;

/// The chat provider name in `chat_links` and the outbox channel (`chat:telegram`).
pub const PROVIDER: &str = "telegram";

/// The bot every request goes through: rate-limited, retrying after a 429.
pub type TgBot = Throttle<Bot>;

/// Knobs of the running front-end; `Default` is what production uses.
#[derive(Debug, Clone)]
pub struct Tuning {
    /// How often the outbox is checked for due Telegram messages (a command that queues one
    /// also wakes the delivery at once).
    pub delivery_every: Duration,
    /// The long-polling timeout of `getUpdates`.
    pub poll_timeout: Duration,
    /// Telegram's limits: 1 message/s per chat, 30/s overall (teloxide's defaults), and 60/min
    /// per chat instead of teloxide's 20 — 20/min is Telegram's limit for groups, and this bot
    /// talks in private chats (a group only ever gets a pointer to the private chat; a 429
    /// there is waited out all the same).
    pub limits: Limits,
}

impl Default for Tuning {
    fn default() -> Self {
        Self {
            delivery_every: Duration::from_secs(2),
            poll_timeout: Duration::from_secs(10),
            limits: Limits {
                messages_per_min_chat: 60,
                ..Limits::default()
            },
        }
    }
}

/// Starts the Telegram front-end configured in `engine.settings().telegram` (long polling, or
/// the webhook server on `telegram.webhook_addr`) plus the delivery of the `chat:telegram`
/// outbox, and runs until `shutdown` is cancelled.
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
        Self {
            engine,
            settings,
            tuning: Tuning::default(),
        }
    }

    pub fn tuning(mut self, tuning: Tuning) -> Self {
        self.tuning = tuning;
        self
    }

    /// Polling or webhook, as configured; returns after `shutdown` is cancelled.
    pub async fn run(self, shutdown: CancellationToken) -> anyhow::Result<()> {
        if self.settings.mode.as_deref() == Some("webhook") {
            let addr: SocketAddr = self
                .settings
                .webhook_addr
                .as_deref()
                .unwrap_or_default()
                .parse()
                .context("telegram.webhook_addr (MENTOROPS__TELEGRAM__WEBHOOK_ADDR) is not a listen address like 0.0.0.0:8443")?;
            let listener = TcpListener::bind(addr)
                .await
                .with_context(|| format!("cannot listen on {addr} for the Telegram webhook"))?;
            self.run_webhook_on(listener, shutdown).await
        } else {
            let started = self.start().await?;
            let polling = Polling::builder(started.bot.clone())
                .timeout(started.tuning.poll_timeout)
                .delete_webhook()
                .await
                .build();
            info!("Telegram front-end started (long polling)");
            started.dispatch(polling, shutdown).await
        }
    }

    /// Webhook mode on a listener the caller bound (tests bind 127.0.0.1:0). Registers
    /// `telegram.webhook_url` with Telegram (`setWebhook` with the secret), then serves it.
    pub async fn run_webhook_on(
        self,
        listener: TcpListener,
        shutdown: CancellationToken,
    ) -> anyhow::Result<()> {
        let secret = self.settings.webhook_secret.clone().context(
            "telegram.webhook_secret (MENTOROPS__TELEGRAM__WEBHOOK_SECRET) must be set in webhook mode",
        )?;
        let url: url::Url = self
            .settings
            .webhook_url
            .as_deref()
            .unwrap_or_default()
            .parse()
            .context("telegram.webhook_url (MENTOROPS__TELEGRAM__WEBHOOK_URL) must be the public https:// URL of the webhook")?;
        let started = self.start().await?;
        let addr = listener.local_addr()?;
        let mut options = webhooks::Options::new(addr, url.clone());
        // teloxide compares this too, but not in constant time: `webhook::require_secret`
        // answers every request before teloxide's handler sees it.
        options.secret_token = Some(secret.expose_secret().to_string());
        let (updates, stop_flag, router) = webhooks::axum_no_setup(options);
        let router = router.layer(axum::middleware::from_fn_with_state(
            Arc::new(secret.clone()),
            webhook::require_secret,
        ));
        started
            .bot
            .set_webhook(url)
            .secret_token(secret.expose_secret().to_string())
            .await
            .context("Telegram refused setWebhook for telegram.webhook_url")?;
        // Stops the dispatcher on shutdown, or when the server dies (then `run` fails).
        let stop = shutdown.child_token();
        let server = {
            let stop = stop.clone();
            tokio::spawn(async move {
                let served = axum::serve(listener, router)
                    .with_graceful_shutdown(stop_flag)
                    .await;
                stop.cancel();
                served
            })
        };
        info!(%addr, "Telegram front-end started (webhook)");
        let result = started.dispatch(updates, stop).await;
        let served = tokio::time::timeout(Duration::from_secs(5), server).await;
        // The webhook stays registered: Telegram keeps the updates until the next start.
        result?;
        match served {
            Ok(Ok(Ok(()))) if shutdown.is_cancelled() => Ok(()),
            Ok(Ok(Ok(()))) => bail!("the Telegram webhook server stopped unexpectedly"),
            Ok(Ok(Err(e))) => bail!("the Telegram webhook server failed: {e}"),
            Ok(Err(e)) => bail!("the Telegram webhook server task failed: {e}"),
            Err(_) => {
                warn!("the Telegram webhook server did not stop in 5 s");
                Ok(())
            }
        }
    }

    /// Builds the bot, checks the token (`getMe`) and publishes the default command menu.
    async fn start(self) -> anyhow::Result<Started> {
        let raw = bot_from_settings(&self.settings)?;
        let bot = raw.clone().throttle(self.tuning.limits);
        let me = bot.get_me().await.context(
            "cannot reach the Telegram Bot API with this token (telegram.token / telegram.api_url)",
        )?;
        if let Err(e) = menus::publish_default(&bot).await {
            warn!(error = %e, "could not publish the default Telegram command menu");
        }
        let state = Arc::new(handlers::State {
            engine: self.engine,
            bot: bot.clone(),
            raw,
            me: me.username().to_string(),
            wake: Arc::new(Notify::new()),
            menus: Default::default(),
        });
        Ok(Started {
            bot,
            state,
            tuning: self.tuning,
        })
    }
}

struct Started {
    bot: TgBot,
    state: Arc<handlers::State>,
    tuning: Tuning,
}

impl Started {
    /// Runs the dispatcher on `updates` and the outbox delivery until `shutdown`.
    async fn dispatch<L>(self, updates: L, shutdown: CancellationToken) -> anyhow::Result<()>
    where
        L: teloxide::update_listeners::UpdateListener + Send,
        L::Err: Display + std::fmt::Debug + Send + Sync + 'static,
    {
        let stop_delivery = shutdown.child_token();
        let mut delivery = tokio::spawn(delivery::delivery_loop(
            self.state.engine.clone(),
            self.bot.clone(),
            self.tuning.delivery_every,
            self.state.wake.clone(),
            stop_delivery.clone(),
        ));

        let mut dispatcher = Dispatcher::builder(self.bot.clone(), handler_tree())
            .dependencies(dptree::deps![self.state.clone()])
            .default_handler(|_| async {})
            .error_handler(Arc::new(|e: anyhow::Error| async move {
                warn!(
                    error = format!("{e:#}"),
                    "a Telegram update was not answered"
                );
            }))
            .build();
        let token = dispatcher.shutdown_token();
        let stopper = {
            let shutdown = shutdown.clone();
            tokio::spawn(async move {
                shutdown.cancelled().await;
                // Refused while the dispatcher is not running yet: try again until it is.
                loop {
                    match token.shutdown() {
                        Ok(done) => {
                            done.await;
                            return;
                        }
                        Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
                    }
                }
            })
        };
        let dispatched = dispatcher
            .try_dispatch_with_listener(updates, Arc::new(ListenerErrors))
            .await;
        stopper.abort();
        stop_delivery.cancel();
        // The delivery finishes the message it is sending (so a sent row is marked sent).
        if tokio::time::timeout(Duration::from_secs(10), &mut delivery)
            .await
            .is_err()
        {
            // Stuck behind a long retry_after: the row in flight stays pending (sent again
            // on the next start if Telegram had taken it — at least once).
            delivery.abort();
            warn!("Telegram delivery did not stop in 10 s; stopped it");
        }
        dispatched.context("Telegram dispatching could not start")?;
        if !shutdown.is_cancelled() {
            bail!("Telegram updates stopped unexpectedly");
        }
        info!("Telegram front-end stopped");
        Ok(())
    }
}

fn handler_tree() -> UpdateHandler<anyhow::Error> {
    dptree::entry()
        .branch(Update::filter_message().endpoint(handlers::on_message))
        .branch(Update::filter_callback_query().endpoint(handlers::on_callback))
}

/// Errors of `getUpdates` (teloxide retries with a back-off); reqwest errors come with the
/// token already cut out of the URL by teloxide.
struct ListenerErrors;

impl<E: Display + Send + 'static> ErrorHandler<E> for ListenerErrors {
    fn handle_error(self: Arc<Self>, error: E) -> futures::future::BoxFuture<'static, ()> {
        Box::pin(async move {
            warn!(error = %error, "Telegram updates could not be fetched; retrying");
        })
    }
}

/// The plain teloxide client for these settings: the token, and the Bot API URL when set.
/// Its `Debug` prints the token: never log it.
pub fn bot_from_settings(settings: &TelegramSettings) -> anyhow::Result<Bot> {
    let token = settings
        .token
        .as_ref()
        .context("telegram.token (MENTOROPS__TELEGRAM__TOKEN) is not set")?;
    let client = teloxide::net::default_reqwest_settings()
        .build()
        .context("cannot build the HTTP client for Telegram")?;
    let mut bot = Bot::with_client(token.expose_secret(), client);
    if let Some(api) = settings.api_url.as_deref().filter(|u| !u.is_empty()) {
        let url = url::Url::parse(api).with_context(|| {
            format!("telegram.api_url (MENTOROPS__TELEGRAM__API_URL) is not a URL: {api}")
        })?;
        bot = bot.set_api_url(url);
    }
    Ok(bot)
}

/// A rate-limited bot for [`deliver_due`] outside [`run`] (spawns the throttle's worker, so it
/// needs a Tokio runtime). Inside `run` one throttle serves both replies and deliveries.
pub fn throttled(bot: Bot, limits: Limits) -> TgBot {
    bot.throttle(limits)
}
