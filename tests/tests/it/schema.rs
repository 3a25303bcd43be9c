//! The two schemas stay in step: same migration versions, same tables and columns, same
//! indexes (by name and table).

use std::collections::BTreeMap;

use mentorops_core::db::{Backend, Db};

/// table → columns, read from CREATE TABLE statements; indexes as `index name ON table`
/// entries (their column expressions are spelled per dialect, so only name and table compare).
fn tables(sql: &str) -> BTreeMap<String, Vec<String>> {
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    let mut current: Option<String> = None;
    for line in sql.lines().map(str::trim) {
        let index = line
            .strip_prefix("CREATE INDEX ")
            .or_else(|| line.strip_prefix("CREATE UNIQUE INDEX "));
        if let Some(rest) = index {
            let mut words = rest.split_whitespace();
            if let (Some(name), Some("ON"), Some(table)) =
                (words.next(), words.next(), words.next())
            {
                let table = table.split('(').next().unwrap_or_default();
                out.insert(format!("index {name} ON {table}"), Vec::new());
            }
        } else if let Some(rest) = line.strip_prefix("ALTER TABLE ") {
            let mut words = rest.split_whitespace();
            let table = words.next().unwrap_or_default().to_string();
            if let (Some("ADD"), Some("COLUMN"), Some(col)) =
                (words.next(), words.next(), words.next())
            {
                out.entry(table).or_default().push(col.to_string());
            }
        } else if let Some(rest) = line.strip_prefix("CREATE TABLE ") {
            let name = rest
                .split_whitespace()
                .next()
                .unwrap_or_default()
                .to_string();
            out.insert(name.clone(), Vec::new());
            current = Some(name);
        } else if line.starts_with(");") {
            current = None;
        } else if let Some(t) = &current {
            let first = line.split_whitespace().next().unwrap_or_default();
            // Column lines start with a lower-case name; constraints (PRIMARY KEY, UNIQUE) do not.
            if !first.is_empty()
                && first.chars().all(|c| c.is_ascii_lowercase() || c == '_')
                && let Some(cols) = out.get_mut(t)
            {
                cols.push(first.to_string());
            }
        }
    }
    out
}

#[test]
fn sqlite_and_postgres_migrations_have_the_same_versions_tables_and_columns() {
    let lite = Db::migrator(Backend::Sqlite);
    let pg = Db::migrator(Backend::Postgres);
    let versions = |m: &sqlx::migrate::Migrator| {
        m.iter()
            .map(|x| (x.version, x.description.to_string()))
            .collect::<Vec<_>>()
    };
    assert_eq!(versions(&lite), versions(&pg));
    assert!(!versions(&lite).is_empty());
    for (a, b) in lite.iter().zip(pg.iter()) {
        let (ta, tb) = (tables(a.sql.as_str()), tables(b.sql.as_str()));
        assert!(!ta.is_empty());
        assert_eq!(
            ta, tb,
            "migration {} differs between SQLite and PostgreSQL",
            a.version
        );
    }
}
