//! Runs a command: finds who is asking, checks the permission table, opens one transaction,
//! dispatches to the handler, and commits only if it succeeded — so a command changes
//! everything it says or nothing. One exception: `/user_import` checks the whole file, then
//! adds people in chunks, each in a transaction of its own (`crate::import`).

use std::fmt;
use std::sync::Arc;

use tracing::{error, info};

use super::ctx::{Actor, Ctx};
use super::handlers;
use super::parse::{Invocation, parse};
use super::registry::{Audience, CommandId, CommandSpec, Refusal, refusal};
use crate::clock::Clock;
use crate::db::Db;
use crate::error::{Error, Result};
use crate::program::ProgramSettings;
use crate::reply::{Attachment, Reply};
use crate::settings::Settings;
use crate::store::{self, outbox::NewMessage};

/// Where a command came from; recorded in the audit log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Frontend {
    Console,
    Telegram,
    Discord,
    /// The `mentorops admin …` command line.
    Cli,
    /// The worker's timers (offer expiry, reminders).
    Worker,
}

impl Frontend {
    pub fn code(self) -> &'static str {
        match self {
            Self::Console => "console",
            Self::Telegram => "telegram",
            Self::Discord => "discord",
            Self::Cli => "cli",
            Self::Worker => "worker",
        }
    }
}

impl fmt::Display for Frontend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// Who sent the command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Who {
    /// A chat account; linked to a user or not.
    Account {
        provider: String,
        account_id: String,
        handle: Option<String>,
    },
    /// A user chosen by the operator (`mentorops console --as EMAIL`).
    User(i64),
}

#[derive(Debug, Clone)]
pub struct Caller {
    pub frontend: Frontend,
    pub who: Who,
}

/// A command's result plus the messages it queued for other people (shown by the console,
/// delivered by the worker).
#[derive(Debug)]
pub struct Outcome {
    pub result: Result<Reply>,
    pub queued: Vec<NewMessage>,
}

impl Outcome {
    fn failed(e: Error) -> Self {
        Self {
            result: Err(e),
            queued: Vec::new(),
        }
    }
}

pub struct Engine {
    pub(crate) db: Db,
    pub(crate) settings: Arc<Settings>,
    pub(crate) program_defaults: ProgramSettings,
    pub(crate) clock: Arc<dyn Clock>,
}

impl Engine {
    pub fn new(db: Db, settings: Arc<Settings>, clock: Arc<dyn Clock>) -> Result<Self> {
        let program_defaults = settings
            .program_defaults()
            .map_err(|e| Error::Internal(e.to_string()))?;
        Ok(Self {
            db,
            settings,
            program_defaults,
            clock,
        })
    }

    pub fn db(&self) -> &Db {
        &self.db
    }
    pub fn settings(&self) -> &Settings {
        &self.settings
    }
    pub fn now(&self) -> chrono::DateTime<chrono::Utc> {
        self.clock.now()
    }

    /// Parses and runs one line of text with the files that came with it.
    pub async fn handle_text(
        &self,
        caller: &Caller,
        text: &str,
        attachments: Vec<Attachment>,
    ) -> Outcome {
        match parse(text) {
            Ok(mut inv) => {
                inv.attachments = attachments;
                self.run(caller, inv).await
            }
            Err(e) => Outcome::failed(e),
        }
    }

    /// The context of work nobody typed (the worker's timers, the operator's CLI): no user,
    /// no role; the audit log records the front-end.
    pub(crate) fn system_ctx<'a>(
        &'a self,
        tx: &'a mut sqlx::Transaction<'static, sqlx::Any>,
        frontend: Frontend,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Ctx<'a> {
        let caller = Caller {
            frontend,
            who: Who::User(0),
        };
        Ctx::new(
            self,
            tx,
            Actor {
                user: None,
                grants: Vec::new(),
            },
            caller,
            now,
        )
    }

    pub async fn run(&self, caller: &Caller, inv: Invocation) -> Outcome {
        let name = inv.spec.name;
        let outcome = match self.run_in_transaction(caller, inv, None).await {
            Ok((reply, queued)) => Outcome {
                result: Ok(reply),
                queued,
            },
            Err(e) => Outcome::failed(e),
        };
        match &outcome.result {
            Ok(_) => info!(command = name, frontend = %caller.frontend, "command done"),
            Err(Error::Internal(detail)) => {
                error!(command = name, frontend = %caller.frontend, %detail, "command failed")
            }
            Err(_) => info!(command = name, frontend = %caller.frontend, "command refused"),
        }
        outcome
    }

    async fn run_in_transaction(
        &self,
        caller: &Caller,
        inv: Invocation,
        inbound: Option<&Inbound>,
    ) -> Result<(Reply, Vec<NewMessage>)> {
        // A file of people is too big for one transaction (a 132 000-row file held the
        // database for minutes): it checks the file, then adds people in transactions of its
        // own, between which other commands run (see `crate::import`).
        if inv.spec.id == CommandId::UserImport {
            return crate::import::run(self, caller, &inv, inbound).await;
        }
        let now = self.clock.now();
        let mut tx = self.db.begin().await?;
        // First, so a second run of the same update waits here for the first to commit (the
        // row or key is locked) and then finds it done.
        if let Some(inbound) = inbound
            && !inbound.mark_done(&mut tx, now).await?
        {
            return Err(Error::Duplicate);
        }
        let actor = allowed(&mut tx, caller, inv.spec).await?;
        let user_id = actor.user.as_ref().map(|u| u.id);
        let mut ctx = Ctx::new(self, &mut tx, actor, caller.clone(), now);
        let reply = match handlers::dispatch(&mut ctx, &inv).await {
            Ok(reply) => reply,
            Err(Error::WrongLinkCode) => {
                // The command changes nothing, but the try counts (the limits on guessing):
                // written after the rollback, in a transaction of its own.
                drop(ctx);
                tx.rollback().await?;
                self.count_wrong_code(caller, now).await?;
                return Err(Error::WrongLinkCode);
            }
            Err(e) => return Err(e),
        };
        let queued = ctx.into_queued();
        finish(&mut tx, user_id, inbound, &reply, now).await?;
        tx.commit().await?;
        Ok((reply, queued))
    }

    async fn count_wrong_code(
        &self,
        caller: &Caller,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<()> {
        if let Who::Account {
            provider,
            account_id,
            ..
        } = &caller.who
        {
            let mut tx = self.db.begin().await?;
            store::links::record_wrong_code(&mut tx, provider, account_id, now).await?;
            tx.commit().await?;
        }
        Ok(())
    }

    /// Runs a command that came in as a platform update or interaction, exactly once per
    /// `inbound.key` (docs/chat-edge.md): the key is recorded done in the command's own
    /// transaction, and with `inbound.reply` set the reply is queued in the outbox in it too.
    /// A refused command is recorded with its refusal (queued the same way) and changes
    /// nothing else. A second run of the same key runs nothing and answers
    /// [`Error::Duplicate`]. [`Error::Internal`] records nothing: the update is to be run
    /// again later (the caller decides when, and when to give up: [`Engine::give_up`]).
    pub async fn run_inbound(
        &self,
        caller: &Caller,
        parsed: Result<Invocation>,
        inbound: &Inbound,
    ) -> Outcome {
        let ran = match parsed {
            Ok(inv) => {
                let name = inv.spec.name;
                let ran = self.run_in_transaction(caller, inv, Some(inbound)).await;
                match &ran {
                    Ok(_) => info!(command = name, frontend = %caller.frontend, "command done"),
                    Err(Error::Internal(detail)) => {
                        error!(command = name, frontend = %caller.frontend, %detail, "command failed")
                    }
                    Err(Error::Duplicate) => {
                        info!(command = name, frontend = %caller.frontend, key = %inbound.key.update_key, "update handled before; not run again")
                    }
                    Err(_) => {
                        info!(command = name, frontend = %caller.frontend, "command refused")
                    }
                }
                ran
            }
            Err(e) => Err(e),
        };
        match ran {
            Ok((reply, queued)) => Outcome {
                result: Ok(reply),
                queued,
            },
            Err(e @ (Error::Internal(_) | Error::Duplicate)) => Outcome::failed(e),
            Err(refused) => match self
                .settle(
                    inbound,
                    &Reply::text(format!("✗ {}", refused.user_message())),
                    false,
                )
                .await
            {
                Ok(true) => Outcome::failed(refused),
                Ok(false) => Outcome::failed(Error::Duplicate),
                Err(e) => Outcome::failed(e),
            },
        }
    }

    /// Records an update as handled with `reply` and nothing run: one the front-end answers
    /// itself (a hint, a file it could not fetch, a command for another bot), or one that kept
    /// failing on our side (`give_up`). False when it was handled already.
    pub async fn settle(&self, inbound: &Inbound, reply: &Reply, success: bool) -> Result<bool> {
        let now = self.clock.now();
        let mut tx = self.db.begin().await?;
        if !inbound.mark_done(&mut tx, now).await? {
            return Ok(false);
        }
        inbound.queue_reply(&mut tx, reply, success, now).await?;
        tx.commit().await?;
        Ok(true)
    }

    /// An update that failed on our side too many times: answered with an apology, recorded as
    /// handled, so it neither runs forever nor holds up the chat's later updates.
    pub async fn give_up(&self, inbound: &Inbound) -> Result<bool> {
        let sorry = Reply::text(
            "✗ Something went wrong on our side and this message could not be handled: please send it again in a minute.",
        );
        self.settle(inbound, &sorry, false).await
    }
}

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
    /// short transaction of its own, before its first chunk (see `crate::import`).
    pub(crate) async fn mark_done(
        &self,
        tx: &mut sqlx::Transaction<'static, sqlx::Any>,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<bool> {
        if self.received {
            store::inbox::finish(tx, &self.key, now).await
        } else {
            store::inbox::record_done(tx, &self.key, now).await
        }
    }

    async fn queue_reply(
        &self,
        tx: &mut sqlx::Transaction<'static, sqlx::Any>,
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

/// Who is asking, when the permission table lets them run `spec`; otherwise the refusal.
pub(crate) async fn allowed(
    c: &mut sqlx::AnyConnection,
    caller: &Caller,
    spec: &CommandSpec,
) -> Result<Actor> {
    let actor = Actor::load(c, caller).await?;
    let roles: Vec<_> = actor.grants.iter().map(|g| g.role).collect();
    let audience = Audience {
        linked: actor.user.is_some(),
        status: actor.user.as_ref().map(|u| u.status),
        staff_roles: &roles,
    };
    match refusal(spec, audience) {
        Some(r) => Err(refusal_error(spec.name, r, &actor)),
        None => Ok(actor),
    }
}

/// What every successful command does last, in its final transaction: the caller's activity
/// (SPEC §3), and the reply queued where the update wants it.
pub(crate) async fn finish(
    tx: &mut sqlx::Transaction<'static, sqlx::Any>,
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

fn refusal_error(command: &str, r: Refusal, actor: &Actor) -> Error {
    match r {
        Refusal::Deactivated => Error::Deactivated,
        Refusal::NotLinked => Error::forbidden(format!(
            "/{command} needs a linked account: send /link CODE with the code from your welcome email (ask your program manager if you have none)"
        )),
        Refusal::ApplicationFirst => Error::forbidden(format!(
            "/{command} opens once your application is complete: finish it first (see /me)"
        )),
        Refusal::NeedsRole(roles) => {
            let names: Vec<&str> = roles.iter().map(|r| r.code()).collect();
            let you = if actor.grants.is_empty() {
                "you have no staff role".to_string()
            } else {
                format!(
                    "you are {}",
                    actor
                        .grants
                        .iter()
                        .map(|g| g.role.code())
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            };
            Error::forbidden(format!(
                "/{command} is for {} only, and {you}: ask a super admin if you need it",
                names.join(" or ")
            ))
        }
    }
}
