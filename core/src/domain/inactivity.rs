//! Inactivity: who is reminded, and when (docs/domain.md#inactivity). The worker finds the
//! candidates (`crate::timers`); this decides for one person and queues their reminder.

use chrono::{DateTime, Duration, Utc};

use super::work::Work;
use crate::error::Result;
use crate::status::BotAccess;
use crate::store::{self};

/// One person's inactivity rule (docs/domain.md#inactivity): if they can use the bot
/// (A, SI) and are due under any of their personas' programs (the defaults for an unassigned
/// persona) — inactive for that `inactivity_after`, and not reminded in this inactivity period
/// or not for that `inactivity_repeat` — claims the reminder with a compare-and-swap and queues
/// the chat message and the email. False when not due or another worker claimed it first, so
/// a job may run it twice.
pub async fn remind(w: &mut Work<'_>, user_id: i64) -> Result<bool> {
    let now = w.now;
    let Some(user) = store::users::user(w.c(), user_id).await? else {
        return Ok(false);
    };
    if user.status.info().bot_access != BotAccess::Full {
        return Ok(false);
    }
    let d = w.program_defaults();
    let periods: Vec<(Duration, Duration)> = store::users::inactivity_periods(w.c(), user_id)
        .await?
        .into_iter()
        .map(|p| p.unwrap_or((d.inactivity_after, d.inactivity_repeat)))
        .collect();
    let since = user.activity_reference();
    let last = store::users::inactivity_reminded_at(w.c(), user_id).await?;
    if !due(since, last, &periods, now)
        || !store::users::mark_inactivity_reminded(w.c(), user_id, last, now).await?
    {
        return Ok(false);
    }
    let days = (now - since).num_days();
    let key = format!("inactive:{user_id}:{}", now.timestamp_millis());
    let text = format!(
        "We have not seen you for {}! Send /me to see where your mentoring stands.",
        crate::text::counted(days, "day", "days")
    );
    w.chat(&user, "inactivity", &key, text, Vec::new()).await?;
    w.email(
        &user,
        "inactivity",
        key,
        crate::messages::inactivity_reminder(&user.full_name, days),
    )
    .await?;
    Ok(true)
}

/// Due under any one `(after, repeat)`: quiet for `after` since `since`, and either never
/// reminded, reminded before `since` (active again since: a new period), or reminded at least
/// `repeat` ago. `store::users::inactive_candidate_ids` is this in SQL; keep them together.
fn due(
    since: DateTime<Utc>,
    last: Option<DateTime<Utc>>,
    periods: &[(Duration, Duration)],
    now: DateTime<Utc>,
) -> bool {
    periods.iter().any(|&(after, repeat)| {
        now - since >= after
            && match last {
                None => true,
                Some(t) => t < since || now - t >= repeat,
            }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(day: i64) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0)
            .single()
            .unwrap_or_default()
            + Duration::days(day)
    }

    #[test]
    fn due_once_the_threshold_is_reached_not_a_millisecond_before() {
        let p = [(Duration::days(15), Duration::days(15))];
        assert!(due(at(0), None, &p, at(15)));
        assert!(!due(at(0), None, &p, at(15) - Duration::milliseconds(1)));
        assert!(!due(at(0), None, &[], at(99)), "no persona, no reminder");
    }

    #[test]
    fn one_reminder_per_period_then_per_repeat() {
        let p = [(Duration::days(15), Duration::days(10))];
        assert!(!due(at(0), Some(at(15)), &p, at(24)));
        assert!(due(at(0), Some(at(15)), &p, at(25)));
        // Active again at day 20 after a reminder at 15: a new period, due at 35, not at 25.
        assert!(!due(at(20), Some(at(15)), &p, at(34)));
        assert!(due(at(20), Some(at(15)), &p, at(35)));
    }

    #[test]
    fn due_under_any_of_several_programs() {
        let p = [
            (Duration::days(30), Duration::days(30)),
            (Duration::days(7), Duration::days(7)),
        ];
        assert!(due(at(0), None, &p, at(7)));
        assert!(!due(at(0), Some(at(7)), &p, at(13)));
        assert!(due(at(0), Some(at(7)), &p, at(14)));
    }
}
