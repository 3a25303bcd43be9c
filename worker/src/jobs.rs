//! The jobs on the queue. A job names its items and the moment it is due; everything else is
//! read from SQL when it runs, so a job that runs twice, late or after the items changed does
//! the right thing (the domain functions re-check and compare-and-swap). Offer and session
//! timers due in the same second share a job (`Job::for_work`).

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use mentorops_core::store::jobs::{BATCH, DueWork, Work};
use mentorops_core::store::sessions::ReminderColumn;
use mentorops_core::timers;
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
    /// Offers whose deadlines fall in the same second (or that were overdue when queued), at
    /// most `BATCH`, expired together; `due_ms` is the earliest deadline among them.
    ExpireOffers {
        offers: Vec<i64>,
        due_ms: i64,
        round: u32,
    },
    /// Offers whose reminder times fall in the same second, reminded together.
    RemindOffers {
        offers: Vec<i64>,
        due_ms: i64,
        round: u32,
    },
    /// Sessions due the same reminder in the same second, reminded together.
    RemindSessions {
        sessions: Vec<i64>,
        lead: Lead,
        due_ms: i64,
        round: u32,
    },
    /// One offer's expiry, as versions before the batches queued it (run as a batch of one).
    ExpireOffer {
        offer: i64,
        due_ms: i64,
        round: u32,
    },
    /// One offer's reminder, as queued before the batches.
    RemindOffer {
        offer: i64,
        due_ms: i64,
        round: u32,
    },
    /// One session's reminder, as queued before the batches.
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
    /// Closes the flash-mentoring matches whose session has ended (docs/domain.md#flash-mentoring);
    /// queued on the reconciler's cron tick.
    CloseFlash {
        tick: u64,
    },
    /// Ends the mentors' pauses whose time has come and tells each once, and makes the free
    /// places mentors are short of (docs/domain.md#availability, docs/domain.md#capacity);
    /// queued on the reconciler's cron tick.
    Availability {
        tick: u64,
    },
    /// Does nothing: for benchmarks and queue health checks.
    Noop {
        n: u64,
    },
}

impl Job {
    /// The jobs for pieces of due work; `round` 0 when fed, a reconciler tick when re-queued.
    /// Timers share a job — at most `BATCH` items, one transaction per pass — when they are of
    /// the same kind and come due in the same second, or were due already at `now` (fed late, or
    /// re-queued by the reconciler). Each email is a job of its own. Items are sorted by id
    /// within a job, so replicas feeding the same rows make the same jobs, with the same keys.
    pub fn for_work(work: &[DueWork], now: DateTime<Utc>, round: u32) -> Vec<Self> {
        let now_ms = now.timestamp_millis();
        // (kind, the second it comes due, or i64::MIN for "due already") → (id, due) of each item.
        let mut groups: BTreeMap<(u8, i64), Vec<(i64, i64)>> = BTreeMap::new();
        let mut jobs = Vec::new();
        for d in work {
            let due_ms = d.at.timestamp_millis();
            let kind = match d.work {
                Work::ExpireOffer(_) => 0,
                Work::RemindOffer(_) => 1,
                Work::RemindSession(_, ReminderColumn::DayBefore) => 2,
                Work::RemindSession(_, ReminderColumn::HourBefore) => 3,
                Work::DeliverEmail(outbox) => {
                    jobs.push(Self::DeliverEmail {
                        outbox,
                        due_ms,
                        round,
                    });
                    continue;
                }
            };
            let (_, id) = d.work.row();
            let second = if due_ms <= now_ms {
                i64::MIN
            } else {
                due_ms.div_euclid(1000)
            };
            groups.entry((kind, second)).or_default().push((id, due_ms));
        }
        for ((kind, _), mut items) in groups {
            items.sort_unstable();
            items.dedup_by_key(|(id, _)| *id);
            for chunk in items.chunks(BATCH) {
                let ids: Vec<i64> = chunk.iter().map(|(id, _)| *id).collect();
                let due_ms = chunk.iter().map(|(_, at)| *at).min().unwrap_or(now_ms);
                jobs.push(match kind {
                    0 => Self::ExpireOffers {
                        offers: ids,
                        due_ms,
                        round,
                    },
                    1 => Self::RemindOffers {
                        offers: ids,
                        due_ms,
                        round,
                    },
                    _ => Self::RemindSessions {
                        sessions: ids,
                        lead: if kind == 2 { Lead::Day } else { Lead::Hour },
                        due_ms,
                        round,
                    },
                });
            }
        }
        jobs
    }

    /// The idempotency key: the same item, due time and round is queued once however many workers
    /// feed it, and however often (apalis trap 8, docs/operations.md#trap-cron-every-replica: cron
    /// fires on every replica, so a cron job's key is its tick).
    pub fn key(&self) -> String {
        match self {
            Self::ExpireOffers {
                offers,
                due_ms,
                round,
            } => format!("expire_batch:{due_ms}:{}:{round}", digest(offers)),
            Self::RemindOffers {
                offers,
                due_ms,
                round,
            } => format!("remind_batch:{due_ms}:{}:{round}", digest(offers)),
            Self::RemindSessions {
                sessions,
                lead,
                due_ms,
                round,
            } => format!(
                "session_batch:{lead:?}:{due_ms}:{}:{round}",
                digest(sessions)
            ),
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
            Self::CloseFlash { tick } => format!("close_flash:{tick}"),
            Self::Availability { tick } => format!("availability:{tick}"),
            Self::Noop { n } => format!("noop:{n}"),
        }
    }

    /// The kind, as metrics label it.
    pub fn kind(&self) -> &'static str {
        match self {
            // A batch counts as one job of its kind.
            Self::ExpireOffers { .. } | Self::ExpireOffer { .. } => "expire_offer",
            Self::RemindOffers { .. } | Self::RemindOffer { .. } => "remind_offer",
            Self::RemindSessions { .. } | Self::RemindSession { .. } => "remind_session",
            Self::DeliverEmail { .. } => "deliver_email",
            Self::RemindInactive { .. } => "remind_inactive",
            Self::Sweep { .. } => "sweep",
            Self::Digest { .. } => "digest",
            Self::Reconcile { .. } => "reconcile",
            Self::CloseFlash { .. } => "close_flash",
            Self::Availability { .. } => "availability",
            Self::Noop { .. } => "noop",
        }
    }

    /// When the job may run; None = now.
    pub fn due(&self) -> Option<DateTime<Utc>> {
        match self {
            Self::ExpireOffers { due_ms, .. }
            | Self::RemindOffers { due_ms, .. }
            | Self::RemindSessions { due_ms, .. }
            | Self::ExpireOffer { due_ms, .. }
            | Self::RemindOffer { due_ms, .. }
            | Self::RemindSession { due_ms, .. }
            | Self::DeliverEmail { due_ms, .. } => DateTime::from_timestamp_millis(*due_ms),
            Self::RemindInactive { .. }
            | Self::Sweep { .. }
            | Self::Digest { .. }
            | Self::Reconcile { .. }
            | Self::CloseFlash { .. }
            | Self::Availability { .. }
            | Self::Noop { .. } => None,
        }
    }

    /// The timer this job runs, and over which items (None: not a timer).
    pub fn timer(&self) -> Option<(timers::Job, Vec<i64>)> {
        match self {
            Self::ExpireOffers { offers, .. } => Some((timers::Job::Expire, offers.clone())),
            Self::RemindOffers { offers, .. } => Some((timers::Job::RemindOffer, offers.clone())),
            Self::RemindSessions { sessions, lead, .. } => {
                Some((timers::Job::RemindSession((*lead).into()), sessions.clone()))
            }
            Self::ExpireOffer { offer, .. } => Some((timers::Job::Expire, vec![*offer])),
            Self::RemindOffer { offer, .. } => Some((timers::Job::RemindOffer, vec![*offer])),
            Self::RemindSession { session, lead, .. } => {
                Some((timers::Job::RemindSession((*lead).into()), vec![*session]))
            }
            Self::DeliverEmail { .. }
            | Self::RemindInactive { .. }
            | Self::Sweep { .. }
            | Self::Digest { .. }
            | Self::Reconcile { .. }
            | Self::CloseFlash { .. }
            | Self::Availability { .. }
            | Self::Noop { .. } => None,
        }
    }
}

/// How many ids a batch's key names, and a 64-bit FNV-1a of them (the same in every process),
/// so a batch's key tells it apart from another batch due at the same time.
fn digest(ids: &[i64]) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for id in ids {
        for b in id.to_le_bytes() {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
    }
    format!("{}x{h:016x}", ids.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(ms: i64) -> DateTime<Utc> {
        DateTime::from_timestamp_millis(ms).unwrap_or_default()
    }

    #[test]
    fn timers_due_in_the_same_second_share_a_job_of_at_most_a_batch() {
        let now = at(1_000_000);
        let mut work: Vec<DueWork> = (1..=1200)
            .map(|id| DueWork {
                work: Work::ExpireOffer(id),
                // 1200 offers due within one second (spread over its milliseconds).
                at: at(2_000_000 + id % 1000),
            })
            .collect();
        work.push(DueWork {
            work: Work::ExpireOffer(5000),
            at: at(2_001_000), // the next second
        });
        work.push(DueWork {
            work: Work::RemindOffer(7),
            at: at(2_000_500),
        });
        work.push(DueWork {
            work: Work::ExpireOffer(6000),
            at: at(900_000), // due already
        });
        work.push(DueWork {
            work: Work::ExpireOffer(6001),
            at: at(10_000), // due long ago: the same job as 6000
        });
        work.push(DueWork {
            work: Work::DeliverEmail(9),
            at: at(2_000_000),
        });
        let jobs = Job::for_work(&work, now, 0);
        let batches: Vec<(&Vec<i64>, i64)> = jobs
            .iter()
            .filter_map(|j| match j {
                Job::ExpireOffers { offers, due_ms, .. } => Some((offers, *due_ms)),
                _ => None,
            })
            .collect();
        // Overdue first (one job), then the second's 1200 in jobs of 500, 500, 200, then 5000.
        let sizes: Vec<usize> = batches.iter().map(|(ids, _)| ids.len()).collect();
        assert_eq!(sizes, [2, 500, 500, 200, 1]);
        assert_eq!(
            batches[0],
            (&vec![6000, 6001], 10_000),
            "due at the earliest"
        );
        for (ids, due) in &batches[1..4] {
            assert!(ids.windows(2).all(|w| w[0] < w[1]), "sorted by id");
            let earliest = ids.iter().map(|id| 2_000_000 + id % 1000).min();
            assert_eq!(
                Some(*due),
                earliest,
                "due at its earliest item: never early"
            );
        }
        assert!(
            jobs.iter()
                .any(|j| matches!(j, Job::RemindOffers { offers, .. } if offers == &[7]))
        );
        assert!(
            jobs.iter()
                .any(|j| matches!(j, Job::DeliverEmail { outbox: 9, .. }))
        );
        // Fed again (another replica, a crash before marking): the same jobs, the same keys.
        work.reverse();
        let again: Vec<String> = Job::for_work(&work, now, 0).iter().map(Job::key).collect();
        let mut keys: Vec<String> = jobs.iter().map(Job::key).collect();
        let mut again_sorted = again.clone();
        keys.sort();
        again_sorted.sort();
        assert_eq!(keys, again_sorted);
        let unique: std::collections::HashSet<_> = keys.iter().collect();
        assert_eq!(unique.len(), keys.len(), "every batch has its own key");
        // A reconciler round gives new keys.
        let requeued: std::collections::HashSet<String> =
            Job::for_work(&work, now, 7).iter().map(Job::key).collect();
        assert!(keys.iter().all(|k| !requeued.contains(k)));
    }

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
