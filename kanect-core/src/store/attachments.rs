//! [`AttachmentStore`]: the records of uploaded files (their bytes are in a
//! [`BlobStore`](crate::blob::BlobStore)), and which message carries each.
//!
//! An attachment's life: the engine inserts its record (unclaimed), stores its bytes, then
//! completes the record; a send claims it for the message before appending the message, so a
//! message never names an attachment that another message could claim; deleting the message
//! (or its expiry) deletes the bytes, then the record. Every step may be cut short by a crash,
//! and each leftover is a record no standing message carries, which the engine's sweep finds
//! by paging through the records
//! ([`AttachmentStore::attachments_after`]): an upload never claimed, a claim whose message was
//! never appended, a record whose message is deleted.

use super::StoreResult;
use crate::id::{AttachmentId, UserId};
use crate::model::{Attachment, MessageRef, Timestamp};
use async_trait::async_trait;

/// Attachment records, by id, with each owner's total.
///
/// - [`AttachmentStore::claim_attachments`] is atomic: every id is claimed for the message,
///   or none is, also under concurrent claims of the same ids (exactly one message wins an
///   unclaimed attachment).
/// - Writes are durable when they return, as every store write.
#[async_trait]
pub trait AttachmentStore: Send + Sync {
    /// Records an upload, or replaces its record: the engine inserts one before storing the
    /// first byte (so that no bytes exist without a record) and replaces it once the upload
    /// is complete. The owner never changes; the usage counts the newest record.
    async fn insert_attachment(&self, attachment: &Attachment) -> StoreResult<()>;

    /// An attachment by id.
    async fn attachment(&self, id: AttachmentId) -> StoreResult<Option<Attachment>>;

    /// Claims every one of `ids` for `message`, or none: each must exist, belong to `owner`,
    /// and be claimed by this same message already (a resend of it) or unclaimed and uploaded
    /// at `fresh_since` or later (an older unclaimed upload has expired: the sweep may be
    /// deleting it). Returns the records as claimed, in the order of `ids` (which the engine
    /// has checked hold no id twice), or why it refused, without writing anything.
    async fn claim_attachments(
        &self,
        ids: &[AttachmentId],
        owner: UserId,
        message: MessageRef,
        fresh_since: Timestamp,
    ) -> StoreResult<Result<Vec<Attachment>, ClaimRefused>>;

    /// Deletes a record. Returns false if there was none.
    async fn delete_attachment(&self, id: AttachmentId) -> StoreResult<bool>;

    /// The bytes `owner`'s attachments take ([`Attachment::stored_bytes`], summed): what the
    /// quota counts.
    async fn attachment_usage(&self, owner: UserId) -> StoreResult<u64>;

    /// Up to `limit` records in id order, after `after` (from the first with None): the sweep's
    /// and the backup's way through them all.
    async fn attachments_after(&self, after: Option<AttachmentId>, limit: usize) -> StoreResult<Vec<Attachment>>;
}

/// The rule of a claim, for every backend: `stored` is the record under `id` (None if there
/// is none). Returns the record as claimed by `message` and whether it changed (false for a
/// claim by the same message again), or why `owner` may not claim it. A backend applies it to
/// each id under its lock or transaction, and writes the changed records only if no id was
/// refused.
///
/// # Errors
/// [`ClaimRefused::NotFound`] for no record, another owner's, or an unclaimed one uploaded
/// before `fresh_since` (expired); [`ClaimRefused::Taken`] for one another message carries.
pub fn claim(
    id: AttachmentId,
    stored: Option<Attachment>,
    owner: UserId,
    message: MessageRef,
    fresh_since: Timestamp,
) -> Result<(Attachment, bool), ClaimRefused> {
    let mut record = match stored {
        Some(record) if record.owner == owner => record,
        _ => return Err(ClaimRefused::NotFound(id)),
    };
    match record.message {
        Some(other) if other != message => Err(ClaimRefused::Taken(id)),
        Some(_) => Ok((record, false)),
        None if record.uploaded_at < fresh_since => Err(ClaimRefused::NotFound(id)),
        None => {
            record.message = Some(message);
            Ok((record, true))
        }
    }
}

/// Why [`AttachmentStore::claim_attachments`] claimed nothing.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum ClaimRefused {
    /// This id is unknown, another user's, or an unsent upload that has expired: the sender is
    /// told it does not exist either way.
    NotFound(AttachmentId),
    /// This id is already carried by another message.
    Taken(AttachmentId),
}
