//! Group commit: many writes share one sync, and none is acknowledged before it.
//!
//! Two kinds of writes, two ways to durability:
//!
//! - **Appends** ([`GroupCommit::submit`], the hot path) hand their key-value pairs over
//!   unapplied. The *commit* thread takes every append waiting, appends the group to the
//!   [`journal`] as one record, `fdatasync`s it, then inserts the group into sled and
//!   acknowledges it. sled is not flushed for them.
//! - **Direct writes** (users, sessions, conversations, receipts, edits: rare, and each needs
//!   its read-check-write under a lock) apply themselves to sled and then wait in
//!   [`GroupCommit::durable`] for the *checkpoint* thread's next `db.flush()` plus an
//!   `fdatasync` of sled's file: a flush that started after the write was applied.
//!
//! The checkpoint thread's flush also makes journal files redundant: once every group of a
//! file is applied and a flush has started after that, the file is deleted. The commit thread
//! starts a new file when the current one reaches [`Policy::checkpoint_bytes`], which bounds
//! both the journal's disk use and the replay at the next open.
//!
//! Why threads: no blocking sync on the async threads, one sync at a time per file, and sled
//! 0.34's `flush_async()` deadlocks its own thread pool when seven or more calls run at once.
//! Why the commit thread also inserts: inserting only after the sync is what makes the journal
//! a complete redo log (see `journal`). A separate insert thread would let the next group's
//! sync overlap this group's inserts, but a send would then wait for one more thread to be
//! scheduled on a busy machine.
//!
//! There is no collect window: a group is whoever waits when the commit thread comes round,
//! and writers that arrive during a sync and its inserts form the next group. (A window that
//! waited for company paid off when every group also cost a sled flush.) Without that flush,
//! a build with a window and a separate insert thread measured slower at fixed rates and no
//! faster at saturation (`benches/README.md`, "Group commit").
//!
//! A failed journal write, sync, insert or flush fails its whole group and every later write:
//! what sled holds in memory may then differ from the disk (and sled's own errors are sticky),
//! so group commit refuses writes from then on and raises the store's [`Alarm`], whose
//! recovery thread replaces this group commit, database and all, by reopening the store from
//! the disk and the journal (see `recovery`). If a thread stops (store dropped, or a panic),
//! waiting writers get an error instead of waiting forever; a panic raises the alarm too.
//!
//! Writers wait with a [`Durable`]: only the channel their answer comes on, so no handle on
//! the database is held while they wait, and a reopen never waits for them.

use super::format::sled_error;
use super::journal::{self, Journal, Write};
use crate::kv::alarm::Alarm;
use kanect_core::metrics::GroupCommitMetrics;
use kanect_core::StoreError;
use std::fs::File;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use tokio::sync::oneshot;

/// How large a group may be, and when the commit thread starts a new journal file.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Policy {
    /// The most appends one sync takes; the rest wait for the next.
    pub(crate) max_group: usize,
    /// Start a new journal file (and checkpoint the old one) past this size.
    pub(crate) checkpoint_bytes: u64,
}

/// Why a durable wait failed. Cloned to every writer of the group.
#[derive(Clone, Debug, thiserror::Error)]
#[error("group commit failed: {0}")]
pub(crate) struct FlushError(Arc<str>);

impl FlushError {
    pub(crate) fn new(what: &str, error: impl std::fmt::Display) -> FlushError {
        FlushError(format!("{what}: {error}").into())
    }
}

type Waiter = oneshot::Sender<Result<(), FlushError>>;

/// A write's place in a group: resolves when the group is durable (and, for an append,
/// applied to sled).
type Ack = oneshot::Receiver<Result<(), FlushError>>;

/// A write's wait for group commit: [`Durable::wait`] returns once it is durable. It holds
/// only the channel its answer comes on (none if there is nothing to wait for), so a writer
/// holds no lock or handle on the database while it waits.
#[must_use = "a write is acknowledged only once its wait has returned"]
pub(crate) struct Durable(Option<Ack>);

impl Durable {
    /// Nothing to wait for: the write is durable already.
    pub(crate) const DONE: Durable = Durable(None);

    /// Waits for the write's group.
    ///
    /// # Errors
    /// [`StoreError::Backend`] if its group failed or group commit stopped first; the write
    /// may or may not have reached the disk, and the caller must not acknowledge it.
    pub(crate) async fn wait(self) -> Result<(), StoreError> {
        let Some(ack) = self.0 else { return Ok(()) };
        match ack.await {
            Ok(result) => result.map_err(StoreError::backend),
            Err(_) => Err(StoreError::backend(FlushError("group commit stopped before this write".into()))),
        }
    }
}

/// A submitted append: its wait, and its number, for [`GroupCommit::is_applied`] (appends
/// are numbered 1, 2, … in submission order).
pub(crate) struct Submitted {
    pub(crate) ack: Durable,
    pub(crate) number: u64,
}

#[derive(Default)]
struct State {
    /// Appends waiting for the commit thread: each one's waiter and how many writes it
    /// submitted, and their writes in submission order.
    appends: Vec<(Waiter, usize)>,
    writes: Vec<Write>,
    /// Appends submitted so far: the number of the last one.
    submitted: u64,
    /// Appends taken by the commit thread so far: the number of the last one taken.
    taken: u64,
    /// Direct writers waiting, each for the flush it needs (a number of `flushes_started`):
    /// answered when that flush completes.
    flushes: Vec<(u64, Waiter)>,
    /// Flushes the checkpoint thread has started: a write applied before flush `n` started
    /// is durable once `n` has completed.
    flushes_started: u64,
    /// Journal files up to this number are applied: the next flush makes them redundant.
    checkpoint: Option<u64>,
    /// Set by the first failed group: every later write fails too.
    failed: Option<FlushError>,
    /// The store is closing: commit what waits, then stop.
    stopping: bool,
    /// Every append is applied and the last checkpoint requested: the checkpoint thread may
    /// stop once it has nothing left to do.
    drained: bool,
    /// A thread is gone: refuse new writes.
    stopped: bool,
}

#[derive(Default)]
struct Shared {
    state: Mutex<State>,
    /// Raised by every failure (see `Shared::fail`), for the store's recovery thread.
    alarm: Arc<Alarm>,
    /// Wakes the commit thread.
    appended: Condvar,
    /// Wakes the checkpoint thread.
    flush_wanted: Condvar,
    /// The last flush completed successfully (see `State::flushes_started`).
    flushes_done: AtomicU64,
    /// Appends up to this number are in sled (see [`Submitted::number`]).
    applied: AtomicU64,
    groups: AtomicU64,
    writes: AtomicU64,
    checkpoints: AtomicU64,
    /// Tests hold it to keep a flush under way: the checkpoint thread takes it around each.
    #[cfg(test)]
    gate: Mutex<()>,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // Every critical section is a push or a take: a panic cannot leave it half done.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The state, if it takes new writes.
    fn accepting(&self) -> Result<MutexGuard<'_, State>, StoreError> {
        let state = self.lock();
        if let Some(failed) = &state.failed {
            return Err(StoreError::backend(failed.clone()));
        }
        if state.stopped || state.stopping {
            return Err(StoreError::backend(FlushError("the store is closing".into())));
        }
        Ok(state)
    }

    /// Fails every later write with `error` (the first failure is kept), raises the alarm and
    /// wakes the group.
    fn fail(&self, group: Vec<Waiter>, error: FlushError) {
        tracing::error!(%error, writes = group.len(), "group commit failed; the store refuses writes until it has recovered");
        self.lock().failed.get_or_insert_with(|| error.clone());
        self.alarm.raise();
        answer(group, Err(error));
    }

    /// Wakes a group with its result; a failure also fails every later write.
    fn finish(&self, group: Vec<Waiter>, result: Result<(), FlushError>) {
        match result {
            Ok(()) => {
                self.groups.fetch_add(1, Ordering::Relaxed);
                self.writes.fetch_add(group.len() as u64, Ordering::Relaxed);
                answer(group, Ok(()));
            }
            Err(error) => self.fail(group, error),
        }
    }

    /// Asks the checkpoint thread for a flush after which journal files `..=number` go.
    fn request_checkpoint(&self, number: u64) {
        self.lock().checkpoint = Some(number);
        self.flush_wanted.notify_one();
    }

    /// Marks group commit stopped and fails whoever waits.
    fn stop(&self) {
        let mut state = self.lock();
        state.stopped = true;
        // Dropping the senders wakes their writers with an error.
        state.appends.clear();
        state.writes.clear();
        state.flushes.clear();
        drop(state);
        self.appended.notify_all();
        self.flush_wanted.notify_all();
    }
}

fn answer(group: Vec<Waiter>, result: Result<(), FlushError>) {
    for waiter in group {
        // A writer that gave up (its future was dropped) needs no answer.
        let _ = waiter.send(result.clone());
    }
}

/// Counters for tuning: how many groups were committed and how many writers they answered.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct GroupCommitStats {
    /// Groups committed: groups of appends (each one journal sync, none for a group of only
    /// waits on earlier appends) and sled flushes for direct writes.
    pub flushes: u64,
    /// Writers answered by those groups (an append counts once, whatever its number of
    /// keys); `writes / flushes` is the mean group size.
    pub writes: u64,
    /// Checkpoints: sled flushes after which applied journal files were deleted.
    pub checkpoints: u64,
}

/// The group-commit handle a store holds; dropping it commits what remains, checkpoints,
/// and joins its threads (so the database is released when the store is dropped).
pub(crate) struct GroupCommit {
    shared: Arc<Shared>,
    commit: Option<JoinHandle<()>>,
    checkpoint: Option<JoinHandle<()>>,
}

impl GroupCommit {
    /// Starts the commit and checkpoint threads. `journal` is where appends become durable;
    /// `sync` is sled's database file, to `fdatasync` after each flush (None: sled's flush
    /// alone).
    ///
    /// # Errors
    /// [`StoreError::Backend`] if a thread cannot be started.
    pub(crate) fn start(
        db: sled::Db,
        sync: Option<File>,
        journal: Journal,
        policy: Policy,
        alarm: Arc<Alarm>,
    ) -> Result<Self, StoreError> {
        let shared = Arc::new(Shared { alarm, ..Shared::default() });
        let journal_dir = journal.dir().to_path_buf();
        let checkpoint = std::thread::Builder::new()
            .name("kanect-checkpoint".into())
            .spawn({
                let (shared, db) = (shared.clone(), db.clone());
                move || {
                    let _panic = FailOnPanic(&shared);
                    checkpoint(&shared, &db, sync.as_ref(), &journal_dir);
                }
            })
            .map_err(StoreError::backend)?;
        // Registered here, on the opening thread, with the recorder in place there.
        let metrics = GroupCommitMetrics::register("sled");
        let commit = std::thread::Builder::new().name("kanect-commit".into()).spawn({
            let shared = shared.clone();
            move || {
                let _panic = FailOnPanic(&shared);
                commit_groups(&shared, &db, journal, policy, metrics);
                // Every append is applied: the checkpoint thread runs its last flush and stops.
                shared.lock().drained = true;
                shared.flush_wanted.notify_one();
            }
        });
        let commit = match commit {
            Ok(commit) => commit,
            Err(error) => {
                shared.stop();
                let _ = checkpoint.join();
                return Err(StoreError::backend(error));
            }
        };
        Ok(GroupCommit { shared, commit: Some(commit), checkpoint: Some(checkpoint) })
    }

    /// The flush that will make a direct write applied before this call durable: see
    /// [`GroupCommit::is_flushed`].
    pub(crate) fn next_flush(&self) -> u64 {
        self.shared.lock().flushes_started + 1
    }

    /// Whether flush `number` (from [`GroupCommit::next_flush`]) has completed.
    pub(crate) fn is_flushed(&self, number: u64) -> bool {
        self.shared.flushes_done.load(Ordering::Acquire) >= number
    }

    /// A wait that returns once every write applied to sled before this call is durable.
    ///
    /// # Errors
    /// [`StoreError::Backend`] if an earlier write failed or the store is stopping; the write
    /// may or may not have reached the disk, and the caller must not acknowledge it. (So does
    /// the wait, if this flush fails.)
    pub(crate) fn durable(&self) -> Result<Durable, StoreError> {
        self.wait_for_flush(None)
    }

    /// A wait that returns once flush `number` (from [`GroupCommit::next_flush`]) has
    /// completed: at once if it has, at its end if it is under way, rather than after the next
    /// one.
    ///
    /// # Errors
    /// As [`GroupCommit::durable`].
    pub(crate) fn flushed(&self, number: u64) -> Result<Durable, StoreError> {
        self.wait_for_flush(Some(number))
    }

    /// Queues a wait for flush `number`, or for the next one to start; [`Durable::DONE`] if it
    /// has completed. Checked under the lock: the checkpoint thread records a completed flush
    /// before it takes the lock to answer its waiters, so no wait is queued after its answer.
    fn wait_for_flush(&self, number: Option<u64>) -> Result<Durable, StoreError> {
        let mut state = self.shared.accepting()?;
        let number = number.unwrap_or(state.flushes_started + 1);
        if self.is_flushed(number) {
            return Ok(Durable::DONE);
        }
        let (waiter, ack) = oneshot::channel();
        state.flushes.push((number, waiter));
        if number > state.flushes_started {
            self.shared.flush_wanted.notify_one();
        }
        Ok(Durable(Some(ack)))
    }

    /// Whether writes are still taken: an error once a write has failed (see the module
    /// docs) or the store is closing. Direct writes check it before they apply anything.
    ///
    /// # Errors
    /// [`StoreError::Backend`], with the first failure.
    pub(crate) fn check(&self) -> Result<(), StoreError> {
        self.shared.accepting().map(drop)
    }

    /// Fails group commit as a failed group would (every later write is refused, the alarm is
    /// raised): for a failure of sled met outside the commit thread.
    pub(crate) fn fail(&self, error: FlushError) {
        self.shared.fail(Vec::new(), error);
    }

    /// Queues an append's `writes` for the journal and, once synced, for sled. Does not wait:
    /// its `ack` does. Appends submitted earlier are applied first, so a later value for the
    /// same key wins; an empty `writes` is a barrier, answered once every append submitted
    /// before it is durable and applied.
    ///
    /// # Errors
    /// [`StoreError::Backend`] if an earlier group failed or the store is stopping.
    pub(crate) fn submit(&self, writes: Vec<Write>) -> Result<Submitted, StoreError> {
        let (waiter, ack) = oneshot::channel();
        let mut state = self.shared.accepting()?;
        state.appends.push((waiter, writes.len()));
        state.writes.extend(writes);
        state.submitted += 1;
        if state.appends.len() == 1 {
            self.shared.appended.notify_one();
        }
        Ok(Submitted { ack: Durable(Some(ack)), number: state.submitted })
    }

    /// A wait that returns once every append submitted before this call is durable and
    /// applied.
    ///
    /// # Errors
    /// As [`GroupCommit::durable`].
    pub(crate) fn appends_applied(&self) -> Result<Durable, StoreError> {
        Ok(self.submit(Vec::new())?.ack)
    }

    /// Whether append `number` (from [`Submitted::number`]) is in sled. Stays false for the
    /// appends of a failed group.
    pub(crate) fn is_applied(&self, number: u64) -> bool {
        self.shared.applied.load(Ordering::Acquire) >= number
    }

    /// Counters so far.
    pub(crate) fn stats(&self) -> GroupCommitStats {
        GroupCommitStats {
            flushes: self.shared.groups.load(Ordering::Relaxed),
            writes: self.shared.writes.load(Ordering::Relaxed),
            checkpoints: self.shared.checkpoints.load(Ordering::Relaxed),
        }
    }
}

impl Drop for GroupCommit {
    fn drop(&mut self) {
        self.shared.lock().stopping = true;
        self.shared.appended.notify_one();
        // The commit thread drains the appends, then lets the checkpoint thread finish. A
        // panicked thread already failed its waiters (see `FailOnPanic`); nothing to add.
        for thread in [self.commit.take(), self.checkpoint.take()].into_iter().flatten() {
            let _ = thread.join();
        }
        self.shared.stop();
    }
}

/// Fails and stops group commit if a thread panics, so that nobody waits for it, the other
/// thread ends too, and the store recovers by reopening.
struct FailOnPanic<'a>(&'a Shared);

impl Drop for FailOnPanic<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.0.fail(Vec::new(), FlushError("a group commit thread panicked".into()));
            self.0.stop();
        }
    }
}

/// The commit thread: take the appends waiting, journal and sync them, insert them into
/// sled, acknowledge them.
fn commit_groups(shared: &Shared, db: &sled::Db, mut journal: Journal, policy: Policy, metrics: GroupCommitMetrics) {
    let mut rotate_at = policy.checkpoint_bytes;
    loop {
        let (group, writes, last, failed) = {
            let mut state = shared.lock();
            while state.appends.is_empty() && !state.stopping && !state.stopped {
                state = shared.appended.wait(state).unwrap_or_else(PoisonError::into_inner);
            }
            if state.appends.is_empty() {
                break;
            }
            let (group, writes) = take_group(&mut state, policy.max_group);
            (group, writes, state.taken, state.failed.clone())
        };
        // After a failure nothing more is written: later seqs could build on lost ones.
        if let Some(failed) = failed {
            answer(group, Err(failed));
            continue;
        }
        // A group without writes (resends waiting for their original) needs no record: every
        // group before it is already synced and applied.
        if !writes.is_empty() {
            let started = std::time::Instant::now();
            let synced = journal.append(&writes).and_then(|()| journal.sync());
            metrics.sync.record(started.elapsed());
            metrics.writes.record(group.len() as f64);
            if let Err(error) = synced {
                shared.fail(group, FlushError::new("journal write", error));
                continue;
            }
            if let Err(error) = apply(db, writes) {
                shared.fail(group, error);
                continue;
            }
        }
        shared.applied.store(last, Ordering::Release);
        shared.finish(group, Ok(()));
        if journal.len() >= rotate_at {
            match journal.rotate() {
                Ok(done) => {
                    shared.request_checkpoint(done);
                    rotate_at = policy.checkpoint_bytes;
                }
                Err(error) => {
                    // The current file keeps growing; try again after another file's worth.
                    tracing::error!(%error, "cannot start a new journal file");
                    rotate_at = journal.len().saturating_add(policy.checkpoint_bytes);
                }
            }
        }
    }
    // Closing: every group is applied, so a final flush covers every file.
    shared.request_checkpoint(journal.number());
}

/// The first `max` appends waiting and their writes; the rest stay for the next group.
fn take_group(state: &mut State, max: usize) -> (Vec<Waiter>, Vec<Write>) {
    state.taken += state.appends.len().min(max) as u64;
    if state.appends.len() <= max {
        let group = std::mem::take(&mut state.appends).into_iter().map(|(waiter, _)| waiter).collect();
        return (group, std::mem::take(&mut state.writes));
    }
    let rest = state.appends.split_off(max);
    let taken: usize = state.appends.iter().map(|(_, writes)| writes).sum();
    let writes = state.writes.drain(..taken).collect();
    let group = std::mem::replace(&mut state.appends, rest).into_iter().map(|(waiter, _)| waiter).collect();
    (group, writes)
}

/// Inserts a group's writes. One insert per key, not one batch: an `apply_batch` would seal
/// and write sled's log buffer and lock out every reader; the journal already makes the
/// group atomic across a crash.
fn apply(db: &sled::Db, writes: Vec<Write>) -> Result<(), FlushError> {
    for (key, value) in writes {
        db.insert(key, value).map_err(|error| FlushError::new("sled insert", sled_error(error)))?;
    }
    Ok(())
}

/// The checkpoint thread: flush sled for direct writers and for completed journal files.
fn checkpoint(shared: &Shared, db: &sled::Db, sync: Option<&File>, journal_dir: &Path) {
    loop {
        let mut state = shared.lock();
        while !wants_flush(&state) && state.checkpoint.is_none() && !state.drained && !state.stopped {
            state = shared.flush_wanted.wait(state).unwrap_or_else(PoisonError::into_inner);
        }
        let (done, failed) = (state.checkpoint.take(), state.failed.clone());
        if !wants_flush(&state) && done.is_none() {
            break;
        }
        state.flushes_started += 1;
        let number = state.flushes_started;
        drop(state);
        #[cfg(test)]
        let gate = shared.gate.lock().unwrap_or_else(PoisonError::into_inner);
        let result = match failed {
            Some(failed) => Err(failed),
            None => flush(db, sync),
        };
        #[cfg(test)]
        drop(gate);
        if result.is_ok() {
            shared.flushes_done.fetch_max(number, Ordering::Release);
        }
        if let (Ok(()), Some(done)) = (&result, done) {
            shared.checkpoints.fetch_add(1, Ordering::Relaxed);
            // A file left behind is replayed once more at the next open: harmless.
            if let Err(error) = journal::remove(journal_dir, done) {
                tracing::warn!(%error, "cannot delete checkpointed journal files");
            }
        }
        // Those waiting for this flush or an earlier one; later ones wait on.
        let group: Vec<Waiter> = {
            let mut state = shared.lock();
            if let Err(error) = &result {
                // In the same critical section as the answer: a wait for this flush queued
                // after it must be refused, not left waiting for a flush that never comes.
                state.failed.get_or_insert_with(|| error.clone());
            }
            let (now, later) =
                std::mem::take(&mut state.flushes).into_iter().partition(|(needed, _)| *needed <= number);
            state.flushes = later;
            now.into_iter().map(|(_, waiter)| waiter).collect()
        };
        if !group.is_empty() {
            shared.finish(group, result);
        } else if let Err(error) = result {
            shared.fail(Vec::new(), error);
        }
    }
}

/// Whether a direct writer waits for a flush that has not started yet.
fn wants_flush(state: &State) -> bool {
    state.flushes.iter().any(|(needed, _)| *needed > state.flushes_started)
}

/// Makes everything applied to sled so far durable.
pub(crate) fn flush(db: &sled::Db, sync: Option<&File>) -> Result<(), FlushError> {
    db.flush().map_err(|error| FlushError::new("sled flush", sled_error(error)))?;
    if let Some(file) = sync {
        file.sync_data().map_err(|error| FlushError::new("fdatasync", error))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;
    use tokio::task::JoinHandle;

    /// A temporary sled and a journal in a temporary directory (kept alive by the third).
    fn temporary() -> (sled::Db, Journal, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let journal = Journal::create(&journal::dir(dir.path()), 1, journal::Options::NO_SYNC).unwrap();
        (sled::Config::new().temporary(true).open().unwrap(), journal, dir)
    }

    fn policy() -> Policy {
        Policy { max_group: 64, checkpoint_bytes: 1 << 20 }
    }

    fn start(db: sled::Db, sync: Option<File>, journal: Journal, policy: Policy) -> GroupCommit {
        GroupCommit::start(db, sync, journal, policy, Arc::default()).unwrap()
    }

    /// Returns once every write applied so far is durable.
    async fn durable(commit: &GroupCommit) -> Result<(), StoreError> {
        commit.durable()?.wait().await
    }

    /// Returns once flush `number` has completed.
    async fn flushed(commit: &GroupCommit, number: u64) -> Result<(), StoreError> {
        commit.flushed(number)?.wait().await
    }

    /// Starts a flush for a direct writer and keeps it under way until the returned guard is
    /// dropped; returns the guard, the writer and the flush's number.
    #[allow(clippy::await_holding_lock)] // the gate is held on purpose: it keeps the flush under way
    async fn hold_a_flush(commit: &Arc<GroupCommit>) -> (MutexGuard<'_, ()>, JoinHandle<Result<(), StoreError>>, u64) {
        let number = commit.next_flush();
        let gate = commit.shared.gate.lock().unwrap();
        let writer = tokio::spawn({
            let commit = commit.clone();
            async move { durable(&commit).await }
        });
        for _ in 0..500 {
            if commit.next_flush() > number {
                break;
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        assert_eq!(commit.next_flush(), number + 1, "flush {number} is under way");
        (gate, writer, number)
    }

    /// A send into a conversation whose record is on its way to the disk waits for the flush
    /// that carries it: the one under way, not the next (which `durable` would start).
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    #[allow(clippy::await_holding_lock)] // as in `hold_a_flush`
    async fn a_wait_for_a_flush_under_way_ends_with_it() {
        let (db, journal, _dir) = temporary();
        let commit = Arc::new(start(db, None, journal, policy()));
        let (gate, writer, needed) = hold_a_flush(&commit).await;
        let send = tokio::spawn({
            let commit = commit.clone();
            async move { flushed(&commit, needed).await }
        });
        tokio::time::sleep(Duration::from_millis(20)).await;
        assert!(!send.is_finished(), "it waits while the flush is under way");
        drop(gate);
        send.await.unwrap().unwrap();
        writer.await.unwrap().unwrap();
        assert_eq!(commit.next_flush(), needed + 1, "no second flush was started for it");
        // Once that flush has completed, the wait returns at once and starts none.
        flushed(&commit, needed).await.unwrap();
        assert_eq!(commit.next_flush(), needed + 1);
    }

    /// A direct write applied while a flush is under way may have missed it: its writer waits
    /// for the next flush, which starts for it.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    #[allow(clippy::await_holding_lock)] // as in `hold_a_flush`
    async fn a_write_during_a_flush_waits_for_the_next() {
        let (db, journal, _dir) = temporary();
        let commit = Arc::new(start(db, None, journal, policy()));
        let (gate, writer, first) = hold_a_flush(&commit).await;
        let during = tokio::spawn({
            let commit = commit.clone();
            async move { durable(&commit).await }
        });
        tokio::time::sleep(Duration::from_millis(20)).await;
        drop(gate);
        writer.await.unwrap().unwrap();
        during.await.unwrap().unwrap();
        assert_eq!(commit.next_flush(), first + 2, "the second writer had a flush of its own");
    }

    /// A flush that fails refuses the waits for it, those under way and those after, rather
    /// than leaving them to wait for a flush that never comes.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    #[allow(clippy::await_holding_lock)] // as in `hold_a_flush`
    async fn a_failed_flush_refuses_the_waits_for_it() {
        let (db, journal, _dir) = temporary();
        // fdatasync of /dev/full fails (EINVAL): every flush fails.
        let full = std::fs::OpenOptions::new().append(true).open("/dev/full").unwrap();
        let commit = Arc::new(start(db, Some(full), journal, policy()));
        let (gate, writer, number) = hold_a_flush(&commit).await;
        let send = tokio::spawn({
            let commit = commit.clone();
            async move { flushed(&commit, number).await }
        });
        tokio::time::sleep(Duration::from_millis(20)).await;
        drop(gate);
        let bounded = |task| tokio::time::timeout(Duration::from_secs(10), task);
        assert!(matches!(bounded(writer).await.expect("answered").unwrap(), Err(StoreError::Backend(_))));
        assert!(matches!(bounded(send).await.expect("answered").unwrap(), Err(StoreError::Backend(_))));
        assert!(matches!(flushed(&commit, number).await, Err(StoreError::Backend(_))), "and a wait after it");
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_writers_share_flushes() {
        let (db, journal, _dir) = temporary();
        let commit = Arc::new(start(db.clone(), None, journal, policy()));
        let mut tasks = Vec::new();
        for task in 0..32u32 {
            let (db, commit) = (db.clone(), commit.clone());
            tasks.push(tokio::spawn(async move {
                for i in 0..20u32 {
                    db.insert([task.to_be_bytes(), i.to_be_bytes()].concat(), b"v".as_slice()).unwrap();
                    durable(&commit).await.unwrap();
                }
            }));
        }
        for task in tasks {
            task.await.unwrap();
        }
        let stats = commit.stats();
        assert_eq!(stats.writes, 32 * 20);
        assert!(stats.flushes < stats.writes, "no grouping happened: {stats:?}");
    }

    #[tokio::test]
    async fn submitted_writes_are_applied_in_order_before_the_ack() {
        let (db, journal, _dir) = temporary();
        let commit = start(db.clone(), None, journal, policy());
        let first = commit.submit(vec![(b"k".to_vec(), b"1".to_vec()), (b"a".to_vec(), b"x".to_vec())]).unwrap();
        let second = commit.submit(vec![(b"k".to_vec(), b"2".to_vec())]).unwrap();
        assert_eq!((first.number, second.number), (1, 2));
        first.ack.wait().await.unwrap();
        second.ack.wait().await.unwrap();
        assert!(commit.is_applied(2) && !commit.is_applied(3));
        assert_eq!(db.get(b"k").unwrap().unwrap().as_ref(), b"2");
        assert_eq!(db.get(b"a").unwrap().unwrap().as_ref(), b"x");
    }

    #[test]
    fn a_capped_group_takes_the_first_appends_and_exactly_their_writes() {
        let mut state = State::default();
        let mut acks = Vec::new();
        for (n, writes) in [2usize, 0, 1, 3].into_iter().enumerate() {
            let (waiter, ack) = oneshot::channel();
            acks.push(ack);
            state.appends.push((waiter, writes));
            state.writes.extend((0..writes).map(|i| (vec![n as u8, i as u8], Vec::new())));
        }
        let (group, writes) = take_group(&mut state, 3);
        assert_eq!((group.len(), state.taken), (3, 3));
        assert_eq!(writes.iter().map(|(key, _)| key.clone()).collect::<Vec<_>>(), [[0, 0], [0, 1], [2, 0]]);
        assert_eq!(state.appends.len(), 1);
        assert_eq!(state.writes.len(), 3);
        let (group, writes) = take_group(&mut state, 3);
        assert_eq!((group.len(), writes.len(), state.taken), (1, 3, 4));
        assert!(state.appends.is_empty() && state.writes.is_empty());
    }

    #[tokio::test]
    async fn a_stopped_group_commit_fails_writers_instead_of_hanging() {
        let (db, journal, _dir) = temporary();
        let commit = start(db, None, journal, policy());
        durable(&commit).await.unwrap();
        commit.shared.stop();
        assert!(matches!(durable(&commit).await, Err(StoreError::Backend(_))));
        assert!(matches!(commit.submit(Vec::new()), Err(StoreError::Backend(_))));
        assert!(matches!(commit.appends_applied(), Err(StoreError::Backend(_))));
    }

    #[tokio::test]
    async fn full_journal_files_are_checkpointed_and_deleted() {
        let dir = tempfile::tempdir().unwrap();
        let db = sled::Config::new().path(dir.path().join("db")).open().unwrap();
        let journal_dir = journal::dir(dir.path());
        let journal = Journal::create(&journal_dir, 1, journal::Options::NO_SYNC).unwrap();
        // Every group fills a file.
        let policy = Policy { checkpoint_bytes: 1, ..policy() };
        let commit = start(db.clone(), None, journal, policy);
        for i in 0..5u8 {
            let ack = commit.submit(vec![(vec![i], vec![i])]).unwrap().ack;
            ack.wait().await.unwrap();
        }
        // Checkpoints run beside the appends; wait for them, bounded.
        for _ in 0..1000 {
            if commit.stats().checkpoints >= 5 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        assert!(commit.stats().checkpoints >= 1, "{:?}", commit.stats());
        let files = || std::fs::read_dir(&journal_dir).unwrap().count();
        assert!(files() < 6, "checkpointed files are deleted: {} left", files());
        drop(commit);
        // Closing checkpoints the last file too, and every write is in sled.
        assert_eq!(files(), 0);
        assert_eq!(db.get([4u8]).unwrap().unwrap().as_ref(), [4u8]);
    }

    #[tokio::test]
    async fn a_failed_journal_write_fails_the_group_and_every_later_write() {
        let dir = tempfile::tempdir().unwrap();
        let db = sled::Config::new().temporary(true).open().unwrap();
        // Every write to /dev/full fails with "no space left on device".
        let full = std::fs::OpenOptions::new().append(true).open("/dev/full").unwrap();
        let journal = Journal::on_file(&journal::dir(dir.path()), full);
        let commit = start(db.clone(), None, journal, policy());
        let submitted = commit.submit(vec![(b"k".to_vec(), b"v".to_vec())]).unwrap();
        assert!(matches!(submitted.ack.wait().await, Err(StoreError::Backend(_))));
        assert_eq!(db.get(b"k").unwrap(), None, "a group that is not journaled is not applied");
        assert!(!commit.is_applied(submitted.number));
        assert_eq!(commit.shared.alarm.health(), kanect_core::StoreHealth::Failed, "the alarm is raised");
        assert!(matches!(commit.submit(Vec::new()), Err(StoreError::Backend(_))));
        assert!(matches!(durable(&commit).await, Err(StoreError::Backend(_))));
    }
}
