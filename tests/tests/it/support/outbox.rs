//! Chat messages in the outbox: queued as a change would queue them, and read back by state.

use mentorops_core::store::outbox;

use super::TestApp;

impl TestApp {
    /// Queues a chat message on `provider` ("telegram", "discord") to `user`'s account
    /// `recipient`, as a change would; its outbox id.
    pub async fn queue_chat(
        &self,
        provider: &str,
        user: i64,
        recipient: &str,
        text: &str,
        key: &str,
    ) -> i64 {
        let m = outbox::NewMessage {
            channel: outbox::chat_channel(provider),
            kind: "test",
            recipient_user_id: Some(user),
            recipient: recipient.into(),
            subject: String::new(),
            body_text: text.into(),
            body_html: None,
            buttons: Vec::new(),
            idempotency_key: key.into(),
        };
        let mut c = self.engine.db().pool().acquire().await.expect("conn");
        outbox::insert(&mut c, &m, self.engine.now())
            .await
            .expect("insert")
            .expect("a new row")
    }

    /// Queues a Telegram message to a person's chat, as a change would; its outbox id.
    pub async fn queue_telegram(&self, user: i64, chat: i64, text: &str, key: &str) -> i64 {
        self.queue_chat("telegram", user, &chat.to_string(), text, key)
            .await
    }

    /// The chat messages on `provider` in `state` ("pending", "sent", "failed").
    pub async fn chat_rows(&self, provider: &str, state: &str) -> Vec<outbox::Message> {
        let channel = outbox::chat_channel(provider);
        let mut c = self.engine.db().pool().acquire().await.expect("conn");
        outbox::in_state(&mut c, state, 1000)
            .await
            .expect("outbox")
            .into_iter()
            .filter(|m| m.channel == channel)
            .collect()
    }
}
