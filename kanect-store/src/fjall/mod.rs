//! [`FjallStore`]: the store on fjall, a maintained LSM-tree engine with its own journal.
//!
//! # Durability
//! *Acknowledged means durable.* Every write commits one fjall write batch (atomic: all its
//! keys or none, also across a crash) and returns only after a sync of fjall's journal that
//! covers it (`fdatasync`, see `sync`): concurrent writes share one sync, and there is no
//! journal of Kanect's own. A duplicate append, or a conversation found to exist, waits for a
//! sync too: the record it reports may have been committed by another writer a moment ago.
//! Log-in attempt records are not waited on (see
//! [`LoginAttemptStore`](kanect_core::backend::LoginAttemptStore)); the next sync takes them.
//! Reads may see a write between its commit and its sync; if the process dies then, the write
//! is gone, but it was never acknowledged.
//!
//! # Failures
//! A failed journal write or sync poisons the fjall database: fjall refuses every write after
//! it (what reached the disk is unknown), `Store::health` answers `Failed`, and the store
//! stays so until the process opens the directory again; fjall's recovery at open keeps every
//! batch whose journal record is whole. Unlike `SledStore`, it does not yet reopen itself.
//! Either way a resend with the same client id is safe: it returns the stored message, or
//! stores it once.
//!
//! # Atomicity
//! fjall has no read-modify-write of its own outside transactions; this process is the only one
//! with the directory open (fjall locks it), so a read-modify-write is atomic under a mutex of
//! ours: the `accounts` mutex for users and sessions (a user's deletion takes their sessions
//! along), one of [`STRIPES`] per-conversation mutexes for appends, memberships and receipts
//! (which also guards the conversation's cached last seq), and one for log-in attempts.
//!
//! # Layout
//! - `users`, `sessions`, `login_attempts`, `conversations`, `messages`, `admin` — one store
//!   trait's impl each (see [`kanect_core::backend`]).
//! - `sync` — group sync: one journal `fdatasync` for many writes.
//! - `purge` — deletion deletes: old values of replaced records out of every file.
//! - `format` — the format version check, the refusal of a sled directory, fjall error mapping.
//! - the key spaces and the record codecs are sled's too: `crate::kv`.

mod admin;
mod conversations;
mod format;
mod login_attempts;
mod messages;
mod purge;
mod sessions;
mod sync;
mod users;

#[cfg(test)]
mod tests;

use crate::kv::keys;
use fjall::{Database, Keyspace, KeyspaceCreateOptions, OwnedWriteBatch, PersistMode};
use format::{decode, fjall_error};
use kanect_core::backend::{Store, StoreResult};
use kanect_core::{ConversationId, Seq, StoreError, StoreHealth};
use serde::de::DeserializeOwned;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use sync::GroupSync;
pub use sync::GroupSyncStats;

/// How many per-conversation write locks: enough that writers to different conversations
/// rarely wait for each other.
/// The keyspace of every record but the log-in attempts ([`keys`](crate::kv::keys)).
const DATA_KEYSPACE: &str = "kanect";

const STRIPES: usize = 64;

/// The fjall-backed [`Store`]: one fjall database per directory. Cheap to clone (a handle).
///
/// ```
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), kanect_core::StoreError> {
/// # let dir = tempfile::tempdir().unwrap();
/// use kanect_core::backend::Store;
/// use kanect_store::FjallStore;
/// let store = FjallStore::open(dir.path().join("kanect-data"))?;
/// store.flush().await?;
/// # Ok(()) }
/// ```
///
/// Dropping the last handle stops the sync thread, flushes fjall's memtables (and compacts if
/// a deleted or edited message is not yet purged: see [`FjallStore::purge`]), closes the
/// database and empties its journals, so a clean close leaves no old message body on disk.
#[derive(Clone)]
pub struct FjallStore {
    /// The open database and our locks, shared by every handle.
    inner: Arc<Inner>,
    /// A [`FjallStore::temporary`] store's directory, deleted after the database is closed.
    temporary: Option<Arc<TemporaryDir>>,
}

/// One open of the directory.
struct Inner {
    /// Dropped first (fields drop in order): its thread holds a handle on the database.
    sync: GroupSync,
    /// Where the store lives, for [`FjallStore::reopen`].
    path: PathBuf,
    /// The database, for write batches.
    db: Database,
    /// Every record but the log-in attempts (see `keys`).
    data: Keyspace,
    /// The log-in attempt records.
    attempts: Keyspace,
    /// Held by user and session writes (see the module docs).
    accounts: Mutex<()>,
    /// Held by log-in attempt writes.
    attempts_lock: Mutex<()>,
    /// Per-conversation write locks, each with the last seqs of its conversations that an
    /// append has read (this process is the directory's only writer, so they cannot go stale).
    stripes: Box<[Mutex<HashMap<ConversationId, Seq>>]>,
    /// Purges replaced records' old values (see `purge`). Last: its drop runs after every other
    /// handle on the database is gone.
    purge: purge::Purger,
}

impl FjallStore {
    /// Opens (or creates) the store in `path`.
    ///
    /// Callable outside a tokio runtime: the sync runs on a std thread.
    ///
    /// # Errors
    /// [`StoreError::Format`] if the directory holds a sled store (it names the `export` /
    /// `import` migration) or a fjall store of another format version;
    /// [`StoreError::Backend`] if the directory cannot be created, opened or locked (another
    /// process, or another `FjallStore` in this one, has it open);
    /// [`StoreError::Corrupt`] if fjall finds its files damaged.
    pub fn open(path: impl AsRef<Path>) -> Result<FjallStore, StoreError> {
        Ok(FjallStore { inner: Arc::new(Inner::open(path.as_ref())?), temporary: None })
    }

    /// A store in a temporary directory (in memory where `/dev/shm` exists) that is deleted
    /// when the last handle is dropped, for tests. It syncs as any store does.
    ///
    /// # Errors
    /// [`StoreError::Backend`] if the directory cannot be created; as [`FjallStore::open`].
    pub fn temporary() -> Result<FjallStore, StoreError> {
        let dir = TemporaryDir::create()?;
        let mut store = Self::open(&dir.0)?;
        store.temporary = Some(Arc::new(dir));
        Ok(store)
    }

    /// Closes the store and opens its directory again, as a restart of the process does: for
    /// tests of what survives one. Everything acknowledged before is there after.
    ///
    /// # Errors
    /// [`StoreError::Backend`] if another handle of this store is still alive (it keeps the
    /// directory open); as [`FjallStore::open`].
    pub fn reopen(self) -> Result<FjallStore, StoreError> {
        let FjallStore { inner, temporary } = self;
        let inner = Arc::into_inner(inner).ok_or_else(|| StoreError::backend(StillShared))?;
        let path = inner.path.clone();
        drop(inner);
        Ok(FjallStore { inner: Arc::new(Inner::open(&path)?), temporary })
    }

    /// How group sync has done since the directory was (re)opened: journal syncs, and the
    /// waits they acknowledged.
    pub fn group_sync_stats(&self) -> GroupSyncStats {
        self.inner.sync.stats()
    }

    /// Runs `call` on the open database.
    fn with<T>(&self, call: impl FnOnce(&Inner) -> StoreResult<T>) -> StoreResult<T> {
        call(&self.inner)
    }

    /// Runs a write on the open database, then waits until it is durable (if it wrote
    /// anything, as `call`'s second value says).
    async fn write<T>(&self, call: impl FnOnce(&Inner) -> StoreResult<(T, bool)>) -> StoreResult<T> {
        let (value, wrote) = call(&self.inner)?;
        if wrote {
            self.inner.sync.durable().await?;
        }
        Ok(value)
    }
}

impl Inner {
    fn open(path: &Path) -> StoreResult<Inner> {
        format::refuse_other_engines(path)?;
        let db = Database::builder(path).open().map_err(fjall_error)?;
        let unclean = purge::replayed_journal(&db);
        let data = db.keyspace(DATA_KEYSPACE, KeyspaceCreateOptions::default).map_err(fjall_error)?;
        let attempts = db.keyspace(keys::LOGIN_ATTEMPTS, KeyspaceCreateOptions::default).map_err(fjall_error)?;
        format::check_version(&data)?;
        // The version record (and the keyspaces) durable before anything is acknowledged.
        db.persist(PersistMode::SyncData).map_err(fjall_error)?;
        let purge = purge::Purger::start(db.clone(), data.clone(), path, unclean)?;
        Ok(Inner {
            sync: GroupSync::start(db.clone())?,
            path: path.to_path_buf(),
            db,
            data,
            attempts,
            accounts: Mutex::new(()),
            attempts_lock: Mutex::new(()),
            stripes: (0..STRIPES).map(|_| Mutex::new(HashMap::new())).collect(),
            purge,
        })
    }

    /// A new write batch; committed without a sync (see `sync`).
    fn batch(&self) -> OwnedWriteBatch {
        self.db.batch()
    }

    /// Commits `batch` (atomically; durable after the next group sync).
    fn commit(&self, batch: OwnedWriteBatch) -> StoreResult<()> {
        batch.commit().map_err(fjall_error)
    }

    fn accounts(&self) -> MutexGuard<'_, ()> {
        self.accounts.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn attempts_lock(&self) -> MutexGuard<'_, ()> {
        self.attempts_lock.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The write lock of `conversation`'s stripe, with its cached last seqs.
    fn stripe(&self, conversation: ConversationId) -> MutexGuard<'_, HashMap<ConversationId, Seq>> {
        let bytes = conversation.to_bytes();
        // The low bytes of a UUID (v4 random, v7 random tail) spread evenly.
        let index = usize::from(bytes[15]) % self.stripes.len();
        self.stripes[index].lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn get_raw(&self, key: &[u8]) -> StoreResult<Option<fjall::Slice>> {
        self.data.get(key).map_err(fjall_error)
    }

    fn get<T: DeserializeOwned>(&self, what: &str, key: &[u8]) -> StoreResult<Option<T>> {
        self.get_raw(key)?.map(|bytes| decode(what, key, &bytes)).transpose()
    }

    /// Every entry whose key starts with `prefix`, in key order (reversible).
    fn entries_with(
        &self,
        prefix: &[u8],
    ) -> impl DoubleEndedIterator<Item = StoreResult<(fjall::Slice, fjall::Slice)>> {
        self.data.prefix(prefix).map(|guard| guard.into_inner().map_err(fjall_error))
    }

    /// Entries from `start` (excluded) to the end of `prefix`'s keys, in key order.
    fn entries_after(
        &self,
        prefix: &[u8],
        start: Vec<u8>,
    ) -> impl DoubleEndedIterator<Item = StoreResult<(fjall::Slice, fjall::Slice)>> {
        use std::ops::Bound;
        let end = match keys::prefix_end(prefix) {
            Some(end) => Bound::Excluded(end),
            None => Bound::Unbounded,
        };
        self.data
            .range::<Vec<u8>, _>((Bound::Excluded(start), end))
            .map(|guard| guard.into_inner().map_err(fjall_error))
    }

    /// Entries from the start of `prefix`'s keys to `end` (excluded), in key order.
    fn entries_before(
        &self,
        prefix: &[u8],
        end: Vec<u8>,
    ) -> impl DoubleEndedIterator<Item = StoreResult<(fjall::Slice, fjall::Slice)>> {
        self.data.range(prefix.to_vec()..end).map(|guard| guard.into_inner().map_err(fjall_error))
    }

    /// Every key that starts with `prefix`, in key order.
    fn keys_with(&self, prefix: &[u8]) -> impl DoubleEndedIterator<Item = StoreResult<fjall::Slice>> {
        self.data.prefix(prefix).map(|guard| guard.key().map_err(fjall_error))
    }
}

#[async_trait::async_trait]
impl Store for FjallStore {
    async fn flush(&self) -> StoreResult<()> {
        self.inner.sync.durable().await
    }

    async fn health(&self) -> StoreHealth {
        // Flushing the journal's buffer (no sync) is cheap, and fails once fjall is poisoned.
        match self.inner.sync.has_failed() || self.inner.db.persist(PersistMode::Buffer).is_err() {
            true => StoreHealth::Failed,
            false => StoreHealth::Ok,
        }
    }
}

impl std::fmt::Debug for FjallStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FjallStore")
            .field("path", &self.inner.path)
            .field("sync", &self.inner.sync)
            .field("temporary", &self.temporary.is_some())
            .finish_non_exhaustive()
    }
}

/// [`FjallStore::reopen`] called while another handle of the store is alive.
#[derive(Debug, thiserror::Error)]
#[error("cannot reopen a FjallStore while another handle of it is alive")]
struct StillShared;

/// A directory deleted on drop.
struct TemporaryDir(PathBuf);

impl TemporaryDir {
    /// A fresh directory in memory (`/dev/shm`) where there is one, else in the system's
    /// temporary directory.
    fn create() -> Result<TemporaryDir, StoreError> {
        let shm = Path::new("/dev/shm");
        let base = if shm.is_dir() { shm.to_path_buf() } else { std::env::temp_dir() };
        let path = base.join(format!("kanect-fjall-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir(&path).map_err(StoreError::backend)?;
        Ok(TemporaryDir(path))
    }
}

impl Drop for TemporaryDir {
    fn drop(&mut self) {
        if let Err(error) = std::fs::remove_dir_all(&self.0) {
            tracing::warn!(%error, dir = %self.0.display(), "cannot delete a temporary store's directory");
        }
    }
}
