//! `/start`, `/help`, `/link`, `/me`: what everybody can run.

use super::ago;
use super::prelude::*;
use crate::command::caller::Who;
use crate::command::screen::Fit;
use crate::command::spec::{listed, refusal};
use crate::domain;
use crate::domain::Audit;
use crate::quiet::QuietHours;
use crate::reply::echo;
use crate::roles::PersonaRole;
use crate::status::BotAccess;
use crate::status::MatchStatus;
use crate::store;
use crate::store::matches::MatchState;
use crate::values::LinkCode;

command! {
    pub struct Start {
        name: "start",
        about: "Say hello and see how to link your account",
        access: Access::Open,
        example: "/start",
        args: {}
    }
}

/// Why the bot does less for this person than for a participant, if it does (the start of
/// `/start`, `/help` and `/me`), from the one access rule (`status::bot_access`).
fn limited_because(access: Option<BotAccess>) -> Option<&'static str> {
    match access? {
        BotAccess::Full | BotAccess::None => None,
        BotAccess::ApplicationOnly => Some(
            "Your application is not complete yet: until it is, the bot helps you finish it (/apply) and shows your status (/me).",
        ),
        BotAccess::StatusOnly => Some(
            "Your match is closed and you are not coming back for a new one, so the bot shows you your status only (/me). If you are coming back, ask your program manager.",
        ),
    }
}

pub(crate) async fn start(ctx: &mut Ctx<'_>, _: Start) -> Result<Reply> {
    let limited = limited_because(ctx.actor.access);
    Ok(match ctx.actor.user.as_ref() {
        Some(u) => Reply::text(match limited {
            Some(why) => format!("Hello {}! {why}", u.full_name),
            None => format!(
                "Hello {}! You are linked to mentorops. Send /me to see where you are and /help for what you can do.",
                u.full_name
            ),
        }),
        None => Reply::text(
            "Welcome to mentorops, the mentoring program's assistant.\n\
             To start, link this chat with the code from your welcome email: /link CODE\n\
             No code? Ask your program manager to add you.",
        ),
    })
}

command! {
    pub struct Help {
        name: "help",
        about: "List the commands you can use, or explain one",
        access: Access::Open,
        example: "/help user_add",
        args: {
            command: Option<String> = opt_pos(K::Line, "a command name"),
        }
    }
}

pub(crate) async fn help(ctx: &mut Ctx<'_>, a: Help) -> Result<Reply> {
    let who = ctx.actor.audience();
    if let Some(name) = a.command.as_deref() {
        let name = name.trim().trim_start_matches('/').to_lowercase();
        let spec = ctx
            .commands
            .iter()
            .find(|c| c.name == name)
            .ok_or_else(|| {
                Error::input(format!(
                    "there is no command /{}: send /help for the list",
                    echo(&name)
                ))
            })?;
        let mut text = format!("/{} — {}\nUsage: {}\n", spec.name, spec.about, spec.usage());
        for a in spec.args {
            text.push_str(&format!(
                "  {}{}: {}\n",
                a.name,
                if a.required { "" } else { " (optional)" },
                a.about
            ));
        }
        text.push_str(&format!("Example: {}", spec.example));
        if refusal(spec, who).is_some() {
            text.push_str("\n(You cannot run this one with your current role or status.)");
        } else if let Some(role) = spec.listed_for.filter(|_| !listed(spec, who)) {
            text.push_str(&format!("\n(This one is for {}s.)", role.code()));
        }
        return Ok(Reply::text(text));
    }
    let visible: Vec<_> = ctx.commands.iter().filter(|c| listed(c, who)).collect();
    let mut text = String::from("Commands you can use:\n");
    for c in &visible {
        text.push_str(&format!("/{} — {}\n", c.name, c.about));
    }
    // A staff member's list with what each does is longer than a Discord message: there the
    // names alone, a few to a line, and /help NAME says what one does.
    let fit = Fit::of(ctx.caller.frontend);
    if text.chars().count() + 80 > fit.chars {
        text = String::from("Commands you can use (/help NAME says what one does):\n");
        let mut line = String::new();
        for c in &visible {
            if !line.is_empty() && line.chars().count() + c.name.len() + 3 > 60 {
                text.push_str(line.trim_end());
                text.push('\n');
                line.clear();
            }
            line.push_str(&format!("/{}  ", c.name));
        }
        text.push_str(line.trim_end());
        text.push('\n');
    }
    if let Some(why) = limited_because(ctx.actor.access) {
        text.push_str(&format!("\n{why}"));
    } else if visible.len() < ctx.commands.len() && ctx.actor.user.is_none() {
        text.push_str("\nLink your account with /link CODE to see more.");
    } else {
        text.push_str("\nSend /help NAME for the details of one command.");
    }
    Ok(Reply::text(text.trim_end().to_string()))
}

/// The limits on guessing link codes (README "Security"): this account's wrong codes within the
/// lockout, and everybody's within the last minute.
async fn refuse_if_guessing(ctx: &mut Ctx<'_>, provider: &str, account_id: &str) -> Result<()> {
    let limits = &ctx.settings().links;
    let (max, per_minute) = (limits.max_wrong_codes, limits.max_wrong_codes_per_minute);
    let lockout = ctx.settings().link_lockout();
    let now = ctx.now;
    let mine = store::links::wrong_codes_of(ctx.c(), provider, account_id, now - lockout).await?;
    if mine.len() >= max {
        // Locked until the oldest wrong code that still counts is a lockout old.
        let until = mine[mine.len() - max] + lockout;
        return Err(Error::forbidden(format!(
            "too many wrong codes from this account: /link works again at {} UTC; meanwhile check the code in your welcome email",
            until.format("%H:%M")
        )));
    }
    if store::links::wrong_codes_since(ctx.c(), now - chrono::Duration::minutes(1)).await?
        >= per_minute
    {
        return Err(Error::forbidden(
            "too many wrong codes were tried in the last minute: try again in a minute",
        ));
    }
    Ok(())
}

command! {
    pub struct Link {
        name: "link",
        about: "Link this chat account with the code from your welcome email",
        access: Access::Open,
        example: "/link K7PQ2MZX",
        args: {
            code: LinkCode = pos(K::Code, "the 8-character code"),
        }
    }
}

pub(crate) async fn link(ctx: &mut Ctx<'_>, a: Link) -> Result<Reply> {
    let Who::Account {
        provider,
        account_id,
        handle,
    } = ctx.caller.who.clone()
    else {
        return Err(Error::conflict(
            "this console session already acts as a user (--as): /link is for chat accounts; start `mentorops console` without --as to try it",
        ));
    };
    if let Some(u) = ctx.actor.user.as_ref() {
        return Err(Error::conflict(format!(
            "this chat account is already linked to {}: nothing to do (send /me)",
            u.full_name
        )));
    }
    let code = a.code;
    refuse_if_guessing(ctx, &provider, &account_id).await?;
    let row = store::links::code(ctx.c(), code.as_str())
        .await?
        .filter(|r| r.used_at.is_none() && r.expires_at > ctx.now)
        .ok_or(Error::WrongLinkCode)?;
    let user = store::users::user(ctx.c(), row.user_id)
        .await?
        .ok_or_else(|| Error::not_found("the person this code was for no longer exists"))?;
    if user.status.is_deactivated() {
        return Err(Error::Deactivated);
    }
    let now = ctx.now;
    if !store::links::use_code(ctx.c(), code.as_str(), now).await? {
        return Err(Error::WrongLinkCode);
    }
    store::links::insert_link(
        ctx.c(),
        &provider,
        &account_id,
        handle.as_deref(),
        user.id,
        now,
    )
    .await?;
    // The person links their own account: the entry names them as who did it.
    let work: &mut domain::Work<'_> = &mut *ctx;
    work.actor = domain::Actor::User(user.id);
    ctx.audit(Audit::user(user.id, "chat_link").to(provider.clone()))
        .await?;
    // Linking is the person's first act: it counts as activity.
    store::users::touch_activity(ctx.c(), user.id, now).await?;
    let next = if user.status.info().bot_access == BotAccess::ApplicationOnly {
        "Next: complete your application."
    } else {
        "Send /me to see where you are, and /help for what you can do."
    };
    Ok(Reply::text(format!(
        "Linked! This {provider} account is now {}. {next}",
        user.full_name
    )))
}

command! {
    pub struct Me {
        name: "me",
        about: "Your status, personas and roles; quiet: and tz: set your quiet hours and time zone",
        access: Access::Member(Member::Status),
        example: "/me",
        args: {
            quiet: Option<String> = opt(K::Line, "your quiet hours, like 22-07, or off: reminders wait until they end"),
            tz: Option<String> = opt(K::Line, "your time zone, like Europe/Lisbon (default: your program's)"),
        }
    }
}

pub(crate) async fn me(ctx: &mut Ctx<'_>, a: Me) -> Result<Reply> {
    let user = ctx.me()?.clone();
    // docs/domain.md#quiet-hours: both are read before either is stored, so a refused value
    // changes nothing.
    let quiet = a
        .quiet
        .as_deref()
        .map(|q| QuietHours::parse("quiet", q))
        .transpose()?;
    let tz =
        a.tz.as_deref()
            .map(|z| crate::quiet::parse_zone("tz", z))
            .transpose()?;
    if quiet.is_some() || tz.is_some() {
        let hours = quiet.map(QuietHours::code);
        store::users::set_quiet(ctx.c(), user.id, hours.as_deref(), tz.map(|z| z.name())).await?;
    }
    let info = user.status.info();
    let mut text = format!(
        "{}\nStatus: {} — {}\nCan be matched: {}\n{}",
        user.label(),
        user.status,
        info.meaning,
        if info.can_be_matched { "yes" } else { "no" },
        limited_because(ctx.actor.access)
            .map(|why| format!("{why}\n"))
            .unwrap_or_default()
    );
    let personas = store::users::personas_of(ctx.c(), user.id).await?;
    let mut reply = Reply::default();
    for p in &personas {
        let line = ctx.describe_persona(p).await?;
        text.push_str(&format!("Persona {line}\n"));
        // Who they are (or were) matched with, and whether that person is still here.
        if matches!(p.match_status, MatchStatus::Matched | MatchStatus::Closed) {
            let latest = store::matches::of_persona(ctx.c(), p.id)
                .await?
                .into_iter()
                .max_by_key(|m| m.id);
            if let Some(m) = latest
                && let Some(other) = m.counterpart(p.id)
            {
                let (_, u) = domain::people::persona_user(ctx, other).await?;
                text.push_str(&match m.state {
                    MatchState::Open => format!("  Matched with {}\n", u.shown_name()),
                    MatchState::Closed => format!("  Match with {} closed\n", u.shown_name()),
                });
            }
        }
        // Where their mentoring stands: requests waiting for them, or theirs waiting on a mentor.
        let program = domain::people::program_of(ctx, p).await?;
        match p.role {
            PersonaRole::Mentor => {
                for o in store::offers::pending_for_mentor(ctx.c(), p.id).await? {
                    let (_, mentee) =
                        domain::people::persona_user(ctx, o.mentee_persona_id).await?;
                    // docs/domain.md#cascade-place: their rank and how long they have.
                    let place = o
                        .deadline_at
                        .map(|d| domain::offers::their_choice(program.as_ref(), o.rank, d, ctx.now))
                        .unwrap_or_default();
                    text.push_str(&format!(
                        "  Request #{} from {}. {place}\n",
                        o.id, mentee.full_name
                    ));
                    for b in domain::offers::offer_buttons(o.id) {
                        reply = reply.with_button(format!("{} #{}", b.label, o.id), b.command);
                    }
                }
            }
            PersonaRole::Mentee => {
                // docs/domain.md#cascade-place: the place in their ranking and the deadline.
                if let Some((mentor, place)) = domain::offers::place_of(ctx, p.id).await? {
                    text.push_str(&format!("  Your request is with {mentor} — {place}\n"));
                }
            }
        }
    }
    text.push_str(&quiet_line(ctx, user.id).await?);
    let programs = store::orgs::list_programs(ctx.c()).await?;
    let roles = domain::people::staff_summary(&ctx.actor.grants, &programs);
    if !roles.is_empty() {
        text.push_str(&format!("Staff: {}\n", roles.join(", ")));
    }
    let links = store::links::links_of_user(ctx.c(), user.id).await?;
    if !links.is_empty() {
        text.push_str(&format!(
            "Linked chats: {}\n",
            links
                .iter()
                .map(|l| l.provider.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    text.push_str(&format!(
        "Last active: {}",
        ago(ctx.now, user.last_activity_at)
    ));
    reply.text = text;
    Ok(reply)
}

/// `/me`'s line on quiet hours (docs/domain.md#quiet-hours): the window and zone that hold for
/// the person, whose they are, and how to change them.
async fn quiet_line(ctx: &mut Ctx<'_>, user_id: i64) -> Result<String> {
    let own = store::users::quiet_of(ctx.c(), &[user_id])
        .await?
        .remove(&user_id)
        .unwrap_or_default();
    let (hours, tz) = domain::work::quiet_window(&own, ctx.program_defaults());
    let whose = if own.hours.is_some() {
        "yours"
    } else {
        "your program's"
    };
    Ok(match hours {
        QuietHours::Off => format!(
            "Quiet hours: off ({whose}): reminders come at any hour. /me quiet:22-07 sets some\n"
        ),
        _ => format!(
            "Quiet hours: {hours} in {} ({whose}): reminders and nudges wait until they end. /me quiet:off or quiet:22-07 changes them, tz: your time zone\n",
            tz.name()
        ),
    })
}
