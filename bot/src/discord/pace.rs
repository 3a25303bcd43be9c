//! Our own pacing of Discord REST calls, used in production and against the fakes alike
//! (serenity's rate limiter has to be off for a fake: it builds its requests without the proxy).
//!
//! - Globally at most [`GLOBAL_PER_SECOND`] requests in any second (a sliding window).
//! - Per route, Discord's bucket headers: a response's `X-RateLimit-Bucket` ties the route to a
//!   bucket; `X-RateLimit-Remaining: 0` with `X-RateLimit-Reset-After` holds that bucket's next
//!   request until the reset. Routes sharing a bucket share the wait.
//! - A 429 holds the route (or, with `global: true` / `X-RateLimit-Global`, every route) for its
//!   `retry_after`; the caller then sends the same request again. A 429 means Discord did not
//!   act on the request, so the retry neither loses nor doubles anything.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::Duration;

use reqwest::header::HeaderMap;
use tokio::time::Instant;

/// Discord's global limit for a bot.
pub const GLOBAL_PER_SECOND: usize = 50;
/// The longest wait a header or a 429 may impose (a broken header must not stall us for hours).
pub const MAX_WAIT: Duration = Duration::from_secs(60);

#[derive(Debug, Clone, Copy)]
struct Hold {
    remaining: u64,
    reset_at: Instant,
}

#[derive(Default)]
struct State {
    /// When each recent request left, for the global window.
    sent: VecDeque<Instant>,
    /// Route → Discord's bucket id (the route itself until Discord names one).
    bucket_of: HashMap<String, String>,
    holds: HashMap<String, Hold>,
    global_until: Option<Instant>,
}

pub struct Pacer {
    per_second: usize,
    state: Mutex<State>,
}

impl Default for Pacer {
    fn default() -> Self {
        Self::new(GLOBAL_PER_SECOND)
    }
}

fn seconds(v: &str) -> Option<Duration> {
    let s: f64 = v.trim().parse().ok()?;
    (s.is_finite() && s >= 0.0).then(|| Duration::from_secs_f64(s).min(MAX_WAIT))
}

fn header<'a>(h: &'a HeaderMap, name: &str) -> Option<&'a str> {
    h.get(name).and_then(|v| v.to_str().ok())
}

impl Pacer {
    pub fn new(per_second: usize) -> Self {
        Self {
            per_second: per_second.max(1),
            state: Mutex::new(State::default()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic while holding this lock leaves plain data behind: keep using it.
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Waits until a request on `route` may leave, and counts it.
    pub async fn acquire(&self, route: &str) {
        loop {
            let wait_until = {
                let mut s = self.lock();
                let now = Instant::now();
                let bucket = s
                    .bucket_of
                    .get(route)
                    .cloned()
                    .unwrap_or_else(|| route.to_string());
                let held = s.holds.get(&bucket).copied();
                if let Some(until) = s.global_until.filter(|u| *u > now) {
                    Some(until)
                } else if let Some(h) = held.filter(|h| h.remaining == 0 && h.reset_at > now) {
                    Some(h.reset_at)
                } else {
                    while s
                        .sent
                        .front()
                        .is_some_and(|t| now.duration_since(*t) >= Duration::from_secs(1))
                    {
                        s.sent.pop_front();
                    }
                    match s.sent.front() {
                        Some(oldest) if s.sent.len() >= self.per_second => {
                            Some(*oldest + Duration::from_secs(1))
                        }
                        _ => {
                            s.sent.push_back(now);
                            // Count this request against the bucket until Discord says more.
                            match held {
                                Some(h) if h.reset_at > now => {
                                    s.holds.insert(
                                        bucket,
                                        Hold {
                                            remaining: h.remaining.saturating_sub(1),
                                            reset_at: h.reset_at,
                                        },
                                    );
                                }
                                Some(_) => {
                                    s.holds.remove(&bucket);
                                }
                                None => {}
                            }
                            None
                        }
                    }
                }
            };
            match wait_until {
                Some(t) => tokio::time::sleep_until(t).await,
                None => return,
            }
        }
    }

    /// Learns from a response's rate-limit headers.
    pub fn observe(&self, route: &str, headers: &HeaderMap) {
        let remaining =
            header(headers, "x-ratelimit-remaining").and_then(|v| v.trim().parse().ok());
        let reset_after = header(headers, "x-ratelimit-reset-after").and_then(seconds);
        let mut s = self.lock();
        let bucket = match header(headers, "x-ratelimit-bucket") {
            Some(b) if !b.is_empty() => {
                s.bucket_of.insert(route.to_string(), b.to_string());
                b.to_string()
            }
            _ => s
                .bucket_of
                .get(route)
                .cloned()
                .unwrap_or_else(|| route.to_string()),
        };
        if let (Some(remaining), Some(after)) = (remaining, reset_after) {
            s.holds.insert(
                bucket,
                Hold {
                    remaining,
                    reset_at: Instant::now() + after,
                },
            );
        }
    }

    /// A 429: holds the route's bucket (or everything, when `global`) for `retry_after`.
    pub fn too_many(&self, route: &str, retry_after: Duration, global: bool) {
        let until = Instant::now() + retry_after.min(MAX_WAIT);
        let mut s = self.lock();
        if global {
            s.global_until = Some(s.global_until.map_or(until, |u| u.max(until)));
            return;
        }
        let bucket = s
            .bucket_of
            .get(route)
            .cloned()
            .unwrap_or_else(|| route.to_string());
        s.holds.insert(
            bucket,
            Hold {
                remaining: 0,
                reset_at: until,
            },
        );
    }
}

/// How long a 429 asks us to wait: the body's `retry_after` (seconds, may be fractional), else
/// the `Retry-After` header, else one second; and whether it is the global limit.
pub fn retry_after(headers: &HeaderMap, body: &serde_json::Value) -> (Duration, bool) {
    let wait = body["retry_after"]
        .as_f64()
        .filter(|s| s.is_finite() && *s >= 0.0)
        .map(|s| Duration::from_secs_f64(s).min(MAX_WAIT))
        .or_else(|| header(headers, "retry-after").and_then(seconds))
        .unwrap_or(Duration::from_secs(1));
    let global = body["global"].as_bool().unwrap_or(false)
        || header(headers, "x-ratelimit-global").is_some_and(|v| v.eq_ignore_ascii_case("true"))
        || header(headers, "x-ratelimit-scope").is_some_and(|v| v == "global");
    (wait, global)
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::header::HeaderValue;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            if let Ok(v) = HeaderValue::from_str(v) {
                h.insert(*k, v);
            }
        }
        h
    }

    #[tokio::test(start_paused = true)]
    async fn never_more_than_the_global_limit_in_any_second() {
        let p = Pacer::default();
        let start = Instant::now();
        let mut times = Vec::new();
        for i in 0..160 {
            p.acquire(&format!("POST /channels/{i}/messages")).await;
            times.push(Instant::now());
        }
        for (i, t) in times.iter().enumerate() {
            let in_window = times[i..]
                .iter()
                .take_while(|u| u.duration_since(*t) < Duration::from_secs(1))
                .count();
            assert!(in_window <= GLOBAL_PER_SECOND, "{in_window} in one second");
        }
        // 160 at 50 a second: the last leaves after 3 s.
        assert!(times[159].duration_since(start) >= Duration::from_secs(3));
        assert!(times[159].duration_since(start) < Duration::from_secs(4));
    }

    #[tokio::test(start_paused = true)]
    async fn an_exhausted_bucket_holds_every_route_in_it_until_its_reset() {
        let p = Pacer::default();
        let start = Instant::now();
        p.acquire("POST /channels/1/messages").await;
        p.observe(
            "POST /channels/1/messages",
            &headers(&[
                ("x-ratelimit-bucket", "abc"),
                ("x-ratelimit-remaining", "0"),
                ("x-ratelimit-reset-after", "2.5"),
            ]),
        );
        // Another route Discord put in the same bucket.
        p.observe(
            "POST /channels/2/messages",
            &headers(&[("x-ratelimit-bucket", "abc")]),
        );
        p.acquire("GET /gateway").await;
        assert!(start.elapsed() < Duration::from_millis(10));
        p.acquire("POST /channels/2/messages").await;
        assert!(start.elapsed() >= Duration::from_millis(2500));
        // Remaining 2 until a reset far away: two go at once, the third waits.
        let t = Instant::now();
        p.observe(
            "POST /channels/1/messages",
            &headers(&[
                ("x-ratelimit-remaining", "2"),
                ("x-ratelimit-reset-after", "5"),
            ]),
        );
        p.acquire("POST /channels/1/messages").await;
        p.acquire("POST /channels/1/messages").await;
        assert!(t.elapsed() < Duration::from_millis(10));
        p.acquire("POST /channels/1/messages").await;
        assert!(t.elapsed() >= Duration::from_secs(5));
    }

    #[tokio::test(start_paused = true)]
    async fn a_429_holds_its_route_or_everything_when_global() {
        let p = Pacer::default();
        let (wait, global) = retry_after(
            &headers(&[("retry-after", "7")]),
            &serde_json::json!({"message": "You are being rate limited.", "retry_after": 0.75, "global": false}),
        );
        assert_eq!((wait, global), (Duration::from_millis(750), false));
        let t = Instant::now();
        p.too_many("POST /a", wait, global);
        p.acquire("POST /b").await;
        assert!(t.elapsed() < Duration::from_millis(10));
        p.acquire("POST /a").await;
        assert!(t.elapsed() >= Duration::from_millis(750));
        let (wait, global) = retry_after(
            &headers(&[("retry-after", "2"), ("x-ratelimit-global", "true")]),
            &serde_json::Value::Null,
        );
        assert_eq!((wait, global), (Duration::from_secs(2), true));
        let t = Instant::now();
        p.too_many("POST /a", wait, global);
        p.acquire("POST /b").await;
        assert!(t.elapsed() >= Duration::from_secs(2));
        // A silly header cannot stall us for long.
        let (wait, _) = retry_after(
            &headers(&[("retry-after", "99999")]),
            &serde_json::Value::Null,
        );
        assert_eq!(wait, MAX_WAIT);
    }
}
