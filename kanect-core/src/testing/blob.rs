//! The blob store conformance suite: what every [`BlobStore`] must do, written once.
//!
//! ```no_run
//! use kanect_core::blob::MemoryBlobStore;
//! kanect_core::blob_conformance!(async { MemoryBlobStore::new() });
//! # fn main() {}
//! ```

pub use crate::blob::collect;
use crate::blob::{BlobKey, BlobStore, ByteStream, Chunks, PutError};
use crate::id::AttachmentId;
use bytes::Bytes;
use std::sync::Arc;

/// Generates one `#[tokio::test]` per blob conformance case; `$make` is a future of a fresh,
/// empty store, evaluated once per test. Attributes before it go on every test.
#[macro_export]
macro_rules! blob_conformance {
    (@attrs [$($attrs:tt)*] #[$attr:meta] $($rest:tt)*) => {
        $crate::blob_conformance!(@attrs [$($attrs)* #[$attr]] $($rest)*);
    };
    (@attrs [$(#[$attr:meta])*] $make:expr $(,)?) => {
        mod blob_conformance {
            #[allow(unused_imports)]
            use super::*;
            $crate::blob_conformance!(@cases [$(#[$attr])*] $make;
                blobs_round_trip_in_chunks,
                empty_blobs_round_trip,
                ranges_read_part_of_a_blob,
                a_failed_body_leaves_nothing,
                deletes_remove_blobs,
                a_file_and_its_thumbnail_are_apart,
                concurrent_puts_keep_their_own_bytes);
        }
    };
    (@cases $attrs:tt $make:expr; $($case:ident),+) => {
        $($crate::blob_conformance!(@case $attrs $make; $case);)+
    };
    (@case [$(#[$attr:meta])*] $make:expr; $case:ident) => {
        $(#[$attr])*
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $case() {
            let store = ::std::sync::Arc::new($make.await);
            $crate::testing::blob::$case(store).await;
        }
    };
    ($($input:tt)*) => {
        $crate::blob_conformance!(@attrs [] $($input)*);
    };
}

/// `bytes` as a body of `chunk`-byte chunks.
pub fn body(bytes: &[u8], chunk: usize) -> ByteStream {
    let chunks: Vec<std::io::Result<Bytes>> =
        bytes.chunks(chunk.max(1)).map(|c| Ok(Bytes::copy_from_slice(c))).collect();
    Box::pin(Chunks(chunks.into_iter()))
}

/// A body that yields `bytes` and then fails, as an uploader that goes away mid-upload.
pub fn failing_body(bytes: &[u8]) -> ByteStream {
    let chunks = vec![Ok(Bytes::copy_from_slice(bytes)), Err(std::io::Error::other("the uploader went away"))];
    Box::pin(Chunks(chunks.into_iter()))
}

/// Deterministic bytes that differ at every offset a test may slice at.
pub fn pattern(len: usize, seed: u8) -> Vec<u8> {
    (0..len).map(|i| (i as u32).wrapping_mul(2_654_435_761).to_be_bytes()[0] ^ seed).collect()
}

async fn read<S: BlobStore + ?Sized>(
    store: &S,
    key: BlobKey,
    range: Option<std::ops::Range<u64>>,
) -> Option<(u64, Vec<u8>)> {
    let blob = store.get(key, range).await.expect("get")?;
    Some((blob.size, collect(blob.bytes).await.expect("read the blob")))
}

/// 3 MiB in odd-sized chunks come back byte for byte, with their size.
pub async fn blobs_round_trip_in_chunks<S: BlobStore>(store: Arc<S>) {
    let key = BlobKey::file(AttachmentId::new());
    let bytes = pattern(3 * 1024 * 1024 + 17, 1);
    assert_eq!(store.put(key, body(&bytes, 100_003)).await.unwrap(), bytes.len() as u64);
    assert_eq!(read(&*store, key, None).await, Some((bytes.len() as u64, bytes)));
    assert!(read(&*store, BlobKey::file(AttachmentId::new()), None).await.is_none(), "an unknown key has no blob");
}

/// A zero-byte blob is a blob.
pub async fn empty_blobs_round_trip<S: BlobStore>(store: Arc<S>) {
    let key = BlobKey::file(AttachmentId::new());
    assert_eq!(store.put(key, body(&[], 1)).await.unwrap(), 0);
    assert_eq!(read(&*store, key, None).await, Some((0, Vec::new())));
}

/// A range reads just those bytes, and the size is still the whole blob's.
pub async fn ranges_read_part_of_a_blob<S: BlobStore>(store: Arc<S>) {
    let key = BlobKey::file(AttachmentId::new());
    let bytes = pattern(1_000_000, 2);
    store.put(key, body(&bytes, 65_536)).await.unwrap();
    for range in [0..1, 0..1_000_000, 999_999..1_000_000, 70_000..270_001, 500..500] {
        let (size, part) = read(&*store, key, Some(range.clone())).await.unwrap();
        assert_eq!(size, 1_000_000);
        assert_eq!(part, bytes[range.start as usize..range.end as usize], "range {range:?}");
    }
}

/// A body that fails mid-way stores nothing, and says it was the body.
pub async fn a_failed_body_leaves_nothing<S: BlobStore>(store: Arc<S>) {
    let key = BlobKey::file(AttachmentId::new());
    match store.put(key, failing_body(&pattern(200_000, 3))).await {
        Err(PutError::Body(_)) => {}
        other => panic!("expected the body's error, got {other:?}"),
    }
    assert!(read(&*store, key, None).await.is_none());
    assert!(!store.delete(key).await.unwrap(), "nothing to delete");
}

/// Deleting removes the blob, once.
pub async fn deletes_remove_blobs<S: BlobStore>(store: Arc<S>) {
    let key = BlobKey::file(AttachmentId::new());
    store.put(key, body(b"to be deleted", 4)).await.unwrap();
    assert!(store.delete(key).await.unwrap());
    assert!(read(&*store, key, None).await.is_none());
    assert!(!store.delete(key).await.unwrap());
}

/// An attachment's file and thumbnail are two blobs: deleting one keeps the other.
pub async fn a_file_and_its_thumbnail_are_apart<S: BlobStore>(store: Arc<S>) {
    let id = AttachmentId::new();
    store.put(BlobKey::file(id), body(b"the file", 3)).await.unwrap();
    store.put(BlobKey::thumbnail(id), body(b"the thumbnail", 5)).await.unwrap();
    assert_eq!(read(&*store, BlobKey::file(id), None).await.unwrap().1, b"the file");
    assert!(store.delete(BlobKey::thumbnail(id)).await.unwrap());
    assert_eq!(read(&*store, BlobKey::file(id), None).await.unwrap().1, b"the file");
    assert!(read(&*store, BlobKey::thumbnail(id), None).await.is_none());
}

/// Sixteen puts at once each keep their own bytes.
pub async fn concurrent_puts_keep_their_own_bytes<S: BlobStore>(store: Arc<S>) {
    let puts = (0..16u8).map(|seed| {
        let store = store.clone();
        tokio::spawn(async move {
            let key = BlobKey::file(AttachmentId::new());
            let bytes = pattern(150_000 + seed as usize, seed);
            store.put(key, body(&bytes, 10_000)).await.unwrap();
            (key, bytes)
        })
    });
    let mut stored = Vec::new();
    for put in puts.collect::<Vec<_>>() {
        stored.push(put.await.unwrap());
    }
    for (key, bytes) in stored {
        assert_eq!(read(&*store, key, None).await.unwrap().1, bytes);
    }
}
