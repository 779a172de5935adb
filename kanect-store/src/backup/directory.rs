//! A complete backup in a directory: the dump and the attachments' bytes it refers to, so that
//! a restore (into any backend) serves every file again.
//!
//! ```text
//! DIR/dump.jsonl          the dump (see the parent module), complete: renamed into place last
//! DIR/blobs/              the bytes, as an FsBlobStore lays them out (shards, tmp/)
//! DIR/missing-blobs       keys the dump refers to that the source blob store did not have
//! ```
//!
//! The blobs directory *is* an [`FsBlobStore`]: each blob is copied with [`BlobStore::put`],
//! which writes a temporary file, syncs it, renames it into place and syncs its directory, and
//! streams (one chunk at a time: memory stays flat whatever the files' sizes). The same code
//! reads them back on restore, and an operator can copy the directory like a data directory's
//! `blobs`.
//!
//! # Which blobs
//! The dump is the list: every `attachment` record names its file (and its thumbnail, for an
//! image), every `user` record with an avatar names that picture. The copy reads the dump
//! back from the backup's own file rather than asking the store again, so the bytes copied are
//! exactly those the dump's records refer to, and a backup taken over a running server's API
//! (which only has the dump) lists its blobs the same way.
//!
//! # A repeated backup is incremental
//! A backup into a directory that holds an earlier one copies only the blobs it does not
//! have already at the size the dump records: a blob's key is a fresh id and its bytes never
//! change, so a key present at its size is the same file. Blobs of attachments deleted since
//! stay in `blobs/` (a restore ignores them); start a new directory to drop them. The dump is
//! written beside the old one and renamed over it once every blob it names is in place: the
//! directory holds the old backup, whole, or the new one, whole.
//!
//! # Blobs missing from the source
//! A blob the source store does not have (an attachment deleted between the dump's page and
//! the copy, on a running server; or a source already damaged) is skipped, counted, and its key
//! written to `missing-blobs`, so that a restore knows it was never there (its downloads fail,
//! as they did in the source) rather than lost from the backup.
//!
//! # Restore checks first
//! [`restore`] reads every blob in the directory and checks it against its record (the size
//! for every blob, and the SHA-256 for an attachment's file) *before* it imports anything: a
//! blob missing, cut short or changed fails the restore with the key named, and the target
//! store is left as it was. The bytes are checked again as they are copied into the target (a
//! file changed in between is refused and nothing is stored under its key). The price is
//! reading the bytes twice.

use super::{import, BackupError, Counts, Record};
use crate::FsBlobStore;
use bytes::Bytes;
use futures_util::StreamExt;
use kanect_core::backend::Store;
use kanect_core::blob::{BlobKey, BlobStore, ByteStream, PutError};
use sha2::{Digest, Sha256};
use std::collections::HashSet;
use std::fs::File;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

/// The dump in a backup directory.
pub const DUMP_FILE: &str = "dump.jsonl";

/// The blobs in a backup directory (an [`FsBlobStore`]).
pub const BLOBS_DIR: &str = "blobs";

/// The keys of blobs that were not in the source store, one a line.
pub const MISSING_FILE: &str = "missing-blobs";

/// The dump being written, renamed to [`DUMP_FILE`] once its blobs are in place.
const PENDING_DUMP: &str = "dump.jsonl.partial";

/// What a copy of blobs did.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Default)]
pub struct BlobCounts {
    /// Blobs copied.
    pub copied: u64,
    /// Their bytes.
    pub bytes: u64,
    /// Blobs the target had already (an incremental backup), not copied again.
    pub present: u64,
    /// Blobs the dump refers to that the source did not have.
    pub missing: u64,
}

impl std::fmt::Display for BlobCounts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} blobs copied ({} bytes), {} already there, {} missing from the source",
            self.copied, self.bytes, self.present, self.missing
        )
    }
}

/// A blob a dump refers to, and what its record says of it.
struct Expected {
    key: BlobKey,
    /// Its size, when the record has it (an avatar's is not recorded).
    size: Option<u64>,
    /// The SHA-256 of its bytes, lowercase hex, when the record has it (an attachment's file).
    sha256: Option<String>,
}

/// The blobs that one dump line refers to: none for most records.
fn referred(record: &Record) -> Vec<Expected> {
    match record {
        // An upload still under way when the dump was taken (a running server's): its record
        // has no size nor digest yet, and its bytes, if they land before the blobs are copied,
        // do not match the record the dump holds. The import keeps the record as it was.
        Record::Attachment { attachment } if attachment.meta.sha256.is_empty() => Vec::new(),
        Record::Attachment { attachment } => {
            let meta = &attachment.meta;
            let mut blobs = vec![Expected {
                key: BlobKey::file(meta.id),
                size: Some(meta.size),
                sha256: Some(meta.sha256.clone()),
            }];
            if meta.image.is_some() {
                let size = Some(attachment.thumbnail_size);
                blobs.push(Expected { key: BlobKey::thumbnail(meta.id), size, sha256: None });
            }
            blobs
        }
        Record::User { user, .. } => {
            user.avatar.map(|id| Expected { key: BlobKey::avatar(id), size: None, sha256: None }).into_iter().collect()
        }
        _ => Vec::new(),
    }
}

/// Calls `each` with every blob the dump at `path` refers to, in the dump's order. A line
/// that does not parse is an error with its number: the dump was written (or checked) first,
/// so this is a file changed under the backup.
async fn for_each_blob(
    path: &Path,
    mut each: impl AsyncFnMut(Expected) -> Result<(), BackupError>,
) -> Result<(), BackupError> {
    let input = File::open(path).map_err(|error| at_path(path, error))?;
    let mut input = BufReader::new(input);
    // A dump of another version is refused as such, before any blob is read.
    super::read_header(&mut input)?;
    let mut text = String::new();
    let mut line = 1;
    loop {
        text.clear();
        line += 1;
        if input.read_line(&mut text)? == 0 {
            return Ok(());
        }
        let record: Record = serde_json::from_str(&text)
            .map_err(|error| BackupError::Line { line, reason: format!("not a dump record: {error}") })?;
        for expected in referred(&record) {
            each(expected).await?;
        }
    }
}

/// A backup directory being written: [`backup`] does every step; a backup whose dump comes
/// from elsewhere (a running server's API) writes it to [`BackupDir::pending_dump`] and then
/// calls [`BackupDir::save_blobs`].
#[derive(Debug)]
pub struct BackupDir {
    dir: PathBuf,
    /// The backup's blobs, as a blob store.
    blobs: FsBlobStore,
}

impl BackupDir {
    /// Creates `dir` (and its parents) if missing and opens its blob store. A directory that
    /// holds anything but a backup's own files (an earlier backup, or one cut short) is
    /// refused, so a mistyped path never mixes a backup into other files. Blocks on the file
    /// system.
    ///
    /// # Errors
    /// [`BackupError::NotBackup`] for a non-empty directory without a dump, or a path that is
    /// not a directory; [`BackupError::Io`] or [`BackupError::Store`] when it cannot be
    /// created or read.
    pub fn prepare(dir: impl Into<PathBuf>) -> Result<BackupDir, BackupError> {
        let dir = dir.into();
        match std::fs::read_dir(&dir) {
            Ok(entries) => {
                // A backup's own names only: a first backup cut short has its blobs and its
                // pending dump, and no dump yet, and is still the place to try again.
                for entry in entries {
                    let name = entry?.file_name();
                    let name = name.to_string_lossy();
                    let ours = name == BLOBS_DIR
                        || name.starts_with(MISSING_FILE)
                        || name.trim_start_matches('.').starts_with(DUMP_FILE);
                    if !ours {
                        return Err(BackupError::NotBackup(format!(
                            "{} is not empty and not a backup's ({name} is no backup's file): back up into a new or \
                             empty directory, or an earlier backup's",
                            dir.display()
                        )));
                    }
                }
            }
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
            Err(error) if error.kind() == std::io::ErrorKind::NotADirectory => {
                return Err(BackupError::NotBackup(format!("{} is not a directory", dir.display())));
            }
            Err(error) => return Err(at_path(&dir, error)),
        }
        let blobs = FsBlobStore::open(dir.join(BLOBS_DIR))?;
        Ok(BackupDir { dir, blobs })
    }

    /// Where the new dump goes before [`BackupDir::save_blobs`] renames it into place.
    pub fn pending_dump(&self) -> PathBuf {
        self.dir.join(PENDING_DUMP)
    }

    /// Writes `store`'s dump to [`BackupDir::pending_dump`], synced. Its writes block, as
    /// [`export`](super::export)'s.
    ///
    /// # Errors
    /// As [`export`](super::export).
    pub async fn export<S: Store + ?Sized>(&self, store: &S) -> Result<Counts, BackupError> {
        let path = self.pending_dump();
        let file = private_file(&path).map_err(|error| at_path(&path, error))?;
        let mut writer = std::io::BufWriter::new(file);
        let counts = super::export(store, &mut writer).await?;
        writer.into_inner().map_err(|error| error.into_error())?.sync_all()?;
        Ok(counts)
    }

    /// Copies every blob the pending dump refers to from `from` into the backup (those there
    /// already at their size are skipped: see the module docs), records those `from` lacks in
    /// [`MISSING_FILE`], and then renames the dump into place and syncs the directory: only
    /// now is the backup complete.
    ///
    /// # Errors
    /// [`BackupError::Store`] when `from` or the backup's blob store fails (a full disk); the
    /// earlier backup in the directory, if any, is still whole.
    pub async fn save_blobs(&self, from: &dyn BlobStore) -> Result<BlobCounts, BackupError> {
        let mut counts = BlobCounts::default();
        let mut missing = Vec::new();
        for_each_blob(&self.pending_dump(), async |expected: Expected| {
            if let Some(there) = self.blobs.get(expected.key, None).await? {
                if expected.size.is_none_or(|size| size == there.size) {
                    counts.present += 1;
                    return Ok(());
                }
            }
            // Not there, or not the bytes of the record dumped (changed since by a running
            // server): the backup is told it lacks them rather than given bytes that the restore
            // would refuse.
            let blob = from.get(expected.key, None).await?;
            let Some(blob) = blob.filter(|blob| expected.size.is_none_or(|size| size == blob.size)) else {
                tracing::warn!(key = %expected.key, "a blob the dump refers to is not in the blob store as recorded");
                counts.missing += 1;
                missing.push(expected.key);
                return Ok(());
            };
            let bytes =
                self.blobs.put(expected.key, blob.bytes).await.map_err(|error| put_failed(expected.key, error))?;
            counts.copied += 1;
            counts.bytes += bytes;
            Ok(())
        })
        .await?;
        // The list goes into place before the dump, and keeps the earlier backup's keys as
        // well: whichever dump a crash leaves, the list excuses every blob it lacks. A key
        // listed but present is harmless (a restore only asks the list about absent blobs).
        let list = self.dir.join(MISSING_FILE);
        let mut keys: Vec<String> = missing.iter().map(ToString::to_string).collect();
        keys.extend(missing_keys(&list)?.iter().map(ToString::to_string));
        keys.sort();
        keys.dedup();
        if !keys.is_empty() {
            let pending = self.dir.join(format!("{MISSING_FILE}.pending"));
            let mut file = private_file(&pending).map_err(|error| at_path(&pending, error))?;
            for key in &keys {
                writeln!(file, "{key}")?;
            }
            file.sync_all()?;
            std::fs::rename(&pending, &list).map_err(|error| at_path(&list, error))?;
        }
        std::fs::rename(self.pending_dump(), self.dir.join(DUMP_FILE))?;
        File::open(&self.dir)?.sync_all()?;
        Ok(counts)
    }
}

/// A complete backup of `store` and its `blobs` into `dir`: the dump in `dir/dump.jsonl` and
/// the bytes of every attachment and avatar it refers to under `dir/blobs` (see the module
/// docs for the layout, and for what a repeated backup into the same directory does). Its file
/// I/O blocks, as [`export`](super::export)'s: run it from a command-line tool, or where a
/// blocked thread does no harm.
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// # let dir = tempfile::tempdir()?;
/// use kanect_core::blob::MemoryBlobStore;
/// use kanect_core::MemoryStore;
/// use kanect_store::backup;
///
/// let (store, blobs) = (MemoryStore::new(), MemoryBlobStore::new());
/// let (records, bytes) = backup::backup(&store, &blobs, dir.path().join("backup")).await?;
/// assert_eq!((records.total(), bytes.copied), (0, 0));
///
/// let (restored, restored_blobs) = (MemoryStore::new(), MemoryBlobStore::new());
/// backup::restore(&restored, &restored_blobs, dir.path().join("backup")).await?;
/// # Ok(()) }
/// ```
///
/// # Errors
/// As [`BackupDir::prepare`], [`BackupDir::export`] and [`BackupDir::save_blobs`].
pub async fn backup<S: Store + ?Sized>(
    store: &S,
    blobs: &dyn BlobStore,
    dir: impl Into<PathBuf>,
) -> Result<(Counts, BlobCounts), BackupError> {
    let dir = BackupDir::prepare(dir)?;
    let counts = dir.export(store).await?;
    let blobs = dir.save_blobs(blobs).await?;
    Ok((counts, blobs))
}

/// Restores a backup that [`backup`] wrote in `dir` into `store`, which must be empty, and
/// its bytes into `blobs`. Every blob is checked against its record before anything is
/// imported (see the module docs), so a damaged backup leaves the target as it was. File I/O
/// blocks, as [`backup`]'s.
///
/// # Errors
/// [`BackupError::NotBackup`] when `dir` has no dump; [`BackupError::Blob`] for a blob missing
/// from the backup (and not listed in its `missing-blobs`), or of the wrong size or checksum;
/// then as [`import`] (a non-empty store: [`BackupError::NotEmpty`]). A failure while copying
/// the blobs into `blobs`, after the import (the target's disk full), leaves the records
/// imported and some bytes not: restore into a fresh store again.
pub async fn restore<S: Store + ?Sized>(
    store: &S,
    blobs: &dyn BlobStore,
    dir: impl Into<PathBuf>,
) -> Result<(Counts, BlobCounts), BackupError> {
    let dir = dir.into();
    let dump = dir.join(DUMP_FILE);
    if !dump.is_file() {
        return Err(BackupError::NotBackup(format!("{} has no {DUMP_FILE}", dir.display())));
    }
    let missing = missing_keys(&dir.join(MISSING_FILE))?;
    // Read only: a backup on a read-only mount, or owned by someone else, restores as well.
    let saved = FsBlobStore::open_read_only(dir.join(BLOBS_DIR))?;
    // First every blob, read whole and checked, so that nothing is imported from a damaged backup.
    for_each_blob(&dump, async |expected: Expected| {
        let Some(stream) = checked(&saved, &expected, &missing).await? else { return Ok(()) };
        let mut stream = stream;
        while let Some(chunk) = stream.next().await {
            chunk.map_err(|error| BackupError::Blob { key: expected.key.to_string(), reason: error.to_string() })?;
        }
        Ok(())
    })
    .await?;
    let input = File::open(&dump).map_err(|error| at_path(&dump, error))?;
    let counts = import(store, BufReader::new(input)).await?;
    store.flush().await?;
    let mut copied = BlobCounts::default();
    for_each_blob(&dump, async |expected: Expected| {
        let Some(stream) = checked(&saved, &expected, &missing).await? else {
            copied.missing += 1;
            return Ok(());
        };
        copied.bytes += blobs.put(expected.key, stream).await.map_err(|error| put_failed(expected.key, error))?;
        copied.copied += 1;
        Ok(())
    })
    .await?;
    Ok((counts, copied))
}

/// The backup's blob for `expected` as a stream that fails at its end unless the bytes match
/// the record (size, and SHA-256 where recorded); None for a key the backup lists as missing
/// from its source.
async fn checked(
    saved: &FsBlobStore,
    expected: &Expected,
    missing: &HashSet<String>,
) -> Result<Option<ByteStream>, BackupError> {
    let key = expected.key;
    let failed = |reason: String| BackupError::Blob { key: key.to_string(), reason };
    let Some(blob) = saved.get(key, None).await? else {
        if missing.contains(&key.to_string()) {
            return Ok(None);
        }
        return Err(failed(format!("not in {BLOBS_DIR}/ (the backup is incomplete)")));
    };
    if let Some(size) = expected.size.filter(|&size| size != blob.size) {
        return Err(failed(format!("{} bytes in the backup, its record says {size}", blob.size)));
    }
    let Some(sha256) = expected.sha256.clone() else { return Ok(Some(blob.bytes)) };
    let state = (blob.bytes, Some(Sha256::new()));
    Ok(Some(Box::pin(futures_util::stream::unfold(state, move |(mut bytes, hasher)| {
        let sha256 = sha256.clone();
        async move {
            let mut hasher = hasher?;
            match bytes.next().await {
                Some(Ok(chunk)) => {
                    hasher.update(&chunk);
                    Some((Ok::<Bytes, std::io::Error>(chunk), (bytes, Some(hasher))))
                }
                Some(Err(error)) => Some((Err(error), (bytes, None))),
                None => {
                    let digest: String = hasher.finalize().iter().map(|byte| format!("{byte:02x}")).collect();
                    if digest == sha256 {
                        return None;
                    }
                    let error = std::io::Error::new(
                        std::io::ErrorKind::InvalidData,
                        format!("its SHA-256 is {digest}, its record says {sha256} (the file is damaged)"),
                    );
                    Some((Err(error), (bytes, None)))
                }
            }
        }
    }))))
}

/// The keys a backup lists as missing from its source; none if it has no list.
fn missing_keys(path: &Path) -> Result<HashSet<String>, BackupError> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(text.lines().map(str::to_string).collect()),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(HashSet::new()),
        Err(error) => Err(at_path(path, error)),
    }
}

/// A new file readable by its owner only (a dump holds password hashes and every message).
fn private_file(path: &Path) -> std::io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(path)
}

/// An I/O error that names its path.
fn at_path(path: &Path, error: std::io::Error) -> BackupError {
    BackupError::Io(std::io::Error::new(error.kind(), format!("{}: {error}", path.display())))
}

/// A put that failed, as the blob it was for.
fn put_failed(key: BlobKey, error: PutError) -> BackupError {
    match error {
        PutError::Store(error) => BackupError::Store(error),
        PutError::Body(error) => BackupError::Blob { key: key.to_string(), reason: error.to_string() },
    }
}
