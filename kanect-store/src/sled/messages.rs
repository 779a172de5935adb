//! [`MessageStore`] for [`SledStore`]: messages, history and receipts, and the synchronous
//! halves of their methods.
//!
//! An append looks for its id in the id index (the id is a function of the client id, so this
//! finds a resend), unless the store's [`IdFilter`](crate::kv::id_filter::IdFilter) rules the id
//! out (nearly every new message), and takes the next seq under the conversation's stripe
//! lock, then submits the message and its index entry as one journal record
//! ([`append_writes`]): gap-free seqs under concurrency, and no crash can leave an index entry
//! without its message. Two sled keys per message, because every insert costs sled's time on
//! the commit thread; the client-id record that format 2 kept as a third key held durable
//! sends measurably lower (`benches/README.md`, "Two sled keys per message").
//!
//! There is no seq counter record: a conversation's last seq is the key of its last message,
//! read from sled once (a reverse range scan) and then kept in the stripe's `Pending::last`
//! for the life of the open database. This process is the only writer of its database (sled
//! locks the directory), so the cache cannot go stale; after a failed group the store refuses
//! writes until its recovery thread has reopened it, and the fresh open starts with an empty
//! cache (see `recovery`). Dropping the counter made an append three sled keys instead of
//! four.

use super::commit::{Durable, Submitted};
use super::format::{decode, encode};
use super::journal::Write;
use super::open::Open;
use super::SledStore;
use crate::kv::keys;
use crate::kv::message_codec::{decode_message, encode_message};
use kanect_core::backend::{
    move_receipt_forward, replace_fields, Appended, MessageStore, NewMessage, Reacted, ReactionChange, StoreResult,
};
use kanect_core::{ConversationId, HistoryPage, Message, MessageId, Receipt, ReceiptKind, Seq, StoreError, UserId};

/// What [`Open::append_now`] did.
pub(super) enum Append {
    /// A known client id: the original, perhaps still on its way to the disk.
    Duplicate {
        /// The message first stored with this client id.
        original: Message,
        /// For an original still pending: returns when the appends submitted before the
        /// resend (the original among them) are durable. Done for one found in sled, which
        /// has appends only after their journal sync.
        ack: Durable,
        /// As for [`Append::Submitted`].
        after_flush: Option<u64>,
    },
    /// A new message, submitted to group commit.
    Submitted {
        /// The stored message.
        message: Message,
        /// Returns when it is durable.
        ack: Durable,
        /// Its conversation's record has a write on its way to the disk: acknowledge after
        /// this flush (see `GroupCommit::flushed`), which covers it, too.
        after_flush: Option<u64>,
    },
}

/// The writes of a new message: the message and its index entry, one journal record, so
/// that they reach the disk together or not at all.
pub(super) fn append_writes(message: &Message) -> StoreResult<Vec<Write>> {
    Ok(vec![
        (keys::message(message.conversation, message.seq), encode_message(message)?),
        (keys::message_index(message.id), keys::location(message.conversation, message.seq)),
    ])
}

impl Open {
    pub(super) fn append_now(&self, new: NewMessage) -> StoreResult<Append> {
        let conversation = new.conversation;
        let id = new.id();
        let id_bytes = id.to_bytes();
        let mut stripe = self.stripe(conversation);
        let stripe = &mut *stripe;
        let after_flush = stripe.unflushed.waits(conversation, &self.commit);
        stripe.pending.prune(&self.commit);
        if let Some(original) = stripe.pending.submitted.get(&id) {
            let ack = self.commit.appends_applied()?;
            return Ok(Append::Duplicate { original: original.clone(), ack, after_flush });
        }
        if self.ids.may_contain(&id_bytes) {
            if let Some(original) = self.message_now(id)? {
                return match new.is_resend_of(&original) {
                    true => Ok(Append::Duplicate { original, ack: Durable::DONE, after_flush }),
                    false => Err(StoreError::Corrupt(format!("message id {id} names another message"))),
                };
            }
        }
        let pending = &mut stripe.pending;
        let last = match pending.last.get(&conversation) {
            Some(last) => *last,
            None => self.last_seq_now(conversation)?,
        };
        let seq = Seq(last.0.checked_add(1).ok_or_else(|| StoreError::Corrupt("seq counter overflow".into()))?);
        let message = new.with_seq(seq);
        let writes = append_writes(&message)?;
        // Before sled can have it (see `id_filter`).
        self.ids.insert(&id_bytes);
        let Submitted { ack, number } = self.commit.submit(writes)?;
        pending.last.insert(conversation, seq);
        pending.submitted.insert(id, message.clone());
        pending.unapplied.push_back((number, id));
        Ok(Append::Submitted { message, ack, after_flush })
    }

    pub(super) fn message_now(&self, id: MessageId) -> StoreResult<Option<Message>> {
        let Some(location) = self.get_raw(&keys::message_index(id))? else { return Ok(None) };
        let (conversation, seq) = keys::parse_location(&location)?;
        match self.message_at(&keys::message(conversation, seq))? {
            Some(message) => Ok(Some(message)),
            None => Err(StoreError::Corrupt(format!("message index points at missing {conversation}/{seq}"))),
        }
    }

    pub(super) fn replace_message_now(&self, message: &Message) -> StoreResult<bool> {
        let key = keys::message(message.conversation, message.seq);
        let _stripe = self.stripe(message.conversation);
        let Some(mut stored) = self.message_at(&key)? else { return Ok(false) };
        if stored.id != message.id || stored.deleted {
            return Ok(false);
        }
        replace_fields(&mut stored, message);
        self.insert(&key, encode_message(&stored)?)?;
        Ok(true)
    }

    /// [`MessageStore::react`] under the conversation's stripe, so that the read and the
    /// write are one step.
    pub(super) fn react_now(
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
            self.insert(&key, encode_message(changed)?)?;
        }
        Ok(reacted)
    }

    fn message_at(&self, key: &[u8]) -> StoreResult<Option<Message>> {
        self.get_raw(key)?.map(|value| decode_message(key, &value)).transpose()
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
            decode_message(&key, &value)
        };
        match page {
            HistoryPage::After(seq) => {
                self.entries_after(&prefix, keys::message(conversation, seq)).take(limit).map(decode_entry).collect()
            }
            HistoryPage::Latest | HistoryPage::Before(_) => {
                let newest_first: StoreResult<Vec<Message>> = match page {
                    HistoryPage::Before(seq) => self
                        .entries(self.db.range(prefix.clone()..keys::message(conversation, seq)))
                        .rev()
                        .take(limit)
                        .map(decode_entry)
                        .collect(),
                    _ => self.entries_with(&prefix).rev().take(limit).map(decode_entry).collect(),
                };
                let mut page = newest_first?;
                page.reverse();
                Ok(page)
            }
        }
    }

    /// The seq of the conversation's last message in sled (applied, perhaps not yet durable).
    pub(super) fn last_seq_now(&self, conversation: ConversationId) -> StoreResult<Seq> {
        match self.entries_with(&keys::messages(conversation)).next_back().transpose()? {
            Some((key, _)) => Ok(keys::parse_message_key(&key)?.1),
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
}

#[async_trait::async_trait]
impl MessageStore for SledStore {
    async fn append_message(&self, message: NewMessage) -> StoreResult<Appended> {
        let (appended, waits) = self.with(|open| {
            let (appended, ack, after_flush) = match open.append_now(message)? {
                // A duplicate is an acknowledgement too: its original must be durable.
                Append::Duplicate { original, ack, after_flush } => (Appended::Duplicate(original), ack, after_flush),
                Append::Submitted { message, ack, after_flush } => (Appended::Created(message), ack, after_flush),
            };
            // The conversation record this send was checked against may not be durable yet:
            // neither is the send until it is (see `conversations`).
            let flushed = match after_flush {
                Some(flush) => open.commit.flushed(flush)?,
                None => Durable::DONE,
            };
            Ok((appended, [ack, flushed]))
        })?;
        for wait in waits {
            wait.wait().await?;
        }
        Ok(appended)
    }

    async fn message(&self, id: MessageId) -> StoreResult<Option<Message>> {
        self.with(|open| open.message_now(id))
    }

    async fn replace_message(&self, message: &Message) -> StoreResult<bool> {
        self.write(|open| open.replace_message_now(message).map(|replaced| (replaced, replaced))).await
    }

    async fn react(
        &self,
        conversation: ConversationId,
        seq: Seq,
        id: MessageId,
        change: &ReactionChange,
    ) -> StoreResult<Reacted> {
        self.write(|open| {
            let reacted = open.react_now(conversation, seq, id, change)?;
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
        self.with(|open| open.history_now(conversation, page, limit))
    }

    async fn last_seq(&self, conversation: ConversationId) -> StoreResult<Seq> {
        self.with(|open| open.last_seq_now(conversation))
    }

    async fn advance_receipt(
        &self,
        conversation: ConversationId,
        user: UserId,
        kind: ReceiptKind,
        seq: Seq,
    ) -> StoreResult<Option<Receipt>> {
        self.write(|open| open.advance_receipt_now(conversation, user, kind, seq)).await
    }

    async fn receipts(&self, conversation: ConversationId) -> StoreResult<Vec<Receipt>> {
        self.with(|open| open.receipts_now(conversation))
    }
}
