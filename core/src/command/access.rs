//! Who is asking and what they may do: the actor (user and staff roles) loaded once per
//! command, their audience for the permission table, their scope per capability, and the
//! refusal a command gets when the table says no.

use sqlx::AnyConnection;

use super::caller::{Caller, Who};
use super::spec::{Audience, CommandSpec, Refusal, refusal};
use crate::error::{Error, Result};
use crate::roles::{Capability, PersonaRole, StaffRole, role_has};
use crate::status::{BotAccess, PersonaStatus, bot_access};
use crate::store::staff::Grant;
use crate::store::users::User;
use crate::store::{self, links};

/// The person asking (if linked) and their staff roles: what the permission table and every
/// scope question are answered from.
pub struct Actor {
    pub user: Option<User>,
    pub grants: Vec<Grant>,
    roles: Vec<StaffRole>,
    /// The roles of their active personas (for what `/help` lists).
    persona_roles: Vec<PersonaRole>,
    /// What their statuses let them do with the bot (None: not linked).
    pub access: Option<BotAccess>,
}

impl Actor {
    /// Who is asking, as the permission table sees them: the one place it is worked out.
    pub fn audience(&self) -> Audience<'_> {
        Audience {
            linked: self.user.is_some(),
            access: self.access,
            staff_roles: &self.roles,
            persona_roles: &self.persona_roles,
        }
    }

    /// Whether one of the actor's roles holds `cap` (in some program or everywhere).
    pub fn holds(&self, cap: Capability) -> bool {
        self.grants.iter().any(|g| role_has(g.role, cap))
    }

    pub(crate) async fn load(c: &mut AnyConnection, caller: &Caller) -> Result<Self> {
        let user_id = match &caller.who {
            Who::User(id) => Some(*id),
            Who::Account {
                provider,
                account_id,
                ..
            } => links::link_of_account(c, provider, account_id)
                .await?
                .map(|l| l.user_id),
            Who::System => None,
        };
        let user = match user_id {
            Some(id) => store::users::user(c, id).await?,
            None => None,
        };
        let (grants, access, mut persona_roles) = match &user {
            Some(u) => {
                let personas = store::users::personas_of(c, u.id).await?;
                let active: Vec<_> = personas
                    .iter()
                    .filter(|p| p.status == PersonaStatus::Active)
                    .collect();
                (
                    store::staff::grants_of(c, u.id).await?,
                    Some(bot_access(u.status, active.iter().map(|p| p.match_status))),
                    active.iter().map(|p| p.role).collect::<Vec<_>>(),
                )
            }
            None => (Vec::new(), None, Vec::new()),
        };
        persona_roles.dedup();
        let roles = grants.iter().map(|g| g.role).collect();
        Ok(Self {
            user,
            grants,
            roles,
            persona_roles,
            access,
        })
    }

    fn grants_with(&self, cap: Capability) -> impl Iterator<Item = &Grant> {
        self.grants.iter().filter(move |g| role_has(g.role, cap))
    }

    /// True when the actor holds `cap` everywhere (a super admin).
    pub fn is_global(&self, cap: Capability) -> bool {
        self.grants_with(cap).any(|g| g.role.is_global())
    }

    /// The programs where the actor holds `cap`; None = all of them.
    pub fn programs_for(&self, cap: Capability) -> Option<Vec<i64>> {
        if self.is_global(cap) {
            return None;
        }
        Some(self.grants_with(cap).filter_map(|g| g.program_id).collect())
    }

    /// The organizations of those programs (for people not yet assigned to a program).
    pub fn orgs_for(&self, cap: Capability) -> Vec<i64> {
        let mut orgs: Vec<i64> = self.grants_with(cap).filter_map(|g| g.org_id).collect();
        orgs.sort_unstable();
        orgs.dedup();
        orgs
    }
}

/// Who is asking, when the permission table lets them run `spec`; otherwise the refusal.
pub(crate) async fn allowed(
    c: &mut sqlx::AnyConnection,
    caller: &Caller,
    spec: &CommandSpec,
) -> Result<Actor> {
    let actor = Actor::load(c, caller).await?;
    match refusal(spec, actor.audience()) {
        Some(r) => Err(refusal_error(spec.name, r, &actor)),
        None => Ok(actor),
    }
}

fn refusal_error(command: &str, r: Refusal, actor: &Actor) -> Error {
    match r {
        Refusal::Deactivated => Error::Deactivated,
        Refusal::NotLinked => Error::forbidden(format!(
            "/{command} needs a linked account: send /link CODE with the code from your welcome email (ask your program manager if you have none)"
        )),
        Refusal::MatchClosed => Error::forbidden(format!(
            "/{command} is closed to you: your match is closed and you are not coming back for a new one, so the bot shows you your status only (/me). If you are coming back, ask your program manager"
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
