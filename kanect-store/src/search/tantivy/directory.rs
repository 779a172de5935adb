//! [`NoSync`]: tantivy's `MmapDirectory` without its `fsync`s.
//!
//! tantivy makes every commit durable: each new segment file, `meta.json` and the directory
//! are synced. On a disk whose cache flush is shared (a virtual disk that turns every sync into
//! a device flush), those syncs lengthen the store's own `fdatasync`s, which every durable send
//! waits for: indexing would slow the sends it is meant to stay off. The index needs no
//! durability of its own: it is derived from the store, and after an unclean stop it is caught
//! up by a full pass anyway (see the parent module). A process crash loses nothing written (the
//! kernel has it); a power loss may leave files half written, which an open that fails, or a
//! search error, shows, and which the rebuild repairs (`open_or_rebuild`; the engine's check
//! keeps a damaged index from ever returning a message the caller may not read). So writes go
//! through the page cache, unsynced, and are renamed into place as tantivy asks.

use std::fs::{File, OpenOptions};
use std::io::{self, BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tantivy::directory::error::{DeleteError, LockError, OpenReadError, OpenWriteError};
use tantivy::directory::{
    AntiCallToken, Directory, DirectoryLock, FileHandle, Lock, MmapDirectory, TerminatingWrite, WatchCallback,
    WatchHandle, WritePtr,
};

/// An `MmapDirectory` whose writes are never synced (see the module docs).
#[derive(Clone, Debug)]
pub(super) struct NoSync {
    inner: MmapDirectory,
    root: PathBuf,
}

impl NoSync {
    pub(super) fn open(root: &Path) -> tantivy::Result<NoSync> {
        let inner = MmapDirectory::open(root).map_err(|error| tantivy::TantivyError::SystemError(error.to_string()))?;
        Ok(NoSync { inner, root: root.to_path_buf() })
    }
}

/// A file written without a sync at the end.
struct Unsynced(File);

impl Write for Unsynced {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.0.flush()
    }
}

impl TerminatingWrite for Unsynced {
    fn terminate_ref(&mut self, _: AntiCallToken) -> io::Result<()> {
        self.0.flush()
    }
}

impl Directory for NoSync {
    fn get_file_handle(&self, path: &Path) -> Result<Arc<dyn FileHandle>, OpenReadError> {
        self.inner.get_file_handle(path)
    }

    fn delete(&self, path: &Path) -> Result<(), DeleteError> {
        self.inner.delete(path)
    }

    fn exists(&self, path: &Path) -> Result<bool, OpenReadError> {
        self.inner.exists(path)
    }

    fn open_write(&self, path: &Path) -> Result<WritePtr, OpenWriteError> {
        let full = self.root.join(path);
        let file = OpenOptions::new().write(true).create_new(true).open(&full).map_err(|error| match error.kind() {
            io::ErrorKind::AlreadyExists => OpenWriteError::FileAlreadyExists(path.to_path_buf()),
            _ => OpenWriteError::wrap_io_error(error, path.to_path_buf()),
        })?;
        Ok(BufWriter::new(Box::new(Unsynced(file))))
    }

    fn atomic_read(&self, path: &Path) -> Result<Vec<u8>, OpenReadError> {
        self.inner.atomic_read(path)
    }

    fn atomic_write(&self, path: &Path, data: &[u8]) -> io::Result<()> {
        let full = self.root.join(path);
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("file");
        let temporary = self.root.join(format!(".{name}.{}.tmp", uuid::Uuid::new_v4().simple()));
        std::fs::write(&temporary, data)?;
        std::fs::rename(&temporary, &full)
    }

    fn sync_directory(&self) -> io::Result<()> {
        Ok(())
    }

    fn acquire_lock(&self, lock: &Lock) -> Result<DirectoryLock, LockError> {
        self.inner.acquire_lock(lock)
    }

    fn watch(&self, watch_callback: WatchCallback) -> tantivy::Result<WatchHandle> {
        self.inner.watch(watch_callback)
    }
}
