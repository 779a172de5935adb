//! [`BlobStore`]: where the bytes of attachments live, streamed in and out, apart from the
//! records ([`AttachmentStore`](crate::backend::AttachmentStore)) that say what they are.
//!
//! Apart because bytes and records want different stores: records are small and many, in the
//! database the engine already uses; a file is up to tens of MiB and is never read whole into
//! memory. Embedded servers keep the bytes in files under the data directory, a cluster in
//! PostgreSQL (so every node serves every file with no new service), tests in memory
//! ([`MemoryBlobStore`]). Every implementation runs the conformance suite
//! [`blob_conformance!`](crate::blob_conformance) (feature `testing`).
//!
//! # The contract
//! - [`BlobStore::put`] returns only once the bytes are durable, and leaves nothing behind
//!   (no bytes under the key, no temporary data) if the body fails or the store does: an upload
//!   is all there or not there.
//! - A key is written once: the engine never puts twice under one key (ids are new).
//! - [`BlobStore::get`] streams: a reader gets the bytes in chunks as they are read, never the
//!   whole blob buffered.

mod memory;

pub use memory::MemoryBlobStore;

use crate::error::StoreError;
use crate::id::AttachmentId;
use async_trait::async_trait;
use bytes::Bytes;
use futures_core::Stream;
use std::fmt;
use std::ops::Range;
use std::pin::Pin;

/// A stream of byte chunks: an upload's body going in, a blob's bytes coming out.
pub type ByteStream = Pin<Box<dyn Stream<Item = std::io::Result<Bytes>> + Send>>;

/// What a blob is stored under: one attachment's file or its thumbnail, or an avatar. A closed
/// set rather than a free string, so no key can name a path.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub struct BlobKey {
    /// The attachment; for an avatar, the id that names that one picture (a fresh id per
    /// upload, see [`User::avatar`](crate::User::avatar)).
    pub attachment: AttachmentId,
    /// Which of its blobs.
    pub kind: BlobKind,
}

/// Which blob of an attachment.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Debug)]
pub enum BlobKind {
    /// The uploaded file.
    File,
    /// An image's thumbnail.
    Thumbnail,
    /// A user's avatar picture.
    Avatar,
}

impl BlobKey {
    /// The uploaded file of `attachment`.
    pub fn file(attachment: AttachmentId) -> Self {
        Self { attachment, kind: BlobKind::File }
    }

    /// The thumbnail of `attachment`.
    pub fn thumbnail(attachment: AttachmentId) -> Self {
        Self { attachment, kind: BlobKind::Thumbnail }
    }

    /// The avatar picture `id` (see [`User::avatar`](crate::User::avatar)).
    pub fn avatar(id: AttachmentId) -> Self {
        Self { attachment: id, kind: BlobKind::Avatar }
    }
}

impl fmt::Display for BlobKey {
    /// `<uuid>` for a file, `<uuid>.thumb` for a thumbnail, `<uuid>.avatar` for an avatar:
    /// ASCII, no separators, safe as a file name or a database key.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            BlobKind::File => write!(f, "{}", self.attachment),
            BlobKind::Thumbnail => write!(f, "{}.thumb", self.attachment),
            BlobKind::Avatar => write!(f, "{}.avatar", self.attachment),
        }
    }
}

/// A blob being read: its whole size, and the requested bytes as a stream.
pub struct Blob {
    /// The size of the whole blob, whatever range was asked for.
    pub size: u64,
    /// The bytes asked for.
    pub bytes: ByteStream,
}

impl fmt::Debug for Blob {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Blob").field("size", &self.size).finish_non_exhaustive()
    }
}

/// Why [`BlobStore::put`] stored nothing.
#[derive(Debug, thiserror::Error)]
pub enum PutError {
    /// The body failed (the uploader went away, or the engine cut it at a limit): its error.
    #[error("the upload's body failed: {0}")]
    Body(std::io::Error),
    /// The store failed.
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// Bytes by key, streamed in and out. See [the module docs](self) for the contract.
#[async_trait]
pub trait BlobStore: Send + Sync + 'static {
    /// Stores what `body` yields under `key`; returns the number of bytes once they are
    /// durable. If `body` yields an error, or the store fails, nothing is left under `key`.
    async fn put(&self, key: BlobKey, body: ByteStream) -> Result<u64, PutError>;

    /// The blob under `key`, or None: all of it, or `range` of it (which the caller has
    /// checked lies within the blob: `start <= end <= size`).
    async fn get(&self, key: BlobKey, range: Option<Range<u64>>) -> Result<Option<Blob>, StoreError>;

    /// Deletes the blob under `key`; durable when it returns. Returns false if there was none.
    async fn delete(&self, key: BlobKey) -> Result<bool, StoreError>;
}

/// A stream of the one chunk `bytes`.
pub fn once(bytes: Bytes) -> ByteStream {
    Box::pin(Chunks(vec![Ok(bytes)].into_iter()))
}

/// Reads a whole stream into memory: for what is small by construction (a thumbnail) or
/// bounded by the caller (an image to decode, at most the file size limit).
///
/// # Errors
/// The stream's first error.
pub async fn collect(mut stream: ByteStream) -> std::io::Result<Vec<u8>> {
    let mut all = Vec::new();
    while let Some(chunk) = std::future::poll_fn(|cx| stream.as_mut().poll_next(cx)).await {
        all.extend_from_slice(&chunk?);
    }
    Ok(all)
}

/// A stream over chunks already in hand.
pub(crate) struct Chunks(pub(crate) std::vec::IntoIter<std::io::Result<Bytes>>);

impl Stream for Chunks {
    type Item = std::io::Result<Bytes>;
    fn poll_next(mut self: Pin<&mut Self>, _cx: &mut std::task::Context<'_>) -> std::task::Poll<Option<Self::Item>> {
        std::task::Poll::Ready(self.0.next())
    }
}
