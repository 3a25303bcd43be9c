//! What a command is, as data: its name, description, typed arguments and who may run it
//! ([`Access`]), and the permission check every front-end and the engine ask ([`refusal`]).
//! Each command declares its spec once, next to its handler (`command::declare`); the
//! registry lists them.

use crate::roles::{Capability, PersonaRole, StaffRole, role_has};
use crate::status::{BotAccess, MatchStatus, PersonaStatus, UserStatus};
use crate::store::offers::OfferState;

/// Who may run a command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone, even a chat account not linked to a user yet.
    Open,
    /// A linked user, as far as their statuses let them use the bot (`status::bot_access`).
    Member(Member),
    /// Staff whose role holds the capability (and, inside the command, whose programs cover it).
    Staff(Capability),
}

/// How far into the program a member must be to run a command (docs/domain.md#bot-access).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Member {
    /// Anyone the bot serves at all, to see where they stand (`/me`): a closed match or an
    /// unfinished application still shows.
    Status,
    /// Also while the application is incomplete (the questionnaire).
    Application,
    /// A participant: user status A or SI, and a match status that can log in.
    Participant,
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
    /// One of the offers waiting for the caller's answer (`/accept`, `/decline`): a number,
    /// suggested from the caller's pending offers.
    Offer,
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
    pub name: &'static str,
    pub about: &'static str,
    pub args: &'static [ArgSpec],
    pub access: Access,
    pub example: &'static str,
    pub runs: Runs,
    pub press: Press,
    /// Listed in `/help` and the chat menus only for people taking part in this role (an
    /// active persona in it): a participant command meant for mentees or for mentors. Not a
    /// permission — it runs for anyone `access` lets in, and answers them itself
    /// (docs/domain.md#participants).
    pub listed_for: Option<PersonaRole>,
}

/// How a chat shows the reply to a press of one of this command's buttons.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Press {
    /// Under the pressed message's text, its buttons replaced by the reply's: the outcome of
    /// an action ("Accepted").
    Appends,
    /// In place of the pressed message: another screen of the same list, or the next step of
    /// the same choice (docs/domain.md#lists).
    Replaces,
}

/// How a command runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Runs {
    /// In one transaction: everything it reports, or nothing.
    InOneTransaction,
    /// Checked whole, then applied in chunks of their own (`/user_import`: see
    /// `command::import`), so a big file never holds the database for minutes.
    InChunks,
}

pub const fn arg(
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
pub const fn pos(name: &'static str, kind: ArgKind, about: &'static str) -> ArgSpec {
    arg(name, kind, about, true, true, false)
}
pub const fn opt_pos(name: &'static str, kind: ArgKind, about: &'static str) -> ArgSpec {
    arg(name, kind, about, false, true, false)
}
pub const fn opt(name: &'static str, kind: ArgKind, about: &'static str) -> ArgSpec {
    arg(name, kind, about, false, false, false)
}
/// Required, and only as `name:value`.
pub const fn req(name: &'static str, kind: ArgKind, about: &'static str) -> ArgSpec {
    arg(name, kind, about, true, false, false)
}
/// Required, positional, and takes every remaining word.
pub const fn rest(name: &'static str, kind: ArgKind, about: &'static str) -> ArgSpec {
    arg(name, kind, about, true, true, true)
}

/// How the common arguments are described.
pub const ABOUT_PERSON: &str = "email, phone, external ID, #id, @mention or name";
pub const ABOUT_REASON: &str = "why, for the audit log";
pub const ABOUT_CONFIRM: &str = "confirmation (yes, or the code the bot gave)";
pub const ABOUT_PERSONA: &str = "which persona (#id) when the person has several";

// The choices front-ends offer, read from the tables that define them (`status`, `roles`,
// `store::offers`), so a code is written once.
pub const USER_STATUS_CODES: &[&str] = &UserStatus::CODES;
pub const INACTIVE_STATUS_CODES: &[&str] = &UserStatus::DEACTIVATED_CODES;
pub const MATCH_STATUS_CODES: &[&str] = &MatchStatus::CODES;
pub const PERSONA_STATUS_CODES: &[&str] = &PersonaStatus::CODES;
pub const PERSONA_ROLES: &[&str] = &PersonaRole::CODES;
pub const STAFF_ROLES: &[&str] = &StaffRole::CODES;
pub const SORTS: &[&str] = &["first", "last", "activity"];
pub const FORMATS: &[&str] = &["csv", "json"];
pub const OFFER_STATES: &[&str] = &OfferState::CODES;

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
#[derive(Debug, Clone, Copy, Default)]
pub struct Audience<'a> {
    pub linked: bool,
    /// What their statuses let them do (`status::bot_access`); None when not linked.
    pub access: Option<BotAccess>,
    pub staff_roles: &'a [StaffRole],
    /// The roles of their active personas (what `CommandSpec::listed_for` is matched against).
    pub persona_roles: &'a [PersonaRole],
}

/// Whether `/help` and the chat menus list `spec` for `who`: they may run it
/// ([`refusal`]) and it is meant for them (`CommandSpec::listed_for`). The one rule both use.
pub fn listed(spec: &CommandSpec, who: Audience<'_>) -> bool {
    refusal(spec, who).is_none()
        && spec
            .listed_for
            .is_none_or(|r| who.persona_roles.contains(&r))
}

/// Why a command is refused before it runs, or None if the caller may run it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refusal {
    NotLinked,
    Deactivated,
    ApplicationFirst,
    /// Every match of theirs is closed: they may see their status, nothing more.
    MatchClosed,
    NeedsRole(Vec<StaffRole>),
}

/// The permission check of every command, from the table: the one place front-ends and the
/// engine ask.
pub fn refusal(spec: &CommandSpec, who: Audience<'_>) -> Option<Refusal> {
    if who.access == Some(BotAccess::None) {
        return Some(Refusal::Deactivated);
    }
    match spec.access {
        Access::Open => None,
        _ if !who.linked => Some(Refusal::NotLinked),
        Access::Member(needs) => match (needs, who.access.unwrap_or(BotAccess::Full)) {
            (Member::Status, _) | (_, BotAccess::Full) => None,
            (Member::Application, BotAccess::ApplicationOnly) => None,
            (Member::Participant, BotAccess::ApplicationOnly) => Some(Refusal::ApplicationFirst),
            (_, BotAccess::StatusOnly) => Some(Refusal::MatchClosed),
            (_, BotAccess::None) => Some(Refusal::Deactivated),
        },
        Access::Staff(cap) => {
            if who.staff_roles.iter().any(|r| role_has(*r, cap)) {
                None
            } else {
                Some(Refusal::NeedsRole(crate::roles::roles_with(cap)))
            }
        }
    }
}
