//! The writer: one thread runs every write, and one `fdatasync` of fjall's journal acknowledges
//! all the writes it ran since the last.
//!
//! A write is a job: a read-modify-write that commits one fjall write batch (without a sync:
//! fjall appends it to its journal's buffer and applies it to the memtable; it is visible at
//! once). Callers queue jobs and await their answer. The thread takes every job queued at the
//! time, runs them one after the other, calls `Database::persist(SyncData)` once (which writes
//! the journal's buffer out and `fdatasync`s the file) if any of them wrote, and then answers
//! them all; the jobs that queue while it works are the next group. The journal is one file
//! written in commit order (fjall syncs a full journal before it moves to the next), so that
//! sync covers every batch of the group and every batch committed before them: an acknowledged
//! write never depends on one that is not yet durable.
//!
//! Why one thread, rather than each caller committing on its own thread and then waiting for
//! a shared sync: fjall syncs under its journal mutex, so a commit issued during a sync blocks
//! its thread for the whole `fdatasync` — a tokio worker, with a runtime of two, stalls every
//! task on it. Measured with `cargo bench --features fjall --bench store`: 64 concurrent
//! senders then shared a sync 2.6 at a time and were slower than 8 (benches/README.md). Here
//! only this thread ever waits on the journal; callers never block. One thread running every
//! write also makes a read-modify-write atomic against other writes (the store's mutexes stay,
//! for writes made outside it: the log-in attempts). Why not our own journal: fjall's is
//! already the write-ahead log; here we only choose when to sync it.
//!
//! A failed sync poisons the fjall database (fjall refuses every write after it, as it must:
//! what reached the disk is unknown): the group's callers get the error, and the thread raises
//! the store's alarm. Until the store has reopened its directory (see `recovery`), the thread
//! refuses every write without running it. It runs each group, and its sync, on the open
//! database under the slot's read lock, so a reopen waits for the group under way.

use super::recovery::{Refused, Shared as Store};
use super::Inner;
use fjall::PersistMode;
use kanect_core::backend::StoreResult;
use kanect_core::metrics::GroupCommitMetrics;
use kanect_core::{StoreError, StoreHealth};
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::thread::JoinHandle;
use tokio::sync::oneshot;

/// The writer thread and its queue. Dropping it stops the thread (after it has run and
/// answered every queued job) and joins it, so that the thread's handle on the database is
/// gone too.
pub(crate) struct Writer {
    /// What the callers and the thread share.
    shared: Arc<Shared>,
    /// Joined on drop.
    thread: Option<JoinHandle<()>>,
}

/// The queue of jobs, under a std mutex held only to push or take (never across a job, a sync
/// or an await).
#[derive(Default)]
struct Shared {
    queue: Mutex<Queue>,
    /// Signalled when a job is queued or the thread should stop.
    wake: Condvar,
    /// Syncs done, for [`GroupSyncStats`].
    syncs: AtomicU64,
    /// Jobs answered after them: their writes, and what the group reported after a write.
    acknowledged: AtomicU64,
    /// Each sync's time and writes, for the metrics recorder.
    metrics: GroupCommitMetrics,
}

/// How group sync has done since the store was opened: how many writes each journal sync
/// acknowledged, on average.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct GroupSyncStats {
    /// Journal syncs (`fdatasync`) done.
    pub syncs: u64,
    /// Writes they acknowledged (resends and flushes included).
    pub acknowledged: u64,
}

#[derive(Default)]
struct Queue {
    jobs: Vec<Box<dyn Job>>,
    stop: bool,
    /// The thread waits on [`Shared::wake`] for a job: the next job queued must signal it.
    /// While it works, a caller queues without the signal, which is a `futex` system call
    /// each time (std's condvar makes one even with nobody waiting): at ~50,000 writes a
    /// second that was about one a write, on the core the writes share with everything else.
    idle: bool,
}

/// A queued write, type-erased so that one queue holds writes of every result type.
trait Job: Send {
    /// Runs the write on the writer thread. Returns whether it must wait for the sync before
    /// it is answered (it wrote, or reports something another job may just have written).
    fn run(&mut self, inner: &Inner) -> bool;

    /// Answers the caller: the write's own result, unless the sync it waited for failed.
    fn answer(self: Box<Self>, synced: Result<(), &SyncFailed>);

    /// Answers the caller without running the write: the store has failed (see `recovery`).
    fn refuse(self: Box<Self>);
}

/// A write and the caller waiting for it.
struct Write<T, F> {
    /// The write; taken when it runs.
    call: Option<F>,
    /// What it returned.
    result: Option<StoreResult<T>>,
    reply: oneshot::Sender<StoreResult<T>>,
}

impl<T, F> Job for Write<T, F>
where
    T: Send,
    F: FnOnce(&Inner) -> StoreResult<(T, bool)> + Send,
{
    fn run(&mut self, inner: &Inner) -> bool {
        let Some(call) = self.call.take() else { return false };
        // A panicking write (a bug) fails that write, not the thread every other write needs.
        let (result, wrote) = match std::panic::catch_unwind(AssertUnwindSafe(|| call(inner))) {
            Ok(Ok((value, wrote))) => (Ok(value), wrote),
            Ok(Err(error)) => (Err(error), false),
            Err(_) => (Err(StoreError::backend(SyncFailed("the write panicked".into()))), false),
        };
        self.result = Some(result);
        wrote
    }

    fn answer(self: Box<Self>, synced: Result<(), &SyncFailed>) {
        let result = match (self.result, synced) {
            (Some(result), Ok(())) => result,
            (Some(_), Err(failed)) => Err(StoreError::backend(failed.clone())),
            (None, _) => Err(StoreError::backend(SyncFailed("the write was never run".into()))),
        };
        // A caller that gave up (its future dropped) needs no answer; the write stands.
        let _ = self.reply.send(result);
    }

    fn refuse(self: Box<Self>) {
        let _ = self.reply.send(Err(StoreError::backend(Refused)));
    }
}

impl Writer {
    /// Starts the writer thread of `store`.
    ///
    /// # Errors
    /// [`StoreError::Backend`] if the thread cannot be spawned.
    pub(crate) fn start(store: Arc<Store>) -> StoreResult<Writer> {
        let shared = Arc::new(Shared { metrics: GroupCommitMetrics::register("fjall"), ..Shared::default() });
        let thread = std::thread::Builder::new()
            .name("kanect-fjall-writer".into())
            .spawn({
                let shared = shared.clone();
                move || shared.run(&store)
            })
            .map_err(StoreError::backend)?;
        Ok(Writer { shared, thread: Some(thread) })
    }

    /// Runs `call` on the writer thread and returns its value once what it wrote is durable
    /// (journal `fdatasync`ed), sharing the sync with every other write of its group. `call`
    /// returns its value and whether it must wait for the sync (see [`Job::run`]).
    ///
    /// # Errors
    /// What `call` returned; [`StoreError::Backend`] if the sync failed (the write may or may
    /// not be on disk), the store has failed (`call` is not run) or the store is closing.
    pub(crate) async fn write<T, F>(&self, call: F) -> StoreResult<T>
    where
        T: Send + 'static,
        F: FnOnce(&Inner) -> StoreResult<(T, bool)> + Send + 'static,
    {
        let (reply, answer) = oneshot::channel();
        let job = Box::new(Write { call: Some(call), result: None, reply });
        let idle = {
            let mut queue = self.shared.queue.lock().unwrap_or_else(PoisonError::into_inner);
            if queue.stop {
                return Err(StoreError::backend(SyncFailed("the store is closing".into())));
            }
            queue.jobs.push(job);
            std::mem::take(&mut queue.idle)
        };
        if idle {
            self.shared.wake.notify_one();
        }
        answer.await.map_err(|_| StoreError::backend(SyncFailed("the store closed before the write".into())))?
    }

    /// How many syncs have acknowledged how many writes.
    pub(crate) fn stats(&self) -> GroupSyncStats {
        GroupSyncStats {
            syncs: self.shared.syncs.load(Ordering::Relaxed),
            acknowledged: self.shared.acknowledged.load(Ordering::Relaxed),
        }
    }
}

impl Shared {
    /// The writer thread: waits for jobs, and runs each group on the store's open database,
    /// or refuses it while the store has failed.
    fn run(&self, store: &Store) {
        loop {
            let (jobs, stop) = {
                let mut queue = self.queue.lock().unwrap_or_else(PoisonError::into_inner);
                while queue.jobs.is_empty() && !queue.stop {
                    queue.idle = true;
                    queue = self.wake.wait(queue).unwrap_or_else(PoisonError::into_inner);
                }
                queue.idle = false;
                (std::mem::take(&mut queue.jobs), queue.stop)
            };
            match (&*store.open(), store.alarm.health()) {
                (Some(inner), StoreHealth::Ok) => self.run_group(inner, jobs),
                _ => jobs.into_iter().for_each(|job| job.refuse()),
            }
            // Stop only with an empty queue: a job queued before the stop is run and answered.
            if stop && self.queue.lock().unwrap_or_else(PoisonError::into_inner).jobs.is_empty() {
                return;
            }
        }
    }

    /// Runs `jobs` on `inner`, syncs once for all of them, answers them. A job that wrote
    /// nothing is answered at once only while no job before it in the group has written:
    /// after one has, what it reports ("taken", "not a member", "nothing to delete") may be
    /// about that write, which a crash before the sync would undo.
    fn run_group(&self, inner: &Inner, jobs: Vec<Box<dyn Job>>) {
        let mut waiting = Vec::with_capacity(jobs.len());
        for mut job in jobs {
            if job.run(inner) || !waiting.is_empty() {
                waiting.push(job);
            } else {
                job.answer(Ok(()));
            }
        }
        if !waiting.is_empty() {
            let started = std::time::Instant::now();
            let synced = inner.db.persist(PersistMode::SyncData).map_err(|error| SyncFailed(error.to_string()));
            self.metrics.sync.record(started.elapsed());
            self.metrics.writes.record(waiting.len() as f64);
            if let Err(failed) = &synced {
                inner.alarm.raise();
                tracing::error!(error = %failed.0, "fjall journal sync failed; the store refuses writes until it has reopened its directory");
            }
            self.syncs.fetch_add(1, Ordering::Relaxed);
            self.acknowledged.fetch_add(waiting.len() as u64, Ordering::Relaxed);
            for job in waiting {
                job.answer(synced.as_ref().map(|_| ()));
            }
        }
    }
}

impl Drop for Writer {
    fn drop(&mut self) {
        self.shared.queue.lock().unwrap_or_else(PoisonError::into_inner).stop = true;
        self.shared.wake.notify_one();
        if let Some(thread) = self.thread.take() {
            if thread.join().is_err() {
                tracing::error!("the fjall writer thread panicked");
            }
        }
    }
}

impl std::fmt::Debug for Writer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Writer").field("stats", &self.stats()).finish_non_exhaustive()
    }
}

/// A journal sync that failed (or never came), as the callers see it.
#[derive(Clone, Debug, thiserror::Error)]
#[error("fjall journal sync failed: {0}")]
pub(crate) struct SyncFailed(String);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::FjallStore;

    /// A job that reports, without writing, whether `key` is in the store (as a conflict
    /// check does), or writes it.
    fn job(key: &'static str, write: bool) -> (Box<dyn Job>, oneshot::Receiver<StoreResult<bool>>) {
        let (reply, answer) = oneshot::channel();
        let call = move |inner: &Inner| {
            if write {
                inner.data.insert(key, "value").map_err(super::super::format::fjall_error)?;
                return Ok((true, true));
            }
            Ok((inner.data.get(key).map_err(super::super::format::fjall_error)?.is_some(), false))
        };
        (Box::new(Write { call: Some(call), result: None, reply }), answer)
    }

    #[test]
    fn what_a_group_reports_after_a_write_is_answered_after_the_sync() {
        let store = FjallStore::temporary().unwrap();
        let shared = Shared::default();
        let (before, before_answer) = job("k", false);
        let (write, write_answer) = job("k", true);
        let (after, mut after_answer) = job("k", false);
        store
            .with(|inner| {
                shared.run_group(inner, vec![before, write, after]);
                Ok(())
            })
            .unwrap();
        // The check before the write saw nothing and needed no sync; the one after it saw the
        // write, and was answered with it, after the sync.
        assert!(!before_answer.blocking_recv().unwrap().unwrap());
        assert!(write_answer.blocking_recv().unwrap().unwrap());
        assert!(after_answer.try_recv().unwrap().unwrap());
        assert_eq!((shared.syncs.load(Ordering::Relaxed), shared.acknowledged.load(Ordering::Relaxed)), (1, 2));
    }
}
