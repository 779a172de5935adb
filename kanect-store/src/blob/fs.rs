//! [`FsBlobStore`]: blobs as files under a directory, for the embedded servers
//! (`<data-dir>/blobs`).
//!
//! # Durability: a put is all there or not there
//! A put writes the body to a new file in `tmp/`, `fdatasync`s it, renames it to its key's
//! name in its shard directory, and `fsync`s that directory; only then does it return.
//! Each step is there for a crash or a power loss at the worst moment:
//!
//! - *Write elsewhere, then rename*: a rename is atomic, so a key's name is either absent or
//!   names a whole file, never one cut short, and a reader never sees a put in progress.
//! - *`fdatasync` before the rename*: file systems write data lazily and may commit the rename
//!   first (ext4's delayed allocation, XFS); after a power loss the name would then point at a
//!   short or zero-filled file. `fdatasync` also writes the size, what reading the data needs.
//! - *`fsync` the directory after*: the rename is a change to the directory, and until the
//!   directory is synced a power loss may forget it; the acknowledged blob would be gone (its
//!   file back in `tmp/`).
//!
//! A body that fails, a write that fails, and a put dropped by its caller (an upload cut off)
//! remove the temporary file at once; a crash leaves it in `tmp/`, which
//! [`FsBlobStore::open`] empties. `tmp/` is inside the store's directory, so on its file system:
//! the rename never copies. A put dropped during its final rename may still complete it, as a
//! crash just after the rename would: the blob is then stored but was never acknowledged.
//!
//! # On disk
//! ```text
//! <dir>/tmp/<key>.<random>    puts in progress, emptied by open
//! <dir>/00/ ... <dir>/ff/     256 shards, by the last byte of the attachment id
//! <dir>/3a/<key>              a blob: <uuid> for a file, <uuid>.thumb for its thumbnail
//! ```
//! Shards keep any one directory from holding millions of entries (slow to look up on some
//! file systems, and to list everywhere). They go by the id's *last* byte because it is
//! random: the first bytes are a timestamp (ids are UUIDv7) and would put every file of a few
//! decades in one shard. A file and its thumbnail share a shard. Open creates all 256 shards
//! and syncs the directory once, so that no put ever creates a directory, or has to make one
//! durable, or races another put to do so.
//!
//! Files are created with mode 0600 and directories 0700 (less if the umask says so):
//! attachments are users' private files, for the server's user alone.
//!
//! # Reads
//! A get opens the file, seeks to the range and streams it in chunks of
//! [`FsBlobStore::CHUNK`] bytes, each read on the store's I/O threads when the reader pulls; it
//! holds no more than one chunk. A delete meanwhile unlinks the name, and the open file reads
//! on to its end.
//!
//! # Threads
//! Every file operation (open, write, sync, rename, read, removal) runs on the store's own
//! [`FsBlobStore::IO_THREADS`] threads, not on tokio's blocking pool, so that the memory and
//! the threads blob I/O takes stay the same however many uploads are in flight (see
//! `io_threads`).

use super::io_threads::IoThreads;
use super::requested;
use async_trait::async_trait;
use bytes::Bytes;
use futures_util::StreamExt;
use kanect_core::blob::{Blob, BlobKey, BlobStore, ByteStream, PutError};
use kanect_core::StoreError;
use std::fs::{DirBuilder, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::ops::Range;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

/// The subdirectory of puts in progress.
const TMP: &str = "tmp";

/// The mode of blob files: the server's user reads and writes them, nobody else.
const FILE_MODE: u32 = 0o600;

/// The mode of the store's directories.
const DIR_MODE: u32 = 0o700;

/// A [`BlobStore`] of files under a directory: the embedded servers' (`<data-dir>/blobs`).
///
/// An acknowledged put survives a crash and a power loss; a failed one leaves nothing (see
/// the module docs for the steps and why each). Gets stream the file in chunks of
/// [`FsBlobStore::CHUNK`] bytes and honour ranges by seeking. A put under a key already
/// stored replaces it (the engine never makes one: its keys are new ids). Unix only (it syncs
/// directories and sets file modes).
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let dir = tempfile::tempdir()?;
/// use kanect_core::blob::{BlobKey, BlobStore};
/// use kanect_core::AttachmentId;
/// use kanect_store::FsBlobStore;
///
/// let blobs = FsBlobStore::open(dir.path().join("blobs"))?;
/// let key = BlobKey::file(AttachmentId::new());
/// let body = futures_util::stream::iter([Ok(bytes::Bytes::from_static(b"hello"))]);
/// assert_eq!(blobs.put(key, Box::pin(body)).await?, 5);
/// let blob = blobs.get(key, Some(1..5)).await?.expect("just put");
/// assert_eq!(blob.size, 5);
/// # Ok(()) }
/// ```
#[derive(Debug)]
pub struct FsBlobStore {
    /// The store's directory: `tmp/` and the shards are in it.
    dir: PathBuf,
    /// Where every read, write, sync, rename and removal of a put, get or delete runs.
    io: IoThreads,
    /// Opened by [`FsBlobStore::open_read_only`]: another process owns the directory.
    read_only: bool,
}

impl FsBlobStore {
    /// The most a get's stream yields at once: what one read on an I/O thread fetches.
    /// Big enough that a read's trip to the pool costs little next to it, small enough that
    /// thousands of downloads at once hold little memory.
    pub const CHUNK: usize = 64 * 1024;

    /// How many threads of its own the store does its file I/O on (see `io_threads`): enough
    /// that a slow sync does not hold up every other put and get, few enough that their
    /// memory stays small.
    pub const IO_THREADS: usize = 4;

    /// Opens the store in `dir`, creating it (and its missing parents) if need be, and removes
    /// what a crash left in its `tmp/`: puts that were never acknowledged. Blocks on the file
    /// system: call it at startup, as `FjallStore::open`.
    ///
    /// # Errors
    /// [`StoreError::Backend`] when the directory or its subdirectories cannot be created,
    /// listed or synced, or `tmp/` cannot be emptied (a path that is a file, no permission), or
    /// its I/O threads cannot be started.
    pub fn open(dir: impl Into<PathBuf>) -> Result<FsBlobStore, StoreError> {
        let dir = dir.into();
        create_dir_all_durably(&dir).map_err(|error| backend(&dir, error))?;
        let tmp = dir.join(TMP);
        let mut created = create_dir(&tmp)?;
        let removed = empty(&tmp)?;
        for shard in 0..=u8::MAX {
            created |= create_dir(&dir.join(shard_name(shard)))?;
        }
        if created {
            sync_dir(&dir).map_err(|error| backend(&dir, error))?;
        }
        if removed > 0 {
            tracing::info!(removed, dir = %tmp.display(), "removed the temporary files of puts a crash cut short");
        }
        let io = IoThreads::start(Self::IO_THREADS).map_err(StoreError::backend)?;
        Ok(FsBlobStore { dir, io, read_only: false })
    }

    /// Opens the store in `dir`, which must exist, to read it beside the process that owns it
    /// (a running server's `<data-dir>/blobs`, for a backup): it creates nothing and leaves
    /// `tmp/` alone, whose files are that process's puts in progress. Reading beside a writer
    /// is safe because a blob's file is complete once it has its name, and never changes.
    ///
    /// # Errors
    /// [`StoreError::Backend`] when `dir` is not a directory or the I/O threads cannot be
    /// started. Its puts and deletes fail with [`StoreError::Backend`] (permission denied).
    pub fn open_read_only(dir: impl Into<PathBuf>) -> Result<FsBlobStore, StoreError> {
        let dir = dir.into();
        if !std::fs::metadata(&dir).map_err(|error| backend(&dir, error))?.is_dir() {
            return Err(backend(&dir, io::Error::new(io::ErrorKind::NotADirectory, "not a directory")));
        }
        let io = IoThreads::start(Self::IO_THREADS).map_err(StoreError::backend)?;
        Ok(FsBlobStore { dir, io, read_only: true })
    }

    /// The error of a put or delete on a store opened read-only.
    fn refuse_write(&self) -> Result<(), StoreError> {
        if self.read_only {
            return Err(backend(&self.dir, io::Error::new(io::ErrorKind::PermissionDenied, "opened read-only")));
        }
        Ok(())
    }

    /// Where the blob under `key` lives.
    fn path(&self, key: BlobKey) -> PathBuf {
        let shard = key.attachment.to_bytes()[15];
        self.dir.join(shard_name(shard)).join(key.to_string())
    }

    /// Writes `body` to the new file `temp` and syncs it; returns its size.
    ///
    /// Each chunk is written as it came, on the store's I/O threads, while the next one is
    /// read: one write in flight, no copy. (`tokio::fs::File` would copy every chunk into a
    /// buffer of the file's own first: memory per upload in flight, and a pass over every
    /// byte.) A put dropped mid-write leaves its last write to finish on its thread; the file
    /// is then closed, and the [`Temporary`] has removed its name.
    async fn write(&self, temp: &Path, mut body: ByteStream) -> Result<u64, PutError> {
        let path = temp.to_path_buf();
        // The open is the first step in flight; the first chunk is read meanwhile.
        let mut writing =
            self.io.run(move || OpenOptions::new().write(true).create_new(true).mode(FILE_MODE).open(path));
        let mut size = 0u64;
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map_err(PutError::Body)?;
            let file = writing.await?.map_err(|error| backend(temp, error))?;
            size += chunk.len() as u64;
            writing = self.io.run(move || (&file).write_all(&chunk).map(|()| file));
        }
        let file = writing.await?.map_err(|error| backend(temp, error))?;
        self.io.run(move || file.sync_data()).await?.map_err(|error| backend(temp, error))?;
        Ok(size)
    }
}

#[async_trait]
impl BlobStore for FsBlobStore {
    /// Writes `body` to a temporary file and moves it into place durably (see the module
    /// docs); returns its size once a power loss would keep it.
    ///
    /// # Errors
    /// [`PutError::Body`] when `body` yields an error; [`PutError::Store`] with
    /// [`StoreError::Backend`] when a write, sync or rename fails (a full disk). Either way the
    /// temporary file is removed and nothing is stored under `key`.
    async fn put(&self, key: BlobKey, body: ByteStream) -> Result<u64, PutError> {
        self.refuse_write()?;
        let temp = Temporary(Some(self.dir.join(TMP).join(format!("{key}.{}", uuid::Uuid::new_v4().simple()))));
        let size = self.write(temp.path(), body).await?;
        let target = self.path(key);
        // From here the rename runs to its end even if this future is dropped (a queued job is
        // not cancelled), so the temporary file is its to remove.
        let temp = temp.disarm();
        self.io
            .run(move || {
                if let Err(error) = std::fs::rename(&temp, &target) {
                    remove_quietly(&temp);
                    return Err(backend(&target, error));
                }
                let shard = target.parent().expect("a blob's path is in a shard");
                if let Err(error) = sync_dir(shard) {
                    // Not durable, so not acknowledged: take it back rather than leave a blob
                    // that a power loss may or may not keep.
                    remove_quietly(&target);
                    return Err(backend(shard, error));
                }
                Ok(())
            })
            .await??;
        Ok(size)
    }

    /// Opens the blob's file; its stream reads it a chunk at a time as it is pulled, and ends
    /// with an error if the file turns out shorter than it was at the open.
    ///
    /// # Errors
    /// [`StoreError::Corrupt`] when `range` does not lie within the blob;
    /// [`StoreError::Backend`] when the file cannot be opened (other than not being there) or
    /// sought.
    async fn get(&self, key: BlobKey, range: Option<Range<u64>>) -> Result<Option<Blob>, StoreError> {
        let path = self.path(key);
        let opening = path.clone();
        let opened = self
            .io
            .run(move || match File::open(opening) {
                Ok(file) => file.metadata().map(|metadata| Some((file, metadata.len()))),
                Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(None),
                Err(error) => Err(error),
            })
            .await?
            .map_err(|error| backend(&path, error))?;
        let Some((file, size)) = opened else {
            return Ok(None);
        };
        let range = requested(key, range, size)?;
        let left = range.end - range.start;
        let file = if range.start > 0 {
            self.io
                .run(move || (&file).seek(SeekFrom::Start(range.start)).map(|_| file))
                .await?
                .map_err(|error| backend(&path, error))?
        } else {
            file
        };
        Ok(Some(Blob { size, bytes: read_chunks(self.io.clone(), file, left) }))
    }

    /// Removes the blob's file and syncs its directory, so that the removal survives a power
    /// loss.
    ///
    /// # Errors
    /// [`StoreError::Backend`] when the file cannot be removed or the directory synced.
    async fn delete(&self, key: BlobKey) -> Result<bool, StoreError> {
        self.refuse_write()?;
        let path = self.path(key);
        self.io
            .run(move || match std::fs::remove_file(&path) {
                Ok(()) => {
                    let shard = path.parent().expect("a blob's path is in a shard");
                    sync_dir(shard).map_err(|error| backend(shard, error))?;
                    Ok(true)
                }
                Err(error) if error.kind() == io::ErrorKind::NotFound => Ok(false),
                Err(error) => Err(backend(&path, error)),
            })
            .await?
    }
}

/// The next `left` bytes of `file`, in chunks of at most [`FsBlobStore::CHUNK`] bytes, each
/// read on `io` when the reader pulls. A file that ends early (it was truncated under the
/// store) is an [`io::ErrorKind::UnexpectedEof`] error after the bytes there were.
fn read_chunks(io: IoThreads, file: File, left: u64) -> ByteStream {
    Box::pin(futures_util::stream::unfold(Some((file, left)), move |state| {
        let io = io.clone();
        async move {
            let (file, left) = state?;
            if left == 0 {
                return None;
            }
            let want = left.min(FsBlobStore::CHUNK as u64);
            let read = io.run(move || {
                // Read into spare capacity: nothing is zeroed first.
                let mut chunk = Vec::with_capacity(want as usize);
                let read = (&file).take(want).read_to_end(&mut chunk);
                (file, read.map(|_| chunk))
            });
            match read.await {
                Ok((_, Ok(chunk))) if chunk.is_empty() => {
                    Some((Err(io::Error::new(io::ErrorKind::UnexpectedEof, "the blob's file ended early")), None))
                }
                Ok((file, Ok(chunk))) => {
                    let left = left - chunk.len() as u64;
                    Some((Ok(Bytes::from(chunk)), Some((file, left))))
                }
                Ok((_, Err(error))) => Some((Err(error), None)),
                Err(error) => Some((Err(io::Error::other(error)), None)),
            }
        }
    }))
}

/// A put's temporary file, removed on drop (a failed body or write, or the put dropped by its
/// caller) unless [`Temporary::disarm`]ed.
struct Temporary(Option<PathBuf>);

impl Temporary {
    fn path(&self) -> &Path {
        self.0.as_deref().expect("armed until disarmed, which consumes it")
    }

    /// The path, no longer removed on drop.
    fn disarm(mut self) -> PathBuf {
        self.0.take().expect("armed until disarmed, which consumes it")
    }
}

impl Drop for Temporary {
    fn drop(&mut self) {
        // A blocking unlink in async code, but one short system call, on the failure path.
        if let Some(path) = self.0.take() {
            remove_quietly(&path);
        }
    }
}

/// Removes a file of a failed put, if it is there. A failure is only logged: the put's own
/// error is the one to report, and what stays in `tmp/` goes at the next open.
fn remove_quietly(path: &Path) {
    match std::fs::remove_file(path) {
        Ok(()) => {}
        Err(error) if error.kind() == io::ErrorKind::NotFound => {}
        Err(error) => tracing::warn!(%error, path = %path.display(), "cannot remove a failed put's file"),
    }
}

/// The name of shard `shard`: two lower-case hex digits.
fn shard_name(shard: u8) -> String {
    format!("{shard:02x}")
}

/// Creates `dir` and its missing parents (mode [`DIR_MODE`]), and syncs the parent of each
/// one it created, so that the whole path survives a power loss.
fn create_dir_all_durably(dir: &Path) -> io::Result<()> {
    let missing: Vec<&Path> =
        dir.ancestors().take_while(|path| !path.as_os_str().is_empty() && !path.exists()).collect();
    DirBuilder::new().recursive(true).mode(DIR_MODE).create(dir)?;
    for created in missing {
        match created.parent() {
            Some(parent) if !parent.as_os_str().is_empty() => sync_dir(parent)?,
            _ => sync_dir(Path::new("."))?,
        }
    }
    Ok(())
}

/// Creates the directory `dir` (mode [`DIR_MODE`]) unless it exists; true if it created it.
fn create_dir(dir: &Path) -> Result<bool, StoreError> {
    match DirBuilder::new().mode(DIR_MODE).create(dir) {
        Ok(()) => Ok(true),
        Err(error) if error.kind() == io::ErrorKind::AlreadyExists && dir.is_dir() => Ok(false),
        Err(error) => Err(backend(dir, error)),
    }
}

/// Removes every file in `dir`; returns how many there were.
fn empty(dir: &Path) -> Result<usize, StoreError> {
    let mut removed = 0;
    for entry in std::fs::read_dir(dir).map_err(|error| backend(dir, error))? {
        let path = entry.map_err(|error| backend(dir, error))?.path();
        std::fs::remove_file(&path).map_err(|error| backend(&path, error))?;
        removed += 1;
    }
    Ok(removed)
}

/// `fsync`s the directory `dir`: the entries created, renamed or removed in it are durable.
fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// An I/O error at `path`, as a backend failure that names the path.
fn backend(path: &Path, error: io::Error) -> StoreError {
    StoreError::backend(io::Error::new(error.kind(), format!("{}: {error}", path.display())))
}

#[cfg(test)]
mod tests {
    use super::*;
    use kanect_core::AttachmentId;

    #[test]
    fn a_file_and_its_thumbnail_share_the_shard_of_the_ids_last_byte() {
        let store = FsBlobStore { dir: PathBuf::from("/blobs"), io: IoThreads::start(0).unwrap(), read_only: false };
        let mut bytes = [0x11; 16];
        bytes[15] = 0xa7;
        let id = AttachmentId::from_bytes(bytes);
        assert_eq!(store.path(BlobKey::file(id)), Path::new(&format!("/blobs/a7/{id}")));
        assert_eq!(store.path(BlobKey::thumbnail(id)), Path::new(&format!("/blobs/a7/{id}.thumb")));
    }

    #[tokio::test]
    async fn a_store_opened_read_only_reads_and_refuses_writes_and_leaves_tmp_alone() {
        let dir = tempfile::tempdir().unwrap();
        let owner = FsBlobStore::open(dir.path()).unwrap();
        let key = BlobKey::file(AttachmentId::new());
        owner.put(key, kanect_core::blob::once(Bytes::from_static(b"bytes"))).await.unwrap();
        let in_progress = dir.path().join(TMP).join("another-process-put");
        std::fs::write(&in_progress, b"half").unwrap();

        let reader = FsBlobStore::open_read_only(dir.path()).unwrap();
        assert_eq!(reader.get(key, None).await.unwrap().expect("stored").size, 5);
        assert!(in_progress.exists(), "a put in progress is the owner's");
        let other = BlobKey::file(AttachmentId::new());
        let refused = reader.put(other, kanect_core::blob::once(Bytes::from_static(b"x"))).await.unwrap_err();
        assert!(matches!(refused, PutError::Store(StoreError::Backend(_))), "{refused:?}");
        assert!(reader.delete(key).await.is_err());
        assert!(owner.get(key, None).await.unwrap().is_some(), "the delete was refused");
        assert!(FsBlobStore::open_read_only(dir.path().join("none")).is_err(), "a missing directory");
    }
}
