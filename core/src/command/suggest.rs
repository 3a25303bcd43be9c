//! Suggestions for an argument being typed (Discord's autocomplete): people, programs,
//! organizations and offers whose label or value contains what was typed so far, taken only from
//! what the caller could list anyway — staff see the people and programs of their scope for the
//! command's capability, a member sees their own programs and the offers made to them. A caller
//! the registry would refuse (unlinked, deactivated, lacking the role) gets no suggestions.
//!
//! Nothing is written: suggestions run on a plain connection, outside any transaction.

use super::access::Actor;
use super::caller::Caller;
use super::engine::Engine;
use super::registry::find;
use super::spec::{Access, ArgKind, ArgSpec, CommandSpec, refusal};
use crate::error::Result;
use crate::reply::clip;
use crate::roles::{Capability, PersonaRole};
use crate::store::{self, users::UserFilter};

/// Discord shows at most 25 suggestions.
pub const MAX_SUGGESTIONS: usize = 25;
/// Discord's limit on a suggestion's label and value, in characters.
pub const MAX_SUGGESTION_CHARS: usize = 100;
/// How many people are read to filter by what was typed.
const PEOPLE_READ: i64 = 5000;

/// What an argument suggests, if anything.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Suggests {
    People,
    Programs,
    Organizations,
    /// The offers waiting for the caller's answer (the `offer` of `/accept` and `/decline`).
    Offers,
}

/// Whether (and what) a command's argument suggests while it is typed.
pub fn suggests(_spec: &CommandSpec, arg: &ArgSpec) -> Option<Suggests> {
    match arg.kind {
        ArgKind::Person => Some(Suggests::People),
        ArgKind::Program => Some(Suggests::Programs),
        ArgKind::Organization => Some(Suggests::Organizations),
        ArgKind::Offer => Some(Suggests::Offers),
        _ => None,
    }
}

/// One suggestion: what the person sees, and the value the argument gets.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Suggestion {
    pub label: String,
    pub value: String,
}

impl Engine {
    /// Up to [`MAX_SUGGESTIONS`] values for `arg` of `command`, containing `partial` (case
    /// ignored) in their label or value. Unknown commands or arguments, and callers the command
    /// is not for, get none.
    pub async fn suggest(
        &self,
        caller: &Caller,
        command: &str,
        arg: &str,
        partial: &str,
    ) -> Result<Vec<Suggestion>> {
        let Some(spec) = find(command) else {
            return Ok(Vec::new());
        };
        let Some(what) = spec.arg(arg).and_then(|a| suggests(spec, a)) else {
            return Ok(Vec::new());
        };
        let mut c = self.db.pool().acquire().await?;
        let actor = Actor::load(&mut c, caller).await?;
        if refusal(spec, actor.audience()).is_some() {
            return Ok(Vec::new());
        }
        let Some(me) = actor.user.clone() else {
            return Ok(Vec::new());
        };
        let staff_cap = match spec.access {
            Access::Staff(cap) => Some(cap),
            _ => None,
        };
        let mut all: Vec<Suggestion> = Vec::new();
        match (what, staff_cap) {
            (Suggests::People, Some(cap)) => {
                let f = UserFilter {
                    program_ids: actor.programs_for(cap),
                    org_ids_for_unassigned: actor.orgs_for(cap),
                    limit: PEOPLE_READ,
                    ..UserFilter::default()
                };
                for u in store::users::list_users(&mut c, &f).await? {
                    all.push(Suggestion {
                        label: u.label(),
                        value: u.email.clone(),
                    });
                }
            }
            // A member names people from their own lists (/mentors, /me), not from a directory.
            (Suggests::People, None) => {}
            (Suggests::Programs, cap) => {
                let programs = store::orgs::list_programs(&mut c).await?;
                let mine: Option<Vec<i64>> = match cap {
                    Some(cap) => actor.programs_for(cap),
                    None => Some(
                        store::users::personas_of(&mut c, me.id)
                            .await?
                            .iter()
                            .filter_map(|p| p.program_id)
                            .collect(),
                    ),
                };
                for p in programs {
                    if mine.as_ref().is_none_or(|ids| ids.contains(&p.id)) {
                        all.push(Suggestion {
                            label: p.full_name(),
                            value: p.full_name(),
                        });
                    }
                }
            }
            (Suggests::Organizations, cap) => {
                let cap = cap.unwrap_or(Capability::ManageOrgs);
                let global = actor.is_global(cap);
                let mine = actor.orgs_for(cap);
                for o in store::orgs::list_orgs(&mut c).await? {
                    if global || mine.contains(&o.id) {
                        all.push(Suggestion {
                            label: o.name.clone(),
                            value: o.name,
                        });
                    }
                }
            }
            (Suggests::Offers, _) => {
                for p in store::users::personas_of(&mut c, me.id).await? {
                    if p.role != PersonaRole::Mentor {
                        continue;
                    }
                    for o in store::offers::pending_for_mentor(&mut c, p.id).await? {
                        let from = match store::users::persona(&mut c, o.mentee_persona_id).await? {
                            Some(mentee) => store::users::user(&mut c, mentee.user_id)
                                .await?
                                .map(|u| u.full_name)
                                .unwrap_or_else(|| "a mentee".into()),
                            None => "a mentee".into(),
                        };
                        all.push(Suggestion {
                            label: format!("#{} from {from}", o.id),
                            value: o.id.to_string(),
                        });
                    }
                }
            }
        }
        let needle = partial.trim().to_lowercase();
        Ok(all
            .into_iter()
            .filter(|s| {
                needle.is_empty()
                    || s.label.to_lowercase().contains(&needle)
                    || s.value.to_lowercase().contains(&needle)
            })
            .take(MAX_SUGGESTIONS)
            .map(|s| Suggestion {
                label: clip(&s.label, MAX_SUGGESTION_CHARS),
                value: clip(&s.value, MAX_SUGGESTION_CHARS),
            })
            .collect())
    }
}
