//! Runs a command: finds who is asking, checks the permission table, opens one transaction,
//! dispatches to the handler, and commits only if it succeeded — so a command changes
//! everything it says or nothing.

use std::fmt;
use std::sync::Arc;

use tracing::{error, info};

use super::ctx::{Actor, Ctx};
use super::handlers;
use super::parse::{Invocation, parse};
use super::registry::{Audience, Refusal, refusal};
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
        let outcome = match self.run_in_transaction(caller, inv).await {
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
    ) -> Result<(Reply, Vec<NewMessage>)> {
        let now = self.clock.now();
        let mut tx = self.db.begin().await?;
        let actor = Actor::load(&mut tx, caller).await?;
        let roles: Vec<_> = actor.grants.iter().map(|g| g.role).collect();
        let audience = Audience {
            linked: actor.user.is_some(),
            status: actor.user.as_ref().map(|u| u.status),
            staff_roles: &roles,
        };
        if let Some(r) = refusal(inv.spec, audience) {
            return Err(refusal_error(inv.spec.name, r, &actor));
        }
        let user_id = actor.user.as_ref().map(|u| u.id);
        let mut ctx = Ctx::new(self, &mut tx, actor, caller.clone(), now);
        let reply = handlers::dispatch(&mut ctx, &inv).await?;
        let queued = ctx.into_queued();
        if let Some(id) = user_id
            && store::users::user(&mut tx, id).await?.is_some()
        {
            store::users::touch_activity(&mut tx, id, now).await?;
        }
        tx.commit().await?;
        Ok((reply, queued))
    }
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
