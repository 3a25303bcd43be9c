//! What both transports do with an interaction (the gateway's INTERACTION_CREATE and the HTTP
//! endpoint's POST alike): translate it into one `Engine` call and shape the answer. Every
//! decision is the core's.
//!
//! - A slash command → its options as the text line `/name key:value …`, run as the Discord
//!   account; answered with a message only the caller sees.
//! - A button → its custom_id (the button's command) run as the presser; on success the message
//!   that held it is updated in place with the outcome; a refusal goes to the presser alone and
//!   leaves the message as it was. A `form:` button opens a form (modal) instead.
//! - A form submission → its command with the text typed, like a press.
//! - Autocomplete → `Engine::suggest` (type 8, APPLICATION_COMMAND_AUTOCOMPLETE_RESULT).
//!
//! The core call runs in its own task. If it has not finished after [`DEFER_AFTER`] (Discord
//! allows 3 s for the first answer) the first answer is a deferral — type 5 (ephemeral,
//! serenity's `CreateInteractionResponse::Defer`) for a command, type 6 (`Acknowledge`) for a
//! press — and the result replaces it later (`PATCH …/messages/@original`), or, for a refused
//! press, comes as an ephemeral follow-up. Text over 2000 characters and files go as follow-ups.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use futures::future::BoxFuture;
use mentorops_core::command::{
    Caller, Engine, Frontend, Inbound, Invocation, Outcome, Who, parse, quote,
};
use mentorops_core::reply::Attachment;
use mentorops_core::store::inbox;
use serenity::builder::{
    CreateInteractionResponse, CreateInteractionResponseFollowup, CreateInteractionResponseMessage,
    EditInteractionResponse,
};
use serenity::model::application::{
    ActionRowComponent, CommandInteraction, CommandOptionType, ComponentInteraction, Interaction,
    ModalInteraction,
};
use serenity::model::id::UserId;
use serenity::model::user::User;
use tracing::warn;

use super::PROVIDER;
use super::commands::{command_line, options_of};
use super::delivery::{Discord, HookOp, InteractionHook};
use super::render::{self, FORM_PREFIX, Rendered, Response};
use super::rest::Rest;
use crate::chat;
use mentorops_core::store::outbox;

/// How long the core may take before the first answer becomes a deferral.
pub const DEFER_AFTER: Duration = Duration::from_millis(2500);
/// The largest upload downloaded for a command that takes a file.
pub const MAX_UPLOAD_BYTES: u32 = 10 * 1024 * 1024;

const NOBODY: &str = "Discord did not say who sent this: please try again";
const BROKE: &str = "something went wrong on our side: please try again";

/// The shared state of both transports.
pub struct Interactions {
    engine: Arc<Engine>,
    rest: Arc<Rest>,
    /// Sends what follows first answers (and, in `discord::run`, the DMs too).
    delivery: Arc<chat::Delivery<Discord>>,
    /// Downloads the files attached to commands (from Discord's CDN).
    files: reqwest::Client,
    defer_after: Duration,
}

/// The first answer to an interaction, and what to do once Discord has it (follow-ups, or the
/// result of deferred work). Run `later` only after `first` was delivered.
pub struct Answered {
    pub first: Response,
    pub later: Option<BoxFuture<'static, ()>>,
}

impl Answered {
    fn now(first: Response) -> Self {
        Self { first, later: None }
    }
}

impl Interactions {
    pub fn new(engine: Arc<Engine>, rest: Arc<Rest>) -> anyhow::Result<Self> {
        let files = reqwest::Client::builder()
            .use_rustls_tls()
            .timeout(Duration::from_secs(20))
            .build()
            .context("cannot build the HTTP client for Discord attachments")?;
        let tuning = chat::outbox::Tuning {
            lease: Duration::from_secs(engine.settings().chat.lease_secs),
            ..Default::default()
        };
        let delivery = super::delivery::driver(engine.clone(), rest.clone(), tuning);
        Ok(Self {
            engine,
            rest,
            delivery,
            files,
            defer_after: DEFER_AFTER,
        })
    }

    /// Defers after `d` instead of [`DEFER_AFTER`] (tests).
    pub fn with_defer_after(mut self, d: Duration) -> Self {
        self.defer_after = d;
        self
    }

    pub fn engine(&self) -> &Arc<Engine> {
        &self.engine
    }

    pub fn rest(&self) -> &Arc<Rest> {
        &self.rest
    }

    /// The delivery driver of `chat:discord` rows (`discord::run` runs its loop).
    pub fn delivery(&self) -> &Arc<chat::Delivery<Discord>> {
        &self.delivery
    }

    /// The first answer to `interaction` and what follows it.
    pub async fn answer(self: &Arc<Self>, interaction: Interaction) -> Answered {
        match interaction {
            Interaction::Ping(_) => Answered::now(Response(CreateInteractionResponse::Pong)),
            Interaction::Autocomplete(c) => Answered::now(self.autocomplete(&c).await),
            Interaction::Command(c) => self.command(c).await,
            Interaction::Component(c) => self.press(c).await,
            Interaction::Modal(m) => self.form_sent(m).await,
            _ => Answered::now(
                render::refusal("this kind of interaction is not supported").response(),
            ),
        }
    }

    async fn command(self: &Arc<Self>, c: CommandInteraction) -> Answered {
        let Some(caller) = caller_of(&c.user) else {
            return Answered::now(render::refusal(NOBODY).response());
        };
        let (app, token, id) = (c.application_id.get(), c.token.clone(), c.id.get());
        let hook = Hook::new(app, token, id, &caller);
        let this = self.clone();
        self.in_time(hook, false, async move {
            match uploads(&this.files, &c).await {
                Ok(files) => this.run(id, &caller, &line_of(&c), files, None).await,
                Err(problem) => render::refusal(&problem),
            }
        })
        .await
    }

    async fn press(self: &Arc<Self>, c: ComponentInteraction) -> Answered {
        let id = c.data.custom_id.clone();
        if let Some(rest) = id.strip_prefix(FORM_PREFIX)
            && let Some((arg, command)) = rest.split_once(':')
            && command.starts_with('/')
        {
            return Answered::now(render::form(command, arg, "Your answer"));
        }
        if !id.starts_with('/') {
            return Answered::now(render::refusal("This button does nothing.").response());
        }
        let Some(caller) = caller_of(&c.user) else {
            return Answered::now(render::refusal(NOBODY).response());
        };
        let (app, token, key) = (c.application_id.get(), c.token.clone(), c.id.get());
        let hook = Hook::new(app, token, key, &caller);
        let original = c.message.content.clone();
        let this = self.clone();
        self.in_time(hook, true, async move {
            this.run(key, &caller, &id, Vec::new(), Some(original))
                .await
        })
        .await
    }

    async fn form_sent(self: &Arc<Self>, m: ModalInteraction) -> Answered {
        let command = m.data.custom_id.clone();
        if !command.starts_with('/') {
            return Answered::now(render::refusal("This form does nothing.").response());
        }
        let Some(caller) = caller_of(&m.user) else {
            return Answered::now(render::refusal(NOBODY).response());
        };
        let mut line = command;
        for row in &m.data.components {
            for part in &row.components {
                if let ActionRowComponent::InputText(input) = part {
                    let value = input.value.as_deref().unwrap_or_default();
                    line.push_str(&format!(" {}:{}", input.custom_id, quote(value)));
                }
            }
        }
        let (app, token, key) = (m.application_id.get(), m.token.clone(), m.id.get());
        let hook = Hook::new(app, token, key, &caller);
        let original = m.message.as_ref().map(|msg| msg.content.clone());
        let on_message = original.is_some();
        let this = self.clone();
        self.in_time(hook, on_message, async move {
            this.run(key, &caller, &line, Vec::new(), original).await
        })
        .await
    }

    /// One core call, once per interaction id (a replayed request runs nothing: Discord never
    /// sends one interaction twice, so a second one is someone replaying a signed body);
    /// `pressed` holds the text of the message whose button (or form) it came from.
    async fn run(
        &self,
        interaction: u64,
        caller: &Caller,
        line: &str,
        files: Vec<Attachment>,
        pressed: Option<String>,
    ) -> Rendered {
        let inbound = Inbound {
            key: inbox::Key {
                platform: PROVIDER.into(),
                update_key: interaction.to_string(),
                lane: match &caller.who {
                    Who::Account { account_id, .. } => account_id.clone(),
                    Who::User(id) => id.to_string(),
                    Who::System => String::new(),
                },
            },
            received: false,
            reply: None,
        };
        let parsed = parse(line).map(|mut inv| {
            inv.attachments = files;
            inv
        });
        let replaces = parsed.as_ref().is_ok_and(Invocation::replaces_pressed);
        let Outcome { result, .. } = self.engine.run_inbound(caller, parsed, &inbound).await;
        match (&result, pressed) {
            (Ok(reply), Some(_)) if replaces => render::replaced(reply),
            (Ok(reply), Some(original)) => render::outcome(&original, reply),
            (Ok(reply), None) => render::reply(reply),
            (Err(e), _) => render::refusal(&e.user_message()),
        }
    }

    /// Runs `work` in its own task: finished within the deferral time, it is the first answer
    /// (its follow-ups after); otherwise the first answer is a deferral and the result follows.
    /// What follows the first answer is queued in the outbox (docs/chat-edge.md) and sent by
    /// the delivery driver at once, and again later if Discord did not take it.
    async fn in_time(
        &self,
        hook: Hook,
        on_message: bool,
        work: impl Future<Output = Rendered> + Send + 'static,
    ) -> Answered {
        let mut task = tokio::spawn(work);
        let queue = AfterQueue {
            engine: self.engine.clone(),
            delivery: self.delivery.clone(),
            hook,
        };
        match tokio::time::timeout(self.defer_after, &mut task).await {
            Ok(done) => {
                let rendered = done.unwrap_or_else(|_| render::refusal(BROKE));
                let more: Vec<After> = rendered
                    .followups()
                    .into_iter()
                    .map(|(m, f)| After::Followup(m, f))
                    .collect();
                Answered {
                    first: rendered.response(),
                    later: (!more.is_empty()).then(|| queue.send(more)),
                }
            }
            Err(_) => {
                let first = Response(if on_message {
                    CreateInteractionResponse::Acknowledge
                } else {
                    CreateInteractionResponse::Defer(
                        CreateInteractionResponseMessage::new().ephemeral(true),
                    )
                });
                let later: BoxFuture<'static, ()> = Box::pin(async move {
                    let rendered = task.await.unwrap_or_else(|_| render::refusal(BROKE));
                    let first = if rendered.update || !on_message {
                        // The deferral's own message (a command's), or the pressed message.
                        After::Edit(rendered.first_edit())
                    } else {
                        // A refused press: to the presser alone, the message left as it was.
                        After::Followup(rendered.first_followup(), Vec::new())
                    };
                    let mut all: Vec<After> = vec![first];
                    all.extend(
                        rendered
                            .followups()
                            .into_iter()
                            .map(|(m, f)| After::Followup(m, f)),
                    );
                    queue.send(all).await;
                });
                Answered {
                    first,
                    later: Some(later),
                }
            }
        }
    }

    async fn autocomplete(&self, c: &CommandInteraction) -> Response {
        let Some(focused) = c.data.autocomplete() else {
            return render::choices(&[], false);
        };
        let integer = focused.kind == CommandOptionType::Integer;
        let Some(caller) = caller_of(&c.user) else {
            return render::choices(&[], integer);
        };
        let found = tokio::time::timeout(
            self.defer_after,
            self.engine
                .suggest(&caller, &c.data.name, focused.name, focused.value),
        )
        .await;
        let list: Vec<(String, String)> = match found {
            Ok(Ok(list)) => list.into_iter().map(|s| (s.label, s.value)).collect(),
            Ok(Err(e)) => {
                warn!(error = %e, "autocomplete failed");
                Vec::new()
            }
            Err(_) => Vec::new(),
        };
        render::choices(&list, integer)
    }
}

/// One message after the first answer.
enum After {
    /// Replaces the first answer (`PATCH …/messages/@original`).
    Edit(EditInteractionResponse),
    /// One more message (`POST /webhooks/{application}/{token}`), with its files.
    Followup(CreateInteractionResponseFollowup, Vec<Attachment>),
}

/// An interaction's webhook and who it is for (the outbox lane: that person's messages stay in
/// order with their DMs).
struct Hook {
    app: u64,
    token: String,
    interaction: u64,
    lane: String,
}

impl Hook {
    fn new(app: u64, token: String, interaction: u64, caller: &Caller) -> Self {
        let lane = match &caller.who {
            Who::Account { account_id, .. } => account_id.clone(),
            Who::User(id) => id.to_string(),
            Who::System => String::new(),
        };
        Self {
            app,
            token,
            interaction,
            lane,
        }
    }
}

struct AfterQueue {
    engine: Arc<Engine>,
    delivery: Arc<chat::Delivery<Discord>>,
    hook: Hook,
}

impl AfterQueue {
    /// Queues the messages in the outbox (one transaction), then sends them at once.
    fn send(self, items: Vec<After>) -> BoxFuture<'static, ()> {
        Box::pin(async move {
            if let Err(e) = self.queue(items).await {
                warn!(
                    error = format!("{e:#}"),
                    "could not queue what follows a Discord answer"
                );
                return;
            }
            if let Err(e) = self.delivery.deliver_lane(&self.hook.lane).await {
                warn!(
                    error = format!("{e:#}"),
                    "Discord follow-ups left for the delivery loop"
                );
            }
        })
    }

    async fn queue(&self, items: Vec<After>) -> anyhow::Result<()> {
        let now = self.engine.now();
        let mut tx = self.engine.db().begin().await?;
        for (n, item) in items.into_iter().enumerate() {
            // The row holds the builder's JSON; delivery sends it as it is.
            let (op, message, files) = match item {
                After::Edit(m) => (HookOp::Edit, serde_json::to_string(&m)?, Vec::new()),
                After::Followup(m, f) => (HookOp::Followup, serde_json::to_string(&m)?, f),
            };
            let target = serde_json::to_string(&InteractionHook {
                app: self.hook.app,
                token: self.hook.token.clone(),
                op,
            })?;
            let row = outbox::NewMessage {
                channel: outbox::chat_channel(PROVIDER),
                kind: outbox::REPLY,
                recipient_user_id: None,
                recipient: self.hook.lane.clone(),
                subject: String::new(),
                body_text: message,
                body_html: None,
                buttons: Vec::new(),
                idempotency_key: format!("reply:discord:{}:{n}", self.hook.interaction),
            };
            outbox::insert_with(&mut tx, &row, Some(&target), &files, now).await?;
        }
        tx.commit().await?;
        Ok(())
    }
}

/// The Discord user as the core's caller: account id = the user's snowflake. None when the
/// interaction named nobody: serenity then leaves `user` at its default (id 1) — a `member`
/// without a `guild_id` does that too — and nothing must run as that account.
pub fn caller_of(user: &User) -> Option<Caller> {
    (user.id != UserId::default()).then(|| Caller {
        frontend: Frontend::Discord,
        who: Who::Account {
            provider: PROVIDER.into(),
            account_id: user.id.get().to_string(),
            handle: Some(user.name.clone()),
        },
    })
}

/// The text line a slash command stands for.
pub fn line_of(c: &CommandInteraction) -> String {
    let resolved = &c.data.resolved.attachments;
    let options = options_of(&c.data.options, |id| {
        resolved.get(id).map(|a| a.filename.clone())
    });
    command_line(&c.data.name, &options)
}

/// The files attached to a command's attachment options, downloaded from the URL Discord gave
/// (serenity's `Attachment::download` would take an error page for the file: it does not look
/// at the status, nor at the size while reading).
async fn uploads(
    client: &reqwest::Client,
    c: &CommandInteraction,
) -> Result<Vec<Attachment>, String> {
    let too_big = || {
        format!(
            "the file is too big: the limit is {} MB",
            MAX_UPLOAD_BYTES / (1024 * 1024)
        )
    };
    let failed = |e: reqwest::Error| {
        warn!(error = %e.without_url(), "Discord attachment download failed");
        "the file could not be downloaded from Discord: please send it again".to_string()
    };
    let mut files = Vec::new();
    for a in c.data.resolved.attachments.values() {
        if a.size > MAX_UPLOAD_BYTES {
            return Err(too_big());
        }
        let mut resp = client
            .get(&a.url)
            .send()
            .await
            .and_then(reqwest::Response::error_for_status)
            .map_err(failed)?;
        let mut bytes = Vec::new();
        while let Some(chunk) = resp.chunk().await.map_err(failed)? {
            if bytes.len() + chunk.len() > MAX_UPLOAD_BYTES as usize {
                return Err(too_big());
            }
            bytes.extend_from_slice(&chunk);
        }
        files.push(Attachment {
            file_name: a.filename.clone(),
            media_type: a
                .content_type
                .clone()
                .unwrap_or_else(|| "application/octet-stream".into()),
            bytes,
        });
    }
    Ok(files)
}
