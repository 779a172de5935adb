//! [`FsBlobStore`]: the core's blob conformance suite, and what only files can get wrong:
//! temporary files left behind, leftovers of a crash, file modes, reopening, and streaming.

#![cfg(unix)]

use futures_util::StreamExt;
use kanect_core::blob::{Blob, BlobKey, BlobStore, ByteStream, PutError};
use kanect_core::testing::blob::{body, collect, failing_body, pattern};
use kanect_core::{AttachmentId, StoreError};
use kanect_store::FsBlobStore;
use std::ops::Range;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;
use tempfile::TempDir;

/// An [`FsBlobStore`] in a temporary directory, removed with it.
struct TempBlobs {
    store: FsBlobStore,
    _dir: TempDir,
}

impl TempBlobs {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        Self { store: FsBlobStore::open(dir.path().join("blobs")).unwrap(), _dir: dir }
    }
}

#[async_trait::async_trait]
impl BlobStore for TempBlobs {
    async fn put(&self, key: BlobKey, body: ByteStream) -> Result<u64, PutError> {
        self.store.put(key, body).await
    }

    async fn get(&self, key: BlobKey, range: Option<Range<u64>>) -> Result<Option<Blob>, StoreError> {
        self.store.get(key, range).await
    }

    async fn delete(&self, key: BlobKey) -> Result<bool, StoreError> {
        self.store.delete(key).await
    }
}

kanect_core::blob_conformance!(async { TempBlobs::new() });

/// Every file under `dir`, at any depth.
fn files(dir: &Path) -> Vec<PathBuf> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            found.extend(files(&path));
        } else {
            found.push(path);
        }
    }
    found
}

fn mode(path: &Path) -> u32 {
    std::fs::metadata(path).unwrap().permissions().mode() & 0o777
}

async fn read(store: &FsBlobStore, key: BlobKey) -> Option<Vec<u8>> {
    let blob = store.get(key, None).await.unwrap()?;
    Some(collect(blob.bytes).await.unwrap())
}

#[tokio::test]
async fn a_failed_body_leaves_no_file() {
    let dir = tempfile::tempdir().unwrap();
    let store = FsBlobStore::open(dir.path()).unwrap();
    let key = BlobKey::file(AttachmentId::new());
    let error = store.put(key, failing_body(&pattern(300_000, 1))).await.unwrap_err();
    assert!(matches!(error, PutError::Body(_)), "{error:?}");
    assert_eq!(files(dir.path()), Vec::<PathBuf>::new());
    assert!(store.get(key, None).await.unwrap().is_none());
}

#[tokio::test]
async fn a_put_dropped_by_its_caller_leaves_no_file() {
    let dir = tempfile::tempdir().unwrap();
    let store = std::sync::Arc::new(FsBlobStore::open(dir.path()).unwrap());
    let key = BlobKey::file(AttachmentId::new());
    // An uploader that sends some bytes, then neither more nor an end.
    let stalled = futures_util::stream::iter([Ok(bytes::Bytes::from(pattern(100_000, 2)))])
        .chain(futures_util::stream::pending());
    let put = tokio::spawn({
        let store = store.clone();
        async move { store.put(key, Box::pin(stalled)).await }
    });
    let mut waited = Duration::ZERO;
    while files(&dir.path().join("tmp")).is_empty() {
        assert!(waited < Duration::from_secs(10), "the put never wrote its temporary file");
        tokio::time::sleep(Duration::from_millis(10)).await;
        waited += Duration::from_millis(10);
    }
    put.abort();
    assert!(put.await.unwrap_err().is_cancelled());
    assert_eq!(files(dir.path()), Vec::<PathBuf>::new());
    assert!(store.get(key, None).await.unwrap().is_none());
}

#[tokio::test]
async fn open_removes_what_a_crash_left_in_tmp_and_keeps_the_blobs() {
    let dir = tempfile::tempdir().unwrap();
    let key = BlobKey::file(AttachmentId::new());
    {
        let store = FsBlobStore::open(dir.path()).unwrap();
        store.put(key, body(b"kept", 2)).await.unwrap();
    }
    // What a SIGKILL mid-put leaves: a temporary file, whole or not.
    let leftovers = [dir.path().join("tmp/a.partial"), dir.path().join(format!("tmp/{key}.0123"))];
    for leftover in &leftovers {
        std::fs::write(leftover, b"half an upload").unwrap();
    }
    let store = FsBlobStore::open(dir.path()).unwrap();
    assert_eq!(files(&dir.path().join("tmp")), Vec::<PathBuf>::new());
    assert_eq!(read(&store, key).await.unwrap(), b"kept");
    assert_eq!(files(dir.path()).len(), 1, "only the blob");
}

#[tokio::test]
async fn files_are_the_owners_alone() {
    let parent = tempfile::tempdir().unwrap();
    let dir = parent.path().join("data/blobs");
    let store = FsBlobStore::open(&dir).unwrap();
    let key = BlobKey::thumbnail(AttachmentId::new());
    store.put(key, body(b"private", 3)).await.unwrap();
    let stored = files(&dir);
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].file_name().unwrap().to_str().unwrap(), key.to_string());
    assert_eq!(mode(&stored[0]), 0o600, "the blob");
    let shard = stored[0].parent().unwrap();
    assert_eq!(shard.parent().unwrap(), dir);
    for directory in [parent.path().join("data").as_path(), &dir, &dir.join("tmp"), shard] {
        assert_eq!(mode(directory), 0o700, "{}", directory.display());
    }
    assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 256 + 1, "the shards and tmp/");
}

#[tokio::test]
async fn a_reopened_store_reads_what_was_put_and_deletes_from_disk() {
    let dir = tempfile::tempdir().unwrap();
    let id = AttachmentId::new();
    let bytes = pattern(1_000_003, 4);
    {
        let store = FsBlobStore::open(dir.path()).unwrap();
        assert_eq!(store.put(BlobKey::file(id), body(&bytes, 40_000)).await.unwrap(), bytes.len() as u64);
        store.put(BlobKey::thumbnail(id), body(b"thumb", 5)).await.unwrap();
    }
    let store = FsBlobStore::open(dir.path()).unwrap();
    assert_eq!(read(&store, BlobKey::file(id)).await.unwrap(), bytes);
    assert_eq!(read(&store, BlobKey::thumbnail(id)).await.unwrap(), b"thumb");
    assert!(store.delete(BlobKey::file(id)).await.unwrap());
    assert_eq!(files(dir.path()).len(), 1, "the file is gone from the disk, the thumbnail stays");
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
async fn a_25_mib_blob_streams_in_chunks_in_and_out() {
    let dir = tempfile::tempdir().unwrap();
    let store = FsBlobStore::open(dir.path()).unwrap();
    let key = BlobKey::file(AttachmentId::new());
    let bytes = pattern(25 * 1024 * 1024, 5);
    assert_eq!(store.put(key, body(&bytes, 1024 * 1024)).await.unwrap(), bytes.len() as u64);

    let blob = store.get(key, None).await.unwrap().unwrap();
    assert_eq!(blob.size, bytes.len() as u64);
    let (sizes, all) = chunks(blob).await;
    assert!(sizes.len() >= bytes.len() / FsBlobStore::CHUNK, "{} chunks", sizes.len());
    assert!(sizes.iter().all(|&size| size > 0 && size <= FsBlobStore::CHUNK), "{sizes:?}");
    assert!(all == bytes);

    // A range across chunk boundaries: only its bytes, in chunks no bigger.
    let range = 100_000..(3 * FsBlobStore::CHUNK as u64 + 17);
    let blob = store.get(key, Some(range.clone())).await.unwrap().unwrap();
    assert_eq!(blob.size, bytes.len() as u64);
    let (sizes, part) = chunks(blob).await;
    assert!(sizes.len() > 1 && sizes.iter().all(|&size| size <= FsBlobStore::CHUNK), "{sizes:?}");
    assert!(part == bytes[range.start as usize..range.end as usize]);
}

#[tokio::test]
async fn a_file_cut_short_under_the_store_is_an_error_not_a_short_blob() {
    let dir = tempfile::tempdir().unwrap();
    let store = FsBlobStore::open(dir.path()).unwrap();
    let key = BlobKey::file(AttachmentId::new());
    store.put(key, body(&pattern(300_000, 6), 65_536)).await.unwrap();
    let blob = store.get(key, None).await.unwrap().unwrap();
    assert_eq!(blob.size, 300_000);
    let path = files(dir.path()).pop().unwrap();
    std::fs::OpenOptions::new().write(true).open(path).unwrap().set_len(100_000).unwrap();
    let error = collect(blob.bytes).await.unwrap_err();
    assert_eq!(error.kind(), std::io::ErrorKind::UnexpectedEof);
}

#[tokio::test]
async fn a_range_past_the_end_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let store = FsBlobStore::open(dir.path()).unwrap();
    let key = BlobKey::file(AttachmentId::new());
    store.put(key, body(b"0123456789", 4)).await.unwrap();
    assert_eq!(collect(store.get(key, Some(10..10)).await.unwrap().unwrap().bytes).await.unwrap(), b"");
    for past in [0..11, 11..11] {
        let error = store.get(key, Some(past.clone())).await.unwrap_err();
        assert!(matches!(error, StoreError::Corrupt(_)), "{past:?}: {error:?}");
    }
}

#[test]
fn a_store_cannot_open_where_a_file_is() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("blobs");
    std::fs::write(&file, b"not a directory").unwrap();
    assert!(matches!(FsBlobStore::open(&file), Err(StoreError::Backend(_))));
    std::fs::remove_file(&file).unwrap();
    std::fs::create_dir(&file).unwrap();
    std::fs::write(file.join("tmp"), b"not a directory either").unwrap();
    assert!(matches!(FsBlobStore::open(&file), Err(StoreError::Backend(_))));
}
