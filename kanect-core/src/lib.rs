//! # kanect-core
//!
//! Kanect's storage-agnostic chat engine: users and authentication, direct and group
//! conversations, message routing with per-conversation sequence numbers, presence, receipts
//! and typing. Everything it keeps goes through the [`Store`] trait (one trait per domain, in
//! [`backend`]); everything it tells other nodes goes through the [`Bus`] trait. It ships
//! [`MemoryStore`] and [`LocalBus`]; the `kanect-store` and `kanect-nats` crates add persistent
//! and clustered backends.
//!
//! An application holds one [`Chat`] handle:
//!
//! ```
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! use kanect_core::{Chat, ChatConfig, Event, MemoryStore, PasswordCost, Registration};
//! # let config = ChatConfig { password_cost: PasswordCost::INSECURE_FAST, ..Default::default() };
//! let chat = Chat::builder(MemoryStore::new()).config(config).build().await?;
//! chat.register(Registration::new("alice", "correct horse")).await?;
//! let bob = chat.register(Registration::new("bob", "battery staple")).await?;
//!
//! let alice = chat.authenticate(chat.login("alice", "correct horse").await?.token.as_str()).await?;
//! let mut bobs_phone = chat.subscribe(&chat.act_as(bob.id).await?).await?;
//!
//! let direct = chat.open_direct(&alice, bob.id).await?;
//! chat.send(&alice, direct.id, "client-1", "hello, bob").await?;
//! loop {
//!     if let Event::Message { message } = bobs_phone.next().await.unwrap().event() {
//!         assert_eq!(message.body, "hello, bob");
//!         break;
//!     }
//! }
//! # Ok::<_, kanect_core::Error>(())
//! # }).unwrap();
//! ```
//!
//! # Guarantees
//! - Seqs in a conversation are gap-free and strictly increasing, also under concurrent
//!   senders (the store assigns them atomically).
//! - A resend with the same client id returns the original message and stores nothing new.
//! - Every device of every member receives every message once, in seq order; a device that
//!   falls behind is told to resync rather than silently losing events.
//! - A send is acknowledged (returns) only once the store has made it durable. A send that
//!   fails with `unavailable` may still have been stored (its outcome is unknown): resent with
//!   the same client id, it returns the stored message, or is stored now, once.
//!
//! # Layout
//! - `id` — [`UserId`], [`ConversationId`], [`MessageId`], [`Seq`].
//! - `model` — the records: [`User`], [`Conversation`], [`Message`], [`Receipt`], ...
//! - `event` — [`Event`] and the shared [`Delivery`], which keeps its transport's encoding.
//! - `error` — [`Error`] with stable codes, and [`StoreError`] for backends.
//! - `validate` — input rules and limits.
//! - `store` — the store traits, one file per domain, and [`Store`], the bound a backend
//!   implements; `memory` — [`MemoryStore`], one file per trait impl.
//! - [`backend`] — what only backend implementers need: the store traits and the contract
//!   they keep, and the records they exchange with the engine.
//! - `bus` — the [`Bus`] trait and [`LocalBus`].
//! - `auth` — password hashing and session tokens.
//! - `throttle` — log-in slow-downs ([`SlowDown`], [`LoginLimits`]); `admission` — this
//!   node's per-address budget of password hashes (log-ins and sign-ups).
//! - `limits` — [`RateLimits`]: sends, typing, groups, members and sign-ups per key and time.
//! - `ordering` — the per-conversation sequencer that keeps fan-out in seq order.
//! - `hub` — this node's devices and fan-out to them.
//! - `presence` — who is online across nodes (devices here, other nodes' announcements and
//!   heartbeats, expiry), who is told (contacts and watch lists), last-seen.
//! - `blob` — [`blob::BlobStore`], where attachments' bytes live, and [`blob::MemoryBlobStore`].
//! - `attachments` — uploading, reading and sweeping attachments; `uploads` — their limits
//!   ([`AttachmentLimits`]) and the uploads under way, which the handle holds.
//! - `retention` — message retention: passes that delete messages older than
//!   [`ChatConfig::message_retention`], in the background and by [`Chat::expire_messages`].
//! - `subscription` — a device's event stream with resume and resync; `seq_set` — the seqs a
//!   device has, as ranges.
//! - `chat` — the [`Chat`] handle, its config and event routing; its operations are in
//!   `accounts`, `conversations`, `conversation_list` (the caller's list, in pages),
//!   `messaging`, `admin` and `invites` (invite links, and the sign-up mode of `sign_up`); a user's own
//!   account is `profile` (display name, status, avatar), `own_account` (password, sessions,
//!   deleting it) and `my_data` (exporting it); `replies` (previews of what a reply answers), `mentions`
//!   (`@username`s resolved to members) and `reactions` (the rule every store applies) extend
//!   messaging; `system_lines` records group changes in the history, and says how they fit
//!   seqs.
//! - `builder` — [`ChatBuilder`]: builds and starts an engine (its bus inbox and tasks); the
//!   one module above all the others, so that none imports back into one that imports it.
//! - [`search`] — message search: the [`search::SearchIndex`] trait an index implements,
//!   [`Chat::search_messages`], the query language and snippets; [`search::MemorySearchIndex`].
//! - `mail` — the [`Mailer`] trait, [`Mail`] and [`MailConfig`]; `verification` — e-mail
//!   verification, address changes, and the single-use tokens every mailed link carries;
//!   `password_reset` — password reset by e-mail; `digests` — missed-message digests and
//!   their unsubscribe links.
//! - `notifications` — what each user chose to hear about ([`NotificationSettings`]), the
//!   rule every notifier applies ([`should_notify`]), and Web Push subscriptions.
//! - `metrics` — counters and histograms.
//! - `media` — what is read from an uploaded file: its content type sniffed from the bytes
//!   ([`sniff`]), a display name ([`sanitize_name`]), image size and thumbnail within decoding
//!   limits ([`thumbnail`]), square avatars ([`avatar()`]).
//! - `testing` (feature `testing`) — the store conformance suite (a module per domain trait),
//!   its model test with restarts, and store wrappers for tests.

// docs.rs (nightly) marks each feature-gated item with the feature it needs.
#![cfg_attr(docsrs, feature(doc_cfg))]

mod accounts;
mod admin;
mod admission;
mod attachments;
mod auth;
pub mod backend;
pub mod blob;
mod builder;
mod bus;
mod cache;
mod chat;
mod client_key;
mod conversation_list;
mod conversations;
mod digests;
mod error;
mod event;
mod hub;
mod id;
mod invites;
mod limits;
mod mail;
mod media;
mod memory;
mod mentions;
mod messaging;
pub mod metrics;
mod model;
mod my_data;
mod notifications;
mod ordering;
mod own_account;
mod password_reset;
mod presence;
mod profile;
mod reactions;
mod replies;
mod retention;
pub mod search;
mod seq_set;
mod sign_up;
mod store;
mod subscription;
mod system_lines;
mod throttle;
mod uploads;
pub mod validate;
mod verification;

#[cfg(feature = "testing")]
pub mod testing;

pub use accounts::{Login, Registration, UserView};
pub use admin::{AdminUserView, ServerStats, UserEdit};
pub use attachments::{AttachmentPart, AttachmentRead};
pub use auth::{PasswordCost, SessionToken};
/// The bound of [`Chat::builder`]; documented, with the domain traits it is made of, in
/// [`backend`].
#[doc(no_inline)]
pub use backend::Store;
pub use builder::ChatBuilder;
pub use bus::{Bus, BusEnvelope, BusInbox, BusMessage, LocalBus};
pub use chat::{Caller, Chat, ChatConfig, DeliveryCounts};
pub use client_key::client_key;
pub use conversation_list::{ConversationCursor, ConversationPage, ConversationView, UNREAD_CAP};
pub use conversations::GROUP_MAX_MEMBERS;
pub use error::{AuthFailure, Conflict, Denied, Entity, Error, Invalid, InviteRefused, Limit, Result, StoreError};
pub use event::{Delivery, Event};
pub use id::{AttachmentId, AuditId, ConversationId, InviteId, MessageId, NodeId, Seq, UserId};
pub use invites::{CreatedInvite, InviteScope, NewInvite, INVITE_MIN_TTL};
pub use limits::{Rate, RateLimits};
pub use mail::{Mail, MailConfig, MailError, Mailer, Verification};
pub use media::{
    avatar, is_inline_image, sanitize_name, sniff, thumbnail, ImageInfo, ImageLimits, NotAnImage, Thumbnail,
    NAME_MAX_BYTES, SNIFF_BYTES,
};
pub use memory::MemoryStore;
pub use messaging::Outgoing;
pub use model::{
    AccountToken, Attachment, AttachmentMeta, AuditEntry, Conversation, ConversationKind, GroupEvent, ImageMeta,
    Message, MessageRef, Presence, Reaction, Receipt, ReceiptKind, ReplyPreview, Role, Timestamp, TokenHash,
    TokenPurpose, User,
};
pub use my_data::MyMessages;
pub use notifications::{
    endpoint_hash, should_notify, Channel, ConversationNotifications, DoNotDisturb, NotificationLevel,
    NotificationSettings, PushNotice, PushOutcome, PushRefused, PushSender, PushSubscription, PUSH_ENDPOINT_MAX_BYTES,
    PUSH_PREVIEW_CHARS, PUSH_SUBSCRIPTIONS_MAX, UNTIL_MAX,
};
pub use own_account::SessionView;
pub use presence::WATCH_MAX;
pub use profile::{AvatarImage, ProfileChange};
pub use reactions::{Reacted, ReactionChange, TooManyReactions, REACTIONS_MAX};
pub use search::{SearchHit, SearchRequest, SearchResults};
pub use sign_up::{BadSignUpMode, InviteLimits, SignUpMode};
pub use store::{HistoryPage, Invite, StoreHealth};
pub use subscription::{Resumed, SkippedCursor, Subscription, TryNext, RESUME_BATCH, RESUME_BYTES};
pub use throttle::{LoginLimits, SlowDown};
pub use uploads::AttachmentLimits;

/// The README's example (crates.io shows it), compiled and run as a doctest so it stays true.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctest;
