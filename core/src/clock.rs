//! Time is passed in, never read inside the domain, so tests can move it forward.

use std::sync::Mutex;

use chrono::{DateTime, Duration, Utc};

pub trait Clock: Send + Sync {
    fn now(&self) -> DateTime<Utc>;
}

pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// A clock that only moves when told to.
pub struct ManualClock(Mutex<DateTime<Utc>>);

impl ManualClock {
    pub fn new(start: DateTime<Utc>) -> Self {
        Self(Mutex::new(start))
    }
    pub fn advance(&self, by: Duration) {
        if let Ok(mut t) = self.0.lock() {
            *t += by;
        }
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        self.0
            .lock()
            .map(|t| *t)
            .unwrap_or_else(|e| *e.into_inner())
    }
}

/// The system clock, shifted by an offset that can be changed: for tests and demos of timers
/// that run on a real queue (which schedules in wall-clock time) but need "three days later".
pub struct ShiftedClock(Mutex<Duration>);

impl ShiftedClock {
    pub fn new() -> Self {
        Self(Mutex::new(Duration::zero()))
    }
    pub fn set_offset(&self, offset: Duration) {
        if let Ok(mut o) = self.0.lock() {
            *o = offset;
        }
    }
}

impl Default for ShiftedClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock for ShiftedClock {
    fn now(&self) -> DateTime<Utc> {
        let offset = self
            .0
            .lock()
            .map(|o| *o)
            .unwrap_or_else(|e| *e.into_inner());
        Utc::now() + offset
    }
}
