//! [`ConversationStore`] for [`SledStore`]: conversations and memberships, and the synchronous
//! halves of their methods.
//!
//! A conversation record carries its sorted member list; `0x07` keys index it by user.
//! Both change in one batch under the conversation's stripe lock, so the list and the index
//! never disagree and concurrent add/remove calls are atomic read-modify-writes.
//!
//! Every write path also updates the stripe's cache of records and notes that its write is not
//! yet durable, under the same stripe lock ([`Stripe::wrote`]); see `stripe` for why both.

use super::format::{decode, encode};
use super::open::Open;
use super::stripe::Stripe;
use super::SledStore;
use crate::kv::keys;
use kanect_core::backend::{ConversationStore, StoreResult};
use kanect_core::{Conflict, Conversation, ConversationId, StoreError, UserId};

impl Open {
    /// The record of `id` from the stripe's cache, or read from sled into it. The caller
    /// holds `id`'s stripe, so no write can slip between the read and the caching.
    pub(super) fn cached_conversation(
        &self,
        stripe: &mut Stripe,
        id: ConversationId,
    ) -> StoreResult<Option<Conversation>> {
        if let Some(conversation) = stripe.conversations.get(&id) {
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
