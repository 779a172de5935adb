//! [`AttachmentStore`] for [`SledStore`]: attachment records by id (`0x0e` keys), indexed by
//! owner with each one's stored bytes (`0x0f`), and the synchronous halves of their methods.
//!
//! These are direct writes (see `commit`): each is one sled `Batch` (atomic across a crash),
//! decided under the open database's `attachments` lock and acknowledged after the next flush.
//! The lock makes a claim's read-check-write atomic against every other attachment write, so
//! of two messages claiming one attachment exactly one wins; a refused claim writes nothing.
//! A claim that changes nothing (a resend's) still waits for the flush: the claim it reports
//! may have been applied a moment ago by another writer and not be durable yet.

use super::format::{decode, encode};
use super::open::Open;
use super::SledStore;
use crate::kv::keys;
use kanect_core::backend::{claim, AttachmentStore, ClaimRefused, StoreResult};
use kanect_core::{Attachment, AttachmentId, MessageRef, Timestamp, UserId};

impl Open {
    pub(super) fn attachment_now(&self, id: AttachmentId) -> StoreResult<Option<Attachment>> {
        self.get("attachment", &keys::attachment(id))
    }

    pub(super) fn insert_attachment_now(&self, attachment: &Attachment) -> StoreResult<()> {
        let id = attachment.meta.id;
        let _attachments = self.attachments();
        let mut batch = sled::Batch::default();
        // Ids are new, but should one come again for another owner, its old index entry goes.
        if let Some(stored) = self.attachment_now(id)? {
            batch.remove(keys::owner_attachment(stored.owner, id));
        }
        batch.insert(keys::attachment(id), encode(attachment)?);
        batch.insert(
            keys::owner_attachment(attachment.owner, id),
            keys::stored_bytes(attachment.stored_bytes()).as_slice(),
        );
        self.apply(batch)
    }

    /// The claimed records, or why not.
    pub(super) fn claim_attachments_now(
        &self,
        ids: &[AttachmentId],
        owner: UserId,
        message: MessageRef,
        fresh_since: Timestamp,
    ) -> StoreResult<Result<Vec<Attachment>, ClaimRefused>> {
        let _attachments = self.attachments();
        let mut claimed = Vec::with_capacity(ids.len());
        let mut batch = sled::Batch::default();
        let mut changed = false;
        for &id in ids {
            let (record, claimed_now) = match claim(id, self.attachment_now(id)?, owner, message, fresh_since) {
                Ok(claimed) => claimed,
                Err(refused) => return Ok(Err(refused)),
            };
            if claimed_now {
                batch.insert(keys::attachment(id), encode(&record)?);
                changed = true;
            }
            claimed.push(record);
        }
        if changed {
            self.apply(batch)?;
        }
        Ok(Ok(claimed))
    }

    pub(super) fn delete_attachment_now(&self, id: AttachmentId) -> StoreResult<bool> {
        let _attachments = self.attachments();
        let Some(stored) = self.attachment_now(id)? else { return Ok(false) };
        let mut batch = sled::Batch::default();
        batch.remove(keys::attachment(id));
        batch.remove(keys::owner_attachment(stored.owner, id));
        self.apply(batch)?;
        Ok(true)
    }

    pub(super) fn attachment_usage_now(&self, owner: UserId) -> StoreResult<u64> {
        self.entries_with(&keys::owner_attachments(owner)).try_fold(0u64, |total, entry| {
            let (key, value) = entry?;
            Ok(total.saturating_add(keys::parse_stored_bytes(&key, &value)?))
        })
    }

    pub(super) fn attachments_after_now(
        &self,
        after: Option<AttachmentId>,
        limit: usize,
    ) -> StoreResult<Vec<Attachment>> {
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
impl AttachmentStore for SledStore {
    async fn insert_attachment(&self, attachment: &Attachment) -> StoreResult<()> {
        self.write(|open| open.insert_attachment_now(attachment).map(|()| ((), true))).await
    }

    async fn attachment(&self, id: AttachmentId) -> StoreResult<Option<Attachment>> {
        self.with(|open| open.attachment_now(id))
    }

    async fn claim_attachments(
        &self,
        ids: &[AttachmentId],
        owner: UserId,
        message: MessageRef,
        fresh_since: Timestamp,
    ) -> StoreResult<Result<Vec<Attachment>, ClaimRefused>> {
        // Waits for a flush also when it wrote nothing (see the module docs).
        self.write(|open| open.claim_attachments_now(ids, owner, message, fresh_since).map(|claimed| (claimed, true)))
            .await
    }

    async fn delete_attachment(&self, id: AttachmentId) -> StoreResult<bool> {
        self.write(|open| open.delete_attachment_now(id).map(|deleted| (deleted, deleted))).await
    }

    async fn attachment_usage(&self, owner: UserId) -> StoreResult<u64> {
        self.with(|open| open.attachment_usage_now(owner))
    }

    async fn attachments_after(&self, after: Option<AttachmentId>, limit: usize) -> StoreResult<Vec<Attachment>> {
        self.with(|open| open.attachments_after_now(after, limit))
    }
}
