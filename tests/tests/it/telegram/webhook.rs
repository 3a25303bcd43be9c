//! The Telegram front-end in webhook mode: only requests with the secret run, and the settings
//! refuse a webhook without a secret, an address or an https URL.

use std::net::SocketAddr;
use std::time::Duration;

use mentorops_bot::telegram::Telegram;
use mentorops_core::settings::TelegramSettings;
use secrecy::SecretString;
use serde_json::json;
use tokio_util::sync::CancellationToken;

use crate::fakes::telegram::{Fake, person};
use crate::support::TestApp;
use crate::support::telegram::{Running, nth_message, quick, soon, text_of};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_webhook_runs_only_requests_with_the_secret() {
    let app = TestApp::sqlite().await;
    let fake = Fake::start().await;
    let secret = "s3cret_webhook-TOKEN";
    let settings = TelegramSettings {
        mode: mentorops_core::settings::TelegramMode::Webhook,
        webhook_secret: Some(SecretString::from(secret)),
        webhook_url: "https://bot.example.test/tg/hook".parse().ok(),
        webhook_addr: "127.0.0.1:0".parse().ok(),
        ..fake.settings()
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr: SocketAddr = listener.local_addr().expect("addr");
    let stop = CancellationToken::new();
    let front = Telegram::new(app.shared_engine(), settings).tuning(quick());
    let running = Running {
        stop: stop.clone(),
        task: tokio::spawn(front.run_webhook_on(listener, stop)),
    };
    let set = soon("setWebhook", || fake.calls("setwebhook").into_iter().next()).await;
    assert_eq!(set.body["url"], json!("https://bot.example.test/tg/hook"));
    assert_eq!(set.body["secret_token"], json!(secret));

    let update = |n: i64| {
        json!({
            "update_id": n,
            "message": {
                "message_id": n, "date": 1_790_000_000,
                "chat": {"id": 6001, "type": "private", "first_name": "U"},
                "from": person(6001), "text": "/help",
            }
        })
    };
    let client = reqwest::Client::new();
    let url = format!("http://{addr}/tg/hook");
    let post = |secret: Option<&str>, n: i64| {
        let mut req = client
            .post(&url)
            .header("content-type", "application/json")
            .body(update(n).to_string());
        if let Some(s) = secret {
            req = req.header("X-Telegram-Bot-Api-Secret-Token", s);
        }
        async move { req.send().await.expect("post").status() }
    };
    assert_eq!(post(None, 1).await, reqwest::StatusCode::UNAUTHORIZED);
    assert_eq!(
        post(Some("s3cret_webhook-TOKEm"), 2).await,
        reqwest::StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        post(Some("s3cret_webhook-TOKEN-and-more"), 3).await,
        reqwest::StatusCode::UNAUTHORIZED
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        fake.to_chat("sendmessage", 6001).is_empty(),
        "nothing ran without the secret"
    );
    assert_eq!(post(Some(secret), 4).await, reqwest::StatusCode::OK);
    let reply = nth_message(&fake, 6001, 1).await;
    assert!(text_of(&reply).contains("/link"), "{reply}");
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(fake.to_chat("sendmessage", 6001).len(), 1);
    running.stop().await;
    app.finish().await;
}

#[test]
fn webhook_mode_needs_a_secret_an_address_and_an_https_url() {
    use figment::Figment;
    use figment::providers::{Format, Serialized, Toml};
    use mentorops_core::settings::Settings;
    let check = |pairs: &[(&str, &str)]| {
        let mut f = Figment::new()
            .merge(Toml::string(include_str!(
                "../../../../config/default.toml"
            )))
            .merge(Serialized::default("database.url", "sqlite://x.db"));
        for (k, v) in pairs {
            f = f.merge(Serialized::default(k, v));
        }
        Settings::from_figment(f).err().map(|e| e.to_string())
    };
    let good = [
        ("telegram.mode", "webhook"),
        ("telegram.webhook_secret", "abc_DEF-1"),
        ("telegram.webhook_addr", "0.0.0.0:8443"),
        ("telegram.webhook_url", "https://bot.example.org/telegram"),
    ];
    assert_eq!(check(&good), None);
    assert_eq!(check(&[("telegram.mode", "polling")]), None);
    let e = check(&[("telegram.mode", "push")]).unwrap_or_default();
    assert!(e.contains("MENTOROPS__TELEGRAM__MODE"), "{e}");
    let e = check(&good[..1]).unwrap_or_default();
    assert!(e.contains("MENTOROPS__TELEGRAM__WEBHOOK_SECRET"), "{e}");
    let e =
        check(&[good[0], good[1], ("telegram.webhook_addr", "8443"), good[3]]).unwrap_or_default();
    assert!(e.contains("MENTOROPS__TELEGRAM__WEBHOOK_ADDR"), "{e}");
    let e = check(&[
        good[0],
        good[1],
        good[2],
        ("telegram.webhook_url", "http://x/y"),
    ])
    .unwrap_or_default();
    assert!(e.contains("MENTOROPS__TELEGRAM__WEBHOOK_URL"), "{e}");
    let e = check(&[
        good[0],
        ("telegram.webhook_secret", "has space"),
        good[2],
        good[3],
    ])
    .unwrap_or_default();
    assert!(e.contains("MENTOROPS__TELEGRAM__WEBHOOK_SECRET"), "{e}");
}
