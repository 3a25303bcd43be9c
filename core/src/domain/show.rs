//! How workflows write times for people.

use chrono::{DateTime, Utc};

use crate::store::orgs::Program;

/// Times are shown in the program's time zone.
pub fn when(program: Option<&Program>, t: DateTime<Utc>) -> String {
    match program {
        Some(p) => t
            .with_timezone(&p.settings.timezone)
            .format("%a %d %b %Y %H:%M %Z")
            .to_string(),
        None => t.format("%a %d %b %Y %H:%M UTC").to_string(),
    }
}
