//! [`ConversationStore`] for [`MemoryStore`]: conversations, and each user's list of them.

use super::MemoryStore;
use crate::error::{Conflict, StoreError};
use crate::id::{ConversationId, UserId};
use crate::model::Conversation;
use crate::store::{ConversationStore, StoreResult};
use async_trait::async_trait;

#[async_trait]
impl ConversationStore for MemoryStore {
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
}
