//! Configuration, layered like zero2prod: the defaults built into the binary (a copy of
//! `config/default.toml`), then `<config dir>/default.toml` and `<config dir>/<profile>.toml` where
//! they exist, then environment variables `MENTOROPS__SECTION__KEY`
//! (docs/operations.md#configuration). Parsed and checked once at start into typed values (modes,
//! addresses, URLs, ids); an error names the key (file name and environment name), the value and
//! what it should hold.
//!
//! Secrets (tokens, passwords inside URLs) are [`SecretString`]s: `Debug` prints
//! `[REDACTED]`, so a logged `Settings` never leaks them.

use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4};
use std::path::{Path, PathBuf};
use std::str::FromStr;

use figment::Figment;
use figment::providers::{Env, Format, Toml};
use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Deserializer};
pub use url::Url;

use crate::program::{ProgramSettings, parse_timezone};
use crate::questionnaire::Questionnaire;
use crate::values::parse_duration;

/// `config/default.toml` as it was at build time: the first layer of every load, so the binary
/// runs from any folder.
pub const DEFAULT_TOML: &str = include_str!("../../config/default.toml");

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

/// The job queue and the worker that drains it (docs/operations.md#queue). Every knob has a
/// default, so only `url` is ever needed; the rest is for operators tuning a busy installation (and
/// for tests).
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
    /// How often an idle worker looks for due jobs, in milliseconds (apalis
    /// trap 1, docs/operations.md#trap-idle-worker: an idle worker otherwise waits for its
    /// heartbeat, 30 s by default).
    pub poll_interval_ms: u64,
    /// Worker heartbeat, in seconds; a worker silent for `heartbeat_secs × missed_heartbeats` is
    /// taken for dead and its unfinished jobs go back to the queue (apalis
    /// trap 6, docs/operations.md#trap-orphaned-jobs). apalis does not heartbeat while all its
    /// slots are busy with a fetched batch waiting, so this must be well over the longest job (an
    /// SMTP exchange may take 30 s): 1 minute.
    pub heartbeat_secs: u64,
    pub missed_heartbeats: usize,
    /// How long a job's idempotency key is kept, in hours (apalis
    /// trap 2, docs/operations.md#trap-idempotency-ttl: it must be set). Longer than the furthest
    /// timer we schedule (an offer's deadline, a session reminder).
    pub idempotency_ttl_hours: u64,
    /// How often new offers, sessions and emails in SQL are turned into jobs, in milliseconds.
    pub feed_interval_ms: u64,
    /// The reconciler re-queues anything still pending this many seconds after it was due.
    pub reconcile_grace_secs: u64,
    /// Cron expressions (seconds first: `sec min hour day month weekday`), in UTC.
    pub sweep_cron: String,
    pub digest_cron: String,
    pub reconcile_cron: String,
    /// Where `/healthz` and `/metrics` are served; empty (None) = not served.
    #[serde(deserialize_with = "health_addr")]
    pub health_addr: Option<SocketAddr>,
    /// This worker's name; unset = `<host>-<pid>` (apalis
    /// trap 5, docs/operations.md#trap-worker-names: names must be unique).
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
            health_addr: Some(DEFAULT_HEALTH_ADDR),
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

/// `/healthz` and `/metrics` when `queue.health_addr` is not set: loopback only.
pub const DEFAULT_HEALTH_ADDR: SocketAddr =
    SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::new(127, 0, 0, 1), 9464));

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(default)]
pub struct TelegramSettings {
    /// The bot token from BotFather; the front-end runs when it is set.
    pub token: Option<SecretString>,
    /// The Bot API base URL; None = `https://api.telegram.org` (tests point it at a fake).
    #[serde(deserialize_with = "telegram_api_url")]
    pub api_url: Option<Url>,
    /// Checked against `X-Telegram-Bot-Api-Secret-Token` on every webhook request.
    pub webhook_secret: Option<SecretString>,
    /// How updates arrive: polling unless set.
    pub mode: TelegramMode,
    /// Webhook mode: the address the HTTP server listens on, like `0.0.0.0:8443`.
    #[serde(deserialize_with = "webhook_addr")]
    pub webhook_addr: Option<SocketAddr>,
    /// Webhook mode: the public `https://` URL Telegram posts updates to; its path is the
    /// path the server answers on.
    #[serde(deserialize_with = "webhook_url")]
    pub webhook_url: Option<Url>,
}

/// A setting that is one of a few words (`telegram.mode`, `discord.transport`): `as_str`, and
/// reading it from text (or a number, from the environment) with an error that lists the words.
macro_rules! word_setting {
    ($ty:ident { $($word:literal => $variant:ident),+ $(,)? }) => {
        impl $ty {
            pub fn as_str(self) -> &'static str {
                match self {
                    $(Self::$variant => $word,)+
                }
            }
        }

        impl FromStr for $ty {
            type Err = String;
            fn from_str(s: &str) -> Result<Self, String> {
                match s {
                    $($word => Ok(Self::$variant),)+
                    other => Err(format!(
                        "must be {}, not '{}'",
                        [$($word),+].join(" or "),
                        quoted(other)
                    )),
                }
            }
        }

        impl<'de> Deserialize<'de> for $ty {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                text(d)?.parse().map_err(serde::de::Error::custom)
            }
        }
    };
}

/// How Telegram updates reach us (`telegram.mode`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum TelegramMode {
    /// Long polling under a lease: nothing to expose.
    #[default]
    Polling,
    /// Telegram POSTs each update to `telegram.webhook_url`.
    Webhook,
}

word_setting!(TelegramMode {
    "polling" => Polling,
    "webhook" => Webhook,
});

/// How Discord interactions reach us (`discord.transport`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum DiscordTransport {
    /// serenity's websocket client under a lease: nothing to expose.
    #[default]
    Gateway,
    /// Discord POSTs each interaction to `discord.interactions_addr`.
    Http,
}

word_setting!(DiscordTransport {
    "gateway" => Gateway,
    "http" => Http,
});

/// Where the Discord interactions endpoint listens when `discord.interactions_addr` is not set.
pub const DEFAULT_INTERACTIONS_ADDR: SocketAddr =
    SocketAddr::V4(SocketAddrV4::new(Ipv4Addr::new(127, 0, 0, 1), 8080));

#[derive(Debug, Clone, Deserialize)]
#[serde(default)]
pub struct DiscordSettings {
    pub token: Option<SecretString>,
    /// A snowflake: the environment gives it as a number, a file may quote it.
    #[serde(deserialize_with = "application_id")]
    pub application_id: Option<u64>,
    /// Checked where it is used (`bot::discord::endpoint::verifier`), which says what is wrong.
    #[serde(deserialize_with = "string_or_number")]
    pub public_key: Option<String>,
    pub transport: DiscordTransport,
    /// The HTTP transport's listen address; empty = [`DEFAULT_INTERACTIONS_ADDR`].
    #[serde(deserialize_with = "interactions_addr")]
    pub interactions_addr: SocketAddr,
    /// Replaces `https://discord.com` (a proxy, or the tests' fakes); None = Discord itself.
    #[serde(deserialize_with = "discord_api_url")]
    pub api_url: Option<Url>,
    /// Register the commands in this server only (they show at once; for trying things out)
    /// instead of globally.
    #[serde(deserialize_with = "guild_id")]
    pub guild_id: Option<u64>,
}

impl Default for DiscordSettings {
    fn default() -> Self {
        Self {
            token: None,
            application_id: None,
            public_key: None,
            transport: DiscordTransport::default(),
            interactions_addr: DEFAULT_INTERACTIONS_ADDR,
            api_url: None,
            guild_id: None,
        }
    }
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
fn text<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Raw {
        Text(String),
        Unsigned(u64),
        Signed(i64),
        Float(f64),
        Flag(bool),
    }
    // The untagged enum's own error ("did not match any variant") names nothing useful.
    let raw = Raw::deserialize(d)
        .map_err(|_| serde::de::Error::custom("must be a single value, not a list or a table"))?;
    Ok(match raw {
        Raw::Text(s) => s,
        Raw::Unsigned(n) => n.to_string(),
        Raw::Signed(n) => n.to_string(),
        Raw::Float(n) => n.to_string(),
        Raw::Flag(b) => b.to_string(),
    })
}

/// [`text`], where empty (or only spaces) means unset.
fn optional_text<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    let s = text(d)?;
    let s = s.trim();
    Ok((!s.is_empty()).then(|| s.to_string()))
}

fn string_or_number<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(Some(text(d)?))
}

/// A value quoted back in an error, cut so a pasted file does not fill the screen.
fn quoted(raw: &str) -> String {
    const MAX: usize = 60;
    match raw.char_indices().nth(MAX) {
        Some((cut, _)) => format!("{}…", &raw[..cut]),
        None => raw.to_string(),
    }
}

fn listen_addr<E: serde::de::Error>(raw: &str, example: &str) -> Result<SocketAddr, E> {
    raw.parse().map_err(|_| {
        E::custom(format!(
            "must be a listen address (an IP and a port) like {example}, not '{}'",
            quoted(raw)
        ))
    })
}

fn health_addr<'de, D: Deserializer<'de>>(d: D) -> Result<Option<SocketAddr>, D::Error> {
    optional_text(d)?
        .map(|raw| {
            listen_addr(
                &raw,
                "127.0.0.1:9464, or empty to serve no /healthz and /metrics",
            )
        })
        .transpose()
}

fn webhook_addr<'de, D: Deserializer<'de>>(d: D) -> Result<Option<SocketAddr>, D::Error> {
    optional_text(d)?
        .map(|raw| listen_addr(&raw, "0.0.0.0:8443"))
        .transpose()
}

fn interactions_addr<'de, D: Deserializer<'de>>(d: D) -> Result<SocketAddr, D::Error> {
    Ok(match optional_text(d)? {
        Some(raw) => listen_addr(&raw, "127.0.0.1:8080")?,
        None => DEFAULT_INTERACTIONS_ADDR,
    })
}

/// An `http://` or `https://` URL with a host (anything else would be a typo: `Url` alone
/// takes `localhost:8081` as the scheme `localhost`).
fn web_url<E: serde::de::Error>(raw: &str, example: &str) -> Result<Url, E> {
    let bad = || {
        E::custom(format!(
            "must be an http:// or https:// URL like {example}, not '{}'",
            quoted(raw)
        ))
    };
    let url = Url::parse(raw).map_err(|_| bad())?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none_or(str::is_empty) {
        return Err(bad());
    }
    Ok(url)
}

fn telegram_api_url<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Url>, D::Error> {
    optional_text(d)?
        .map(|raw| web_url(&raw, "https://api.telegram.org"))
        .transpose()
}

fn webhook_url<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Url>, D::Error> {
    optional_text(d)?
        .map(|raw| web_url(&raw, "https://bot.example.org/telegram"))
        .transpose()
}

fn discord_api_url<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Url>, D::Error> {
    optional_text(d)?
        .map(|raw| web_url(&raw, "https://discord.com"))
        .transpose()
}

/// A Discord snowflake: a number above 0, given as a number or as text.
fn snowflake<E: serde::de::Error>(raw: &str, what: &str) -> Result<u64, E> {
    raw.parse::<u64>()
        .ok()
        .filter(|n| *n != 0)
        .ok_or_else(|| E::custom(format!("must be {what}, not '{}'", quoted(raw))))
}

fn application_id<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    optional_text(d)?
        .map(|raw| {
            snowflake(
                &raw,
                "the application's numeric id (Developer Portal → General Information → Application ID)",
            )
        })
        .transpose()
}

fn guild_id<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    optional_text(d)?
        .map(|raw| snowflake(&raw, "the server's numeric id"))
        .transpose()
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
    /// docs/domain.md#ready-on-approval. Defaults to no when a configuration file written
    /// before the setting existed leaves it out.
    #[serde(default)]
    pub ready_on_approval: bool,
    /// docs/domain.md#capacity. Defaults to 1 (one mentee at a time, as before the setting
    /// existed) when a configuration file leaves it out.
    #[serde(default = "one_mentee")]
    pub mentor_capacity: u32,
    /// docs/domain.md#quiet-hours, as `/program_set` reads it (`21-8`, `off`). Defaults to
    /// 21-8 when a configuration file leaves it out.
    #[serde(default = "night")]
    pub quiet_hours: String,
}

fn night() -> String {
    crate::quiet::QuietHours::default().code()
}

fn one_mentee() -> u32 {
    1
}

#[derive(Debug, Clone, Deserialize)]
pub struct LinkSettings {
    /// How long a link code in a welcome email stays valid (docs/domain.md#linking: 7 days).
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

/// `/user_import` (`command::import`).
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
        for (key, v) in [
            ("queue.concurrency", q.concurrency as u64),
            ("queue.poll_interval_ms", q.poll_interval_ms),
            ("queue.heartbeat_secs", q.heartbeat_secs),
            ("queue.idempotency_ttl_hours", q.idempotency_ttl_hours),
            ("queue.feed_interval_ms", q.feed_interval_ms),
            ("queue.reconcile_grace_secs", q.reconcile_grace_secs),
            ("chat.lease_secs", self.chat.lease_secs),
            (
                "chat.telegram_per_second",
                self.chat.telegram_per_second as u64,
            ),
            ("chat.request_timeout_secs", self.chat.request_timeout_secs),
            ("queue.missed_heartbeats", q.missed_heartbeats as u64),
        ] {
            if v == 0 {
                return Err(key_error(key, "must be at least 1"));
            }
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
        Ok(())
    }

    /// The embedded queue's file.
    pub fn queue_sqlite_path(&self) -> PathBuf {
        self.queue
            .sqlite_path
            .clone()
            .unwrap_or_else(|| self.app.data_dir.join("queue.db"))
    }

    /// Loads the built-in defaults, then `dir/default.toml` and `dir/<profile>.toml` where they
    /// exist, then the environment. No file is needed: an installed binary or a container runs
    /// on the built-in defaults and `MENTOROPS__…` variables alone.
    pub fn load(dir: &Path, profile: &str) -> Result<Self, ConfigError> {
        let mut figment = Figment::new().merge(Toml::string(DEFAULT_TOML));
        for file in [
            dir.join("default.toml"),
            dir.join(format!("{profile}.toml")),
        ] {
            // `file_exact`: figment's `file` would also search every parent folder, so a stray
            // config/ above the working directory could change a production setting. It
            // refuses a missing file, hence the check.
            if file.is_file() {
                figment = figment.merge(Toml::file_exact(file));
            }
        }
        Self::from_figment(figment.merge(Env::prefixed("MENTOROPS__").split("__")))
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
        if self.telegram.mode == TelegramMode::Webhook {
            if self.telegram.webhook_secret.is_none() {
                return Err(key_error(
                    "telegram.webhook_secret",
                    "must be set when telegram.mode = webhook: every update is checked against it",
                ));
            }
            if self.telegram.webhook_addr.is_none() {
                return Err(key_error(
                    "telegram.webhook_addr",
                    "must be the listen address like 0.0.0.0:8443 when telegram.mode = webhook",
                ));
            }
            if self
                .telegram
                .webhook_url
                .as_ref()
                .is_none_or(|u| u.scheme() != "https")
            {
                return Err(key_error(
                    "telegram.webhook_url",
                    "must be the public https:// URL Telegram posts to when telegram.mode = webhook",
                ));
            }
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
            ready_on_approval: d.ready_on_approval,
            mentor_capacity: d.mentor_capacity,
            quiet_hours: crate::quiet::QuietHours::parse("quiet_hours", &d.quiet_hours)
                .map_err(|e| key_error("program_defaults.quiet_hours", e))?,
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
        Figment::new().merge(Toml::string(DEFAULT_TOML))
    }

    fn error_of(f: Figment) -> String {
        Settings::from_figment(f)
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default()
    }

    /// Loads `profile` from the folder `config` (in a jail), the error as text.
    fn load(profile: &str) -> Result<Settings, String> {
        Settings::load(Path::new("config"), profile).map_err(|e| e.to_string())
    }

    /// A `config` folder in the jail holding the shipped `default.toml`.
    #[allow(clippy::result_large_err)] // figment's Jail fixes the error type
    fn shipped_config(jail: &mut figment::Jail) -> figment::error::Result<()> {
        jail.create_dir("config")?;
        jail.create_file("config/default.toml", DEFAULT_TOML)?;
        Ok(())
    }

    #[test]
    fn the_shipped_default_config_is_valid() {
        let s = Settings::from_figment(base());
        assert!(s.is_ok(), "{:?}", s.err());
    }

    #[test]
    fn a_bad_value_names_the_key_in_both_spellings() {
        let f = base().merge(Serialized::default("database.url", "mysql://x"));
        let msg = error_of(f);
        assert!(
            msg.contains("database.url") && msg.contains("MENTOROPS__DATABASE__URL"),
            "{msg}"
        );

        let f = base().merge(Serialized::default("program_defaults.max_choices", "many"));
        let msg = error_of(f);
        assert!(
            msg.contains("MENTOROPS__PROGRAM_DEFAULTS__MAX_CHOICES"),
            "{msg}"
        );

        let f = base().merge(Serialized::default("program_defaults.offer_ttl", "soon"));
        let msg = error_of(f);
        assert!(msg.contains("program_defaults.offer_ttl"), "{msg}");
    }

    #[test]
    #[allow(clippy::result_large_err)] // figment's Jail fixes the closure's error type
    fn profile_file_and_environment_override_the_defaults() {
        figment::Jail::expect_with(|jail| {
            shipped_config(jail)?;
            jail.create_file("config/staging.toml", "[database]\nmax_connections = 9\n")?;
            jail.set_env(
                "MENTOROPS__DATABASE__URL",
                "postgres://app@db.internal/mentorops",
            );
            jail.set_env("MENTOROPS__PROGRAM_DEFAULTS__MAX_CHOICES", "2");
            jail.set_env("MENTOROPS__TELEGRAM__TOKEN", "123:ABC");
            jail.set_env("MENTOROPS__DISCORD__APPLICATION_ID", "1234567890123456789");
            let s = load("staging")?;
            assert_eq!(s.database.max_connections, 9);
            assert_eq!(
                s.database.url.expose_secret(),
                "postgres://app@db.internal/mentorops"
            );
            assert_eq!(s.program_defaults.max_choices, 2);
            assert!(s.telegram.token.is_some());
            assert_eq!(s.discord.application_id, Some(1_234_567_890_123_456_789));
            jail.set_env("MENTOROPS__DATABASE__MAX_CONNECTIONS", "none");
            let msg = load("staging").err().unwrap_or_default();
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
            shipped_config(jail)?;
            jail.set_env("MENTOROPS__IMPORT__MAX_ROWS", "120000");
            let s = load("local")?;
            assert_eq!(s.import.max_rows, 120_000);
            jail.set_env("MENTOROPS__IMPORT__MAX_ROWS", "0");
            let msg = load("local").err().unwrap_or_default();
            assert!(
                msg.contains("import.max_rows") && msg.contains("MENTOROPS__IMPORT__MAX_ROWS"),
                "{msg}"
            );
            Ok(())
        });
    }

    #[test]
    #[allow(clippy::result_large_err)] // figment's Jail fixes the closure's error type
    fn ready_on_approval_is_off_unless_configured() {
        // docs/domain.md#ready-on-approval: programs opt in; the shipped default is no.
        let shipped = Settings::from_figment(base())
            .ok()
            .and_then(|s| s.program_defaults().ok());
        assert_eq!(shipped.map(|p| p.ready_on_approval), Some(false));
        figment::Jail::expect_with(|jail| {
            shipped_config(jail)?;
            jail.set_env("MENTOROPS__PROGRAM_DEFAULTS__READY_ON_APPROVAL", "true");
            let s = load("local")?;
            assert_eq!(
                s.program_defaults().map(|p| p.ready_on_approval).ok(),
                Some(true)
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

    #[test]
    #[allow(clippy::result_large_err)] // figment's Jail fixes the closure's error type
    fn without_a_config_folder_the_built_in_defaults_load_and_the_environment_wins() {
        figment::Jail::expect_with(|jail| {
            // The jail's working directory is empty: no config/ anywhere.
            let s = load("production")?;
            assert_eq!(
                s.database.url.expose_secret(),
                "sqlite://data/mentorops.db?mode=rwc"
            );
            assert_eq!(s.queue.health_addr, Some(DEFAULT_HEALTH_ADDR));
            assert_eq!(s.telegram.mode, TelegramMode::Polling);
            assert_eq!(s.discord.transport, DiscordTransport::Gateway);
            assert_eq!(s.discord.interactions_addr, DEFAULT_INTERACTIONS_ADDR);
            assert_eq!(s.program_defaults.max_choices, 3);
            assert!(!s.questionnaire.questions.is_empty());

            jail.set_env("MENTOROPS__DATABASE__URL", "sqlite:///tmp/x.db?mode=rwc");
            jail.set_env("MENTOROPS__QUEUE__HEALTH_ADDR", "");
            jail.set_env("MENTOROPS__TELEGRAM__MODE", "webhook");
            jail.set_env("MENTOROPS__TELEGRAM__WEBHOOK_SECRET", "abc");
            jail.set_env("MENTOROPS__TELEGRAM__WEBHOOK_ADDR", "0.0.0.0:8443");
            jail.set_env(
                "MENTOROPS__TELEGRAM__WEBHOOK_URL",
                "https://bot.example.org/tg",
            );
            jail.set_env("MENTOROPS__DISCORD__TRANSPORT", "http");
            jail.set_env("MENTOROPS__DISCORD__GUILD_ID", "42");
            let s = load("local")?;
            assert_eq!(
                s.database.url.expose_secret(),
                "sqlite:///tmp/x.db?mode=rwc"
            );
            assert_eq!(s.queue.health_addr, None);
            assert_eq!(s.telegram.mode, TelegramMode::Webhook);
            assert_eq!(s.telegram.webhook_addr, "0.0.0.0:8443".parse().ok());
            assert_eq!(
                s.telegram.webhook_url.as_ref().map(Url::as_str),
                Some("https://bot.example.org/tg")
            );
            assert_eq!(s.discord.transport, DiscordTransport::Http);
            assert_eq!(s.discord.guild_id, Some(42));

            // A folder, when there is one, sits between the built-in defaults and the environment.
            jail.create_dir("config")?;
            jail.create_file("config/local.toml", "[database]\nmax_connections = 7\n")?;
            jail.set_env("MENTOROPS__DATABASE__MAX_CONNECTIONS", "8");
            jail.create_file(
                "config/staging.toml",
                "[smtp]\nfrom = \"x <x@example.org>\"\n",
            )?;
            let s = load("local")?;
            assert_eq!(s.database.max_connections, 8);
            let s = load("staging")?;
            assert_eq!(s.smtp.from, "x <x@example.org>");
            Ok(())
        });
    }

    #[test]
    fn addresses_urls_modes_and_ids_are_typed_once_with_one_clear_message() {
        use std::net::SocketAddr;
        let with = |pairs: &[(&str, &str)]| {
            pairs
                .iter()
                .fold(base(), |f, (k, v)| f.merge(Serialized::default(k, v)))
        };
        let ok =
            |pairs: &[(&str, &str)]| Settings::from_figment(with(pairs)).map_err(|e| e.to_string());

        // Empty means off (or the default) where it did before.
        let s = ok(&[("queue.health_addr", "")]);
        assert_eq!(s.as_ref().map(|s| s.queue.health_addr), Ok(None));
        let s = ok(&[("queue.health_addr", "127.0.0.1:0")]);
        assert_eq!(
            s.as_ref().map(|s| s.queue.health_addr),
            Ok("127.0.0.1:0".parse::<SocketAddr>().ok())
        );
        let s = ok(&[
            ("discord.interactions_addr", ""),
            ("discord.api_url", " "),
            ("discord.guild_id", ""),
            ("telegram.api_url", ""),
        ]);
        assert!(
            s.as_ref()
                .is_ok_and(|s| s.discord.interactions_addr == DEFAULT_INTERACTIONS_ADDR
                    && s.discord.api_url.is_none()
                    && s.discord.guild_id.is_none()
                    && s.telegram.api_url.is_none())
        );
        let s = ok(&[
            ("discord.application_id", "1300000000000000002"),
            ("discord.api_url", "http://127.0.0.1:9/"),
            ("telegram.api_url", "http://127.0.0.1:8/bot"),
        ]);
        assert!(s.as_ref().is_ok_and(|s| s.discord.application_id
            == Some(1_300_000_000_000_000_002)
            && s.discord.api_url.as_ref().map(Url::as_str) == Some("http://127.0.0.1:9/")
            && s.telegram.api_url.as_ref().map(Url::as_str) == Some("http://127.0.0.1:8/bot")));

        // A bad value: the key both ways, the value, and what it should be.
        for (key, bad, env, expect) in [
            (
                "telegram.mode",
                "push",
                "MENTOROPS__TELEGRAM__MODE",
                "must be polling or webhook, not 'push'",
            ),
            (
                "discord.transport",
                "websocket",
                "MENTOROPS__DISCORD__TRANSPORT",
                "must be gateway or http, not 'websocket'",
            ),
            (
                "queue.health_addr",
                "9464",
                "MENTOROPS__QUEUE__HEALTH_ADDR",
                "'9464'",
            ),
            (
                "telegram.webhook_addr",
                "8443",
                "MENTOROPS__TELEGRAM__WEBHOOK_ADDR",
                "like 0.0.0.0:8443, not '8443'",
            ),
            (
                "discord.interactions_addr",
                "localhost",
                "MENTOROPS__DISCORD__INTERACTIONS_ADDR",
                "'localhost'",
            ),
            (
                "telegram.api_url",
                "localhost:8081",
                "MENTOROPS__TELEGRAM__API_URL",
                "http:// or https://",
            ),
            (
                "discord.api_url",
                "not a url",
                "MENTOROPS__DISCORD__API_URL",
                "'not a url'",
            ),
            (
                "discord.application_id",
                "my-app",
                "MENTOROPS__DISCORD__APPLICATION_ID",
                "numeric id",
            ),
            (
                "discord.guild_id",
                "0",
                "MENTOROPS__DISCORD__GUILD_ID",
                "the server's numeric id, not '0'",
            ),
        ] {
            let msg = error_of(with(&[(key, bad)]));
            assert!(
                msg.contains(key) && msg.contains(env) && msg.contains(expect),
                "{key}: {msg}"
            );
            assert_eq!(msg.lines().count(), 1, "{msg}");
        }
        // The environment gives numbers as numbers.
        let msg = error_of(base().merge(Serialized::default("telegram.webhook_addr", 8443)));
        assert!(
            msg.contains("MENTOROPS__TELEGRAM__WEBHOOK_ADDR") && msg.contains("'8443'"),
            "{msg}"
        );

        let webhook = [
            ("telegram.mode", "webhook"),
            ("telegram.webhook_secret", "abc_DEF-1"),
            ("telegram.webhook_addr", "0.0.0.0:8443"),
            ("telegram.webhook_url", "https://bot.example.org/telegram"),
        ];
        assert!(ok(&webhook).is_ok());
        let msg = error_of(with(&webhook[..3]));
        assert!(msg.contains("MENTOROPS__TELEGRAM__WEBHOOK_URL"), "{msg}");
        let msg = error_of(with(&[webhook[0], webhook[1], webhook[3]]));
        assert!(msg.contains("MENTOROPS__TELEGRAM__WEBHOOK_ADDR"), "{msg}");
        let msg = error_of(with(&[
            webhook[0],
            webhook[1],
            webhook[2],
            ("telegram.webhook_url", "http://bot.example.org/telegram"),
        ]));
        assert!(msg.contains("MENTOROPS__TELEGRAM__WEBHOOK_URL"), "{msg}");
    }
}
