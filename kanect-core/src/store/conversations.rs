//! [`ConversationStore`]: conversations and their memberships.

use super::StoreResult;
use crate::id::{ConversationId, UserId};
use crate::model::Conversation;
use async_trait::async_trait;

/// Conversations and who is a member of each, indexed both ways (a conversation's members, a
/// user's conversations).
///
/// Membership changes are atomic read-modify-writes: two changes of one conversation's
/// members at once (on one node or several) both take effect, and each returns the list as it
/// left it.
#[async_trait]
pub trait ConversationStore: Send + Sync {
    /// Adds a conversation and its memberships. Returns false (and changes nothing) if one
    /// with this id exists: that is how two nodes opening the same direct conversation agree.
    async fn insert_conversation(&self, conversation: &Conversation) -> StoreResult<bool>;

    /// A conversation by id.
    async fn conversation(&self, id: ConversationId) -> StoreResult<Option<Conversation>>;

    /// Adds a member (atomically). Returns the updated conversation, or None if absent.
    ///
    /// # Errors
    /// [`StoreError::Conflict`](crate::StoreError::Conflict) with `AlreadyMember` if the user is
    /// a member.
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
}
