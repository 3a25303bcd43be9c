//! Issue 11's property: every command of the registry, with a hostile corpus (empty, 100 KB,
//! NUL, a right-to-left override, combining marks, SQL, an unclosed quote, emoji, `@otherbot`,
//! a key given twice…) in each of its arguments, run as every kind of caller, gets either a
//! refusal naming the problem — never "something went wrong" — that leaves the database as it
//! was, or, when the value is odd but valid (an emoji in an organization's name, SQL text in a
//! reason), a success that stored no invisible character. Either way the answer is short:
//! nothing a person typed is quoted back whole.
//!
//! The corpus is fixed rather than generated, so a failure names its line and runs the same
//! way again. Each line is a valid command with one corpus value in one argument, given by
//! position or as `name:value` (or one value too many), and every problem found is listed
//! before the test fails, so one run shows every command that misbehaves.

use std::collections::{BTreeMap, HashSet};

use mentorops_core::Error;
use mentorops_core::command::registry::{ArgKind, ArgSpec, Audience, refusal};
use mentorops_core::command::{COMMANDS, Caller, CommandSpec, parse, quote};
use mentorops_core::db::Backend;
use mentorops_core::reply::Reply;
use mentorops_core::roles::StaffRole;
use mentorops_core::status::UserStatus;
use sqlx::Row;

use crate::both_backends;
use crate::matching::{ANA, BEN, MARIA, TOM};
use crate::support::TestApp;

/// How a corpus value goes into a command line.
#[derive(Clone, Copy)]
enum Put {
    /// As a value, quoted when it needs quotes (`quote`), so it reaches the argument intact.
    Value,
    /// As typed, quotes and all (an unclosed quote must reach the tokenizer as one).
    Raw,
    /// The argument given twice: the value, and again by name.
    Twice,
}

struct Hostile {
    label: &'static str,
    text: String,
    put: Put,
}

fn corpus() -> Vec<Hostile> {
    let v = |label, text: &str| Hostile {
        label,
        text: text.to_string(),
        put: Put::Value,
    };
    let prose = "lorem ipsum ".repeat(100_000 / 12);
    vec![
        v("empty", ""),
        v("blank", "   "),
        v("100 KB word", &"x".repeat(100_000)),
        v("100 KB prose", prose.trim()),
        v("NUL", "Ana\u{0}Lima"),
        v("escape", "\u{1b}[31mred"),
        v("line break", "one\ntwo"),
        v("right-to-left override", "\u{202E}gro.elpmaxe@ana"),
        v("zero-width space", "Ana\u{200B}Lima"),
        v(
            "combining marks",
            "\u{301}Z\u{351}\u{346}a\u{358}l\u{300}g\u{301}o",
        ),
        v("SQL", "x'); DROP TABLE users; --"),
        v("SQL wildcard", "%' OR '1'='1"),
        v("emoji", "🙂👩‍👩‍👧"),
        v("@otherbot", "@otherbot"),
        v("mention", "<@123456>"),
        v("huge number", "99999999999999999999999"),
        v("negative number", "-1"),
        Hostile {
            label: "unclosed quote",
            text: "\"Ana Lima".into(),
            put: Put::Raw,
        },
        Hostile {
            label: "key given twice",
            text: "1".into(),
            put: Put::Twice,
        },
    ]
}

/// A valid value for an argument, so the line reaches the argument under test (people and
/// programs within Spring, so a program manager's scope does not stop it first).
fn sample(spec: &CommandSpec, arg: &ArgSpec) -> String {
    match (spec.name, arg.name, arg.kind) {
        ("assign", "mentor", _) | ("unassign", "with", _) => "tom@example.org".into(),
        ("session_book", "with", _) => "ben@example.org".into(),
        ("staff_add", "role", _) => "success_coordinator".into(),
        ("match_status", "status", _) => "RTBM".into(),
        (_, _, ArgKind::Person) => "target@example.org".into(),
        (_, _, ArgKind::Program) => "Spring".into(),
        (_, _, ArgKind::Organization) => "Acme".into(),
        (_, _, ArgKind::Email) => "new@example.org".into(),
        (_, _, ArgKind::Phone) => "+14155550598".into(),
        (_, _, ArgKind::Name) => quote("New Person"),
        (_, _, ArgKind::Number) => "1".into(),
        (_, _, ArgKind::YesNo) => "yes".into(),
        (_, _, ArgKind::Tags | ArgKind::Tag) => "cohort=1".into(),
        (_, _, ArgKind::Code) => "ABCDEFGH".into(),
        (_, _, ArgKind::Attachment) => "none.csv".into(),
        (_, _, ArgKind::Choice(list)) => list.first().copied().unwrap_or_default().into(),
        (_, "at", _) => quote("2027-01-05 10:00"),
        (_, "command", _) => "user_add".into(),
        (_, "answer" | "value", _) => "2".into(),
        (_, "confirm", _) => "yes".into(),
        _ => quote(&format!("New {}", arg.name)),
    }
}

fn put(h: &Hostile) -> String {
    match h.put {
        Put::Value | Put::Twice => quote(&h.text),
        Put::Raw => h.text.clone(),
    }
}

/// `spec` with valid values in its required arguments and in the positional ones before the
/// `upto`th (so a later positional value lands in its own slot), and `fragment` in place of
/// argument `at`.
fn line(spec: &CommandSpec, upto: usize, at: Option<(usize, &str)>) -> String {
    let mut line = format!("/{}", spec.name);
    for (i, a) in spec.args.iter().enumerate() {
        let part = match at {
            Some((x, fragment)) if x == i => fragment.to_string(),
            _ if a.positional && (a.required || i < upto) => sample(spec, a),
            _ if a.required => format!("{}:{}", a.name, sample(spec, a)),
            _ => continue,
        };
        line.push(' ');
        line.push_str(&part);
    }
    line
}

/// The lines that put `h` into `spec`'s arguments, each with the argument it is in: into each
/// argument by position (when it takes one) and by name, and as one value too many after a
/// valid line.
fn lines(spec: &CommandSpec, h: &Hostile) -> Vec<(Option<&'static str>, String)> {
    let value = put(h);
    let mut out = Vec::new();
    for (x, arg) in spec.args.iter().enumerate() {
        let named = format!("{}:{value}", arg.name);
        if arg.positional {
            let positional = match h.put {
                Put::Twice => format!("{value} {named}"),
                _ => value.clone(),
            };
            out.push((Some(arg.name), line(spec, x, Some((x, &positional)))));
        }
        let named = match h.put {
            Put::Twice => format!("{named} {named}"),
            _ => named,
        };
        out.push((Some(arg.name), line(spec, x, Some((x, &named)))));
    }
    out.push((
        None,
        format!("{} {value}", line(spec, spec.args.len(), None)),
    ));
    out
}

/// Every row of every table, as text, per table (sorted): what "the database is unchanged"
/// compares.
struct Snapshot(BTreeMap<String, Vec<String>>);

/// Between the rows of a table in the query's answer; split off again before comparing.
const ROWS: char = '\u{1E}';

/// The query that reads every table as one text (its rows, each with every column as text).
/// One text per table keeps the snapshot, taken after every command, to one short query.
async fn snapshot_sql(app: &TestApp) -> String {
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

async fn snapshot(app: &TestApp, sql: &str) -> Snapshot {
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
fn shown(line: &str) -> String {
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

/// One kind of caller: who they are to the permission table, and how they call.
struct Who {
    label: &'static str,
    caller: Caller,
    linked: bool,
    status: Option<UserStatus>,
    roles: Vec<StaffRole>,
}

impl Who {
    fn may_run(&self, spec: &CommandSpec) -> bool {
        let audience = Audience {
            linked: self.linked,
            status: self.status,
            staff_roles: &self.roles,
        };
        refusal(spec, audience).is_none()
    }
}

async fn callers(app: &TestApp) -> Vec<Who> {
    app.with_program().await;
    // A ready mentee (who can /choose) and mentor, and a matched pair (who can book sessions).
    let ana = app
        .ready_person(
            "Ana Mentee",
            "ana@example.org",
            "+14155550611",
            "mentee",
            ANA,
            "e-ana",
        )
        .await;
    app.ready_person(
        "Maria Mentor",
        "maria@example.org",
        "+14155550601",
        "mentor",
        MARIA,
        "m-maria",
    )
    .await;
    app.ready_person(
        "Ben Mentee",
        "ben@example.org",
        "+14155550612",
        "mentee",
        BEN,
        "e-ben",
    )
    .await;
    let tom = app
        .ready_person(
            "Tom Mentor",
            "tom@example.org",
            "+14155550603",
            "mentor",
            TOM,
            "m-tom",
        )
        .await;
    app.admin("/assign ben@example.org tom@example.org").await;
    for (i, (email, status)) in [
        ("target@example.org", None),
        ("ai@example.org", None),
        ("gone@example.org", Some("IW")),
    ]
    .into_iter()
    .enumerate()
    {
        app.admin(&format!(
            "/user_add \"Person {i}\" {email} +1415555070{i} mentee program:Spring"
        ))
        .await;
        if let Some(s) = status {
            app.admin(&format!("/status {email} {s}")).await;
        }
    }
    let who = |label, caller, status, roles| Who {
        label,
        caller,
        linked: true,
        status: Some(status),
        roles,
    };
    let console = |email: &'static str| async move { app.caller_for(app.user_id(email).await) };
    vec![
        who(
            "the super admin",
            app.caller_for(app.admin_id),
            UserStatus::Active,
            vec![StaffRole::SuperAdmin],
        ),
        who(
            "a program manager",
            console("pm@example.org").await,
            UserStatus::Active,
            vec![StaffRole::ProgramManager],
        ),
        who(
            "a success coordinator",
            console("sc@example.org").await,
            UserStatus::Active,
            vec![StaffRole::SuccessCoordinator],
        ),
        who("a ready mentee", ana, UserStatus::Active, vec![]),
        who("a matched mentor", tom, UserStatus::Active, vec![]),
        who(
            "an applicant (AI)",
            console("ai@example.org").await,
            UserStatus::ApplicationIncomplete,
            vec![],
        ),
        who(
            "a deactivated user (IW)",
            console("gone@example.org").await,
            UserStatus::InactiveWithdrawn,
            vec![],
        ),
        Who {
            label: "an unlinked chat account",
            caller: app.chat("9999"),
            linked: false,
            status: None,
            roles: vec![],
        },
    ]
}

/// Runs lines and checks each answer and what it did to the database, collecting the
/// problems (all of them, so one run shows every command that misbehaves).
struct Checker {
    sql: String,
    before: Snapshot,
    problems: Vec<String>,
    /// The entries of [`KNOWN`] whose problem showed, by command and argument.
    known_seen: HashSet<(&'static str, &'static str)>,
}

impl Checker {
    async fn new(app: &TestApp) -> Self {
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
    async fn run(
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

    fn assert_no_problems(&self) {
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
const KNOWN: &[(&str, &str, &str)] = &[];

/// Which callers run a line. The parser reads a line before anyone is looked up, so a line it
/// refuses gets the same answer from everyone: it runs once, as the next caller in turn. A line
/// that parses runs as every caller the registry lets run the command (the handler sees the
/// value), unless the same arguments ran already (a value given by position and by name);
/// callers the registry refuses are refused before the value is looked at, so the first line
/// of each corpus value runs as one of them, in turn, and over the corpus each is met.
async fn every_command_with_every_hostile_value_as_every_caller_is_refused_clearly_or_stores_nothing_invisible(
    app: &TestApp,
) {
    let callers = callers(app).await;
    let mut checker = Checker::new(app).await;
    let (mut runs, mut succeeded) = (0, 0);
    let mut turn = 0;
    let mut seen = HashSet::new();
    for spec in COMMANDS {
        let (allowed, refused): (Vec<&Who>, Vec<&Who>) =
            callers.iter().partition(|w| w.may_run(spec));
        // Telegram's form of a command for another bot in a group (its front-end ignores
        // those; the core runs the command as if it were ours).
        let valid = line(spec, 0, None);
        let mut all = vec![(
            "for another bot",
            None,
            valid.replacen(
                &format!("/{}", spec.name),
                &format!("/{}@otherbot", spec.name),
                1,
            ),
        )];
        for h in corpus() {
            all.extend(
                lines(spec, &h)
                    .into_iter()
                    .map(|(arg, l)| (h.label, arg, l)),
            );
        }
        let mut first_of = HashSet::new();
        for (label, arg, line) in &all {
            turn += 1;
            let mut run_as: Vec<&Who> = match parse(line) {
                Err(_) => vec![&callers[turn % callers.len()]],
                Ok(inv) => {
                    let args: Vec<(String, String)> = inv
                        .args
                        .iter()
                        .map(|(k, v)| (k.to_string(), v.clone()))
                        .collect();
                    if seen.insert((spec.name, args)) {
                        allowed.clone()
                    } else {
                        Vec::new()
                    }
                }
            };
            if first_of.insert(*label) && !refused.is_empty() {
                run_as.push(refused[turn % refused.len()]);
            }
            for who in run_as {
                let place = arg.map(|a| (spec.name, a));
                let result = checker.run(app, who, line, label, place).await;
                runs += 1;
                succeeded += usize::from(result.is_ok());
            }
        }
    }
    eprintln!("{runs} runs, {succeeded} succeeded");
    checker.assert_no_problems();
    for (command, arg, fix) in KNOWN {
        assert!(
            checker.known_seen.contains(&(*command, *arg)),
            "/{command} {arg} no longer quotes a value back whole: remove it from KNOWN ({fix})"
        );
    }
    // Some lines must get through, or the corpus tested only the parser.
    assert!(succeeded > 50, "only {succeeded} of {runs} lines succeeded");
}

/// Free text is where a hostile value can be stored: reasons (in the audit log, shown by
/// `/history`) and answers. Line breaks stay; an override, a control character or a page of
/// text does not; what `/history` shows afterwards is still short.
async fn reasons_and_answers_keep_line_breaks_but_store_nothing_invisible_and_stay_short(
    app: &TestApp,
) {
    let callers = callers(app).await;
    let (admin, applicant) = (&callers[0], &callers[5]);
    let mut checker = Checker::new(app).await;
    // The target starts in AI; each change that goes through flips it between SI and A.
    let mut next = ["SI", "A"].into_iter().cycle();
    let mut status = next.next().unwrap_or("SI");
    let mut outcomes = BTreeMap::new();
    for h in corpus().into_iter().filter(|h| matches!(h.put, Put::Value)) {
        let value = quote(&h.text);
        let line = format!("/status target@example.org {status} reason:{value}");
        let changed = checker.run(app, admin, &line, h.label, None).await;
        if changed.is_ok() {
            status = next.next().unwrap_or("SI");
        }
        outcomes.insert(h.label, changed.map_err(|e| e.user_message()));
        let history = checker
            .run(app, admin, "/history target@example.org", h.label, None)
            .await;
        assert!(history.is_ok(), "/history after {}: {history:?}", h.label);
        // The about question is free text; whatever happens, the checker looks at it.
        let _ = checker
            .run(
                app,
                applicant,
                &format!("/apply q:about {value}"),
                h.label,
                None,
            )
            .await;
    }
    checker.assert_no_problems();
    let outcome = |label: &str| outcomes.get(label).cloned().unwrap_or(Err(String::new()));
    for kept in [
        "line break",
        "SQL",
        "emoji",
        "zero-width space",
        "combining marks",
    ] {
        assert!(outcome(kept).is_ok(), "{kept}: {:?}", outcome(kept));
    }
    for (refused, says) in [
        (
            "100 KB word",
            "reason: is 100000 characters long: keep it to 500",
        ),
        (
            "right-to-left override",
            "reason: holds the invisible character U+202E, which shows the text after it reversed",
        ),
        ("NUL", "reason: holds the invisible character U+0000"),
        ("blank", "reason: is empty"),
    ] {
        let got = outcome(refused).err().unwrap_or_default();
        assert!(got.starts_with(says), "{refused}: {got}");
    }
    let stored = app
        .count("SELECT COUNT(*) AS n FROM audit_log WHERE reason = 'one\ntwo'")
        .await;
    assert_eq!(stored, 1, "the reason keeps its line break");
}

/// Values the corpus above let through as successes before issue 11's fixes, each now refused
/// with its own message: a blank value (it matched everyone), a ranking of separators only, a
/// time padded with 10 000 spaces (quoted back whole) — and refusals that list programs or
/// organizations name ten and count the rest.
async fn values_that_once_meant_everyone_or_nothing_are_refused_with_one_short_message(
    app: &TestApp,
) {
    let callers = callers(app).await;
    let (admin, mentee, mentor) = (&callers[0], &callers[3], &callers[4]);
    for i in 1..=11 {
        app.admin(&format!("/org_add Org{i}")).await;
        app.admin(&format!("/program_add Org{i} P{i}")).await;
    }
    let mut checker = Checker::new(app).await;
    let padded = format!("2020-01-05{}10:00", " ".repeat(10_000));
    for (who, line, says) in [
        (
            admin,
            "/user_show \"\"".to_string(),
            "person: is empty: give a value",
        ),
        (
            mentor,
            "/session_book with:\" \" at:\"2027-01-05 10:00\"".into(),
            "with: is empty: give a value, or leave with out",
        ),
        (
            mentee,
            "/choose \", ,\"".into(),
            "name at least one mentor from /mentors",
        ),
        (
            mentor,
            format!("/session_book at:{}", quote(&padded)),
            "2020-01-05 10:00 (UTC) is in the past",
        ),
        (
            admin,
            "/program_set Nope".into(),
            "there is no program 'Nope': yours are ",
        ),
        (
            admin,
            "/program_add Nope Winter".into(),
            "there is no organization 'Nope': there are ",
        ),
    ] {
        let got = checker.run(app, who, &line, "odd", None).await;
        let m = got.err().map(|e| e.user_message()).unwrap_or_default();
        assert!(m.starts_with(says), "{}: {m}", shown(&line));
    }
    checker.assert_no_problems();
    let m = app.admin_err("/program_set Nope").await.user_message();
    assert!(m.ends_with(" and 2 more"), "12 programs: {m}");
    let m = app
        .admin_err("/program_add Nope Winter")
        .await
        .user_message();
    assert!(m.ends_with(" and 2 more"), "12 organizations: {m}");
}

both_backends!(
    every_command_with_every_hostile_value_as_every_caller_is_refused_clearly_or_stores_nothing_invisible,
    reasons_and_answers_keep_line_breaks_but_store_nothing_invisible_and_stay_short,
    values_that_once_meant_everyone_or_nothing_are_refused_with_one_short_message,
);
