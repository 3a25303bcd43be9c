//! mentorops-bot: the front-ends. Each one only translates: an update becomes a core
//! invocation, the structured reply becomes the platform's message. The console front-end is
//! here; Telegram and Discord follow the same shape.

pub mod app;
pub mod chat;
pub mod console;
pub mod discord;
pub mod telegram;
pub mod text;
