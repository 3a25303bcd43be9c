//! The HTTP interactions endpoint on a free port, with the Ed25519 key pair Discord would sign
//! with, and its follow-ups going to a fake REST API.

use std::time::Duration;

use ed25519_dalek::{Signer, SigningKey};
use mentorops_core::command::Caller;
use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use super::{command, interactions, text_opt};
use crate::fakes::discord_rest::FakeRest;
use crate::support::{TestApp, ana_maria_and_lee};

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The Unix time `offset` seconds from now, as Discord puts it in `X-Signature-Timestamp`.
pub fn now_ts(offset: i64) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    now.saturating_add_signed(offset).to_string()
}

/// The endpoint running on a free port, with the key pair Discord would sign with.
pub struct Endpoint {
    url: String,
    pub key: SigningKey,
    client: reqwest::Client,
    stop: CancellationToken,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
    /// The fake REST API follow-ups and deferred answers go to.
    pub fake: FakeRest,
    server: tokio::task::JoinHandle<()>,
}

/// The endpoint's answer: its status, its body as JSON (Null if it is not), and as text.
pub struct Answer {
    pub status: u16,
    pub body: Value,
    pub raw: String,
}

impl Endpoint {
    pub async fn start(app: &TestApp) -> Self {
        Self::start_deferring_after(app, mentorops_bot::discord::interact::DEFER_AFTER).await
    }

    pub async fn start_deferring_after(app: &TestApp, defer_after: Duration) -> Self {
        let fake = FakeRest::default();
        let (rest_url, server) = fake.start().await;
        let shared = interactions(app, &rest_url, defer_after);
        let key = SigningKey::from_bytes(&[7u8; 32]);
        let public = hex(key.verifying_key().as_bytes());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let url = format!(
            "http://{}/interactions",
            listener.local_addr().expect("addr")
        );
        let stop = CancellationToken::new();
        let task = tokio::spawn({
            let stop = stop.clone();
            async move { mentorops_bot::discord::serve(shared, &public, listener, stop).await }
        });
        let client = reqwest::Client::builder()
            .no_proxy()
            .timeout(Duration::from_secs(20))
            .build()
            .expect("client");
        Self {
            url,
            key,
            client,
            stop,
            task,
            fake,
            server,
        }
    }

    pub async fn stop(self) {
        self.server.abort();
        self.stop.cancel();
        let served = tokio::time::timeout(Duration::from_secs(5), self.task)
            .await
            .expect("stopped in time")
            .expect("task");
        assert!(served.is_ok(), "{served:?}");
    }

    /// POSTs `body` with the given signature headers (None leaves a header out).
    pub async fn post_raw(
        &self,
        body: &[u8],
        signature: Option<&str>,
        timestamp: Option<&str>,
    ) -> Answer {
        let mut req = self
            .client
            .post(&self.url)
            .header("content-type", "application/json")
            .body(body.to_vec());
        if let Some(s) = signature {
            req = req.header("X-Signature-Ed25519", s);
        }
        if let Some(t) = timestamp {
            req = req.header("X-Signature-Timestamp", t);
        }
        let resp = req.send().await.expect("request");
        let status = resp.status().as_u16();
        let raw = resp.text().await.expect("body");
        Answer {
            status,
            body: serde_json::from_str(&raw).unwrap_or(Value::Null),
            raw,
        }
    }

    /// The signature `key` gives `body` sent at `timestamp`, in hex as the header carries it.
    pub fn sign_with(key: &SigningKey, timestamp: &str, body: &[u8]) -> String {
        let mut msg = timestamp.as_bytes().to_vec();
        msg.extend_from_slice(body);
        hex(&key.sign(&msg).to_bytes())
    }

    /// POSTs an interaction signed as Discord signs it.
    pub async fn send(&self, interaction: &Value) -> Answer {
        let body = serde_json::to_vec(interaction).expect("json");
        let ts = now_ts(0);
        let sig = Self::sign_with(&self.key, &ts, &body);
        self.post_raw(&body, Some(&sig), Some(&ts)).await
    }

    /// A slash command; answered 200 with a type 4 message.
    pub async fn command(&self, user: u64, name: &str, options: Value) -> Answer {
        let a = self.send(&command(user, name, options)).await;
        assert_eq!(a.status, 200, "{}", a.raw);
        assert_eq!(a.body["type"], 4, "{}", a.raw);
        a
    }
}

/// The text of the message in an answer.
pub fn content(a: &Answer) -> String {
    a.body["data"]["content"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

/// Whether only the caller sees the answer.
pub fn ephemeral(a: &Answer) -> bool {
    a.body["data"]["flags"].as_u64().unwrap_or(0) & 64 == 64
}

/// Links the Discord account `discord` to `email` with `/link CODE` sent as a slash command.
pub async fn link_on_discord(app: &TestApp, ep: &Endpoint, email: &str, discord: u64) {
    let code = app.link_code(email).await;
    let linked = ep
        .command(discord, "link", json!([text_opt("code", &code)]))
        .await;
    assert!(content(&linked).starts_with("Linked!"), "{}", linked.raw);
    assert!(ephemeral(&linked));
}

/// Ana, Maria and Lee ready to be matched ([`ana_maria_and_lee`]), the endpoint started, and
/// Maria (8002) and Lee (8003) linked on Discord; Ana, and the endpoint.
pub async fn ana_maria_and_lee_linked(app: &TestApp) -> (Caller, Endpoint) {
    let ana = ana_maria_and_lee(app).await;
    let ep = Endpoint::start(app).await;
    link_on_discord(app, &ep, "maria@example.org", 8002).await;
    link_on_discord(app, &ep, "lee@example.org", 8003).await;
    (ana, ep)
}
