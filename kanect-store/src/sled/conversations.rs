//! Conversations and memberships: the synchronous halves of their methods.
//!
//! A conversation record carries its sorted member list; `0x07` keys index it by user.
//! Both change in one batch under the conversation's stripe lock, so the list and the index
//! never disagree and concurrent add/remove calls are atomic read-modify-writes.

use super::format::{decode, encode};
use super::{keys, SledStore};
use kanect_core::{Conflict, Conversation, ConversationId, StoreError, StoreResult, UserId};

impl SledStore {
    pub(super) fn insert_conversation_now(&self, conversation: &Conversation) -> StoreResult<bool> {
        let key = keys::conversation(conversation.id);
        let mut batch = sled::Batch::default();
        batch.insert(key.clone(), encode(conversation)?);
        for member in &conversation.members {
            batch.insert(keys::membership(*member, conversation.id), &[]);
        }
        let _stripe = self.stripe(conversation.id);
        if self.get_raw(&key)?.is_some() {
            return Ok(false);
        }
        self.apply(batch)?;
        Ok(true)
    }

    pub(super) fn add_member_now(&self, id: ConversationId, user: UserId) -> StoreResult<Option<Conversation>> {
        let key = keys::conversation(id);
        let _stripe = self.stripe(id);
        let Some(mut conversation) = self.get::<Conversation>("conversation", &key)? else { return Ok(None) };
        let Err(position) = conversation.members.binary_search(&user) else {
            return Err(StoreError::Conflict(Conflict::AlreadyMember));
        };
        conversation.members.insert(position, user);
        let mut batch = sled::Batch::default();
        batch.insert(key, encode(&conversation)?);
        batch.insert(keys::membership(user, id), &[]);
        self.apply(batch)?;
        Ok(Some(conversation))
    }

    /// Returns the conversation (None if absent) and whether anything changed.
    pub(super) fn remove_member_now(
        &self,
        id: ConversationId,
        user: UserId,
    ) -> StoreResult<(Option<Conversation>, bool)> {
        let key = keys::conversation(id);
        let _stripe = self.stripe(id);
        let Some(mut conversation) = self.get::<Conversation>("conversation", &key)? else { return Ok((None, false)) };
        let Ok(position) = conversation.members.binary_search(&user) else { return Ok((Some(conversation), false)) };
        conversation.members.remove(position);
        let mut batch = sled::Batch::default();
        batch.insert(key, encode(&conversation)?);
        batch.remove(keys::membership(user, id));
        self.apply(batch)?;
        Ok((Some(conversation), true))
    }

    pub(super) fn set_details_now(
        &self,
        id: ConversationId,
        name: Option<String>,
        owner: Option<UserId>,
    ) -> StoreResult<Option<Conversation>> {
        let key = keys::conversation(id);
        let _stripe = self.stripe(id);
        let Some(mut conversation) = self.get::<Conversation>("conversation", &key)? else { return Ok(None) };
        conversation.name = name;
        conversation.owner = owner;
        self.insert(&key, encode(&conversation)?)?;
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
