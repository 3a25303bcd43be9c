//! Sessions between the two people of a match (docs/domain.md#sessions): booked in the program's
//! time zone, listed, cancelled, and reminded 24 hours and 1 hour before (each only when booked
//! further ahead than that).

use chrono::{NaiveDateTime, TimeZone};

use super::prelude::*;
use crate::command::screen::{Fit, PageNo, Screen};
use crate::domain::people::persona_user;
use crate::domain::sessions::{
    book, cancellations, invitation, length_of, place_of, program_of_match, reminders_line,
    session_parties,
};
use crate::domain::show::when;
use crate::ics::Method;
use crate::messages;
use crate::reply::{Attachment, echo};
use crate::status::MatchStatus;
use crate::store::matches::{Match, MatchState};
use crate::store::sessions::{NewSession, ReminderColumn, Session, SessionState};
use crate::store::users::User;
use crate::store::{self};
use crate::text::counted;

/// The caller's matches (open ones only, unless `closed_too`), each with the other person.
async fn my_matches(ctx: &mut Ctx<'_>, me: &User, closed_too: bool) -> Result<Vec<(Match, User)>> {
    let mut out = Vec::new();
    for p in store::users::personas_of(ctx.c(), me.id).await? {
        if !closed_too && p.match_status != MatchStatus::Matched {
            continue;
        }
        for m in store::matches::of_persona(ctx.c(), p.id).await? {
            if (m.state == MatchState::Open || closed_too)
                && let Some(other_pid) = m.counterpart(p.id)
            {
                let (_, other) = persona_user(ctx, other_pid).await?;
                out.push((m, other));
            }
        }
    }
    Ok(out)
}

command! {
    pub struct SessionBook {
        name: "session_book",
        about: "Book a session with your match (in the program's time zone); both get a calendar invitation",
        access: Access::Member(Member::Participant),
        example: "/session_book at:\"2026-12-01 17:00\" duration:45m place:\"Room 4\"",
        args: {
            with: Option<PersonRef> = opt_pos(K::Person, "your match, when you have several"),
            at: String = req(K::Line, "date and time, like \"2026-12-01 17:00\""),
            duration: Option<String> = opt(K::Line, "how long, like 45m or 2h (default 1h)"),
            place: Option<String> = opt(K::Line, "where you meet: a room, an address or a video link"),
        }
    }
}

pub(crate) async fn session_book(ctx: &mut Ctx<'_>, a: SessionBook) -> Result<Reply> {
    // docs/domain.md#sessions: the length and the place are checked before anything else, so a
    // bad one is refused whatever else the booking holds, and nothing is stored.
    let length = length_of(a.duration.as_deref())?;
    let place = place_of(a.place.as_deref())?;
    let me = ctx.me()?.clone();
    let mut matches = my_matches(ctx, &me, false).await?;
    if let Some(with) = a.with.as_deref() {
        let w = with.trim().to_lowercase();
        matches.retain(|(_, o)| {
            o.email == w
                || o.full_name.to_lowercase().contains(&w)
                || with.trim() == format!("#{}", o.id)
        });
    }
    let (m, other) = match matches.len() {
        1 => matches.remove(0),
        0 => {
            return Err(Error::conflict(
                "you have no active match to book a session with (check the name given in with:)",
            ));
        }
        _ => {
            return Err(Error::Ambiguous(format!(
                "you have several matches: {}. Add with:NAME",
                matches
                    .iter()
                    .map(|(_, o)| o.full_name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
    };
    let program = program_of_match(ctx, &m).await?;
    let tz = program
        .as_ref()
        .map(|p| p.settings.timezone)
        .unwrap_or(chrono_tz::Tz::UTC);
    let raw = a.at.trim().replace('T', " ");
    let naive = NaiveDateTime::parse_from_str(&raw, "%Y-%m-%d %H:%M").map_err(|_| {
        Error::input(format!(
            "'{}' is not a date and time: write it as at:\"2026-12-01 17:00\" ({} time)",
            echo(&raw),
            tz.name()
        ))
    })?;
    // Quoted back as read, not as typed: chrono lets runs of spaces and leading zeros through.
    let raw = naive.format("%Y-%m-%d %H:%M");
    let starts = tz
        .from_local_datetime(&naive)
        .earliest()
        .ok_or_else(|| {
            Error::input(format!(
                "{raw} does not exist in {} (the clocks change then): pick another time",
                tz.name()
            ))
        })?
        .with_timezone(&chrono::Utc);
    if starts <= ctx.now {
        return Err(Error::input(format!(
            "{raw} ({}) is in the past: pick a time to come",
            tz.name()
        )));
    }
    let new = NewSession {
        match_id: m.id,
        starts_at: starts,
        length,
        place: place.as_deref(),
        by: me.id,
    };
    let (session, reminders) = book(ctx, &new).await?;
    let id = session.id;
    let at = when(program.as_ref(), starts);
    let details = details(&session);
    // docs/domain.md#sessions: both people get the same invitation (one UID), by email and in
    // chat: the other person with the chat message, the booker with the reply.
    // The mentee first, then the mentor (`session_parties`).
    let people = session_parties(ctx, &session).await?.1;
    let invite: Vec<Attachment> =
        invitation(ctx, &session, program.as_ref(), &people, Method::Request)
            .into_iter()
            .collect();
    let text = format!(
        "{} booked a session with you for {at}{details} (session #{id}). The calendar invitation is attached.",
        me.full_name
    );
    ctx.chat_with(
        &other,
        "session_booked",
        &format!("session:{id}:booked"),
        text,
        Vec::new(),
        &invite,
    )
    .await?;
    let reminded = reminders_line(&reminders);
    for (who, counterpart) in [(&me, &other), (&other, &me)] {
        let mail = messages::session_booked_reminded(
            &who.full_name,
            &counterpart.full_name,
            &at,
            &details,
            reminded,
        );
        ctx.email_with(
            who,
            "session_booked",
            format!("session:{id}:booked:{}", who.id),
            mail,
            &invite,
        )
        .await?;
    }
    // docs/domain.md#sessions: the reply says which reminders will follow, and
    // docs/domain.md#flash-mentoring: that a flash match ends with its first session.
    let reminded = match (
        reminders.contains(&ReminderColumn::DayBefore),
        reminders.contains(&ReminderColumn::HourBefore),
    ) {
        (true, true) => "You will both be reminded a day and an hour before.",
        (true, false) => "You will both be reminded a day before.",
        (false, true) => "You will both be reminded an hour before.",
        (false, false) => "It is an hour away or less: no reminder will follow.",
    };
    let flash = if program.as_ref().is_some_and(|p| p.settings.flash_mentoring) {
        " This program uses flash mentoring: your match closes by itself once its first session has ended."
    } else {
        ""
    };
    // The booker gets the invitation with this reply too, to add it to their calendar there.
    let mut reply = Reply::text(format!(
        "Session #{id} with {} booked for {at}{details}. The calendar invitation is attached, and you both get it by email. {reminded}{flash}",
        other.full_name
    ))
    .with_button("Cancel it", format!("/session_cancel {id}"));
    for file in invite {
        reply = reply.with_attachment(file);
    }
    Ok(reply)
}

/// ", 45 minutes, at Room 4": a session's length and place as messages add them to its time.
fn details(s: &Session) -> String {
    let minutes = s.length.num_minutes();
    let length = match (minutes / 60, minutes % 60) {
        (0, m) => counted(m, "minute", "minutes"),
        (h, 0) => counted(h, "hour", "hours"),
        (h, m) => format!(
            "{} {}",
            counted(h, "hour", "hours"),
            counted(m, "minute", "minutes")
        ),
    };
    match &s.place {
        Some(place) => format!(", {length}, at {place}"),
        None => format!(", {length}"),
    }
}

command! {
    pub struct Sessions {
        name: "sessions",
        about: "Your upcoming sessions",
        access: Access::Member(Member::Participant),
        example: "/sessions",
        press: crate::command::spec::Press::Replaces,
        args: {
            page: PageNo = opt(K::Number, "which screen of the list (default 1: the soonest)"),
        }
    }
}

pub(crate) async fn sessions(ctx: &mut Ctx<'_>, a: Sessions) -> Result<Reply> {
    let me = ctx.me()?.clone();
    let mut upcoming = Vec::new();
    for (m, other) in my_matches(ctx, &me, true).await? {
        let program = program_of_match(ctx, &m).await?;
        for s in store::sessions::of_match(ctx.c(), m.id).await? {
            if s.state != SessionState::Booked || s.starts_at <= ctx.now {
                continue;
            }
            let line = format!(
                "#{} {} with {}",
                s.id,
                when(program.as_ref(), s.starts_at),
                other.full_name
            );
            upcoming.push((s.starts_at, s.id, line));
        }
    }
    if upcoming.is_empty() {
        return Ok(Reply::text(
            "You have no upcoming sessions. Book one with /session_book at:\"YYYY-MM-DD HH:MM\".",
        ));
    }
    upcoming.sort();
    // A person's sessions are a handful: paged in memory, one screen of them with a Cancel
    // button each (docs/domain.md#lists).
    let fit = Fit::of(ctx.caller.frontend);
    let skip = usize::try_from(a.page.offset(fit)).unwrap_or(usize::MAX);
    let shown: Vec<&(chrono::DateTime<chrono::Utc>, i64, String)> =
        upcoming.iter().skip(skip).take(fit.lines).collect();
    let screen = Screen {
        heading: "Upcoming sessions, soonest first".into(),
        lines: shown.iter().map(|(_, _, line)| line.clone()).collect(),
        total: upcoming.len() as u64,
        page: a.page,
        fit,
        narrow: "cancel the ones you will not hold",
    };
    let mut reply = screen.reply(ctx.invocation()?, None)?;
    let paging = std::mem::take(&mut reply.buttons);
    for (_, id, _) in shown {
        reply = reply.with_button(format!("Cancel #{id}"), format!("/session_cancel {id}"));
    }
    reply.buttons.extend(paging);
    Ok(reply)
}

command! {
    pub struct SessionCancel {
        name: "session_cancel",
        about: "Cancel a session",
        access: Access::Member(Member::Participant),
        example: "/session_cancel 3",
        args: {
            session: Id = pos(K::Number, "the session number from /sessions"),
        }
    }
}

pub(crate) async fn session_cancel(ctx: &mut Ctx<'_>, a: SessionCancel) -> Result<Reply> {
    let me = ctx.me()?.clone();
    let id = a.session.get();
    let not_found = || Error::not_found(format!("you have no session #{id}: see /sessions"));
    let s = store::sessions::get(ctx.c(), id)
        .await?
        .ok_or_else(not_found)?;
    let (m, people) = session_parties(ctx, &s).await?;
    let is_staff = ctx.actor.holds(Capability::Pair);
    if !people.iter().any(|u| u.id == me.id) && !is_staff {
        return Err(not_found());
    }
    if s.state != SessionState::Booked {
        return Err(Error::conflict(format!(
            "session #{id} is {} already",
            s.state
        )));
    }
    let now = ctx.now;
    if !store::sessions::cancel(ctx.c(), id, now).await? {
        return Err(Error::conflict(format!(
            "session #{id} was cancelled a moment ago"
        )));
    }
    let program = program_of_match(ctx, &m).await?;
    let at = when(program.as_ref(), s.starts_at);
    // docs/domain.md#sessions: both people had the invitation, so both get its cancellation
    // (same UID, higher SEQUENCE) by email, the one who cancelled too, so it leaves their
    // calendar; the chat message goes to the others, as before.
    let cancel = cancellations(ctx, std::slice::from_ref(&s), program.as_ref(), &people);
    for u in &people {
        let other = people
            .iter()
            .find(|x| x.id != u.id)
            .map(|x| x.full_name.clone())
            .unwrap_or_default();
        if u.id != me.id {
            ctx.chat_with(
                u,
                "session_cancelled",
                &format!("session:{id}:cancelled"),
                format!("{} cancelled the session of {at}.", me.full_name),
                Vec::new(),
                &cancel,
            )
            .await?;
        }
        let by = if u.id == me.id {
            "You"
        } else {
            me.full_name.as_str()
        };
        let mail = messages::session_cancelled(&u.full_name, &other, &at, by);
        ctx.email_with(
            u,
            "session_cancelled",
            format!("session:{id}:cancelled:{}", u.id),
            mail,
            &cancel,
        )
        .await?;
    }
    Ok(Reply::text(format!(
        "Session #{id} of {at} is cancelled; the other person has been told, and you both get the calendar cancellation by email."
    )))
}
