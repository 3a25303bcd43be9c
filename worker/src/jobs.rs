//! The jobs on the queue. A job names its item and the moment it is due; everything else is
//! read from SQL when it runs, so a job that runs twice, late or after the item changed does
//! the right thing (the domain functions re-check and compare-and-swap).

use chrono::{DateTime, Utc};
use mentorops_core::store::jobs::{DueWork, Work};
use mentorops_core::store::sessions::ReminderColumn;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Lead {
    Day,
    Hour,
}

impl From<ReminderColumn> for Lead {
    fn from(c: ReminderColumn) -> Self {
        match c {
            ReminderColumn::DayBefore => Self::Day,
            ReminderColumn::HourBefore => Self::Hour,
        }
    }
}

impl From<Lead> for ReminderColumn {
    fn from(l: Lead) -> Self {
        match l {
            Lead::Day => Self::DayBefore,
            Lead::Hour => Self::HourBefore,
        }
    }
}

/// One job. `due_ms` is when it may run (Unix milliseconds); `tick` is a cron tick (Unix
/// seconds); `round` tells apart a re-queue by the reconciler from the original.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "job", rename_all = "snake_case")]
pub enum Job {
    ExpireOffer {
        offer: i64,
        due_ms: i64,
        round: u32,
    },
    RemindOffer {
        offer: i64,
        due_ms: i64,
        round: u32,
    },
    RemindSession {
        session: i64,
        lead: Lead,
        due_ms: i64,
        round: u32,
    },
    DeliverEmail {
        outbox: i64,
        due_ms: i64,
        round: u32,
    },
    RemindInactive {
        user: i64,
        tick: u64,
    },
    Sweep {
        tick: u64,
    },
    Digest {
        tick: u64,
    },
    Reconcile {
        tick: u64,
    },
    /// Does nothing: for benchmarks and queue health checks.
    Noop {
        n: u64,
    },
}

impl Job {
    /// The job for a piece of due work; `round` 0 when fed, a reconciler tick when re-queued.
    pub fn for_work(d: &DueWork, round: u32) -> Self {
        let due_ms = d.at.timestamp_millis();
        match d.work {
            Work::ExpireOffer(offer) => Self::ExpireOffer {
                offer,
                due_ms,
                round,
            },
            Work::RemindOffer(offer) => Self::RemindOffer {
                offer,
                due_ms,
                round,
            },
            Work::RemindSession(session, column) => Self::RemindSession {
                session,
                lead: column.into(),
                due_ms,
                round,
            },
            Work::DeliverEmail(outbox) => Self::DeliverEmail {
                outbox,
                due_ms,
                round,
            },
        }
    }

    /// The idempotency key: the same item, due time and round is queued once however many
    /// workers feed it, and however often (apalis trap 8: cron fires on every replica, so a
    /// cron job's key is its tick).
    pub fn key(&self) -> String {
        match self {
            Self::ExpireOffer {
                offer,
                due_ms,
                round,
            } => format!("expire:{offer}:{due_ms}:{round}"),
            Self::RemindOffer {
                offer,
                due_ms,
                round,
            } => format!("remind:{offer}:{due_ms}:{round}"),
            Self::RemindSession {
                session,
                lead,
                due_ms,
                round,
            } => {
                format!("session:{session}:{lead:?}:{due_ms}:{round}")
            }
            Self::DeliverEmail {
                outbox,
                due_ms,
                round,
            } => format!("email:{outbox}:{due_ms}:{round}"),
            Self::RemindInactive { user, tick } => format!("inactive:{user}:{tick}"),
            Self::Sweep { tick } => format!("sweep:{tick}"),
            Self::Digest { tick } => format!("digest:{tick}"),
            Self::Reconcile { tick } => format!("reconcile:{tick}"),
            Self::Noop { n } => format!("noop:{n}"),
        }
    }

    /// The kind, as metrics label it.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::ExpireOffer { .. } => "expire_offer",
            Self::RemindOffer { .. } => "remind_offer",
            Self::RemindSession { .. } => "remind_session",
            Self::DeliverEmail { .. } => "deliver_email",
            Self::RemindInactive { .. } => "remind_inactive",
            Self::Sweep { .. } => "sweep",
            Self::Digest { .. } => "digest",
            Self::Reconcile { .. } => "reconcile",
            Self::Noop { .. } => "noop",
        }
    }

    /// When the job may run; None = now.
    pub fn due(&self) -> Option<DateTime<Utc>> {
        match self {
            Self::ExpireOffer { due_ms, .. }
            | Self::RemindOffer { due_ms, .. }
            | Self::RemindSession { due_ms, .. }
            | Self::DeliverEmail { due_ms, .. } => DateTime::from_timestamp_millis(*due_ms),
            Self::RemindInactive { .. }
            | Self::Sweep { .. }
            | Self::Digest { .. }
            | Self::Reconcile { .. }
            | Self::Noop { .. } => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_differ_by_item_time_and_round_and_survive_a_round_trip() {
        let a = Job::ExpireOffer {
            offer: 7,
            due_ms: 1000,
            round: 0,
        };
        let b = Job::ExpireOffer {
            offer: 7,
            due_ms: 2000,
            round: 0,
        };
        let c = Job::ExpireOffer {
            offer: 7,
            due_ms: 1000,
            round: 5,
        };
        let d = Job::RemindOffer {
            offer: 7,
            due_ms: 1000,
            round: 0,
        };
        let keys: std::collections::HashSet<_> = [&a, &b, &c, &d].iter().map(|j| j.key()).collect();
        assert_eq!(keys.len(), 4);
        for job in [
            a,
            Job::Sweep { tick: 60 },
            Job::RemindSession {
                session: 1,
                lead: Lead::Hour,
                due_ms: 5,
                round: 0,
            },
        ] {
            let json = serde_json::to_string(&job).unwrap_or_default();
            let back: Job = serde_json::from_str(&json).unwrap_or(Job::Noop { n: 0 });
            assert_eq!(back, job);
        }
    }
}
