//! What is checked of every line the corpus runs: the answer (short, never "something went
//! wrong", no invisible character quoted back) and the database (unchanged by a refusal, nothing
//! invisible stored by a success), compared as snapshots of every table.

use std::collections::{BTreeMap, HashSet};

use mentorops_core::Error;
use mentorops_core::db::Backend;
use mentorops_core::reply::Reply;
use sqlx::Row;

use super::callers::Who;
use crate::support::TestApp;

/// Every row of every table, as text, per table (sorted): what "the database is unchanged"
/// compares.
pub struct Snapshot(BTreeMap<String, Vec<String>>);

/// Between the rows of a table in the query's answer; split off again before comparing.
const ROWS: char = '\u{1E}';

/// The query that reads every table as one text (its rows, each with every column as text).
/// One text per table keeps the snapshot, taken after every command, to one short query.
pub async fn snapshot_sql(app: &TestApp) -> String {
    let mut tables: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (t, c) in app.columns().await {
        tables.entry(t).or_default().push(c);
    }
    let (column, all) = match app.backend {
        // Files are blobs; as text they need not be UTF-8.
        Backend::Sqlite => (
            "CASE WHEN typeof({c}) = 'blob' THEN hex({c}) ELSE COALESCE(CAST({c} AS TEXT), '∅') END",
            "COALESCE(group_concat(r, char(30)), '')",
        ),
        Backend::Postgres => (
            "COALESCE(CAST({c} AS TEXT), '∅')",
            "COALESCE(string_agg(r, chr(30)), '')",
        ),
    };
    tables
        .iter()
        .map(|(t, cols)| {
            let row = cols
                .iter()
                .map(|c| column.replace("{c}", c))
                .collect::<Vec<_>>()
                .join(" || '|' || ");
            format!(
                "SELECT CAST('{t}' AS TEXT) AS t, {all} AS r FROM (SELECT {row} AS r FROM {t}) x"
            )
        })
        .collect::<Vec<_>>()
        .join(" UNION ALL ")
}

pub async fn snapshot(app: &TestApp, sql: &str) -> Snapshot {
    let rows = sqlx::query(sqlx::AssertSqlSafe(sql.to_string()))
        .fetch_all(app.engine.db().pool())
        .await
        .expect("snapshot");
    let mut tables = BTreeMap::new();
    for r in rows {
        let t: String = r.try_get("t").expect("t");
        let all: String = r.try_get("r").expect("r");
        let mut rows: Vec<String> = all
            .split(ROWS)
            .filter(|r| !r.is_empty())
            .map(str::to_string)
            .collect();
        rows.sort();
        tables.insert(t, rows);
    }
    Snapshot(tables)
}

impl Snapshot {
    /// The tables whose rows differ, but for `except`.
    fn changed(&self, after: &Snapshot, except: &[&str]) -> Vec<String> {
        let names: std::collections::BTreeSet<&String> =
            self.0.keys().chain(after.0.keys()).collect();
        names
            .into_iter()
            .filter(|t| !except.contains(&t.as_str()) && self.0.get(*t) != after.0.get(*t))
            .cloned()
            .collect()
    }

    /// Rows new in `after` that hold a character nothing may store: a control character
    /// other than the line break and tab free text keeps, or a bidirectional override, which
    /// shows the letters after it reversed (`parse::check_value`).
    fn stored_invisible(&self, after: &Snapshot) -> Vec<String> {
        let bad = |c: char| {
            (c.is_control() && c != '\n' && c != '\t') || matches!(c, '\u{202D}' | '\u{202E}')
        };
        let empty = Vec::new();
        after
            .0
            .iter()
            .flat_map(|(t, rows)| {
                let old = self.0.get(t).unwrap_or(&empty);
                rows.iter()
                    .filter(|r| !old.contains(r) && r.chars().any(bad))
                    .map(move |r| format!("{t}: {}", shown(r)))
            })
            .collect()
    }
}

/// A line as a failure message shows it: its head, with invisible characters escaped.
pub fn shown(line: &str) -> String {
    let head: String = line.chars().take(120).collect();
    format!("{}", head.escape_debug())
}

/// What is checked of every answer: never our own failure, never long, never an invisible
/// character quoted back as it was typed (it could reorder the message around it). The
/// problems found, each a sentence.
fn check_answer(result: &Result<Reply, Error>) -> Vec<String> {
    let text = match result {
        Err(Error::Internal(detail)) => {
            return vec![format!(
                "failed inside (\"something went wrong\") instead of being refused: {detail}"
            )];
        }
        Err(e) => e.user_message(),
        Ok(r) => r.text.clone(),
    };
    let mut problems = Vec::new();
    // A refusal is one message; a success may list things (/help, /history), but not without end.
    let limit = if result.is_ok() { 5_000 } else { 1_000 };
    let length = text.chars().count();
    if length >= limit {
        problems.push(format!(
            "the answer is {length} characters long: {}…",
            shown(&text)
        ));
    }
    if text.contains(&"x".repeat(100)) || text.contains(&"lorem ipsum ".repeat(10)) {
        problems.push(format!(
            "the answer quotes a 100 KB value back: {}…",
            shown(&text)
        ));
    }
    if result.is_err() {
        if text.trim().is_empty() {
            problems.push("the refusal is empty".into());
        }
        let invisible = |c: char| {
            (c.is_control() && c != '\n') || matches!(c, '\u{202D}' | '\u{202E}' | '\u{200B}')
        };
        if text.chars().any(invisible) {
            problems.push(format!(
                "the refusal holds an invisible character: {}",
                shown(&text)
            ));
        }
    }
    problems
}

/// Runs lines and checks each answer and what it did to the database, collecting the
/// problems (all of them, so one run shows every command that misbehaves).
pub struct Checker {
    sql: String,
    before: Snapshot,
    problems: Vec<String>,
    /// The entries of [`KNOWN`] whose problem showed, by command and argument.
    pub known_seen: HashSet<(&'static str, &'static str)>,
}

impl Checker {
    pub async fn new(app: &TestApp) -> Self {
        let sql = snapshot_sql(app).await;
        let before = snapshot(app, &sql).await;
        Self {
            sql,
            before,
            problems: Vec::new(),
            known_seen: HashSet::new(),
        }
    }

    /// Runs `line` as `who`. `place` is the command and argument the hostile value is in, when
    /// it is in one (for [`KNOWN`]).
    pub async fn run(
        &mut self,
        app: &TestApp,
        who: &Who,
        line: &str,
        label: &str,
        place: Option<(&'static str, &'static str)>,
    ) -> Result<Reply, Error> {
        let what = format!("{} ({label}) as {}", shown(line), who.label);
        let result = app.run(&who.caller, line).await;
        let mut found = check_answer(&result);
        if let Some(known) = place.filter(|p| KNOWN.iter().any(|(c, a, _)| (*c, *a) == *p))
            && !found.is_empty()
            && !matches!(result, Err(Error::Internal(_)))
        {
            self.known_seen.insert(known);
            found.clear();
        }
        let after = snapshot(app, &self.sql).await;
        match &result {
            Ok(_) => {
                let stored = self.before.stored_invisible(&after);
                if !stored.is_empty() {
                    found.push(format!(
                        "succeeded and stored an invisible character: {stored:?}"
                    ));
                }
            }
            Err(e) => {
                // A wrong link code is counted against the account that tried it, after the
                // rollback (the limits on guessing): that row is the one change.
                let except: &[&str] = match e {
                    Error::WrongLinkCode => &["link_attempts"],
                    _ => &[],
                };
                let changed = self.before.changed(&after, except);
                if !changed.is_empty() {
                    found.push(format!(
                        "refused ({}), yet changed {changed:?}",
                        shown(&e.user_message())
                    ));
                }
            }
        }
        self.problems
            .extend(found.into_iter().map(|p| format!("{what}: {p}")));
        self.before = after;
        result
    }

    pub fn assert_no_problems(&self) {
        assert!(
            self.problems.is_empty(),
            "{} problems, the first ones:\n{}",
            self.problems.len(),
            self.problems
                .iter()
                .take(80)
                .cloned()
                .collect::<Vec<_>>()
                .join("\n")
        );
    }
}

/// Messages known to quote a value back whole: (command, argument, where and what to change).
/// Their answers are let through here (a failure inside or a change to the database still
/// counts), and the test fails once one no longer shows, so the entry is removed when it is
/// fixed. None left: every refusal quotes at most 60 characters (issue 11, point 6).
pub const KNOWN: &[(&str, &str, &str)] = &[];
