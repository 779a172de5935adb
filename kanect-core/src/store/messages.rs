//! [`MessageStore`]: each conversation's messages, in seq order, and its members' receipts.

use super::StoreResult;
use crate::id::{ConversationId, MessageId, Seq, UserId};
use crate::model::{Appended, Message, NewMessage, Receipt, ReceiptKind};
use crate::reactions::{Reacted, ReactionChange};
use async_trait::async_trait;

/// Messages and receipts: the hot path of the engine.
///
/// - [`MessageStore::append_message`] assigns the conversation's next seq, gap-free, and writes
///   the message with its seq as one atomic unit; a known (conversation, sender, client id)
///   returns the original message and writes nothing. A new message's id is a function of
///   that key ([`NewMessage::id`]), so a backend may look for the original by id. Retried
///   after a failure, an append stores its message once, never twice, also across restarts
///   (see [the contract](crate::backend#failures-the-outcome-is-unknown)).
/// - [`MessageStore::append_member_message`] is the engine's send: the same append, which a
///   store shared by several nodes also refuses when the sender is no longer a member *when the
///   append commits*. A node checks membership before it appends, from what it read (or, later,
///   cached); on one node nothing can remove the member between that check and the append
///   that the engine's own order of operations does not already see, but another node can. A
///   store that several nodes share (PostgreSQL) therefore checks again inside the append's
///   transaction. A one-process store (memory, sled, fjall) may rely on the engine's check and
///   keep the default, which does not check.
/// - Receipts only move forward ([`move_receipt_forward`]).
#[async_trait]
pub trait MessageStore: Send + Sync {
    /// Appends a message with the conversation's next seq, or returns the original for a
    /// known (conversation, sender, client id). Atomic; durable when it returns.
    async fn append_message(&self, message: NewMessage) -> StoreResult<Appended>;

    /// [`append_message`](MessageStore::append_message) for a user's send: None, storing
    /// nothing, when the message is a user message (`event: None`) and its sender is not a
    /// member of the conversation as the append commits. System lines (`event: Some`) are
    /// exempt: a "left" line is appended after the member is gone. A known (conversation,
    /// sender, client id) still returns its original, member or not: the send it repeats was
    /// accepted.
    ///
    /// `append_message` keeps no such check: an import replays the messages of members who
    /// have left since, and a conversation's members are not the store's to enforce there.
    ///
    /// The default appends without checking, which is right for a store only one process uses
    /// (the engine checked membership just before); a store shared by several nodes overrides
    /// it (see the trait's docs).
    async fn append_member_message(&self, message: NewMessage) -> StoreResult<Option<Appended>> {
        self.append_message(message).await.map(Some)
    }

    /// A message by id.
    async fn message(&self, id: MessageId) -> StoreResult<Option<Message>>;

    /// Replaces a message's body, `edited_at`, `deleted`, `attachments` and `mentions` (id,
    /// conversation, seq, sender, client id, sent-at and the reply's seq stay; reactions and a
    /// system line's event stay too, as the store has them, but go with a deletion: see
    /// [`replace_fields`]). Returns false, writing nothing, if it is absent
    /// or deleted: a deletion is final, so an edit (or a second deletion) that read the message
    /// before a deletion landed cannot bring back its text or its files. Atomic: the check and
    /// the write are one step.
    async fn replace_message(&self, message: &Message) -> StoreResult<bool>;

    /// Applies one reaction change to the message `id` at (`conversation`, `seq`), as one
    /// atomic read-modify-write ([`ReactionChange::apply`], the rule every backend follows,
    /// applied through [`Reacted::after`]): two changes at once both take effect. Writes
    /// nothing unless the change changed something.
    async fn react(
        &self,
        conversation: ConversationId,
        seq: Seq,
        id: MessageId,
        change: &ReactionChange,
    ) -> StoreResult<Reacted>;

    /// A page of a conversation's history, oldest first, at most `limit` messages.
    async fn history(&self, conversation: ConversationId, page: HistoryPage, limit: usize)
        -> StoreResult<Vec<Message>>;

    /// The seq of the conversation's newest message (`Seq::ZERO` if none).
    async fn last_seq(&self, conversation: ConversationId) -> StoreResult<Seq>;

    /// Moves a member's watermark forward to `seq` (read also moves delivered). Returns the
    /// new receipt if anything moved, None if it was already there or beyond.
    async fn advance_receipt(
        &self,
        conversation: ConversationId,
        user: UserId,
        kind: ReceiptKind,
        seq: Seq,
    ) -> StoreResult<Option<Receipt>>;

    /// Every member's receipt in a conversation (members who never moved one are absent).
    async fn receipts(&self, conversation: ConversationId) -> StoreResult<Vec<Receipt>>;
}

/// Which part of a conversation's history to read. Pages are always returned oldest first.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum HistoryPage {
    /// The newest `limit` messages.
    Latest,
    /// The `limit` messages just before this seq (scrolling up).
    Before(Seq),
    /// The `limit` messages just after this seq (catching up from a cursor).
    After(Seq),
}

/// Moves a receipt forward: the rule every backend follows. Returns whether it moved.
pub fn move_receipt_forward(receipt: &mut Receipt, kind: ReceiptKind, seq: Seq) -> bool {
    let before = *receipt;
    if kind == ReceiptKind::Read {
        receipt.read = receipt.read.max(seq);
    }
    receipt.delivered = receipt.delivered.max(seq).max(receipt.read);
    *receipt != before
}

/// What [`MessageStore::replace_message`] changes in the `stored` message, from `new`: the
/// rule every backend follows. A deletion also drops the reactions and a system line's event
/// (as it drops the body and the files: a group's old name is text too); otherwise the stored
/// reactions stay, whatever `new` (read earlier) has.
pub fn replace_fields(stored: &mut Message, new: &Message) {
    stored.body.clone_from(&new.body);
    stored.edited_at = new.edited_at;
    stored.deleted = new.deleted;
    stored.attachments.clone_from(&new.attachments);
    stored.mentions.clone_from(&new.mentions);
    if new.deleted {
        stored.reactions.clear();
        stored.event = None;
    }
}
