//! The node's cache of what every send reads: conversations (kind, name, owner, members) and
//! whether an account may receive messages.
//!
//! A send reads the conversation (is the caller a member? who gets the message?) and, in a
//! direct conversation, the other member's account (disabled or deleted?). On an embedded store
//! each read costs about a microsecond; on PostgreSQL each is a round trip, and they were two
//! of the three statements of every send. The records change rarely, so each node keeps them.
//!
//! Decisions:
//! - **Trusted only to say yes.** A cached record lets a send through (the caller is a member,
//!   the peer is available); it never refuses one. A refusal is always read from the store
//!   first, so a member added or an account enabled on another node a moment ago can send at
//!   once, whatever this node has cached.
//! - **A removal is enforced by the store, not by this cache.** A member removed on node A may
//!   still be cached as a member on node B until B hears of it. A store shared by several nodes
//!   checks, when it commits a send's append, that the sender is still a member
//!   ([`MessageStore::append_member_message`](crate::backend::MessageStore::append_member_message)),
//!   so a removal acknowledged on A is enforced on B before A's acknowledgement returns, heard
//!   of or not. A store of one process has one engine, whose forgetting is immediate.
//! - **Forgotten through the bus.** The engine forgets a conversation after every change to it
//!   and an account after an administrator changes it or it is deleted: here at once, and on
//!   other nodes when they receive [`BusMessage::Forget`](crate::BusMessage::Forget), which is
//!   published before the change's operation returns and arrives a moment later (what NATS
//!   takes to pass it on: about a millisecond on one network). That keeps fan-out lists right:
//!   a member added on A gets live messages sent through B as soon as B hears of it, and a
//!   member removed on A stops getting those sent through B then too (sending, they are
//!   refused at once: see above).
//! - **And by age.** A bus delivers at most once (a node cut off from NATS misses what was said
//!   meanwhile), so nothing is kept longer than [`TTL`]: that bounds how long a lost word can
//!   leave a removed member on a node's fan-out list.
//! - **No stale refill.** A read that began before a forget and ends after it would put the
//!   old record back. Each forget moves a generation; a record read under an older generation
//!   is not kept.
//! - **Bounded.** At [`CAPACITY`] records the cache is emptied and fills again with what is in
//!   use: simpler than an eviction order, and a busy node's working set refills in one pass.
//! - **Sessions are not cached.** Revoking a session must stop it writing at once on every
//!   node; a WebSocket authenticates once and is ended by the revocation, so sessions are not
//!   on the send path of the transports that carry most messages.

use crate::id::{ConversationId, UserId};
use crate::model::Conversation;
use std::collections::HashMap;
use std::hash::Hash;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// How long a record is kept without being forgotten.
pub(crate) const TTL: Duration = Duration::from_secs(5);

/// Records kept per kind before the cache is emptied.
pub(crate) const CAPACITY: usize = 100_000;

/// The generation a read started under; pass it back with what was read.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Generation(u64);

/// Conversations and available accounts, each for at most [`TTL`].
#[derive(Default)]
pub(crate) struct HotCache {
    generation: AtomicU64,
    conversations: Records<ConversationId, Conversation>,
    available: Records<UserId, ()>,
}

impl HotCache {
    /// Call before reading the store for something to keep.
    pub(crate) fn generation(&self) -> Generation {
        Generation(self.generation.load(Ordering::Acquire))
    }

    /// The conversation, if cached and fresh.
    pub(crate) fn conversation(&self, id: ConversationId) -> Option<Conversation> {
        self.conversations.get(&id)
    }

    /// Keeps a conversation read from the store under `read`, unless something was forgotten
    /// since.
    pub(crate) fn keep_conversation(&self, read: Generation, conversation: &Conversation) {
        self.conversations.insert(conversation.id, conversation.clone(), || self.current(read));
    }

    /// Whether the account was seen available (existing and not disabled) lately.
    pub(crate) fn available(&self, user: UserId) -> bool {
        self.available.get(&user).is_some()
    }

    /// Remembers that the account was read available under `read`.
    pub(crate) fn keep_available(&self, read: Generation, user: UserId) {
        self.available.insert(user, (), || self.current(read));
    }

    /// Forgets these records (a change to them was made, here or on another node).
    pub(crate) fn forget(&self, conversations: &[ConversationId], users: &[UserId]) {
        // First the generation, so that a read finishing meanwhile does not keep its record.
        self.generation.fetch_add(1, Ordering::AcqRel);
        self.conversations.remove(conversations);
        self.available.remove(users);
    }

    fn current(&self, read: Generation) -> bool {
        self.generation.load(Ordering::Acquire) == read.0
    }
}

/// One kind of record, with when each was read.
struct Records<K, V> {
    map: Mutex<HashMap<K, (V, Instant)>>,
}

impl<K, V> Default for Records<K, V> {
    fn default() -> Self {
        Records { map: Mutex::new(HashMap::new()) }
    }
}

impl<K: Hash + Eq, V: Clone> Records<K, V> {
    fn lock(&self) -> MutexGuard<'_, HashMap<K, (V, Instant)>> {
        self.map.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn get(&self, key: &K) -> Option<V> {
        let map = self.lock();
        let (value, read_at) = map.get(key)?;
        (read_at.elapsed() < TTL).then(|| value.clone())
    }

    /// Inserts unless `still_current` says otherwise; checked under the lock, which `remove`
    /// takes after moving the generation, so a forget cannot slip between check and insert.
    fn insert(&self, key: K, value: V, still_current: impl FnOnce() -> bool) {
        let mut map = self.lock();
        if !still_current() {
            return;
        }
        if map.len() >= CAPACITY {
            map.clear();
        }
        map.insert(key, (value, Instant::now()));
    }

    fn remove(&self, keys: &[K]) {
        if keys.is_empty() {
            return;
        }
        let mut map = self.lock();
        for key in keys {
            map.remove(key);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{ConversationKind, Timestamp};

    fn group(id: ConversationId, members: Vec<UserId>) -> Conversation {
        Conversation {
            id,
            kind: ConversationKind::Group,
            name: Some("g".into()),
            owner: members.first().copied(),
            members,
            created_at: Timestamp(0),
        }
    }

    #[test]
    fn a_kept_record_is_returned_until_forgotten() {
        let cache = HotCache::default();
        let (id, user) = (ConversationId::new(), UserId::new());
        assert!(cache.conversation(id).is_none());
        cache.keep_conversation(cache.generation(), &group(id, vec![user]));
        assert_eq!(cache.conversation(id).map(|c| c.members), Some(vec![user]));
        cache.forget(&[id], &[]);
        assert!(cache.conversation(id).is_none());

        cache.keep_available(cache.generation(), user);
        assert!(cache.available(user));
        cache.forget(&[], &[user]);
        assert!(!cache.available(user));
    }

    #[test]
    fn a_read_that_straddles_a_forget_is_not_kept() {
        let cache = HotCache::default();
        let (id, user) = (ConversationId::new(), UserId::new());
        let read = cache.generation();
        // Another change is forgotten while this read is under way...
        cache.forget(&[ConversationId::new()], &[]);
        cache.keep_conversation(read, &group(id, vec![user]));
        cache.keep_available(read, user);
        // ...so what it read may be older than the change: not kept.
        assert!(cache.conversation(id).is_none());
        assert!(!cache.available(user));
        // A read started after the forget is kept.
        cache.keep_conversation(cache.generation(), &group(id, vec![user]));
        assert!(cache.conversation(id).is_some());
    }

    #[test]
    fn a_full_cache_is_emptied_and_keeps_the_newest() {
        let records: Records<u32, ()> = Records::default();
        for key in 0..CAPACITY as u32 {
            records.insert(key, (), || true);
        }
        assert_eq!(records.lock().len(), CAPACITY, "at the limit: all kept");
        records.insert(u32::MAX, (), || true);
        assert_eq!(records.lock().len(), 1, "past it: emptied, then the new one kept");
        assert!(records.get(&u32::MAX).is_some());
    }

    #[test]
    fn an_old_record_is_not_returned() {
        let records: Records<u32, ()> = Records::default();
        records.insert(1, (), || true);
        records.lock().get_mut(&1).expect("kept").1 = Instant::now().checked_sub(TTL).expect("up for longer than TTL");
        assert!(records.get(&1).is_none(), "kept for TTL at most");
    }
}
