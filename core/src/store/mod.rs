//! Repositories: the only code that writes SQL. Each function takes a connection (usually the
//! command's transaction) so a command's reads and writes share one transaction. Saves of a
//! status compare-and-swap on the expected old value: zero rows means someone else changed it
//! first, and the command is refused rather than overwriting.

pub mod answers;
pub mod audit;
pub mod export;
pub mod feedback;
pub mod inbox;
pub mod jobs;
pub(crate) mod lanes;
pub mod leases;
pub mod links;
pub mod matches;
pub mod offers;
pub mod orgs;
pub mod outbox;
pub mod overview;
pub mod pending;
pub mod previews;
pub mod sessions;
pub mod staff;
pub mod users;

use chrono::{DateTime, Utc};
use sqlx::any::AnyRow;
use sqlx::{AnyConnection, Row};

use crate::error::{Error, Result};

pub type Conn = AnyConnection;

pub fn ms(t: DateTime<Utc>) -> i64 {
    t.timestamp_millis()
}

pub fn time(ms: i64) -> DateTime<Utc> {
    DateTime::from_timestamp_millis(ms).unwrap_or_default()
}

pub(crate) fn get_time(row: &AnyRow, col: &str) -> Result<DateTime<Utc>> {
    Ok(time(row.try_get::<i64, _>(col)?))
}

pub(crate) fn get_opt_time(row: &AnyRow, col: &str) -> Result<Option<DateTime<Utc>>> {
    Ok(row.try_get::<Option<i64>, _>(col)?.map(time))
}

/// Zero rows changed by a compare-and-swap: somebody else changed the row first.
pub(crate) fn expect_one(rows: u64, what: &str) -> Result<()> {
    if rows == 1 {
        Ok(())
    } else {
        Err(Error::conflict(format!(
            "{what} was changed by someone else a moment ago: look again and retry"
        )))
    }
}

/// `1,2,3` for an `IN (…)` list. The ids are integers, so listing them inline is safe, and a
/// list of hundreds costs no bound parameters (both backends cap those).
pub(crate) fn id_list(ids: &[i64]) -> String {
    ids.iter().map(i64::to_string).collect::<Vec<_>>().join(",")
}

/// SQL put together from this module's own constants (column lists, fixed clauses). Values
/// never go into the text: they are always bound as parameters.
pub(crate) fn sql(text: String) -> sqlx::AssertSqlSafe<String> {
    sqlx::AssertSqlSafe(text)
}
