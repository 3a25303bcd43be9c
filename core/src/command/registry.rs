//! The command registry: every command declared once — name, description, typed arguments,
//! who may run it. The text parser, `/help`, the permission check and the chat menus
//! (Telegram's `setMyCommands`, Discord's application commands) are all built from it.

use crate::roles::{Capability, StaffRole, role_has};
use crate::status::{BotAccess, UserStatus};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CommandId {
    Start,
    Help,
    Link,
    Me,
    OrgAdd,
    ProgramAdd,
    ProgramSet,
    StaffAdd,
    UserAdd,
    UserImport,
    UserShow,
    UserList,
    Status,
    Deactivate,
    Reactivate,
    Delete,
    PersonaNew,
    PersonaStatus,
    ProgramAssign,
    MatchStatus,
    Inactive,
    History,
    Revert,
    Export,
    Apply,
    Mentors,
    Suggest,
    Choose,
    Accept,
    Decline,
    Offers,
    Assign,
    Unassign,
    MatchReopen,
    Autopair,
    SessionBook,
    Sessions,
    SessionCancel,
    Deliveries,
}

/// Who may run a command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone, even a chat account not linked to a user yet.
    Open,
    /// Any linked user whose status lets them use the bot; `during_application` also lets
    /// users in AI (Application Incomplete) run it.
    Member { during_application: bool },
    /// Staff whose role holds the capability (and, inside the command, whose programs cover it).
    Staff(Capability),
}

/// What an argument holds, so each front-end can offer the right input (Discord option
/// types, choices and autocomplete; button rows on Telegram).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArgKind {
    /// Free text, laid out as the person likes: reasons and answers. The one kind whose
    /// values keep line breaks and tabs (see `parse::check_value`).
    Text,
    /// Text on one line: the name of a new organization or program, a setting's value, a date,
    /// a question's key, a confirmation, a command's name. Front-ends offer it as they offer
    /// [`ArgKind::Text`]; the parser refuses a line break in it, so a name never spans lines.
    Line,
    /// A person: email, phone, external ID, `#id`, a chat mention, or an unambiguous name.
    Person,
    Email,
    Phone,
    Name,
    Program,
    Organization,
    Number,
    YesNo,
    Tags,
    Tag,
    Code,
    /// A file the person attaches (CSV import); text front-ends take a path.
    Attachment,
    Choice(&'static [&'static str]),
}

#[derive(Debug, Clone, Copy)]
pub struct ArgSpec {
    pub name: &'static str,
    pub about: &'static str,
    pub kind: ArgKind,
    pub required: bool,
    /// Positional arguments may be given in order without `name:`; the others only as `name:value`.
    pub positional: bool,
    /// The last positional argument may take every remaining word (a list of people).
    pub rest: bool,
}

#[derive(Debug)]
pub struct CommandSpec {
    pub id: CommandId,
    pub name: &'static str,
    pub about: &'static str,
    pub args: &'static [ArgSpec],
    pub access: Access,
    pub example: &'static str,
}

const fn arg(
    name: &'static str,
    kind: ArgKind,
    about: &'static str,
    required: bool,
    positional: bool,
    rest: bool,
) -> ArgSpec {
    ArgSpec {
        name,
        about,
        kind,
        required,
        positional,
        rest,
    }
}
const fn pos(name: &'static str, kind: ArgKind, about: &'static str) -> ArgSpec {
    arg(name, kind, about, true, true, false)
}
const fn opt_pos(name: &'static str, kind: ArgKind, about: &'static str) -> ArgSpec {
    arg(name, kind, about, false, true, false)
}
const fn opt(name: &'static str, kind: ArgKind, about: &'static str) -> ArgSpec {
    arg(name, kind, about, false, false, false)
}
/// Required, and only as `name:value`.
const fn req(name: &'static str, kind: ArgKind, about: &'static str) -> ArgSpec {
    arg(name, kind, about, true, false, false)
}
/// Required, positional, and takes every remaining word.
const fn rest(name: &'static str, kind: ArgKind, about: &'static str) -> ArgSpec {
    arg(name, kind, about, true, true, true)
}

pub const USER_STATUS_CODES: &[&str] = &["A", "AI", "SI", "IW", "IR", "ID"];
pub const INACTIVE_STATUS_CODES: &[&str] = &["IW", "IR", "ID"];
pub const MATCH_STATUS_CODES: &[&str] = &["N/A", "RTBM", "M", "C", "RS", "NM"];
pub const PERSONA_STATUS_CODES: &[&str] = &["active", "inactive"];
pub const PERSONA_ROLES: &[&str] = &["mentor", "mentee"];
pub const STAFF_ROLES: &[&str] = &["super_admin", "program_manager", "success_coordinator"];
pub const SORTS: &[&str] = &["first", "last", "activity"];
pub const FORMATS: &[&str] = &["csv", "json"];
pub const OFFER_STATES: &[&str] = &[
    "queued",
    "pending",
    "accepted",
    "declined",
    "expired",
    "withdrawn",
    "skipped",
    "cancelled",
];

use ArgKind as K;
use CommandId as Id;

const PERSON: ArgSpec = pos(
    "person",
    K::Person,
    "email, phone, external ID, #id, @mention or name",
);
const REASON: ArgSpec = opt("reason", K::Text, "why, for the audit log");
const CONFIRM: ArgSpec = opt(
    "confirm",
    K::Line,
    "confirmation (yes, or the code the bot gave)",
);
const PERSONA: ArgSpec = opt(
    "persona",
    K::Number,
    "which persona (#id) when the person has several",
);

pub static COMMANDS: &[CommandSpec] = &[
    CommandSpec {
        id: Id::Start,
        name: "start",
        about: "Say hello and see how to link your account",
        args: &[],
        access: Access::Open,
        example: "/start",
    },
    CommandSpec {
        id: Id::Help,
        name: "help",
        about: "List the commands you can use, or explain one",
        args: &[opt_pos("command", K::Line, "a command name")],
        access: Access::Open,
        example: "/help user_add",
    },
    CommandSpec {
        id: Id::Link,
        name: "link",
        about: "Link this chat account with the code from your welcome email",
        args: &[pos("code", K::Code, "the 8-character code")],
        access: Access::Open,
        example: "/link K7PQ2MZX",
    },
    CommandSpec {
        id: Id::Me,
        name: "me",
        about: "Your status, personas and roles",
        args: &[],
        access: Access::Member {
            during_application: true,
        },
        example: "/me",
    },
    CommandSpec {
        id: Id::OrgAdd,
        name: "org_add",
        about: "Create an organization",
        args: &[pos("name", K::Line, "the organization's name")],
        access: Access::Staff(Capability::ManageOrgs),
        example: "/org_add \"City Schools\"",
    },
    CommandSpec {
        id: Id::ProgramAdd,
        name: "program_add",
        about: "Create a program in an organization (settings start from config)",
        args: &[
            pos("org", K::Organization, "the organization"),
            pos("name", K::Line, "the program's name"),
        ],
        access: Access::Staff(Capability::ManageOrgs),
        example: "/program_add \"City Schools\" \"Spring 2027\"",
    },
    CommandSpec {
        id: Id::ProgramSet,
        name: "program_set",
        about: "Show or change a program setting",
        args: &[
            pos(
                "program",
                K::Program,
                "the program (Org/Program when names repeat)",
            ),
            opt_pos(
                "setting",
                K::Choice(&[
                    "max_choices",
                    "recommendations",
                    "offer_ttl",
                    "offer_reminder_before",
                    "inactivity_after",
                    "inactivity_repeat",
                    "flash_mentoring",
                    "timezone",
                ]),
                "the setting",
            ),
            opt_pos("value", K::Line, "the new value"),
        ],
        access: Access::Staff(Capability::ConfigurePrograms),
        example: "/program_set \"Spring 2027\" offer_ttl 48h",
    },
    CommandSpec {
        id: Id::StaffAdd,
        name: "staff_add",
        about: "Add a staff member (or give an existing user a staff role)",
        args: &[
            pos("name", K::Name, "full name, in quotes"),
            pos("email", K::Email, "email address"),
            pos("phone", K::Phone, "phone, international form"),
            pos(
                "role",
                K::Choice(STAFF_ROLES),
                "super_admin, program_manager or success_coordinator",
            ),
            opt(
                "program",
                K::Program,
                "the program (required for program_manager and success_coordinator)",
            ),
        ],
        access: Access::Staff(Capability::AddCoordinators),
        example: "/staff_add \"Rita Souza\" rita@example.org +5511987654321 program_manager program:\"Spring 2027\"",
    },
    CommandSpec {
        id: Id::UserAdd,
        name: "user_add",
        about: "Add a mentor or mentee; they get a welcome email with their link code",
        args: &[
            pos("name", K::Name, "full name, in quotes"),
            pos("email", K::Email, "email address"),
            pos("phone", K::Phone, "phone, international form"),
            pos("role", K::Choice(PERSONA_ROLES), "mentor or mentee"),
            opt(
                "program",
                K::Program,
                "assign to this program now (else unassigned)",
            ),
            opt(
                "org",
                K::Organization,
                "the organization, when no program is given",
            ),
            opt(
                "external_id",
                K::Line,
                "the program's own ID (defaults to the phone)",
            ),
            opt(
                "tags",
                K::Tags,
                "identifiers, like cohort=2026,lang=es (super admin)",
            ),
        ],
        access: Access::Staff(Capability::AddUsers),
        example: "/user_add \"Ana Lima\" ana@example.org +5511912345678 mentee program:\"Spring 2027\"",
    },
    CommandSpec {
        id: Id::UserImport,
        name: "user_import",
        about: "Add many users from a CSV file (name,email,phone,role,program,external_id,tags); all or nothing",
        args: &[pos("file", K::Attachment, "the CSV file")],
        access: Access::Staff(Capability::AddUsers),
        example: "/user_import file:people.csv",
    },
    CommandSpec {
        id: Id::UserShow,
        name: "user_show",
        about: "Show a person: statuses, personas, matches, tags, activity",
        args: &[PERSON],
        access: Access::Staff(Capability::ReadUsers),
        example: "/user_show ana@example.org",
    },
    CommandSpec {
        id: Id::UserList,
        name: "user_list",
        about: "List people, filtered and sorted",
        args: &[
            opt("program", K::Program, "only this program"),
            opt("role", K::Choice(PERSONA_ROLES), "mentor or mentee"),
            opt("status", K::Choice(USER_STATUS_CODES), "user status"),
            opt("tag", K::Tag, "an identifier, like cohort=2026"),
            opt(
                "unassigned",
                K::YesNo,
                "yes: only people with no program yet",
            ),
            opt(
                "inactive",
                K::YesNo,
                "yes: only people inactive past the program's threshold",
            ),
            opt(
                "sort",
                K::Choice(SORTS),
                "first (name), last (name) or activity",
            ),
            opt("limit", K::Number, "at most this many (default 50)"),
        ],
        access: Access::Staff(Capability::ReadUsers),
        example: "/user_list role:mentor sort:activity",
    },
    CommandSpec {
        id: Id::Status,
        name: "status",
        about: "Change a user's status (applies to all their personas)",
        args: &[
            PERSON,
            pos(
                "status",
                K::Choice(USER_STATUS_CODES),
                "A, AI, SI, IW, IR or ID",
            ),
            REASON,
            CONFIRM,
        ],
        access: Access::Staff(Capability::ChangeStatus),
        example: "/status ana@example.org A reason:\"screening passed\"",
    },
    CommandSpec {
        id: Id::Deactivate,
        name: "deactivate",
        about: "Deactivate a user at once (IW by default; IR or ID with status:)",
        args: &[
            PERSON,
            opt(
                "status",
                K::Choice(INACTIVE_STATUS_CODES),
                "IW (withdrew), IR (rejected) or ID (deleted by admin)",
            ),
            REASON,
            CONFIRM,
        ],
        access: Access::Staff(Capability::ChangeStatus),
        example: "/deactivate ana@example.org reason:\"moved away\"",
    },
    CommandSpec {
        id: Id::Reactivate,
        name: "reactivate",
        about: "Give a deactivated user back the status they had",
        args: &[PERSON, REASON],
        access: Access::Staff(Capability::ChangeStatus),
        example: "/reactivate ana@example.org",
    },
    CommandSpec {
        id: Id::Delete,
        name: "delete",
        about: "Permanently delete a user (two steps; you get an export first)",
        args: &[PERSON, CONFIRM],
        access: Access::Staff(Capability::DeleteUsers),
        example: "/delete ana@example.org",
    },
    CommandSpec {
        id: Id::PersonaNew,
        name: "persona_new",
        about: "Give a user a new persona (to come back for a new match)",
        args: &[
            PERSON,
            pos("role", K::Choice(PERSONA_ROLES), "mentor or mentee"),
            opt("program", K::Program, "the program"),
        ],
        access: Access::Staff(Capability::AddUsers),
        example: "/persona_new ana@example.org mentor program:\"Fall 2027\"",
    },
    CommandSpec {
        id: Id::PersonaStatus,
        name: "persona_status",
        about: "Set a persona Active or Inactive (Inactive = made in error)",
        args: &[
            PERSON,
            pos(
                "status",
                K::Choice(PERSONA_STATUS_CODES),
                "active or inactive",
            ),
            PERSONA,
            REASON,
        ],
        access: Access::Staff(Capability::ChangeStatus),
        example: "/persona_status ana@example.org inactive persona:#7",
    },
    CommandSpec {
        id: Id::ProgramAssign,
        name: "program_assign",
        about: "Assign an unassigned persona to a program",
        args: &[PERSON, pos("program", K::Program, "the program"), PERSONA],
        access: Access::Staff(Capability::AddUsers),
        example: "/program_assign ana@example.org \"Spring 2027\"",
    },
    CommandSpec {
        id: Id::MatchStatus,
        name: "match_status",
        about: "Change a persona's match status (N/A, RTBM, M, C, RS, NM)",
        args: &[
            PERSON,
            pos(
                "status",
                K::Choice(MATCH_STATUS_CODES),
                "the new match status",
            ),
            PERSONA,
            REASON,
        ],
        access: Access::Staff(Capability::ChangeStatus),
        example: "/match_status ana@example.org RTBM",
    },
    CommandSpec {
        id: Id::Inactive,
        name: "inactive",
        about: "People who can use the bot but have been inactive too long, longest first",
        args: &[
            opt("program", K::Program, "only this program"),
            opt(
                "days",
                K::Number,
                "inactive for at least this many days (default: the program's setting)",
            ),
        ],
        access: Access::Staff(Capability::ReadUsers),
        example: "/inactive program:\"Spring 2027\"",
    },
    CommandSpec {
        id: Id::History,
        name: "history",
        about: "The audit log, for one person or everyone",
        args: &[
            opt_pos("person", K::Person, "whose history"),
            opt("limit", K::Number, "how many entries (default 20)"),
        ],
        access: Access::Staff(Capability::ReadAudit),
        example: "/history ana@example.org",
    },
    CommandSpec {
        id: Id::Revert,
        name: "revert",
        about: "Undo a status change from the audit log",
        args: &[
            pos("entry", K::Number, "the entry number from /history"),
            REASON,
            CONFIRM,
        ],
        access: Access::Staff(Capability::ChangeStatus),
        example: "/revert 42",
    },
    CommandSpec {
        id: Id::Export,
        name: "export",
        about: "Export people, personas and matches as CSV or JSON",
        args: &[
            opt("program", K::Program, "only this program"),
            opt("format", K::Choice(FORMATS), "csv (default) or json"),
        ],
        access: Access::Staff(Capability::ExportData),
        example: "/export format:json",
    },
    CommandSpec {
        id: Id::Apply,
        name: "apply",
        about: "Answer the application questionnaire, one question at a time",
        args: &[
            opt_pos(
                "answer",
                K::Text,
                "your answer: an option's number or name, 1–5, or text",
            ),
            opt("q", K::Line, "which question (to change an answer)"),
            opt("program", K::Program, "which program's questionnaire"),
        ],
        access: Access::Member {
            during_application: true,
        },
        example: "/apply 2",
    },
    CommandSpec {
        id: Id::Mentors,
        name: "mentors",
        about: "Your recommended mentors, best match first, with the reasons",
        args: &[],
        access: Access::Member {
            during_application: false,
        },
        example: "/mentors",
    },
    CommandSpec {
        id: Id::Suggest,
        name: "suggest",
        about: "Recommended mentors for one mentee",
        args: &[PERSON],
        access: Access::Staff(Capability::ReadUsers),
        example: "/suggest ana@example.org",
    },
    CommandSpec {
        id: Id::Choose,
        name: "choose",
        about: "Rank your mentors, best first; the first gets your request at once",
        args: &[rest(
            "mentors",
            K::Person,
            "mentors from /mentors, best first: #ids or names, separated by spaces or commas",
        )],
        access: Access::Member {
            during_application: false,
        },
        example: "/choose #12 #7 #31",
    },
    CommandSpec {
        id: Id::Accept,
        name: "accept",
        about: "Accept a mentee's request (what the Accept button sends)",
        args: &[pos("offer", K::Number, "the offer number")],
        access: Access::Member {
            during_application: false,
        },
        example: "/accept 42",
    },
    CommandSpec {
        id: Id::Decline,
        name: "decline",
        about: "Decline a mentee's request (what the Decline button sends)",
        args: &[pos("offer", K::Number, "the offer number")],
        access: Access::Member {
            during_application: false,
        },
        example: "/decline 42",
    },
    CommandSpec {
        id: Id::Offers,
        name: "offers",
        about: "Offers sent to mentors, newest first",
        args: &[
            opt("program", K::Program, "only this program"),
            opt(
                "state",
                K::Choice(OFFER_STATES),
                "only offers in this state",
            ),
            opt("limit", K::Number, "how many (default 30)"),
        ],
        access: Access::Staff(Capability::ReadUsers),
        example: "/offers state:pending",
    },
    CommandSpec {
        id: Id::Assign,
        name: "assign",
        about: "Pair a mentee with a mentor by hand",
        args: &[
            pos("mentee", K::Person, "the mentee"),
            pos("mentor", K::Person, "the mentor"),
        ],
        access: Access::Staff(Capability::Pair),
        example: "/assign ana@example.org maria@example.org",
    },
    CommandSpec {
        id: Id::Unassign,
        name: "unassign",
        about: "Close a person's active match",
        args: &[
            PERSON,
            opt(
                "with",
                K::Person,
                "the other person, when there are several matches",
            ),
            REASON,
        ],
        access: Access::Staff(Capability::Pair),
        example: "/unassign ana@example.org reason:\"moved away\"",
    },
    CommandSpec {
        id: Id::MatchReopen,
        name: "match_reopen",
        about: "Re-open a person's closed match",
        args: &[PERSON, REASON],
        access: Access::Staff(Capability::Pair),
        example: "/match_reopen ana@example.org",
    },
    CommandSpec {
        id: Id::Autopair,
        name: "autopair",
        about: "Pair all ready mentees and mentors of a program for the best total score (preview first)",
        args: &[pos("program", K::Program, "the program"), CONFIRM],
        access: Access::Staff(Capability::Pair),
        example: "/autopair \"Spring 2027\"",
    },
    CommandSpec {
        id: Id::SessionBook,
        name: "session_book",
        about: "Book a session with your match (time in the program's time zone)",
        args: &[
            opt_pos("with", K::Person, "your match, when you have several"),
            req("at", K::Line, "date and time, like \"2026-12-01 17:00\""),
        ],
        access: Access::Member {
            during_application: false,
        },
        example: "/session_book at:\"2026-12-01 17:00\"",
    },
    CommandSpec {
        id: Id::Sessions,
        name: "sessions",
        about: "Your upcoming sessions",
        args: &[],
        access: Access::Member {
            during_application: false,
        },
        example: "/sessions",
    },
    CommandSpec {
        id: Id::SessionCancel,
        name: "session_cancel",
        about: "Cancel a session",
        args: &[pos(
            "session",
            K::Number,
            "the session number from /sessions",
        )],
        access: Access::Member {
            during_application: false,
        },
        example: "/session_cancel 3",
    },
    CommandSpec {
        id: Id::Deliveries,
        name: "deliveries",
        about: "Messages that could not be delivered (or pending / sent ones), with the reason",
        args: &[
            opt(
                "state",
                K::Choice(&["failed", "pending", "sent"]),
                "failed (default), pending or sent",
            ),
            opt("limit", K::Number, "how many (default 30)"),
        ],
        access: Access::Staff(Capability::ReadUsers),
        example: "/deliveries state:failed",
    },
];

pub fn find(name: &str) -> Option<&'static CommandSpec> {
    COMMANDS.iter().find(|c| c.name == name)
}

pub fn spec(id: CommandId) -> &'static CommandSpec {
    COMMANDS.iter().find(|c| c.id == id).unwrap_or(&COMMANDS[0])
}

impl CommandSpec {
    /// `/user_add <name> <email> <phone> <role> [program:…] [org:…]`
    pub fn usage(&self) -> String {
        let mut s = format!("/{}", self.name);
        for a in self.args {
            let part = match (a.positional, a.required) {
                (true, true) => format!(" <{}>", a.name),
                (true, false) => format!(" [{}]", a.name),
                (false, _) => format!(" [{}:…]", a.name),
            };
            s.push_str(&part);
        }
        s
    }

    pub fn arg(&self, name: &str) -> Option<&'static ArgSpec> {
        self.args.iter().find(|a| a.name == name)
    }
}

/// Who is asking, as far as access goes.
#[derive(Debug, Clone, Copy)]
pub struct Audience<'a> {
    pub linked: bool,
    pub status: Option<UserStatus>,
    pub staff_roles: &'a [StaffRole],
}

/// Why a command is refused before it runs, or None if the caller may run it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    NotLinked,
    Deactivated,
    ApplicationFirst,
    NeedsRole(Vec<StaffRole>),
}

/// The permission check of every command, from the table: the one place front-ends and the
/// engine ask.
pub fn refusal(spec: &CommandSpec, who: Audience<'_>) -> Option<Refusal> {
    if let Some(status) = who.status
        && status.info().bot_access == BotAccess::None
    {
        return Some(Refusal::Deactivated);
    }
    match spec.access {
        Access::Open => None,
        _ if !who.linked => Some(Refusal::NotLinked),
        Access::Member { during_application } => {
            let access = who.status.map(|s| s.info().bot_access);
            if access == Some(BotAccess::ApplicationOnly) && !during_application {
                Some(Refusal::ApplicationFirst)
            } else {
                None
            }
        }
        Access::Staff(cap) => {
            if who.staff_roles.iter().any(|r| role_has(*r, cap)) {
                None
            } else {
                Some(Refusal::NeedsRole(crate::roles::roles_with(cap)))
            }
        }
    }
}

/// The commands someone sees in `/help` and in the chat menus.
pub fn visible_to(who: Audience<'_>) -> Vec<&'static CommandSpec> {
    COMMANDS
        .iter()
        .filter(|c| refusal(c, who).is_none())
        .collect()
}

/// Menus per audience for chat platforms: (audience name, commands).
pub fn menus() -> Vec<(&'static str, Vec<&'static CommandSpec>)> {
    let member = |roles: &'static [StaffRole]| Audience {
        linked: true,
        status: Some(UserStatus::Active),
        staff_roles: roles,
    };
    vec![
        (
            "unlinked",
            visible_to(Audience {
                linked: false,
                status: None,
                staff_roles: &[],
            }),
        ),
        ("member", visible_to(member(&[]))),
        (
            "success_coordinator",
            visible_to(member(&[StaffRole::SuccessCoordinator])),
        ),
        (
            "program_manager",
            visible_to(member(&[StaffRole::ProgramManager])),
        ),
        ("super_admin", visible_to(member(&[StaffRole::SuperAdmin]))),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

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
            assert!(
                COMMANDS
                    .iter()
                    .skip(i + 1)
                    .all(|o| o.name != c.name && o.id != c.id)
            );
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
                        matches!(a.name, "reason" | "answer"),
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
        let who = Audience {
            linked: false,
            status: None,
            staff_roles: &[],
        };
        let names: Vec<_> = visible_to(who).iter().map(|c| c.name).collect();
        assert_eq!(names, ["start", "help", "link"]);
    }
}
