//! The application questionnaire (docs/domain.md#questionnaire, docs/domain.md#scoring): its
//! questions, how an answer is typed and checked, and the score of a mentee–mentor pair — the
//! weighted agreement of their answers, 0–100, with the reasons ("both: Software, Spanish").

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::error::Error;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum QuestionKind {
    /// One of the options.
    Single,
    /// Any number of the options.
    Multi,
    /// 1 to 5.
    Scale,
    /// Free text: asked, kept, shown to staff, not scored.
    Text,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Question {
    pub key: String,
    pub prompt: String,
    pub kind: QuestionKind,
    #[serde(default)]
    pub options: Vec<String>,
    #[serde(default = "one")]
    pub weight: u32,
}

fn one() -> u32 {
    1
}

#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Questionnaire {
    pub questions: Vec<Question>,
}

/// One person's answer to one question.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Answer {
    Single(String),
    Multi(Vec<String>),
    Scale(u8),
    Text(String),
}

pub type Answers = BTreeMap<String, Answer>;

impl Questionnaire {
    /// Checks a questionnaire from config: unique keys, options where needed, sane weights.
    pub fn check(&self) -> Result<(), String> {
        if self.questions.is_empty() {
            return Err("has no questions".into());
        }
        for (i, q) in self.questions.iter().enumerate() {
            if q.key.is_empty()
                || !q
                    .key
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
            {
                return Err(format!(
                    "question {} key '{}' must use a-z, 0-9 and _",
                    i + 1,
                    q.key
                ));
            }
            if self.questions.iter().skip(i + 1).any(|o| o.key == q.key) {
                return Err(format!("question key '{}' is used twice", q.key));
            }
            match q.kind {
                QuestionKind::Single | QuestionKind::Multi if q.options.len() < 2 => {
                    return Err(format!("question '{}' needs at least two options", q.key));
                }
                QuestionKind::Scale | QuestionKind::Text if !q.options.is_empty() => {
                    return Err(format!(
                        "question '{}' is {:?} and takes no options",
                        q.key, q.kind
                    ));
                }
                _ => {}
            }
            if q.options.len() > 64 {
                return Err(format!("question '{}' has more than 64 options", q.key));
            }
            if q.weight > 10 {
                return Err(format!("question '{}' weight must be 0–10", q.key));
            }
        }
        Ok(())
    }

    pub fn question(&self, key: &str) -> Option<&Question> {
        self.questions.iter().find(|q| q.key == key)
    }

    pub fn from_json(s: &str) -> Self {
        serde_json::from_str(s).unwrap_or_default()
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|_| "{\"questions\":[]}".into())
    }
}

impl Question {
    /// The option a person meant: its number (1-based) or its label, case-insensitively.
    pub fn option(&self, raw: &str) -> Result<String, Error> {
        let s = raw.trim();
        if let Ok(n) = s.parse::<usize>()
            && n >= 1
            && n <= self.options.len()
        {
            return Ok(self.options[n - 1].clone());
        }
        self.options
            .iter()
            .find(|o| o.eq_ignore_ascii_case(s))
            .cloned()
            .ok_or_else(|| {
                Error::input(format!(
                    "'{}' is not an option of \"{}\": answer with one of {}",
                    crate::reply::echo(s),
                    self.prompt,
                    self.options
                        .iter()
                        .enumerate()
                        .map(|(i, o)| format!("{} ({o})", i + 1))
                        .collect::<Vec<_>>()
                        .join(", ")
                ))
            })
    }

    /// Parses what a person typed as a whole answer to this question.
    pub fn parse_answer(&self, raw: &str) -> Result<Answer, Error> {
        match self.kind {
            QuestionKind::Single => Ok(Answer::Single(self.option(raw)?)),
            QuestionKind::Multi => {
                let mut chosen = Vec::new();
                for part in raw.split(',').map(str::trim).filter(|p| !p.is_empty()) {
                    let o = self.option(part)?;
                    if !chosen.contains(&o) {
                        chosen.push(o);
                    }
                }
                if chosen.is_empty() {
                    return Err(Error::input(
                        "pick at least one option, or several separated by commas (1,3)",
                    ));
                }
                Ok(Answer::Multi(self.in_order(chosen)))
            }
            QuestionKind::Scale => raw
                .trim()
                .parse::<u8>()
                .ok()
                .filter(|n| (1..=5).contains(n))
                .map(Answer::Scale)
                .ok_or_else(|| {
                    Error::input(format!(
                        "answer \"{}\" with a number from 1 to 5",
                        self.prompt
                    ))
                }),
            QuestionKind::Text => {
                let t = raw.trim();
                if t.is_empty() || t.chars().count() > 1000 {
                    return Err(Error::input(
                        "write 1 to 1000 characters (in quotes if it has spaces)",
                    ));
                }
                Ok(Answer::Text(t.to_string()))
            }
        }
    }

    /// Options kept in the questionnaire's order, so equal choices compare equal.
    pub fn in_order(&self, chosen: Vec<String>) -> Vec<String> {
        self.options
            .iter()
            .filter(|o| chosen.contains(o))
            .cloned()
            .collect()
    }
}

impl Answer {
    pub fn shown(&self) -> String {
        match self {
            Self::Single(s) | Self::Text(s) => s.clone(),
            Self::Multi(v) => v.join(", "),
            Self::Scale(n) => format!("{n}/5"),
        }
    }
}

/// How well two people's answers agree: 0–100, and what they share, heaviest questions first.
/// Questions either person left unanswered, and free-text ones, do not count.
pub fn score(q: &Questionnaire, a: &Answers, b: &Answers) -> (u32, Vec<String>) {
    score_with(
        q,
        |_, question| a.get(&question.key),
        |_, question| b.get(&question.key),
        true,
    )
}

/// [`score`], the one rule, with each person's answers found by a look-up (given the
/// question's index in `q.questions` and the question) instead of a map: recommendations score
/// thousands of mentors from answers parsed once and shared (`domain::recommend`). Without
/// `reasons` the shared options are not collected (the second value is empty).
pub fn score_with<'a, 'b>(
    q: &Questionnaire,
    a: impl Fn(usize, &Question) -> Option<&'a Answer>,
    b: impl Fn(usize, &Question) -> Option<&'b Answer>,
    reasons: bool,
) -> (u32, Vec<String>) {
    let mut total = 0.0f64;
    let mut weights = 0.0f64;
    let mut shared: Vec<(u32, String)> = Vec::new();
    for (i, question) in q.questions.iter().enumerate() {
        if question.weight == 0 {
            continue;
        }
        let (Some(x), Some(y)) = (a(i, question), b(i, question)) else {
            continue;
        };
        let agreement = match (x, y) {
            (Answer::Single(x), Answer::Single(y)) => {
                if x == y {
                    if reasons {
                        shared.push((question.weight, x.clone()));
                    }
                    1.0
                } else {
                    0.0
                }
            }
            (Answer::Multi(x), Answer::Multi(y)) => {
                let mut common = 0usize;
                for c in x.iter().filter(|o| y.contains(o)) {
                    common += 1;
                    if reasons {
                        shared.push((question.weight, c.clone()));
                    }
                }
                let union = x.len() + y.len() - common;
                if union == 0 {
                    0.0
                } else {
                    common as f64 / union as f64
                }
            }
            (Answer::Scale(x), Answer::Scale(y)) => 1.0 - f64::from(x.abs_diff(*y)) / 4.0,
            _ => continue,
        };
        total += f64::from(question.weight) * agreement;
        weights += f64::from(question.weight);
    }
    shared.sort_by_key(|s| std::cmp::Reverse(s.0));
    let reasons = shared.into_iter().map(|(_, s)| s).collect();
    let pct = if weights == 0.0 {
        0
    } else {
        (100.0 * total / weights).round() as u32
    };
    (pct, reasons)
}

/// The questionnaire compiled for scoring many pairs fast (auto-pairing scores every mentee
/// against every mentor): answers become option indices and bit sets, so a pair's score is a
/// few integer operations per question. [`Scorer::score`] equals [`score`]'s number exactly.
pub struct Scorer {
    /// (kind, weight) of each scored question, in questionnaire order.
    questions: Vec<(QuestionKind, u32, usize)>,
    options: Vec<Vec<String>>,
}

/// One person's answers, encoded for a [`Scorer`]: per scored question, `None` if unanswered,
/// else the option index (single), the bit set of options (multi), or the value (scale).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Encoded(Vec<Option<u64>>);

impl Scorer {
    pub fn new(q: &Questionnaire) -> Self {
        let scored: Vec<&Question> = q
            .questions
            .iter()
            .filter(|x| x.weight > 0 && x.kind != QuestionKind::Text)
            .collect();
        Self {
            questions: scored
                .iter()
                .enumerate()
                .map(|(i, x)| (x.kind, x.weight, i))
                .collect(),
            options: scored.iter().map(|x| x.options.clone()).collect(),
        }
    }

    pub fn encode(&self, q: &Questionnaire, answers: &Answers) -> Encoded {
        let scored = q
            .questions
            .iter()
            .filter(|x| x.weight > 0 && x.kind != QuestionKind::Text);
        Encoded(
            scored
                .zip(&self.options)
                .map(|(question, options)| match answers.get(&question.key) {
                    Some(Answer::Single(o)) => {
                        options.iter().position(|x| x == o).map(|i| i as u64)
                    }
                    Some(Answer::Multi(v)) => Some(
                        options
                            .iter()
                            .enumerate()
                            .filter(|(_, x)| v.contains(x))
                            .fold(0u64, |acc, (i, _)| acc | (1u64 << (i % 64))),
                    ),
                    Some(Answer::Scale(n)) => Some(u64::from(*n)),
                    _ => None,
                })
                .collect(),
        )
    }

    pub fn score(&self, a: &Encoded, b: &Encoded) -> u32 {
        let (mut total, mut weights) = (0.0f64, 0.0f64);
        for &(kind, weight, i) in &self.questions {
            let (Some(Some(x)), Some(Some(y))) = (a.0.get(i), b.0.get(i)) else {
                continue;
            };
            let agreement = match kind {
                QuestionKind::Single => f64::from(u8::from(x == y)),
                QuestionKind::Multi => {
                    let union = (x | y).count_ones();
                    if union == 0 {
                        0.0
                    } else {
                        f64::from((x & y).count_ones()) / f64::from(union)
                    }
                }
                QuestionKind::Scale => 1.0 - (x.abs_diff(*y) as f64) / 4.0,
                QuestionKind::Text => continue,
            };
            total += f64::from(weight) * agreement;
            weights += f64::from(weight);
        }
        if weights == 0.0 {
            0
        } else {
            (100.0 * total / weights).round() as u32
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q() -> Questionnaire {
        Questionnaire {
            questions: vec![
                Question {
                    key: "field".into(),
                    prompt: "Field?".into(),
                    kind: QuestionKind::Single,
                    options: vec!["Software".into(), "Finance".into()],
                    weight: 3,
                },
                Question {
                    key: "langs".into(),
                    prompt: "Languages?".into(),
                    kind: QuestionKind::Multi,
                    options: vec!["English".into(), "Spanish".into(), "French".into()],
                    weight: 2,
                },
                Question {
                    key: "style".into(),
                    prompt: "Style?".into(),
                    kind: QuestionKind::Scale,
                    options: vec![],
                    weight: 1,
                },
                Question {
                    key: "about".into(),
                    prompt: "About you?".into(),
                    kind: QuestionKind::Text,
                    options: vec![],
                    weight: 0,
                },
            ],
        }
    }

    fn answers(items: &[(&str, Answer)]) -> Answers {
        items
            .iter()
            .map(|(k, v)| (k.to_string(), v.clone()))
            .collect()
    }

    #[test]
    fn identical_answers_score_100_and_disjoint_ones_0() {
        let qs = q();
        let a = answers(&[
            ("field", Answer::Single("Software".into())),
            ("langs", Answer::Multi(vec!["Spanish".into()])),
            ("style", Answer::Scale(3)),
        ]);
        let (s, reasons) = score(&qs, &a, &a);
        assert_eq!(s, 100);
        assert_eq!(reasons, vec!["Software".to_string(), "Spanish".to_string()]);
        let b = answers(&[
            ("field", Answer::Single("Finance".into())),
            ("langs", Answer::Multi(vec!["French".into()])),
            ("style", Answer::Scale(3)),
        ]);
        let (s, reasons) = score(&qs, &a, &b);
        // Only the scale agrees: weight 1 of 6.
        assert_eq!(s, 17);
        assert!(reasons.is_empty());
    }

    #[test]
    fn partial_overlap_and_missing_answers() {
        let qs = q();
        let a = answers(&[(
            "langs",
            Answer::Multi(vec!["English".into(), "Spanish".into()]),
        )]);
        let b = answers(&[
            (
                "langs",
                Answer::Multi(vec!["Spanish".into(), "French".into()]),
            ),
            ("field", Answer::Single("Software".into())),
        ]);
        // Jaccard 1/3 on the only question both answered.
        assert_eq!(score(&qs, &a, &b).0, 33);
        assert_eq!(score(&qs, &Answers::new(), &b).0, 0);
    }

    fn arbitrary_answers() -> impl proptest::strategy::Strategy<Value = Answers> {
        use proptest::prelude::*;
        (
            proptest::option::of(0..2usize),
            proptest::option::of(proptest::collection::vec(0..3usize, 0..4)),
            proptest::option::of(1..=5u8),
        )
            .prop_map(|(f, l, s)| {
                let qs = q();
                let mut a = Answers::new();
                if let Some(f) = f {
                    a.insert(
                        "field".into(),
                        Answer::Single(qs.questions[0].options[f].clone()),
                    );
                }
                if let Some(l) = l {
                    let chosen = l
                        .iter()
                        .map(|i| qs.questions[1].options[*i].clone())
                        .collect();
                    a.insert(
                        "langs".into(),
                        Answer::Multi(qs.questions[1].in_order(chosen)),
                    );
                }
                if let Some(s) = s {
                    a.insert("style".into(), Answer::Scale(s));
                }
                a.insert("about".into(), Answer::Text("hello".into()));
                a
            })
    }

    proptest::proptest! {
        #[test]
        fn the_compiled_scorer_gives_the_same_scores(a in arbitrary_answers(), b in arbitrary_answers()) {
            let qs = q();
            let scorer = Scorer::new(&qs);
            proptest::prop_assert_eq!(scorer.score(&scorer.encode(&qs, &a), &scorer.encode(&qs, &b)), score(&qs, &a, &b).0);
        }
    }

    #[test]
    fn answers_parse_by_number_or_label_and_bad_ones_name_the_options() {
        let qs = q();
        let field = qs
            .question("field")
            .cloned()
            .unwrap_or_else(|| qs.questions[0].clone());
        assert_eq!(
            field.parse_answer("2").ok(),
            Some(Answer::Single("Finance".into()))
        );
        assert_eq!(
            field.parse_answer("software").ok(),
            Some(Answer::Single("Software".into()))
        );
        let msg = field
            .parse_answer("Art")
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(msg.contains("1 (Software), 2 (Finance)"), "{msg}");
        let langs = &qs.questions[1];
        assert_eq!(
            langs.parse_answer("3, english").ok(),
            Some(Answer::Multi(vec!["English".into(), "French".into()]))
        );
        assert!(qs.questions[2].parse_answer("6").is_err());
        assert!(qs.check().is_ok());
    }
}
