//! [`MessageStore`] for [`MemoryStore`]: a vector per conversation (index 0 is seq 1), an
//! index by id that also answers resends, and receipts.

use super::MemoryStore;
use crate::error::StoreError;
use crate::id::{ConversationId, MessageId, Seq, UserId};
use crate::model::{Appended, Message, NewMessage, Receipt, ReceiptKind};
use crate::reactions::{Reacted, ReactionChange};
use crate::store::{move_receipt_forward, replace_fields, HistoryPage, MessageStore, StoreResult};
use async_trait::async_trait;

#[async_trait]
impl MessageStore for MemoryStore {
    async fn append_message(&self, message: NewMessage) -> StoreResult<Appended> {
        let mut state = self.lock();
        if let Some(&(conversation, seq)) = state.message_index.get(&message.id()) {
            return match state.message_at(conversation, seq) {
                Some(original) if message.is_resend_of(original) => Ok(Appended::Duplicate(original.clone())),
                Some(_) => Err(StoreError::Corrupt(format!("message id {} names another message", message.id()))),
                None => Err(StoreError::Corrupt(format!("message index without message at {seq}"))),
            };
        }
        let list = state.messages.entry(message.conversation).or_default();
        let seq = Seq(list.len() as u64 + 1);
        let stored = message.with_seq(seq);
        list.push(stored.clone());
        state.message_index.insert(stored.id, (stored.conversation, seq));
        Ok(Appended::Created(stored))
    }

    async fn message(&self, id: MessageId) -> StoreResult<Option<Message>> {
        let state = self.lock();
        Ok(state.message_index.get(&id).and_then(|&(c, seq)| state.message_at(c, seq)).cloned())
    }

    async fn replace_message(&self, message: &Message) -> StoreResult<bool> {
        let mut state = self.lock();
        let index = message.seq.0 as usize;
        let Some(stored) = state
            .messages
            .get_mut(&message.conversation)
            .and_then(|list| index.checked_sub(1).and_then(|i| list.get_mut(i)))
            .filter(|stored| stored.id == message.id && !stored.deleted)
        else {
            return Ok(false);
        };
        replace_fields(stored, message);
        Ok(true)
    }

    async fn react(
        &self,
        conversation: ConversationId,
        seq: Seq,
        id: MessageId,
        change: &ReactionChange,
    ) -> StoreResult<Reacted> {
        let mut state = self.lock();
        let stored = state
            .messages
            .get_mut(&conversation)
            .and_then(|list| (seq.0 as usize).checked_sub(1).and_then(|i| list.get_mut(i)))
            .filter(|stored| stored.id == id);
        let (reacted, write) = Reacted::after(stored.as_deref().cloned(), change);
        if let (true, Reacted::Changed(changed), Some(stored)) = (write, &reacted, stored) {
            stored.reactions.clone_from(&changed.reactions);
        }
        Ok(reacted)
    }

    async fn history(
        &self,
        conversation: ConversationId,
        page: HistoryPage,
        limit: usize,
    ) -> StoreResult<Vec<Message>> {
        let state = self.lock();
        let list = state.messages.get(&conversation).map(Vec::as_slice).unwrap_or_default();
        let len = list.len();
        let (start, end) = match page {
            HistoryPage::Latest => (len.saturating_sub(limit), len),
            HistoryPage::Before(seq) => {
                let end = (seq.0.saturating_sub(1) as usize).min(len);
                (end.saturating_sub(limit), end)
            }
            HistoryPage::After(seq) => {
                let start = (seq.0 as usize).min(len);
                (start, start.saturating_add(limit).min(len))
            }
        };
        Ok(list[start..end].to_vec())
    }

    async fn last_seq(&self, conversation: ConversationId) -> StoreResult<Seq> {
        Ok(Seq(self.lock().messages.get(&conversation).map_or(0, |list| list.len() as u64)))
    }

    async fn advance_receipt(
        &self,
        conversation: ConversationId,
        user: UserId,
        kind: ReceiptKind,
        seq: Seq,
    ) -> StoreResult<Option<Receipt>> {
        let mut state = self.lock();
        let receipt = state.receipts.entry((conversation, user)).or_insert(Receipt {
            conversation,
            user,
            delivered: Seq::ZERO,
            read: Seq::ZERO,
        });
        Ok(move_receipt_forward(receipt, kind, seq).then_some(*receipt))
    }

    async fn receipts(&self, conversation: ConversationId) -> StoreResult<Vec<Receipt>> {
        let state = self.lock();
        let mut receipts: Vec<Receipt> =
            state.receipts.values().filter(|r| r.conversation == conversation).copied().collect();
        receipts.sort_by_key(|r| r.user);
        Ok(receipts)
    }
}
