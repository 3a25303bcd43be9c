//! Runs a command: finds who is asking, checks the permission table, opens one transaction,
//! dispatches to the handler, and commits only if it succeeded — so a command changes
//! everything it says or nothing. One exception: `/user_import` checks the whole file, then
//! adds people in chunks, each in a transaction of its own (`command::import`).

use tracing::{error, info};

use super::access::allowed;
use super::args::Invocation;
use super::caller::{Caller, Who};
use super::ctx::Ctx;
use super::engine::Engine;
use super::import;
use super::inbound::{Inbound, finish};
use super::parse::parse;
use super::registry::{self, COMMANDS};
use super::spec::Runs;
use crate::domain::{Actor, Work};
use crate::error::{Error, Result};
use crate::reply::{Attachment, Reply};
use crate::store::{self, outbox::NewMessage};

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

impl Engine {
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

    /// The commands `caller` may run: what `/help` lists and the chat menus show them.
    pub async fn visible_commands(
        &self,
        caller: &Caller,
    ) -> Result<Vec<&'static super::spec::CommandSpec>> {
        let mut c = self.db.pool().acquire().await?;
        let asker = super::access::Actor::load(&mut c, caller).await?;
        Ok(registry::visible_to(asker.audience()))
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
        // own, between which other commands run (see `command::import`).
        if inv.spec.runs == Runs::InChunks {
            return import::run(self, caller, &inv, inbound).await;
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
        let work = Work::new(
            &mut tx,
            now,
            user_id.map_or(Actor::System, Actor::User),
            caller.frontend,
            &self.settings,
            &self.program_defaults,
        );
        let mut ctx = Ctx::new(work, actor, caller.clone(), COMMANDS).invoked(&inv);
        let reply = match registry::dispatch(&mut ctx, &inv).await {
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
        let queued = ctx.into_work().into_queued();
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
