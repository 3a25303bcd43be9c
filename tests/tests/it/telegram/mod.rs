//! The Telegram front-end: the real teloxide client, our poller, inbox and outbox driver (long
//! polling and webhook) against the fake Bot API (`crate::fakes::telegram`); the harness that
//! starts it is `crate::support::telegram`.

mod delivery;
mod polling;
mod webhook;
