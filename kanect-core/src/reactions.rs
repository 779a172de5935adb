//! Reactions: any member adds or takes back an emoji on a message; every member's devices hear
//! of it.
//!
//! A message's reactions live in its record ([`Message::reactions`]), so a history page
//! carries them with no second read. Two members reacting at once must both count, so a
//! reaction is not an edit (read, change, [`replace_message`](crate::backend::MessageStore::replace_message)):
//! the store applies [`ReactionChange::apply`] to the message it holds, as one atomic
//! read-modify-write ([`MessageStore::react`](crate::backend::MessageStore::react)), the same
//! rule in every backend. Adding a reaction one has already made, or taking back one not made,
//! changes nothing and tells nobody: clients may retry freely.
//!
//! The limits: one emoji per reaction (any the Unicode emoji list knows, skin tones and all;
//! stored in its fully-qualified form, so `❤` and `❤️` are one reaction), and at most
//! [`REACTIONS_MAX`] different emoji on a message. Reactions are not replayed by `resume` (as
//! edits are not): a device re-reads the history it shows after reconnecting.

use crate::chat::{Caller, Chat};
use crate::error::{Conflict, Denied, Entity, Error, Invalid, Result};
use crate::event::Event;
use crate::id::{MessageId, UserId};
use crate::model::{Message, Reaction};
use crate::validate;

/// The most different emoji one message may carry; a reaction with one more is refused with
/// `too_many_reactions` (taking one back, or joining an existing one, always works).
pub const REACTIONS_MAX: usize = 20;

/// One user adding or taking back one emoji: what the engine asks a store to apply.
#[derive(Clone, PartialEq, Eq, Debug)]
pub struct ReactionChange {
    /// Who reacts.
    pub user: UserId,
    /// The emoji, validated and in its fully-qualified form ([`validate::emoji`]).
    pub emoji: String,
    /// True to add it, false to take it back.
    pub add: bool,
}

/// Why a store did not apply a [`ReactionChange`].
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct TooManyReactions;

impl ReactionChange {
    /// Applies the change to a message's reactions: the rule every backend follows. Returns
    /// whether anything changed.
    ///
    /// # Errors
    /// [`TooManyReactions`] for a new emoji on a message that has [`REACTIONS_MAX`] already.
    pub fn apply(&self, reactions: &mut Vec<Reaction>) -> std::result::Result<bool, TooManyReactions> {
        let existing = reactions.iter().position(|reaction| reaction.emoji == self.emoji);
        match (existing, self.add) {
            (Some(index), true) => {
                let users = &mut reactions[index].users;
                if users.contains(&self.user) {
                    return Ok(false);
                }
                users.push(self.user);
                Ok(true)
            }
            (None, true) => {
                if reactions.len() >= REACTIONS_MAX {
                    return Err(TooManyReactions);
                }
                reactions.push(Reaction { emoji: self.emoji.clone(), users: vec![self.user] });
                Ok(true)
            }
            (Some(index), false) => {
                let users = &mut reactions[index].users;
                let Some(position) = users.iter().position(|user| *user == self.user) else { return Ok(false) };
                users.remove(position);
                if users.is_empty() {
                    reactions.remove(index);
                }
                Ok(true)
            }
            (None, false) => Ok(false),
        }
    }
}

/// What [`MessageStore::react`](crate::backend::MessageStore::react) did.
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum Reacted {
    /// The change was applied: the message as it is now.
    Changed(Message),
    /// Nothing to do (already reacted so, or never did): the message as it is.
    Unchanged(Message),
    /// Refused: a new emoji past [`REACTIONS_MAX`]. Nothing was written.
    TooMany,
    /// No such message, or it is deleted. Nothing was written.
    Gone,
}

impl Reacted {
    /// What a backend returns for `message` (None: absent or deleted) after applying `change`
    /// to it, and whether it must write the changed message.
    pub fn after(message: Option<Message>, change: &ReactionChange) -> (Reacted, bool) {
        let Some(mut message) = message.filter(|message| !message.deleted) else { return (Reacted::Gone, false) };
        match change.apply(&mut message.reactions) {
            Ok(true) => (Reacted::Changed(message), true),
            Ok(false) => (Reacted::Unchanged(message), false),
            Err(TooManyReactions) => (Reacted::TooMany, false),
        }
    }
}

impl Chat {
    /// Adds (`add`) or takes back the caller's reaction `emoji` to a message of a conversation
    /// they are in, and tells every member's devices (a `reaction` event) if anything changed.
    /// Returns the message as it is now (its reply preview included).
    ///
    /// # Errors
    /// `not_emoji` (field `emoji`) for anything but one emoji; `rate_limited` past
    /// `RateLimits::sends` (a reaction is a write, counted as a send); `message_not_found`
    /// (also in a conversation the caller is not in); `message_deleted`;
    /// `too_many_reactions` for a new emoji on a message with [`REACTIONS_MAX`];
    /// `system_message` for a system line; `unavailable`.
    pub async fn react(&self, caller: &Caller, id: MessageId, emoji: &str, add: bool) -> Result<Message> {
        let emoji = validate::emoji(emoji)?;
        self.limits().send(caller.user()).await?;
        let message = self.store().message(id).await?.ok_or(Error::NotFound(Entity::Message))?;
        let conversation = match self.member_conversation(caller, message.conversation).await {
            Err(Error::NotFound(Entity::Conversation)) => return Err(Error::NotFound(Entity::Message)),
            found => found?,
        };
        if message.deleted {
            return Err(Error::invalid("id", Invalid::Deleted));
        }
        if message.event.is_some() {
            return Err(Error::Forbidden(Denied::SystemMessage));
        }
        let change = ReactionChange { user: caller.user(), emoji, add };
        let reacted = self.store().react(message.conversation, message.seq, id, &change).await?;
        let mut message = match reacted {
            Reacted::Changed(message) => {
                let event = Event::Reaction {
                    conversation: message.conversation,
                    id: message.id,
                    seq: message.seq,
                    user: change.user,
                    emoji: change.emoji,
                    added: add,
                    reactions: message.reactions.clone(),
                };
                self.route(conversation.members, event).await;
                message
            }
            Reacted::Unchanged(message) => message,
            Reacted::TooMany => return Err(Error::Conflict(Conflict::TooManyReactions)),
            Reacted::Gone => return Err(Error::invalid("id", Invalid::Deleted)),
        };
        self.fill_reply_previews(std::slice::from_mut(&mut message)).await?;
        Ok(message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(user: UserId, emoji: &str, add: bool) -> ReactionChange {
        ReactionChange { user, emoji: emoji.to_string(), add }
    }

    #[test]
    fn adding_twice_counts_once_and_the_last_taker_removes_the_emoji() {
        let (alice, bob) = (UserId::new(), UserId::new());
        let mut reactions = Vec::new();
        assert_eq!(change(alice, "👍", true).apply(&mut reactions), Ok(true));
        assert_eq!(change(alice, "👍", true).apply(&mut reactions), Ok(false), "already there");
        assert_eq!(change(bob, "👍", true).apply(&mut reactions), Ok(true));
        assert_eq!(change(bob, "🎉", true).apply(&mut reactions), Ok(true));
        assert_eq!(reactions.len(), 2);
        assert_eq!(reactions[0].users, vec![alice, bob], "in the order they reacted");
        assert_eq!(change(alice, "👍", false).apply(&mut reactions), Ok(true));
        assert_eq!(change(alice, "👍", false).apply(&mut reactions), Ok(false), "not there any more");
        assert_eq!(change(bob, "👍", false).apply(&mut reactions), Ok(true));
        assert_eq!(reactions, vec![Reaction { emoji: "🎉".into(), users: vec![bob] }]);
        assert_eq!(change(alice, "😮", false).apply(&mut reactions), Ok(false), "never used");
    }

    #[test]
    fn a_new_emoji_past_the_limit_is_refused_but_joining_one_is_not() {
        let (alice, bob) = (UserId::new(), UserId::new());
        let emoji: Vec<&str> = emojis::iter().map(|e| e.as_str()).take(REACTIONS_MAX + 1).collect();
        let mut reactions = Vec::new();
        for e in &emoji[..REACTIONS_MAX] {
            assert_eq!(change(alice, e, true).apply(&mut reactions), Ok(true));
        }
        let before = reactions.clone();
        assert_eq!(change(alice, emoji[REACTIONS_MAX], true).apply(&mut reactions), Err(TooManyReactions));
        assert_eq!(reactions, before, "nothing changed");
        assert_eq!(change(bob, emoji[0], true).apply(&mut reactions), Ok(true), "joining an existing one");
        assert_eq!(change(alice, emoji[1], false).apply(&mut reactions), Ok(true));
        assert_eq!(change(alice, emoji[REACTIONS_MAX], true).apply(&mut reactions), Ok(true), "room again");
    }
}
