//! The persistence contract: everything the engine keeps, behind one async trait.
//!
//! A backend implements [`Store`]; nothing else in Kanect changes. The engine validates inputs
//! and checks permissions; the store keeps data and enforces the invariants that must hold
//! under concurrency (and, for shared databases, across nodes):
//!
//! - usernames are unique case-insensitively ([`User::fold`]);
//! - [`Store::append_message`] assigns the conversation's next seq, gap-free, and writes the
//!   message with its seq as one atomic unit; a known (conversation, sender, client id)
//!   returns the original message and writes nothing. A new message's id is a function of
//!   that key ([`NewMessage::id`]), so a backend may look for the original by id;
//! - membership changes are atomic read-modify-writes;
//! - receipts only move forward;
//! - a log-in attempt is counted at all of its keys, or refused at all, atomically
//!   ([`Store::count_login_attempt`]).
//!
//! **Durability.** A write method returns only when its effect is durable by the backend's
//! contract (for sled: flushed, through group commit), log-in attempt records excepted (see
//! [`Store::count_login_attempt`]). The engine acknowledges to clients only
//! after the write returns.
//!
//! **Failures: the outcome is unknown.** A write that returns an error (other than a
//! conflict) was not acknowledged, but it may still have taken effect: sled's journal may have
//! been synced before a later step failed, a PostgreSQL commit may have succeeded with its
//! answer lost on the way back. No backend can promise "nothing was stored" truthfully, so
//! the contract is the one that can be kept everywhere: a retry is safe. An
//! [`Store::append_message`] retried with the same (conversation, sender, client id) returns
//! the original if the failed attempt stored it (same id, same seq), and stores it once if
//! not; never a second copy, also across restarts. A backend that fails says so in
//! [`Store::health`] and, if it can, recovers by itself once the cause is gone.
//!
//! Every backend runs the conformance suite in [`crate::testing`].

use crate::error::StoreError;
use crate::id::{AuditId, ConversationId, MessageId, Seq, UserId};
use crate::model::{
    Appended, AuditEntry, Conversation, Message, NewMessage, Receipt, ReceiptKind, Role, Session, StoreStats,
    Timestamp, TokenHash, User,
};
use crate::throttle::{Attempt, AttemptKey, SlowDown};
use async_trait::async_trait;

/// The result of a store call.
pub type StoreResult<T> = std::result::Result<T, StoreError>;

/// Which part of a conversation's history to read. Pages are always returned oldest first.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum HistoryPage {
    /// The newest `limit` messages.
    Latest,
    /// The `limit` messages just before this seq (scrolling up).
    Before(Seq),
    /// The `limit` messages just after this seq (catching up from a cursor).
    After(Seq),
}

/// A page of the user list, ordered by folded username.
#[derive(Clone, PartialEq, Eq, Debug, Default)]
pub struct UserQuery {
    /// Only users whose folded username or lower-cased display name contains this
    /// (lower-case) text.
    pub search: Option<String>,
    /// Only users whose folded username sorts after this one (the previous page's last).
    pub after: Option<String>,
    /// At most this many.
    pub limit: usize,
}

/// One field of a user's record to change with [`Store::update_user`].
///
/// A field at a time, never a whole record written back: two administrators disabling and
/// promoting an account at once, or a disable racing with a device's last-seen update, must both
/// take effect, on one node or several.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum UserUpdate {
    /// The account's role.
    Role(Role),
    /// Whether the account is disabled.
    Disabled(bool),
    /// When the user was last seen online.
    LastSeen(Timestamp),
}

impl UserUpdate {
    /// Applies the change to a record: the rule every backend follows.
    pub fn apply(self, user: &mut User) {
        match self {
            UserUpdate::Role(role) => user.role = role,
            UserUpdate::Disabled(disabled) => user.disabled = disabled,
            UserUpdate::LastSeen(at) => user.last_seen = Some(at),
        }
    }
}

/// Everything Kanect persists. See the module docs for the invariants a backend must keep.
#[async_trait]
pub trait Store: Send + Sync + 'static {
    // ---- users and credentials

    /// Adds a user with its password hash.
    ///
    /// # Errors
    /// [`StoreError::Conflict`] with `UsernameTaken` if the folded username exists.
    async fn insert_user(&self, user: &User, password_hash: &str) -> StoreResult<()>;

    /// A user by id.
    async fn user(&self, id: UserId) -> StoreResult<Option<User>>;

    /// A user by username, case-insensitively.
    async fn user_by_username(&self, username: &str) -> StoreResult<Option<User>>;

    /// Changes one field of a user's record, atomically, leaving the others as they are now
    /// (not as the caller last read them: concurrent changes of other fields all take effect).
    /// Returns the record as this change left it, or None if there is no such user.
    async fn update_user(&self, id: UserId, update: UserUpdate) -> StoreResult<Option<User>>;

    /// Removes a user, their credentials and their sessions. Returns false if absent.
    /// Messages and memberships are the engine's business.
    async fn delete_user(&self, id: UserId) -> StoreResult<bool>;

    /// The user's argon2 PHC hash string.
    async fn password_hash(&self, id: UserId) -> StoreResult<Option<String>>;

    /// Replaces the user's password hash. Returns false if there is no such user.
    async fn set_password_hash(&self, id: UserId, hash: &str) -> StoreResult<bool>;

    /// A page of users.
    async fn users(&self, query: &UserQuery) -> StoreResult<Vec<User>>;

    // ---- sessions

    /// Adds a session.
    async fn insert_session(&self, session: &Session) -> StoreResult<()>;

    /// A session by token hash (expired ones included: the engine checks expiry).
    async fn session(&self, token_hash: &TokenHash) -> StoreResult<Option<Session>>;

    /// Removes one session. Returns false if absent.
    async fn delete_session(&self, token_hash: &TokenHash) -> StoreResult<bool>;

    /// Removes every session of a user; returns how many there were.
    async fn delete_sessions_of(&self, user: UserId) -> StoreResult<u64>;

    // ---- log-in attempts

    /// Counts one log-in attempt at every key of `keys`, each under its rule, if every rule
    /// allows one at `now`, and at none of them otherwise: reads the keys' records, decides
    /// with [`Attempt::decide`], and stores the new records, as one atomic step (also across
    /// nodes sharing the store: two attempts never both see the same count at a key, and no
    /// attempt is ever counted at some of its keys only, whatever other attempts at the same
    /// keys run at the same time). A refused attempt changes nothing. The keys are distinct.
    ///
    /// Unlike other writes, a counted attempt need not be durable when this returns: losing the
    /// last moments' counts in a crash only shortens a slow-down, and a sync per log-in attempt
    /// would cost more than the password check it guards.
    async fn count_login_attempt(&self, keys: &[(AttemptKey, SlowDown)], now: Timestamp) -> StoreResult<Attempt>;

    /// Forgets `key`'s attempts (after a right password). Durable as [`Store::count_login_attempt`].
    async fn clear_login_attempts(&self, key: &AttemptKey) -> StoreResult<()>;

    /// Deletes every attempt record expired at `now` ([`LoginAttempts::expires_at`](crate::LoginAttempts::expires_at) ≤ `now`);
    /// returns how many.
    async fn expire_login_attempts(&self, now: Timestamp) -> StoreResult<u64>;

    // ---- conversations and memberships

    /// Adds a conversation and its memberships. Returns false (and changes nothing) if one
    /// with this id exists: that is how two nodes opening the same direct conversation agree.
    async fn insert_conversation(&self, conversation: &Conversation) -> StoreResult<bool>;

    /// A conversation by id.
    async fn conversation(&self, id: ConversationId) -> StoreResult<Option<Conversation>>;

    /// Adds a member (atomically). Returns the updated conversation, or None if absent.
    ///
    /// # Errors
    /// [`StoreError::Conflict`] with `AlreadyMember` if the user is a member.
    async fn add_member(&self, id: ConversationId, user: UserId) -> StoreResult<Option<Conversation>>;

    /// Removes a member (atomically); a no-op if not a member. Returns the updated
    /// conversation, or None if absent.
    async fn remove_member(&self, id: ConversationId, user: UserId) -> StoreResult<Option<Conversation>>;

    /// Sets a group's name and owner. Returns the updated conversation, or None if absent.
    async fn set_conversation_details(
        &self,
        id: ConversationId,
        name: Option<String>,
        owner: Option<UserId>,
    ) -> StoreResult<Option<Conversation>>;

    /// The conversations a user is a member of.
    async fn conversations_of(&self, user: UserId) -> StoreResult<Vec<ConversationId>>;

    /// A page of all conversations, ordered by id (for administration).
    async fn conversations(&self, after: Option<ConversationId>, limit: usize) -> StoreResult<Vec<Conversation>>;

    // ---- messages

    /// Appends a message with the conversation's next seq, or returns the original for a
    /// known (conversation, sender, client id). Atomic; durable when it returns.
    async fn append_message(&self, message: NewMessage) -> StoreResult<Appended>;

    /// A message by id.
    async fn message(&self, id: MessageId) -> StoreResult<Option<Message>>;

    /// Replaces a message's body, `edited_at` and `deleted` (id, conversation, seq, sender
    /// and client id stay). Returns false if absent.
    async fn replace_message(&self, message: &Message) -> StoreResult<bool>;

    /// A page of a conversation's history, oldest first, at most `limit` messages.
    async fn history(&self, conversation: ConversationId, page: HistoryPage, limit: usize)
        -> StoreResult<Vec<Message>>;

    /// The seq of the conversation's newest message (`Seq::ZERO` if none).
    async fn last_seq(&self, conversation: ConversationId) -> StoreResult<Seq>;

    // ---- receipts

    /// Moves a member's watermark forward to `seq` (read also moves delivered). Returns the
    /// new receipt if anything moved, None if it was already there or beyond.
    async fn advance_receipt(
        &self,
        conversation: ConversationId,
        user: UserId,
        kind: ReceiptKind,
        seq: Seq,
    ) -> StoreResult<Option<Receipt>>;

    /// Every member's receipt in a conversation (members who never moved one are absent).
    async fn receipts(&self, conversation: ConversationId) -> StoreResult<Vec<Receipt>>;

    // ---- administration

    /// Appends an audit entry.
    async fn append_audit(&self, entry: &AuditEntry) -> StoreResult<()>;

    /// A page of the audit log, newest first, before `before` if given.
    async fn audit_log(&self, before: Option<AuditId>, limit: usize) -> StoreResult<Vec<AuditEntry>>;

    /// Counts of users, conversations and messages.
    async fn stats(&self) -> StoreResult<StoreStats>;

    // ---- durability

    /// Makes everything written so far durable, e.g. before a graceful shutdown.
    async fn flush(&self) -> StoreResult<()>;

    // ---- health

    /// Whether the store works now, for a health check: cheap, and bounded in time (a
    /// backend that must ask a server gives up after a short timeout and answers
    /// [`StoreHealth::Failed`]). The default is for a store that cannot fail, as
    /// [`MemoryStore`](crate::MemoryStore).
    async fn health(&self) -> StoreHealth {
        StoreHealth::Ok
    }
}

/// What [`Store::health`] reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum StoreHealth {
    /// Reads and writes work.
    Ok,
    /// Writes fail (a full disk, an I/O error, a database out of reach), and perhaps reads.
    /// The store retries by itself where it can (sled reopens once its directory takes writes
    /// again; PostgreSQL's pool reconnects).
    Failed,
    /// The store is recovering from a failure (sled: reopening the database and replaying its
    /// journal); calls fail until it is done.
    Recovering,
}

impl StoreHealth {
    /// The stable machine code: `"ok"`, `"failed"` or `"recovering"`.
    pub fn code(self) -> &'static str {
        match self {
            StoreHealth::Ok => "ok",
            StoreHealth::Failed => "failed",
            StoreHealth::Recovering => "recovering",
        }
    }

    /// True for [`StoreHealth::Ok`].
    pub fn is_ok(self) -> bool {
        self == StoreHealth::Ok
    }
}

impl std::fmt::Display for StoreHealth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.code())
    }
}

/// Whether a user matches a (lower-case) search text: the rule every backend follows.
pub fn matches_search(user: &User, needle: &str) -> bool {
    User::fold(&user.username).contains(needle)
        || user.display_name.as_deref().is_some_and(|name| name.to_lowercase().contains(needle))
}

/// Moves a receipt forward: the rule every backend follows. Returns whether it moved.
pub fn move_receipt_forward(receipt: &mut Receipt, kind: ReceiptKind, seq: Seq) -> bool {
    let before = *receipt;
    if kind == ReceiptKind::Read {
        receipt.read = receipt.read.max(seq);
    }
    receipt.delivered = receipt.delivered.max(seq).max(receipt.read);
    *receipt != before
}
