//! [`PgBlobStore`] against a real PostgreSQL (`KANECT_TEST_PG`), each test in a fresh schema:
//! the core's blob conformance suite, and what only chunk rows can get wrong: rows left by a
//! failed put, streaming, a restart, and a blob deleted while it is read.
#![cfg(feature = "postgres")]

mod pg_support;

use futures_util::StreamExt;
use kanect_core::blob::{Blob, BlobKey, BlobStore, ByteStream, PutError};
use kanect_core::testing::blob::{body, collect, failing_body, pattern};
use kanect_core::{AttachmentId, StoreError};
use kanect_store::{PgBlobStore, PgStore};
use std::ops::Range;

/// A [`PgStore`]'s blob store, with the store that owns its pool kept alive beside it.
struct Blobs {
    blobs: PgBlobStore,
    store: PgStore,
}

impl Blobs {
    async fn fresh() -> Self {
        let store = pg_support::fresh_store().await;
        Self { blobs: store.blobs(), store }
    }

    fn schema(&self) -> String {
        self.store.config().schema.clone().unwrap()
    }
}

#[async_trait::async_trait]
impl BlobStore for Blobs {
    async fn put(&self, key: BlobKey, body: ByteStream) -> Result<u64, PutError> {
        self.blobs.put(key, body).await
    }

    async fn get(&self, key: BlobKey, range: Option<Range<u64>>) -> Result<Option<Blob>, StoreError> {
        self.blobs.get(key, range).await
    }

    async fn delete(&self, key: BlobKey) -> Result<bool, StoreError> {
        self.blobs.delete(key).await
    }
}

kanect_core::blob_conformance!(
    #[cfg_attr(not(kanect_test_pg), ignore = "set KANECT_TEST_PG to run")]
    async {
        Blobs::fresh().await
    }
);

/// How many rows the blob tables hold: (blobs, chunks).
async fn rows(schema: &str) -> (i64, i64) {
    let client = pg_support::raw_client(schema).await;
    let row = client
        .query_one("SELECT (SELECT count(*) FROM kanect_blobs), (SELECT count(*) FROM kanect_blob_chunks)", &[])
        .await
        .unwrap();
    (row.get(0), row.get(1))
}

/// Reads a blob chunk by chunk; returns the chunks' sizes and the bytes.
async fn chunks(blob: Blob) -> (Vec<usize>, Vec<u8>) {
    let mut stream = blob.bytes;
    let (mut sizes, mut all) = (Vec::new(), Vec::new());
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.unwrap();
        sizes.push(chunk.len());
        all.extend_from_slice(&chunk);
    }
    (sizes, all)
}

#[tokio::test]
#[cfg_attr(not(kanect_test_pg), ignore = "set KANECT_TEST_PG to run")]
async fn a_failed_body_leaves_no_rows() {
    let blobs = Blobs::fresh().await;
    let key = BlobKey::file(AttachmentId::new());
    // More than two chunks arrive, and are inserted, before the body fails.
    let error = blobs.put(key, failing_body(&pattern(2 * PgBlobStore::CHUNK + 1000, 1))).await.unwrap_err();
    assert!(matches!(error, PutError::Body(_)), "{error:?}");
    assert_eq!(rows(&blobs.schema()).await, (0, 0));
    // The connection went back to the pool usable: the next put works.
    blobs.put(key, body(b"again", 2)).await.unwrap();
    assert_eq!(rows(&blobs.schema()).await, (1, 1));
}

#[tokio::test]
#[cfg_attr(not(kanect_test_pg), ignore = "set KANECT_TEST_PG to run")]
async fn a_put_dropped_by_its_caller_leaves_no_rows() {
    let blobs = std::sync::Arc::new(Blobs::fresh().await);
    let key = BlobKey::file(AttachmentId::new());
    let stalled = futures_util::stream::iter([Ok(bytes::Bytes::from(pattern(PgBlobStore::CHUNK + 10, 2)))])
        .chain(futures_util::stream::pending());
    let put = tokio::spawn({
        let blobs = blobs.clone();
        async move { blobs.put(key, Box::pin(stalled)).await }
    });
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    put.abort();
    assert!(put.await.unwrap_err().is_cancelled());
    assert!(blobs.get(key, None).await.unwrap().is_none());
    assert_eq!(rows(&blobs.schema()).await, (0, 0));
}

#[tokio::test]
#[cfg_attr(not(kanect_test_pg), ignore = "set KANECT_TEST_PG to run")]
async fn a_25_mib_blob_streams_in_chunks_in_and_out() {
    let blobs = Blobs::fresh().await;
    let key = BlobKey::file(AttachmentId::new());
    let bytes = pattern(25 * 1024 * 1024, 3);
    assert_eq!(blobs.put(key, body(&bytes, 100_000)).await.unwrap(), bytes.len() as u64);
    assert_eq!(rows(&blobs.schema()).await, (1, (bytes.len() / PgBlobStore::CHUNK) as i64));

    let blob = blobs.get(key, None).await.unwrap().unwrap();
    assert_eq!(blob.size, bytes.len() as u64);
    let (sizes, all) = chunks(blob).await;
    assert_eq!(sizes.len(), bytes.len() / PgBlobStore::CHUNK);
    assert!(sizes.iter().all(|&size| size == PgBlobStore::CHUNK), "{sizes:?}");
    assert!(all == bytes);

    // A range that starts and ends inside chunks: its first and last chunks are sliced.
    let range = (PgBlobStore::CHUNK as u64 - 7)..(3 * PgBlobStore::CHUNK as u64 + 5);
    let blob = blobs.get(key, Some(range.clone())).await.unwrap().unwrap();
    assert_eq!(blob.size, bytes.len() as u64);
    let (sizes, part) = chunks(blob).await;
    assert_eq!(sizes, [7, PgBlobStore::CHUNK, PgBlobStore::CHUNK, 5]);
    assert!(part == bytes[range.start as usize..range.end as usize]);
}

#[tokio::test]
#[cfg_attr(not(kanect_test_pg), ignore = "set KANECT_TEST_PG to run")]
async fn a_reconnected_store_reads_what_was_put() {
    let blobs = Blobs::fresh().await;
    let key = BlobKey::thumbnail(AttachmentId::new());
    let bytes = pattern(PgBlobStore::CHUNK + 1, 4);
    blobs.put(key, body(&bytes, 4096)).await.unwrap();
    let store = pg_support::reconnect(blobs.store).await;
    let (size, read) = {
        let blob = store.blobs().get(key, None).await.unwrap().unwrap();
        (blob.size, collect(blob.bytes).await.unwrap())
    };
    assert_eq!((size, read), (bytes.len() as u64, bytes));
}

#[tokio::test]
#[cfg_attr(not(kanect_test_pg), ignore = "set KANECT_TEST_PG to run")]
async fn a_blob_deleted_while_read_ends_its_stream_with_an_error() {
    let blobs = Blobs::fresh().await;
    let key = BlobKey::file(AttachmentId::new());
    blobs.put(key, body(&pattern(3 * PgBlobStore::CHUNK, 5), 65_536)).await.unwrap();
    let mut stream = blobs.get(key, None).await.unwrap().unwrap().bytes;
    assert_eq!(stream.next().await.unwrap().unwrap().len(), PgBlobStore::CHUNK);
    assert!(blobs.delete(key).await.unwrap());
    assert_eq!(rows(&blobs.schema()).await, (0, 0), "the chunks go with the blob");
    assert!(stream.next().await.unwrap().is_err());
    assert!(stream.next().await.is_none(), "nothing after the error");
}

#[tokio::test]
#[cfg_attr(not(kanect_test_pg), ignore = "set KANECT_TEST_PG to run")]
async fn a_key_is_put_once() {
    let blobs = Blobs::fresh().await;
    let key = BlobKey::file(AttachmentId::new());
    blobs.put(key, body(b"first", 2)).await.unwrap();
    let error = blobs.put(key, body(b"second", 2)).await.unwrap_err();
    assert!(matches!(error, PutError::Store(StoreError::Conflict(_))), "{error:?}");
    assert_eq!(collect(blobs.get(key, None).await.unwrap().unwrap().bytes).await.unwrap(), b"first");
}
