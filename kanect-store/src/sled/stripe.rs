//! [`Stripe`]: the in-memory state that a per-conversation write lock guards, shared by the
//! appends and the conversation writes under it.
//!
//! The stripes themselves (their count, and which conversation takes which) belong to the open
//! database ([`Open::stripe`](super::open::Open::stripe)), and what they keep lives exactly as
//! long as it. What they keep is here, below both writers that use it (`conversations` and
//! `messages`): an append reads what a conversation write left, and the open database holds
//! all of it, so kept with either writer it would make the open database import the stores
//! built on it. Each part is read and changed only under its stripe's lock:
//!
//! - [`Pending`]: each conversation's last seq and the appends submitted to group commit but
//!   not yet in sled (see `messages` for why there is no seq counter record);
//! - [`ConversationCache`] and [`Unflushed`]: the conversation records, as below.
//!
//! Every send checks its conversation's members, and reading and decoding the record from
//! sled each time was a tenth of the server's CPU under load; so each stripe keeps the
//! records it last read or wrote ([`ConversationCache`]). Every write path updates it under
//! the same stripe lock as its sled write, and this process is the database's only writer,
//! so the cache is never stale.
//!
//! A send checks a record that may not be durable yet (another writer applied it and waits
//! for its flush), while the send itself is made durable by the journal, not by that flush:
//! a crash could then keep a message whose conversation or membership was lost. So each
//! stripe also notes, per conversation, the flush that makes its last record write durable
//! ([`Unflushed`]), and an append (or a resend's answer) in such a conversation also waits for
//! that flush while it has not completed: for its end if it is under way, not for the next one
//! (`GroupCommit::flushed`). The note is by flush number, not by writer, so a writer that stops
//! waiting for its flush (its caller went away) clears nothing early.

use super::commit::GroupCommit;
use kanect_core::{Conversation, ConversationId, Message, MessageId, Seq};
use std::collections::{HashMap, VecDeque};

/// What a stripe lock guards besides the right to write its conversations.
#[derive(Default)]
pub(crate) struct Stripe {
    /// Appends under way, and each conversation's last seq.
    pub(crate) pending: Pending,
    /// Conversation records as last read or written.
    pub(crate) conversations: ConversationCache,
    /// Conversation records written but perhaps not yet durable.
    pub(crate) unflushed: Unflushed,
}

/// Per-stripe append state, guarded by the stripe lock: the seq cache, and the appends
/// submitted to group commit but perhaps not yet applied to sled, so that the next append in
/// the same conversation sees them (a resend finds its original here first).
#[derive(Default)]
pub(crate) struct Pending {
    /// The highest seq submitted per conversation: the seq counter. Filled from sled on a
    /// conversation's first append, kept for the life of the open database (one entry per
    /// written conversation).
    pub(super) last: HashMap<ConversationId, Seq>,
    /// Submitted messages by id, until sled has them (removing one earlier would let a resend
    /// store it twice).
    pub(super) submitted: HashMap<MessageId, Message>,
    /// The entries of `submitted` by append number ([`Submitted::number`](super::commit::Submitted::number)), oldest first:
    /// the next append of the stripe drops those that group commit has applied. So an entry
    /// outlives its append by at most the stripe's next append, whether or not its caller
    /// still waited; after a failed group, entries stay until the failed open is dropped.
    pub(super) unapplied: VecDeque<(u64, MessageId)>,
}

impl Pending {
    /// Drops the submitted messages that sled has now.
    pub(super) fn prune(&mut self, commit: &GroupCommit) {
        while let Some(&(number, id)) = self.unapplied.front() {
            if !commit.is_applied(number) {
                break;
            }
            self.unapplied.pop_front();
            self.submitted.remove(&id);
        }
    }

    #[cfg(test)]
    pub(super) fn submitted_len(&self) -> usize {
        self.submitted.len()
    }
}

/// How many conversation records one stripe keeps (64 stripes: 4,096 in all). Past it an
/// arbitrary one goes; a miss costs one sled read.
const CACHED_PER_STRIPE: usize = 64;

/// One stripe's conversation records, as last read or written.
#[derive(Default)]
pub(crate) struct ConversationCache(HashMap<ConversationId, Conversation>);

impl ConversationCache {
    /// The record of `id`, if the stripe keeps it.
    pub(super) fn get(&self, id: &ConversationId) -> Option<&Conversation> {
        self.0.get(id)
    }

    pub(super) fn put(&mut self, conversation: Conversation) {
        if self.0.len() >= CACHED_PER_STRIPE && !self.0.contains_key(&conversation.id) {
            if let Some(&evicted) = self.0.keys().next() {
                self.0.remove(&evicted);
            }
        }
        self.0.insert(conversation.id, conversation);
    }
}

/// Per conversation, the flush (see `GroupCommit::next_flush`) that makes the last write of
/// its record durable, until that flush is seen to have completed.
#[derive(Default)]
pub(crate) struct Unflushed(HashMap<ConversationId, u64>);

/// Past this many conversations, [`Unflushed::note`] drops the entries already flushed.
const UNFLUSHED_PRUNE: usize = 1024;

impl Unflushed {
    /// Records that `id`'s record was just written: the next flush to start makes it durable.
    fn note(&mut self, id: ConversationId, commit: &GroupCommit) {
        if self.0.len() >= UNFLUSHED_PRUNE {
            self.0.retain(|_, needed| !commit.is_flushed(*needed));
        }
        let needed = self.0.entry(id).or_default();
        *needed = (*needed).max(commit.next_flush());
    }

    /// The flush that makes the last write of `id`'s record durable, if it has not completed.
    pub(crate) fn waits(&mut self, id: ConversationId, commit: &GroupCommit) -> Option<u64> {
        let needed = *self.0.get(&id)?;
        if commit.is_flushed(needed) {
            self.0.remove(&id);
            return None;
        }
        Some(needed)
    }
}

impl Stripe {
    /// After a write of `conversation`'s record: cache it, and note that the write is on its
    /// way to the disk (one method, so that no write path does one without the other).
    pub(super) fn wrote(&mut self, conversation: Conversation, commit: &GroupCommit) {
        self.unflushed.note(conversation.id, commit);
        self.conversations.put(conversation);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kanect_core::testing::group;
    use kanect_core::UserId;

    #[test]
    fn the_cache_is_bounded_and_keeps_the_last_write() {
        let mut cache = ConversationCache::default();
        let first = group(&[UserId::new()]);
        cache.put(first.clone());
        let renamed = Conversation { name: Some("renamed".into()), ..first.clone() };
        cache.put(renamed.clone());
        assert_eq!(cache.0.get(&first.id), Some(&renamed));
        for _ in 0..CACHED_PER_STRIPE * 2 {
            cache.put(group(&[UserId::new()]));
        }
        assert_eq!(cache.0.len(), CACHED_PER_STRIPE);
    }
}
