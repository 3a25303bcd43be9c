//! The servers mentorops talks to, as the tests stand them up on 127.0.0.1: every fake (and the
//! private `redis-server`, see [`redis`]) is imported from here, so a test names what it runs
//! against in one `use crate::fakes::…` line.
//!
//! - [`discord_rest`]: Discord's REST API (interaction callbacks, edits, follow-ups, DMs with
//!   rate-limit buckets, command registration, the attachment CDN).
//! - [`discord_gateway`]: Discord's gateway websocket (Hello, Identify, Ready, heartbeats,
//!   INTERACTION_CREATE).
//! - [`telegram`]: the Telegram Bot API. It lives in the tests library
//!   (`mentorops_tests::fake_telegram`) because the chat benchmark runs against it too; it is
//!   re-exported here.
//! - [`smtp`]: an SMTP server with scripted answers.
//! - [`redis`]: a real `redis-server` of the test's own.

pub mod discord_gateway;
pub mod discord_rest;
pub mod redis;
pub mod smtp;

pub use mentorops_tests::fake_telegram as telegram;
