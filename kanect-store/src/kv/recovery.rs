//! The recovery thread of an embedded store: after a failure, it waits until the store's
//! directory takes writes again, then has the store reopen it.
//!
//! What is engine-agnostic about recovering from a failed write (a full disk, an I/O error)
//! lives here, once: when to try and how to tell that trying can succeed. How to replace the
//! failed database is each engine's (`sled::recovery`, `fjall::recovery`), given as the
//! `reopen` closure, which also moves the [`Alarm`] through [`Phase::Recovering`] and back.
//!
//! The thread, in a loop while the store is open:
//! 1. waits for the alarm ([`StoreHealth::Ok`] until then);
//! 2. [`StoreHealth::Failed`]: waits [`FIRST_RETRY`], doubling up to [`LAST_RETRY`] between
//!    attempts. Timed, not triggered by writes: a load balancer that sees `/health` fail stops
//!    sending any;
//! 3. probes the directory: writes the engine's probe size to a scratch file, syncs and
//!    deletes it. While the disk stays full this fails cheaply, and the failed database keeps
//!    serving reads, rather than each attempt paying for a reopen that cannot succeed;
//! 4. calls `reopen`; if it fails, back to 2, else back to 1.
//!
//! [`StoreHealth::Ok`]: kanect_core::StoreHealth::Ok
//! [`StoreHealth::Failed`]: kanect_core::StoreHealth::Failed
//! [`Phase::Recovering`]: super::alarm::Phase::Recovering

use super::alarm::{Alarm, Phase};
use kanect_core::StoreError;
use std::fs::File;
use std::io::{self, Write as _};
use std::path::{Path, PathBuf};
use std::sync::{Arc, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::thread::JoinHandle;
use std::time::Duration;

/// The first wait after a failure before the directory is probed.
const FIRST_RETRY: Duration = Duration::from_millis(100);

/// The longest wait between two attempts: how long a store may stay failed after its disk has
/// room again.
const LAST_RETRY: Duration = Duration::from_secs(5);

/// The probe's scratch file, in the store's directory (both engines ignore it).
const PROBE_FILE: &str = "kanect-probe.tmp";

/// An embedded store's open database (`T`), which a recovery replaces: None while it is being
/// reopened, and after a reopen that failed. Calls hold the read lock while they use it; a
/// replacement takes the write lock, so it waits for the calls under way.
pub(crate) struct OpenSlot<T>(RwLock<Option<T>>);

impl<T> OpenSlot<T> {
    pub(crate) fn new(open: T) -> OpenSlot<T> {
        OpenSlot(RwLock::new(Some(open)))
    }

    /// The current open, for a call that returns without waiting on anything.
    pub(crate) fn read(&self) -> RwLockReadGuard<'_, Option<T>> {
        // Read guards do not poison; a panic under the write lock left the slot whole.
        self.0.read().unwrap_or_else(PoisonError::into_inner)
    }

    /// The slot itself.
    pub(crate) fn write(&self) -> RwLockWriteGuard<'_, Option<T>> {
        // A panic under the write lock is one of `replace`'s plain assignments: nothing half done.
        self.0.write().unwrap_or_else(PoisonError::into_inner)
    }

    /// Replaces the failed open with what `reopen` opens, and moves `alarm` through
    /// [`Phase::Recovering`] to [`Phase::Running`], or to [`Phase::Failed`] if `reopen` fails
    /// (the slot then stays empty).
    pub(crate) fn replace(
        &self,
        alarm: &Alarm,
        reopen: impl FnOnce() -> Result<T, StoreError>,
    ) -> Result<(), StoreError> {
        alarm.set(Phase::Recovering);
        // The write lock waits for the calls under way; dropping the failed open stops its
        // threads and releases the directory, which `reopen` needs.
        drop(self.write().take());
        match reopen() {
            Ok(open) => {
                // Running before the open takes calls: a failure of the fresh one must raise
                // the alarm again, not be ignored as one of the old one's.
                let mut slot = self.write();
                alarm.set(Phase::Running);
                *slot = Some(open);
                Ok(())
            }
            Err(error) => {
                alarm.set(Phase::Failed);
                Err(error)
            }
        }
    }
}

/// The recovery thread of a store; stopped and joined on drop (after a reopen under way).
pub(crate) struct Recovery {
    alarm: Arc<Alarm>,
    thread: Option<JoinHandle<()>>,
}

impl Recovery {
    /// Starts the recovery thread of the store in `path` whose health is `alarm`: once the
    /// alarm is raised and `probe_bytes` can be written to `path`, it calls `reopen`.
    ///
    /// # Errors
    /// [`StoreError::Backend`] if the thread cannot be started.
    pub(crate) fn start(
        alarm: Arc<Alarm>,
        path: PathBuf,
        probe_bytes: usize,
        reopen: impl FnMut() -> Result<(), StoreError> + Send + 'static,
    ) -> Result<Recovery, StoreError> {
        let thread = std::thread::Builder::new()
            .name("kanect-recovery".into())
            .spawn({
                let alarm = alarm.clone();
                move || recover_after_failures(&alarm, &path, probe_bytes, reopen)
            })
            .map_err(StoreError::backend)?;
        Ok(Recovery { alarm, thread: Some(thread) })
    }
}

impl Drop for Recovery {
    fn drop(&mut self) {
        self.alarm.close();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// The recovery thread: see the module docs.
fn recover_after_failures(
    alarm: &Alarm,
    path: &Path,
    probe_bytes: usize,
    mut reopen: impl FnMut() -> Result<(), StoreError>,
) {
    while alarm.wait_for_failure() {
        let mut delay = FIRST_RETRY;
        loop {
            if !alarm.sleep(delay) {
                return;
            }
            delay = (delay * 2).min(LAST_RETRY);
            if let Err(error) = probe(path, probe_bytes) {
                tracing::warn!(%error, retry_ms = delay.as_millis() as u64, "the store's directory does not take writes yet");
                continue;
            }
            match reopen() {
                Ok(()) => {
                    tracing::info!("the store has recovered: its directory is open again");
                    break;
                }
                Err(error) => {
                    tracing::error!(%error, retry_ms = delay.as_millis() as u64, "cannot reopen the failed store")
                }
            }
        }
    }
}

/// Whether the directory `path` takes `bytes` of writes: see the module docs.
fn probe(path: &Path, bytes: usize) -> io::Result<()> {
    let file = path.join(PROBE_FILE);
    let written = File::create(&file).and_then(|mut probe| {
        probe.write_all(&vec![0; bytes])?;
        probe.sync_data()
    });
    let removed = std::fs::remove_file(&file);
    written.and(removed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_probe_leaves_nothing_behind_and_fails_where_nothing_can_be_written() {
        let dir = tempfile::tempdir().unwrap();
        probe(dir.path(), 1 << 20).unwrap();
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
        assert!(probe(&dir.path().join("missing"), 1).is_err());
    }

    #[test]
    fn a_raised_alarm_is_answered_by_a_reopen_once_the_probe_succeeds() {
        let dir = tempfile::tempdir().unwrap();
        let alarm = Arc::new(Alarm::default());
        let (reopened, reopens) = std::sync::mpsc::channel();
        let recovery = Recovery::start(alarm.clone(), dir.path().to_path_buf(), 1, {
            let alarm = alarm.clone();
            move || {
                alarm.set(super::super::alarm::Phase::Running);
                reopened.send(()).unwrap();
                Ok(())
            }
        })
        .unwrap();
        alarm.raise();
        reopens.recv_timeout(Duration::from_secs(30)).expect("no reopen after the alarm");
        assert_eq!(alarm.health(), kanect_core::StoreHealth::Ok);
        drop(recovery);
        assert!(reopens.try_recv().is_err(), "one reopen for one alarm");
    }
}
