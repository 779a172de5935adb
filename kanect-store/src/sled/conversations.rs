//! [`ConversationStore`] for [`SledStore`]: conversations and memberships, and the synchronous
//! halves of their methods.
//!
//! A conversation record carries its sorted member list; `0x07` keys index it by user.
//! Both change in one batch under the conversation's stripe lock, so the list and the index
//! never disagree and concurrent add/remove calls are atomic read-modify-writes.
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
use super::format::{decode, encode};
use super::keys;
use super::open::{Open, Stripe};
use super::SledStore;
use kanect_core::backend::{ConversationStore, StoreResult};
use kanect_core::{Conflict, Conversation, ConversationId, StoreError, UserId};
use std::collections::HashMap;

/// How many conversation records one stripe keeps (64 stripes: 4,096 in all). Past it an
/// arbitrary one goes; a miss costs one sled read.
const CACHED_PER_STRIPE: usize = 64;

/// One stripe's conversation records, as last read or written.
#[derive(Default)]
pub(crate) struct ConversationCache(HashMap<ConversationId, Conversation>);

impl ConversationCache {
    fn put(&mut self, conversation: Conversation) {
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
    fn wrote(&mut self, conversation: Conversation, commit: &GroupCommit) {
        self.unflushed.note(conversation.id, commit);
        self.conversations.put(conversation);
    }
}

impl Open {
    /// The record of `id` from the stripe's cache, or read from sled into it. The caller
    /// holds `id`'s stripe, so no write can slip between the read and the caching.
    pub(super) fn cached_conversation(
        &self,
        stripe: &mut Stripe,
        id: ConversationId,
    ) -> StoreResult<Option<Conversation>> {
        if let Some(conversation) = stripe.conversations.0.get(&id) {
            return Ok(Some(conversation.clone()));
        }
        let stored: Option<Conversation> = self.get("conversation", &keys::conversation(id))?;
        if let Some(conversation) = &stored {
            stripe.conversations.put(conversation.clone());
        }
        Ok(stored)
    }

    pub(super) fn insert_conversation_now(&self, conversation: &Conversation) -> StoreResult<bool> {
        let key = keys::conversation(conversation.id);
        let mut batch = sled::Batch::default();
        batch.insert(key.clone(), encode(conversation)?);
        for member in &conversation.members {
            batch.insert(keys::membership(*member, conversation.id), &[]);
        }
        let mut stripe = self.stripe(conversation.id);
        if self.cached_conversation(&mut stripe, conversation.id)?.is_some() {
            return Ok(false);
        }
        self.apply(batch)?;
        stripe.wrote(conversation.clone(), &self.commit);
        Ok(true)
    }

    pub(super) fn add_member_now(&self, id: ConversationId, user: UserId) -> StoreResult<Option<Conversation>> {
        let mut stripe = self.stripe(id);
        let Some(mut conversation) = self.cached_conversation(&mut stripe, id)? else { return Ok(None) };
        let Err(position) = conversation.members.binary_search(&user) else {
            return Err(StoreError::Conflict(Conflict::AlreadyMember));
        };
        conversation.members.insert(position, user);
        let mut batch = sled::Batch::default();
        batch.insert(keys::conversation(id), encode(&conversation)?);
        batch.insert(keys::membership(user, id), &[]);
        self.apply(batch)?;
        stripe.wrote(conversation.clone(), &self.commit);
        Ok(Some(conversation))
    }

    /// Returns the conversation (None if absent) and whether anything changed.
    pub(super) fn remove_member_now(
        &self,
        id: ConversationId,
        user: UserId,
    ) -> StoreResult<(Option<Conversation>, bool)> {
        let mut stripe = self.stripe(id);
        let Some(mut conversation) = self.cached_conversation(&mut stripe, id)? else { return Ok((None, false)) };
        let Ok(position) = conversation.members.binary_search(&user) else { return Ok((Some(conversation), false)) };
        conversation.members.remove(position);
        let mut batch = sled::Batch::default();
        batch.insert(keys::conversation(id), encode(&conversation)?);
        batch.remove(keys::membership(user, id));
        self.apply(batch)?;
        stripe.wrote(conversation.clone(), &self.commit);
        Ok((Some(conversation), true))
    }

    pub(super) fn set_details_now(
        &self,
        id: ConversationId,
        name: Option<String>,
        owner: Option<UserId>,
    ) -> StoreResult<Option<Conversation>> {
        let mut stripe = self.stripe(id);
        let Some(mut conversation) = self.cached_conversation(&mut stripe, id)? else { return Ok(None) };
        conversation.name = name;
        conversation.owner = owner;
        self.insert(&keys::conversation(id), encode(&conversation)?)?;
        stripe.wrote(conversation.clone(), &self.commit);
        Ok(Some(conversation))
    }

    pub(super) fn conversations_of_now(&self, user: UserId) -> StoreResult<Vec<ConversationId>> {
        let prefix = keys::memberships(user);
        self.keys_with(&prefix).map(|key| Ok(ConversationId::from_bytes(keys::id_at(&key?, prefix.len())?))).collect()
    }

    pub(super) fn conversations_now(
        &self,
        after: Option<ConversationId>,
        limit: usize,
    ) -> StoreResult<Vec<Conversation>> {
        let prefix = keys::all_conversations();
        let start = after.map_or_else(|| prefix.clone(), keys::conversation);
        self.entries_after(&prefix, start)
            .take(limit)
            .map(|entry| {
                let (key, value) = entry?;
                decode("conversation", &key, &value)
            })
            .collect()
    }
}

#[async_trait::async_trait]
impl ConversationStore for SledStore {
    async fn insert_conversation(&self, conversation: &Conversation) -> StoreResult<bool> {
        // Durable also when it existed: "it exists" may be about another writer's record that
        // is still on its way to the disk, and callers act on the answer.
        self.write(|open| open.insert_conversation_now(conversation).map(|inserted| (inserted, true))).await
    }

    async fn conversation(&self, id: ConversationId) -> StoreResult<Option<Conversation>> {
        self.with(|open| open.cached_conversation(&mut open.stripe(id), id))
    }

    async fn add_member(&self, id: ConversationId, user: UserId) -> StoreResult<Option<Conversation>> {
        self.write(|open| {
            open.add_member_now(id, user).map(|updated| {
                let changed = updated.is_some();
                (updated, changed)
            })
        })
        .await
    }

    async fn remove_member(&self, id: ConversationId, user: UserId) -> StoreResult<Option<Conversation>> {
        self.write(|open| open.remove_member_now(id, user)).await
    }

    async fn set_conversation_details(
        &self,
        id: ConversationId,
        name: Option<String>,
        owner: Option<UserId>,
    ) -> StoreResult<Option<Conversation>> {
        self.write(|open| {
            open.set_details_now(id, name, owner).map(|updated| {
                let changed = updated.is_some();
                (updated, changed)
            })
        })
        .await
    }

    async fn conversations_of(&self, user: UserId) -> StoreResult<Vec<ConversationId>> {
        self.with(|open| open.conversations_of_now(user))
    }

    async fn conversations(&self, after: Option<ConversationId>, limit: usize) -> StoreResult<Vec<Conversation>> {
        self.with(|open| open.conversations_now(after, limit))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kanect_core::testing::group;

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
