//! Group commit: many writes share one sync, and none is acknowledged before it.
//!
//! Two kinds of writes, two ways to durability:
//!
//! - **Appends** ([`GroupCommit::submit`], the hot path) hand their key-value pairs over
//!   unapplied. The *journal* thread collects a group of them, appends it to the
//!   [`journal`] as one record and `fdatasync`s it; the *apply* thread then
//!   inserts the group into sled and acknowledges it. sled is not flushed for them.
//! - **Direct writes** (users, sessions, conversations, receipts, edits: rare, and each needs
//!   its read-check-write under a lock) apply themselves to sled and then wait in
//!   [`GroupCommit::durable`] for the *checkpoint* thread's next `db.flush()` plus an
//!   `fdatasync` of sled's file: a flush that started after the write was applied.
//!
//! The checkpoint thread's flush also makes journal files redundant: once every group of a
//! file is applied and a flush has started after that, the file is deleted. The journal
//! thread starts a new file when the current one reaches [`Policy::checkpoint_bytes`], which
//! bounds both the journal's disk use and the replay at the next open.
//!
//! Why three threads: one flush or sync at a time per file, and none on the async threads (a
//! blocking `fdatasync` must not run there, and sled 0.34's `flush_async()` deadlocks its own
//! thread pool when seven or more calls run at once). Splitting the journal from the apply pipelines them: while
//! group *k* is inserted into sled, group *k + 1* is written and synced. Inserting after the
//! sync, never before, is what makes the journal a complete redo log (see `journal`).
//!
//! The journal thread's loop:
//! 1. sleep until an append waits;
//! 2. *collect*: keep polling every [`Policy::quiet`] while new writers keep arriving, until
//!    none arrived during a poll, [`Policy::max_group`] wait, or [`Policy::window`] has passed
//!    since the first one arrived (each sync has a fixed cost that a larger group shares);
//! 3. take the group, append it to the journal and `fdatasync`;
//! 4. pass it to the apply thread and, past the size limit, start the next journal file and
//!    tell the apply thread that the old one is complete.
//!
//! A failed journal write, sync, insert or flush fails its whole group and every later write:
//! what sled holds in memory may then differ from the disk, so the store refuses writes until
//! it is reopened, which recovers from the disk and the journal. If a thread stops (store
//! dropped, or a panic), waiting writers get an error instead of waiting forever.

use super::format::sled_error;
use super::journal::{self, Journal};
use kanect_core::StoreError;
use std::fs::File;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{mpsc, Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};
use tokio::sync::oneshot;

/// When the journal thread closes a group, and when it starts a new journal file.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Policy {
    /// Sync as soon as this many appends wait.
    pub(crate) max_group: usize,
    /// The longest the first append of a group waits for company.
    pub(crate) window: Duration,
    /// Close the group early when no append arrived for this long.
    pub(crate) quiet: Duration,
    /// Start a new journal file (and checkpoint the old one) past this size.
    pub(crate) checkpoint_bytes: u64,
}

/// Why a durable wait failed. Cloned to every writer of the group.
#[derive(Clone, Debug, thiserror::Error)]
#[error("group commit failed: {0}")]
pub(crate) struct FlushError(Arc<str>);

impl FlushError {
    fn new(what: &str, error: impl std::fmt::Display) -> FlushError {
        FlushError(format!("{what}: {error}").into())
    }
}

type Waiter = oneshot::Sender<Result<(), FlushError>>;

/// A key and the value to put under it.
pub(crate) type Write = (Vec<u8>, Vec<u8>);

/// A write's place in a group: resolves when the group is durable (and, for an append,
/// applied to sled).
pub(crate) type Ack = oneshot::Receiver<Result<(), FlushError>>;

#[derive(Default)]
struct State {
    /// Appends waiting for the journal thread, and their writes in submission order.
    appends: Vec<Waiter>,
    writes: Vec<Write>,
    /// Direct writers waiting for the checkpoint thread's next flush.
    flushes: Vec<Waiter>,
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
    /// Wakes the journal thread.
    appended: Condvar,
    /// Wakes the checkpoint thread.
    flush_wanted: Condvar,
    groups: AtomicU64,
    writes: AtomicU64,
    checkpoints: AtomicU64,
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

    /// Fails every later write with `error` (the first failure is kept) and wakes the group.
    fn fail(&self, group: Vec<Waiter>, error: FlushError) {
        tracing::error!(%error, writes = group.len(), "group commit failed; the store refuses writes until reopened");
        self.lock().failed.get_or_insert_with(|| error.clone());
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
}

fn answer(group: Vec<Waiter>, result: Result<(), FlushError>) {
    for waiter in group {
        // A writer that gave up (its future was dropped) needs no answer.
        let _ = waiter.send(result.clone());
    }
}

/// Counters for tuning: how many groups were committed and how many writes they acknowledged.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct GroupCommitStats {
    /// Groups committed: journal syncs of appends and sled flushes for direct writes.
    pub flushes: u64,
    /// Writes acknowledged by those groups; `writes / flushes` is the mean group size.
    pub writes: u64,
    /// Checkpoints: sled flushes after which applied journal files were deleted.
    pub checkpoints: u64,
}

/// The group-commit handle a store holds; dropping it commits what remains, checkpoints,
/// and joins its threads (so the database is released when the store is dropped).
pub(crate) struct GroupCommit {
    shared: Arc<Shared>,
    threads: Option<JoinHandle<()>>,
}

/// What the journal thread hands the apply thread.
enum Applied {
    /// A synced group: insert its writes, then acknowledge its waiters.
    Group(Vec<Waiter>, Vec<Write>),
    /// Journal files up to this number hold only groups sent before this.
    FilesDone(u64),
}

impl GroupCommit {
    /// Starts the three threads. `journal` is where appends become durable; `sync` is
    /// sled's database file, to `fdatasync` after each flush (None: sled's flush alone).
    pub(crate) fn start(
        db: sled::Db,
        sync: Option<File>,
        journal: Journal,
        policy: Policy,
    ) -> Result<Self, StoreError> {
        let shared = Arc::new(Shared::default());
        let threads = std::thread::Builder::new()
            .name("kanect-journal".into())
            .spawn({
                let shared = shared.clone();
                move || run(&shared, &db, sync.as_ref(), journal, policy)
            })
            .map_err(StoreError::backend)?;
        Ok(GroupCommit { shared, threads: Some(threads) })
    }

    /// Returns once every write applied to sled before this call is durable.
    ///
    /// # Errors
    /// [`StoreError::Backend`] if the flush failed or the store is stopping; the write may or
    /// may not have reached the disk, and the caller must not acknowledge it.
    pub(crate) async fn durable(&self) -> Result<(), StoreError> {
        Self::acknowledged(self.wait_for_flush()?).await
    }

    fn wait_for_flush(&self) -> Result<Ack, StoreError> {
        let (waiter, ack) = oneshot::channel();
        let mut state = self.shared.accepting()?;
        state.flushes.push(waiter);
        if state.flushes.len() == 1 {
            self.shared.flush_wanted.notify_one();
        }
        Ok(ack)
    }

    /// Queues an append's `writes` for the journal and, once synced, for sled. Does not wait:
    /// pass the result to [`GroupCommit::acknowledged`]. Appends submitted earlier are
    /// applied first, so a later value for the same key wins. An empty `writes` resolves
    /// once every append submitted before it is durable and applied.
    ///
    /// # Errors
    /// [`StoreError::Backend`] if an earlier group failed or the store is stopping.
    pub(crate) fn submit(&self, writes: Vec<Write>) -> Result<Ack, StoreError> {
        let (waiter, ack) = oneshot::channel();
        let mut state = self.shared.accepting()?;
        state.appends.push(waiter);
        state.writes.extend(writes);
        if state.appends.len() == 1 {
            self.shared.appended.notify_one();
        }
        Ok(ack)
    }

    /// Waits for a submitted write's group.
    ///
    /// # Errors
    /// As [`GroupCommit::durable`].
    pub(crate) async fn acknowledged(ack: Ack) -> Result<(), StoreError> {
        match ack.await {
            Ok(result) => result.map_err(StoreError::backend),
            Err(_) => Err(StoreError::backend(FlushError("group commit stopped before this write".into()))),
        }
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
        if let Some(threads) = self.threads.take() {
            // A panicked thread already failed its waiters (see `Stopped`); nothing to add.
            let _ = threads.join();
        }
    }
}

/// Marks group commit stopped when its threads end, and fails whoever still waits (also when
/// a thread unwinds: see [`FailOnPanic`]).
struct Stopped<'a>(&'a Shared);

impl Drop for Stopped<'_> {
    fn drop(&mut self) {
        self.0.stop();
    }
}

/// Stops group commit if one of its threads panics, so that nobody waits for it.
struct FailOnPanic<'a>(&'a Shared);

impl Drop for FailOnPanic<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.0.stop();
        }
    }
}

impl Shared {
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

fn run(shared: &Shared, db: &sled::Db, sync: Option<&File>, journal: Journal, policy: Policy) {
    let _stopped = Stopped(shared);
    let journal_dir = journal.dir().to_path_buf();
    std::thread::scope(|scope| {
        let (to_apply, applies) = mpsc::channel();
        let spawned = std::thread::Builder::new().name("kanect-apply".into()).spawn_scoped(scope, move || {
            let _panic = FailOnPanic(shared);
            apply_groups(shared, db, &applies);
        });
        let applier = match spawned {
            Ok(applier) => applier,
            Err(error) => return tracing::error!(%error, "cannot start the sled apply thread"),
        };
        let spawned = std::thread::Builder::new().name("kanect-checkpoint".into()).spawn_scoped(scope, || {
            let _panic = FailOnPanic(shared);
            checkpoint(shared, db, sync, &journal_dir);
        });
        if let Err(error) = spawned {
            return tracing::error!(%error, "cannot start the sled checkpoint thread");
        }
        // The scope joins the other threads before it unwinds: stop them first.
        let panic = FailOnPanic(shared);
        journal_groups(shared, journal, &to_apply, policy);
        drop(panic);
        drop(to_apply);
        // Once every group is applied, the checkpoint thread runs its last flush and stops.
        let _ = applier.join();
        shared.lock().drained = true;
        shared.flush_wanted.notify_one();
    });
}

/// The journal thread: collect a group of appends, journal and sync it, pass it on.
fn journal_groups(shared: &Shared, mut journal: Journal, to_apply: &mpsc::Sender<Applied>, policy: Policy) {
    loop {
        let mut state = shared.lock();
        while state.appends.is_empty() && !state.stopping && !state.stopped {
            state = shared.appended.wait(state).unwrap_or_else(PoisonError::into_inner);
        }
        if state.appends.is_empty() {
            break;
        }
        let seen = state.appends.len();
        drop(state);
        collect(shared, policy, seen);
        let (group, writes, failed) = {
            let mut state = shared.lock();
            (std::mem::take(&mut state.appends), std::mem::take(&mut state.writes), state.failed.clone())
        };
        // After a failure nothing more is written: later seqs could build on lost ones.
        if let Some(failed) = failed {
            answer(group, Err(failed));
            continue;
        }
        if let Err(error) = journal.append(&writes).and_then(|()| journal.sync()) {
            shared.fail(group, FlushError::new("journal write", error));
            continue;
        }
        if let Err(mpsc::SendError(Applied::Group(group, _))) = to_apply.send(Applied::Group(group, writes)) {
            shared.fail(group, FlushError("the sled apply thread has stopped".into()));
            continue;
        }
        if journal.len() >= policy.checkpoint_bytes {
            match journal.rotate() {
                Ok(done) => {
                    let _ = to_apply.send(Applied::FilesDone(done));
                }
                // The current file keeps growing; the next group tries again.
                Err(error) => tracing::error!(%error, "cannot start a new journal file"),
            }
        }
    }
    // Closing: after the last group is applied, a final flush covers every file.
    let _ = to_apply.send(Applied::FilesDone(journal.number()));
}

/// The apply thread: insert synced groups into sled in journal order and acknowledge them.
fn apply_groups(shared: &Shared, db: &sled::Db, groups: &mpsc::Receiver<Applied>) {
    while let Ok(applied) = groups.recv() {
        match applied {
            Applied::Group(group, writes) => {
                let failed = shared.lock().failed.clone();
                let result = match failed {
                    Some(failed) => Err(failed),
                    None => apply(db, writes),
                };
                shared.finish(group, result);
            }
            Applied::FilesDone(number) => {
                shared.lock().checkpoint = Some(number);
                shared.flush_wanted.notify_one();
            }
        }
    }
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
        while state.flushes.is_empty() && state.checkpoint.is_none() && !state.drained && !state.stopped {
            state = shared.flush_wanted.wait(state).unwrap_or_else(PoisonError::into_inner);
        }
        let (group, done, failed) = (std::mem::take(&mut state.flushes), state.checkpoint.take(), state.failed.clone());
        if group.is_empty() && done.is_none() {
            break;
        }
        drop(state);
        let result = match failed {
            Some(failed) => Err(failed),
            None => flush(db, sync),
        };
        if let (Ok(()), Some(done)) = (&result, done) {
            shared.checkpoints.fetch_add(1, Ordering::Relaxed);
            // A file left behind is replayed once more at the next open: harmless.
            if let Err(error) = journal::remove(journal_dir, done) {
                tracing::warn!(%error, "cannot delete checkpointed journal files");
            }
        }
        if !group.is_empty() {
            shared.finish(group, result);
        } else if let Err(error) = result {
            shared.fail(Vec::new(), error);
        }
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
        let now = shared.lock().appends.len();
        if now == seen {
            return;
        }
        seen = now;
    }
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

    /// A temporary sled and a journal in a temporary directory (kept alive by the third).
    fn temporary() -> (sled::Db, Journal, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let journal = Journal::create(&journal::dir(dir.path()), 1, false).unwrap();
        (sled::Config::new().temporary(true).open().unwrap(), journal, dir)
    }

    fn policy() -> Policy {
        Policy {
            max_group: 64,
            window: Duration::from_millis(1),
            quiet: Duration::from_micros(50),
            checkpoint_bytes: 1 << 20,
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_writers_share_flushes() {
        let (db, journal, _dir) = temporary();
        let commit = Arc::new(GroupCommit::start(db.clone(), None, journal, policy()).unwrap());
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
        let (db, journal, _dir) = temporary();
        let commit = GroupCommit::start(db.clone(), None, journal, policy()).unwrap();
        let first = commit.submit(vec![(b"k".to_vec(), b"1".to_vec()), (b"a".to_vec(), b"x".to_vec())]).unwrap();
        let second = commit.submit(vec![(b"k".to_vec(), b"2".to_vec())]).unwrap();
        GroupCommit::acknowledged(first).await.unwrap();
        GroupCommit::acknowledged(second).await.unwrap();
        assert_eq!(db.get(b"k").unwrap().unwrap().as_ref(), b"2");
        assert_eq!(db.get(b"a").unwrap().unwrap().as_ref(), b"x");
    }

    #[tokio::test]
    async fn a_stopped_group_commit_fails_writers_instead_of_hanging() {
        let (db, journal, _dir) = temporary();
        let commit = GroupCommit::start(db, None, journal, policy()).unwrap();
        commit.durable().await.unwrap();
        commit.shared.stop();
        assert!(matches!(commit.durable().await, Err(StoreError::Backend(_))));
        assert!(matches!(commit.submit(Vec::new()), Err(StoreError::Backend(_))));
    }

    #[tokio::test]
    async fn full_journal_files_are_checkpointed_and_deleted() {
        let dir = tempfile::tempdir().unwrap();
        let db = sled::Config::new().path(dir.path().join("db")).open().unwrap();
        let journal_dir = journal::dir(dir.path());
        let journal = Journal::create(&journal_dir, 1, false).unwrap();
        // Every group fills a file.
        let policy = Policy { checkpoint_bytes: 1, ..policy() };
        let commit = GroupCommit::start(db.clone(), None, journal, policy).unwrap();
        for i in 0..5u8 {
            let ack = commit.submit(vec![(vec![i], vec![i])]).unwrap();
            GroupCommit::acknowledged(ack).await.unwrap();
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
        let commit = GroupCommit::start(db.clone(), None, journal, policy()).unwrap();
        let ack = commit.submit(vec![(b"k".to_vec(), b"v".to_vec())]).unwrap();
        assert!(matches!(GroupCommit::acknowledged(ack).await, Err(StoreError::Backend(_))));
        assert_eq!(db.get(b"k").unwrap(), None, "a group that is not journaled is not applied");
        assert!(matches!(commit.submit(Vec::new()), Err(StoreError::Backend(_))));
        assert!(matches!(commit.durable().await, Err(StoreError::Backend(_))));
    }
}
