//! Our own pacing of Discord REST calls, used in production and against the fakes alike
//! (serenity's rate limiter has to be off for a fake: it builds its requests without the proxy).
//!
//! - Globally at most [`GLOBAL_PER_SECOND`] requests in any second (a sliding window).
//! - Per route, Discord's bucket headers: a response's `X-RateLimit-Bucket` ties the route's
//!   template to a bucket; `X-RateLimit-Remaining: 0` with `X-RateLimit-Reset-After` holds that
//!   bucket's next request *for the same top-level resources* until the reset. Routes sharing a
//!   bucket and resources share the wait.
//! - A 429 holds the route (or, with `global: true` / `X-RateLimit-Global`, every route) for its
//!   `retry_after`; the caller then sends the same request again. A 429 means Discord did not
//!   act on the request, so the retry neither loses nor doubles anything.
//!
//! **Routes** ([`Pacer::route`]). Discord counts a limit per bucket *and* per top-level resource
//! of the path — a channel, a guild, a webhook (its id, or id + token) — and its bucket id leaves
//! those resources out. So a call is known by its *template* (method and path, every id and token
//! a placeholder: `PATCH /webhooks/{webhook}/{token}/messages/@original`), which is what the
//! bucket id is learned for, and its *major* part (the resources' values: `channel=42`,
//! `webhook=13…/token#9f3a…`), which tells one limit of a bucket from another. Rules:
//!
//! - `/channels/{id}`, `/guilds/{id}`, `/webhooks/{id}`: the id is kept (top-level resources).
//! - `/webhooks/{id}/{token}`: the token counts (Discord: webhook_id + webhook_token), but never
//!   itself: a hash keyed by a random key of this process (SipHash), so two interaction tokens
//!   of one route have two limits, as at Discord, and nothing readable is kept or logged.
//! - `/interactions/{id}/{token}/callback`: the interaction id is kept, the token dropped (the id
//!   names the same interaction). Each interaction is answered once and within 3 s, so a limit
//!   seen on one interaction must never hold another's answer.
//! - Any other number is `{id}`; any other part that is not a plain word (`messages`, `@me`,
//!   `@original`) is `{?}`, so nothing that may be a secret is ever part of a key.
//!
//! **Bounded memory.** Templates are few (placeholders only), and their table starts over past
//! [`MAX_TEMPLATES`]. Holds are per bucket and resources, so one per channel or interaction
//! token: past [`MAX_HOLDS`] the ones whose reset has passed go, then the ones that hold nothing
//! (requests still left), then those resetting soonest (the worst that can follow is a 429, which
//! is waited out).

use std::collections::{HashMap, VecDeque};
use std::hash::{BuildHasher, RandomState};
use std::sync::Mutex;
use std::time::Duration;

use reqwest::Method;
use reqwest::header::HeaderMap;
use tokio::time::Instant;

/// Discord's global limit for a bot.
pub const GLOBAL_PER_SECOND: usize = 50;
/// The longest wait a header or a 429 may impose (a broken header must not stall us for hours).
pub const MAX_WAIT: Duration = Duration::from_secs(60);
/// The most route templates whose bucket id is remembered (we use about ten).
pub const MAX_TEMPLATES: usize = 256;
/// The most holds (bucket + top-level resources) remembered at once.
pub const MAX_HOLDS: usize = 1024;

/// A REST call as Discord's rate limits see it (see the module's comment).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    /// Method and path, every id and token a placeholder:
    /// `POST /interactions/{interaction}/{token}/callback`. Safe to log.
    pub template: String,
    /// The values of the path's top-level resources (`channel=42`,
    /// `webhook=13…/token#9f3a…`, `interaction=…`); empty when it has none.
    pub major: String,
}

#[derive(Debug, Clone, Copy)]
struct Hold {
    remaining: u64,
    reset_at: Instant,
}

#[derive(Default)]
struct State {
    /// When each recent request left, for the global window.
    sent: VecDeque<Instant>,
    /// Route template → Discord's bucket id (the template itself until Discord names one).
    bucket_of: HashMap<String, String>,
    /// Bucket id + top-level resources → what Discord said is left, until when.
    holds: HashMap<String, Hold>,
    global_until: Option<Instant>,
}

impl State {
    /// The key of the limit `route` counts against.
    fn hold_key(&self, route: &Route) -> String {
        let bucket = self
            .bucket_of
            .get(&route.template)
            .map(String::as_str)
            .unwrap_or(&route.template);
        format!("{bucket}\n{}", route.major)
    }

    fn learn_bucket(&mut self, template: &str, bucket: &str) {
        if self.bucket_of.get(template).is_some_and(|b| b == bucket) {
            return;
        }
        if self.bucket_of.len() >= MAX_TEMPLATES && !self.bucket_of.contains_key(template) {
            // Re-learned from the next responses.
            self.bucket_of.clear();
        }
        self.bucket_of
            .insert(template.to_string(), bucket.to_string());
    }

    fn hold(&mut self, key: String, hold: Hold, now: Instant) {
        self.holds.insert(key, hold);
        if self.holds.len() > MAX_HOLDS {
            self.prune(now);
        }
    }

    /// Brings the holds down to three quarters of [`MAX_HOLDS`] (see the module's comment).
    fn prune(&mut self, now: Instant) {
        let keep = MAX_HOLDS * 3 / 4;
        self.holds.retain(|_, h| h.reset_at > now);
        if self.holds.len() > keep {
            self.holds.retain(|_, h| h.remaining == 0);
        }
        if self.holds.len() > keep {
            let mut by_reset: Vec<(Instant, String)> = self
                .holds
                .iter()
                .map(|(k, h)| (h.reset_at, k.clone()))
                .collect();
            by_reset.sort_unstable();
            let drop = by_reset.len() - keep;
            for (_, k) in by_reset.into_iter().take(drop) {
                self.holds.remove(&k);
            }
        }
    }
}

pub struct Pacer {
    per_second: usize,
    /// The key of the hashes that stand for tokens in routes (random per process).
    token_key: RandomState,
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

fn is_id(part: &str) -> bool {
    !part.is_empty() && part.bytes().all(|b| b.is_ascii_digit())
}

/// A fixed part of a route (`messages`, `@me`, `@original`, `bulk-delete`).
fn is_word(part: &str) -> bool {
    !part.is_empty()
        && part
            .bytes()
            .all(|b| b.is_ascii_lowercase() || matches!(b, b'@' | b'-' | b'_' | b'.'))
}

impl Pacer {
    pub fn new(per_second: usize) -> Self {
        Self {
            per_second: per_second.max(1),
            token_key: RandomState::new(),
            state: Mutex::new(State::default()),
        }
    }

    /// The route of a call to `path` (below `/api/v10`; a query is ignored).
    pub fn route(&self, method: &Method, path: &str) -> Route {
        let path = path.split(['?', '#']).next().unwrap_or_default();
        let parts: Vec<&str> = path.split('/').filter(|p| !p.is_empty()).collect();
        let mut template = Vec::with_capacity(parts.len());
        let mut major = Vec::new();
        for (i, part) in parts.iter().copied().enumerate() {
            let before = |n: usize| i.checked_sub(n).map(|j| parts[j]).unwrap_or_default();
            let (prev, prev2) = (before(1), before(2));
            let shown = if is_id(part) && prev == "channels" {
                major.push(format!("channel={part}"));
                "{channel}"
            } else if is_id(part) && prev == "guilds" {
                major.push(format!("guild={part}"));
                "{guild}"
            } else if is_id(part) && prev == "webhooks" {
                major.push(format!("webhook={part}"));
                "{webhook}"
            } else if prev2 == "webhooks" && is_id(prev) {
                major.push(format!("token#{:016x}", self.token_key.hash_one(part)));
                "{token}"
            } else if is_id(part) && prev == "interactions" {
                major.push(format!("interaction={part}"));
                "{interaction}"
            } else if prev2 == "interactions" && is_id(prev) {
                "{token}"
            } else if is_id(part) {
                "{id}"
            } else if is_word(part) {
                part
            } else {
                "{?}"
            };
            template.push(shown);
        }
        Route {
            template: format!("{method} /{}", template.join("/")),
            major: major.join("/"),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic while holding this lock leaves plain data behind: keep using it.
        self.state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Waits until a request on `route` may leave, and counts it.
    pub async fn acquire(&self, route: &Route) {
        loop {
            let wait_until = {
                let mut s = self.lock();
                let now = Instant::now();
                let key = s.hold_key(route);
                let held = s.holds.get(&key).copied();
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
                                        key,
                                        Hold {
                                            remaining: h.remaining.saturating_sub(1),
                                            reset_at: h.reset_at,
                                        },
                                    );
                                }
                                Some(_) => {
                                    s.holds.remove(&key);
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
    pub fn observe(&self, route: &Route, headers: &HeaderMap) {
        let remaining =
            header(headers, "x-ratelimit-remaining").and_then(|v| v.trim().parse().ok());
        let reset_after = header(headers, "x-ratelimit-reset-after").and_then(seconds);
        let mut s = self.lock();
        if let Some(b) = header(headers, "x-ratelimit-bucket").filter(|b| !b.is_empty()) {
            s.learn_bucket(&route.template, b);
        }
        if let (Some(remaining), Some(after)) = (remaining, reset_after) {
            let now = Instant::now();
            let key = s.hold_key(route);
            s.hold(
                key,
                Hold {
                    remaining,
                    reset_at: now + after,
                },
                now,
            );
        }
    }

    /// A 429: holds the route's bucket (or everything, when `global`) for `retry_after`.
    pub fn too_many(&self, route: &Route, retry_after: Duration, global: bool) {
        let now = Instant::now();
        let until = now + retry_after.min(MAX_WAIT);
        let mut s = self.lock();
        if global {
            s.global_until = Some(s.global_until.map_or(until, |u| u.max(until)));
            return;
        }
        let key = s.hold_key(route);
        s.hold(
            key,
            Hold {
                remaining: 0,
                reset_at: until,
            },
            now,
        );
    }

    /// How many route templates and holds are remembered (tests).
    #[cfg(test)]
    fn remembered(&self) -> (usize, usize) {
        let s = self.lock();
        (s.bucket_of.len(), s.holds.len())
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

    fn exhausted(bucket: &str, reset_after: &str) -> HeaderMap {
        let mut h = headers(&[
            ("x-ratelimit-remaining", "0"),
            ("x-ratelimit-reset-after", reset_after),
        ]);
        if let Ok(v) = HeaderValue::from_str(bucket) {
            h.insert("x-ratelimit-bucket", v);
        }
        h
    }

    #[tokio::test(start_paused = true)]
    async fn never_more_than_the_global_limit_in_any_second() {
        let p = Pacer::default();
        let start = Instant::now();
        let mut times = Vec::new();
        for i in 0..160 {
            p.acquire(&p.route(&Method::POST, &format!("/channels/{i}/messages")))
                .await;
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
    async fn an_exhausted_bucket_holds_its_routes_for_the_same_resources_until_its_reset() {
        let p = Pacer::default();
        let start = Instant::now();
        let post1 = p.route(&Method::POST, "/channels/1/messages");
        let post2 = p.route(&Method::POST, "/channels/2/messages");
        let edit1 = p.route(&Method::PATCH, "/channels/1/messages/99");
        p.acquire(&post1).await;
        p.observe(&post1, &exhausted("abc", "2.5"));
        // Another route Discord put in the same bucket.
        p.observe(&edit1, &headers(&[("x-ratelimit-bucket", "abc")]));
        p.acquire(&p.route(&Method::GET, "/gateway")).await;
        // Another channel: a limit of its own (Discord's bucket ids leave channels out).
        p.acquire(&post2).await;
        assert!(start.elapsed() < Duration::from_millis(10));
        p.acquire(&edit1).await;
        assert!(start.elapsed() >= Duration::from_millis(2500));
        // Remaining 2 until a reset far away: two go at once, the third waits.
        let t = Instant::now();
        p.observe(
            &post1,
            &headers(&[
                ("x-ratelimit-remaining", "2"),
                ("x-ratelimit-reset-after", "5"),
            ]),
        );
        p.acquire(&post1).await;
        p.acquire(&post1).await;
        assert!(t.elapsed() < Duration::from_millis(10));
        p.acquire(&post1).await;
        assert!(t.elapsed() >= Duration::from_secs(5));
    }

    #[tokio::test(start_paused = true)]
    async fn a_429_holds_its_route_or_everything_when_global() {
        let p = Pacer::default();
        let a = p.route(&Method::POST, "/channels/1/messages");
        let b = p.route(&Method::POST, "/channels/2/messages");
        let (wait, global) = retry_after(
            &headers(&[("retry-after", "7")]),
            &serde_json::json!({"message": "You are being rate limited.", "retry_after": 0.75, "global": false}),
        );
        assert_eq!((wait, global), (Duration::from_millis(750), false));
        let t = Instant::now();
        p.too_many(&a, wait, global);
        p.acquire(&b).await;
        assert!(t.elapsed() < Duration::from_millis(10));
        p.acquire(&a).await;
        assert!(t.elapsed() >= Duration::from_millis(750));
        let (wait, global) = retry_after(
            &headers(&[("retry-after", "2"), ("x-ratelimit-global", "true")]),
            &serde_json::Value::Null,
        );
        assert_eq!((wait, global), (Duration::from_secs(2), true));
        let t = Instant::now();
        p.too_many(&a, wait, global);
        p.acquire(&b).await;
        assert!(t.elapsed() >= Duration::from_secs(2));
        // A silly header cannot stall us for long.
        let (wait, _) = retry_after(
            &headers(&[("retry-after", "99999")]),
            &serde_json::Value::Null,
        );
        assert_eq!(wait, MAX_WAIT);
    }

    #[test]
    fn routes_are_templates_with_their_top_level_resources_and_never_a_token() {
        let p = Pacer::default();
        // An interaction token, and one that looks like a plain word.
        for token in [
            "aW50ZXJhY3Rpb246MTI4NTY1NjI0OTk0NzE0MDAxMDpXb0RvVzV4",
            "slow-command",
        ] {
            let routes = [
                (
                    p.route(&Method::POST, &format!("/interactions/77/{token}/callback")),
                    "POST /interactions/{interaction}/{token}/callback",
                ),
                (
                    p.route(&Method::POST, &format!("/webhooks/1300/{token}")),
                    "POST /webhooks/{webhook}/{token}",
                ),
                (
                    p.route(&Method::POST, &format!("/webhooks/1300/{token}?wait=true")),
                    "POST /webhooks/{webhook}/{token}",
                ),
                (
                    p.route(
                        &Method::PATCH,
                        &format!("/webhooks/1300/{token}/messages/@original"),
                    ),
                    "PATCH /webhooks/{webhook}/{token}/messages/@original",
                ),
            ];
            for (route, template) in &routes {
                assert_eq!(route.template, *template);
                assert!(!route.major.contains(token), "{route:?}");
                assert!(!format!("{route:?}").contains(token), "{route:?}");
            }
            assert_eq!(routes[0].0.major, "interaction=77");
            assert!(routes[1].0.major.starts_with("webhook=1300/token#"));
            // The same token is the same webhook, whatever the route.
            assert_eq!(routes[1].0.major, routes[2].0.major);
            assert_eq!(routes[1].0.major, routes[3].0.major);
        }
        let dm = p.route(&Method::POST, "/channels/42/messages");
        assert_eq!(dm.template, "POST /channels/{channel}/messages");
        assert_eq!(dm.major, "channel=42");
        let open = p.route(&Method::POST, "/users/@me/channels");
        assert_eq!(open.template, "POST /users/@me/channels");
        assert_eq!(open.major, "");
        let guild = p.route(&Method::PUT, "/applications/1300/guilds/42/commands");
        assert_eq!(
            guild.template,
            "PUT /applications/{id}/guilds/{guild}/commands"
        );
        assert_eq!(guild.major, "guild=42");
        assert_eq!(
            p.route(&Method::GET, "/odd/Secret123").template,
            "GET /odd/{?}"
        );
    }

    /// Discord counts webhook limits per webhook id + token: two interactions' tokens on the same
    /// route are two limits, so one exhausted token never holds another interaction's messages.
    /// The same token shares its limit across the routes Discord puts in one bucket.
    #[tokio::test(start_paused = true)]
    async fn two_tokens_of_one_route_have_their_own_limits() {
        let p = Pacer::default();
        let a = p.route(&Method::POST, "/webhooks/1300/token-a");
        let b = p.route(&Method::POST, "/webhooks/1300/token-b");
        let a_edit = p.route(&Method::PATCH, "/webhooks/1300/token-a/messages/@original");
        assert_eq!(a.template, b.template);
        assert_ne!(a.major, b.major);
        let t = Instant::now();
        p.acquire(&a).await;
        p.observe(&a, &exhausted("webhook", "2"));
        p.observe(&a_edit, &headers(&[("x-ratelimit-bucket", "webhook")]));
        p.acquire(&b).await;
        assert!(t.elapsed() < Duration::from_millis(10));
        // A bucket learned per template (the same for both tokens), a hold for token a only.
        assert_eq!(p.remembered(), (2, 1));
        p.acquire(&a_edit).await;
        assert!(t.elapsed() >= Duration::from_secs(2));
    }

    #[tokio::test(start_paused = true)]
    async fn memory_stays_bounded_after_10_000_distinct_routes() {
        let p = Pacer::default();
        for i in 0..10_000u32 {
            // Every one exhausted and far from its reset: the worst case.
            let channel = p.route(&Method::POST, &format!("/channels/{i}/messages"));
            p.observe(&channel, &exhausted("messages", "30"));
            let hook = p.route(&Method::POST, &format!("/webhooks/1300/token{i}"));
            p.too_many(&hook, Duration::from_secs(30), false);
            let callback = p.route(
                &Method::POST,
                &format!("/interactions/{i}/token{i}/callback"),
            );
            p.observe(&callback, &exhausted("callback", "0.5"));
            let (templates, holds) = p.remembered();
            assert!(templates <= 3, "{templates} templates");
            assert!(holds <= MAX_HOLDS, "{holds} holds");
        }
        // Once their resets pass, the next hold clears them out.
        tokio::time::advance(Duration::from_secs(31)).await;
        for i in 0..=MAX_HOLDS as u32 {
            let r = p.route(&Method::POST, &format!("/channels/{}/messages", 20_000 + i));
            p.observe(
                &r,
                &headers(&[
                    ("x-ratelimit-remaining", "4"),
                    ("x-ratelimit-reset-after", "1"),
                ]),
            );
        }
        let (_, holds) = p.remembered();
        assert!(holds <= MAX_HOLDS, "{holds} holds");
        // The newest hold is still there (a route just exhausted still waits).
        let last = p.route(&Method::POST, "/channels/99999/messages");
        p.observe(&last, &exhausted("messages", "1"));
        let t = Instant::now();
        p.acquire(&last).await;
        assert!(t.elapsed() >= Duration::from_secs(1));
    }
}
