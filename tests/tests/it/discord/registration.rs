//! The command registry published as Discord application commands: globally or in one server,
//! by `register` and by `mentorops run` on start-up (which then answers over the gateway).

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use tokio_util::sync::CancellationToken;

use crate::fakes::discord_rest::FakeRest;
use crate::support::TestApp;
use crate::support::discord::gateway::{fakes, wait_identified};
use crate::support::discord::{TOKEN, cb_ephemeral, command, rest};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_registry_is_published_as_global_application_commands() {
    let fake = FakeRest::default();
    let (url, server) = fake.start().await;
    let rest = rest(&url);
    assert!(
        mentorops_bot::discord::register(&rest, 0, None)
            .await
            .is_err()
    );
    let n = mentorops_bot::discord::register(&rest, 1300000000000000002, None)
        .await
        .expect("registered");
    let registry = mentorops_core::command::registry::COMMANDS;
    assert_eq!(n, registry.len());
    let sent = fake.messages_to("commands:1300000000000000002");
    assert_eq!(sent.len(), 1);
    let names: Vec<&str> = sent[0]
        .as_array()
        .map(|cs| cs.iter().filter_map(|c| c["name"].as_str()).collect())
        .unwrap_or_default();
    let want: Vec<&str> = registry.iter().map(|c| c.name).collect();
    assert_eq!(names, want);
    // In one server when configured.
    let n = mentorops_bot::discord::register(&rest, 1300000000000000002, Some(42))
        .await
        .expect("registered in the guild");
    assert_eq!(n, registry.len());
    assert_eq!(
        fake.messages_to("commands:1300000000000000002/guilds/42")
            .len(),
        1
    );
    assert_eq!(fake.messages_to("commands:1300000000000000002").len(), 1);
    server.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mentorops_run_registers_the_commands_and_answers_over_the_gateway_by_default() {
    let app = TestApp::sqlite().await;
    app.with_program().await;
    let (gw, fake, url, server) = fakes().await;
    let mut settings = app.engine.settings().clone();
    settings.discord = mentorops_core::settings::DiscordSettings {
        token: Some(secrecy::SecretString::from(TOKEN)),
        application_id: Some(1_300_000_000_000_000_002),
        api_url: url.parse().ok(),
        ..Default::default()
    };
    let engine = Arc::new(
        mentorops_core::command::Engine::new(
            app.engine.db().clone(),
            Arc::new(settings),
            app.clock.clone(),
        )
        .expect("engine"),
    );
    let stop = CancellationToken::new();
    let task = tokio::spawn(mentorops_bot::discord::run(engine, stop.clone()));
    wait_identified(&gw, &task, "mentorops run").await;
    assert_eq!(fake.messages_to("commands:1300000000000000002").len(), 1);
    let mut start = command(4242, "start", json!([]));
    start["id"] = json!("1320000000000000001");
    gw.dispatch.send(start).expect("gateway open");
    let cb = fake.wait_for("callback:1320000000000000001").await;
    assert_eq!(cb["type"], 4, "{cb}");
    assert!(cb_ephemeral(&cb));
    stop.cancel();
    let done = tokio::time::timeout(Duration::from_secs(10), task)
        .await
        .expect("stopped in time")
        .expect("task");
    assert!(done.is_ok(), "{done:?}");
    gw.task.abort();
    server.abort();
    app.finish().await;
}
