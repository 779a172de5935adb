//! [`AttachmentStore`] for [`FjallStore`]: attachment records by id (`0x0e` keys), indexed by
//! owner with each one's stored bytes (`0x0f`).
//!
//! Every write is one job on the writer thread, under the `attachments` mutex, committing one
//! batch: a record and its owner-index entry never part, and a claim reads every record it
//! claims, checks them all and writes them all (or nothing) with no other write in between, so
//! of two messages claiming one attachment exactly one wins. A claim that changes nothing (a
//! resend's, or a refusal) writes nothing; the writer still answers it only after the sync of
//! any write before it in its group, which may be what it reports.
//!
//! Records are not cached (unlike users and conversations: see `cache`): an attachment is read
//! once per send and per download, not once per message delivered.
//!
//! A deleted record held the file's name, the uploader's data as much as a message body: a
//! deletion marks the store for a purge (see `purge`), as a message's deletion does.

use super::format::{decode, encode};
use super::{FjallStore, Inner};
use crate::kv::keys;
use kanect_core::backend::{claim, AttachmentStore, ClaimRefused, StoreResult};
use kanect_core::{Attachment, AttachmentId, MessageRef, Timestamp, UserId};

impl Inner {
    fn attachment_now(&self, id: AttachmentId) -> StoreResult<Option<Attachment>> {
        self.get("attachment", &keys::attachment(id))
    }

    fn insert_attachment_now(&self, attachment: &Attachment) -> StoreResult<()> {
        let id = attachment.meta.id;
        let _attachments = self.attachments();
        let mut batch = self.batch();
        // Ids are new, but should one come again for another owner, its old index entry goes.
        if let Some(stored) = self.attachment_now(id)? {
            batch.remove(&self.data, keys::owner_attachment(stored.owner, id));
        }
        batch.insert(&self.data, keys::attachment(id), encode(attachment)?);
        batch.insert(
            &self.data,
            keys::owner_attachment(attachment.owner, id),
            keys::stored_bytes(attachment.stored_bytes()),
        );
        self.commit(batch)
    }

    /// The claimed records, or why not; and whether anything was written.
    fn claim_attachments_now(
        &self,
        ids: &[AttachmentId],
        owner: UserId,
        message: MessageRef,
        fresh_since: Timestamp,
    ) -> StoreResult<(Result<Vec<Attachment>, ClaimRefused>, bool)> {
        let _attachments = self.attachments();
        let mut claimed = Vec::with_capacity(ids.len());
        let mut batch = self.batch();
        let mut changed = false;
        for &id in ids {
            let (record, claimed_now) = match claim(id, self.attachment_now(id)?, owner, message, fresh_since) {
                Ok(claimed) => claimed,
                Err(refused) => return Ok((Err(refused), false)),
            };
            if claimed_now {
                batch.insert(&self.data, keys::attachment(id), encode(&record)?);
                changed = true;
            }
            claimed.push(record);
        }
        if changed {
            self.commit(batch)?;
        }
        Ok((Ok(claimed), changed))
    }

    fn delete_attachment_now(&self, id: AttachmentId) -> StoreResult<bool> {
        let _attachments = self.attachments();
        let Some(stored) = self.attachment_now(id)? else { return Ok(false) };
        let mut batch = self.batch();
        batch.remove(&self.data, keys::attachment(id));
        batch.remove(&self.data, keys::owner_attachment(stored.owner, id));
        self.commit(batch)?;
        // The record (its file name) is still in the journal and the tables.
        self.purge.mark_garbage();
        Ok(true)
    }

    fn attachment_usage_now(&self, owner: UserId) -> StoreResult<u64> {
        self.entries_with(&keys::owner_attachments(owner)).try_fold(0u64, |total, entry| {
            let (key, value) = entry?;
            Ok(total.saturating_add(keys::parse_stored_bytes(&key, &value)?))
        })
    }

    fn attachments_after_now(&self, after: Option<AttachmentId>, limit: usize) -> StoreResult<Vec<Attachment>> {
        let prefix = keys::all_attachments();
        let start = after.map_or_else(|| prefix.clone(), keys::attachment);
        self.entries_after(&prefix, start)
            .take(limit)
            .map(|entry| {
                let (key, value) = entry?;
                decode("attachment", &key, &value)
            })
            .collect()
    }
}

#[async_trait::async_trait]
impl AttachmentStore for FjallStore {
    async fn insert_attachment(&self, attachment: &Attachment) -> StoreResult<()> {
        let attachment = attachment.clone();
        self.write(move |inner| inner.insert_attachment_now(&attachment).map(|()| ((), true))).await
    }

    async fn attachment(&self, id: AttachmentId) -> StoreResult<Option<Attachment>> {
        self.with(|inner| inner.attachment_now(id))
    }

    async fn claim_attachments(
        &self,
        ids: &[AttachmentId],
        owner: UserId,
        message: MessageRef,
        fresh_since: Timestamp,
    ) -> StoreResult<Result<Vec<Attachment>, ClaimRefused>> {
        let ids = ids.to_vec();
        self.write(move |inner| inner.claim_attachments_now(&ids, owner, message, fresh_since)).await
    }

    async fn delete_attachment(&self, id: AttachmentId) -> StoreResult<bool> {
        self.write(move |inner| inner.delete_attachment_now(id).map(|deleted| (deleted, deleted))).await
    }

    async fn attachment_usage(&self, owner: UserId) -> StoreResult<u64> {
        self.with(|inner| inner.attachment_usage_now(owner))
    }

    async fn attachments_after(&self, after: Option<AttachmentId>, limit: usize) -> StoreResult<Vec<Attachment>> {
        self.with(|inner| inner.attachments_after_now(after, limit))
    }
}
