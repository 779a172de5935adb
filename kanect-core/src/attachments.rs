//! Attachments: uploading a file, reading it back, and the sweep that deletes what no message
//! carries.
//!
//! **Upload.** The body streams into the blob store ([`crate::blob`]) through a meter that
//! counts, hashes (SHA-256) and keeps the first bytes for sniffing, and cuts the body off
//! with an error once it passes the size limit, so an upload over it is refused without being
//! stored whole, and memory holds one chunk at a time. The content type is sniffed from those
//! first bytes ([`crate::media::sniff`]): the uploader's claim is never trusted. An image is
//! read back (if at most [`AttachmentLimits::max_image_file_bytes`]) and decoded off the async
//! threads (`spawn_blocking`), one at a time per engine (the turn is held until the decode ends),
//! within [`ImageLimits`] checked before any pixel is decoded; it gets a thumbnail, and one
//! that does not decode is kept as a plain file (`application/octet-stream`). The record is
//! inserted before the first byte is stored (empty, unclaimed) and completed after the last, so
//! that bytes never exist without a record the sweep can find, even after a crash mid-upload;
//! a failed upload deletes its bytes and its record at once.
//!
//! **Limits.** A file up to [`AttachmentLimits::max_file_bytes`]; an account's files (with
//! thumbnails) up to [`AttachmentLimits::quota_bytes`], checked against what the store counts
//! when an upload starts and enforced on the body as it arrives; at most
//! [`AttachmentLimits::uploads_in_flight`] uploads per account under way on one node (so
//! uploads at once can pass the quota by at most that many files per node). An upload runs on
//! a task of its own: if its caller goes away after the last byte, it still completes (and
//! counts) or is cleaned up, never left half done until the sweep.
//!
//! **Sending.** [`Chat::send_with_attachments`] claims the ids for the message (all or none,
//! one message per attachment, atomically in the store) before appending it. A claim is keyed
//! by the message's id, which its client id determines, so a resend claims again harmlessly.
//!
//! **Who reads.** An attachment carried by a message is read by the members of its conversation
//! while the message stands; an unsent upload only by its uploader. Anyone else, a member who
//! left, and everyone once the message is deleted get `attachment_not_found`, as for an id that
//! never existed.
//!
//! **Deleting.** A message deleted (by its sender, an administrator or retention) first loses
//! its attachments in the store (the message record no longer carries them), then their bytes
//! and records are deleted. What a crash or a failure leaves (an upload never sent, a claim whose
//! message was never appended, bytes of a deleted message) is an attachment that no standing
//! message carries: the sweep ([`Chat::sweep_attachments`]) deletes its bytes, then its record,
//! once it is older than [`AttachmentLimits::unsent_expiry`] and an hour of grace. The two
//! never race: a send claims only uploads younger than the expiry (an older one is
//! `attachment_not_found`), and the grace outlasts the step from a claim to its message being
//! stored. The engine sweeps at start and then hourly; a pass reads every record, a page at a
//! time, and the message of each claimed one.

use crate::blob::{Blob, BlobKey, BlobStore, ByteStream, PutError};
use crate::chat::{Caller, Chat, WeakChat};
use crate::error::{Conflict, Denied, Entity, Error, Invalid, Limit, Result, StoreError};
use crate::id::{AttachmentId, ConversationId, MessageId};
use crate::media;
#[cfg(doc)]
use crate::media::ImageLimits;
use crate::model::{Attachment, AttachmentMeta, ImageMeta, MessageRef, Timestamp};
use crate::store::ClaimRefused;
#[cfg(doc)]
use crate::uploads::AttachmentLimits;
use bytes::Bytes;
use futures_core::Stream;
use sha2::{Digest, Sha256};
use std::ops::Range;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll};
use std::time::Duration;

/// Which bytes of an attachment to read.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub enum AttachmentPart {
    /// The file as uploaded.
    File,
    /// An image's thumbnail.
    Thumbnail,
}

/// An attachment being read: what it is, and the bytes asked for.
#[derive(Debug)]
pub struct AttachmentRead {
    /// Its metadata.
    pub meta: AttachmentMeta,
    /// The content type of the bytes read: the file's, or the thumbnail's.
    pub content_type: String,
    /// Whether a browser may show these bytes inline (an image type it renders without running
    /// anything: JPEG, PNG, GIF, WebP); anything else is served as a download.
    pub inline: bool,
    /// The bytes, with the whole part's size.
    pub blob: Blob,
}

/// The content type of a file that is nothing more specific (and of an upload not yet
/// complete).
const OCTET_STREAM: &str = "application/octet-stream";

/// Records read at a time by the sweep.
const SWEEP_PAGE: usize = 200;

/// How often the background sweep runs.
const SWEEP_INTERVAL: Duration = Duration::from_secs(3600);

/// How long past [`AttachmentLimits::unsent_expiry`] the sweep leaves a record alone. A send
/// claims an upload only while it is younger than the expiry, then appends its message:
/// the grace covers that step, so the sweep never takes a claimed file whose message is about
/// to be stored.
const SWEEP_GRACE: Duration = Duration::from_secs(3600);

/// What the meter learnt of a body as it passed.
#[derive(Default)]
struct Reading {
    size: u64,
    sha256: Sha256,
    head: Vec<u8>,
    /// The body passed the limit and was cut off.
    over: bool,
}

/// A body on its way to the blob store, read through: counted, hashed, its head kept, cut off
/// with an error past `limit` bytes.
struct Meter {
    body: ByteStream,
    limit: u64,
    reading: Arc<Mutex<Reading>>,
}

impl Stream for Meter {
    type Item = std::io::Result<Bytes>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let chunk = match self.body.as_mut().poll_next(cx) {
            Poll::Ready(Some(Ok(chunk))) => chunk,
            other => return other,
        };
        let mut reading = self.reading.lock().unwrap_or_else(PoisonError::into_inner);
        reading.size = reading.size.saturating_add(chunk.len() as u64);
        if reading.size > self.limit {
            reading.over = true;
            return Poll::Ready(Some(Err(std::io::Error::other("the upload is over its limit"))));
        }
        reading.sha256.update(&chunk);
        let room = media::SNIFF_BYTES.saturating_sub(reading.head.len());
        let take = room.min(chunk.len());
        reading.head.extend_from_slice(&chunk[..take]);
        drop(reading);
        Poll::Ready(Some(Ok(chunk)))
    }
}

impl Chat {
    /// The blob store, or `attachments_disabled` without one.
    pub(crate) fn blob_store(&self) -> Result<Arc<dyn BlobStore>> {
        self.blobs().cloned().ok_or(Error::Forbidden(Denied::AttachmentsDisabled))
    }

    /// Whether this engine takes attachments (it was built with a blob store).
    pub fn attachments_enabled(&self) -> bool {
        self.blobs().is_some()
    }

    /// Uploads a file: streams `body` to the blob store and records it, unsent, for the caller
    /// to attach to a message ([`Chat::send_with_attachments`]) within
    /// [`AttachmentLimits::unsent_expiry`]. `name` is the file's name as the uploader gave it
    /// (sanitised here, for display only); `length` is the size the uploader announced, if any
    /// (a body longer than announced is cut off at the limit all the same). Returns the
    /// metadata, with the sniffed content type and, for an image, its size and thumbnail's.
    ///
    /// The upload runs on a task of its own, to its end, even if this future is dropped: a
    /// caller that goes away after the last byte leaves a complete (unsent) upload, one that goes
    /// away before leaves nothing. So `body` must end or fail in bounded time (the HTTP adapter
    /// puts a read deadline on it); until it does, the upload holds one of the account's
    /// [`AttachmentLimits::uploads_in_flight`].
    ///
    /// # Errors
    /// `attachments_disabled` without a blob store; `rate_limited` past `RateLimits::sends`
    /// (an upload counts as a send); `too_many_uploads` past
    /// [`AttachmentLimits::uploads_in_flight`]; `attachment_too_large` for an announced or
    /// actual size over [`AttachmentLimits::max_file_bytes`]; `quota_exceeded` when the
    /// caller's files would take more than [`AttachmentLimits::quota_bytes`]; `empty` for zero
    /// bytes; `incomplete` if the body failed (the uploader went away); `unavailable` if a
    /// store failed. Nothing is kept after an error.
    pub async fn upload(
        &self,
        caller: &Caller,
        name: &str,
        length: Option<u64>,
        body: ByteStream,
    ) -> Result<AttachmentMeta> {
        // On a task of its own, so that an upload whose caller goes away (an HTTP client that
        // hangs up, its request future dropped) still ends as one that finished: counted in
        // the quota, or cleaned up; and the image it decodes holds its turn until it is done.
        let (chat, caller, name) = (self.clone(), caller.clone(), name.to_string());
        tokio::spawn(async move { chat.upload_now(&caller, &name, length, body).await })
            .await
            .map_err(|failed| Error::Unavailable(StoreError::backend(failed)))?
    }

    /// [`Chat::upload`], on its task.
    async fn upload_now(
        &self,
        caller: &Caller,
        name: &str,
        length: Option<u64>,
        body: ByteStream,
    ) -> Result<AttachmentMeta> {
        let blobs = self.blob_store()?;
        self.limits().send(caller.user()).await?;
        let limits = &self.config().attachments;
        let _slot = self.uploads().begin(caller.user(), limits.uploads_in_flight).ok_or(limited(Limit::Uploads))?;
        if length.is_some_and(|length| length > limits.max_file_bytes) {
            return Err(limited(Limit::AttachmentSize));
        }
        let room = limits.quota_bytes.saturating_sub(self.store().attachment_usage(caller.user()).await?);
        if room == 0 || length.is_some_and(|length| length > room) {
            return Err(limited(Limit::AttachmentQuota));
        }
        let limit = limits.max_file_bytes.min(room);
        let id = AttachmentId::new();
        let mut record = Attachment {
            meta: AttachmentMeta {
                id,
                name: media::sanitize_name(name),
                size: 0,
                content_type: OCTET_STREAM.to_string(),
                sha256: String::new(),
                image: None,
            },
            owner: caller.user(),
            uploaded_at: self.now(),
            thumbnail_size: 0,
            message: None,
        };
        self.store().insert_attachment(&record).await?;
        let reading = Arc::new(Mutex::new(Reading::default()));
        let meter = Meter { body, limit, reading: reading.clone() };
        let stored = blobs.put(BlobKey::file(id), Box::pin(meter)).await;
        let reading = std::mem::take(&mut *reading.lock().unwrap_or_else(PoisonError::into_inner));
        let completed = match stored {
            Ok(_) => self.complete_upload(&mut record, reading).await,
            Err(PutError::Body(_)) if reading.over && limit < limits.max_file_bytes => {
                Err(limited(Limit::AttachmentQuota))
            }
            Err(PutError::Body(_)) if reading.over => Err(limited(Limit::AttachmentSize)),
            Err(PutError::Body(_)) => Err(Error::invalid("file", Invalid::Incomplete)),
            Err(PutError::Store(error)) => Err(error.into()),
        };
        if completed.is_err() {
            if let Err(error) = self.discard(&*blobs, id).await {
                tracing::warn!(%error, attachment = %id, "deleting a failed upload failed; the sweep will retry");
            }
        }
        completed.map(|()| record.meta)
    }

    /// After the bytes are stored: checks them, makes a thumbnail, completes the record.
    async fn complete_upload(&self, record: &mut Attachment, reading: Reading) -> Result<()> {
        if reading.size == 0 {
            return Err(Error::invalid("file", Invalid::Empty));
        }
        let meta = &mut record.meta;
        meta.size = reading.size;
        meta.content_type = media::sniff(&reading.head).to_string();
        meta.sha256 = hex(&reading.sha256.finalize());
        if media::is_inline_image(&meta.content_type) && meta.size <= self.config().attachments.max_image_file_bytes {
            match self.make_thumbnail(meta.id).await? {
                Some((image, size)) => (meta.image, record.thumbnail_size) = (Some(image), size),
                // Claimed to be an image by its first bytes, but does not decode: a plain file.
                None => meta.content_type = OCTET_STREAM.to_string(),
            }
        }
        record.uploaded_at = self.now();
        self.store().insert_attachment(record).await?;
        Ok(())
    }

    /// Reads the stored image back, decodes it off the async threads (one at a time), and
    /// stores its thumbnail. None if it does not decode within the limits.
    async fn make_thumbnail(&self, id: AttachmentId) -> Result<Option<(ImageMeta, u64)>> {
        let blobs = self.blob_store()?;
        let turn = self
            .thumbnailing()
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| Error::Forbidden(Denied::AttachmentsDisabled))?;
        let Some(blob) = blobs.get(BlobKey::file(id), None).await? else {
            return Err(Error::Unavailable(StoreError::Corrupt(format!("attachment {id} vanished while uploading"))));
        };
        let bytes =
            crate::blob::collect(blob.bytes).await.map_err(|error| Error::Unavailable(StoreError::backend(error)))?;
        let limits = self.config().attachments.images.clone();
        // The turn goes with the decode: it ends when the pixels are freed.
        let decoded = tokio::task::spawn_blocking(move || {
            let _turn = turn;
            media::thumbnail(&bytes, &limits)
        })
        .await
        .map_err(|error| Error::Unavailable(StoreError::backend(error)))?;
        let Ok((info, thumbnail)) = decoded else { return Ok(None) };
        let size = thumbnail.bytes.len() as u64;
        let body = crate::blob::once(Bytes::from(thumbnail.bytes));
        blobs.put(BlobKey::thumbnail(id), body).await.map_err(|error| match error {
            PutError::Store(error) => Error::from(error),
            PutError::Body(error) => Error::Unavailable(StoreError::backend(error)),
        })?;
        let image = ImageMeta {
            width: info.width,
            height: info.height,
            thumbnail_width: thumbnail.width,
            thumbnail_height: thumbnail.height,
        };
        Ok(Some((image, size)))
    }

    /// An attachment's metadata, if the caller may read it (see the module docs).
    ///
    /// # Errors
    /// `attachment_not_found` (also for one the caller may not read); `unavailable`.
    pub async fn attachment(&self, caller: &Caller, id: AttachmentId) -> Result<AttachmentMeta> {
        Ok(self.readable(caller, id).await?.meta)
    }

    /// Reads an attachment's file or thumbnail, all of it or `range` of it (which must lie
    /// within the part: `start <= end <= size`).
    ///
    /// # Errors
    /// `attachment_not_found` (also for one the caller may not read, and for the thumbnail of
    /// a file that has none); `out_of_range` for a range outside the part; `attachments_disabled`
    /// without a blob store; `unavailable`.
    pub async fn read_attachment(
        &self,
        caller: &Caller,
        id: AttachmentId,
        part: AttachmentPart,
        range: Option<Range<u64>>,
    ) -> Result<AttachmentRead> {
        let blobs = self.blob_store()?;
        let record = self.readable(caller, id).await?;
        let (key, size) = match part {
            AttachmentPart::File => (BlobKey::file(id), record.meta.size),
            AttachmentPart::Thumbnail if record.meta.image.is_some() => (BlobKey::thumbnail(id), record.thumbnail_size),
            AttachmentPart::Thumbnail => return Err(Error::NotFound(Entity::Attachment)),
        };
        if range.as_ref().is_some_and(|range| range.start > range.end || range.end > size) {
            return Err(Error::invalid("range", Invalid::OutOfRange));
        }
        if part == AttachmentPart::File {
            let blob = blobs.get(key, range).await?.ok_or(Error::NotFound(Entity::Attachment))?;
            let content_type = record.meta.content_type.clone();
            let inline = media::is_inline_image(&content_type);
            return Ok(AttachmentRead { content_type, inline, meta: record.meta, blob });
        }
        // A thumbnail is small (a few tens of KiB) and its format is the encoder's choice (JPEG,
        // or PNG for an image with transparency): read it whole and sniff it.
        let blob = blobs.get(key, None).await?.ok_or(Error::NotFound(Entity::Attachment))?;
        let bytes = Bytes::from(
            crate::blob::collect(blob.bytes).await.map_err(|e| Error::Unavailable(StoreError::backend(e)))?,
        );
        let content_type = media::sniff(&bytes).to_string();
        let part = match range {
            Some(range) => bytes.slice(range.start as usize..range.end as usize),
            None => bytes,
        };
        let inline = media::is_inline_image(&content_type);
        Ok(AttachmentRead {
            meta: record.meta,
            content_type,
            inline,
            blob: Blob { size, bytes: crate::blob::once(part) },
        })
    }

    /// The record of `id` if `caller` may read it.
    async fn readable(&self, caller: &Caller, id: AttachmentId) -> Result<Attachment> {
        let record = self.store().attachment(id).await?.ok_or(Error::NotFound(Entity::Attachment))?;
        let Some(at) = record.message else {
            return match record.owner == caller.user() {
                true => Ok(record),
                false => Err(Error::NotFound(Entity::Attachment)),
            };
        };
        match self.member_conversation(caller, at.conversation).await {
            Ok(_) => {}
            Err(Error::NotFound(_)) => return Err(Error::NotFound(Entity::Attachment)),
            Err(error) => return Err(error),
        }
        match self.carried(&record).await? {
            true => Ok(record),
            false => Err(Error::NotFound(Entity::Attachment)),
        }
    }

    /// Whether a standing (not deleted) message carries `record`.
    async fn carried(&self, record: &Attachment) -> Result<bool> {
        let Some(at) = record.message else { return Ok(false) };
        let message = self.store().message(at.message).await?;
        Ok(message
            .is_some_and(|message| !message.deleted && message.attachments.iter().any(|a| a.id == record.meta.id)))
    }

    /// Claims `ids` for the message `client_id` makes in `conversation`; see
    /// [`Chat::send_with_attachments`].
    pub(crate) async fn claim_for_message(
        &self,
        caller: &Caller,
        conversation: ConversationId,
        client_id: &str,
        ids: &[AttachmentId],
    ) -> Result<Vec<AttachmentMeta>> {
        if ids.is_empty() {
            return Ok(Vec::new());
        }
        if self.blobs().is_none() {
            return Err(Error::Forbidden(Denied::AttachmentsDisabled));
        }
        let message =
            MessageRef { conversation, message: MessageId::for_client(conversation, caller.user(), client_id) };
        let fresh_since = self.now().minus(self.config().attachments.unsent_expiry);
        match self.store().claim_attachments(ids, caller.user(), message, fresh_since).await? {
            Ok(claimed) => Ok(claimed.into_iter().map(|record| record.meta).collect()),
            Err(ClaimRefused::NotFound(_)) => Err(Error::NotFound(Entity::Attachment)),
            Err(ClaimRefused::Taken(_)) => Err(Error::Conflict(Conflict::AttachmentInUse)),
        }
    }

    /// Deletes the bytes and records of attachments a deleted message carried. A failure is
    /// logged: the sweep deletes what is left.
    pub(crate) async fn discard_attachments(&self, attachments: &[AttachmentMeta]) {
        let Some(blobs) = self.blobs().cloned() else { return };
        for meta in attachments {
            if let Err(error) = self.discard(&*blobs, meta.id).await {
                tracing::warn!(%error, attachment = %meta.id, "deleting an attachment failed; the sweep will retry");
            }
        }
    }

    /// Bytes first, then the record: a record without bytes is found by the sweep again.
    async fn discard(&self, blobs: &dyn BlobStore, id: AttachmentId) -> Result<()> {
        blobs.delete(BlobKey::thumbnail(id)).await?;
        blobs.delete(BlobKey::file(id)).await?;
        self.store().delete_attachment(id).await?;
        Ok(())
    }

    /// Deletes every attachment no standing message carries that was uploaded at least
    /// [`AttachmentLimits::unsent_expiry`] and an hour before `now`: uploads never sent, claims whose
    /// message was never stored, what deleted messages left. Returns how many. The engine
    /// runs it by itself at start and hourly; this is for a pass at a time of the
    /// application's choosing. Trusted, like [`Chat::expire_messages`].
    ///
    /// # Errors
    /// `unavailable` if the store fails to list the records; a record that fails on its own
    /// is logged and passed over (the next pass tries it again).
    pub async fn sweep_attachments(&self, now: Timestamp) -> Result<u64> {
        let Some(blobs) = self.blobs().cloned() else { return Ok(0) };
        let cutoff = now.minus(self.config().attachments.unsent_expiry).minus(SWEEP_GRACE);
        let mut swept = 0;
        let mut after = None;
        loop {
            let page = self.store().attachments_after(after, SWEEP_PAGE).await?;
            for record in page.iter().filter(|record| record.uploaded_at <= cutoff) {
                // One record that fails (a blob that will not delete, a message that will not
                // decode) is logged and passed over: it must not stop every later pass there.
                let swept_one = match self.carried(record).await {
                    Ok(true) => continue,
                    Ok(false) => self.discard(&*blobs, record.meta.id).await,
                    Err(error) => Err(error),
                };
                match swept_one {
                    Ok(()) => swept += 1,
                    Err(error) => {
                        tracing::warn!(%error, attachment = %record.meta.id, "the sweep passed over an attachment")
                    }
                }
            }
            match page.last() {
                Some(last) if page.len() == SWEEP_PAGE => after = Some(last.meta.id),
                _ => return Ok(swept),
            }
        }
    }
}

/// Sweeps at once and then every [`SWEEP_INTERVAL`] while the engine lives. A failed pass is
/// logged; the next one starts over.
pub(crate) async fn sweep_periodically(weak: WeakChat) {
    let mut ticker = tokio::time::interval(SWEEP_INTERVAL);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        let Some(chat) = weak.upgrade() else { return };
        match chat.sweep_attachments(chat.now()).await {
            Ok(0) => {}
            Ok(swept) => tracing::info!(swept, "deleted attachments no message carries"),
            Err(error) => tracing::warn!(%error, "the attachment sweep failed; the next one starts over"),
        }
    }
}

fn limited(limit: Limit) -> Error {
    Error::Limited { limit, retry_after: None }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|byte| format!("{byte:02x}")).collect()
}
