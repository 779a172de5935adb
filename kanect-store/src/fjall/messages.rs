//! [`MessageStore`] for [`FjallStore`]: messages, history and receipts.
//!
//! An append runs under its conversation's stripe mutex: it looks its id up in the id index
//! (the id is a function of the client id, so this finds a resend) unless the store's
//! [`IdFilter`](crate::kv::id_filter::IdFilter) rules the id out (nearly every new message:
//! the lookup was the largest single item of the server's CPU), takes the next seq, and
//! commits the message and its index entry as one batch. So seqs are gap-free under concurrent
//! appends, and no crash leaves an index entry without its message or the other way round. It
//! then waits for the group sync; a resend waits for one too, since its original may have been
//! committed a moment ago by another writer and not be durable yet.
//!
//! There is no seq counter record: a conversation's last seq is the key of its last message,
//! read once (a reverse range scan) and then kept in the stripe's map for the life of the open
//! database. This process is the directory's only writer (fjall locks it), and the map is
//! updated only after a successful commit, so it cannot go stale.

use super::format::{decode, encode};
use super::{FjallStore, Inner};
use crate::kv::keys;
use crate::kv::message_codec::{decode_message, encode_message};
use kanect_core::backend::{
    move_receipt_forward, replace_fields, Appended, MessageStore, NewMessage, Reacted, ReactionChange, StoreResult,
};
use kanect_core::{ConversationId, HistoryPage, Message, MessageId, Receipt, ReceiptKind, Seq, StoreError, UserId};

impl Inner {
    fn append_now(&self, new: NewMessage) -> StoreResult<Appended> {
        let conversation = new.conversation;
        let id = new.id();
        let id_bytes = id.to_bytes();
        let mut last_seqs = self.stripe(conversation);
        if self.ids.may_contain(&id_bytes) {
            if let Some(original) = self.message_now(id)? {
                return match new.is_resend_of(&original) {
                    true => Ok(Appended::Duplicate(original)),
                    false => Err(StoreError::Corrupt(format!("message id {id} names another message"))),
                };
            }
        }
        let last = match last_seqs.get(&conversation) {
            Some(last) => *last,
            None => self.last_seq_now(conversation)?,
        };
        let seq = Seq(last.0.checked_add(1).ok_or_else(|| StoreError::Corrupt("seq counter overflow".into()))?);
        let message = new.with_seq(seq);
        let mut batch = self.batch();
        batch.insert(&self.data, keys::message(conversation, seq), encode_message(&message)?);
        batch.insert(&self.data, keys::message_index(id), keys::location(conversation, seq));
        // Into the filter before the commit makes the id visible to reads, so that the filter
        // never answers "absent" for an id in the index (see `id_filter`): the append that
        // next looks for it, whenever and on whatever thread it runs, finds it in the filter
        // and reads. (Every append runs on the writer thread, so none could come between the
        // two steps today; this order does not depend on that.) If the commit fails, the id
        // stays in the filter: a read more for its resend, never a wrong answer.
        self.ids.insert(&id_bytes);
        self.commit(batch)?;
        last_seqs.insert(conversation, seq);
        Ok(Appended::Created(message))
    }

    fn message_now(&self, id: MessageId) -> StoreResult<Option<Message>> {
        let Some(location) = self.get_raw(&keys::message_index(id))? else { return Ok(None) };
        let (conversation, seq) = keys::parse_location(&location)?;
        match self.message_at(&keys::message(conversation, seq))? {
            Some(message) => Ok(Some(message)),
            None => Err(StoreError::Corrupt(format!("message index points at missing {conversation}/{seq}"))),
        }
    }

    fn replace_message_now(&self, message: &Message) -> StoreResult<bool> {
        let key = keys::message(message.conversation, message.seq);
        let _stripe = self.stripe(message.conversation);
        let Some(mut stored) = self.message_at(&key)? else { return Ok(false) };
        if stored.id != message.id || stored.deleted {
            return Ok(false);
        }
        replace_fields(&mut stored, message);
        let mut batch = self.batch();
        batch.insert(&self.data, key, encode_message(&stored)?);
        self.commit(batch)?;
        // The old body (a deleted or edited text, and the names of the attachments it dropped)
        // is still in the journal and the tables.
        self.purge.mark_garbage();
        Ok(true)
    }

    /// [`MessageStore::react`] under the conversation's stripe, so that the read and the
    /// write are one step.
    fn react_now(
        &self,
        conversation: ConversationId,
        seq: Seq,
        id: MessageId,
        change: &ReactionChange,
    ) -> StoreResult<Reacted> {
        let key = keys::message(conversation, seq);
        let _stripe = self.stripe(conversation);
        let stored = self.message_at(&key)?.filter(|stored| stored.id == id);
        let (reacted, write) = Reacted::after(stored, change);
        if let (true, Reacted::Changed(changed)) = (write, &reacted) {
            let mut batch = self.batch();
            batch.insert(&self.data, key, encode_message(changed)?);
            self.commit(batch)?;
            // The reactions before (who reacted and took it back) are in the journal still.
            self.purge.mark_garbage();
        }
        Ok(reacted)
    }

    fn message_at(&self, key: &[u8]) -> StoreResult<Option<Message>> {
        self.get_raw(key)?.map(|value| decode_message(key, &value)).transpose()
    }

    fn history_now(&self, conversation: ConversationId, page: HistoryPage, limit: usize) -> StoreResult<Vec<Message>> {
        let prefix = keys::messages(conversation);
        let decode_entry = |entry: StoreResult<(fjall::Slice, fjall::Slice)>| {
            let (key, value) = entry?;
            decode_message(&key, &value)
        };
        let newest_first: StoreResult<Vec<Message>> = match page {
            HistoryPage::After(seq) => {
                return self
                    .entries_after(&prefix, keys::message(conversation, seq))
                    .take(limit)
                    .map(decode_entry)
                    .collect();
            }
            HistoryPage::Before(seq) => self
                .entries_before(&prefix, keys::message(conversation, seq))
                .rev()
                .take(limit)
                .map(decode_entry)
                .collect(),
            HistoryPage::Latest => self.entries_with(&prefix).rev().take(limit).map(decode_entry).collect(),
        };
        let mut page = newest_first?;
        page.reverse();
        Ok(page)
    }

    /// The seq of the conversation's last committed message (perhaps not yet durable).
    pub(super) fn last_seq_now(&self, conversation: ConversationId) -> StoreResult<Seq> {
        match self.keys_with(&keys::messages(conversation)).next_back().transpose()? {
            Some(key) => Ok(keys::parse_message_key(&key)?.1),
            None => Ok(Seq::ZERO),
        }
    }

    /// Returns the receipt if it moved, and whether anything was written.
    fn advance_receipt_now(
        &self,
        conversation: ConversationId,
        user: UserId,
        kind: ReceiptKind,
        seq: Seq,
    ) -> StoreResult<(Option<Receipt>, bool)> {
        let key = keys::receipt(conversation, user);
        let _stripe = self.stripe(conversation);
        let stored: Option<Receipt> = self.get("receipt", &key)?;
        let existed = stored.is_some();
        let mut receipt = stored.unwrap_or(Receipt { conversation, user, delivered: Seq::ZERO, read: Seq::ZERO });
        let moved = move_receipt_forward(&mut receipt, kind, seq);
        // As in the reference store, a member's first call records a receipt even at seq 0.
        if moved || !existed {
            let mut batch = self.batch();
            batch.insert(&self.data, key, encode(&receipt)?);
            self.commit(batch)?;
        }
        Ok((moved.then_some(receipt), moved || !existed))
    }

    fn receipts_now(&self, conversation: ConversationId) -> StoreResult<Vec<Receipt>> {
        self.entries_with(&keys::receipts(conversation))
            .map(|entry| {
                let (key, value) = entry?;
                decode("receipt", &key, &value)
            })
            .collect()
    }
}

#[async_trait::async_trait]
impl MessageStore for FjallStore {
    async fn append_message(&self, message: NewMessage) -> StoreResult<Appended> {
        // A duplicate is an acknowledgement too: its original must be durable.
        self.write(move |inner| inner.append_now(message).map(|appended| (appended, true))).await
    }

    async fn message(&self, id: MessageId) -> StoreResult<Option<Message>> {
        self.with(|inner| inner.message_now(id))
    }

    async fn replace_message(&self, message: &Message) -> StoreResult<bool> {
        let message = message.clone();
        self.write(move |inner| inner.replace_message_now(&message).map(|replaced| (replaced, replaced))).await
    }

    async fn react(
        &self,
        conversation: ConversationId,
        seq: Seq,
        id: MessageId,
        change: &ReactionChange,
    ) -> StoreResult<Reacted> {
        let change = change.clone();
        self.write(move |inner| {
            let reacted = inner.react_now(conversation, seq, id, &change)?;
            let wrote = matches!(reacted, Reacted::Changed(_));
            Ok((reacted, wrote))
        })
        .await
    }

    async fn history(
        &self,
        conversation: ConversationId,
        page: HistoryPage,
        limit: usize,
    ) -> StoreResult<Vec<Message>> {
        self.with(|inner| inner.history_now(conversation, page, limit))
    }

    async fn last_seq(&self, conversation: ConversationId) -> StoreResult<Seq> {
        self.with(|inner| inner.last_seq_now(conversation))
    }

    async fn advance_receipt(
        &self,
        conversation: ConversationId,
        user: UserId,
        kind: ReceiptKind,
        seq: Seq,
    ) -> StoreResult<Option<Receipt>> {
        self.write(move |inner| inner.advance_receipt_now(conversation, user, kind, seq)).await
    }

    async fn receipts(&self, conversation: ConversationId) -> StoreResult<Vec<Receipt>> {
        self.with(|inner| inner.receipts_now(conversation))
    }
}
