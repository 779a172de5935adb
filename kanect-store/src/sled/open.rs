//! [`Open`]: one open of the store's directory, and what lives exactly as long as it.
//!
//! sled, the journal and group commit, and the in-memory state built on them: the stripes'
//! seq counters, pending appends and conversation cache (see `stripe`), and the id filter. All of it is
//! valid only for the database it was read from, so none of it outlives it: when a failure
//! ends an open, the recovery thread (see `recovery`) drops the whole of it and opens the
//! directory afresh. The `Store` methods' synchronous halves are `impl Open` blocks in the
//! per-domain modules above it (`users`, `sessions`, `login_attempts`, `conversations`,
//! `messages`, `attachments`, `admin`); they run inside the store's lock on its current `Open` and never wait
//! on anything there.

use super::commit::{self, FlushError, GroupCommit};
use super::config::SledConfig;
use super::format::{self, decode};
use super::journal::{self, Journal};
use super::stripe::Stripe;
use crate::kv::alarm::Alarm;
use crate::kv::engine::{Engine, Scan};
use crate::kv::id_filter::{IdFilter, IdScan};
use crate::kv::keys;
use kanect_core::backend::StoreResult;
use kanect_core::StoreError;
use serde::de::DeserializeOwned;
use std::fs::File;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

/// How many per-conversation write locks a store has (see the `sled` module docs).
const STRIPES: usize = 64;

/// The store's directory, open: see the module docs.
pub(crate) struct Open {
    pub(crate) db: sled::Db,
    pub(crate) commit: GroupCommit,
    /// Per-conversation write locks, by `stripe`.
    stripes: Box<[Mutex<Stripe>]>,
    /// Serialises account writes (see the `sled` module docs).
    accounts: Mutex<()>,
    /// Log-in attempt records, in a tree of their own (see `attempts`).
    pub(crate) attempts: sled::Tree,
    /// Serialises changes to `attempts`: a count reads, decides and writes all of an attempt's
    /// keys at once.
    attempts_lock: Mutex<()>,
    /// Serialises attachment record writes: a claim reads, checks and writes all its records
    /// at once (see `attachments`).
    attachments: Mutex<()>,
    /// Serialises invite writes: a redemption reads, checks and rewrites its record at once
    /// (see `invites`).
    invites: Mutex<()>,
    /// Every message id in the store, so that a new message skips the resend lookup.
    pub(crate) ids: Arc<IdFilter>,
    /// Fills `ids` with the ids stored before the open.
    pub(crate) _id_scan: IdScan,
}

impl Open {
    /// Opens (or creates) the store described by `config`: sled, then the journal's replay
    /// (see [`recover`]), then group commit, whose failures raise `alarm`.
    ///
    /// # Errors
    /// As [`SledStore::open`](super::SledStore::open).
    pub(crate) fn new(config: &SledConfig, alarm: Arc<Alarm>) -> Result<Open, StoreError> {
        std::fs::create_dir_all(&config.path).map_err(StoreError::backend)?;
        let db = open_db(sled::Config::new().path(&config.path).cache_capacity(config.cache_capacity))?;
        let sync = if config.fsync {
            // sled keeps everything but large blobs in `db`; Kanect's records are far below
            // sled's blob threshold.
            // The directory entries of a fresh store are made durable by `recover`.
            Some(File::open(config.path.join("db")).map_err(StoreError::backend)?)
        } else {
            None
        };
        format::check_version(&db)?;
        let journal = recover(&db, sync.as_ref(), &config.path, config.journal_bytes)?;
        let ids = Arc::new(IdFilter::default());
        let id_scan = IdScan::start(db.scan_prefix(keys::all_message_ids()).keys(), ids.clone())?;
        let commit = GroupCommit::start(db.clone(), sync, journal, config.policy(), alarm)?;
        let stripes = (0..STRIPES).map(|_| Mutex::new(Stripe::default())).collect();
        let attempts = db.open_tree(keys::LOGIN_ATTEMPTS).map_err(format::sled_error)?;
        Ok(Open {
            db,
            commit,
            stripes,
            accounts: Mutex::new(()),
            attempts,
            attempts_lock: Mutex::new(()),
            attachments: Mutex::new(()),
            invites: Mutex::new(()),
            ids,
            _id_scan: id_scan,
        })
    }

    /// The write lock of `conversation`.
    pub(crate) fn stripe(&self, conversation: kanect_core::ConversationId) -> MutexGuard<'_, Stripe> {
        // The last UUID byte is random for v7 ids and hash output for direct ids.
        let index = usize::from(conversation.to_bytes()[15]) % self.stripes.len();
        // A stripe's maps are updated only after the fallible steps of a write, by inserts and
        // removes that do not panic: a poisoned stripe still holds consistent data.
        self.stripes[index].lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Submitted messages the stripes still hold.
    #[cfg(test)]
    pub(crate) fn pending_len(&self) -> usize {
        self.stripes.iter().map(|stripe| stripe.lock().unwrap().pending.submitted_len()).sum()
    }

    /// The account write lock.
    pub(crate) fn accounts(&self) -> MutexGuard<'_, ()> {
        // Guards no data of its own: a panic under it leaves nothing half-written in memory,
        // and sled batches are all-or-nothing.
        self.accounts.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The log-in attempts lock.
    pub(crate) fn attempts_lock(&self) -> MutexGuard<'_, ()> {
        // Guards no data of its own, as `accounts`.
        self.attempts_lock.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The attachment records' write lock.
    pub(crate) fn attachments(&self) -> MutexGuard<'_, ()> {
        // Guards no data of its own, as `accounts`.
        self.attachments.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The invite records' write lock.
    pub(crate) fn invites(&self) -> MutexGuard<'_, ()> {
        // Guards no data of its own, as `accounts`.
        self.invites.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Maps a sled error as [`format::sled_error`] does; an I/O error also fails group commit
    /// (which raises the alarm), unless it has failed already: sled's I/O errors are sticky,
    /// so this database is done for, and every read may now return the same error.
    pub(crate) fn sled_error(&self, error: sled::Error) -> StoreError {
        if let sled::Error::Io(io) = &error {
            if self.commit.check().is_ok() {
                self.commit.fail(FlushError::new("sled", io));
            }
        }
        format::sled_error(error)
    }

    pub(crate) fn get_raw(&self, key: &[u8]) -> StoreResult<Option<sled::IVec>> {
        self.db.get(key).map_err(|error| self.sled_error(error))
    }

    pub(crate) fn get<T: DeserializeOwned>(&self, what: &str, key: &[u8]) -> StoreResult<Option<T>> {
        self.get_raw(key)?.map(|bytes| decode(what, key, &bytes)).transpose()
    }

    pub(crate) fn insert(&self, key: &[u8], value: Vec<u8>) -> StoreResult<()> {
        self.db.insert(key, value).map(drop).map_err(|error| self.sled_error(error))
    }

    pub(crate) fn apply(&self, batch: sled::Batch) -> StoreResult<()> {
        self.db.apply_batch(batch).map_err(|error| self.sled_error(error))
    }

    /// Every key with `prefix`, in order.
    pub(crate) fn keys_with(&self, prefix: &[u8]) -> impl Iterator<Item = StoreResult<sled::IVec>> + '_ {
        self.db.scan_prefix(prefix).keys().map(|key| key.map_err(|error| self.sled_error(error)))
    }

    /// Every (key, value) with `prefix`, in order.
    pub(crate) fn entries_with(
        &self,
        prefix: &[u8],
    ) -> impl DoubleEndedIterator<Item = StoreResult<(sled::IVec, sled::IVec)>> + '_ {
        self.entries(self.db.scan_prefix(prefix))
    }

    /// Entries from `start` (excluded) to the end of `prefix`'s key space.
    pub(crate) fn entries_after(
        &self,
        prefix: &[u8],
        start: Vec<u8>,
    ) -> impl DoubleEndedIterator<Item = StoreResult<(sled::IVec, sled::IVec)>> + '_ {
        use std::ops::Bound::{Excluded, Unbounded};
        let iter = match keys::prefix_end(prefix) {
            Some(end) => self.db.range::<Vec<u8>, _>((Excluded(start), Excluded(end))),
            None => self.db.range::<Vec<u8>, _>((Excluded(start), Unbounded)),
        };
        self.entries(iter)
    }

    /// The entries of a sled iterator, its errors mapped by [`Open::sled_error`].
    pub(crate) fn entries(
        &self,
        iter: sled::Iter,
    ) -> impl DoubleEndedIterator<Item = StoreResult<(sled::IVec, sled::IVec)>> + '_ {
        iter.map(|entry| entry.map_err(|error| self.sled_error(error)))
    }
}

/// How long `open` keeps retrying a directory whose lock is held: sled's own background
/// thread can keep a just-dropped database of this process alive for a moment, so a reopen
/// right after a drop would otherwise fail now and then. Another process holding it still
/// gets an error, after this wait.
const LOCK_RETRY: Duration = Duration::from_secs(2);

/// Brings sled up to date with the journal of the store at `path` after the last run (a crash
/// or a failure leaves groups there that sled may not have), makes the result durable, deletes
/// the replayed files, and starts the next journal file (of `file_bytes`). With `sync` (sled's
/// file, to sync after a flush), also makes the directory entries of the store durable.
fn recover(db: &sled::Db, sync: Option<&File>, path: &Path, file_bytes: u64) -> Result<Journal, StoreError> {
    let dir = journal::dir(path);
    let replayed = journal::replay(&dir, db)?;
    // Also when nothing was replayed: the format version of a fresh store must be durable.
    commit::flush(db, sync).map_err(StoreError::backend)?;
    if replayed.records > 0 {
        let (records, restored, torn_files) = (replayed.records, replayed.restored, replayed.torn);
        tracing::info!(records, restored, torn_files, "replayed the journal");
    }
    if let Err(error) = journal::remove(&dir, replayed.last_file) {
        // Replaying them again at the next open is harmless; the new file numbers follow them.
        tracing::warn!(%error, "cannot delete replayed journal files");
    }
    let options = journal::Options { fsync: sync.is_some(), file_bytes };
    let journal = Journal::create(&dir, replayed.last_file + 1, options).map_err(StoreError::backend)?;
    if sync.is_some() {
        // The entries of sled's files and of `journal/` (which a crashed run may have created
        // without syncing it).
        journal::sync_dir(path).map_err(StoreError::backend)?;
    }
    Ok(journal)
}

/// Opens sled, turning a panic inside it (seen on some damaged files) into an error.
fn open_db(config: sled::Config) -> Result<sled::Db, StoreError> {
    // Group commit does all flushing (see `commit`): sled's own timer flush would only add
    // flushes that acknowledge nothing and stall the journal's inserts.
    let config = config.flush_every_ms(None).mode(sled::Mode::HighThroughput);
    let started = std::time::Instant::now();
    loop {
        match catch_unwind(AssertUnwindSafe(|| config.open())) {
            Ok(Err(error)) if is_lock_held(&error) && started.elapsed() < LOCK_RETRY => {
                std::thread::sleep(Duration::from_millis(20));
            }
            // A kind the caller can match (a server tells its operator what to do), where sled
            // gives only its text.
            Ok(Err(error)) if is_lock_held(&error) => {
                return Err(StoreError::backend(std::io::Error::new(std::io::ErrorKind::ResourceBusy, error)));
            }
            Ok(result) => return result.map_err(format::sled_error),
            Err(_) => return Err(StoreError::Corrupt("sled panicked while opening the database".into())),
        }
    }
}

/// sled reports a held directory lock only as an I/O error whose text says so.
fn is_lock_held(error: &sled::Error) -> bool {
    matches!(error, sled::Error::Io(io) if io.to_string().contains("could not acquire lock"))
}

/// The shared record spaces' view of sled (see `kv::engine`): the methods above.
impl Engine for Open {
    type Batch = sled::Batch;
    type Bytes = sled::IVec;

    fn batch(&self) -> sled::Batch {
        sled::Batch::default()
    }

    fn put(&self, batch: &mut sled::Batch, key: Vec<u8>, value: Vec<u8>) {
        batch.insert(key, value);
    }

    fn remove(&self, batch: &mut sled::Batch, key: Vec<u8>) {
        batch.remove(key);
    }

    fn commit(&self, batch: sled::Batch) -> StoreResult<()> {
        self.apply(batch)
    }

    fn get_raw(&self, key: &[u8]) -> StoreResult<Option<sled::IVec>> {
        Open::get_raw(self, key)
    }

    fn keys_with<'a>(&'a self, prefix: &[u8]) -> Scan<'a, sled::IVec> {
        Box::new(Open::keys_with(self, prefix))
    }

    fn entries_after<'a>(&'a self, prefix: &[u8], start: Vec<u8>) -> Scan<'a, (sled::IVec, sled::IVec)> {
        Box::new(Open::entries_after(self, prefix, start))
    }

    fn entries_newest_first<'a>(&'a self, prefix: &[u8], end: Option<Vec<u8>>) -> Scan<'a, (sled::IVec, sled::IVec)> {
        match end {
            Some(end) => Box::new(self.entries(self.db.range(prefix.to_vec()..end)).rev()),
            None => Box::new(self.entries(self.db.scan_prefix(prefix)).rev()),
        }
    }

    fn accounts(&self) -> MutexGuard<'_, ()> {
        Open::accounts(self)
    }

    fn invites(&self) -> MutexGuard<'_, ()> {
        Open::invites(self)
    }
}
