//! Prompts: the messages that ask someone to act when their turn comes
//! (docs/domain.md#prompts) — a mentee made ready to be matched gets their best mentors to
//! choose from; a program's staff hear at once of an application waiting to be screened.

use super::people::program_of;
use super::recommend::{Recommendation, recommendations};
use super::work::Work;
use crate::error::Result;
use crate::messages;
use crate::reply::Button;
use crate::roles::PersonaRole;
use crate::status::MatchStatus;
use crate::store::users::{Persona, User};
use crate::store::{self};

/// A mentee persona has just become ready to be matched (RTBM): they are sent their top
/// recommendations, by chat with a Choose button for each and by email — the moment the
/// source material emails a mentee that it is time to choose. Nothing is sent for a mentor, a
/// persona in another status, or a mentee without a program.
pub async fn time_to_choose(w: &mut Work<'_>, persona: &Persona, user: &User) -> Result<()> {
    if persona.role != PersonaRole::Mentee || persona.match_status != MatchStatus::ReadyToBeMatched
    {
        return Ok(());
    }
    let Some(program) = program_of(w, persona).await? else {
        return Ok(());
    };
    let recs = recommendations(w, persona, user, &program).await?;
    let key = format!("persona:{}:ready:{}", persona.id, w.now.timestamp_millis());
    let (text, buttons) = if recs.is_empty() {
        (
            format!(
                "You are ready to be matched in {}! No mentor is available right now: you will hear from me as soon as one is, and your program manager knows.",
                program.full_name()
            ),
            Vec::new(),
        )
    } else {
        let list: Vec<String> = recs.iter().map(Recommendation::line).collect();
        let how = if program.settings.max_choices <= 1 || recs.len() == 1 {
            "Press Choose for the one you want: they get your request at once.".to_string()
        } else {
            format!(
                "Press Choose for one, or rank up to {} with /choose #a #b — the first gets your request at once.",
                (program.settings.max_choices as usize).min(recs.len())
            )
        };
        (
            format!(
                "You are ready to be matched in {}! Your best mentors, best first:\n{}\n{how}",
                program.full_name(),
                list.join("\n"),
            ),
            recs.iter()
                .map(|r| Button {
                    label: format!("Choose {}", r.user.full_name),
                    command: format!("/choose #{}", r.persona.id),
                })
                // Ranking several by pressing them in order (docs/domain.md#ranking-by-buttons),
                // when there is more than one to rank.
                .chain(
                    (program.settings.max_choices > 1 && recs.len() > 1).then(|| Button {
                        label: format!(
                            "Rank up to {} in order",
                            (program.settings.max_choices as usize).min(recs.len())
                        ),
                        command: "/rank".into(),
                    }),
                )
                .collect(),
        )
    };
    w.chat(user, "time_to_choose", &key, text, buttons).await?;
    let list = recs
        .iter()
        .map(Recommendation::line)
        .collect::<Vec<_>>()
        .join("\n");
    w.email(
        user,
        "time_to_choose",
        key,
        messages::time_to_choose(&user.full_name, &program.full_name(), &list),
    )
    .await
}

/// `user` has just completed their application (AI → SI): the staff of each of their programs
/// are told at once, by chat and email, and pointed at `/screening`.
pub async fn application_complete(w: &mut Work<'_>, user: &User) -> Result<()> {
    let mut programs = Vec::new();
    for p in store::users::personas_of(w.c(), user.id).await? {
        if let Some(program) = program_of(w, &p).await?
            && !programs
                .iter()
                .any(|x: &crate::store::orgs::Program| x.id == program.id)
        {
            programs.push(program);
        }
    }
    let at = w.now.timestamp_millis();
    for program in programs {
        for staff_id in store::staff::staff_user_ids_of_program(w.c(), program.id).await? {
            let Some(staff) = store::users::user(w.c(), staff_id).await? else {
                continue;
            };
            let key = format!("application:{}:{at}:staff:{staff_id}", user.id);
            let text = format!(
                "{} completed their application for {}: screen them with /screening program:\"{}\".",
                user.label(),
                program.full_name(),
                program.name
            );
            w.chat(&staff, "application_complete", &key, text, Vec::new())
                .await?;
            w.email(
                &staff,
                "application_complete",
                key,
                messages::application_complete(
                    &staff.full_name,
                    &user.label(),
                    &program.full_name(),
                ),
            )
            .await?;
        }
    }
    Ok(())
}
