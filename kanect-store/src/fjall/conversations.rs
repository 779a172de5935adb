//! [`ConversationStore`] for [`FjallStore`]: conversations and memberships.
//!
//! A conversation record carries its sorted member list; `0x07` keys index it by user. Both
//! change in one batch under the conversation's stripe mutex, so the list and the index never
//! disagree and concurrent add/remove calls are atomic read-modify-writes.

use super::format::{decode, encode};
use super::{FjallStore, Inner};
use crate::kv::keys;
use kanect_core::backend::{ConversationStore, StoreResult};
use kanect_core::{Conflict, Conversation, ConversationId, StoreError, UserId};

impl Inner {
    fn conversation_now(&self, id: ConversationId) -> StoreResult<Option<Conversation>> {
        self.conversations.read(id, || self.get("conversation", &keys::conversation(id)))
    }

    fn insert_conversation_now(&self, conversation: &Conversation) -> StoreResult<bool> {
        let mut batch = self.batch();
        batch.insert(&self.data, keys::conversation(conversation.id), encode(conversation)?);
        for member in &conversation.members {
            batch.insert(&self.data, keys::membership(*member, conversation.id), []);
        }
        let _stripe = self.stripe(conversation.id);
        if self.conversation_now(conversation.id)?.is_some() {
            return Ok(false);
        }
        self.commit(batch)?;
        self.conversations.written(conversation.id, Some(conversation.clone()));
        Ok(true)
    }

    fn add_member_now(&self, id: ConversationId, user: UserId) -> StoreResult<Option<Conversation>> {
        let _stripe = self.stripe(id);
        let Some(mut conversation) = self.conversation_now(id)? else { return Ok(None) };
        let Err(position) = conversation.members.binary_search(&user) else {
            return Err(StoreError::Conflict(Conflict::AlreadyMember));
        };
        conversation.members.insert(position, user);
        let mut batch = self.batch();
        batch.insert(&self.data, keys::conversation(id), encode(&conversation)?);
        batch.insert(&self.data, keys::membership(user, id), []);
        self.commit(batch)?;
        self.conversations.written(id, Some(conversation.clone()));
        Ok(Some(conversation))
    }

    /// Returns the conversation (None if absent) and whether anything changed.
    fn remove_member_now(&self, id: ConversationId, user: UserId) -> StoreResult<(Option<Conversation>, bool)> {
        let _stripe = self.stripe(id);
        let Some(mut conversation) = self.conversation_now(id)? else { return Ok((None, false)) };
        let Ok(position) = conversation.members.binary_search(&user) else { return Ok((Some(conversation), false)) };
        conversation.members.remove(position);
        let mut batch = self.batch();
        batch.insert(&self.data, keys::conversation(id), encode(&conversation)?);
        batch.remove(&self.data, keys::membership(user, id));
        self.commit(batch)?;
        self.conversations.written(id, Some(conversation.clone()));
        Ok((Some(conversation), true))
    }

    fn set_details_now(
        &self,
        id: ConversationId,
        name: Option<String>,
        owner: Option<UserId>,
    ) -> StoreResult<Option<Conversation>> {
        let _stripe = self.stripe(id);
        let Some(mut conversation) = self.conversation_now(id)? else { return Ok(None) };
        conversation.name = name;
        conversation.owner = owner;
        let mut batch = self.batch();
        batch.insert(&self.data, keys::conversation(id), encode(&conversation)?);
        self.commit(batch)?;
        self.conversations.written(id, Some(conversation.clone()));
        Ok(Some(conversation))
    }

    fn conversations_of_now(&self, user: UserId) -> StoreResult<Vec<ConversationId>> {
        let prefix = keys::memberships(user);
        self.keys_with(&prefix).map(|key| Ok(ConversationId::from_bytes(keys::id_at(&key?, prefix.len())?))).collect()
    }

    fn conversations_now(&self, after: Option<ConversationId>, limit: usize) -> StoreResult<Vec<Conversation>> {
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
impl ConversationStore for FjallStore {
    async fn insert_conversation(&self, conversation: &Conversation) -> StoreResult<bool> {
        let conversation = conversation.clone();
        // Durable also when it existed: "it exists" may be about another writer's record that
        // is still on its way to the disk, and callers act on the answer.
        self.write(move |inner| inner.insert_conversation_now(&conversation).map(|inserted| (inserted, true))).await
    }

    async fn conversation(&self, id: ConversationId) -> StoreResult<Option<Conversation>> {
        self.with(|inner| inner.conversation_now(id))
    }

    async fn add_member(&self, id: ConversationId, user: UserId) -> StoreResult<Option<Conversation>> {
        self.write(move |inner| {
            inner.add_member_now(id, user).map(|updated| {
                let changed = updated.is_some();
                (updated, changed)
            })
        })
        .await
    }

    async fn remove_member(&self, id: ConversationId, user: UserId) -> StoreResult<Option<Conversation>> {
        self.write(move |inner| inner.remove_member_now(id, user)).await
    }

    async fn set_conversation_details(
        &self,
        id: ConversationId,
        name: Option<String>,
        owner: Option<UserId>,
    ) -> StoreResult<Option<Conversation>> {
        self.write(move |inner| {
            inner.set_details_now(id, name, owner).map(|updated| {
                let changed = updated.is_some();
                (updated, changed)
            })
        })
        .await
    }

    async fn conversations_of(&self, user: UserId) -> StoreResult<Vec<ConversationId>> {
        self.with(|inner| inner.conversations_of_now(user))
    }

    async fn conversations(&self, after: Option<ConversationId>, limit: usize) -> StoreResult<Vec<Conversation>> {
        self.with(|inner| inner.conversations_now(after, limit))
    }
}
