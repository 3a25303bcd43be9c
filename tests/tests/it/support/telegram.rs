//! The Telegram front-end on the test's engine, against the fake Bot API
//! (`crate::fakes::telegram`), and reading what reached the fake.

use std::time::Duration;

use mentorops_bot::telegram::{Telegram, Tuning};
use serde_json::Value;
use tokio_util::sync::CancellationToken;

use super::TestApp;
use super::wait::poll;
use crate::fakes::telegram::Fake;

/// Short long-polls, so a test's updates are picked up at once.
pub fn quick() -> Tuning {
    Tuning {
        poll_timeout: Duration::from_secs(1),
        ..Tuning::default()
    }
}

/// A front-end running in a task of its own.
pub struct Running {
    pub stop: CancellationToken,
    pub task: tokio::task::JoinHandle<anyhow::Result<()>>,
}

impl Running {
    pub async fn stop(self) {
        self.stop.cancel();
        let r = tokio::time::timeout(Duration::from_secs(10), self.task)
            .await
            .expect("the front-end stops within 10 s")
            .expect("task");
        assert!(r.is_ok(), "the front-end ended with {r:?}");
    }
}

/// The front-end long-polling the fake.
pub fn start_polling(app: &TestApp, fake: &Fake) -> Running {
    let stop = CancellationToken::new();
    let front = Telegram::new(app.shared_engine(), fake.settings()).tuning(quick());
    let task = tokio::spawn(front.run(stop.clone()));
    Running { stop, task }
}

/// Waits (up to 10 s) until `check` gives something.
pub async fn soon<T>(what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    poll(
        Duration::from_secs(10),
        Duration::from_millis(20),
        what,
        async || check(),
    )
    .await
}

/// The `n`-th (1-based) accepted message to `chat`, once it is there.
pub async fn nth_message(fake: &Fake, chat: i64, n: usize) -> Value {
    soon(&format!("message {n} to {chat}"), || {
        fake.to_chat("sendmessage", chat).get(n - 1).cloned()
    })
    .await
}

pub fn text_of(v: &Value) -> String {
    v["text"].as_str().unwrap_or_default().to_string()
}

/// The (label, callback data) of a Telegram message's inline keyboard, row by row.
pub fn keyboard(message: &Value) -> Vec<(String, String)> {
    message["reply_markup"]["inline_keyboard"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|row| row.as_array().cloned().unwrap_or_default())
        .map(|b| {
            (
                b["text"].as_str().unwrap_or_default().to_string(),
                b["callback_data"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}
