//! Arguments: the parsed text of a command ([`Invocation`]) and the typed values a declared
//! command's fields hold ([`FromArg`]). Each value is checked once here, and its error names the
//! argument and the fix.

use std::collections::BTreeMap;
use std::ops::Deref;

use super::spec::CommandSpec;
use crate::error::{Error, Result};
use crate::program::parse_yes_no;
use crate::reply::{Attachment, echo};
use crate::roles::{PersonaRole, StaffRole};
use crate::status::{MatchStatus, PersonaStatus, UserStatus};
use crate::store::offers::OfferState;
use crate::values::{LinkCode, Tag};

/// A parsed command: the spec it names and its arguments by name, still as text; a declared
/// command turns them into its typed fields (`Command::from_invocation`).
#[derive(Debug, Clone)]
pub struct Invocation {
    pub spec: &'static CommandSpec,
    pub args: BTreeMap<&'static str, String>,
    pub attachments: Vec<Attachment>,
}

impl Invocation {
    pub fn new(spec: &'static CommandSpec) -> Self {
        Self {
            spec,
            args: BTreeMap::new(),
            attachments: Vec::new(),
        }
    }

    /// Whether a press of a button running this shows its reply in place of the pressed
    /// message (its command's `press:`, docs/domain.md#lists) rather than under it.
    pub fn replaces_pressed(&self) -> bool {
        self.spec.press == super::spec::Press::Replaces
    }

    pub fn get(&self, name: &str) -> Option<&str> {
        self.args.get(name).map(String::as_str)
    }

    /// A required argument; the parser already checked it is there, but a front-end that
    /// builds invocations itself gets the same message.
    pub fn required(&self, name: &str) -> Result<&str> {
        self.get(name)
            .ok_or_else(|| Error::input(format!("missing {name}: usage {}", self.spec.usage())))
    }
}

/// One argument of a declared command, from the invocation: a required value, an optional one
/// (`Option<T>`), or one with a default ([`Limit`]).
pub trait FromArg: Sized {
    fn from_arg(inv: &Invocation, name: &'static str) -> Result<Self>;
}

/// A value an argument may hold, parsed from its text.
pub trait Value: Sized {
    fn parse_value(name: &'static str, raw: &str) -> Result<Self>;
}

impl<T: Value> FromArg for Option<T> {
    fn from_arg(inv: &Invocation, name: &'static str) -> Result<Self> {
        inv.get(name)
            .map(|raw| T::parse_value(name, raw))
            .transpose()
    }
}

/// Required values: missing is an error naming the argument and the usage.
macro_rules! required {
    ($($t:ty),* $(,)?) => {$(
        impl FromArg for $t {
            fn from_arg(inv: &Invocation, name: &'static str) -> Result<Self> {
                <$t as Value>::parse_value(name, inv.required(name)?)
            }
        }
    )*};
}

required!(
    String,
    PersonRef,
    ProgramRef,
    OrgRef,
    Id,
    UserStatus,
    MatchStatus,
    PersonaStatus,
    PersonaRole,
    StaffRole,
    LinkCode,
);

impl Value for String {
    fn parse_value(_: &'static str, raw: &str) -> Result<Self> {
        Ok(raw.to_string())
    }
}

/// Values whose own parser says what is wrong and what would be right.
macro_rules! parsed_by {
    ($($t:ty),* $(,)?) => {$(
        impl Value for $t {
            fn parse_value(_: &'static str, raw: &str) -> Result<Self> {
                <$t>::parse(raw)
            }
        }
    )*};
}

parsed_by!(
    UserStatus,
    MatchStatus,
    PersonaStatus,
    PersonaRole,
    StaffRole,
    OfferState,
    Tag,
    LinkCode
);

/// yes / no (and the other yes-words `program::parse_yes_no` knows).
impl Value for bool {
    fn parse_value(name: &'static str, raw: &str) -> Result<Self> {
        parse_yes_no(name, raw)
    }
}

/// What someone typed to name a person (email, phone, external ID, `#id`, a mention or a
/// name); found within the caller's scope by `Ctx::find_user`.
#[derive(Debug, Clone)]
pub struct PersonRef(pub String);

/// What someone typed to name a program (`#id`, `Org/Program` or a name); found by
/// `Ctx::find_program`.
#[derive(Debug, Clone)]
pub struct ProgramRef(pub String);

/// An organization's name; found by `Ctx::find_org`.
#[derive(Debug, Clone)]
pub struct OrgRef(pub String);

macro_rules! text_newtype {
    ($($t:ident),*) => {$(
        impl Value for $t {
            fn parse_value(_: &'static str, raw: &str) -> Result<Self> {
                Ok(Self(raw.to_string()))
            }
        }
        impl Deref for $t {
            type Target = str;
            fn deref(&self) -> &str {
                &self.0
            }
        }
    )*};
}

text_newtype!(PersonRef, ProgramRef, OrgRef);

/// The number of something listed to the caller (an offer, a session, an audit entry): `42` or
/// `#42`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Id(pub i64);

impl Id {
    pub fn get(self) -> i64 {
        self.0
    }
}

impl Value for Id {
    fn parse_value(name: &'static str, raw: &str) -> Result<Self> {
        raw.trim()
            .trim_start_matches('#')
            .parse::<i64>()
            .ok()
            .filter(|n| *n >= 1)
            .map(Id)
            .ok_or_else(|| {
                Error::input(format!(
                    "{name} must be a number like 42 or #42, not '{}'",
                    echo(raw.trim())
                ))
            })
    }
}

/// A whole number from 1 to `MAX`, `DEFAULT` when not given: how many to list, how many days.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limit<const DEFAULT: i64, const MAX: i64>(pub i64);

impl<const DEFAULT: i64, const MAX: i64> Limit<DEFAULT, MAX> {
    pub fn get(self) -> i64 {
        self.0
    }
}

impl<const DEFAULT: i64, const MAX: i64> Value for Limit<DEFAULT, MAX> {
    fn parse_value(name: &'static str, raw: &str) -> Result<Self> {
        raw.trim()
            .trim_start_matches('#')
            .parse::<i64>()
            .ok()
            .filter(|n| (1..=MAX).contains(n))
            .map(Self)
            .ok_or_else(|| {
                Error::input(format!(
                    "{name} must be a whole number from 1 to {MAX}, not '{}'",
                    echo(raw.trim())
                ))
            })
    }
}

impl<const DEFAULT: i64, const MAX: i64> FromArg for Limit<DEFAULT, MAX> {
    fn from_arg(inv: &Invocation, name: &'static str) -> Result<Self> {
        match inv.get(name) {
            None => Ok(Self(DEFAULT)),
            Some(raw) => Self::parse_value(name, raw),
        }
    }
}

/// The longest reason the audit log takes, in characters: a few sentences. `/history` shows
/// each entry on a line with its reason, so a page of text there would bury the log.
pub const MAX_REASON: usize = 500;

/// `reason:`, for the audit log: at most [`MAX_REASON`] characters, checked before anything
/// changes.
#[derive(Debug, Clone)]
pub struct Reason(String);

impl Value for Reason {
    fn parse_value(name: &'static str, raw: &str) -> Result<Self> {
        let length = raw.chars().count();
        if length > MAX_REASON {
            return Err(Error::input(format!(
                "{name}: is {length} characters long: keep it to {MAX_REASON} (it is shown in /history)"
            )));
        }
        Ok(Self(raw.to_string()))
    }
}

impl Deref for Reason {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

/// `confirm:` — yes, or the code the bot gave with its preview.
#[derive(Debug, Clone)]
pub struct Confirm(String);

impl Confirm {
    /// Whether it says yes (any yes-word).
    pub fn is_yes(&self) -> Result<bool> {
        parse_yes_no("confirm", &self.0)
    }
    /// The text as given: a confirmation code.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Value for Confirm {
    fn parse_value(_: &'static str, raw: &str) -> Result<Self> {
        Ok(Self(raw.to_string()))
    }
}

/// `confirm:yes` given (absent: no).
pub fn confirmed(c: &Option<Confirm>) -> Result<bool> {
    c.as_ref()
        .map(Confirm::is_yes)
        .transpose()
        .map(|v| v.unwrap_or(false))
}

// ---- /user_edit -------------------------------------------------------------------------

// A person's identity, as `/user_add` reads it (`values`): `/user_edit` takes them typed. The
// phone is read by the handler, which knows the configured region.
parsed_by!(
    crate::values::Email,
    crate::values::FullName,
    crate::values::ExternalId
);

/// `tags:` of `/user_edit`: `+key=value` sets a tag, `-key` removes one, several separated by
/// commas (`+cohort=2027,-lang`); a key given twice is refused.
#[derive(Debug, Clone)]
pub struct TagEdits(pub Vec<crate::domain::edits::TagEdit>);

impl Value for TagEdits {
    fn parse_value(name: &'static str, raw: &str) -> Result<Self> {
        crate::domain::edits::TagEdit::parse_list(name, raw).map(Self)
    }
}
