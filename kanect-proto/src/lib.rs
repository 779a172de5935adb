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
//! ```
//! use kanect_proto::{Ack, ClientFrame, Command, ServerFrame};
//!
//! // A client's frame, read as a server does: refusals carry the code to send back.
//! let ping = ClientFrame::parse(r#"{"type":"ping","ref":7}"#)?;
//! assert_eq!(ping.command, Command::Ping);
//! let refused = ClientFrame::parse(r#"{"type":"ping","extra":1,"ref":"r1"}"#).unwrap_err();
//! assert_eq!((refused.error().code(), refused.error().field()), ("unknown_field", Some("extra")));
//!
//! // A server's frame, written as a server does and read as a client does.
//! let ack = ServerFrame::Ack(Ack::Done { reference: ping.reference });
//! assert_eq!(ack.to_json(), r#"{"v":1,"type":"ack","ref":7}"#);
//! assert_eq!(serde_json::from_str::<ServerFrame>(&ack.to_json())?, ack);
//! # Ok::<_, Box<dyn std::error::Error>>(())
//! ```
//!
//! # Layout
//! - `ids` — [`UserId`], [`ConversationId`], [`MessageId`], [`AuditId`], [`Seq`], [`Timestamp`]:
//!   strings and numbers on the wire, typed here.
//! - `records` — [`User`], [`Conversation`], [`Message`], [`Receipt`], [`Presence`]: the records
//!   that frames and bodies carry.
//! - `views` — [`UserView`], [`AdminUserView`], [`ConversationView`]: records with what one
//!   reader sees beside them (presence, unread counts, receipts).
//! - [`rest`] — the request and response bodies of the REST, admin and health endpoints;
//!   `search` — those of message search (`rest::SearchPage`); `invites` — those of sign-up
//!   modes, invites and the admin's account forms (`rest::Invite`, `rest::NewUser`).
//! - `notifications` — [`NotificationSettings`] (the `notification_settings` frame's record)
//!   and the bodies of the notification and Web Push endpoints.
//! - `reference` — [`Reference`], the `ref` a client attaches to a frame and gets back.
//! - `client_frame` — [`ClientFrame`] and its [`Command`]s, parsed with precise refusals
//!   ([`FrameError`]).
//! - `server_frame` — [`ServerFrame`]: `hello`, [`Ack`], [`ErrorFrame`], `pong` and the events.
//! - `poll` — the long-poll bodies: [`NewPoll`], [`PollCreated`], [`PollEvents`].
//! - `errors` — the REST [`ErrorBody`], and [`InputError`]: why a JSON body or frame was refused.

// docs.rs (nightly) marks each feature-gated item with the feature it needs.
#![cfg_attr(docsrs, feature(doc_cfg))]

mod client_frame;
mod errors;
mod ids;
mod invites;
mod notifications;
mod poll;
mod records;
mod reference;
pub mod rest;
mod search;
mod server_frame;
mod views;

pub use client_frame::{
    ClientFrame, Command, Cursor, DeleteMessage, EditMessage, FrameError, Mark, React, Resume, SendMessage, Typing,
    Watch,
};
pub use errors::{ErrorBody, ErrorDetail, InputError, InputErrorKind};
pub use ids::{AttachmentId, AuditId, ConversationId, InviteId, MessageId, Seq, Timestamp, UserId};
pub use notifications::{
    ConversationNotifications, DoNotDisturb, NewPushSubscription, NotificationLevel, NotificationSettings,
    PushEndpoint, PushKey, PushKeys, SetDoNotDisturb, SetNotificationLevel,
};
pub use poll::{NewPoll, PollCreated, PollEvents};
pub use records::{
    Attachment, Conversation, ConversationKind, GroupEvent, ImageSize, Message, Presence, Reaction, Receipt,
    ReceiptKind, ReplyPreview, Role, User,
};
pub use reference::{Reference, REF_MAX_CHARS};
pub use server_frame::{Ack, ErrorFrame, ServerFrame, SkippedCursor};
pub use views::{AdminUserView, ConversationView, UserView};

/// The protocol's version: every server frame carries it as `"v"`, and a client frame that
/// carries `"v"` must carry this one.
pub const PROTOCOL_VERSION: u32 = 1;

/// The README's example (crates.io shows it), compiled and run as a doctest so it stays true.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctest;
