//! Messages, history, receipts, the audit log and counts: the synchronous halves of their
//! methods.
//!
//! An append reads the conversation's counter (`0x0b`) and the client-id record under the
//! conversation's stripe lock, then writes the message, its id index, the client-id record and
//! the new counter in one batch: gap-free seqs under concurrency, and no crash can leave a seq
//! without its message or a client id without its message.

use super::format::{decode, encode};
use super::{keys, SledStore};
use kanect_core::{
    move_receipt_forward, Appended, AuditEntry, AuditId, ConversationId, HistoryPage, Message, MessageId, NewMessage,
    Receipt, ReceiptKind, Seq, StoreError, StoreResult, StoreStats, UserId,
};

impl SledStore {
    pub(super) fn append_now(&self, new: NewMessage) -> StoreResult<Appended> {
        let conversation = new.conversation;
        let client_key = keys::client_id(conversation, new.sender, &new.client_id);
        let counter_key = keys::last_seq(conversation);
        let _stripe = self.stripe(conversation);
        if let Some(seq) = self.get_raw(&client_key)? {
            let seq = keys::parse_seq(&seq)?;
            let original = self.get("message", &keys::message(conversation, seq))?;
            return original
                .map(Appended::Duplicate)
                .ok_or_else(|| StoreError::Corrupt(format!("client id without its message at seq {seq}")));
        }
        let last = self.last_seq_now(conversation)?;
        let seq = Seq(last.0.checked_add(1).ok_or_else(|| StoreError::Corrupt("seq counter overflow".into()))?);
        let message = new.with_seq(seq);
        let seq_bytes = seq.0.to_be_bytes();
        let mut batch = sled::Batch::default();
        batch.insert(keys::message(conversation, seq), encode(&message)?);
        batch.insert(keys::message_index(message.id), keys::location(conversation, seq));
        batch.insert(client_key, &seq_bytes);
        batch.insert(counter_key, &seq_bytes);
        self.apply(batch)?;
        Ok(Appended::Created(message))
    }

    pub(super) fn message_now(&self, id: MessageId) -> StoreResult<Option<Message>> {
        let Some(location) = self.get_raw(&keys::message_index(id))? else { return Ok(None) };
        let (conversation, seq) = keys::parse_location(&location)?;
        match self.get("message", &keys::message(conversation, seq))? {
            Some(message) => Ok(Some(message)),
            None => Err(StoreError::Corrupt(format!("message index points at missing {conversation}/{seq}"))),
        }
    }

    pub(super) fn replace_message_now(&self, message: &Message) -> StoreResult<bool> {
        let key = keys::message(message.conversation, message.seq);
        let _stripe = self.stripe(message.conversation);
        let Some(mut stored) = self.get::<Message>("message", &key)? else { return Ok(false) };
        if stored.id != message.id {
            return Ok(false);
        }
        stored.body.clone_from(&message.body);
        stored.edited_at = message.edited_at;
        stored.deleted = message.deleted;
        self.insert(&key, encode(&stored)?)?;
        Ok(true)
    }

    pub(super) fn history_now(
        &self,
        conversation: ConversationId,
        page: HistoryPage,
        limit: usize,
    ) -> StoreResult<Vec<Message>> {
        let prefix = keys::messages(conversation);
        let decode_entry = |entry: StoreResult<(sled::IVec, sled::IVec)>| {
            let (key, value) = entry?;
            decode::<Message>("message", &key, &value)
        };
        match page {
            HistoryPage::After(seq) => {
                self.entries_after(&prefix, keys::message(conversation, seq)).take(limit).map(decode_entry).collect()
            }
            HistoryPage::Latest | HistoryPage::Before(_) => {
                let newest_first: StoreResult<Vec<Message>> = match page {
                    HistoryPage::Before(seq) => self
                        .db
                        .range(prefix.clone()..keys::message(conversation, seq))
                        .rev()
                        .take(limit)
                        .map(|entry| decode_entry(entry.map_err(super::sled_error)))
                        .collect(),
                    _ => self.entries_with(&prefix).rev().take(limit).map(decode_entry).collect(),
                };
                let mut page = newest_first?;
                page.reverse();
                Ok(page)
            }
        }
    }

    pub(super) fn last_seq_now(&self, conversation: ConversationId) -> StoreResult<Seq> {
        match self.get_raw(&keys::last_seq(conversation))? {
            Some(bytes) => keys::parse_seq(&bytes),
            None => Ok(Seq::ZERO),
        }
    }

    /// Returns the receipt if it moved, and whether anything was written.
    pub(super) fn advance_receipt_now(
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
            self.insert(&key, encode(&receipt)?)?;
        }
        Ok((moved.then_some(receipt), moved || !existed))
    }

    pub(super) fn receipts_now(&self, conversation: ConversationId) -> StoreResult<Vec<Receipt>> {
        self.entries_with(&keys::receipts(conversation))
            .map(|entry| {
                let (key, value) = entry?;
                decode("receipt", &key, &value)
            })
            .collect()
    }

    pub(super) fn audit_log_now(&self, before: Option<AuditId>, limit: usize) -> StoreResult<Vec<AuditEntry>> {
        let prefix = keys::all_audit();
        let decode_entry = |entry: Result<(sled::IVec, sled::IVec), sled::Error>| {
            let (key, value) = entry.map_err(super::sled_error)?;
            decode("audit entry", &key, &value)
        };
        match before {
            Some(before) => self.db.range(prefix..keys::audit(before)).rev().take(limit).map(decode_entry).collect(),
            None => self.db.scan_prefix(prefix).rev().take(limit).map(decode_entry).collect(),
        }
    }

    pub(super) fn stats_now(&self) -> StoreResult<StoreStats> {
        let count = |prefix: Vec<u8>| self.keys_with(&prefix).try_fold(0u64, |n, key| key.map(|_| n + 1));
        // Seqs are gap-free and messages are never removed: the counters sum to the count.
        let messages = self.entries_with(&keys::all_last_seqs()).try_fold(0u64, |n, entry| {
            let (_, value) = entry?;
            Ok::<_, StoreError>(n.saturating_add(keys::parse_seq(&value)?.0))
        })?;
        Ok(StoreStats { users: count(keys::all_users())?, conversations: count(keys::all_conversations())?, messages })
    }
}
