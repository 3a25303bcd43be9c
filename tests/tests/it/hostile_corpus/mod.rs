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

use mentorops_core::command::{COMMANDS, parse, quote};

use crate::both_backends;
use crate::support::TestApp;

mod callers;
mod checker;
mod corpus;

use callers::{Who, callers};
use checker::{Checker, KNOWN, shown};
use corpus::{Put, corpus, line, lines};

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
