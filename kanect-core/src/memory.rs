//! [`MemoryStore`]: the in-process store, for tests, examples and `--memory` servers.
//!
//! All state sits behind one `std::sync::Mutex`: every operation is a few map look-ups, never
//! awaits while holding the lock, and a single lock makes each operation trivially atomic —
//! the same invariants the persistent backends must work harder for. Nothing survives the
//! process, and nothing can fail: it keeps the default [`Store::health`], always ok.

use crate::error::{Conflict, StoreError};
use crate::id::{AuditId, ConversationId, MessageId, Seq, UserId};
use crate::model::{
    Appended, AuditEntry, Conversation, Message, NewMessage, Receipt, ReceiptKind, Session, StoreStats, Timestamp,
    TokenHash, User,
};
use crate::store::{matches_search, move_receipt_forward, HistoryPage, Store, StoreResult, UserQuery, UserUpdate};
use crate::throttle::{Attempt, AttemptKey, LoginAttempts, SlowDown};
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
    audit: BTreeMap<AuditId, AuditEntry>,
    login_attempts: HashMap<AttemptKey, LoginAttempts>,
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
    async fn insert_user(&self, user: &User, password_hash: &str) -> StoreResult<()> {
        let mut state = self.lock();
        let folded = User::fold(&user.username);
        if state.usernames.contains_key(&folded) || state.users.contains_key(&user.id) {
            return Err(StoreError::Conflict(Conflict::UsernameTaken));
        }
        state.usernames.insert(folded, user.id);
        state.passwords.insert(user.id, password_hash.to_string());
        state.users.insert(user.id, user.clone());
        Ok(())
    }

    async fn user(&self, id: UserId) -> StoreResult<Option<User>> {
        Ok(self.lock().users.get(&id).cloned())
    }

    async fn user_by_username(&self, username: &str) -> StoreResult<Option<User>> {
        let state = self.lock();
        Ok(state.usernames.get(&User::fold(username)).and_then(|id| state.users.get(id)).cloned())
    }

    async fn update_user(&self, id: UserId, update: UserUpdate) -> StoreResult<Option<User>> {
        let mut state = self.lock();
        Ok(state.users.get_mut(&id).map(|user| {
            update.apply(user);
            user.clone()
        }))
    }

    async fn delete_user(&self, id: UserId) -> StoreResult<bool> {
        let mut state = self.lock();
        let Some(user) = state.users.remove(&id) else { return Ok(false) };
        state.usernames.remove(&User::fold(&user.username));
        state.passwords.remove(&id);
        state.sessions.retain(|_, session| session.user != id);
        Ok(true)
    }

    async fn password_hash(&self, id: UserId) -> StoreResult<Option<String>> {
        Ok(self.lock().passwords.get(&id).cloned())
    }

    async fn set_password_hash(&self, id: UserId, hash: &str) -> StoreResult<bool> {
        let mut state = self.lock();
        if !state.users.contains_key(&id) {
            return Ok(false);
        }
        state.passwords.insert(id, hash.to_string());
        Ok(true)
    }

    async fn users(&self, query: &UserQuery) -> StoreResult<Vec<User>> {
        let state = self.lock();
        let start = match &query.after {
            Some(after) => std::ops::Bound::Excluded(after.clone()),
            None => std::ops::Bound::Unbounded,
        };
        Ok(state
            .usernames
            .range((start, std::ops::Bound::Unbounded))
            .filter_map(|(_, id)| state.users.get(id))
            .filter(|user| query.search.as_deref().is_none_or(|needle| matches_search(user, needle)))
            .take(query.limit)
            .cloned()
            .collect())
    }

    async fn insert_session(&self, session: &Session) -> StoreResult<()> {
        self.lock().sessions.insert(session.token_hash, session.clone());
        Ok(())
    }

    async fn session(&self, token_hash: &TokenHash) -> StoreResult<Option<Session>> {
        Ok(self.lock().sessions.get(token_hash).cloned())
    }

    async fn delete_session(&self, token_hash: &TokenHash) -> StoreResult<bool> {
        Ok(self.lock().sessions.remove(token_hash).is_some())
    }

    async fn delete_sessions_of(&self, user: UserId) -> StoreResult<u64> {
        let mut state = self.lock();
        let before = state.sessions.len();
        state.sessions.retain(|_, session| session.user != user);
        Ok((before - state.sessions.len()) as u64)
    }

    async fn count_login_attempt(&self, keys: &[(AttemptKey, SlowDown)], now: Timestamp) -> StoreResult<Attempt> {
        let mut state = self.lock();
        let current = keys.iter().map(|(key, rule)| (*rule, state.login_attempts.get(key).copied()));
        let attempt = Attempt::decide(current, now);
        if let Attempt::Counted(records) = &attempt {
            state.login_attempts.extend(keys.iter().map(|(key, _)| *key).zip(records.iter().copied()));
        }
        Ok(attempt)
    }

    async fn clear_login_attempts(&self, key: &AttemptKey) -> StoreResult<()> {
        self.lock().login_attempts.remove(key);
        Ok(())
    }

    async fn expire_login_attempts(&self, now: Timestamp) -> StoreResult<u64> {
        let mut state = self.lock();
        let before = state.login_attempts.len();
        state.login_attempts.retain(|_, record| record.expires_at > now);
        Ok((before - state.login_attempts.len()) as u64)
    }

    async fn insert_conversation(&self, conversation: &Conversation) -> StoreResult<bool> {
        let mut state = self.lock();
        if state.conversations.contains_key(&conversation.id) {
            return Ok(false);
        }
        for member in &conversation.members {
            state.memberships.entry(*member).or_default().push(conversation.id);
        }
        state.conversations.insert(conversation.id, conversation.clone());
        Ok(true)
    }

    async fn conversation(&self, id: ConversationId) -> StoreResult<Option<Conversation>> {
        Ok(self.lock().conversations.get(&id).cloned())
    }

    async fn add_member(&self, id: ConversationId, user: UserId) -> StoreResult<Option<Conversation>> {
        let mut state = self.lock();
        let Some(conversation) = state.conversations.get_mut(&id) else { return Ok(None) };
        let Err(position) = conversation.members.binary_search(&user) else {
            return Err(StoreError::Conflict(Conflict::AlreadyMember));
        };
        conversation.members.insert(position, user);
        let updated = conversation.clone();
        state.memberships.entry(user).or_default().push(id);
        Ok(Some(updated))
    }

    async fn remove_member(&self, id: ConversationId, user: UserId) -> StoreResult<Option<Conversation>> {
        let mut state = self.lock();
        let Some(conversation) = state.conversations.get_mut(&id) else { return Ok(None) };
        conversation.members.retain(|member| *member != user);
        let updated = conversation.clone();
        if let Some(list) = state.memberships.get_mut(&user) {
            list.retain(|c| *c != id);
        }
        Ok(Some(updated))
    }

    async fn set_conversation_details(
        &self,
        id: ConversationId,
        name: Option<String>,
        owner: Option<UserId>,
    ) -> StoreResult<Option<Conversation>> {
        let mut state = self.lock();
        Ok(state.conversations.get_mut(&id).map(|conversation| {
            conversation.name = name;
            conversation.owner = owner;
            conversation.clone()
        }))
    }

    async fn conversations_of(&self, user: UserId) -> StoreResult<Vec<ConversationId>> {
        Ok(self.lock().memberships.get(&user).cloned().unwrap_or_default())
    }

    async fn conversations(&self, after: Option<ConversationId>, limit: usize) -> StoreResult<Vec<Conversation>> {
        let state = self.lock();
        let mut all: Vec<&Conversation> =
            state.conversations.values().filter(|c| after.is_none_or(|after| c.id > after)).collect();
        all.sort_by_key(|c| c.id);
        Ok(all.into_iter().take(limit).cloned().collect())
    }

    async fn append_message(&self, message: NewMessage) -> StoreResult<Appended> {
        let mut state = self.lock();
        if let Some(&(conversation, seq)) = state.message_index.get(&message.id()) {
            return match state.message_at(conversation, seq) {
                Some(original) if message.is_resend_of(original) => Ok(Appended::Duplicate(original.clone())),
                Some(_) => Err(StoreError::Corrupt(format!("message id {} names another message", message.id()))),
                None => Err(StoreError::Corrupt(format!("message index without message at {seq}"))),
            };
        }
        let list = state.messages.entry(message.conversation).or_default();
        let seq = Seq(list.len() as u64 + 1);
        let stored = message.with_seq(seq);
        list.push(stored.clone());
        state.message_index.insert(stored.id, (stored.conversation, seq));
        Ok(Appended::Created(stored))
    }

    async fn message(&self, id: MessageId) -> StoreResult<Option<Message>> {
        let state = self.lock();
        Ok(state.message_index.get(&id).and_then(|&(c, seq)| state.message_at(c, seq)).cloned())
    }

    async fn replace_message(&self, message: &Message) -> StoreResult<bool> {
        let mut state = self.lock();
        let index = message.seq.0 as usize;
        let Some(stored) = state
            .messages
            .get_mut(&message.conversation)
            .and_then(|list| index.checked_sub(1).and_then(|i| list.get_mut(i)))
            .filter(|stored| stored.id == message.id)
        else {
            return Ok(false);
        };
        stored.body = message.body.clone();
        stored.edited_at = message.edited_at;
        stored.deleted = message.deleted;
        Ok(true)
    }

    async fn history(
        &self,
        conversation: ConversationId,
        page: HistoryPage,
        limit: usize,
    ) -> StoreResult<Vec<Message>> {
        let state = self.lock();
        let list = state.messages.get(&conversation).map(Vec::as_slice).unwrap_or_default();
        let len = list.len();
        let (start, end) = match page {
            HistoryPage::Latest => (len.saturating_sub(limit), len),
            HistoryPage::Before(seq) => {
                let end = (seq.0.saturating_sub(1) as usize).min(len);
                (end.saturating_sub(limit), end)
            }
            HistoryPage::After(seq) => {
                let start = (seq.0 as usize).min(len);
                (start, start.saturating_add(limit).min(len))
            }
        };
        Ok(list[start..end].to_vec())
    }

    async fn last_seq(&self, conversation: ConversationId) -> StoreResult<Seq> {
        Ok(Seq(self.lock().messages.get(&conversation).map_or(0, |list| list.len() as u64)))
    }

    async fn advance_receipt(
        &self,
        conversation: ConversationId,
        user: UserId,
        kind: ReceiptKind,
        seq: Seq,
    ) -> StoreResult<Option<Receipt>> {
        let mut state = self.lock();
        let receipt = state.receipts.entry((conversation, user)).or_insert(Receipt {
            conversation,
            user,
            delivered: Seq::ZERO,
            read: Seq::ZERO,
        });
        Ok(move_receipt_forward(receipt, kind, seq).then_some(*receipt))
    }

    async fn receipts(&self, conversation: ConversationId) -> StoreResult<Vec<Receipt>> {
        let state = self.lock();
        let mut receipts: Vec<Receipt> =
            state.receipts.values().filter(|r| r.conversation == conversation).copied().collect();
        receipts.sort_by_key(|r| r.user);
        Ok(receipts)
    }

    async fn append_audit(&self, entry: &AuditEntry) -> StoreResult<()> {
        self.lock().audit.insert(entry.id, entry.clone());
        Ok(())
    }

    async fn audit_log(&self, before: Option<AuditId>, limit: usize) -> StoreResult<Vec<AuditEntry>> {
        let state = self.lock();
        let upper = match before {
            Some(id) => std::ops::Bound::Excluded(id),
            None => std::ops::Bound::Unbounded,
        };
        Ok(state.audit.range((std::ops::Bound::Unbounded, upper)).rev().take(limit).map(|(_, e)| e.clone()).collect())
    }

    async fn stats(&self) -> StoreResult<StoreStats> {
        let state = self.lock();
        Ok(StoreStats {
            users: state.users.len() as u64,
            conversations: state.conversations.len() as u64,
            messages: state.messages.values().map(|list| list.len() as u64).sum(),
        })
    }

    async fn flush(&self) -> StoreResult<()> {
        Ok(())
    }
}
