//! What the engine keeps for attachments apart from their operations (`attachments`): the
//! limits ([`AttachmentLimits`], part of the config) and the uploads under way per account. A
//! module of its own so that the handle (`chat`), which holds both, imports nothing of the
//! operations that use it.

use crate::id::UserId;
use crate::media::ImageLimits;
use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

/// Attachment limits, part of [`ChatConfig`](crate::ChatConfig).
#[derive(Clone, Debug)]
pub struct AttachmentLimits {
    /// The largest file, in bytes. Default 25 MiB.
    pub max_file_bytes: u64,
    /// What one account's files (and their thumbnails) may take in all. Default 1 GiB.
    pub quota_bytes: u64,
    /// Uploads one account may have under way at once on one node. Default 4.
    pub uploads_in_flight: usize,
    /// How long an upload no message carries may be sent; past that it is
    /// `attachment_not_found` to a send, and the sweep deletes it an hour later (at its next
    /// hourly pass). Default 24 hours.
    pub unsent_expiry: Duration,
    /// How large an image may be decoded for its thumbnail, and the thumbnail's size.
    pub images: ImageLimits,
    /// The largest image file read into memory to be decoded (one at a time); a larger one is
    /// kept as a file without a thumbnail. Default 32 MiB.
    pub max_image_file_bytes: u64,
}

impl Default for AttachmentLimits {
    fn default() -> Self {
        AttachmentLimits {
            max_file_bytes: 25 * 1024 * 1024,
            quota_bytes: 1024 * 1024 * 1024,
            uploads_in_flight: 4,
            unsent_expiry: Duration::from_secs(24 * 3600),
            images: ImageLimits::default(),
            max_image_file_bytes: 32 * 1024 * 1024,
        }
    }
}

/// Per account, the uploads under way on this node.
#[derive(Debug, Default)]
pub(crate) struct Uploads {
    counts: Mutex<HashMap<UserId, usize>>,
}

impl Uploads {
    /// Counts one more upload for `user`, unless they have `cap` under way.
    pub(crate) fn begin(&self, user: UserId, cap: usize) -> Option<UploadSlot<'_>> {
        let mut counts = self.counts.lock().unwrap_or_else(PoisonError::into_inner);
        let count = counts.entry(user).or_default();
        if *count >= cap {
            return None;
        }
        *count += 1;
        Some(UploadSlot { uploads: self, user })
    }
}

/// One upload under way, counted until dropped.
pub(crate) struct UploadSlot<'a> {
    uploads: &'a Uploads,
    user: UserId,
}

impl Drop for UploadSlot<'_> {
    fn drop(&mut self) {
        let mut counts = self.uploads.counts.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(count) = counts.get_mut(&self.user) {
            *count -= 1;
            if *count == 0 {
                counts.remove(&self.user);
            }
        }
    }
}
