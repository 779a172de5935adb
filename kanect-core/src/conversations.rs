//! Conversations: direct ones opened implicitly, groups with an owner and their members, and
//! who may read and write them (the caller's list is in `conversation_list`).

use crate::cache::Generation;
use crate::chat::{Caller, Chat};
use crate::error::{Conflict, Denied, Entity, Error, Invalid, Result};
use crate::event::Event;
use crate::id::{ConversationId, UserId};
use crate::model::{Conversation, ConversationKind, GroupEvent, ReceiptKind};
use crate::validate;

/// Members a group may have at creation and at most.
pub const GROUP_MAX_MEMBERS: usize = 10_000;

impl Chat {
    /// The direct conversation between the caller and `other`, created on first use.
    /// The same id on every call, from either side, on any node. Opening one tells nobody but
    /// the caller's devices (a `conversation` event): `other` learns of it from its first
    /// message, and until it has one it is in neither member's list
    /// ([`Chat::conversations`]), so merely looking someone up leaves no trace on their side. Refused with a disabled or
    /// deleted account, even one talked to before (that conversation stays readable by its id,
    /// and takes no new messages: see [`Chat::send`]).
    ///
    /// # Errors
    /// `self_conversation`, `user_not_found`, `recipient_unavailable` (a disabled account),
    /// `email_unverified` (see [`Verification::Required`](crate::Verification::Required)),
    /// `unavailable`.
    pub async fn open_direct(&self, caller: &Caller, other: UserId) -> Result<Conversation> {
        if other == caller.user() {
            return Err(Error::Conflict(Conflict::SelfConversation));
        }
        self.check_verified(caller).await?;
        self.available_user(other).await?;
        let id = ConversationId::direct(caller.user(), other);
        if let Some(existing) = self.store().conversation(id).await? {
            return Ok(existing);
        }
        let mut members = vec![caller.user(), other];
        members.sort();
        let conversation = Conversation {
            id,
            kind: ConversationKind::Direct,
            name: None,
            owner: None,
            members,
            created_at: self.now(),
        };
        if self.store().insert_conversation(&conversation).await? {
            self.announce(vec![caller.user()], &conversation).await?;
            return Ok(conversation);
        }
        // Opened concurrently elsewhere: theirs stands.
        self.store().conversation(id).await?.ok_or(Error::NotFound(Entity::Conversation))
    }

    /// Creates a group owned by the caller, with the caller and `members` in it.
    ///
    /// # Errors
    /// `invalid` name; `too_long` for more than [`GROUP_MAX_MEMBERS`]; `email_unverified` (see
    /// [`Verification::Required`](crate::Verification::Required)); `rate_limited` past
    /// `RateLimits::group_creations`, or `RateLimits::member_additions` counting each member but
    /// the caller (without `retry_after` if the group is larger than that limit's burst);
    /// `user_not_found` for an unknown or deleted member; `recipient_unavailable` for a disabled
    /// one; `unavailable`.
    pub async fn create_group(&self, caller: &Caller, name: &str, members: &[UserId]) -> Result<Conversation> {
        let name = validate::name("name", name)?;
        if members.len() >= GROUP_MAX_MEMBERS {
            return Err(Error::invalid("members", Invalid::TooLong));
        }
        let mut all: Vec<UserId> = members.iter().copied().chain([caller.user()]).collect();
        all.sort();
        all.dedup();
        self.check_verified(caller).await?;
        self.limits().group_creation(caller.user()).await?;
        self.limits().member_additions(caller.user(), all.len() - 1).await?;
        for member in all.iter().filter(|member| **member != caller.user()) {
            self.available_user(*member).await?;
        }
        let conversation = Conversation {
            id: ConversationId::new(),
            kind: ConversationKind::Group,
            name: Some(name),
            owner: Some(caller.user()),
            members: all,
            created_at: self.now(),
        };
        self.store().insert_conversation(&conversation).await?;
        self.announce(conversation.members.clone(), &conversation).await?;
        let created = GroupEvent::Created { name: conversation.name.clone().unwrap_or_default() };
        self.post_system_line(&conversation, caller.user(), created).await;
        Ok(conversation)
    }

    /// Adds a member to a group (owner only).
    ///
    /// # Errors
    /// `conversation_not_found` (also for a conversation the caller is not in), `not_owner`,
    /// `direct_conversation`, `rate_limited` (past `RateLimits::member_additions`),
    /// `already_member`, `user_not_found` (also a deleted account), `recipient_unavailable` (a
    /// disabled one), `unavailable`.
    pub async fn add_member(&self, caller: &Caller, id: ConversationId, user: UserId) -> Result<Conversation> {
        let conversation = self.owned_group(caller, id).await?;
        if conversation.members.len() >= GROUP_MAX_MEMBERS {
            return Err(Error::invalid("members", Invalid::TooLong));
        }
        self.limits().member_additions(caller.user(), 1).await?;
        self.available_user(user).await?;
        let added = self.store().add_member(id, user).await;
        // Forgotten whatever came of it: a change that failed may have been made.
        self.forget(vec![id], Vec::new()).await;
        let updated = added?.ok_or(Error::NotFound(Entity::Conversation))?;
        self.announce(updated.members.clone(), &updated).await?;
        self.post_system_line(&updated, caller.user(), GroupEvent::Added { user }).await;
        Ok(updated)
    }

    /// Removes a member from a group (owner only; the owner leaves with [`Chat::leave`]).
    ///
    /// # Errors
    /// As [`Chat::add_member`]; `not_member` if the user is not in the group.
    pub async fn remove_member(&self, caller: &Caller, id: ConversationId, user: UserId) -> Result<Conversation> {
        let conversation = self.owned_group(caller, id).await?;
        if user == caller.user() {
            return self.leave(caller, id).await;
        }
        if !conversation.has_member(user) {
            return Err(Error::Forbidden(Denied::NotMember));
        }
        self.drop_member(conversation, user, caller.user()).await
    }

    /// Leaves a group. If the owner leaves, the longest-standing remaining member (lowest id)
    /// becomes owner.
    ///
    /// # Errors
    /// `conversation_not_found` (also for one the caller is not in), `direct_conversation`,
    /// `unavailable`.
    pub async fn leave(&self, caller: &Caller, id: ConversationId) -> Result<Conversation> {
        let conversation = self.member_conversation(caller, id).await?;
        if conversation.kind == ConversationKind::Direct {
            return Err(Error::Forbidden(Denied::DirectConversation));
        }
        self.drop_member(conversation, caller.user(), caller.user()).await
    }

    /// Renames a group (owner only). A rename tells every member the whole group, as a
    /// creation does, so it counts against the same `RateLimits::group_creations`.
    ///
    /// # Errors
    /// `invalid` name; `rate_limited` past `RateLimits::group_creations` (nothing changed);
    /// `not_owner`, `direct_conversation`, `conversation_not_found`, `unavailable`.
    pub async fn rename_group(&self, caller: &Caller, id: ConversationId, name: &str) -> Result<Conversation> {
        let name = validate::name("name", name)?;
        self.limits().group_creation(caller.user()).await?;
        let conversation = self.owned_group(caller, id).await?;
        let changed = self.store().set_conversation_details(id, Some(name), conversation.owner).await;
        self.forget(vec![id], Vec::new()).await;
        let updated = changed?.ok_or(Error::NotFound(Entity::Conversation))?;
        self.announce(updated.members.clone(), &updated).await?;
        let renamed = GroupEvent::Renamed { name: updated.name.clone().unwrap_or_default() };
        self.post_system_line(&updated, caller.user(), renamed).await;
        Ok(updated)
    }

    /// The conversation, if the caller is a member. To anyone else it does not exist:
    /// `conversation_not_found` whether it does or not, after the same one read. A direct
    /// conversation's id is computable from two user ids, so an answer that differed would tell
    /// an outsider who has talked to whom. A member who left or was removed is an outsider too.
    pub(crate) async fn member_conversation(&self, caller: &Caller, id: ConversationId) -> Result<Conversation> {
        self.member_conversation_read(caller, id, self.cache().generation()).await
    }

    /// As [`Chat::member_conversation`], answered from the node's cache when it says the caller
    /// is a member, for what every message and typing signal asks (see the `cache` module: a
    /// removal is enforced where the message is stored).
    pub(crate) async fn sendable_conversation(&self, caller: &Caller, id: ConversationId) -> Result<Conversation> {
        match self.cache().conversation(id) {
            Some(conversation) if conversation.has_member(caller.user()) => Ok(conversation),
            _ => self.member_conversation_read(caller, id, self.cache().generation()).await,
        }
    }

    /// Reads the conversation from the store and keeps it in the cache if nothing was
    /// forgotten since `read`.
    async fn member_conversation_read(
        &self,
        caller: &Caller,
        id: ConversationId,
        read: Generation,
    ) -> Result<Conversation> {
        let found = self.store().conversation(id).await?;
        if let Some(conversation) = &found {
            self.cache().keep_conversation(read, conversation);
        }
        match found {
            Some(conversation) if conversation.has_member(caller.user()) => Ok(conversation),
            _ => Err(Error::NotFound(Entity::Conversation)),
        }
    }

    /// An account that may be added to a group or a new direct conversation: one that exists
    /// and is not disabled.
    async fn available_user(&self, user: UserId) -> Result<()> {
        match self.store().user(user).await? {
            None => Err(Error::NotFound(Entity::User)),
            Some(user) if user.disabled => Err(Error::Forbidden(Denied::RecipientUnavailable)),
            Some(_) => Ok(()),
        }
    }

    /// Refuses new messages into a direct conversation whose other member is disabled or
    /// deleted: nobody would read them (a disabled account has no sessions, a deleted one is
    /// gone), and a blocked account's history must not keep growing. Groups take messages
    /// whoever is in them.
    pub(crate) async fn check_recipient(&self, caller: &Caller, conversation: &Conversation) -> Result<()> {
        if conversation.kind != ConversationKind::Direct {
            return Ok(());
        }
        let Some(peer) = conversation.members.iter().copied().find(|member| *member != caller.user()) else {
            return Ok(());
        };
        if self.cache().available(peer) {
            return Ok(());
        }
        let read = self.cache().generation();
        match self.store().user(peer).await? {
            Some(peer) if !peer.disabled => {
                self.cache().keep_available(read, peer.id);
                Ok(())
            }
            _ => Err(Error::Forbidden(Denied::RecipientUnavailable)),
        }
    }

    async fn owned_group(&self, caller: &Caller, id: ConversationId) -> Result<Conversation> {
        let conversation = self.member_conversation(caller, id).await?;
        if conversation.kind == ConversationKind::Direct {
            return Err(Error::Forbidden(Denied::DirectConversation));
        }
        if conversation.owner != Some(caller.user()) {
            return Err(Error::Forbidden(Denied::NotOwner));
        }
        Ok(conversation)
    }

    /// Removes `user` (by `actor`: themselves when they leave), hands ownership on if needed,
    /// tells old and new members, and records it in a system line.
    pub(crate) async fn drop_member(
        &self,
        conversation: Conversation,
        user: UserId,
        actor: UserId,
    ) -> Result<Conversation> {
        let id = conversation.id;
        let removed = self.store().remove_member(id, user).await;
        // Forgotten whatever came of it: a removal that failed may have been made.
        self.forget(vec![id], Vec::new()).await;
        let mut updated = removed?.ok_or(Error::NotFound(Entity::Conversation))?;
        if updated.owner == Some(user) {
            let owner = updated.members.first().copied();
            let handed_on = self.store().set_conversation_details(id, updated.name.clone(), owner).await;
            self.forget(vec![id], Vec::new()).await;
            updated = handed_on?.ok_or(Error::NotFound(Entity::Conversation))?;
        }
        let mut recipients = updated.members.clone();
        recipients.push(user);
        self.announce(recipients, &updated).await?;
        if !updated.members.is_empty() {
            let event = if actor == user { GroupEvent::Left } else { GroupEvent::Removed { user } };
            self.post_system_line(&updated, actor, event).await;
        }
        Ok(updated)
    }

    /// Tells `recipients` what a conversation looks like now, with its newest seq.
    async fn announce(&self, recipients: Vec<UserId>, conversation: &Conversation) -> Result<()> {
        let last_seq = self.store().last_seq(conversation.id).await?;
        self.route(recipients, Event::Conversation { conversation: conversation.clone(), last_seq }).await;
        Ok(())
    }

    /// Everyone who shares a conversation with `user` (for presence), without `user`.
    pub(crate) async fn contacts_of(&self, user: UserId) -> Result<Vec<UserId>> {
        let mut contacts = Vec::new();
        for id in self.store().conversations_of(user).await? {
            if let Some(conversation) = self.store().conversation(id).await? {
                contacts.extend(conversation.members.into_iter().filter(|m| *m != user));
            }
        }
        contacts.sort();
        contacts.dedup();
        Ok(contacts)
    }

    /// A member's receipt kind in words, for errors.
    pub(crate) fn receipt_field(kind: ReceiptKind) -> &'static str {
        match kind {
            ReceiptKind::Delivered => "delivered",
            ReceiptKind::Read => "read",
        }
    }
}
