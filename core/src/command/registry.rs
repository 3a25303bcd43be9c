//! The command registry: every declared command (`command::declare`) with its handler. The
//! text parser, `/help`, the permission check and the chat menus (Telegram's `setMyCommands`,
//! Discord's application commands) all read [`COMMANDS`]; the engine runs a command through
//! [`dispatch`].

use super::args::Invocation;
use super::ctx::Ctx;
use super::declare::Command;
use super::handlers::{
    availability, basics, deliveries, edit, feedback, offers, orgs, overview, pairing, people,
    questionnaire, ranking, removal, screening, sessions, statuses, upcoming,
};
use super::import;
use super::spec::{Audience, CommandSpec, listed};
use crate::error::{Error, Result};
use crate::reply::Reply;
use crate::roles::{PersonaRole, StaffRole};
use crate::status::BotAccess;

/// Lists the commands, in the order `/help` shows them, with the function that runs each.
macro_rules! registry {
    ($( $ty:path => $handler:path ),* $(,)?) => {
        /// Every command, in the order `/help` and the menus show them.
        pub static COMMANDS: &[&CommandSpec] = &[ $( &<$ty as Command>::SPEC ),* ];

        /// Runs the handler of `inv`'s command with its typed arguments.
        pub(crate) async fn dispatch(ctx: &mut Ctx<'_>, inv: &Invocation) -> Result<Reply> {
            let name = inv.spec.name;
            $(
                if name == <$ty as Command>::SPEC.name {
                    return $handler(ctx, <$ty as Command>::from_invocation(inv)?).await;
                }
            )*
            Err(Error::Internal(format!("/{name} is not in the registry")))
        }
    };
}

registry! {
    basics::Start => basics::start,
    basics::Help => basics::help,
    basics::Link => basics::link,
    basics::Me => basics::me,
    orgs::OrgAdd => orgs::org_add,
    orgs::ProgramAdd => orgs::program_add,
    orgs::ProgramSet => orgs::program_set,
    orgs::StaffAdd => orgs::staff_add,
    people::UserAdd => people::user_add,
    import::UserImport => import::in_one_transaction,
    people::UserShow => people::user_show,
    edit::UserEdit => edit::user_edit,
    people::UserList => people::user_list,
    statuses::Status => statuses::status,
    statuses::Deactivate => statuses::deactivate,
    statuses::Reactivate => statuses::reactivate,
    removal::Delete => removal::delete,
    people::PersonaNew => people::persona_new,
    statuses::SetPersonaStatus => statuses::persona_status,
    people::ProgramAssign => people::program_assign,
    statuses::SetMatchStatus => statuses::match_status,
    people::Inactive => people::inactive,
    edit::Nudge => edit::nudge,
    overview::Overview => overview::overview,
    upcoming::Upcoming => upcoming::upcoming,
    screening::Screening => screening::screening,
    statuses::History => statuses::history,
    statuses::Revert => statuses::revert,
    removal::Export => removal::export,
    questionnaire::Apply => questionnaire::apply,
    offers::Mentors => offers::mentors,
    offers::Suggest => offers::suggest,
    offers::Choose => offers::choose,
    ranking::Rank => ranking::rank,
    feedback::Feedback => feedback::feedback,
    offers::Accept => offers::accept,
    offers::Decline => offers::decline,
    availability::Pause => availability::pause,
    availability::Resume => availability::resume,
    availability::SetCapacity => availability::capacity,
    offers::Offers => offers::offers,
    pairing::Assign => pairing::assign,
    pairing::Unassign => pairing::unassign,
    pairing::MatchReopen => pairing::match_reopen,
    pairing::Autopair => pairing::autopair,
    super::handlers::claim::Claim => super::handlers::claim::claim,
    sessions::SessionBook => sessions::session_book,
    sessions::Sessions => sessions::sessions,
    sessions::SessionCancel => sessions::session_cancel,
    deliveries::Deliveries => deliveries::deliveries,
}

pub fn find(name: &str) -> Option<&'static CommandSpec> {
    COMMANDS.iter().copied().find(|c| c.name == name)
}

/// The commands someone sees in `/help` and in the chat menus.
pub fn visible_to(who: Audience<'_>) -> Vec<&'static CommandSpec> {
    COMMANDS
        .iter()
        .copied()
        .filter(|c| listed(c, who))
        .collect()
}

/// Menus per audience for chat platforms: (audience name, commands). Participants by their
/// part (a mentee, a mentor); staff as staff taking no part themselves. A chat's own menu
/// (Telegram's, per chat) comes from `Engine::visible_commands`, for that person exactly.
pub fn menus() -> Vec<(&'static str, Vec<&'static CommandSpec>)> {
    let member = |roles: &'static [StaffRole], persona_roles: &'static [PersonaRole]| Audience {
        linked: true,
        access: Some(BotAccess::Full),
        staff_roles: roles,
        persona_roles,
    };
    let staff = |role: &'static [StaffRole]| visible_to(member(role, &[]));
    vec![
        ("unlinked", visible_to(Audience::default())),
        ("mentee", visible_to(member(&[], &[PersonaRole::Mentee]))),
        ("mentor", visible_to(member(&[], &[PersonaRole::Mentor]))),
        (
            "success_coordinator",
            staff(&[StaffRole::SuccessCoordinator]),
        ),
        ("program_manager", staff(&[StaffRole::ProgramManager])),
        ("super_admin", staff(&[StaffRole::SuperAdmin])),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::command::spec::ArgKind;

    #[test]
    fn names_are_unique_and_valid_on_every_platform() {
        for (i, c) in COMMANDS.iter().enumerate() {
            assert!(!c.name.is_empty() && c.name.len() <= 32);
            assert!(
                c.name
                    .chars()
                    .all(|ch| ch.is_ascii_lowercase() || ch == '_'),
                "{}",
                c.name
            );
            assert!(COMMANDS.iter().skip(i + 1).all(|o| o.name != c.name));
            assert!(!c.about.is_empty() && c.about.len() <= 100, "{}", c.name);
            assert!(c.example.starts_with(&format!("/{}", c.name)), "{}", c.name);
            // Positional arguments come first and required before optional, so order is unambiguous.
            let mut seen_optional = false;
            let mut seen_named = false;
            for a in c.args {
                if a.positional {
                    assert!(
                        !seen_named,
                        "{}: positional {} after a named one",
                        c.name, a.name
                    );
                    if a.required {
                        assert!(
                            !seen_optional,
                            "{}: required {} after an optional one",
                            c.name, a.name
                        );
                    } else {
                        seen_optional = true;
                    }
                } else {
                    seen_named = true;
                }
                assert!(
                    a.name
                        .chars()
                        .all(|ch| ch.is_ascii_lowercase() || ch == '_')
                );
            }
        }
    }

    #[test]
    fn only_reasons_and_answers_are_free_text_that_may_span_lines() {
        // Everything else is one line: a name with a line break in it would break every list
        // and message that shows it.
        for c in COMMANDS {
            for a in c.args {
                if a.kind == ArgKind::Text {
                    assert!(
                        matches!(a.name, "reason" | "answer" | "message"),
                        "/{} {}: free text? Make it ArgKind::Line unless it is prose",
                        c.name,
                        a.name
                    );
                }
            }
        }
        for (command, arg) in [("org_add", "name"), ("program_add", "name")] {
            assert_eq!(
                find(command).and_then(|c| c.arg(arg)).map(|a| a.kind),
                Some(ArgKind::Line),
                "/{command} {arg}"
            );
        }
    }

    #[test]
    fn unlinked_accounts_see_only_start_help_and_link() {
        let who = Audience::default();
        let names: Vec<_> = visible_to(who).iter().map(|c| c.name).collect();
        assert_eq!(names, ["start", "help", "link"]);
    }
}
