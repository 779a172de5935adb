//! [`MemoryStore`]: the in-process store, for tests, examples and `--memory` servers.
//!
//! All state sits behind one `std::sync::Mutex`: every operation is a few map look-ups, never
//! awaits while holding the lock, and a single lock makes each operation trivially atomic —
//! the same invariants the persistent backends must work harder for. Nothing survives the
//! process, and nothing can fail: it keeps the default [`Store::health`], always ok.
//!
//! The state is here; each domain trait's impl is in a file of its own (`users`, `sessions`,
//! `login_attempts`, `conversations`, `messages`, `attachments`, `admin`, `invites`, `account_tokens`,
//! `notifications` with the secrets), as in every backend.

mod account_tokens;
mod admin;
mod attachments;
mod conversations;
mod invites;
mod login_attempts;
mod messages;
mod notifications;
mod sessions;
mod users;

use crate::id::{AttachmentId, AuditId, ConversationId, InviteId, MessageId, Seq, UserId};
use crate::model::{AccountToken, Attachment, AuditEntry, Conversation, Message, Receipt, Session, TokenHash, User};
use crate::notifications::{NotificationSettings, PushSubscription};
use crate::store::{Invite, Store, StoreResult};
use crate::throttle::{AttemptKey, LoginAttempts};
use async_trait::async_trait;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Mutex, MutexGuard};

/// A [`Store`] that keeps everything in memory.
///
/// ```
/// # tokio_test_block(async {
/// use kanect_core::{Chat, MemoryStore};
/// let chat = Chat::builder(MemoryStore::new()).build();
/// # });
/// # fn tokio_test_block(f: impl std::future::Future<Output = ()>) {
/// #     tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(f)
/// # }
/// ```
#[derive(Default)]
pub struct MemoryStore {
    state: Mutex<State>,
}

impl std::fmt::Debug for MemoryStore {
    /// Not the records (they hold password hashes): the store is as big as its data.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryStore").finish_non_exhaustive()
    }
}

#[derive(Default)]
struct State {
    users: HashMap<UserId, User>,
    /// Folded username → id, ordered for paging.
    usernames: BTreeMap<String, UserId>,
    passwords: HashMap<UserId, String>,
    sessions: HashMap<TokenHash, Session>,
    conversations: HashMap<ConversationId, Conversation>,
    memberships: HashMap<UserId, Vec<ConversationId>>,
    /// Per conversation: messages by seq (index 0 is seq 1).
    messages: HashMap<ConversationId, Vec<Message>>,
    /// By id, which is a function of the client id: also the resend check.
    message_index: HashMap<MessageId, (ConversationId, Seq)>,
    receipts: HashMap<(ConversationId, UserId), Receipt>,
    /// Ordered by id, for paging.
    attachments: BTreeMap<AttachmentId, Attachment>,
    audit: BTreeMap<AuditId, AuditEntry>,
    login_attempts: HashMap<AttemptKey, LoginAttempts>,
    /// Ordered by id, for paging.
    invites: BTreeMap<InviteId, Invite>,
    /// Token hash → id.
    invite_tokens: HashMap<TokenHash, InviteId>,
    /// Ordered by hash, for paging.
    account_tokens: BTreeMap<TokenHash, AccountToken>,
    notification_settings: HashMap<UserId, NotificationSettings>,
    /// By user and endpoint hash: a user's are a range.
    push_subscriptions: BTreeMap<(UserId, [u8; 32]), PushSubscription>,
    /// Ordered by name, as backups list them.
    secrets: BTreeMap<String, Vec<u8>>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave a half-applied operation: each one
        // validates before it mutates. Keep serving.
        self.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

impl State {
    fn message_at(&self, conversation: ConversationId, seq: Seq) -> Option<&Message> {
        let index = usize::try_from(seq.0).ok()?.checked_sub(1)?;
        self.messages.get(&conversation)?.get(index)
    }
}

#[async_trait]
impl Store for MemoryStore {
    async fn flush(&self) -> StoreResult<()> {
        Ok(())
    }
}
