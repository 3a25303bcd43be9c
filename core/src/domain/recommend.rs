//! Recommendations: which mentors a mentee may choose, best first, with the reasons
//! (docs/domain.md#recommendations).

use super::work::Work;
use crate::error::Result;
use crate::questionnaire;
use crate::status::{MatchStatus, PersonaStatus};
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

/// Why this persona cannot be matched now (docs/domain.md#availability: user A, persona Active,
/// RTBM), or None.
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

/// The best available mentors of the mentee's program, best first (docs/domain.md#recommendations).
/// Mentors who declined this mentee or let an offer expire are left out, so a new round is fresh.
///
/// Reads what it shows, whatever the program's size: the mentee's answers, then in one query
/// every available mentor (id, name, and their answers to the questions that can count, each
/// distinct answer parsed once), scored with [`questionnaire::score_with`] — the one rule —
/// ranked, and only the chosen few read whole (one more query).
pub async fn recommendations(
    w: &mut Work<'_>,
    mentee: &Persona,
    mentee_user: &User,
    program: &Program,
) -> Result<Vec<Recommendation>> {
    let q = &program.questionnaire;
    // Complete answers only count, on either side.
    let (mut mine, open) = store::answers::of(w.c(), mentee_user.id, program.id).await?;
    for key in &open {
        mine.remove(key);
    }
    // A question counts only if it weighs something and both answered it: the mentors'
    // answers to the others are not read.
    let keys: Vec<&str> = q
        .questions
        .iter()
        .filter(|x| x.weight > 0 && mine.contains_key(&x.key))
        .map(|x| x.key.as_str())
        .collect();
    let found =
        store::answers::of_available_mentors(w.c(), program.id, mentee.id, mentee_user.id, &keys)
            .await?;
    // Question index → position in `keys`.
    let at: Vec<Option<usize>> = q
        .questions
        .iter()
        .map(|x| keys.iter().position(|k| *k == x.key))
        .collect();
    let score = |m: &store::answers::MentorAnswers, reasons: bool| {
        questionnaire::score_with(
            q,
            |_, question| mine.get(&question.key),
            |i, _| {
                let k = at.get(i).copied().flatten()?;
                let id = m.answers.get(k).copied().flatten()?;
                found.answers.get(id as usize)
            },
            reasons,
        )
    };
    let mut ranked: Vec<(u32, &store::answers::MentorAnswers)> = found
        .mentors
        .iter()
        .map(|m| (score(m, false).0, m))
        .collect();
    ranked.sort_by(|(sa, a), (sb, b)| {
        sb.cmp(sa)
            .then_with(|| a.full_name.cmp(&b.full_name))
            .then(a.persona_id.cmp(&b.persona_id))
    });
    ranked.truncate(usize::try_from(program.settings.recommendations).unwrap_or(5));
    let ids: Vec<i64> = ranked.iter().map(|(_, m)| m.persona_id).collect();
    let mut whole = store::users::personas_with_users(w.c(), &ids).await?;
    let mut recs = Vec::new();
    for (s, m) in ranked {
        let Some(i) = whole.iter().position(|(p, _)| p.id == m.persona_id) else {
            continue;
        };
        let (persona, user) = whole.swap_remove(i);
        // The query applied this same test; the rule itself has the last word.
        if unavailable_reason(&user, &persona).is_some() {
            continue;
        }
        recs.push(Recommendation {
            persona,
            user,
            score: s,
            reasons: score(m, true).1,
        });
    }
    Ok(recs)
}
