//! [`FjallStore`]: the store on fjall, a maintained LSM-tree engine with its own journal.
//!
//! # Durability
//! *Acknowledged means durable.* Every write commits one fjall write batch (atomic: all its
//! keys or none, also across a crash) and returns only after a sync of fjall's journal that
//! covers it (`fdatasync`): every write runs on one writer thread, which syncs once for all
//! the writes it ran meanwhile (see `writer`), and there is no journal of Kanect's own. A
//! duplicate append, or a conversation found to exist, waits for a sync too: the record it
//! reports may have been written by the write just before it, not yet synced.
//! Log-in attempt records run on the writer thread too but are not waited on (see
//! [`LoginAttemptStore`](kanect_core::backend::LoginAttemptStore)); the next sync takes them.
//! So only the writer thread takes fjall's journal lock, which a sync holds: no caller's
//! thread (a tokio worker) waits on the disk.
//! Reads may see a write between its commit and its sync; if the process dies then, the write
//! is gone, but it was never acknowledged.
//!
//! # Failures
//! A failed journal write or sync (a full disk, an I/O error), or a failed table write in
//! fjall's own flush or compaction threads, poisons the fjall database: fjall refuses every
//! write after it (what reached the disk is unknown). The store then says `Failed`
//! (`Store::health`), refuses writes at once with a clear error, and serves reads from what the
//! failed database holds. Its recovery thread probes the directory with backoff (from 100 ms up
//! to every 5 s) and, once it takes writes again, closes the failed database and opens the
//! directory again, as a restart would, with no restart: fjall's recovery replays every batch
//! whose journal record is whole, and the store is `Ok` again (see `recovery` for why nothing
//! of the failed open survives it). A write whose caller got an error may be in the store or
//! not, as after a crash; a resend with the same client id is safe either way: it returns the
//! stored message (same id, same seq), or stores it once. `tests/disk_full.rs` proves this on
//! a real full disk.
//!
//! # Atomicity
//! fjall has no read-modify-write of its own outside transactions; this process is the only one
//! with the directory open (fjall locks it), and every write runs on the one writer thread, so
//! a read-modify-write is atomic against other writes. The mutexes below say what each write
//! touches, so that its atomicity does not rest on there being one thread: the
//! `accounts` mutex for users and sessions (a user's deletion takes their sessions along), one
//! of [`STRIPES`] per-conversation mutexes for appends, memberships and receipts (which also
//! guards the conversation's cached last seq), one for attachment records (a claim's
//! check-then-write), one for invites (a redemption's), and one for log-in attempts.
//!
//! # Layout
//! - `users`, `sessions`, `login_attempts`, `conversations`, `messages`, `attachments`,
//!   `admin`, `invites`, `notifications` (with the server secrets) — one store trait's impl each (see
//!   [`kanect_core::backend`]).
//! - `writer` — the writer thread: every write, and one journal `fdatasync` for many.
//! - `recovery` — the slot holding the current open of the directory, and its replacement
//!   after a failure.
//! - `cache` — write-through caches of the account and conversation records.
//! - `purge` — deletion deletes: old values of replaced records out of every file.
//! - `format` — the format version check, the refusal of a sled directory, fjall error mapping.
//! - the key spaces, the record codecs, the filter of stored message ids, the address index and
//!   the simple record spaces (sessions, account tokens, invites, notifications) are sled's
//!   too: `crate::kv`, over the `kv::engine::Engine` impl below.

mod account_tokens;
mod admin;
mod attachments;
mod cache;
mod conversations;
mod format;
mod invites;
mod login_attempts;
mod messages;
mod notifications;
mod purge;
mod recovery;
mod sessions;
mod users;
mod writer;

#[cfg(test)]
mod tests;

use crate::kv::alarm::Alarm;
use crate::kv::engine::{Engine, Scan};
use crate::kv::id_filter::{IdFilter, IdScan};
use crate::kv::keys;
use crate::kv::recovery::Recovery;
use crate::kv::temporary::TemporaryDir;
use fjall::{Database, Keyspace, KeyspaceCreateOptions, OwnedWriteBatch, PersistMode};
use format::{decode, fjall_error};
use kanect_core::backend::{Store, StoreResult};
use kanect_core::{Conversation, ConversationId, Seq, StoreError, StoreHealth, User, UserId};
use recovery::{Recovering, Shared};
use serde::de::DeserializeOwned;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
pub use writer::GroupSyncStats;
use writer::Writer;

/// The keyspace of every record but the log-in attempts ([`keys`](crate::kv::keys)).
const DATA_KEYSPACE: &str = "kanect";

/// The fewest background workers (memtable flushes, compactions) fjall gets, whatever the CPU
/// count: one more than the keyspaces (see [`worker_threads`]).
const MIN_WORKER_THREADS: usize = 3;

/// fjall's background workers: fjall's own default (the CPUs this process may use, at most 4),
/// but never fewer than [`MIN_WORKER_THREADS`].
///
/// Why: a fjall 3.1 worker that rotates a memtable sends the flush on the same bounded channel
/// (1,000 messages) that the workers read, and blocks while it is full; under sustained writes,
/// every commit past the memtable's size asks for a rotation on that channel, so it fills
/// while the workers are busy. With a single worker (fjall's default where one CPU is
/// available: a one-CPU container, or `taskset -c 0`) nobody is left to drain it: writes stall
/// for good at the fourth sealed memtable and closing hangs. Seen here with the server pinned
/// to one core under the load generator's `pairs` (the process hung at SIGTERM, its worker
/// and purge threads in that send); upstream: fjall-rs/fjall pull request 323 (open) and
/// issues 257 and 260. Only a rotation blocks, one per keyspace at a time, and the store has
/// two keyspaces, so a third worker is always free to drain the channel.
fn worker_threads() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from).clamp(MIN_WORKER_THREADS, 4)
}

/// How many per-conversation write locks, each with its conversations' cached last seqs.
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
/// A failed write fails the store until it has reopened its directory by itself (see the
/// module docs, "Failures").
///
/// Dropping the last handle stops the writer and recovery threads (after the writer has
/// answered every write queued), flushes fjall's memtables (and compacts if a deleted or
/// edited message is not yet purged: see [`FjallStore::purge`]), closes the database and
/// empties its journals, so a clean close leaves no old message body on disk.
#[derive(Clone)]
pub struct FjallStore {
    /// The slot with the open database and our locks, shared by every handle, the writer
    /// thread and the recovery thread.
    shared: Arc<Shared>,
    /// The writer thread. Dropped after `shared` (fields drop in order).
    writer: Arc<Writer>,
    /// The recovery thread. Dropped last but for `temporary`: once the last handle is gone and
    /// the writer joined, its thread holds the last reference to `shared`, and closes the
    /// database as it is joined.
    recovery: Arc<Recovery>,
    /// A [`FjallStore::temporary`] store's directory, deleted after the database is closed.
    temporary: Option<Arc<TemporaryDir>>,
}

/// One open of the directory.
pub(crate) struct Inner {
    /// Where the store lives.
    path: PathBuf,
    /// The store's health: raised by a failed commit (and by the writer's failed sync).
    alarm: Arc<Alarm>,
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
    /// Held by attachment record writes (see `attachments`).
    attachments: Mutex<()>,
    /// Held by invite writes (see `invites`).
    invites: Mutex<()>,
    /// Account records by id (see `cache`).
    users: cache::RecordCache<UserId, User>,
    /// Conversation records by id.
    conversations: cache::RecordCache<ConversationId, Conversation>,
    /// Per-conversation write locks, each with the last seqs of its conversations that an
    /// append has read (this process is the directory's only writer, so they cannot go stale).
    stripes: Box<[Mutex<HashMap<ConversationId, Seq>>]>,
    /// Every message id in the store, so that a new message skips the resend lookup.
    ids: Arc<IdFilter>,
    /// Fills `ids` with the ids stored before the open. Before `purge`: its iterator holds the
    /// database's tables until it is joined.
    _id_scan: IdScan,
    /// Purges replaced records' old values (see `purge`). Last: its drop runs after every other
    /// handle on the database is gone.
    purge: purge::Purger,
}

impl FjallStore {
    /// Opens (or creates) the store in `path`.
    ///
    /// Callable outside a tokio runtime: the writes run on a std thread.
    ///
    /// # Errors
    /// [`StoreError::Format`] if the directory holds a sled store (it names the `export` /
    /// `import` migration) or a fjall store of another format version;
    /// [`StoreError::Backend`] if the directory cannot be created, opened or locked (another
    /// process, or another `FjallStore` in this one, has it open);
    /// [`StoreError::Corrupt`] if fjall finds its files damaged.
    pub fn open(path: impl AsRef<Path>) -> Result<FjallStore, StoreError> {
        Self::start(path.as_ref(), None)
    }

    /// Opens `path`, and starts the writer and recovery threads on it.
    fn start(path: &Path, temporary: Option<Arc<TemporaryDir>>) -> Result<FjallStore, StoreError> {
        let alarm = Arc::new(Alarm::default());
        let shared = Arc::new(Shared::new(Inner::open(path, alarm.clone())?, alarm));
        let writer = Arc::new(Writer::start(shared.clone())?);
        let recovery = Arc::new(recovery::start(shared.clone())?);
        Ok(FjallStore { shared, writer, recovery, temporary })
    }

    /// A store in a temporary directory (in memory where `/dev/shm` exists) that is deleted
    /// when the last handle is dropped, for tests. It syncs as any store does.
    ///
    /// # Errors
    /// [`StoreError::Backend`] if the directory cannot be created; as [`FjallStore::open`].
    pub fn temporary() -> Result<FjallStore, StoreError> {
        let dir = TemporaryDir::create()?;
        let path = dir.path().to_path_buf();
        Self::start(&path, Some(Arc::new(dir)))
    }

    /// Closes the store and opens its directory again, as a restart of the process does: for
    /// tests of what survives one. Everything acknowledged before is there after.
    ///
    /// # Errors
    /// [`StoreError::Backend`] if another handle of this store is still alive (it keeps the
    /// directory open); as [`FjallStore::open`].
    pub fn reopen(self) -> Result<FjallStore, StoreError> {
        let FjallStore { shared, writer, recovery, temporary } = self;
        let path = shared.path.clone();
        let still_shared = || StoreError::backend(StillShared);
        // Joined: the threads' references to `shared` are gone, so this is the last one.
        drop(Arc::into_inner(writer).ok_or_else(still_shared)?);
        drop(Arc::into_inner(recovery).ok_or_else(still_shared)?);
        drop(Arc::into_inner(shared).ok_or_else(still_shared)?);
        Self::start(&path, temporary)
    }

    /// How group sync has done since the store was opened (or [`FjallStore::reopen`]ed):
    /// journal syncs, and the waits they acknowledged.
    pub fn group_sync_stats(&self) -> GroupSyncStats {
        self.writer.stats()
    }

    /// Runs `call` on the open database, under the slot's read lock (see `recovery`): `call`
    /// must not wait on anything.
    ///
    /// # Errors
    /// `call`'s; [`StoreError::Backend`] while the store has no open database (a reopen is
    /// under way, or the last one failed).
    fn with<T>(&self, call: impl FnOnce(&Inner) -> StoreResult<T>) -> StoreResult<T> {
        match &*self.shared.open() {
            Some(inner) => call(inner),
            None => Err(StoreError::backend(Recovering)),
        }
    }

    /// Runs a write on the writer thread, and returns once it is durable (if it wrote
    /// anything, as `call`'s second value says).
    async fn write<T: Send + 'static>(
        &self,
        call: impl FnOnce(&Inner) -> StoreResult<(T, bool)> + Send + 'static,
    ) -> StoreResult<T> {
        self.writer.write(call).await
    }
}

impl Inner {
    /// Opens the directory `path`; a failed commit raises `alarm`.
    fn open(path: &Path, alarm: Arc<Alarm>) -> StoreResult<Inner> {
        format::refuse_other_engines(path)?;
        let db = Database::builder(path).worker_threads(worker_threads()).open().map_err(fjall_error)?;
        let unclean = purge::replayed_journal(&db);
        let data = db.keyspace(DATA_KEYSPACE, KeyspaceCreateOptions::default).map_err(fjall_error)?;
        let attempts = db.keyspace(keys::LOGIN_ATTEMPTS, KeyspaceCreateOptions::default).map_err(fjall_error)?;
        format::check_version(&data)?;
        // The version record (and the keyspaces) durable before anything is acknowledged.
        db.persist(PersistMode::SyncData).map_err(fjall_error)?;
        let ids = Arc::new(IdFilter::default());
        // Made after fjall's journal replay (in `Database::open`), so it yields every stored id.
        let id_scan = IdScan::start(data.prefix(keys::all_message_ids()).map(|guard| guard.key()), ids.clone())?;
        let purge = purge::Purger::start(db.clone(), data.clone(), path, unclean)?;
        Ok(Inner {
            path: path.to_path_buf(),
            alarm,
            db,
            data,
            attempts,
            accounts: Mutex::new(()),
            attempts_lock: Mutex::new(()),
            attachments: Mutex::new(()),
            invites: Mutex::new(()),
            users: cache::RecordCache::new(),
            conversations: cache::RecordCache::new(),
            stripes: (0..STRIPES).map(|_| Mutex::new(HashMap::new())).collect(),
            ids,
            _id_scan: id_scan,
            purge,
        })
    }

    /// A new write batch; committed without a sync (see `writer`).
    fn batch(&self) -> OwnedWriteBatch {
        self.db.batch()
    }

    /// Commits `batch` (atomically; durable after the next group sync). A failure poisons
    /// fjall, so it raises the alarm: the store must reopen its directory.
    fn commit(&self, batch: OwnedWriteBatch) -> StoreResult<()> {
        batch.commit().inspect_err(|_| self.alarm.raise()).map_err(fjall_error)
    }

    fn accounts(&self) -> MutexGuard<'_, ()> {
        self.accounts.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn attempts_lock(&self) -> MutexGuard<'_, ()> {
        self.attempts_lock.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn attachments(&self) -> MutexGuard<'_, ()> {
        self.attachments.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn invites(&self) -> MutexGuard<'_, ()> {
        self.invites.lock().unwrap_or_else(PoisonError::into_inner)
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

/// The shared record spaces' view of fjall (see `kv::engine`): the methods above, on the data
/// keyspace.
impl Engine for Inner {
    type Batch = OwnedWriteBatch;
    type Bytes = fjall::Slice;

    fn batch(&self) -> OwnedWriteBatch {
        Inner::batch(self)
    }

    fn put(&self, batch: &mut OwnedWriteBatch, key: Vec<u8>, value: Vec<u8>) {
        batch.insert(&self.data, key, value);
    }

    fn remove(&self, batch: &mut OwnedWriteBatch, key: Vec<u8>) {
        batch.remove(&self.data, key);
    }

    fn commit(&self, batch: OwnedWriteBatch) -> StoreResult<()> {
        Inner::commit(self, batch)
    }

    fn get_raw(&self, key: &[u8]) -> StoreResult<Option<fjall::Slice>> {
        Inner::get_raw(self, key)
    }

    fn keys_with<'a>(&'a self, prefix: &[u8]) -> Scan<'a, fjall::Slice> {
        Box::new(Inner::keys_with(self, prefix))
    }

    fn entries_after<'a>(&'a self, prefix: &[u8], start: Vec<u8>) -> Scan<'a, (fjall::Slice, fjall::Slice)> {
        Box::new(Inner::entries_after(self, prefix, start))
    }

    fn entries_newest_first<'a>(
        &'a self,
        prefix: &[u8],
        end: Option<Vec<u8>>,
    ) -> Scan<'a, (fjall::Slice, fjall::Slice)> {
        match end {
            Some(end) => Box::new(self.entries_before(prefix, end).rev()),
            None => Box::new(self.entries_with(prefix).rev()),
        }
    }

    fn accounts(&self) -> MutexGuard<'_, ()> {
        Inner::accounts(self)
    }

    fn invites(&self) -> MutexGuard<'_, ()> {
        Inner::invites(self)
    }

    fn removed_user_data(&self) {
        self.purge.mark_garbage();
    }
}

#[async_trait::async_trait]
impl Store for FjallStore {
    async fn flush(&self) -> StoreResult<()> {
        // A write of nothing that waits for the next sync: it covers every write before it.
        self.write(|_| Ok(((), true))).await
    }

    async fn health(&self) -> StoreHealth {
        // fjall's own threads poison the database when they fail to write a table: flushing
        // the journal's buffer (no sync) is cheap, and fails once it is poisoned. On the writer
        // thread, the only one that takes the journal lock (so never waiting out a sync here),
        // and under its hold of the open database, so a failure raises that open's alarm and
        // never a fresh one's. (While the store has failed, the writer refuses it unrun.)
        let _ = self
            .write(|inner| match inner.db.persist(PersistMode::Buffer) {
                Ok(()) => Ok(((), false)),
                Err(error) => {
                    inner.alarm.raise();
                    Err(fjall_error(error))
                }
            })
            .await;
        self.shared.alarm.health()
    }
}

impl std::fmt::Debug for FjallStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("FjallStore")
            .field("path", &self.shared.path)
            .field("writer", &self.writer)
            .field("temporary", &self.temporary.is_some())
            .finish_non_exhaustive()
    }
}

/// [`FjallStore::reopen`] called while another handle of the store is alive.
#[derive(Debug, thiserror::Error)]
#[error("cannot reopen a FjallStore while another handle of it is alive")]
struct StillShared;
