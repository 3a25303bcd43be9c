//! Recommendations: which mentors a mentee may choose, best first, with the reasons
//! (docs/domain.md#recommendations).

use super::work::Work;
use crate::error::Result;
use crate::questionnaire;
use crate::roles::PersonaRole;
use crate::status::{MatchStatus, PersonaStatus};
use crate::store::offers::OfferState;
use crate::store::orgs::Program;
use crate::store::users::{Persona, User};
use crate::store::{self};

pub struct Recommendation {
    pub persona: Persona,
    pub user: User,
    pub score: u32,
    pub reasons: Vec<String>,
}

impl Recommendation {
    /// "Maria Mentor — 87/100 — both: Software, Spanish"
    pub fn line(&self) -> String {
        let why = if self.reasons.is_empty() {
            "no answers in common yet".to_string()
        } else {
            format!("both: {}", self.reasons.join(", "))
        };
        format!(
            "#{} {} — {}/100 — {why}",
            self.persona.id, self.user.full_name, self.score
        )
    }
}

/// Why this persona cannot be matched now (SPEC §4: user A, persona Active, RTBM), or None.
pub fn unavailable_reason(user: &User, p: &Persona) -> Option<String> {
    if !user.status.info().can_be_matched {
        Some(format!("{} is {}", user.full_name, user.status))
    } else if p.status != PersonaStatus::Active {
        Some(format!(
            "{}'s persona #{} is inactive",
            user.full_name, p.id
        ))
    } else if p.match_status != MatchStatus::ReadyToBeMatched {
        Some(format!(
            "{} is {}, not ready to be matched",
            user.full_name, p.match_status
        ))
    } else {
        None
    }
}

/// The score and shared answers of two people in a program.
pub async fn pair_score(
    w: &mut Work<'_>,
    program: &Program,
    a: &User,
    b: &User,
) -> Result<(u32, Vec<String>)> {
    let (qa, _) = store::answers::of(w.c(), a.id, program.id).await?;
    let (qb, _) = store::answers::of(w.c(), b.id, program.id).await?;
    Ok(questionnaire::score(&program.questionnaire, &qa, &qb))
}

/// The best available mentors of the mentee's program, best first (SPEC §4). Mentors who
/// declined this mentee or let an offer expire are left out, so a new round is fresh.
pub async fn recommendations(
    w: &mut Work<'_>,
    mentee: &Persona,
    mentee_user: &User,
    program: &Program,
) -> Result<Vec<Recommendation>> {
    let answers = store::answers::of_program(w.c(), program.id).await?;
    let empty = questionnaire::Answers::new();
    let mine = answers.get(&mentee_user.id).unwrap_or(&empty).clone();
    let turned_down: Vec<i64> = store::offers::of_mentee(w.c(), mentee.id)
        .await?
        .into_iter()
        .filter(|o| matches!(o.state, OfferState::Declined | OfferState::Expired))
        .map(|o| o.mentor_persona_id)
        .collect();
    let mut recs = Vec::new();
    for p in store::users::personas_in_program(w.c(), program.id, PersonaRole::Mentor).await? {
        if turned_down.contains(&p.id) || p.user_id == mentee_user.id {
            continue;
        }
        let Some(u) = store::users::user(w.c(), p.user_id).await? else {
            continue;
        };
        if unavailable_reason(&u, &p).is_some() {
            continue;
        }
        let (score, reasons) = questionnaire::score(
            &program.questionnaire,
            &mine,
            answers.get(&u.id).unwrap_or(&empty),
        );
        recs.push(Recommendation {
            persona: p,
            user: u,
            score,
            reasons,
        });
    }
    recs.sort_by(|a, b| {
        b.score
            .cmp(&a.score)
            .then_with(|| a.user.full_name.cmp(&b.user.full_name))
            .then(a.persona.id.cmp(&b.persona.id))
    });
    recs.truncate(usize::try_from(program.settings.recommendations).unwrap_or(5));
    Ok(recs)
}
