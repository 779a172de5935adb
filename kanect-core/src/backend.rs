//! For backend implementers: the store traits, the contract they keep, and the records and
//! rules they exchange with the engine.
//!
//! An application that embeds Kanect needs none of this: it hands a store value to
//! [`Chat::builder`](crate::Chat::builder) and talks to the [`Chat`](crate::Chat). A crate that
//! adds a store implements one trait per domain here, and [`Store`] on top:
//!
//! | trait | keeps |
//! |---|---|
//! | [`UserStore`] | accounts and password hashes |
//! | [`SessionStore`] | log-in sessions, by token hash |
//! | [`LoginAttemptStore`] | log-in slow-down records, per attempt key |
//! | [`ConversationStore`] | conversations and memberships |
//! | [`MessageStore`] | messages (with their seqs) and receipts |
//! | [`AttachmentStore`] | uploaded files' records (their bytes: [`BlobStore`](crate::blob::BlobStore)) |
//! | [`AdminStore`] | the audit log, and counts |
//! | [`InviteStore`] | invite links, by token hash |
//! | [`AccountTokenStore`] | single-use tokens mailed to users (verification, password reset) |
//! | [`NotificationStore`] | notification settings and Web Push subscriptions, per user |
//! | [`SecretStore`] | server secrets every node shares (the VAPID key pair) |
//! | [`Store`] | all of the above, plus `flush` and `health` |
//! | [`SharedRateBuckets`] | rate-limit buckets, only in a store several nodes share ([`Store::shared_rate_buckets`]) |
//!
//! Nothing else in Kanect changes. Types that embedders meet too stay at the crate root and
//! are used from there: [`StoreError`](crate::StoreError), [`StoreHealth`](crate::StoreHealth),
//! [`HistoryPage`](crate::HistoryPage), [`TokenHash`](crate::TokenHash),
//! [`SlowDown`](crate::SlowDown) and the domain records.
//!
//! # The contract
//!
//! The engine validates inputs and checks permissions; the store keeps data and enforces the
//! invariants that must hold under concurrency (and, for shared databases, across nodes):
//!
//! - usernames are unique case-insensitively ([`User::fold`](crate::User::fold));
//! - [`MessageStore::append_message`] assigns the conversation's next seq, gap-free, and
//!   writes the message with its seq as one atomic unit; a known (conversation, sender, client
//!   id) returns the original message and writes nothing. A new message's id is a function of
//!   that key ([`NewMessage::id`]), so a backend may look for the original by id;
//! - membership changes are atomic read-modify-writes;
//! - receipts only move forward;
//! - an attachment is claimed by one message at most, all of a message's or none
//!   ([`AttachmentStore::claim_attachments`]);
//! - an invite's use is taken atomically, never more uses than it allows
//!   ([`InviteStore::redeem_invite`]);
//! - a log-in attempt is counted at all of its keys, or refused at all, atomically
//!   ([`LoginAttemptStore::count_login_attempt`]).
//!
//! **Durability.** A write method returns only when its effect is durable by the backend's
//! contract (for sled: flushed, through group commit), log-in attempt records excepted (see
//! [`LoginAttemptStore::count_login_attempt`]). The engine acknowledges to clients only after
//! the write returns.
//!
//! ## Failures: the outcome is unknown
//!
//! A write that returns an error (other than a conflict) was not acknowledged, but it may still
//! have taken effect: sled's journal may have been synced before a later step failed, a
//! PostgreSQL commit may have succeeded with its answer lost on the way back. No backend can
//! promise "nothing was stored" truthfully, so the contract is the one that can be kept
//! everywhere: a retry is safe. An [`MessageStore::append_message`] retried with the same
//! (conversation, sender, client id) returns the original if the failed attempt stored it (same
//! id, same seq), and stores it once if not; never a second copy, also across restarts. A
//! backend that fails says so in [`Store::health`] and, if it can, recovers by itself once the
//! cause is gone.
//!
//! # Conformance
//!
//! Every backend runs the conformance suite of `kanect_core::testing` (feature `testing`): one
//! module of cases per domain trait, and a model test of random operations, with restarts for a
//! store that persists. A backend is done when the whole suite passes on it.

pub use crate::model::{AccountToken, Appended, NewMessage, Session, StoreStats, TokenPurpose};
pub use crate::reactions::{Reacted, ReactionChange};
pub use crate::store::{
    claim, matches_search, move_receipt_forward, redeem, replace_fields, restore_use, AccountTokenStore, AdminStore,
    AttachmentStore, ClaimRefused, ConversationStore, InviteStore, LoginAttemptStore, MessageStore, NotificationStore,
    SecretStore, SessionStore, SharedRateBuckets, Store, StoreResult, UserQuery, UserStore, UserUpdate,
};
pub use crate::store::{ArrivalTime, BucketKey, Grant};
pub use crate::throttle::{Attempt, AttemptKey, LoginAttempts};
