//! What a handler works with: the domain's unit of work ([`Work`]: transaction, clock, audit
//! log, outbox) plus who is asking and their scope — and the lookups every command shares,
//! finding people and programs within that scope.

use std::ops::{Deref, DerefMut};

use super::access::Actor;
use super::args::Invocation;
use super::caller::Caller;
use super::spec::CommandSpec;
use crate::domain::{self, Work};
use crate::error::{Error, Result};
use crate::reply::{echo, listed};
use crate::roles::Capability;
use crate::store::orgs::{Organization, Program};
use crate::store::users::{Persona, User};
use crate::store::{self, links};
use crate::values::{Email, Phone};

/// The longest text that can name a person: an email address can be 254 characters (RFC 5321),
/// longer than any name (200), external ID (100) or phone, so no one stored is out of reach.
/// A longer reference is refused before any SQL (on SQLite a 100 KB one made the name search's
/// LIKE pattern "too complex").
pub const MAX_PERSON_REFERENCE: usize = 254;

/// A command's context: the unit of work it changes things in, and who asks. It dereferences
/// to the [`Work`], so a handler hands itself to a domain workflow as it is.
pub struct Ctx<'a> {
    work: Work<'a>,
    pub actor: Actor,
    pub caller: Caller,
    /// Every command there is (what `/help` lists): handed in by the engine, which reads the
    /// registry, so the handlers need not import the registry that lists them.
    pub commands: &'static [&'static CommandSpec],
    /// The command as it was invoked: a list's page buttons run it again with another `page:`
    /// (`command::screen`).
    pub invocation: Option<Invocation>,
}

impl<'a> Deref for Ctx<'a> {
    type Target = Work<'a>;
    fn deref(&self) -> &Work<'a> {
        &self.work
    }
}

impl DerefMut for Ctx<'_> {
    fn deref_mut(&mut self) -> &mut Self::Target {
        &mut self.work
    }
}

impl<'a> Ctx<'a> {
    pub(crate) fn new(
        work: Work<'a>,
        actor: Actor,
        caller: Caller,
        commands: &'static [&'static CommandSpec],
    ) -> Self {
        Self {
            work,
            actor,
            caller,
            commands,
            invocation: None,
        }
    }

    /// The context of a command run from `inv`.
    pub(crate) fn invoked(mut self, inv: &Invocation) -> Self {
        let mut inv = inv.clone();
        // The files came in with the command; its page buttons do not carry them.
        inv.attachments = Vec::new();
        self.invocation = Some(inv);
        self
    }

    /// The invocation this command came from (an internal error when a handler that pages is
    /// run without one: every command run by the engine has it).
    pub fn invocation(&self) -> Result<&Invocation> {
        self.invocation
            .as_ref()
            .ok_or_else(|| Error::Internal("a list was run without its invocation".into()))
    }

    pub(crate) fn into_work(self) -> Work<'a> {
        self.work
    }

    /// The linked user running the command (the registry has already made sure there is one
    /// for every command that is not open to everybody).
    pub fn me(&self) -> Result<&User> {
        self.actor
            .user
            .as_ref()
            .ok_or_else(|| Error::forbidden("this needs a linked account: send /link CODE first"))
    }

    pub fn actor_id(&self) -> Option<i64> {
        self.actor.user.as_ref().map(|u| u.id)
    }

    // ---- scope ----------------------------------------------------------------------------

    pub fn require_program(&self, cap: Capability, program: &Program) -> Result<()> {
        match self.actor.programs_for(cap) {
            None => Ok(()),
            Some(ids) if ids.contains(&program.id) => Ok(()),
            Some(_) => Err(Error::forbidden(format!(
                "{} is not one of your programs: ask a super admin or that program's manager",
                program.full_name()
            ))),
        }
    }

    /// Whether `user` is within the actor's reach for `cap`: a persona or a staff role in one
    /// of the actor's programs, or not assigned to any program yet in one of their organizations.
    pub async fn in_scope(&mut self, cap: Capability, user: &User) -> Result<bool> {
        match self.reach(cap) {
            None => Ok(true),
            Some(reach) => store::users::within_reach(self.c(), user.id, &reach).await,
        }
    }

    /// Whom the actor reaches with `cap` (docs/domain.md#scope), for lists that filter in
    /// SQL; None: everyone (they hold `cap` everywhere).
    pub fn reach(&self, cap: Capability) -> Option<store::users::Reach> {
        let programs = self.actor.programs_for(cap)?;
        Some(store::users::Reach {
            actor: self.actor_id(),
            programs,
            orgs: self.actor.orgs_for(cap),
        })
    }

    // ---- finding things -------------------------------------------------------------------

    /// Finds one person from what staff typed (docs/domain.md#person-references): `#id`, email,
    /// phone, external ID, a chat mention, or an unambiguous name — among the people in the actor's
    /// scope for `cap`.
    pub async fn find_user(&mut self, reference: &str, cap: Capability) -> Result<User> {
        let r = reference.trim();
        let length = r.chars().count();
        if length > MAX_PERSON_REFERENCE {
            return Err(Error::input(format!(
                "'{}' is {length} characters long, and no email, phone, ID or name is longer than {MAX_PERSON_REFERENCE}: use the person's email or #id (see /user_list)",
                echo(r)
            )));
        }
        let mut candidates: Vec<User> = Vec::new();
        if let Some(id) = r.strip_prefix('#').and_then(|n| n.parse::<i64>().ok()) {
            candidates.extend(store::users::user(self.c(), id).await?);
        } else if r.contains('@') && !r.starts_with('@') && !r.starts_with("<@") {
            let email = Email::parse(r)?;
            candidates.extend(store::users::by_email(self.c(), email.as_str()).await?);
        } else if let Some(handle) = mention(r) {
            for id in links::user_by_handle(self.c(), &handle).await? {
                candidates.extend(store::users::user(self.c(), id).await?);
            }
        } else {
            candidates.extend(store::users::by_external_id(self.c(), r).await?);
            if candidates.is_empty() && looks_like_phone(r) {
                let region = self.settings().phone_region().map(str::to_string);
                if let Ok(phone) = Phone::parse(r, region.as_deref()) {
                    candidates.extend(store::users::by_phone(self.c(), phone.as_str()).await?);
                }
            }
            if candidates.is_empty() && !looks_like_phone(r) {
                candidates = store::users::by_name(self.c(), r).await?;
            }
        }
        let mut visible = Vec::new();
        for u in candidates {
            if self.in_scope(cap, &u).await? {
                visible.push(u);
            }
        }
        match visible.len() {
            0 => Err(Error::not_found(format!(
                "no one{} matches '{}': check the spelling, or use their email, phone or #id (see /user_list)",
                if self.actor.is_global(cap) {
                    ""
                } else {
                    " in your programs"
                },
                echo(r)
            ))),
            1 => Ok(visible.remove(0)),
            _ => Err(Error::Ambiguous(format!(
                "'{}' matches {} people: {}. Use the email or #id instead",
                echo(r),
                visible.len(),
                some_of(
                    &visible
                        .iter()
                        .map(|u| format!("{} (#{})", u.label(), u.id))
                        .collect::<Vec<_>>()
                )
            ))),
        }
    }

    /// Finds a program by `#id`, `Org/Program`, or a name that is unique among the actor's programs.
    pub async fn find_program(&mut self, reference: &str, cap: Capability) -> Result<Program> {
        let r = reference.trim();
        let all = store::orgs::list_programs(self.c()).await?;
        let scope = self.actor.programs_for(cap);
        let visible = |p: &&Program| scope.as_ref().is_none_or(|ids| ids.contains(&p.id));
        let matching: Vec<&Program> =
            if let Some(id) = r.strip_prefix('#').and_then(|n| n.parse::<i64>().ok()) {
                all.iter().filter(|p| p.id == id).collect()
            } else if let Some((org, name)) = r.split_once('/') {
                all.iter()
                    .filter(|p| {
                        p.org_name.eq_ignore_ascii_case(org.trim())
                            && p.name.eq_ignore_ascii_case(name.trim())
                    })
                    .collect()
            } else {
                all.iter()
                    .filter(|p| p.name.eq_ignore_ascii_case(r))
                    .collect()
            };
        let mine: Vec<&Program> = matching.iter().copied().filter(visible).collect();
        match (mine.len(), matching.len()) {
            (1, _) => Ok(mine[0].clone()),
            (0, 0) => {
                let names: Vec<String> =
                    all.iter().filter(visible).map(Program::full_name).collect();
                Err(Error::not_found(format!(
                    "there is no program '{}': {}",
                    echo(r),
                    if names.is_empty() {
                        "none exists yet — a super admin creates one with /program_add".to_string()
                    } else {
                        format!("yours are {}", listed(&names))
                    }
                )))
            }
            (0, _) => Err(Error::forbidden(format!(
                "program '{}' is not one of yours: ask a super admin or its program manager",
                echo(r)
            ))),
            _ => Err(Error::Ambiguous(format!(
                "'{}' names {} programs: {}. Write it as Org/Program",
                echo(r),
                mine.len(),
                some_of(&mine.iter().map(|p| p.full_name()).collect::<Vec<_>>())
            ))),
        }
    }

    pub async fn find_org(&mut self, reference: &str) -> Result<Organization> {
        let r = reference.trim();
        if let Some(org) = store::orgs::org_by_name(self.c(), r).await? {
            return Ok(org);
        }
        let names: Vec<String> = store::orgs::list_orgs(self.c())
            .await?
            .into_iter()
            .map(|o| o.name)
            .collect();
        Err(Error::not_found(format!(
            "there is no organization '{}': {}",
            echo(r),
            if names.is_empty() {
                "create one with /org_add".to_string()
            } else {
                format!("there are {}", listed(&names))
            }
        )))
    }

    /// One persona of `user`: the one named by `persona:#id`, or the only one `wanted` accepts.
    pub async fn pick_persona(
        &mut self,
        user: &User,
        persona_arg: Option<&str>,
        wanted: impl Fn(&Persona) -> bool,
        what: &str,
    ) -> Result<Persona> {
        let personas = store::users::personas_of(self.c(), user.id).await?;
        if let Some(raw) = persona_arg {
            let id: i64 = raw.trim().trim_start_matches('#').parse().map_err(|_| {
                Error::input(format!(
                    "persona:{} is not a persona number: use persona:#id from /user_show",
                    echo(raw)
                ))
            })?;
            return personas.into_iter().find(|p| p.id == id).ok_or_else(|| {
                Error::not_found(format!(
                    "{} has no persona #{id}: see /user_show {}",
                    user.full_name, user.email
                ))
            });
        }
        let mut fitting: Vec<Persona> = personas.iter().filter(|p| wanted(p)).cloned().collect();
        match fitting.len() {
            1 => Ok(fitting.remove(0)),
            0 => Err(Error::conflict(format!(
                "{} has no persona that {what}{}",
                user.full_name,
                if personas.is_empty() {
                    " (they have no persona: add one with /persona_new)".to_string()
                } else {
                    String::new()
                }
            ))),
            _ => {
                let mut listed = Vec::new();
                for p in &fitting {
                    listed.push(self.describe_persona(p).await?);
                }
                Err(Error::Ambiguous(format!(
                    "{} has {} personas that {what}: {}. Add persona:#id",
                    user.full_name,
                    fitting.len(),
                    some_of(&listed)
                )))
            }
        }
    }

    /// "#7 mentee in City Schools/Spring 2027, Active, RTBM"
    pub async fn describe_persona(&mut self, p: &Persona) -> Result<String> {
        domain::people::describe_persona(self, p).await
    }
}

/// How many candidates an ambiguous reference lists (docs/domain.md#person-references): enough
/// to recognise the one meant, never a screenful.
pub const CANDIDATES: usize = 5;

/// The first [`CANDIDATES`] of `all`, and how many more there are.
fn some_of(all: &[String]) -> String {
    let shown = all[..all.len().min(CANDIDATES)].join("; ");
    match all.len().saturating_sub(CANDIDATES) {
        0 => shown,
        more => format!("{shown}; and {more} more"),
    }
}

/// `@handle`, or Discord's `<@123>` / `<@!123>`.
fn mention(r: &str) -> Option<String> {
    if let Some(inner) = r.strip_prefix("<@").and_then(|s| s.strip_suffix('>')) {
        return Some(inner.trim_start_matches('!').to_string());
    }
    r.strip_prefix('@')
        .filter(|h| !h.is_empty())
        .map(str::to_string)
}

fn looks_like_phone(r: &str) -> bool {
    let digits = r.chars().filter(char::is_ascii_digit).count();
    digits >= 6
        && r.chars()
            .all(|c| c.is_ascii_digit() || " +-().".contains(c))
}
