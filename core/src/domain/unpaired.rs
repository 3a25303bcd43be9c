//! Who an `/autopair` run leaves unpaired, and why (docs/domain.md#autopair-unpaired).
//!
//! The reasons are read off the run itself, never from a second copy of its rules: the handler
//! notes, person by person, which filter kept someone out of the run as it applies it
//! (`recommend::unavailable_reason`, `recommend::busy_reason` and the places a capacity leaves,
//! docs/domain.md#availability and #capacity), the score matrix says which pairs are forbidden
//! (`assignment::FORBIDDEN`), and the solver's result says who was paired. From those, per
//! person left unpaired: how many of the other role each filter kept out, the one that kept out
//! the most, how many passed every filter (all of them then paired with someone else), and
//! whether one side simply outnumbered the other.

use std::collections::{BTreeMap, HashMap};

use serde::{Deserialize, Serialize};

use super::work::Work;
use crate::assignment::Assignment;
use crate::error::Result;
use crate::messages;
use crate::store::users::User;

/// The outbox kind of the message to a person left unpaired.
pub const KIND: &str = "autopair_unpaired";

/// The hard filters of an `/autopair` run, in the order they are applied: the first three
/// decide who takes part at all, the last which pairs may be made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Filter {
    /// Not A, Active and RTBM (`recommend::unavailable_reason`).
    NotReady,
    /// A mentor who paused new requests (`recommend::busy_reason`).
    Paused,
    /// A mentor whose places are all taken (`recommend::busy_reason`, `recommend::places`).
    NoPlace,
    /// The same person on both sides of the pair (`assignment::FORBIDDEN`).
    Yourself,
}

impl Filter {
    /// The code `messages::unpaired_reason` words.
    pub fn code(self) -> &'static str {
        match self {
            Self::NotReady => "not_ready",
            Self::Paused => "paused",
            Self::NoPlace => "no_place",
            Self::Yourself => "yourself",
        }
    }
}

/// How the people of one role in a program fared against the filters that decide who takes
/// part in a run: each person once, at the furthest one of their personas got (a mentor with
/// a matched persona and a free place is in the run).
#[derive(Debug, Clone, Default)]
pub struct Side {
    /// user id → the filter that kept them out, or None: in the run.
    reached: HashMap<i64, Option<Filter>>,
}

impl Side {
    /// One persona of this side: `out` is the filter that kept it out of the run, or None.
    pub fn note(&mut self, user_id: i64, out: Option<Filter>) {
        let e = self.reached.entry(user_id).or_insert(out);
        *e = match (*e, out) {
            (None, _) | (_, None) => None,
            (Some(a), Some(b)) => Some(a.max(b)),
        };
    }

    fn total(&self) -> u32 {
        u32::try_from(self.reached.len()).unwrap_or(u32::MAX)
    }

    fn excluded(&self) -> BTreeMap<Filter, u32> {
        let mut out = BTreeMap::new();
        for f in self.reached.values().flatten() {
            *out.entry(*f).or_insert(0) += 1;
        }
        out
    }
}

/// Why one person was left unpaired.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Why {
    /// The filter that kept out the most people of the other role (the first applied on a
    /// tie), and how many it kept out; None when it kept out nobody.
    pub most: Option<(Filter, u32)>,
    /// People of the other role in the program.
    pub total: u32,
    /// How many of them passed every filter for this person; each was paired with someone
    /// else (0: nobody was left who passes).
    pub passed: u32,
    /// When this person's side of the run outnumbered the other: (this side, the other), as
    /// mentees and free mentor places.
    pub more: Option<(u32, u32)>,
}

impl Why {
    /// The reason in words, for the person (`mentee`: they are a mentee) and for staff.
    pub fn reason(&self, mentee: bool) -> String {
        messages::unpaired_reason(
            mentee,
            self.most.map(|(f, n)| (f.code(), n)),
            self.total,
            self.passed,
            self.more,
        )
    }

    /// [`Why::reason`] in brief, for one line of a list.
    pub fn brief(&self, mentee: bool) -> String {
        messages::unpaired_brief(
            mentee,
            self.most.map(|(f, n)| (f.code(), n)),
            self.total,
            self.passed,
            self.more,
        )
    }
}

/// One person a run left unpaired.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Unpaired {
    /// The persona the run had: the mentee's, or the mentor's first free place.
    pub persona_id: i64,
    pub mentee: bool,
    pub why: Why,
}

/// One `/autopair` run as the solver saw it.
pub struct Run<'a> {
    /// (persona id, user id) of each row (the mentees) and column (the mentors' free places).
    pub rows: &'a [(i64, i64)],
    pub cols: &'a [(i64, i64)],
    /// The score matrix, row after row, as `assignment::max_score_assignment` took it.
    pub scores: &'a [i64],
    pub best: &'a Assignment,
    /// Everyone of each role in the program, and which filter kept each out of the run.
    pub mentees: &'a Side,
    pub mentors: &'a Side,
}

/// Everyone in the run left without a pair — each mentee, and each mentor none of whose places
/// was paired (a mentor given one mentee of two places is paired) — with the reason.
pub fn unpaired(run: &Run<'_>) -> Vec<Unpaired> {
    let (nr, nc) = (run.rows.len(), run.cols.len());
    let (mut row_paired, mut col_paired) = (vec![false; nr], vec![false; nc]);
    for &(r, c) in &run.best.pairs {
        if let Some(p) = row_paired.get_mut(r) {
            *p = true;
        }
        if let Some(p) = col_paired.get_mut(c) {
            *p = true;
        }
    }
    let allowed = |r: usize, c: usize| run.scores.get(r * nc + c).is_some_and(|s| *s >= 0);
    // Each side's people in the run, numbered densely, and which one each row or column is.
    let (row_person, row_people) = people(run.rows);
    let (col_person, col_people) = people(run.cols);
    let mut out = Vec::new();
    for (r, &(persona_id, _)) in run.rows.iter().enumerate() {
        if row_paired[r] {
            continue;
        }
        // Per mentor in the run: whether any of their places may be paired with this mentee.
        let mut may = vec![false; col_people];
        for (c, &who) in col_person.iter().enumerate() {
            may[who] |= allowed(r, c);
        }
        out.push(Unpaired {
            persona_id,
            mentee: true,
            why: decide(run.mentors, &may, (nr, nc)),
        });
    }
    // Each mentor's places.
    let mut places: Vec<Vec<usize>> = vec![Vec::new(); col_people];
    for (c, &who) in col_person.iter().enumerate() {
        places[who].push(c);
    }
    for cs in places {
        if cs.iter().any(|c| col_paired[*c]) {
            continue;
        }
        let mut may = vec![false; row_people];
        for (r, &who) in row_person.iter().enumerate() {
            may[who] |= cs.iter().any(|c| allowed(r, *c));
        }
        if let Some(&(persona_id, _)) = cs.first().and_then(|c| run.cols.get(*c)) {
            out.push(Unpaired {
                persona_id,
                mentee: false,
                why: decide(run.mentees, &may, (nc, nr)),
            });
        }
    }
    out
}

/// The person (numbered from 0 in order of first appearance) of each (persona, user), and how
/// many people there are.
fn people(entries: &[(i64, i64)]) -> (Vec<usize>, usize) {
    let mut number: HashMap<i64, usize> = HashMap::new();
    let of = entries
        .iter()
        .map(|&(_, user)| {
            let next = number.len();
            *number.entry(user).or_insert(next)
        })
        .collect();
    (of, number.len())
}

/// The reason for one person: `other` is the other role's side, `may` whether each of its
/// people in the run may be paired with them, `sizes` (this side's rows or places, the other's).
fn decide(other: &Side, may: &[bool], sizes: (usize, usize)) -> Why {
    let count = |n: usize| u32::try_from(n).unwrap_or(u32::MAX);
    let passed = count(may.iter().filter(|m| **m).count());
    let mut excluded = other.excluded();
    let yourself = count(may.len()) - passed;
    if yourself > 0 {
        *excluded.entry(Filter::Yourself).or_insert(0) += yourself;
    }
    // The filter that kept out the most; on a tie the one applied first (the map's order).
    let mut most: Option<(Filter, u32)> = None;
    for (f, n) in excluded {
        if most.is_none_or(|(_, m)| n > m) {
            most = Some((f, n));
        }
    }
    Why {
        most,
        total: other.total(),
        passed,
        more: (sizes.0 > sizes.1).then(|| (count(sizes.0), count(sizes.1))),
    }
}

/// Tells one person left unpaired why, and what happens next, in chat and by email;
/// `key` makes it once per run.
pub async fn tell(
    w: &mut Work<'_>,
    user: &User,
    left: &Unpaired,
    program: &str,
    key: &str,
) -> Result<()> {
    let reason = left.why.reason(left.mentee);
    let text = messages::unpaired_chat(program, &reason, left.mentee);
    w.chat(user, KIND, key, text, Vec::new()).await?;
    let mail = messages::unpaired(&user.full_name, program, &reason, left.mentee);
    w.email(user, KIND, key.to_string(), mail).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::assignment::{FORBIDDEN, max_score_assignment};

    fn side(people: &[(i64, Option<Filter>)]) -> Side {
        let mut s = Side::default();
        for (u, f) in people {
            s.note(*u, *f);
        }
        s
    }

    #[test]
    fn a_person_counts_once_at_the_furthest_filter_their_personas_reached() -> Result<()> {
        let s = side(&[
            (1, Some(Filter::NotReady)),
            (1, None),
            (2, Some(Filter::NotReady)),
            (2, Some(Filter::Paused)),
            (3, Some(Filter::NoPlace)),
        ]);
        assert_eq!(s.total(), 3);
        let ex = s.excluded();
        assert_eq!(ex.get(&Filter::Paused), Some(&1));
        assert_eq!(ex.get(&Filter::NoPlace), Some(&1));
        assert_eq!(ex.get(&Filter::NotReady), None);
        Ok(())
    }

    #[test]
    fn the_surplus_mentee_is_told_the_places_went_to_better_pairs() -> Result<()> {
        // Two mentees (users 10, 11), one place (mentor 20); two more mentors paused.
        let rows = [(100, 10), (101, 11)];
        let cols = [(200, 20)];
        let scores = [90, 40];
        let best = max_score_assignment(2, 1, &scores);
        let mentees = side(&[(10, None), (11, None)]);
        let mentors = side(&[
            (20, None),
            (21, Some(Filter::Paused)),
            (22, Some(Filter::Paused)),
        ]);
        let left = unpaired(&Run {
            rows: &rows,
            cols: &cols,
            scores: &scores,
            best: &best,
            mentees: &mentees,
            mentors: &mentors,
        });
        assert_eq!(left.len(), 1);
        let ben = left
            .first()
            .ok_or_else(|| crate::error::Error::Internal("none left".into()))?;
        assert_eq!((ben.persona_id, ben.mentee), (101, true));
        assert_eq!(
            ben.why,
            Why {
                most: Some((Filter::Paused, 2)),
                total: 3,
                passed: 1,
                more: Some((2, 1)),
            }
        );
        Ok(())
    }

    #[test]
    fn a_mentee_no_place_may_take_is_told_which_filter_and_an_idle_mentor_too() -> Result<()> {
        // The only place is the mentee's own (user 10 on both sides): forbidden.
        let rows = [(100, 10), (101, 11)];
        let cols = [(200, 10)];
        let scores = [FORBIDDEN, 60];
        let best = max_score_assignment(2, 1, &scores);
        let mentees = side(&[(10, None), (11, None)]);
        let mentors = side(&[(10, None)]);
        let run = Run {
            rows: &rows,
            cols: &cols,
            scores: &scores,
            best: &best,
            mentees: &mentees,
            mentors: &mentors,
        };
        let left = unpaired(&run);
        assert_eq!(left.len(), 1);
        assert_eq!(
            left.first()
                .map(|u| (u.persona_id, u.mentee, u.why.passed, u.why.most)),
            Some((100, true, 0, Some((Filter::Yourself, 1))))
        );
        // A mentor with two places and one mentee: one place taken, so not unpaired; a
        // second mentor gets none, the one mentee having gone to a better pair.
        let rows = [(100, 10)];
        let cols = [(200, 20), (201, 20), (202, 21)];
        let scores = [80, 80, 30];
        let best = max_score_assignment(1, 3, &scores);
        let mentees = side(&[(10, None), (12, Some(Filter::NotReady))]);
        let mentors = side(&[(20, None), (21, None)]);
        let left = unpaired(&Run {
            rows: &rows,
            cols: &cols,
            scores: &scores,
            best: &best,
            mentees: &mentees,
            mentors: &mentors,
        });
        assert_eq!(left.len(), 1);
        let lee = left
            .first()
            .ok_or_else(|| crate::error::Error::Internal("none left".into()))?;
        assert_eq!((lee.persona_id, lee.mentee), (202, false));
        assert_eq!(
            lee.why,
            Why {
                most: Some((Filter::NotReady, 1)),
                total: 2,
                passed: 1,
                more: Some((3, 1)),
            }
        );
        Ok(())
    }
}
