//! Configuration, layered like zero2prod: `config/default.toml`, then `config/<profile>.toml`,
//! then environment variables `MENTOROPS__SECTION__KEY` (SPEC §10). Validated once at start;
//! an error names the key (file name and environment name) and what it should hold.
//!
//! Secrets (tokens, passwords inside URLs) are [`SecretString`]s: `Debug` prints
//! `[REDACTED]`, so a logged `Settings` never leaks them.

use std::path::{Path, PathBuf};

use figment::Figment;
use figment::providers::{Env, Format, Toml};
use secrecy::{ExposeSecret, SecretString};
use serde::Deserialize;

use crate::program::{ProgramSettings, parse_timezone};
use crate::questionnaire::Questionnaire;
use crate::values::parse_duration;

#[derive(Debug, Clone, Deserialize)]
pub struct Settings {
    pub app: AppSettings,
    pub database: DatabaseSettings,
    #[serde(default)]
    pub queue: QueueSettings,
    pub smtp: SmtpSettings,
    #[serde(default)]
    pub telegram: TelegramSettings,
    #[serde(default)]
    pub discord: DiscordSettings,
    #[serde(default)]
    pub chat: ChatSettings,
    pub program_defaults: ProgramDefaults,
    pub links: LinkSettings,
    #[serde(default)]
    pub import: ImportSettings,
    /// The questionnaire new programs start with.
    pub questionnaire: Questionnaire,
}

#[derive(Debug, Clone, Deserialize)]
pub struct AppSettings {
    /// Where the SQLite file, `.eml` files and exports live.
    pub data_dir: PathBuf,
    /// ISO country code used for phone numbers typed without `+`; empty = always require `+`.
    #[serde(default)]
    pub phone_region: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct DatabaseSettings {
    /// `sqlite://…` or `postgres://…`; a secret because it may hold a password.
    pub url: SecretString,
    pub max_connections: u32,
}

/// The job queue and the worker that drains it (SPEC §10). Every knob has a default, so only
/// `url` is ever needed; the rest is for operators tuning a busy installation (and for tests).
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct QueueSettings {
    /// `redis://…`; unset = the embedded queue (SQLite, one machine).
    pub url: Option<SecretString>,
    /// The queue's name: its Redis keys start with it. Installations sharing one Redis need
    /// different names.
    pub name: String,
    /// The embedded queue's SQLite file; unset = `<data_dir>/queue.db`. A file of its own, so
    /// the queue's frequent small writes never wait on the application's write transactions.
    pub sqlite_path: Option<PathBuf>,
    /// Jobs one worker runs at once.
    pub concurrency: usize,
    /// How often an idle worker looks for due jobs, in milliseconds (apalis trap 1: an idle
    /// worker otherwise waits for its heartbeat, 30 s by default).
    pub poll_interval_ms: u64,
    /// Worker heartbeat, in seconds; a worker silent for `heartbeat_secs × missed_heartbeats`
    /// is taken for dead and its unfinished jobs go back to the queue (apalis trap 6). apalis
    /// does not heartbeat while all its slots are busy with a fetched batch waiting, so this
    /// must be well over the longest job (an SMTP exchange may take 30 s): 1 minute.
    pub heartbeat_secs: u64,
    pub missed_heartbeats: usize,
    /// How long a job's idempotency key is kept, in hours (apalis trap 2: it must be set).
    /// Longer than the furthest timer we schedule (an offer's deadline, a session reminder).
    pub idempotency_ttl_hours: u64,
    /// How often new offers, sessions and emails in SQL are turned into jobs, in milliseconds.
    pub feed_interval_ms: u64,
    /// The reconciler re-queues anything still pending this many seconds after it was due.
    pub reconcile_grace_secs: u64,
    /// Cron expressions (seconds first: `sec min hour day month weekday`), in UTC.
    pub sweep_cron: String,
    pub digest_cron: String,
    pub reconcile_cron: String,
    /// Where `/healthz` and `/metrics` are served; empty = not served.
    pub health_addr: String,
    /// This worker's name; unset = `<host>-<pid>` (apalis trap 5: names must be unique).
    pub worker_name: Option<String>,
}

impl Default for QueueSettings {
    fn default() -> Self {
        Self {
            url: None,
            name: "mentorops:jobs".into(),
            sqlite_path: None,
            concurrency: 16,
            poll_interval_ms: 100,
            heartbeat_secs: 5,
            missed_heartbeats: 12,
            idempotency_ttl_hours: 24 * 30,
            feed_interval_ms: 500,
            reconcile_grace_secs: 60,
            sweep_cron: "0 0 * * * *".into(),
            digest_cron: "0 0 * * * *".into(),
            reconcile_cron: "30 * * * * *".into(),
            health_addr: "127.0.0.1:9464".into(),
            worker_name: None,
        }
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct SmtpSettings {
    /// lettre's `smtp://` / `smtps://` URL; unset = emails are written as `.eml` files.
    pub url: Option<SecretString>,
    /// The From header of every email.
    pub from: String,
    /// The first retry after a 4xx or a connection failure, in seconds; each further one waits
    /// twice as long (capped at an hour).
    #[serde(default = "default_retry_base_secs")]
    pub retry_base_secs: u64,
}

fn default_retry_base_secs() -> u64 {
    30
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct TelegramSettings {
    /// The bot token from BotFather; the front-end runs when it is set.
    pub token: Option<SecretString>,
    /// The Bot API base URL; unset = `https://api.telegram.org` (tests point it at a fake).
    pub api_url: Option<String>,
    /// Checked against `X-Telegram-Bot-Api-Secret-Token` on every webhook request.
    pub webhook_secret: Option<SecretString>,
    /// `polling` (the default) or `webhook`.
    pub mode: Option<String>,
    /// Webhook mode: the address the HTTP server listens on, like `0.0.0.0:8443`.
    pub webhook_addr: Option<String>,
    /// Webhook mode: the public `https://` URL Telegram posts updates to; its path is the
    /// path the server answers on.
    pub webhook_url: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct DiscordSettings {
    pub token: Option<SecretString>,
    /// A snowflake: the environment gives it as a number, a file may quote it.
    #[serde(default, deserialize_with = "string_or_number")]
    pub application_id: Option<String>,
    #[serde(default, deserialize_with = "string_or_number")]
    pub public_key: Option<String>,
    pub transport: Option<String>,
    pub interactions_addr: Option<String>,
    pub api_url: Option<String>,
    /// Register the commands in this server only (they show at once; for trying things out)
    /// instead of globally.
    #[serde(default, deserialize_with = "string_or_number")]
    pub guild_id: Option<String>,
}

/// Telegram messages a second one process sends by default: 93 % of the about 30 Telegram
/// allows a bot, evenly spread (BENCHMARKS.md "Chat edge"); a 429 is waited out anyway.
pub const TELEGRAM_PER_SECOND: usize = 28;

/// The chat edge both platforms share (docs/chat-edge.md): the inbox of updates and the outbox
/// delivery. Defaults suit one bot on one to a few processes.
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct ChatSettings {
    /// How long a claimed update or outbox message is one process's before another may take it
    /// (a process that died mid-send is taken over after this), in seconds.
    pub lease_secs: u64,
    /// Telegram messages sent per second by this process (Telegram allows about 30 for a bot
    /// in all: with N processes delivering, give each 28 / N).
    pub telegram_per_second: usize,
    /// How long a Bot API request may take before it counts as failed and is retried, in seconds.
    pub request_timeout_secs: u64,
}

impl Default for ChatSettings {
    fn default() -> Self {
        Self {
            lease_secs: 60,
            telegram_per_second: TELEGRAM_PER_SECOND,
            request_timeout_secs: 17,
        }
    }
}

/// Reads a value that is text but may arrive as a number (figment parses `MENTOROPS__…=123`
/// from the environment as an integer).
fn string_or_number<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        Text(String),
        Unsigned(u64),
        Signed(i64),
    }
    Ok(Option::<Raw>::deserialize(d)?.map(|r| match r {
        Raw::Text(s) => s,
        Raw::Unsigned(n) => n.to_string(),
        Raw::Signed(n) => n.to_string(),
    }))
}

/// Defaults for new programs, as text so that the file reads like `/program_set` does.
#[derive(Debug, Clone, Deserialize)]
pub struct ProgramDefaults {
    pub max_choices: u32,
    pub recommendations: u32,
    pub offer_ttl: String,
    pub offer_reminder_before: String,
    pub inactivity_after: String,
    pub inactivity_repeat: String,
    pub flash_mentoring: bool,
    pub timezone: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct LinkSettings {
    /// How long a link code in a welcome email stays valid (SPEC §8: 7 days).
    pub code_ttl: String,
    /// Wrong codes one chat account may try within `lockout` before /link is locked for it
    /// until the oldest of them is `lockout` old.
    #[serde(default = "default_max_wrong_codes")]
    pub max_wrong_codes: usize,
    #[serde(default = "default_lockout")]
    pub lockout: String,
    /// Wrong codes all accounts together may try in a minute (a guesser with many accounts).
    #[serde(default = "default_max_wrong_codes_per_minute")]
    pub max_wrong_codes_per_minute: i64,
}

/// `/user_import` (`crate::import`).
#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct ImportSettings {
    /// The most people (rows) one CSV file may hold; a bigger file is refused at the first row
    /// over, with a request to split it. Memory and time grow with it (BENCHMARKS.md).
    pub max_rows: usize,
}

impl Default for ImportSettings {
    fn default() -> Self {
        Self { max_rows: 50_000 }
    }
}

fn default_max_wrong_codes() -> usize {
    5
}
fn default_lockout() -> String {
    "15m".into()
}
fn default_max_wrong_codes_per_minute() -> i64 {
    30
}

/// A configuration problem, naming the key both ways (`database.url` / `MENTOROPS__DATABASE__URL`).
#[derive(Debug, thiserror::Error)]
#[error("configuration: {0}")]
pub struct ConfigError(pub String);

fn key_error(key: &str, problem: impl std::fmt::Display) -> ConfigError {
    let env = format!("MENTOROPS__{}", key.to_uppercase().replace('.', "__"));
    ConfigError(format!("{key} (environment {env}): {problem}"))
}

impl Settings {
    fn validate_queue(&self) -> Result<(), ConfigError> {
        let q = &self.queue;
        if q.name.is_empty() || q.name.chars().any(char::is_whitespace) {
            return Err(key_error(
                "queue.name",
                "must be a name without spaces, like mentorops:jobs",
            ));
        }
        if q.concurrency == 0 {
            return Err(key_error("queue.concurrency", "must be at least 1"));
        }
        for (key, v) in [
            ("queue.poll_interval_ms", q.poll_interval_ms),
            ("queue.heartbeat_secs", q.heartbeat_secs),
            ("queue.idempotency_ttl_hours", q.idempotency_ttl_hours),
            ("queue.feed_interval_ms", q.feed_interval_ms),
            ("queue.reconcile_grace_secs", q.reconcile_grace_secs),
        ] {
            if v == 0 {
                return Err(key_error(key, "must be at least 1"));
            }
        }
        for (key, v) in [
            ("chat.lease_secs", self.chat.lease_secs),
            (
                "chat.telegram_per_second",
                self.chat.telegram_per_second as u64,
            ),
            ("chat.request_timeout_secs", self.chat.request_timeout_secs),
        ] {
            if v == 0 {
                return Err(key_error(key, "must be at least 1"));
            }
        }
        if q.missed_heartbeats == 0 {
            return Err(key_error("queue.missed_heartbeats", "must be at least 1"));
        }
        for (key, expr) in [
            ("queue.sweep_cron", &q.sweep_cron),
            ("queue.digest_cron", &q.digest_cron),
            ("queue.reconcile_cron", &q.reconcile_cron),
        ] {
            if let Err(e) = <cron::Schedule as std::str::FromStr>::from_str(expr) {
                return Err(key_error(
                    key,
                    format!(
                        "'{expr}' is not a cron expression ({e}); write six fields, seconds first, like \"0 0 * * * *\" for hourly"
                    ),
                ));
            }
        }
        if !q.health_addr.is_empty() && q.health_addr.parse::<std::net::SocketAddr>().is_err() {
            return Err(key_error(
                "queue.health_addr",
                "must be a listen address like 127.0.0.1:9464, or empty to serve no /healthz and /metrics",
            ));
        }
        Ok(())
    }

    /// The embedded queue's file.
    pub fn queue_sqlite_path(&self) -> PathBuf {
        self.queue
            .sqlite_path
            .clone()
            .unwrap_or_else(|| self.app.data_dir.join("queue.db"))
    }

    /// Loads `dir/default.toml`, then `dir/<profile>.toml` if it exists, then the environment.
    pub fn load(dir: &Path, profile: &str) -> Result<Self, ConfigError> {
        let default = dir.join("default.toml");
        if !default.exists() {
            return Err(ConfigError(format!(
                "{} is missing: run mentorops from the project folder or pass --config-dir",
                default.display()
            )));
        }
        let figment = Figment::new()
            .merge(Toml::file(default))
            .merge(Toml::file(dir.join(format!("{profile}.toml"))))
            .merge(Env::prefixed("MENTOROPS__").split("__"));
        Self::from_figment(figment)
    }

    pub fn from_figment(figment: Figment) -> Result<Self, ConfigError> {
        let settings: Settings = figment.extract().map_err(|e| {
            let key = e.path.join(".");
            if key.is_empty() {
                ConfigError(e.to_string())
            } else {
                key_error(&key, e.kind)
            }
        })?;
        settings.validate()?;
        Ok(settings)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        let db = self.database.url.expose_secret();
        if !(db.starts_with("sqlite:")
            || db.starts_with("postgres://")
            || db.starts_with("postgresql://"))
        {
            return Err(key_error(
                "database.url",
                "must start with sqlite:// or postgres://",
            ));
        }
        if self.database.max_connections == 0 {
            return Err(key_error("database.max_connections", "must be at least 1"));
        }
        if let Some(url) = &self.queue.url
            && !url.expose_secret().starts_with("redis://")
            && !url.expose_secret().starts_with("rediss://")
        {
            return Err(key_error(
                "queue.url",
                "must start with redis:// or rediss:// (leave it unset for the embedded queue)",
            ));
        }
        self.validate_queue()?;
        if let Some(url) = &self.smtp.url
            && !url.expose_secret().starts_with("smtp://")
            && !url.expose_secret().starts_with("smtps://")
        {
            return Err(key_error(
                "smtp.url",
                "must start with smtp:// or smtps:// (leave it unset to write .eml files)",
            ));
        }
        if !self.smtp.from.contains('@') {
            return Err(key_error(
                "smtp.from",
                "must be an address like \"mentorops <noreply@example.org>\"",
            ));
        }
        if let Some(secret) = &self.telegram.webhook_secret {
            let s = secret.expose_secret();
            if s.is_empty()
                || s.len() > 256
                || !s
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
            {
                return Err(key_error(
                    "telegram.webhook_secret",
                    "must be 1–256 characters of A-Z, a-z, 0-9, _ and -",
                ));
            }
        }
        if let Some(m) = &self.telegram.mode
            && m != "polling"
            && m != "webhook"
        {
            return Err(key_error(
                "telegram.mode",
                format!("must be polling or webhook, not '{m}'"),
            ));
        }
        if self.telegram.mode.as_deref() == Some("webhook") {
            if self.telegram.webhook_secret.is_none() {
                return Err(key_error(
                    "telegram.webhook_secret",
                    "must be set when telegram.mode = webhook: every update is checked against it",
                ));
            }
            let addr = self.telegram.webhook_addr.as_deref().unwrap_or_default();
            if addr.parse::<std::net::SocketAddr>().is_err() {
                return Err(key_error(
                    "telegram.webhook_addr",
                    "must be the listen address like 0.0.0.0:8443 when telegram.mode = webhook",
                ));
            }
            let url = self.telegram.webhook_url.as_deref().unwrap_or_default();
            if !url.starts_with("https://") || url.len() <= "https://".len() {
                return Err(key_error(
                    "telegram.webhook_url",
                    "must be the public https:// URL Telegram posts to when telegram.mode = webhook",
                ));
            }
        }
        if let Some(t) = &self.discord.transport
            && t != "gateway"
            && t != "http"
        {
            return Err(key_error(
                "discord.transport",
                format!("must be gateway or http, not '{t}'"),
            ));
        }
        if !self.app.phone_region.is_empty()
            && self
                .app
                .phone_region
                .parse::<phonenumber::country::Id>()
                .is_err()
        {
            return Err(key_error(
                "app.phone_region",
                "must be an ISO country code like US or BR, or empty",
            ));
        }
        parse_duration(&self.links.code_ttl).map_err(|e| key_error("links.code_ttl", e))?;
        parse_duration(&self.links.lockout).map_err(|e| key_error("links.lockout", e))?;
        if self.links.max_wrong_codes == 0 || self.links.max_wrong_codes_per_minute < 1 {
            return Err(key_error(
                "links.max_wrong_codes",
                "links.max_wrong_codes and links.max_wrong_codes_per_minute must be at least 1",
            ));
        }
        if self.import.max_rows == 0 {
            return Err(key_error("import.max_rows", "must be at least 1"));
        }
        self.questionnaire
            .check()
            .map_err(|e| key_error("questionnaire", e))?;
        self.program_defaults()?;
        Ok(())
    }

    /// The settings a new program starts with.
    pub fn program_defaults(&self) -> Result<ProgramSettings, ConfigError> {
        let d = &self.program_defaults;
        let dur = |key: &str, raw: &str| {
            parse_duration(raw).map_err(|e| key_error(&format!("program_defaults.{key}"), e))
        };
        let s = ProgramSettings {
            max_choices: d.max_choices,
            recommendations: d.recommendations,
            offer_ttl: dur("offer_ttl", &d.offer_ttl)?,
            offer_reminder_before: dur("offer_reminder_before", &d.offer_reminder_before)?,
            inactivity_after: dur("inactivity_after", &d.inactivity_after)?,
            inactivity_repeat: dur("inactivity_repeat", &d.inactivity_repeat)?,
            flash_mentoring: d.flash_mentoring,
            timezone: parse_timezone(&d.timezone)
                .map_err(|e| key_error("program_defaults.timezone", e))?,
        };
        s.check().map_err(|e| key_error("program_defaults", e))?;
        Ok(s)
    }

    pub fn link_code_ttl(&self) -> chrono::Duration {
        parse_duration(&self.links.code_ttl).unwrap_or(chrono::Duration::days(7))
    }

    /// How long /link stays locked for an account after too many wrong codes.
    pub fn link_lockout(&self) -> chrono::Duration {
        parse_duration(&self.links.lockout).unwrap_or(chrono::Duration::minutes(15))
    }

    pub fn phone_region(&self) -> Option<&str> {
        Some(self.app.phone_region.as_str()).filter(|r| !r.is_empty())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use figment::providers::Serialized;

    fn base() -> Figment {
        Figment::new().merge(Toml::string(include_str!("../../config/default.toml")))
    }

    #[test]
    fn the_shipped_default_config_is_valid() {
        let s = Settings::from_figment(base());
        assert!(s.is_ok(), "{:?}", s.err());
    }

    #[test]
    fn a_bad_value_names_the_key_in_both_spellings() {
        let f = base().merge(Serialized::default("database.url", "mysql://x"));
        let msg = Settings::from_figment(f)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            msg.contains("database.url") && msg.contains("MENTOROPS__DATABASE__URL"),
            "{msg}"
        );

        let f = base().merge(Serialized::default("program_defaults.max_choices", "many"));
        let msg = Settings::from_figment(f)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(
            msg.contains("MENTOROPS__PROGRAM_DEFAULTS__MAX_CHOICES"),
            "{msg}"
        );

        let f = base().merge(Serialized::default("program_defaults.offer_ttl", "soon"));
        let msg = Settings::from_figment(f)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(msg.contains("program_defaults.offer_ttl"), "{msg}");
    }

    #[test]
    #[allow(clippy::result_large_err)] // figment's Jail fixes the closure's error type
    fn profile_file_and_environment_override_the_defaults() {
        figment::Jail::expect_with(|jail| {
            jail.create_dir("config")?;
            jail.create_file(
                "config/default.toml",
                include_str!("../../config/default.toml"),
            )?;
            jail.create_file("config/staging.toml", "[database]\nmax_connections = 9\n")?;
            jail.set_env(
                "MENTOROPS__DATABASE__URL",
                "postgres://app@db.internal/mentorops",
            );
            jail.set_env("MENTOROPS__PROGRAM_DEFAULTS__MAX_CHOICES", "2");
            jail.set_env("MENTOROPS__TELEGRAM__TOKEN", "123:ABC");
            jail.set_env("MENTOROPS__DISCORD__APPLICATION_ID", "1234567890123456789");
            let s = Settings::load(Path::new("config"), "staging").map_err(|e| e.to_string())?;
            assert_eq!(s.database.max_connections, 9);
            assert_eq!(
                s.database.url.expose_secret(),
                "postgres://app@db.internal/mentorops"
            );
            assert_eq!(s.program_defaults.max_choices, 2);
            assert!(s.telegram.token.is_some());
            assert_eq!(
                s.discord.application_id.as_deref(),
                Some("1234567890123456789")
            );
            jail.set_env("MENTOROPS__DATABASE__MAX_CONNECTIONS", "none");
            let msg = Settings::load(Path::new("config"), "staging")
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default();
            assert!(
                msg.contains("MENTOROPS__DATABASE__MAX_CONNECTIONS"),
                "{msg}"
            );
            Ok(())
        });
    }

    #[test]
    #[allow(clippy::result_large_err)] // figment's Jail fixes the closure's error type
    fn the_import_cap_is_fifty_thousand_rows_unless_set_and_never_zero() {
        assert_eq!(
            Settings::from_figment(base())
                .ok()
                .map(|s| s.import.max_rows),
            Some(50_000)
        );
        figment::Jail::expect_with(|jail| {
            jail.create_dir("config")?;
            jail.create_file(
                "config/default.toml",
                include_str!("../../config/default.toml"),
            )?;
            jail.set_env("MENTOROPS__IMPORT__MAX_ROWS", "120000");
            let s = Settings::load(Path::new("config"), "local").map_err(|e| e.to_string())?;
            assert_eq!(s.import.max_rows, 120_000);
            jail.set_env("MENTOROPS__IMPORT__MAX_ROWS", "0");
            let msg = Settings::load(Path::new("config"), "local")
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default();
            assert!(
                msg.contains("import.max_rows") && msg.contains("MENTOROPS__IMPORT__MAX_ROWS"),
                "{msg}"
            );
            Ok(())
        });
    }

    #[test]
    fn secrets_never_print() {
        let f = base().merge(Serialized::default("telegram.token", "123:SECRET-TOKEN"));
        let s = Settings::from_figment(f).ok();
        let shown = format!("{s:?}");
        assert!(!shown.contains("SECRET-TOKEN"), "{shown}");
    }
}
