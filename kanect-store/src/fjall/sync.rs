//! Group sync: many writes acknowledged by one `fdatasync` of fjall's journal.
//!
//! A write commits its fjall batch without a sync (fjall appends it to its journal's buffer and
//! applies it to the memtable; it is visible at once) and then waits here. One thread, the
//! syncer, takes every waiter queued at the time, calls `Database::persist(SyncData)` once
//! (which writes the journal's buffer out and `fdatasync`s the file) and answers them all;
//! those that queue while it syncs are the next group. A waiter is only queued after its batch
//! is in the journal, and the journal is one file written in commit order (fjall syncs a full
//! journal before it moves to the next), so the sync that follows covers every batch whose
//! waiter it took, and every batch committed before them: an acknowledged write never depends
//! on one that is not yet durable.
//!
//! Why not commit each batch with `PersistMode::SyncData`: fjall syncs under its journal mutex,
//! so concurrent writers would each pay a sync in turn. That mutex is also why a commit can
//! wait for the sync under way (on the calling thread, as every fjall write blocks): the writers
//! that waited then commit together, and the next sync takes them all. Why not our own journal: fjall's is
//! already the write-ahead log; here we only choose when to sync it.
//!
//! A failed sync poisons the fjall database (fjall refuses every write after it, as it must:
//! what reached the disk is unknown), and its waiters get the error; so do all later ones.

use fjall::{Database, PersistMode};
use kanect_core::backend::StoreResult;
use kanect_core::StoreError;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::thread::JoinHandle;
use tokio::sync::oneshot;

/// The syncer thread and its queue. Dropping it stops the thread (after a last sync for any
/// waiters) and joins it, so that the thread's handle on the database is gone too.
pub(crate) struct GroupSync {
    /// What the writers and the thread share.
    shared: Arc<Shared>,
    /// Joined on drop.
    thread: Option<JoinHandle<()>>,
}

/// The queue of waiters, under a std mutex held only to push or take (never across a sync or
/// an await).
#[derive(Default)]
struct Shared {
    queue: Mutex<Queue>,
    /// Signalled when a waiter is queued or the thread should stop.
    wake: Condvar,
    /// Set once a sync has failed: the store's health.
    failed: AtomicBool,
    /// Syncs done, for [`GroupSyncStats`].
    syncs: AtomicU64,
    /// Waiters answered by them.
    acknowledged: AtomicU64,
}

/// How group sync has done since the directory was opened: how many writes each journal sync
/// acknowledged, on average.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct GroupSyncStats {
    /// Journal syncs (`fdatasync`) done.
    pub syncs: u64,
    /// Waits they answered: writes, resends and flushes.
    pub acknowledged: u64,
}

#[derive(Default)]
struct Queue {
    waiters: Vec<oneshot::Sender<StoreResult<()>>>,
    stop: bool,
}

impl GroupSync {
    /// Starts the syncer thread for `db`.
    ///
    /// # Errors
    /// [`StoreError::Backend`] if the thread cannot be spawned.
    pub(crate) fn start(db: Database) -> StoreResult<GroupSync> {
        let shared = Arc::new(Shared::default());
        let thread = std::thread::Builder::new()
            .name("kanect-fjall-sync".into())
            .spawn({
                let shared = shared.clone();
                move || shared.run(&db)
            })
            .map_err(StoreError::backend)?;
        Ok(GroupSync { shared, thread: Some(thread) })
    }

    /// Returns once everything committed before this call is durable (journal `fdatasync`ed),
    /// sharing the sync with every other waiter of its group.
    ///
    /// # Errors
    /// [`StoreError::Backend`] if the sync failed (the write may or may not be on disk) or the
    /// store is closing.
    pub(crate) async fn durable(&self) -> StoreResult<()> {
        let (sender, receiver) = oneshot::channel();
        {
            let mut queue = self.shared.queue.lock().unwrap_or_else(PoisonError::into_inner);
            queue.waiters.push(sender);
        }
        self.shared.wake.notify_one();
        receiver.await.map_err(|_| StoreError::backend(SyncFailed("the store closed before the sync".into())))?
    }

    /// How many syncs have acknowledged how many waits.
    pub(crate) fn stats(&self) -> GroupSyncStats {
        GroupSyncStats {
            syncs: self.shared.syncs.load(Ordering::Relaxed),
            acknowledged: self.shared.acknowledged.load(Ordering::Relaxed),
        }
    }

    /// Whether a sync has failed since the store was opened.
    pub(crate) fn has_failed(&self) -> bool {
        self.shared.failed.load(Ordering::Relaxed)
    }
}

impl Shared {
    /// The syncer thread: waits for waiters, syncs once for all of them, answers them.
    fn run(&self, db: &Database) {
        loop {
            let (waiters, stop) = {
                let mut queue = self.queue.lock().unwrap_or_else(PoisonError::into_inner);
                while queue.waiters.is_empty() && !queue.stop {
                    queue = self.wake.wait(queue).unwrap_or_else(PoisonError::into_inner);
                }
                (std::mem::take(&mut queue.waiters), queue.stop)
            };
            if !waiters.is_empty() {
                let message = db.persist(PersistMode::SyncData).err().map(|error| error.to_string());
                if let Some(message) = &message {
                    self.failed.store(true, Ordering::Relaxed);
                    tracing::error!(error = %message, "fjall journal sync failed; the store refuses writes");
                }
                self.syncs.fetch_add(1, Ordering::Relaxed);
                self.acknowledged.fetch_add(waiters.len() as u64, Ordering::Relaxed);
                for waiter in waiters {
                    let answer = match &message {
                        None => Ok(()),
                        Some(message) => Err(StoreError::backend(SyncFailed(message.clone()))),
                    };
                    // A waiter that gave up (its future dropped) needs no answer.
                    let _ = waiter.send(answer);
                }
            }
            if stop {
                return;
            }
        }
    }
}

impl Drop for GroupSync {
    fn drop(&mut self) {
        self.shared.queue.lock().unwrap_or_else(PoisonError::into_inner).stop = true;
        self.shared.wake.notify_one();
        if let Some(thread) = self.thread.take() {
            if thread.join().is_err() {
                tracing::error!("the fjall sync thread panicked");
            }
        }
    }
}

impl std::fmt::Debug for GroupSync {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GroupSync").field("failed", &self.has_failed()).finish_non_exhaustive()
    }
}

/// A journal sync that failed (or never came), as the waiters see it.
#[derive(Debug, thiserror::Error)]
#[error("fjall journal sync failed: {0}")]
struct SyncFailed(String);
