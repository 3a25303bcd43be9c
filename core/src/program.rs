//! Program settings (docs/domain.md#program-settings): their names, meanings, defaults and how each
//! is typed in.

use chrono::Duration;
use chrono_tz::Tz;

use crate::error::Error;
use crate::quiet::QuietHours;
use crate::reply::echo;
use crate::values::{format_duration, parse_duration};

#[derive(Debug, Clone, PartialEq)]
pub struct ProgramSettings {
    pub max_choices: u32,
    pub recommendations: u32,
    pub offer_ttl: Duration,
    pub offer_reminder_before: Duration,
    pub inactivity_after: Duration,
    pub inactivity_repeat: Duration,
    pub flash_mentoring: bool,
    pub timezone: Tz,
    /// Approving a person (`/status … A` from AI or SI, the `/screening` button) also makes
    /// their personas in this program ready to be matched (docs/domain.md#ready-on-approval).
    pub ready_on_approval: bool,
    /// How many mentees a mentor takes at once, each on a persona of their own, unless the
    /// mentor has their own number (`/capacity`; docs/domain.md#capacity).
    pub mentor_capacity: u32,
    /// Reminders and nudges to a person that fall in this window of their day wait until it
    /// ends, unless they set their own (docs/domain.md#quiet-hours).
    pub quiet_hours: QuietHours,
}

/// The most mentees a mentor takes at once, by `mentor_capacity` or `/capacity`.
pub const MAX_MENTOR_CAPACITY: u32 = 10;

/// One row per setting: the name staff type in `/program_set`, and what it means.
pub const SETTINGS: [(&str, &str); 11] = [
    ("max_choices", "how many mentors a mentee may rank (1–20)"),
    (
        "recommendations",
        "how many mentors a mentee is shown (1–50)",
    ),
    (
        "offer_ttl",
        "how long a mentor has to answer an offer, like 72h",
    ),
    (
        "offer_reminder_before",
        "remind the mentor this long before the offer expires, like 24h",
    ),
    (
        "inactivity_after",
        "a person is inactive after this long without activity, like 15d",
    ),
    (
        "inactivity_repeat",
        "at most one inactivity reminder per this period, like 15d",
    ),
    (
        "flash_mentoring",
        "yes if a match is for one session: it closes by itself once that session has ended",
    ),
    (
        "timezone",
        "the program's time zone for shown times, like America/Sao_Paulo",
    ),
    (
        "ready_on_approval",
        "yes if approving a person (/status A, the /screening button) also makes them ready to be matched (RTBM)",
    ),
    (
        "mentor_capacity",
        "how many mentees a mentor takes at once (1–10); /capacity sets one mentor's own",
    ),
    (
        "quiet_hours",
        "reminders and nudges wait while it is night for the person, like 21-8 (21:00 to 08:00), or off",
    ),
];

/// The settings' names, in [`SETTINGS`]' order: what `/program_set` offers as choices, read
/// from the table so a new setting is offered the moment it is added there.
pub const SETTING_NAMES: [&str; SETTINGS.len()] = {
    let mut out = [""; SETTINGS.len()];
    let mut i = 0;
    while i < SETTINGS.len() {
        out[i] = SETTINGS[i].0;
        i += 1;
    }
    out
};

impl ProgramSettings {
    /// Sets one setting from text, validating it; the error names the setting and the fix,
    /// and a refused value leaves the settings as they were.
    pub fn set(&mut self, name: &str, raw: &str) -> Result<(), Error> {
        let mut next = self.clone();
        next.set_unchecked(name, raw)?;
        next.check()?;
        *self = next;
        Ok(())
    }

    fn set_unchecked(&mut self, name: &str, raw: &str) -> Result<(), Error> {
        let name = name.trim().to_lowercase();
        match name.as_str() {
            "max_choices" => self.max_choices = parse_count(&name, raw, 1, 20)?,
            "recommendations" => self.recommendations = parse_count(&name, raw, 1, 50)?,
            "offer_ttl" => self.offer_ttl = parse_duration(raw)?,
            "offer_reminder_before" => self.offer_reminder_before = parse_duration(raw)?,
            "inactivity_after" => self.inactivity_after = parse_duration(raw)?,
            "inactivity_repeat" => self.inactivity_repeat = parse_duration(raw)?,
            "flash_mentoring" => self.flash_mentoring = parse_yes_no(&name, raw)?,
            "timezone" => self.timezone = parse_timezone(raw)?,
            "ready_on_approval" => self.ready_on_approval = parse_yes_no(&name, raw)?,
            "mentor_capacity" => {
                self.mentor_capacity = parse_count(&name, raw, 1, MAX_MENTOR_CAPACITY)?;
            }
            "quiet_hours" => self.quiet_hours = QuietHours::parse(&name, raw)?,
            _ => {
                return Err(Error::input(format!(
                    "'{}' is not a program setting: use one of {}",
                    echo(&name),
                    SETTINGS
                        .iter()
                        .map(|(n, _)| *n)
                        .collect::<Vec<_>>()
                        .join(", ")
                )));
            }
        }
        Ok(())
    }

    /// Rules that tie settings together.
    pub fn check(&self) -> Result<(), Error> {
        if self.offer_reminder_before >= self.offer_ttl {
            return Err(Error::input(format!(
                "offer_reminder_before ({}) must be shorter than offer_ttl ({}): lower the reminder or raise the deadline",
                format_duration(self.offer_reminder_before),
                format_duration(self.offer_ttl)
            )));
        }
        if !(1..=MAX_MENTOR_CAPACITY).contains(&self.mentor_capacity) {
            return Err(Error::input(format!(
                "mentor_capacity must be a whole number from 1 to {MAX_MENTOR_CAPACITY}, not {}",
                self.mentor_capacity
            )));
        }
        if self.max_choices > self.recommendations {
            return Err(Error::input(format!(
                "max_choices ({}) cannot exceed recommendations ({}): a mentee ranks from what they are shown",
                self.max_choices, self.recommendations
            )));
        }
        Ok(())
    }

    pub fn get(&self, name: &str) -> Option<String> {
        Some(match name {
            "max_choices" => self.max_choices.to_string(),
            "recommendations" => self.recommendations.to_string(),
            "offer_ttl" => format_duration(self.offer_ttl),
            "offer_reminder_before" => format_duration(self.offer_reminder_before),
            "inactivity_after" => format_duration(self.inactivity_after),
            "inactivity_repeat" => format_duration(self.inactivity_repeat),
            "flash_mentoring" => yes_no(self.flash_mentoring),
            "timezone" => self.timezone.name().to_string(),
            "ready_on_approval" => yes_no(self.ready_on_approval),
            "mentor_capacity" => self.mentor_capacity.to_string(),
            "quiet_hours" => self.quiet_hours.code(),
            _ => return None,
        })
    }

    pub fn describe(&self) -> String {
        SETTINGS
            .iter()
            .map(|(n, _)| format!("{n}={}", self.get(n).unwrap_or_default()))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

fn yes_no(b: bool) -> String {
    if b { "yes" } else { "no" }.to_string()
}

fn parse_count(name: &str, raw: &str, min: u32, max: u32) -> Result<u32, Error> {
    raw.trim()
        .parse::<u32>()
        .ok()
        .filter(|n| (min..=max).contains(n))
        .ok_or_else(|| {
            Error::input(format!(
                "{name} must be a whole number from {min} to {max}, not '{}'",
                echo(raw.trim())
            ))
        })
}

pub fn parse_yes_no(name: &str, raw: &str) -> Result<bool, Error> {
    match raw.trim().to_lowercase().as_str() {
        "yes" | "y" | "true" | "on" | "1" => Ok(true),
        "no" | "n" | "false" | "off" | "0" => Ok(false),
        _ => Err(Error::input(format!(
            "{name} must be yes or no, not '{}'",
            echo(raw.trim())
        ))),
    }
}

pub fn parse_timezone(raw: &str) -> Result<Tz, Error> {
    raw.trim().parse::<Tz>().map_err(|_| {
        Error::input(format!(
            "'{}' is not a time zone: use an IANA name like UTC, Europe/Lisbon or America/Sao_Paulo",
            echo(raw.trim())
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn defaults() -> ProgramSettings {
        ProgramSettings {
            max_choices: 3,
            recommendations: 5,
            offer_ttl: Duration::hours(72),
            offer_reminder_before: Duration::hours(24),
            inactivity_after: Duration::days(15),
            inactivity_repeat: Duration::days(15),
            flash_mentoring: false,
            timezone: Tz::UTC,
            ready_on_approval: false,
            mentor_capacity: 1,
            quiet_hours: QuietHours::default(),
        }
    }

    #[test]
    fn a_refused_setting_or_value_is_quoted_back_cut_short() {
        let long = "x".repeat(100_000);
        let mut s = defaults();
        for name in [
            "max_choices",
            "recommendations",
            "offer_ttl",
            "flash_mentoring",
            "timezone",
            "ready_on_approval",
            "mentor_capacity",
            long.as_str(),
        ] {
            let m = s
                .set(name, &long)
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default();
            assert!(
                m.chars().count() < 300 && m.contains("xxx…"),
                "{}: {m}",
                &name[..name.len().min(20)]
            );
        }
    }

    #[test]
    fn settings_are_set_by_name_and_validated() {
        let mut s = defaults();
        assert!(s.set("offer_ttl", "48h").is_ok());
        assert_eq!(s.get("offer_ttl").as_deref(), Some("2d"));
        assert!(s.set("timezone", "America/Sao_Paulo").is_ok());
        let before = s.clone();
        assert!(s.set("offer_reminder_before", "3d").is_err());
        assert!(s.set("colour", "blue").is_err());
        assert!(s.set("max_choices", "0").is_err());
        // A refused value must not stick.
        assert!(s.set("max_choices", "9").is_err());
        assert_eq!(s, before);
    }

    #[test]
    fn every_setting_in_the_table_is_set_and_read_by_its_name() {
        // A row of SETTINGS that `get` or `set` does not know would be listed by /program_set
        // yet refused or shown empty.
        let s = defaults();
        for (name, _) in SETTINGS {
            let shown = s.get(name).unwrap_or_else(|| panic!("get {name}"));
            let mut t = s.clone();
            assert!(t.set(name, &shown).is_ok(), "{name} = {shown}");
            assert_eq!(t, s, "{name}");
        }
        assert_eq!(SETTING_NAMES.len(), SETTINGS.len());
    }

    #[test]
    fn ready_on_approval_is_a_yes_or_no() {
        let mut s = defaults();
        assert_eq!(s.get("ready_on_approval").as_deref(), Some("no"));
        assert!(s.set("ready_on_approval", "yes").is_ok());
        assert!(s.ready_on_approval);
        assert!(s.describe().contains("ready_on_approval=yes"));
        let m = s
            .set("ready_on_approval", "sometimes")
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(m.contains("ready_on_approval must be yes or no"), "{m}");
        assert!(s.ready_on_approval);
    }
}
