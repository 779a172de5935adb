//! System lines: a group's history records its own changes (created, renamed, members added,
//! removed, left) among its messages.
//!
//! **How they fit seqs.** A system line is a message ([`Message::event`] set, body empty,
//! sender the member who made the change) appended after the change with the conversation's
//! next seq, like any message: history stays one gap-free sequence, pages and `resume` carry
//! lines in their place, and every guarantee of messages holds for them. What sets them apart:
//! they are the engine's own (no client can send one; no one edits, reacts to or replies to
//! one), they are never unread (unread counts and mentions skip them), and a member who was
//! just added receives the line that adds them, as it comes after the `conversation` event's
//! `last_seq`. A removed member does not get the line that removes them (they learn it from
//! the `conversation` event). Direct conversations have none.
//!
//! **Atomicity.** The change and its line are two writes. The change is made first; if the
//! store fails before the line is stored, the change stands without its line (logged): a
//! missing line is a gap in the story, never a change that did not happen, and the change is
//! not reported as failed (a retry would find it done). Lines are deleted by retention as
//! messages are.

use crate::chat::Chat;
use crate::event::Event;
use crate::id::{MessageId, UserId};
use crate::model::{Appended, Conversation, GroupEvent, NewMessage};

impl Chat {
    /// Appends the line recording `event`, made by `actor`, to `conversation` (as it is after
    /// the change) and routes it to its members. Never fails: see the module docs.
    pub(crate) async fn post_system_line(&self, conversation: &Conversation, actor: UserId, event: GroupEvent) {
        let ticket = self.ticket(conversation.id);
        let line = NewMessage {
            conversation: conversation.id,
            sender: actor,
            body: String::new(),
            // Unique: a line is never resent, and no client id of a client starts with `~`
            // followed by a fresh id that another line could repeat.
            client_id: format!("~{}", MessageId::new()),
            sent_at: self.now(),
            attachments: Vec::new(),
            reply_to: None,
            mentions: Vec::new(),
            event: Some(event),
        };
        match self.store().append_message(line).await {
            Ok(Appended::Created(message)) => {
                // Nothing to find in it, but the index counts every seq of a conversation.
                self.index_message(&message);
                let routed = Event::Message { message: message.clone() };
                self.route_in_order(ticket, Some((message.seq, conversation.members.clone(), routed))).await;
            }
            Ok(Appended::Duplicate(_)) => self.route_in_order(ticket, None).await,
            Err(error) => {
                self.route_in_order(ticket, None).await;
                tracing::warn!(%error, conversation = %conversation.id, "a group change without its system line");
            }
        }
    }
}
