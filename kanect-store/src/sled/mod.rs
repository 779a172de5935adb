//! [`SledStore`]: the embedded default store, on sled 0.34.
//!
//! Every record lives in sled's default tree under the key spaces of [`keys`]. Message
//! appends, the hot path, are not applied by their writer: they are submitted to group
//! commit, which journals a whole group, syncs the journal once and only then inserts the
//! group into sled (see [`commit`] and [`journal`] for why); the stripe keeps them in
//! `Pending` meanwhile so that the next append sees their seq and id. Every other write is one
//! `insert` or one `Batch` (atomic across a crash), decided under an in-process lock that makes
//! its read-check-write atomic, and acknowledged only after group commit has flushed sled.
//! sled holds an exclusive file lock on the directory, so one process owns a store (and its
//! journal) and in-process locks are enough:
//!
//! - per-conversation writes (appends and their seq counter, memberships, receipts, edits)
//!   take one of [`STRIPES`] mutexes chosen by the conversation id, so appends to different
//!   conversations proceed in parallel and still share a journal sync;
//! - account writes (users, usernames, passwords, sessions) take one `accounts` mutex: they
//!   are rare and a single lock keeps a user's deletion and its sessions consistent;
//! - attachment record writes take one `attachments` mutex, which makes a claim of several
//!   records one read-check-write;
//! - invite writes take one `invites` mutex, which makes a redemption one read-check-write.
//!
//! Locks are std mutexes held only around synchronous sled calls, never across an `.await`.
//! Reads take no stripe or account lock (but for a conversation record, read through its
//! stripe's cache) and may see a direct write a moment before it is durable (between its apply
//! and its flush); only a write's return is a promise.
//!
//! Everything above belongs to one open of the directory ([`open::Open`]), which a failure
//! ends: the recovery thread ([`recovery`]) then replaces it with a fresh open. So every call
//! runs its synchronous half on the current `Open` under a read lock of the store's slot for
//! it ([`SledStore::with`]), and waits for durability only after leaving it, holding nothing
//! but its [`Durable`] wait; the slot's write lock, which a reopen takes, is never held for
//! longer than the calls under way take to return.

mod account_tokens;
mod admin;
mod attachments;
mod commit;
mod config;
mod conversations;
mod format;
#[cfg(feature = "fuzzing")]
pub mod fuzzing;
mod invites;
mod journal;
mod login_attempts;
mod messages;
mod notifications;
mod open;
mod recovery;
mod sessions;
mod stripe;
mod users;

pub use commit::GroupCommitStats;
pub use config::SledConfig;

use crate::kv::alarm::Alarm;
use crate::kv::temporary::TemporaryDir;
use commit::Durable;
use kanect_core::backend::{Store, StoreResult};
use kanect_core::{StoreError, StoreHealth};
use open::Open;
use recovery::{OpenSlot, Recovery, Shared};
use std::path::Path;
use std::sync::Arc;

/// The embedded, durable [`Store`]: a sled database in one directory.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// use kanect_core::{Chat, ChatConfig, PasswordCost, Registration};
/// use kanect_store::SledStore;
/// # let dir = tempfile::tempdir().unwrap();
/// # let path = dir.path().join("kanect-data");
/// # let config = ChatConfig { password_cost: PasswordCost::INSECURE_FAST, ..Default::default() };
/// let chat = Chat::builder(SledStore::open(&path)?).config(config).build().await?;
/// let alice = chat.register(Registration::new("alice", "correct horse")).await?;
/// let bob = chat.register(Registration::new("bob", "battery staple")).await?;
/// let alice = chat.act_as(alice.id).await?;
/// let direct = chat.open_direct(&alice, bob.id).await?;
/// // Returns once the message is on disk.
/// assert_eq!(chat.send(&alice, direct.id, "c1", "hi bob").await?.seq.0, 1);
/// # Ok::<_, Box<dyn std::error::Error>>(())
/// # }).unwrap();
/// ```
///
/// A failed write (a full disk, say) fails the store until its recovery thread has reopened
/// it, by itself, once the directory takes writes again ([`Store::health`] says which); see
/// the crate docs for what a failed write leaves behind.
///
/// Dropping the store stops its recovery thread, commits what waits, checkpoints (so a clean
/// close leaves an empty journal), stops its other threads (commit, checkpoint, and the id
/// scan if it still runs) and releases the directory, so the same path can be opened again
/// right after.
///
/// # Deletion
/// A deleted or edited message's old body (and a deleted attachment record, with its file
/// name) is *not* purged from disk, and cannot be: sled 0.34
/// appends every write to its log segments and has no call that rewrites them (it may reuse a
/// segment one day, with no bound, and it does not reclaim space). The body also stays in
/// Kanect's journal until the checkpoint that covers it deletes that file (every 8 MiB of
/// journal, and at a clean close). Where deleted text must leave the disk, use `FjallStore` or
/// `PgStore`, which purge it within a documented time.
pub struct SledStore {
    /// Declared first, so that it stops before the database it would replace is dropped.
    _recovery: Recovery,
    shared: Arc<Shared>,
    /// The directory of a [`SledStore::temporary`] store (sled's files and the journal).
    /// Declared last, so it is deleted after everything that writes into it has stopped and
    /// the last handle on sled is gone.
    temporary: Option<TemporaryDir>,
}

impl std::fmt::Debug for SledStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SledStore")
            .field("config", &self.shared.config)
            .field("temporary", &self.temporary.is_some())
            .finish_non_exhaustive()
    }
}

impl SledStore {
    /// Opens (or creates) the store in `path` with the default [`SledConfig`].
    ///
    /// Callable outside a tokio runtime: group commit and recovery run on std threads.
    ///
    /// # Errors
    /// [`StoreError::Backend`] if the directory cannot be created, opened or locked (another
    /// process, or another `SledStore` in this one, has it open);
    /// [`StoreError::Format`] if it holds a newer format, data that is not a Kanect store, or a
    /// `FjallStore` (the error names the migration);
    /// [`StoreError::Corrupt`] if sled finds it (or a journal record) corrupt.
    pub fn open(path: impl AsRef<Path>) -> Result<SledStore, StoreError> {
        Self::open_with(SledConfig::new(path.as_ref()))
    }

    /// Opens (or creates) the store described by `config`.
    ///
    /// # Errors
    /// As [`SledStore::open`].
    pub fn open_with(config: SledConfig) -> Result<SledStore, StoreError> {
        format::refuse_other_engines(&config.path)?;
        let alarm = Arc::new(Alarm::default());
        let open = Open::new(&config, alarm.clone())?;
        let shared = Arc::new(Shared { open: OpenSlot::new(open), config, alarm });
        Ok(SledStore { _recovery: recovery::start(shared.clone())?, shared, temporary: None })
    }

    /// A store in a temporary directory (in memory where `/dev/shm` exists) that is deleted
    /// when the store is dropped, for tests. It is opened as any store is, and writes go
    /// through the journal and group commit, but the journal is never synced.
    ///
    /// # Errors
    /// [`StoreError::Backend`] if the temporary directory cannot be created.
    pub fn temporary() -> Result<SledStore, StoreError> {
        let dir = TemporaryDir::create()?;
        let mut store = Self::open_with(SledConfig { fsync: false, ..SledConfig::new(dir.path()) })?;
        store.temporary = Some(dir);
        Ok(store)
    }

    /// Closes the store and opens its directory again, with the same [`SledConfig`], as a
    /// restart of the process does: for tests of what survives one. Everything acknowledged
    /// before is there after. A [`SledStore::temporary`] store keeps its directory across (and
    /// deletes it when the reopened store is dropped).
    ///
    /// The close is the one dropping the store makes (see [`SledStore`]): every thread of the
    /// store stops and sled's last handle is dropped before the directory is opened again.
    ///
    /// # Errors
    /// As [`SledStore::open`].
    pub fn reopen(mut self) -> Result<SledStore, StoreError> {
        let temporary = self.temporary.take();
        let config = self.shared.config.clone();
        drop(self);
        let mut store = Self::open_with(config)?;
        store.temporary = temporary;
        Ok(store)
    }

    /// How group commit has done since the directory was (re)opened: groups, the writes
    /// they acknowledged, checkpoints. All zero while the store is being reopened.
    pub fn group_commit_stats(&self) -> GroupCommitStats {
        self.with(|open| Ok(open.commit.stats())).unwrap_or_default()
    }

    /// Runs `call` on the open database, under the slot's read lock (see the module docs).
    ///
    /// # Errors
    /// `call`'s; [`StoreError::Backend`] while the store has no open database (a reopen
    /// is under way, or the last one failed).
    fn with<T>(&self, call: impl FnOnce(&Open) -> StoreResult<T>) -> StoreResult<T> {
        // Read guards do not poison; a panic under the write lock left the slot whole.
        let slot = self.shared.open.read();
        match &*slot {
            Some(open) => call(open),
            None => Err(StoreError::backend(Recovering)),
        }
    }

    /// Runs a direct write on the open database, and waits for the flush that makes it
    /// durable when `write` says it changed something (the second of its results).
    ///
    /// # Errors
    /// `write`'s; [`StoreError::Backend`] if the store has failed (before `write` runs) or
    /// the flush fails (the write may or may not be on disk: see the crate docs).
    async fn write<T>(&self, write: impl FnOnce(&Open) -> StoreResult<(T, bool)>) -> StoreResult<T> {
        let (value, durable) = self.with(|open| {
            open.commit.check()?;
            let (value, changed) = write(open)?;
            Ok((value, if changed { open.commit.durable()? } else { Durable::DONE }))
        })?;
        durable.wait().await?;
        Ok(value)
    }
}

/// Why a call failed while the store has no open database: a reopen is under way, or the
/// last one failed.
#[derive(Debug, thiserror::Error)]
#[error("the store failed and is being reopened")]
struct Recovering;

#[async_trait::async_trait]
impl Store for SledStore {
    async fn flush(&self) -> StoreResult<()> {
        // Appends under way are journaled (and applied) in submission order; direct writes
        // need a sled flush, which must start after those appends were applied.
        self.with(|open| open.commit.appends_applied())?.wait().await?;
        self.with(|open| open.commit.durable())?.wait().await
    }

    async fn health(&self) -> StoreHealth {
        self.shared.alarm.health()
    }
}

#[cfg(test)]
mod tests;
