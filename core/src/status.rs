//! The three status tables (docs/domain.md#statuses), each written once as data: user status (what
//! it allows), persona status, and match status with its transitions. Every other module asks these
//! tables; none repeats them.

use std::fmt;

use crate::error::Error;
use crate::reply::echo;
use crate::roles::PersonaRole;

/// What a person may do with the bot ("Can log in & see curriculum?" in the user-status and
/// match-status tables; the two are combined by [`bot_access`], the one place that decides).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BotAccess {
    Full,
    /// Only `/start`, `/help`, `/link`, `/me` and the application questionnaire.
    ApplicationOnly,
    /// Only `/start`, `/help`, `/link` and `/me`, which says why: every match of theirs is
    /// closed and they are not coming back for a new one (match status C).
    StatusOnly,
    None,
}

/// What a person may do with the bot, from both tables (docs/domain.md#bot-access): their user
/// status decides first (AI: the application only; IW, IR, ID: nothing); an Active or SI user
/// whose personas are all in a match status that cannot log in (C) may only see their status.
/// Inactive personas (made in error) do not count; someone with no persona at all (staff) goes
/// by their user status alone.
pub fn bot_access(
    user: UserStatus,
    active_personas: impl IntoIterator<Item = MatchStatus>,
) -> BotAccess {
    let by_user = user.info().bot_access;
    if by_user != BotAccess::Full {
        return by_user;
    }
    let mut any = false;
    for m in active_personas {
        if m.info().can_use_bot {
            return BotAccess::Full;
        }
        any = true;
    }
    if any {
        BotAccess::StatusOnly
    } else {
        BotAccess::Full
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum UserStatus {
    Active,
    ApplicationIncomplete,
    ScreeningIncomplete,
    InactiveWithdrawn,
    InactiveRejected,
    InactiveDeleted,
}

pub struct UserStatusInfo {
    pub status: UserStatus,
    pub code: &'static str,
    pub name: &'static str,
    pub meaning: &'static str,
    pub can_be_matched: bool,
    pub bot_access: BotAccess,
}

/// The user-status table (docs/domain.md#user-status).
pub const USER_STATUSES: [UserStatusInfo; 6] = [
    UserStatusInfo {
        status: UserStatus::Active,
        code: "A",
        name: "Active",
        meaning: "participating actively in the program",
        can_be_matched: true,
        bot_access: BotAccess::Full,
    },
    UserStatusInfo {
        status: UserStatus::ApplicationIncomplete,
        code: "AI",
        name: "Application Incomplete",
        meaning: "the application is not finished; finishing it moves the user to SI",
        can_be_matched: false,
        bot_access: BotAccess::ApplicationOnly,
    },
    UserStatusInfo {
        status: UserStatus::ScreeningIncomplete,
        code: "SI",
        name: "Screening Incomplete",
        meaning: "not yet ready to be matched under the program's screening policy",
        can_be_matched: false,
        bot_access: BotAccess::Full,
    },
    UserStatusInfo {
        status: UserStatus::InactiveWithdrawn,
        code: "IW",
        name: "Inactive Withdrawn",
        meaning: "left the program of their own accord",
        can_be_matched: false,
        bot_access: BotAccess::None,
    },
    UserStatusInfo {
        status: UserStatus::InactiveRejected,
        code: "IR",
        name: "Inactive Rejected",
        meaning: "rejected by the program",
        can_be_matched: false,
        bot_access: BotAccess::None,
    },
    UserStatusInfo {
        status: UserStatus::InactiveDeleted,
        code: "ID",
        name: "Inactive Deleted",
        meaning: "removed by an admin (errors, duplicate applications, test users)",
        can_be_matched: false,
        bot_access: BotAccess::None,
    },
];

impl UserStatus {
    /// Every code, in the table's order: what front-ends offer as choices.
    pub const CODES: [&'static str; 6] = {
        let mut out = [""; 6];
        let mut i = 0;
        while i < 6 {
            out[i] = USER_STATUSES[i].code;
            i += 1;
        }
        out
    };
    /// The codes of the statuses that deactivate (no use of the bot at all): what
    /// `/deactivate` offers.
    pub const DEACTIVATED_CODES: [&'static str; 3] = {
        let mut out = [""; 3];
        let (mut i, mut n) = (0, 0);
        while i < 6 {
            if matches!(USER_STATUSES[i].bot_access, BotAccess::None) {
                out[n] = USER_STATUSES[i].code;
                n += 1;
            }
            i += 1;
        }
        assert!(n == 3, "three statuses deactivate");
        out
    };
    pub const ALL: [UserStatus; 6] = [
        Self::Active,
        Self::ApplicationIncomplete,
        Self::ScreeningIncomplete,
        Self::InactiveWithdrawn,
        Self::InactiveRejected,
        Self::InactiveDeleted,
    ];

    pub fn info(self) -> &'static UserStatusInfo {
        // The table is in the same order as ALL; the position is found, not assumed.
        USER_STATUSES
            .iter()
            .find(|i| i.status == self)
            .unwrap_or(&USER_STATUSES[0])
    }
    pub fn code(self) -> &'static str {
        self.info().code
    }
    /// The statuses `/deactivate` sets and `/reactivate` leaves: no use of the bot at all.
    pub fn is_deactivated(self) -> bool {
        self.info().bot_access == BotAccess::None
    }

    /// Accepts the code (`IW`) or the name (`inactive withdrawn`, `inactive_withdrawn`).
    pub fn parse(raw: &str) -> Result<Self, Error> {
        let s = normalise(raw);
        USER_STATUSES
            .iter()
            .find(|i| normalise(i.code) == s || normalise(i.name) == s)
            .map(|i| i.status)
            .ok_or_else(|| {
                Error::input(format!(
                    "'{}' is not a user status: use one of {}",
                    echo(raw.trim()),
                    USER_STATUSES
                        .iter()
                        .map(|i| format!("{} ({})", i.code, i.name))
                        .collect::<Vec<_>>()
                        .join(", ")
                ))
            })
    }

    pub fn from_code(code: &str) -> Result<Self, Error> {
        USER_STATUSES
            .iter()
            .find(|i| i.code == code)
            .map(|i| i.status)
            .ok_or_else(|| Error::Internal(format!("unknown user status in the database: {code}")))
    }
}

impl fmt::Display for UserStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({})", self.code(), self.info().name)
    }
}

fn normalise(s: &str) -> String {
    s.trim()
        .chars()
        .filter(|c| c.is_ascii_alphanumeric())
        .map(|c| c.to_ascii_lowercase())
        .collect()
}

/// docs/domain.md#persona-status: a persona is Active unless it was made in error.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PersonaStatus {
    Active,
    Inactive,
}

impl PersonaStatus {
    pub const ALL: [PersonaStatus; 2] = [Self::Active, Self::Inactive];
    codes_of_all!(2);
    pub const fn code(self) -> &'static str {
        match self {
            Self::Active => "active",
            Self::Inactive => "inactive",
        }
    }
    pub fn parse(raw: &str) -> Result<Self, Error> {
        match normalise(raw).as_str() {
            "active" | "a" => Ok(Self::Active),
            "inactive" | "i" => Ok(Self::Inactive),
            _ => Err(Error::input(format!(
                "'{}' is not a persona status: use active or inactive",
                echo(raw.trim())
            ))),
        }
    }
    pub fn from_code(code: &str) -> Result<Self, Error> {
        Self::ALL
            .into_iter()
            .find(|s| s.code() == code)
            .ok_or_else(|| {
                Error::Internal(format!("unknown persona status in the database: {code}"))
            })
    }
}

impl fmt::Display for PersonaStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Active => "Active",
            Self::Inactive => "Inactive",
        })
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum MatchStatus {
    NotApplicable,
    ReadyToBeMatched,
    Matched,
    Closed,
    Rescreening,
    NotMatching,
}

pub struct MatchStatusInfo {
    pub status: MatchStatus,
    pub code: &'static str,
    pub name: &'static str,
    pub meaning: &'static str,
    /// "Can log in & see curriculum?": false only for C (see [`bot_access`]).
    pub can_use_bot: bool,
}

/// The match-status table, docs/domain.md#match-status (the meanings; the moves are in
/// [`MATCH_TRANSITIONS`]).
pub const MATCH_STATUSES: [MatchStatusInfo; 6] = [
    MatchStatusInfo {
        status: MatchStatus::NotApplicable,
        code: "N/A",
        name: "Not applicable",
        meaning: "never matched",
        can_use_bot: true,
    },
    MatchStatusInfo {
        status: MatchStatus::ReadyToBeMatched,
        code: "RTBM",
        name: "Ready to be Matched",
        meaning: "waiting to be matched as soon as possible",
        can_use_bot: true,
    },
    MatchStatusInfo {
        status: MatchStatus::Matched,
        code: "M",
        name: "Matched",
        meaning: "in an active match",
        can_use_bot: true,
    },
    MatchStatusInfo {
        status: MatchStatus::Closed,
        code: "C",
        name: "Closed",
        meaning: "the match is closed",
        can_use_bot: false,
    },
    MatchStatusInfo {
        status: MatchStatus::Rescreening,
        code: "RS",
        name: "Rescreening",
        meaning: "an earlier match closed; being assessed for a new one",
        can_use_bot: true,
    },
    MatchStatusInfo {
        status: MatchStatus::NotMatching,
        code: "NM",
        name: "Not Matching",
        meaning: "mentee who will not be matched again but stays in class",
        can_use_bot: true,
    },
];

impl MatchStatus {
    /// Every code, in the table's order: what front-ends offer as choices.
    pub const CODES: [&'static str; 6] = {
        let mut out = [""; 6];
        let mut i = 0;
        while i < 6 {
            out[i] = MATCH_STATUSES[i].code;
            i += 1;
        }
        out
    };
    pub const ALL: [MatchStatus; 6] = [
        Self::NotApplicable,
        Self::ReadyToBeMatched,
        Self::Matched,
        Self::Closed,
        Self::Rescreening,
        Self::NotMatching,
    ];
    pub fn info(self) -> &'static MatchStatusInfo {
        MATCH_STATUSES
            .iter()
            .find(|i| i.status == self)
            .unwrap_or(&MATCH_STATUSES[0])
    }
    pub fn code(self) -> &'static str {
        self.info().code
    }
    pub fn parse(raw: &str) -> Result<Self, Error> {
        let s = normalise(raw);
        MATCH_STATUSES
            .iter()
            .find(|i| normalise(i.code) == s || normalise(i.name) == s)
            .map(|i| i.status)
            .ok_or_else(|| {
                Error::input(format!(
                    "'{}' is not a match status: use one of {}",
                    echo(raw.trim()),
                    MATCH_STATUSES
                        .iter()
                        .map(|i| format!("{} ({})", i.code, i.name))
                        .collect::<Vec<_>>()
                        .join(", ")
                ))
            })
    }
    pub fn from_code(code: &str) -> Result<Self, Error> {
        MATCH_STATUSES
            .iter()
            .find(|i| i.code == code)
            .map(|i| i.status)
            .ok_or_else(|| Error::Internal(format!("unknown match status in the database: {code}")))
    }
}

impl fmt::Display for MatchStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// How a match-status move is made: some by `/match_status`, others only through the command
/// that also touches the match itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MatchMove {
    /// Staff sets it with `/match_status` (and `/revert` can undo it).
    Staff,
    /// Pairing: an accepted offer, `/assign`, or `/autopair` — never a bare status change.
    Pair,
    /// Closing the match, both personas at once (`/unassign` or `/match_status … C`).
    Close,
    /// Re-opening a closed match (`/match_reopen`).
    Reopen,
}

pub struct MatchTransition {
    pub from: MatchStatus,
    pub to: MatchStatus,
    pub how: MatchMove,
    pub when: &'static str,
    pub mentee_only: bool,
    pub needs_active_user: bool,
}

/// The transitions of docs/domain.md#match-transitions, exactly; every other pair is refused.
pub const MATCH_TRANSITIONS: [MatchTransition; 7] = [
    MatchTransition {
        from: MatchStatus::NotApplicable,
        to: MatchStatus::ReadyToBeMatched,
        how: MatchMove::Staff,
        when: "staff marks the persona ready (only while the user is A)",
        mentee_only: false,
        needs_active_user: true,
    },
    MatchTransition {
        from: MatchStatus::ReadyToBeMatched,
        to: MatchStatus::Matched,
        how: MatchMove::Pair,
        when: "an offer is accepted, staff assigns/pairs, or auto-pairing",
        mentee_only: false,
        needs_active_user: true,
    },
    MatchTransition {
        from: MatchStatus::Matched,
        to: MatchStatus::Closed,
        how: MatchMove::Close,
        when: "the match is closed (both personas)",
        mentee_only: false,
        needs_active_user: false,
    },
    MatchTransition {
        from: MatchStatus::Closed,
        to: MatchStatus::Matched,
        how: MatchMove::Reopen,
        when: "staff re-opens the closed match, if neither person has been matched since",
        mentee_only: false,
        needs_active_user: true,
    },
    MatchTransition {
        from: MatchStatus::Rescreening,
        to: MatchStatus::ReadyToBeMatched,
        how: MatchMove::Staff,
        when: "rescreening approved",
        mentee_only: false,
        needs_active_user: false,
    },
    MatchTransition {
        from: MatchStatus::Rescreening,
        to: MatchStatus::NotMatching,
        how: MatchMove::Staff,
        when: "mentees only: will not be matched again, stays in class",
        mentee_only: true,
        needs_active_user: false,
    },
    MatchTransition {
        from: MatchStatus::NotMatching,
        to: MatchStatus::Rescreening,
        how: MatchMove::Staff,
        when: "a Not-Matching mentee is rescreened",
        mentee_only: false,
        needs_active_user: false,
    },
];

/// Decides whether a persona may move `from` → `to`. The refusal names the allowed moves.
pub fn decide_match(
    from: MatchStatus,
    to: MatchStatus,
    role: PersonaRole,
    user_status: UserStatus,
) -> Result<&'static MatchTransition, Error> {
    if from == to {
        return Err(Error::conflict(format!(
            "the persona is already {to}: nothing to change"
        )));
    }
    let Some(t) = MATCH_TRANSITIONS
        .iter()
        .find(|t| t.from == from && t.to == to)
    else {
        return Err(Error::conflict(format!(
            "a persona cannot go from {from} to {to}. {}",
            allowed_from(from)
        )));
    };
    if t.mentee_only && role != PersonaRole::Mentee {
        return Err(Error::conflict(format!(
            "{from} → {to} is for mentees only ({}); this persona is a {role}",
            t.when
        )));
    }
    if t.needs_active_user && user_status != UserStatus::Active {
        return Err(Error::conflict(format!(
            "{from} → {to} needs the user to be A (Active), and they are {user_status}: change the user status first with /status"
        )));
    }
    Ok(t)
}

/// "From RTBM a persona may go to: M (…)" — or that it may go nowhere.
pub fn allowed_from(from: MatchStatus) -> String {
    let moves: Vec<String> = MATCH_TRANSITIONS
        .iter()
        .filter(|t| t.from == from)
        .map(|t| format!("{} ({})", t.to, t.when))
        .collect();
    if moves.is_empty() {
        format!("From {from} there is no move.")
    } else {
        format!("From {from} a persona may go to: {}.", moves.join("; "))
    }
}

/// Whether `/revert` may undo a move `from` → `to` made earlier: a staff step is undone by
/// its reverse; a close is undone by re-opening and a re-open by closing (both through the
/// table's own checks); a pairing is undone only with `/unassign`.
pub fn revert_move(from: MatchStatus, to: MatchStatus) -> Option<MatchMove> {
    let t = MATCH_TRANSITIONS
        .iter()
        .find(|t| t.from == from && t.to == to)?;
    match t.how {
        MatchMove::Staff => Some(MatchMove::Staff),
        MatchMove::Close => Some(MatchMove::Reopen),
        MatchMove::Reopen => Some(MatchMove::Close),
        MatchMove::Pair => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_status_parses_from_its_code_and_name() {
        for i in &USER_STATUSES {
            assert_eq!(UserStatus::parse(i.code).ok(), Some(i.status));
            assert_eq!(
                UserStatus::parse(&i.name.to_uppercase()).ok(),
                Some(i.status)
            );
            assert_eq!(UserStatus::from_code(i.code).ok(), Some(i.status));
        }
        for i in &MATCH_STATUSES {
            assert_eq!(MatchStatus::parse(i.code).ok(), Some(i.status));
            assert_eq!(MatchStatus::from_code(i.code).ok(), Some(i.status));
        }
        assert_eq!(
            MatchStatus::parse("na").ok(),
            Some(MatchStatus::NotApplicable)
        );
        assert!(UserStatus::parse("zz").is_err());
    }

    #[test]
    fn only_active_users_can_be_matched_and_inactive_ones_cannot_use_the_bot() {
        for s in UserStatus::ALL {
            assert_eq!(s.info().can_be_matched, s == UserStatus::Active);
            assert_eq!(
                s.is_deactivated(),
                matches!(
                    s,
                    UserStatus::InactiveWithdrawn
                        | UserStatus::InactiveRejected
                        | UserStatus::InactiveDeleted
                )
            );
        }
    }

    #[test]
    fn exactly_the_spec_transitions_are_allowed() {
        use MatchStatus::*;
        let spec = [
            (NotApplicable, ReadyToBeMatched),
            (ReadyToBeMatched, Matched),
            (Matched, Closed),
            (Closed, Matched),
            (Rescreening, ReadyToBeMatched),
            (Rescreening, NotMatching),
            (NotMatching, Rescreening),
        ];
        for from in MatchStatus::ALL {
            for to in MatchStatus::ALL {
                let ok = decide_match(from, to, PersonaRole::Mentee, UserStatus::Active).is_ok();
                assert_eq!(ok, spec.contains(&(from, to)), "{from} -> {to}");
            }
        }
    }

    #[test]
    fn refusals_name_the_allowed_moves_and_guards_hold() {
        use MatchStatus::*;
        let msg = decide_match(
            ReadyToBeMatched,
            Closed,
            PersonaRole::Mentor,
            UserStatus::Active,
        )
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
        assert!(
            msg.contains("RTBM") && msg.contains("M (an offer is accepted"),
            "{msg}"
        );
        assert!(
            decide_match(
                Rescreening,
                NotMatching,
                PersonaRole::Mentor,
                UserStatus::Active
            )
            .is_err()
        );
        assert!(
            decide_match(
                NotApplicable,
                ReadyToBeMatched,
                PersonaRole::Mentor,
                UserStatus::ScreeningIncomplete
            )
            .is_err()
        );
    }
}
