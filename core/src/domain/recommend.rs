//! Recommendations: which mentors a mentee may choose, best first, with the reasons
//! (docs/domain.md#recommendations); and the one test of whether a persona can be matched now
//! (docs/domain.md#availability), with a mentor's pause and places (docs/domain.md#capacity).

use std::collections::{HashMap, HashSet};

use chrono::{DateTime, Utc};

use super::show::when;
use super::work::Work;
use crate::error::Result;
use crate::questionnaire;
use crate::roles::PersonaRole;
use crate::status::{MatchStatus, PersonaStatus};
use crate::store::offers::OfferState;
use crate::store::orgs::Program;
use crate::store::users::{MentorLoad, Persona, User};
use crate::store::{self};

/// How many weeks `/pause` and the offer's "Decline and pause me" pause a mentor for when no
/// number is given, and the most one pause may last (docs/domain.md#availability).
pub const DEFAULT_PAUSE_WEEKS: i64 = 2;
pub const MAX_PAUSE_WEEKS: i64 = 12;
/// The longer pause the reply to "Decline and pause me" offers instead.
pub const LONG_PAUSE_WEEKS: i64 = 4;

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

/// How many mentees a mentor takes at once in a program (docs/domain.md#capacity): their own
/// capacity there (`/capacity`) if one was set, else the program's `mentor_capacity`.
pub fn places(load: &MentorLoad) -> i64 {
    load.own_capacity.unwrap_or(load.program_capacity).max(1)
}

/// Why a mentor whose persona passes [`unavailable_reason`] still takes no new mentee now
/// (docs/domain.md#availability): they paused new requests until a time after now, or every
/// place their capacity gives them is taken.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Busy {
    Paused { until: DateTime<Utc> },
    Full { matched: i64, places: i64 },
}

/// The one test of a mentor's pause and places ([`Busy`]). None: they may take one.
pub fn busy(load: &MentorLoad, now: DateTime<Utc>) -> Option<Busy> {
    if let Some(until) = load.paused_until.filter(|t| *t > now) {
        Some(Busy::Paused { until })
    } else if load.matched >= places(load) {
        Some(Busy::Full {
            matched: load.matched,
            places: places(load),
        })
    } else {
        None
    }
}

/// [`busy`] in words: "Maria paused new requests until …", "Lee has no free place: …".
pub fn busy_reason(name: &str, load: &MentorLoad, now: DateTime<Utc>) -> Option<String> {
    busy(load, now).map(|b| match b {
        Busy::Paused { until } => format!("{name} paused new requests until {}", when(None, until)),
        Busy::Full { matched, places } => {
            format!("{name} has no free place: {matched} of {places} mentees at once")
        }
    })
}

/// The mentors of `program_id` who hold a free place there but take no new mentee now, by
/// user id, with the reason ([`busy_reason`]): one query for the whole program.
pub async fn busy_mentors(w: &mut Work<'_>, program_id: i64) -> Result<HashMap<i64, MentorLoad>> {
    let now = w.now;
    Ok(
        store::users::loads_of_mentors_with_free_places(w.c(), program_id, now, None)
            .await?
            .into_iter()
            .filter(|l| busy(l, now).is_some())
            .map(|l| (l.user_id, l))
            .collect(),
    )
}

/// [`unavailable_reason`] for a mentor persona about to be offered or paired, and then
/// [`busy_reason`]: the one test of "can this mentor take this mentee now"
/// (docs/domain.md#availability). Reads the mentor's load only when the statuses pass.
pub async fn mentor_unavailable_reason(
    w: &mut Work<'_>,
    user: &User,
    persona: &Persona,
) -> Result<Option<String>> {
    if let Some(why) = unavailable_reason(user, persona) {
        return Ok(Some(why));
    }
    let Some(program_id) = persona.program_id else {
        return Ok(None);
    };
    let now = w.now;
    let loads =
        store::users::loads_of_mentors_with_free_places(w.c(), program_id, now, Some(user.id))
            .await?;
    Ok(loads
        .iter()
        .find_map(|l| busy_reason(&user.full_name, l, now)))
}

/// For the timers' batches: the busy mentors ([`busy_reason`]) among `people`'s mentor
/// personas, by persona id, with the reason; one query per program of `programs`.
pub async fn busy_among(
    w: &mut Work<'_>,
    people: &HashMap<i64, (Persona, User)>,
    programs: impl Iterator<Item = i64>,
) -> Result<HashMap<i64, String>> {
    let now = w.now;
    let mut out = HashMap::new();
    for program_id in programs {
        let busy = busy_mentors(w, program_id).await?;
        if busy.is_empty() {
            continue;
        }
        for (p, u) in people.values() {
            if p.role == PersonaRole::Mentor
                && p.program_id == Some(program_id)
                && let Some(why) = busy
                    .get(&u.id)
                    .and_then(|l| busy_reason(&u.full_name, l, now))
            {
                out.insert(p.id, why);
            }
        }
    }
    Ok(out)
}

/// Which of a mentor's free places (their RTBM mentor personas in a program, `free`, oldest
/// first) a mentee is shown and asks (docs/domain.md#capacity): spread over the places by the
/// mentee's persona id, so two mentees asking at once usually ask different places, and the
/// same mentee sees the same place from `/mentors` to `/choose` while the places stay as they
/// are.
pub fn place_for(mentee_persona_id: i64, free: &[i64]) -> Option<i64> {
    let n = i64::try_from(free.len()).ok().filter(|n| *n > 0)?;
    let at = usize::try_from(mentee_persona_id.rem_euclid(n)).ok()?;
    free.get(at).copied()
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
/// Mentors who declined this mentee or let an offer expire are left out, so a new round is fresh;
/// so are mentors paused or at capacity ([`busy_reason`]); a mentor with several free places is
/// listed once, on the place [`place_for`] gives this mentee.
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
    let busy = busy_mentors(w, program.id).await?;
    // Who declined this mentee or let their offer expire, on whichever place they were asked:
    // the query leaves out the places asked, and a mentor with capacity has others.
    let turned_down: Vec<i64> = store::offers::of_mentee(w.c(), mentee.id)
        .await?
        .into_iter()
        .filter(|o| matches!(o.state, OfferState::Declined | OfferState::Expired))
        .map(|o| o.mentor_persona_id)
        .collect();
    let turned_down: HashSet<i64> = if turned_down.is_empty() {
        HashSet::new()
    } else {
        store::users::personas_with_users(w.c(), &turned_down)
            .await?
            .into_iter()
            .map(|(p, _)| p.user_id)
            .collect()
    };
    let mut free: HashMap<i64, Vec<i64>> = HashMap::new();
    for m in &found.mentors {
        if !busy.contains_key(&m.user_id) && !turned_down.contains(&m.user_id) {
            free.entry(m.user_id).or_default().push(m.persona_id);
        }
    }
    let shown: HashSet<i64> = free
        .values_mut()
        .filter_map(|places| {
            places.sort_unstable();
            place_for(mentee.id, places)
        })
        .collect();
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
        .filter(|m| shown.contains(&m.persona_id))
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

#[cfg(test)]
mod tests {
    use chrono::{Duration, TimeZone};

    use super::*;

    fn load(
        paused: Option<DateTime<Utc>>,
        own: Option<i64>,
        program: i64,
        matched: i64,
    ) -> MentorLoad {
        MentorLoad {
            user_id: 1,
            paused_until: paused,
            own_capacity: own,
            program_capacity: program,
            matched,
        }
    }

    #[test]
    fn a_pause_counts_until_its_end_and_not_a_moment_longer() -> Result<()> {
        let now = Utc
            .with_ymd_and_hms(2027, 1, 5, 10, 0, 0)
            .single()
            .ok_or_else(|| crate::error::Error::Internal("date".into()))?;
        let later = load(Some(now + Duration::seconds(1)), None, 1, 0);
        let why = busy_reason("Maria", &later, now).unwrap_or_default();
        assert!(why.starts_with("Maria paused new requests until"), "{why}");
        assert_eq!(
            busy_reason("Maria", &load(Some(now), None, 1, 0), now),
            None
        );
        assert_eq!(busy_reason("Maria", &load(None, None, 1, 0), now), None);
        Ok(())
    }

    #[test]
    fn places_are_the_mentors_own_number_or_the_programs() -> Result<()> {
        let now = Utc::now();
        assert_eq!(places(&load(None, None, 3, 0)), 3);
        assert_eq!(places(&load(None, Some(1), 3, 0)), 1);
        assert!(busy_reason("Lee", &load(None, Some(2), 1, 1), now).is_none());
        let full = busy_reason("Lee", &load(None, Some(2), 5, 2), now).unwrap_or_default();
        assert_eq!(full, "Lee has no free place: 2 of 2 mentees at once");
        Ok(())
    }

    #[test]
    fn each_mentee_is_shown_one_of_the_free_places_the_same_each_time() -> Result<()> {
        assert_eq!(place_for(7, &[]), None);
        assert_eq!(place_for(7, &[30]), Some(30));
        assert_eq!(place_for(8, &[30, 31]), Some(30));
        assert_eq!(place_for(9, &[30, 31]), Some(31));
        assert_eq!(place_for(9, &[30, 31]), place_for(9, &[30, 31]));
        Ok(())
    }
}
