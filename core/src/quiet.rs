//! Quiet hours (docs/domain.md#quiet-hours): a window of the day, in a person's time zone, in
//! which reminders and nudges are not delivered but wait for its end. The window is a program
//! setting (`quiet_hours`, default 21–8) that a person may replace with their own (`/me
//! quiet:`), read in their own time zone (`/me tz:`, default the program's). Only the delivery
//! waits: no deadline, expiry or state change moves (docs/domain.md#quiet-hours).

use chrono::{DateTime, Duration, NaiveTime, TimeZone, Timelike, Utc};
use chrono_tz::Tz;

use crate::error::Error;
use crate::reply::echo;

/// The kinds of outbox message that wait out quiet hours: reminders, nudges and the notice that
/// a pause has ended, which nobody is waiting on at that moment. Everything else — a command's
/// reply, an offer to a mentor, an outcome, a pairing, a cancellation — goes at once
/// (docs/domain.md#quiet-hours says why).
pub const WAITING_KINDS: [&str; 5] = [
    "offer_reminder",
    "session_reminder",
    "inactivity",
    "nudge",
    "pause_ended",
];

/// Whether a message of `kind` waits out its recipient's quiet hours.
pub fn waits(kind: &str) -> bool {
    WAITING_KINDS.contains(&kind)
}

/// A quiet window: from `from` to `to` (minutes after midnight), across midnight when `to` is
/// earlier; or none.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QuietHours {
    Off,
    Window { from: u32, to: u32 },
}

impl Default for QuietHours {
    /// 21:00 to 08:00 (docs/domain.md#program-settings).
    fn default() -> Self {
        Self::Window {
            from: 21 * 60,
            to: 8 * 60,
        }
    }
}

impl QuietHours {
    /// `21-8`, `22-07`, `22:30-07:15`, or `off`. `name` is the argument or setting typed
    /// (`quiet`, `quiet_hours`), for the message naming the fix.
    pub fn parse(name: &str, raw: &str) -> Result<Self, Error> {
        let text = raw.trim().to_lowercase();
        if text == "off" || text == "no" || text == "none" {
            return Ok(Self::Off);
        }
        let bad = || {
            Error::input(format!(
                "{name}: '{}' is not quiet hours: write when they start and end as hours of the day, like 21-8 (21:00 to 08:00) or 22:30-07:00, or off for none",
                echo(raw.trim())
            ))
        };
        let (from, to) = text.split_once('-').ok_or_else(bad)?;
        let (from, to) = (
            minute_of_day(from).ok_or_else(bad)?,
            minute_of_day(to).ok_or_else(bad)?,
        );
        if from == to {
            return Err(Error::input(format!(
                "{name}: '{}' starts and ends at the same time: give a window like 21-8, or off for no quiet hours",
                echo(raw.trim())
            )));
        }
        Ok(Self::Window { from, to })
    }

    /// As it is typed back: `21-08`, `22:30-07:00`, `off`.
    pub fn code(self) -> String {
        match self {
            Self::Off => "off".into(),
            Self::Window { from, to } if from % 60 == 0 && to % 60 == 0 => {
                format!("{:02}-{:02}", from / 60, to / 60)
            }
            Self::Window { from, to } => format!(
                "{:02}:{:02}-{:02}:{:02}",
                from / 60,
                from % 60,
                to / 60,
                to % 60
            ),
        }
    }

    /// [`QuietHours::release`] for a reminder of something at `limit` (a session's start): never
    /// held until then or later — a reminder after the event is no reminder, so it goes now
    /// (docs/domain.md#quiet-hours). The outbox's holds and `/upcoming` both ask this.
    pub fn release_before(
        self,
        at: DateTime<Utc>,
        tz: Tz,
        limit: Option<DateTime<Utc>>,
    ) -> Option<DateTime<Utc>> {
        self.release(at, tz)
            .filter(|until| limit.is_none_or(|l| *until < l))
    }

    /// When a message due at `at` may go to someone in `tz`: None when `at` is outside the
    /// window (at once), else the window's end — the first instant at or after the end's local
    /// time that exists (a daylight-saving gap moves it on to the first minute after the gap).
    pub fn release(self, at: DateTime<Utc>, tz: Tz) -> Option<DateTime<Utc>> {
        let Self::Window { from, to } = self else {
            return None;
        };
        let local = at.with_timezone(&tz);
        let now = local.hour() * 60 + local.minute();
        let quiet = if from < to {
            from <= now && now < to
        } else {
            now >= from || now < to
        };
        if !quiet {
            return None;
        }
        // Across midnight and already past `from`: the window ends tomorrow.
        let date = if from > to && now >= from {
            local.date_naive().succ_opt()?
        } else {
            local.date_naive()
        };
        let end = NaiveTime::from_hms_opt(to / 60, to % 60, 0)?;
        let mut wanted = date.and_time(end);
        for _ in 0..4 {
            if let Some(t) = tz.from_local_datetime(&wanted).earliest() {
                return Some(t.with_timezone(&Utc).max(at));
            }
            wanted += Duration::minutes(30);
        }
        None
    }
}

/// The window and the zone that hold for one person (docs/domain.md#quiet-hours): `hours` is
/// their own window and their program's, as stored (None: not set), `zones` likewise; the
/// first set wins, else `defaults`. Stored values were checked when they were set; one that no
/// longer reads (a zone gone from the tz database) falls back the same way.
pub fn of_person(
    hours: [Option<&str>; 2],
    zones: [Option<&str>; 2],
    defaults: (QuietHours, Tz),
) -> (QuietHours, Tz) {
    let hours = hours
        .into_iter()
        .flatten()
        .find_map(|h| QuietHours::parse("quiet", h).ok())
        .unwrap_or(defaults.0);
    let tz = zones
        .into_iter()
        .flatten()
        .find_map(|z| z.trim().parse::<Tz>().ok())
        .unwrap_or(defaults.1);
    (hours, tz)
}

/// A person's time zone as typed (`tz:Europe/Lisbon`): an IANA name, or a message naming the
/// argument and the fix.
pub fn parse_zone(name: &str, raw: &str) -> Result<Tz, Error> {
    raw.trim().parse::<Tz>().map_err(|_| {
        Error::input(format!(
            "{name}: '{}' is not a time zone: use an IANA name like Europe/Lisbon, America/Sao_Paulo or UTC",
            echo(raw.trim())
        ))
    })
}

impl std::fmt::Display for QuietHours {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.code())
    }
}

/// `21`, `8`, `07`, `22:30` as minutes after midnight.
fn minute_of_day(raw: &str) -> Option<u32> {
    let raw = raw.trim();
    let (h, m) = match raw.split_once(':') {
        Some((h, m)) => (h, m),
        None => (raw, "0"),
    };
    let digits = |s: &str| !s.is_empty() && s.len() <= 2 && s.bytes().all(|b| b.is_ascii_digit());
    if !digits(h) || !digits(m) {
        return None;
    }
    let (h, m): (u32, u32) = (h.parse().ok()?, m.parse().ok()?);
    (h < 24 && m < 60).then_some(h * 60 + m)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> Result<DateTime<Utc>, Error> {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, 0)
            .single()
            .ok_or_else(|| Error::Internal("no such time".into()))
    }

    #[test]
    fn windows_are_typed_as_hours_or_off_and_read_back() -> Result<(), Error> {
        assert_eq!(QuietHours::parse("quiet", "21-8")?, QuietHours::default());
        assert_eq!(QuietHours::default().code(), "21-08");
        assert_eq!(
            QuietHours::parse("quiet", " 22:30-07:15 ")?.code(),
            "22:30-07:15"
        );
        assert_eq!(QuietHours::parse("quiet", "OFF")?, QuietHours::Off);
        for bad in [
            "", "21", "25-7", "21-8-9", "9pm-7am", "21:60-8", "-1-8", "8-8",
        ] {
            let m = QuietHours::parse("quiet", bad)
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default();
            assert!(m.contains("quiet: '") && m.contains("21-8"), "{bad}: {m}");
        }
        Ok(())
    }

    #[test]
    fn a_message_in_the_window_waits_for_its_end_in_the_persons_zone() -> Result<(), Error> {
        let q = QuietHours::default();
        let berlin: Tz = "Europe/Berlin"
            .parse()
            .map_err(|_| Error::Internal("tz".into()))?;
        // 22:00 UTC is 23:00 in Berlin: quiet until 08:00 Berlin, 07:00 UTC.
        assert_eq!(
            q.release(utc(2026, 12, 1, 22, 0)?, berlin),
            Some(utc(2026, 12, 2, 7, 0)?)
        );
        // 02:00 Berlin, after midnight: the same morning.
        assert_eq!(
            q.release(utc(2026, 12, 2, 1, 0)?, berlin),
            Some(utc(2026, 12, 2, 7, 0)?)
        );
        // 08:00 Berlin is the end: at once; 20:59 too.
        assert_eq!(q.release(utc(2026, 12, 2, 7, 0)?, berlin), None);
        assert_eq!(q.release(utc(2026, 12, 2, 19, 59)?, berlin), None);
        assert_eq!(
            QuietHours::Off.release(utc(2026, 12, 1, 22, 0)?, berlin),
            None
        );
        // A window within one day (a night worker's 9-17).
        let day = QuietHours::parse("quiet", "9-17")?;
        assert_eq!(
            day.release(utc(2026, 12, 1, 12, 0)?, Tz::UTC),
            Some(utc(2026, 12, 1, 17, 0)?)
        );
        assert_eq!(day.release(utc(2026, 12, 1, 18, 0)?, Tz::UTC), None);
        Ok(())
    }

    #[test]
    fn an_end_in_a_daylight_saving_gap_moves_past_it() -> Result<(), Error> {
        // Europe/Berlin skips 02:00–03:00 on 29 March 2026; a window ending at 02:30 ends at
        // the first time that exists after it.
        let berlin: Tz = "Europe/Berlin"
            .parse()
            .map_err(|_| Error::Internal("tz".into()))?;
        let q = QuietHours::parse("quiet", "23-02:30")?;
        let released = q
            .release(utc(2026, 3, 28, 23, 30)?, berlin)
            .ok_or_else(|| Error::Internal("not quiet".into()))?;
        assert_eq!(released, utc(2026, 3, 29, 1, 0)?);
        Ok(())
    }

    #[test]
    fn only_reminders_and_nudges_wait() {
        for kind in WAITING_KINDS {
            assert!(waits(kind));
        }
        for kind in [
            "reply",
            "offer_sent",
            "offer_outcome",
            "offer_expired",
            "paired",
            "session_cancelled",
        ] {
            assert!(!waits(kind), "{kind}");
        }
    }
}
