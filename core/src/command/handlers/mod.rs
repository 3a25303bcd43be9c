//! One handler per command, next to its declaration (`command!`): it takes the command's typed
//! arguments, finds what they name within the caller's scope, calls the domain, and returns
//! the reply. Grouped by what they touch.

pub(crate) mod availability;
pub(crate) mod basics;
pub(crate) mod claim;
pub(crate) mod deliveries;
pub(crate) mod edit;
pub(crate) mod feedback;
pub(crate) mod offers;
pub(crate) mod orgs;
pub(crate) mod overview;
pub(crate) mod pairing;
pub(crate) mod people;
pub(crate) mod questionnaire;
pub(crate) mod ranking;
pub(crate) mod removal;
pub(crate) mod screening;
pub(crate) mod sessions;
pub(crate) mod statuses;
pub(crate) mod upcoming;

/// What every handler module uses.
mod prelude {
    pub(crate) use crate::command::args::{
        Confirm, Id, Limit, OrgRef, PersonRef, ProgramRef, Reason, confirmed,
    };
    pub(crate) use crate::command::ctx::Ctx;
    pub(crate) use crate::command::declare::command;
    pub(crate) use crate::command::spec::{
        ABOUT_CONFIRM, ABOUT_PERSON, ABOUT_PERSONA, ABOUT_REASON, Access, ArgKind as K, FORMATS,
        INACTIVE_STATUS_CODES, MATCH_STATUS_CODES, Member, OFFER_STATES, PERSONA_ROLES,
        PERSONA_STATUS_CODES, SORTS, STAFF_ROLES, USER_STATUS_CODES,
    };
    pub(crate) use crate::error::{Error, Result};
    pub(crate) use crate::reply::Reply;
    pub(crate) use crate::roles::Capability;
}

/// "3 days ago", "just now": how activity is shown.
fn ago(now: chrono::DateTime<chrono::Utc>, then: Option<chrono::DateTime<chrono::Utc>>) -> String {
    let Some(then) = then else {
        return "never".into();
    };
    let d = now - then;
    if d.num_days() >= 1 {
        format!(
            "{} day{} ago",
            d.num_days(),
            if d.num_days() == 1 { "" } else { "s" }
        )
    } else if d.num_hours() >= 1 {
        format!("{} h ago", d.num_hours())
    } else if d.num_minutes() >= 1 {
        format!("{} min ago", d.num_minutes())
    } else {
        "just now".into()
    }
}
