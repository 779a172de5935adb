//! [`AttachmentStore`] for [`MemoryStore`]: records by id, in id order for paging.

use super::MemoryStore;
use crate::id::{AttachmentId, UserId};
use crate::model::{Attachment, MessageRef, Timestamp};
use crate::store::{claim, AttachmentStore, ClaimRefused, StoreResult};
use async_trait::async_trait;
use std::ops::Bound;

#[async_trait]
impl AttachmentStore for MemoryStore {
    async fn insert_attachment(&self, attachment: &Attachment) -> StoreResult<()> {
        self.lock().attachments.insert(attachment.meta.id, attachment.clone());
        Ok(())
    }

    async fn attachment(&self, id: AttachmentId) -> StoreResult<Option<Attachment>> {
        Ok(self.lock().attachments.get(&id).cloned())
    }

    async fn claim_attachments(
        &self,
        ids: &[AttachmentId],
        owner: UserId,
        message: MessageRef,
        fresh_since: Timestamp,
    ) -> StoreResult<Result<Vec<Attachment>, ClaimRefused>> {
        let mut state = self.lock();
        let mut claimed = Vec::with_capacity(ids.len());
        for &id in ids {
            match claim(id, state.attachments.get(&id).cloned(), owner, message, fresh_since) {
                Ok((record, _)) => claimed.push(record),
                Err(refused) => return Ok(Err(refused)),
            }
        }
        for attachment in &claimed {
            state.attachments.insert(attachment.meta.id, attachment.clone());
        }
        Ok(Ok(claimed))
    }

    async fn delete_attachment(&self, id: AttachmentId) -> StoreResult<bool> {
        Ok(self.lock().attachments.remove(&id).is_some())
    }

    async fn attachment_usage(&self, owner: UserId) -> StoreResult<u64> {
        let state = self.lock();
        Ok(state.attachments.values().filter(|a| a.owner == owner).map(Attachment::stored_bytes).sum())
    }

    async fn attachments_after(&self, after: Option<AttachmentId>, limit: usize) -> StoreResult<Vec<Attachment>> {
        let state = self.lock();
        let lower = after.map_or(Bound::Unbounded, Bound::Excluded);
        Ok(state.attachments.range((lower, Bound::Unbounded)).take(limit).map(|(_, a)| a.clone()).collect())
    }
}
