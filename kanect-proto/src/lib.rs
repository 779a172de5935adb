//! # kanect-proto
//!
//! Kanect's wire protocol, version [`PROTOCOL_VERSION`], as plain serde types: every frame a
//! client and a server exchange over a WebSocket or long-poll, and every REST request and
//! response body. It is the source of truth that `kanect-http/PROTOCOL.md` describes in prose;
//! a test checks that every example there parses into its type here.
//!
//! The crate does no I/O and knows nothing of the engine: a server maps its domain records into
//! these types, a client (in Rust) reads and writes them directly. That is why the records here
//! are their own types and not the engine's: the engine's model may grow fields that never go on
//! the wire, and a client should not have to compile the engine to speak to it.
//!
//! # Layout
//! - `ids` — [`UserId`], [`ConversationId`], [`MessageId`], [`AuditId`], [`Seq`], [`Timestamp`]:
//!   strings and numbers on the wire, typed here.
//! - `records` — [`User`], [`Conversation`], [`Message`], [`Receipt`], [`Presence`]: the records
//!   that frames and bodies carry.
//! - `views` — [`UserView`], [`AdminUserView`], [`ConversationView`]: records with what one
//!   reader sees beside them (presence, unread counts, receipts).
//! - [`rest`] — the request and response bodies of the REST, admin and health endpoints.

mod ids;
mod records;
pub mod rest;
mod views;

pub use ids::{AuditId, ConversationId, MessageId, Seq, Timestamp, UserId};
pub use records::{Conversation, ConversationKind, Message, Presence, Receipt, ReceiptKind, Role, User};
pub use views::{AdminUserView, ConversationView, UserView};

/// The protocol's version: every server frame carries it as `"v"`, and a client frame that
/// carries `"v"` must carry this one.
pub const PROTOCOL_VERSION: u32 = 1;
