//! Exporting my data: what a user may take with them — their record, their conversations with
//! their members, and the messages they sent — read in pages, so that an adapter can stream it
//! with flat memory however much there is (kanect-http writes it as one JSON document).
//!
//! Only the conversations the user is in now are included (one they left is no longer theirs
//! to read), and only their own messages that are not deleted (a deleted one has no body left).
//! Others' messages are theirs, not the exporting user's, so they are left out; system lines
//! (a group's record of its own changes) too. The engine does not encode JSON: these calls give
//! the records, the adapter writes them.

use crate::chat::{Caller, Chat};
use crate::error::Result;
use crate::id::{ConversationId, Seq};
use crate::model::{Conversation, Message};
use crate::store::HistoryPage;
use crate::validate;

/// A page of the caller's own messages in one conversation (see [`Chat::my_messages`]).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MyMessages {
    /// The caller's messages among the next [`validate::PAGE_MAX`] of the conversation, in seq
    /// order (possibly none).
    pub messages: Vec<Message>,
    /// The seq to read on after; None once the conversation's end was reached.
    pub next: Option<Seq>,
}

impl Chat {
    /// The ids of the conversations the caller is in, in no particular order: for an export.
    ///
    /// # Errors
    /// `unavailable`.
    pub async fn my_conversation_ids(&self, caller: &Caller) -> Result<Vec<ConversationId>> {
        Ok(self.store().conversations_of(caller.user()).await?)
    }

    /// One of the caller's conversations, with its members.
    ///
    /// # Errors
    /// `conversation_not_found` (also one the caller is not in); `unavailable`.
    pub async fn my_conversation(&self, caller: &Caller, id: ConversationId) -> Result<Conversation> {
        self.member_conversation(caller, id).await
    }

    /// The messages the caller sent in `conversation` (not deleted, no system lines), among
    /// the [`validate::PAGE_MAX`] after seq `after` (0: from the start). Read on from `next`.
    ///
    /// # Errors
    /// `conversation_not_found` (also one the caller is not in); `unavailable`.
    pub async fn my_messages(&self, caller: &Caller, conversation: ConversationId, after: Seq) -> Result<MyMessages> {
        let page = self.history(caller, conversation, HistoryPage::After(after), validate::PAGE_MAX).await?;
        let next = if page.len() == validate::PAGE_MAX { page.last().map(|m| m.seq) } else { None };
        let messages = page
            .into_iter()
            .filter(|m| m.sender == caller.user() && !m.deleted && m.event.is_none())
            .map(|m| Message { reply: None, ..m })
            .collect();
        Ok(MyMessages { messages, next })
    }
}
