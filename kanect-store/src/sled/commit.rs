//! Group commit: many writes share one flush, and none is acknowledged before it.
//!
//! A write either applies itself to sled and then queues for the next flush
//! ([`GroupCommit::durable`]), or hands its key-value pairs to the flusher to apply
//! ([`GroupCommit::submit`], the path of message appends). Either way its acknowledgement
//! comes from a flush that *started after the write was applied*. One dedicated flusher
//! thread does all flushing, so exactly one flush is ever in flight: sled's `flush_async()`
//! deadlocks when called concurrently (see DESIGN.md), and a blocking `flush()` must not run
//! on the async threads anyway.
//!
//! Why appends are applied by the flusher: in sled 0.34 `flush()` holds a process-wide
//! read lock for the whole write and `sync_file_range`, and `apply_batch` takes the same lock
//! for writing. A writer calling `apply_batch` during a flush therefore blocks its thread
//! (an async worker) until the flush ends, and with it every sled read queued behind it: the
//! engine stalls for each flush and groups stay small. Submitted writes are merged into one
//! batch that the flusher applies just before flushing: one write-lock acquisition per group,
//! and writers never block on sled while a flush runs. (Applying each submission as its own
//! batch keeps per-message atomicity too, but measured three times slower: every
//! `apply_batch` pays for taking that lock.)
//!
//! The flusher's loop:
//! 1. sleep until a write waits;
//! 2. *collect*: keep polling every [`Policy::quiet`] while new writers keep arriving, until
//!    none arrived during a poll, [`Policy::max_group`] wait, or [`Policy::window`] has passed
//!    since the first one arrived. This pays also under load: each flush has a large fixed
//!    cost, and with 64 concurrent senders (benches/store.rs) collecting gave groups of ~40
//!    and about a third more sends/s than starting the next flush at once with whoever
//!    queued during the last one (groups of ~26);
//! 3. take the group, apply its submitted writes as one batch (atomic across a crash) and
//!    `db.flush()` (sled ends it with `sync_file_range`: survives a process crash);
//! 4. hand the group to the syncer thread, which `fdatasync`s the db file (survives power
//!    loss and kernel crashes; one sync covers every group flushed meanwhile) and wakes the
//!    group with the result. The flusher goes straight back to step 1, so the next group's
//!    apply and flush overlap this sync.
//!
//! A failed apply or flush fails its whole group and every later write: what sled holds in
//! memory may then differ from the disk (and submitted seqs may be lost), so the store
//! refuses writes until it is reopened, which recovers from what is on disk. If the flusher
//! thread stops (store dropped, or a panic inside sled), waiting writers get an error instead
//! of waiting forever.

use super::format::sled_error;
use kanect_core::StoreError;
use std::fs::File;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};
use tokio::sync::oneshot;

/// When the flusher closes a group.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Policy {
    /// Flush as soon as this many writes wait.
    pub(crate) max_group: usize,
    /// The longest the first write of a group waits for company.
    pub(crate) window: Duration,
    /// Close the group early when no writer arrived for this long.
    pub(crate) quiet: Duration,
}

/// Why a durable wait failed. Cloned to every writer of the group.
#[derive(Clone, Debug, thiserror::Error)]
#[error("group commit failed: {0}")]
pub(crate) struct FlushError(Arc<str>);

type Waiter = oneshot::Sender<Result<(), FlushError>>;

/// A key and the value to put under it.
pub(crate) type Write = (Vec<u8>, Vec<u8>);

/// A write's place in a group: resolves when the group's flush is done.
pub(crate) type Ack = oneshot::Receiver<Result<(), FlushError>>;

#[derive(Default)]
struct State {
    waiting: Vec<Waiter>,
    /// Submitted writes, in submission order, for the flusher to apply.
    writes: Vec<Write>,
    /// Set by the first failed group: every later write fails too.
    failed: Option<FlushError>,
    /// The store is closing: flush what waits, then stop.
    stopping: bool,
    /// The flusher is gone: refuse new waiters.
    stopped: bool,
}

#[derive(Default)]
struct Shared {
    state: Mutex<State>,
    wake: Condvar,
    flushes: AtomicU64,
    writes: AtomicU64,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // Every critical section is a push or a take: a panic cannot leave it half done.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Counters for tuning: how many flushes ran and how many writes they acknowledged.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct GroupCommitStats {
    /// Flushes completed (successfully or not).
    pub flushes: u64,
    /// Writes acknowledged by those flushes; `writes / flushes` is the mean group size.
    pub writes: u64,
}

/// The group-commit handle a store holds; dropping it flushes what remains and joins the
/// flusher thread (so the database is released when the store is dropped).
pub(crate) struct GroupCommit {
    shared: Arc<Shared>,
    flusher: Option<JoinHandle<()>>,
}

impl GroupCommit {
    /// Starts the flusher thread. `sync` is the file to `fdatasync` after each flush (None:
    /// sled's flush alone, e.g. for a temporary store).
    pub(crate) fn start(db: sled::Db, sync: Option<File>, policy: Policy) -> Result<Self, StoreError> {
        let shared = Arc::new(Shared::default());
        let flusher = std::thread::Builder::new()
            .name("kanect-sled-flush".into())
            .spawn({
                let shared = shared.clone();
                move || run(&shared, &db, sync.as_ref(), policy)
            })
            .map_err(StoreError::backend)?;
        Ok(GroupCommit { shared, flusher: Some(flusher) })
    }

    /// Returns once every write applied before this call is durable.
    ///
    /// # Errors
    /// [`StoreError::Backend`] if the flush failed or the flusher has stopped; the write may
    /// or may not have reached the disk, and the caller must not acknowledge it.
    pub(crate) async fn durable(&self) -> Result<(), StoreError> {
        Self::acknowledged(self.submit(Vec::new())?).await
    }

    /// Queues `writes` for the flusher to apply (as part of one batch) and flush. Does not
    /// wait: pass the result to [`GroupCommit::acknowledged`]. Writes submitted earlier are
    /// applied first, so a later value for the same key wins.
    ///
    /// # Errors
    /// [`StoreError::Backend`] if an earlier group failed or the flusher has stopped.
    pub(crate) fn submit(&self, writes: Vec<Write>) -> Result<Ack, StoreError> {
        let (waiter, ack) = oneshot::channel();
        let mut state = self.shared.lock();
        if let Some(failed) = &state.failed {
            return Err(StoreError::backend(failed.clone()));
        }
        if state.stopped {
            return Err(StoreError::backend(FlushError("the flusher has stopped".into())));
        }
        state.waiting.push(waiter);
        state.writes.extend(writes);
        if state.waiting.len() == 1 {
            self.shared.wake.notify_one();
        }
        Ok(ack)
    }

    /// Waits for a submitted write's group to be flushed.
    ///
    /// # Errors
    /// As [`GroupCommit::durable`].
    pub(crate) async fn acknowledged(ack: Ack) -> Result<(), StoreError> {
        match ack.await {
            Ok(result) => result.map_err(StoreError::backend),
            Err(_) => Err(StoreError::backend(FlushError("the flusher stopped before flushing".into()))),
        }
    }

    /// Flush and write counters so far.
    pub(crate) fn stats(&self) -> GroupCommitStats {
        GroupCommitStats {
            flushes: self.shared.flushes.load(Ordering::Relaxed),
            writes: self.shared.writes.load(Ordering::Relaxed),
        }
    }
}

impl Drop for GroupCommit {
    fn drop(&mut self) {
        self.shared.lock().stopping = true;
        self.shared.wake.notify_one();
        if let Some(flusher) = self.flusher.take() {
            // A panicked flusher already failed its waiters (see `Stopped`); nothing to add.
            let _ = flusher.join();
        }
    }
}

/// Marks the flusher stopped and fails whoever still waits, also when it unwinds.
struct Stopped<'a>(&'a Shared);

impl Drop for Stopped<'_> {
    fn drop(&mut self) {
        let mut state = self.0.lock();
        state.stopped = true;
        // Dropping the senders wakes their writers with an error.
        state.waiting.clear();
        state.writes.clear();
    }
}

fn run(shared: &Shared, db: &sled::Db, sync: Option<&File>, policy: Policy) {
    let _stopped = Stopped(shared);
    std::thread::scope(|scope| {
        let syncer = sync.and_then(|file| {
            let (to_sync, groups) = mpsc::channel();
            let spawned = std::thread::Builder::new()
                .name("kanect-sled-sync".into())
                .spawn_scoped(scope, move || sync_groups(shared, file, &groups));
            match spawned {
                Ok(_) => Some(to_sync),
                Err(error) => {
                    // Still correct, only slower: the flusher syncs inline.
                    tracing::warn!(%error, "no fdatasync thread; syncing on the flusher");
                    None
                }
            }
        });
        let inline_sync = if syncer.is_some() { None } else { sync };
        flush_groups(shared, db, inline_sync, syncer.as_ref(), policy);
        if let (Some(file), Some(_)) = (sync, &syncer) {
            if let Err(error) = file.sync_data() {
                tracing::error!(%error, "final fdatasync on close failed");
            }
        }
        // Dropping `syncer` ends `sync_groups`; the scope joins it.
    });
}

/// The flusher: collect a group, apply its writes, flush, then hand the group to the syncer
/// (or sync inline, or acknowledge directly when there is nothing to sync).
fn flush_groups(
    shared: &Shared,
    db: &sled::Db,
    sync: Option<&File>,
    syncer: Option<&mpsc::Sender<Vec<Waiter>>>,
    policy: Policy,
) {
    loop {
        let mut state = shared.lock();
        while state.waiting.is_empty() {
            if state.stopping {
                drop(state);
                if let Err(error) = flush(db, sync) {
                    tracing::error!(%error, "final flush on close failed");
                }
                return;
            }
            state = shared.wake.wait(state).unwrap_or_else(PoisonError::into_inner);
        }
        let seen = state.waiting.len();
        drop(state);
        collect(shared, policy, seen);
        let (group, writes, failed) = {
            let mut state = shared.lock();
            (std::mem::take(&mut state.waiting), std::mem::take(&mut state.writes), state.failed.clone())
        };
        shared.flushes.fetch_add(1, Ordering::Relaxed);
        shared.writes.fetch_add(group.len() as u64, Ordering::Relaxed);
        // After a failure nothing more is applied: later seqs could build on lost ones.
        let result = match failed {
            Some(failed) => Err(failed),
            None => apply(db, writes).and_then(|()| flush(db, sync)),
        };
        match (result, syncer) {
            (Ok(()), Some(syncer)) => {
                if let Err(mpsc::SendError(group)) = syncer.send(group) {
                    answer(shared, group, Err(FlushError("the fdatasync thread has stopped".into())));
                }
            }
            (result, _) => answer(shared, group, result),
        }
    }
}

/// The syncer: `fdatasync` once for every group flushed since the last one, then wake them.
/// Runs beside the flusher so that the next group's apply and flush overlap this sync.
fn sync_groups(shared: &Shared, file: &File, groups: &mpsc::Receiver<Vec<Waiter>>) {
    while let Ok(mut waiting) = groups.recv() {
        for more in groups.try_iter() {
            waiting.extend(more);
        }
        let failed = shared.lock().failed.clone();
        let result = match failed {
            Some(failed) => Err(failed),
            None => file.sync_data().map_err(|error| FlushError(format!("fdatasync: {error}").into())),
        };
        answer(shared, waiting, result);
    }
}

/// Wakes a group with its result; a failure also fails every later write.
fn answer(shared: &Shared, group: Vec<Waiter>, result: Result<(), FlushError>) {
    if let Err(error) = &result {
        tracing::error!(%error, writes = group.len(), "group commit failed; the store refuses writes until reopened");
        shared.lock().failed.get_or_insert_with(|| error.clone());
    }
    for waiter in group {
        // A writer that gave up (its future was dropped) needs no answer.
        let _ = waiter.send(result.clone());
    }
}

/// Waits while writers keep joining the group, within the policy's bounds.
fn collect(shared: &Shared, policy: Policy, mut seen: usize) {
    let started = Instant::now();
    while seen < policy.max_group && !policy.quiet.is_zero() {
        let left = policy.window.saturating_sub(started.elapsed());
        if left.is_zero() {
            return;
        }
        std::thread::sleep(policy.quiet.min(left));
        let now = shared.lock().waiting.len();
        if now == seen {
            return;
        }
        seen = now;
    }
}

/// Applies a group's submitted writes as one batch.
fn apply(db: &sled::Db, writes: Vec<Write>) -> Result<(), FlushError> {
    if writes.is_empty() {
        return Ok(());
    }
    let mut batch = sled::Batch::default();
    for (key, value) in writes {
        batch.insert(key, value);
    }
    db.apply_batch(batch).map_err(|error| FlushError(sled_error(error).to_string().into()))
}

fn flush(db: &sled::Db, sync: Option<&File>) -> Result<(), FlushError> {
    db.flush().map_err(|error| FlushError(sled_error(error).to_string().into()))?;
    if let Some(file) = sync {
        file.sync_data().map_err(|error| FlushError(format!("fdatasync: {error}").into()))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn policy() -> Policy {
        Policy { max_group: 64, window: Duration::from_millis(1), quiet: Duration::from_micros(50) }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_writers_share_flushes() {
        let db = sled::Config::new().temporary(true).open().unwrap();
        let commit = Arc::new(GroupCommit::start(db.clone(), None, policy()).unwrap());
        let mut tasks = Vec::new();
        for task in 0..32u32 {
            let (db, commit) = (db.clone(), commit.clone());
            tasks.push(tokio::spawn(async move {
                for i in 0..20u32 {
                    db.insert([task.to_be_bytes(), i.to_be_bytes()].concat(), b"v".as_slice()).unwrap();
                    commit.durable().await.unwrap();
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
        let db = sled::Config::new().temporary(true).open().unwrap();
        let commit = GroupCommit::start(db.clone(), None, policy()).unwrap();
        let first = commit.submit(vec![(b"k".to_vec(), b"1".to_vec()), (b"a".to_vec(), b"x".to_vec())]).unwrap();
        let second = commit.submit(vec![(b"k".to_vec(), b"2".to_vec())]).unwrap();
        GroupCommit::acknowledged(first).await.unwrap();
        GroupCommit::acknowledged(second).await.unwrap();
        assert_eq!(db.get(b"k").unwrap().unwrap().as_ref(), b"2");
        assert_eq!(db.get(b"a").unwrap().unwrap().as_ref(), b"x");
    }

    #[tokio::test]
    async fn a_stopped_flusher_fails_writers_instead_of_hanging() {
        let db = sled::Config::new().temporary(true).open().unwrap();
        let commit = GroupCommit::start(db, None, policy()).unwrap();
        commit.durable().await.unwrap();
        commit.shared.lock().stopping = true;
        commit.shared.wake.notify_one();
        // Wait for the flusher to notice; bounded.
        for _ in 0..1000 {
            if commit.shared.lock().stopped {
                break;
            }
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        assert!(matches!(commit.durable().await, Err(StoreError::Backend(_))));
    }
}
