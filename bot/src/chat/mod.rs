//! What both chat platforms share at their edge (docs/chat-edge.md): the lanes that run
//! inbound updates and outbound messages in order per chat and side by side across chats
//! ([`lanes`]), the one delivery driver of the chat outbox ([`outbox`]), its pacer ([`pace`]),
//! and the lease that lets one process at a time hold a platform connection ([`lease`]).

pub mod lanes;
pub mod lease;
pub mod outbox;
pub mod pace;

pub use outbox::{Delivery, Platform, SendError};
