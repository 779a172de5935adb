//! The blob stores stream: a 25 MiB put and get raise the process's allocated bytes by a few
//! chunks' worth, never by the blob, on files and (with `KANECT_TEST_PG`) on PostgreSQL.
//!
//! Measured with a counting global allocator (bytes allocated and not yet freed), read at every
//! chunk the body yields and the reader receives. The allocator is the whole process's, which
//! is why this test has a binary of its own and its cases run one at a time.

#![cfg(unix)]

#[cfg(feature = "postgres")]
mod pg_support;

use bytes::Bytes;
use cap::Cap;
use futures_util::StreamExt;
use kanect_core::blob::{BlobKey, BlobStore, ByteStream};
use kanect_core::AttachmentId;
use kanect_store::FsBlobStore;
use std::alloc::System;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// Counts the bytes allocated and not yet freed.
#[global_allocator]
static ALLOCATOR: Cap<System> = Cap::new(System, usize::MAX);

/// One case at a time: each measures the whole process.
static ALONE: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// The blob: 25 MiB, the server's default limit per file.
const SIZE: usize = 25 * 1024 * 1024;

/// The body's chunks, about what an HTTP body yields.
const BODY_CHUNK: usize = 64 * 1024;

/// The most a put or a get may allocate above what was live when it began: a few chunks of
/// either store with room to spare, and far below the blob.
const BOUND: usize = 4 * 1024 * 1024;

/// A body of `SIZE` bytes made as it is read (so the test holds no copy of the blob), noting
/// in `most` the most bytes allocated at each chunk.
fn generated(most: Arc<AtomicUsize>) -> ByteStream {
    Box::pin(futures_util::stream::iter(0..SIZE / BODY_CHUNK).map(move |n| {
        most.fetch_max(ALLOCATOR.allocated(), Ordering::Relaxed);
        Ok(Bytes::from(vec![n as u8; BODY_CHUNK]))
    }))
}

/// Puts and gets a 25 MiB blob in `store`; returns the most either allocated above the start.
async fn put_and_get(store: &impl BlobStore) -> (usize, usize) {
    let key = BlobKey::file(AttachmentId::new());
    let before = ALLOCATOR.allocated();
    let most = Arc::new(AtomicUsize::new(before));
    assert_eq!(store.put(key, generated(most.clone())).await.unwrap(), SIZE as u64);
    let put = most.load(Ordering::Relaxed).saturating_sub(before);

    let before = ALLOCATOR.allocated();
    let mut most = before;
    let mut bytes = store.get(key, None).await.unwrap().unwrap().bytes;
    let mut read = 0;
    while let Some(chunk) = bytes.next().await {
        let chunk = chunk.unwrap();
        let put = |at: usize| ((read + at) / BODY_CHUNK) as u8;
        assert!(chunk.iter().enumerate().all(|(at, &byte)| byte == put(at)), "the bytes put, at {read}");
        read += chunk.len();
        most = most.max(ALLOCATOR.allocated());
    }
    assert_eq!(read, SIZE);
    (put, most - before)
}

#[tokio::test]
async fn a_file_put_and_get_hold_chunks_not_the_blob() {
    let _alone = ALONE.lock().await;
    let dir = tempfile::tempdir().unwrap();
    let store = FsBlobStore::open(dir.path()).unwrap();
    let (put, get) = put_and_get(&store).await;
    assert!(put < BOUND, "a put allocated {put} bytes");
    assert!(get < BOUND, "a get allocated {get} bytes");
}

#[cfg(feature = "postgres")]
#[tokio::test]
#[cfg_attr(not(kanect_test_pg), ignore = "set KANECT_TEST_PG to run")]
async fn a_postgres_put_and_get_hold_chunks_not_the_blob() {
    let _alone = ALONE.lock().await;
    let store = pg_support::fresh_store().await;
    let (put, get) = put_and_get(&store.blobs()).await;
    assert!(put < BOUND, "a put allocated {put} bytes");
    assert!(get < BOUND, "a get allocated {get} bytes");
}
