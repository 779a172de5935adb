//! [`MemoryBlobStore`]: blobs in a map, for tests and `--memory` servers.

use super::{Blob, BlobKey, BlobStore, ByteStream, Chunks, PutError};
use crate::error::StoreError;
use async_trait::async_trait;
use bytes::{Bytes, BytesMut};
use std::collections::HashMap;
use std::ops::Range;
use std::sync::{Mutex, PoisonError};

/// A [`BlobStore`] in memory: a blob is stored once its whole body has arrived, so a body
/// that fails leaves nothing.
#[derive(Default)]
pub struct MemoryBlobStore {
    blobs: Mutex<HashMap<BlobKey, Bytes>>,
}

impl MemoryBlobStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// How many blobs it holds (for tests: what a deletion left).
    pub fn len(&self) -> usize {
        self.blobs.lock().unwrap_or_else(PoisonError::into_inner).len()
    }

    /// Whether it holds none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl std::fmt::Debug for MemoryBlobStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MemoryBlobStore").field("blobs", &self.len()).finish()
    }
}

/// How big a chunk [`MemoryBlobStore::get`] yields: readers see a stream, as from a file.
const CHUNK: usize = 64 * 1024;

#[async_trait]
impl BlobStore for MemoryBlobStore {
    async fn put(&self, key: BlobKey, mut body: ByteStream) -> Result<u64, PutError> {
        let mut whole = BytesMut::new();
        while let Some(chunk) = std::future::poll_fn(|cx| body.as_mut().poll_next(cx)).await {
            whole.extend_from_slice(&chunk.map_err(PutError::Body)?);
        }
        let size = whole.len() as u64;
        self.blobs.lock().unwrap_or_else(PoisonError::into_inner).insert(key, whole.freeze());
        Ok(size)
    }

    async fn get(&self, key: BlobKey, range: Option<Range<u64>>) -> Result<Option<Blob>, StoreError> {
        let Some(bytes) = self.blobs.lock().unwrap_or_else(PoisonError::into_inner).get(&key).cloned() else {
            return Ok(None);
        };
        let size = bytes.len() as u64;
        let range = range.unwrap_or(0..size);
        if range.start > range.end || range.end > size {
            return Err(StoreError::Corrupt(format!("range {range:?} outside blob {key} of {size} bytes")));
        }
        let part = bytes.slice(range.start as usize..range.end as usize);
        let chunks: Vec<std::io::Result<Bytes>> =
            (0..part.len()).step_by(CHUNK).map(|at| Ok(part.slice(at..part.len().min(at + CHUNK)))).collect();
        Ok(Some(Blob { size, bytes: Box::pin(Chunks(chunks.into_iter())) }))
    }

    async fn delete(&self, key: BlobKey) -> Result<bool, StoreError> {
        Ok(self.blobs.lock().unwrap_or_else(PoisonError::into_inner).remove(&key).is_some())
    }
}
