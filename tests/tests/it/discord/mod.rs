//! The Discord front-end, driven the way Discord drives it, on 127.0.0.1 only: the HTTP
//! interactions endpoint gets signed POSTs (with a key pair the test makes); the gateway
//! transport runs serenity's real client against a fake gateway websocket (Hello, Identify,
//! Ready, heartbeat ACKs, INTERACTION_CREATE dispatches); every REST call (interaction
//! callbacks, edits, follow-ups, DMs, commands) goes to a fake REST API that records it.
//! Discord itself is never contacted. The fakes are in `crate::fakes`, the harness that starts
//! the front-end on them in `crate::support::discord`.

mod buttons;
mod delivery;
mod gateway;
mod http_endpoint;
mod presses;
mod registration;
