//! `mentorops`' gateway transport (serenity's real client) against the fake gateway websocket,
//! its REST calls going to the fake REST API.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use tokio_util::sync::CancellationToken;

use super::{TOKEN, command, interactions, text_opt};
use crate::fakes::discord_gateway::FakeGateway;
use crate::fakes::discord_rest::FakeRest;
use crate::support::TestApp;

/// A fake gateway, and a fake REST API that sends clients to it; the REST API's URL and task.
pub async fn fakes() -> (FakeGateway, FakeRest, String, tokio::task::JoinHandle<()>) {
    let gw = FakeGateway::start().await;
    let fake = FakeRest::default();
    *fake.gateway_url.lock().expect("lock") = gw.url.clone();
    let (url, server) = fake.start().await;
    (gw, fake, url, server)
}

/// Waits (up to 15 s) until a client identified on `gw`; fails at once if `task`, the client's,
/// ended (`what` names it).
pub async fn wait_identified<T: std::fmt::Debug>(
    gw: &FakeGateway,
    task: &tokio::task::JoinHandle<T>,
    what: &str,
) {
    let deadline = Instant::now() + Duration::from_secs(15);
    while gw.identify.lock().expect("lock").is_none() {
        assert!(Instant::now() < deadline, "the client never identified");
        assert!(!task.is_finished(), "{what} stopped: {task:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// `mentorops`' gateway transport running against the fakes.
pub struct Gateway {
    pub gw: FakeGateway,
    pub fake: FakeRest,
    server: tokio::task::JoinHandle<()>,
    stop: CancellationToken,
    task: tokio::task::JoinHandle<anyhow::Result<()>>,
    next: AtomicU64,
}

impl Gateway {
    pub async fn start(app: &TestApp, defer_after: Duration) -> Self {
        let (gw, fake, url, server) = fakes().await;
        let shared = interactions(app, &url, defer_after);
        let http = mentorops_bot::discord::http(TOKEN, Some(&url)).expect("http");
        let stop = CancellationToken::new();
        let task = tokio::spawn(mentorops_bot::discord::gateway::run(
            shared,
            http,
            stop.clone(),
        ));
        wait_identified(&gw, &task, "the gateway client").await;
        Self {
            gw,
            fake,
            server,
            stop,
            task,
            next: AtomicU64::new(1),
        }
    }

    /// Dispatches `interaction` with a fresh id and token; returns the callback the bot sent
    /// for it and the token (to find what followed).
    pub async fn send(&self, mut interaction: Value) -> (Value, String) {
        let n = self.next.fetch_add(1, Ordering::SeqCst);
        let id = (1310000000000000000u64 + n).to_string();
        let token = format!("gateway-token-{n}");
        interaction["id"] = json!(id);
        interaction["token"] = json!(token);
        self.gw.dispatch.send(interaction).expect("gateway open");
        (self.fake.wait_for(&format!("callback:{id}")).await, token)
    }

    /// A slash command; its callback must be a type 4 message.
    pub async fn command(&self, user: u64, name: &str, options: Value) -> Value {
        let (cb, _) = self.send(command(user, name, options)).await;
        assert_eq!(cb["type"], 4, "{cb}");
        cb
    }

    pub async fn stop(self) {
        self.stop.cancel();
        let done = tokio::time::timeout(Duration::from_secs(10), self.task)
            .await
            .expect("stopped in time")
            .expect("task");
        assert!(done.is_ok(), "{done:?}");
        self.gw.task.abort();
        self.server.abort();
    }
}

/// The text of the message in an interaction callback.
pub fn cb_content(cb: &Value) -> String {
    cb["data"]["content"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

/// Whether only the caller sees the callback's message.
pub fn cb_ephemeral(cb: &Value) -> bool {
    cb["data"]["flags"].as_u64().unwrap_or(0) & 64 == 64
}

/// Links the Discord account `discord` to `email` with `/link CODE` over the gateway.
pub async fn link_over_gateway(app: &TestApp, g: &Gateway, email: &str, discord: u64) {
    let code = app.link_code(email).await;
    let cb = g
        .command(discord, "link", json!([text_opt("code", &code)]))
        .await;
    assert!(cb_content(&cb).starts_with("Linked!"), "{cb}");
    assert!(cb_ephemeral(&cb));
}
