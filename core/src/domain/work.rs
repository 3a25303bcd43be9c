//! The unit of work every workflow runs in: one transaction, the time it runs at, who it runs
//! for (a person, or the system), and what it writes besides its own rows — audit entries and
//! outbox messages, in that same transaction (docs/domain.md#the-audit-log).

use std::fmt;

use chrono::{DateTime, Utc};
use sqlx::{Any, AnyConnection, Transaction};

use crate::error::Result;
use crate::messages::Mail;
use crate::program::ProgramSettings;
use crate::quiet;
use crate::reply::{Attachment, Button};
use crate::settings::Settings;
use crate::store::audit::NewAudit;
use crate::store::links;
use crate::store::outbox::{self, NewMessage};
use crate::store::users::{QuietOf, User};

/// Where a change came from; recorded in the audit log.
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

/// Who a change is done for: the audit log's "who".
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Actor {
    /// Work nobody typed: the worker's timers, the operator's command line.
    System,
    /// A person, by user id.
    User(i64),
}

impl Actor {
    pub fn user_id(self) -> Option<i64> {
        match self {
            Self::System => None,
            Self::User(id) => Some(id),
        }
    }
}

/// One audit entry: what changed, on whom, from what to what, and why.
#[derive(Debug, Clone)]
pub struct Audit<'r> {
    subject: Option<i64>,
    entity: &'static str,
    entity_id: Option<i64>,
    field: String,
    old: Option<String>,
    new: Option<String>,
    reason: Option<&'r str>,
}

impl<'r> Audit<'r> {
    fn of(subject: Option<i64>, entity: &'static str, entity_id: Option<i64>, field: &str) -> Self {
        Self {
            subject,
            entity,
            entity_id,
            field: field.to_string(),
            old: None,
            new: None,
            reason: None,
        }
    }
    /// A field of a user (their status, staff role, chat link).
    pub fn user(user_id: i64, field: &str) -> Self {
        Self::of(Some(user_id), "user", Some(user_id), field)
    }
    /// A field of one of `user_id`'s personas.
    pub fn persona(user_id: i64, persona_id: i64, field: &str) -> Self {
        Self::of(Some(user_id), "persona", Some(persona_id), field)
    }
    /// The one entry a deleted person leaves: their id, and nothing about them.
    pub fn deleted_user(user_id: i64) -> Self {
        Self::of(None, "user", Some(user_id), "deleted")
    }
    pub fn program(program_id: i64, field: &str) -> Self {
        Self::of(None, "program", Some(program_id), field)
    }
    pub fn organization(org_id: i64, field: &str) -> Self {
        Self::of(None, "organization", Some(org_id), field)
    }
    pub fn from(mut self, old: impl Into<String>) -> Self {
        self.old = Some(old.into());
        self
    }
    pub fn from_opt(mut self, old: Option<String>) -> Self {
        self.old = old;
        self
    }
    pub fn to(mut self, new: impl Into<String>) -> Self {
        self.new = Some(new.into());
        self
    }
    pub fn to_opt(mut self, new: Option<String>) -> Self {
        self.new = new;
        self
    }
    pub fn because(mut self, reason: Option<&'r str>) -> Self {
        self.reason = reason;
        self
    }
}

pub struct Work<'a> {
    tx: &'a mut Transaction<'static, Any>,
    /// When the work happens: every row it writes carries this time.
    pub now: DateTime<Utc>,
    pub actor: Actor,
    pub frontend: Frontend,
    settings: &'a Settings,
    program_defaults: &'a ProgramSettings,
    queued: Vec<NewMessage>,
    /// While `/revert` runs: the entry being reverted, written into each new entry's `reverts`.
    pub reverting: Option<i64>,
    /// The newest audit entry this work wrote.
    pub last_audit: Option<i64>,
}

impl<'a> Work<'a> {
    pub fn new(
        tx: &'a mut Transaction<'static, Any>,
        now: DateTime<Utc>,
        actor: Actor,
        frontend: Frontend,
        settings: &'a Settings,
        program_defaults: &'a ProgramSettings,
    ) -> Self {
        Self {
            tx,
            now,
            actor,
            frontend,
            settings,
            program_defaults,
            queued: Vec::new(),
            reverting: None,
            last_audit: None,
        }
    }

    /// The transaction's connection.
    pub fn c(&mut self) -> &mut AnyConnection {
        &mut *self.tx
    }

    pub fn settings(&self) -> &'a Settings {
        self.settings
    }

    /// The settings a persona without a program goes by.
    pub fn program_defaults(&self) -> &'a ProgramSettings {
        self.program_defaults
    }

    /// The messages queued so far (the console shows them; the rest of the world reads the
    /// outbox).
    pub fn into_queued(self) -> Vec<NewMessage> {
        self.queued
    }

    pub async fn audit(&mut self, a: Audit<'_>) -> Result<i64> {
        let entry = NewAudit {
            actor_user_id: self.actor.user_id(),
            frontend: self.frontend.code().to_string(),
            subject_user_id: a.subject,
            entity: a.entity,
            entity_id: a.entity_id,
            field: a.field,
            old_value: a.old,
            new_value: a.new,
            reason: a.reason.map(str::to_string),
            reverts: self.reverting,
        };
        let now = self.now;
        let id = crate::store::audit::insert(self.c(), &entry, now).await?;
        self.last_audit = Some(id);
        Ok(id)
    }

    /// Queues an email to `user` (never to a deactivated one). `key` makes it idempotent.
    pub async fn email(
        &mut self,
        user: &User,
        kind: &'static str,
        key: String,
        m: Mail,
    ) -> Result<()> {
        self.email_with(user, kind, key, m, &[]).await
    }

    /// [`Work::email`] with `files` attached (a session's calendar invitation).
    pub async fn email_with(
        &mut self,
        user: &User,
        kind: &'static str,
        key: String,
        m: Mail,
        files: &[Attachment],
    ) -> Result<()> {
        let mut n = Notices::default();
        n.email(user, kind, key, m);
        match n.messages.pop() {
            Some(msg) => self.queue(msg, files).await,
            None => Ok(()),
        }
    }

    /// Queues a chat message to every chat account `user` has linked (none linked: none sent).
    pub async fn chat(
        &mut self,
        user: &User,
        kind: &'static str,
        key: &str,
        text: String,
        buttons: Vec<Button>,
    ) -> Result<()> {
        self.chat_with(user, kind, key, text, buttons, &[]).await
    }

    /// [`Work::chat`] with `files` sent along (a session's calendar invitation).
    pub async fn chat_with(
        &mut self,
        user: &User,
        kind: &'static str,
        key: &str,
        text: String,
        buttons: Vec<Button>,
        files: &[Attachment],
    ) -> Result<()> {
        if user.status.is_deactivated() {
            return Ok(());
        }
        let links = links::links_of_user(self.c(), user.id).await?;
        let mut n = Notices::default();
        n.chat(user, &links, kind, key, text, buttons);
        for msg in n.messages {
            self.queue(msg, files).await?;
        }
        Ok(())
    }

    /// Queues gathered messages together (a timer's batch): a statement per few thousand
    /// rows instead of one each, in the order they were gathered.
    pub async fn send(&mut self, notices: Notices) -> Result<()> {
        let now = self.now;
        let holds = self.holds(&notices.messages, &notices.hold_limits).await?;
        let new = outbox::insert_many_held(self.c(), &notices.messages, &holds, now).await?;
        for (msg, new) in notices.messages.into_iter().zip(new) {
            if new {
                self.queued.push(msg);
            }
        }
        Ok(())
    }

    async fn queue(&mut self, msg: NewMessage, files: &[Attachment]) -> Result<()> {
        let now = self.now;
        let hold = self
            .holds(std::slice::from_ref(&msg), &[None])
            .await?
            .pop()
            .flatten();
        if outbox::insert_held_with(self.c(), &msg, hold, files, now)
            .await?
            .is_some()
        {
            self.queued.push(msg);
        }
        Ok(())
    }

    /// docs/domain.md#quiet-hours: when each of `messages` may be delivered — None: at once;
    /// for a reminder or nudge written while its recipient's quiet hours hold, their end, unless
    /// that is at or after its `limits` entry (what it reminds of). One read of the recipients'
    /// settings, none when no message is of a kind that waits.
    async fn holds(
        &mut self,
        messages: &[NewMessage],
        limits: &[Option<DateTime<Utc>>],
    ) -> Result<Vec<Option<DateTime<Utc>>>> {
        let mut users: Vec<i64> = messages
            .iter()
            .filter(|m| quiet::waits(m.kind))
            .filter_map(|m| m.recipient_user_id)
            .collect();
        if users.is_empty() {
            return Ok(vec![None; messages.len()]);
        }
        users.sort_unstable();
        users.dedup();
        let settings = crate::store::users::quiet_of(self.c(), &users).await?;
        let defaults = self.program_defaults;
        let now = self.now;
        Ok(messages
            .iter()
            .enumerate()
            .map(|(i, m)| {
                let s = m
                    .recipient_user_id
                    .filter(|_| quiet::waits(m.kind))
                    .and_then(|id| settings.get(&id))?;
                let (hours, tz) = quiet_window(s, defaults);
                hours.release_before(now, tz, limits.get(i).copied().flatten())
            })
            .collect())
    }
}

/// The quiet hours and time zone that hold for one person (docs/domain.md#quiet-hours), from
/// their settings as stored: their own, else their program's, else `defaults` (the settings of
/// a persona without a program). The one reading of them: the outbox's holds, `/me` and
/// `/upcoming` all call it.
pub fn quiet_window(s: &QuietOf, defaults: &ProgramSettings) -> (quiet::QuietHours, chrono_tz::Tz) {
    quiet::of_person(
        [s.hours.as_deref(), s.program_hours.as_deref()],
        [s.timezone.as_deref(), s.program_timezone.as_deref()],
        (defaults.quiet_hours, defaults.timezone),
    )
}

/// Messages gathered to be queued together with [`Work::send`]: the rows [`Work::email`] and
/// [`Work::chat`] write, built by the same rules (nothing for a deactivated user; one chat row
/// per linked account, keyed `{key}:{provider}:{account}`), with the chat accounts passed in
/// rather than read one person at a time.
#[derive(Debug, Default)]
pub struct Notices {
    messages: Vec<NewMessage>,
    /// Per message: the time past which quiet hours may not hold it ([`Notices::not_held_past`]).
    hold_limits: Vec<Option<DateTime<Utc>>>,
}

impl Notices {
    /// How many messages are gathered so far: a mark for [`Notices::not_held_past`].
    pub fn len(&self) -> usize {
        self.messages.len()
    }

    pub fn is_empty(&self) -> bool {
        self.messages.is_empty()
    }

    /// The messages gathered since `mark` remind of something at `at` (a session's start):
    /// quiet hours that would hold them until `at` or later do not hold them at all
    /// (docs/domain.md#quiet-hours) — a reminder after the event is no reminder.
    pub fn not_held_past(&mut self, mark: usize, at: DateTime<Utc>) {
        for limit in self.hold_limits.iter_mut().skip(mark) {
            *limit = Some(at);
        }
    }

    fn push(&mut self, m: NewMessage) {
        self.messages.push(m);
        self.hold_limits.push(None);
    }

    pub fn email(&mut self, user: &User, kind: &'static str, key: String, m: Mail) {
        if user.status.is_deactivated() {
            return;
        }
        self.push(NewMessage {
            channel: outbox::EMAIL.to_string(),
            kind,
            recipient_user_id: Some(user.id),
            recipient: user.email.clone(),
            subject: m.subject,
            body_text: m.text,
            body_html: Some(m.html),
            buttons: Vec::new(),
            idempotency_key: key,
        });
    }

    /// A chat message to each of `links`, `user`'s chat accounts.
    pub fn chat(
        &mut self,
        user: &User,
        links: &[links::ChatLink],
        kind: &'static str,
        key: &str,
        text: String,
        buttons: Vec<Button>,
    ) {
        if user.status.is_deactivated() {
            return;
        }
        for link in links {
            self.push(NewMessage {
                channel: outbox::chat_channel(&link.provider),
                kind,
                recipient_user_id: Some(user.id),
                recipient: link.account_id.clone(),
                subject: String::new(),
                body_text: text.clone(),
                body_html: None,
                buttons: buttons.clone(),
                idempotency_key: format!("{key}:{}:{}", link.provider, link.account_id),
            });
        }
    }
}
