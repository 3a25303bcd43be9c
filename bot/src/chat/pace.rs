//! The one pacer of chat sends: at most `per_second` requests in any second, all chats
//! together, and at least `spacing` between two sends to one chat (Telegram: about 30 a second
//! overall and one a second per chat). It is per process: with several processes sending for
//! one bot, give each its share (`*.messages_per_second`); a 429 is still waited out.

use std::collections::HashMap;
use std::time::Duration;

use tokio::time::Instant;

pub struct Pace {
    /// The time between two sends, all chats together.
    interval: Duration,
    spacing: Duration,
    /// The next free slot. Each send takes the next slot under the lock, so waiters are served
    /// in the order they came (none starves behind luckier ones) and sends are evenly spread.
    next: std::sync::Mutex<Option<Instant>>,
    last: std::sync::Mutex<HashMap<String, Instant>>,
}

impl Pace {
    pub fn new(per_second: usize, spacing: Duration) -> Self {
        Self {
            interval: Duration::from_secs(1) / per_second.max(1) as u32,
            spacing,
            next: std::sync::Mutex::new(None),
            last: std::sync::Mutex::new(HashMap::new()),
        }
    }

    /// A pace that never waits: for a platform whose client paces every request itself.
    pub fn unlimited() -> Self {
        Self {
            interval: Duration::ZERO,
            spacing: Duration::ZERO,
            next: std::sync::Mutex::new(None),
            last: std::sync::Mutex::new(HashMap::new()),
        }
    }

    /// Waits until one more send to `lane` fits, and counts it.
    pub async fn wait(&self, lane: &str) {
        if !self.spacing.is_zero() {
            let last = self.lock_last().get(lane).copied();
            if let Some(t) = last {
                tokio::time::sleep_until(t + self.spacing).await;
            }
        }
        let slot = {
            let mut next = self.next.lock().unwrap_or_else(|p| p.into_inner());
            let now = Instant::now();
            let slot = next.map_or(now, |n| n.max(now));
            *next = Some(slot + self.interval);
            slot
        };
        tokio::time::sleep_until(slot).await;
        if !self.spacing.is_zero() {
            let now = Instant::now();
            let mut last = self.lock_last();
            // Forget chats not written to lately, so the map stays small.
            if last.len() > 10_000 {
                last.retain(|_, t| now.duration_since(*t) < self.spacing);
            }
            last.insert(lane.to_string(), now);
        }
    }

    fn lock_last(&self) -> std::sync::MutexGuard<'_, HashMap<String, Instant>> {
        self.last.lock().unwrap_or_else(|p| p.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn never_more_than_the_limit_in_any_second_nor_closer_than_the_spacing_in_a_chat() {
        let pace = std::sync::Arc::new(Pace::new(25, Duration::from_secs(1)));
        let start = Instant::now();
        let times = std::sync::Arc::new(tokio::sync::Mutex::new(Vec::new()));
        let mut tasks = Vec::new();
        for chat in 0..40 {
            let (pace, times) = (pace.clone(), times.clone());
            tasks.push(tokio::spawn(async move {
                for _ in 0..5 {
                    pace.wait(&chat.to_string()).await;
                    times.lock().await.push((chat, Instant::now()));
                }
            }));
        }
        for t in tasks {
            assert!(t.await.is_ok(), "a sender panicked");
        }
        let mut times = times.lock().await.clone();
        assert_eq!(times.len(), 200);
        times.sort_by_key(|(_, t)| *t);
        for (i, (_, t)) in times.iter().enumerate() {
            let in_window = times[i..]
                .iter()
                .take_while(|(_, u)| u.duration_since(*t) < Duration::from_secs(1))
                .count();
            assert!(in_window <= 25, "{in_window} in one second");
        }
        for chat in 0..40 {
            let mine: Vec<Instant> = times
                .iter()
                .filter(|(c, _)| *c == chat)
                .map(|(_, t)| *t)
                .collect();
            for w in mine.windows(2) {
                assert!(w[1].duration_since(w[0]) >= Duration::from_secs(1));
            }
        }
        // 200 at 25 a second, evenly spread: the last goes out 199 × 40 ms after the first.
        assert!(times[199].1.duration_since(start) >= Duration::from_millis(7960));
    }
}
