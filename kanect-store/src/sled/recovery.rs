//! Recovery: after a failure, the store reopens itself once its directory takes writes again.
//!
//! Why reopen, rather than retry the write that failed: sled 0.34's errors are sticky. Its
//! first failed write to its files (a full disk, an I/O error) is kept as a global error, and
//! every later flush, and many inserts and reads, return it until the database is opened
//! again. And what sled holds in memory may by then differ from its files. So a failure of
//! group commit or of sled ([`Alarm::raise`], see `alarm`) ends the life of the whole open database
//! ([`Open`]): sled, the journal, group commit and the in-memory state built on them (seq
//! counters, pending appends, the conversation cache, the id filter). The *recovery thread*
//! replaces it with a fresh open of the same directory, which recovers exactly as an open
//! after a crash does: sled's files as they are, plus a replay of every journal record (each
//! key only where sled lacks it), flushed and synced before anything new is acknowledged.
//!
//! That is what makes the failure contract hold (see the crate docs): a send whose journal
//! record was synced before the failure is in the store after recovery, at the seq it was
//! given, and its resend finds it; one whose record was not synced is not, and its resend is
//! stored at the next seq, as the seq counter is read afresh from sled. Nothing is stored
//! twice, and nothing is acknowledged that is not durable.
//!
//! The thread, in a loop while the store is open:
//! 1. waits for the alarm ([`StoreHealth::Ok`] until then);
//! 2. [`StoreHealth::Failed`]: waits [`FIRST_RETRY`], doubling up to [`LAST_RETRY`] between
//!    attempts. Timed, not triggered by writes: a load balancer that sees `/health` fail stops
//!    sending any. Meanwhile writes are refused, and reads are served by the failed database
//!    as far as sled still answers them;
//! 3. probes the directory: writes [`PROBE_BYTES`] to a scratch file, syncs and deletes it.
//!    While the disk stays full this fails cheaply, and the failed database keeps serving
//!    reads, rather than each attempt paying for a reopen that cannot succeed;
//! 4. [`StoreHealth::Recovering`]: takes the failed database out (once the calls inside it
//!    have returned; they never wait on anything while inside) and drops it, which stops its
//!    threads and releases the directory, then opens it again. Calls fail meanwhile. If the
//!    open fails, back to 2 with no database (calls fail until an open succeeds); else the
//!    fresh database takes calls and the store is [`StoreHealth::Ok`] again.
//!
//! [`StoreHealth::Ok`]: kanect_core::StoreHealth::Ok
//! [`StoreHealth::Failed`]: kanect_core::StoreHealth::Failed
//! [`StoreHealth::Recovering`]: kanect_core::StoreHealth::Recovering

use super::alarm::{Alarm, Phase};
use super::config::SledConfig;
use super::open::Open;
use kanect_core::StoreError;
use std::fs::File;
use std::io::{self, Write as _};
use std::path::Path;
use std::sync::{Arc, PoisonError, RwLock, RwLockWriteGuard};
use std::thread::JoinHandle;
use std::time::Duration;

/// The first wait after a failure before the directory is probed.
const FIRST_RETRY: Duration = Duration::from_millis(100);

/// The longest wait between two attempts: how long a store may stay failed after its disk has
/// room again.
const LAST_RETRY: Duration = Duration::from_secs(5);

/// What a probe writes: two of sled's 512 KiB segments, the least a reopen, its journal replay
/// and its flush will need.
const PROBE_BYTES: usize = 1 << 20;

/// The probe's scratch file, in the store's directory (sled and the journal ignore it).
const PROBE_FILE: &str = "kanect-probe.tmp";

/// What the store's handle shares with its recovery thread.
pub(super) struct Shared {
    /// The directory as opened now; None while it is being reopened, and after a reopen that
    /// failed.
    pub(super) open: RwLock<Option<Open>>,
    /// How to open it again.
    pub(super) config: SledConfig,
    /// Raised by a failure of the current `Open`; the store's health.
    pub(super) alarm: Arc<Alarm>,
}

impl Shared {
    /// The slot, to replace the open database.
    pub(super) fn slot(&self) -> RwLockWriteGuard<'_, Option<Open>> {
        // A panic under a write lock is one of `recovery`'s plain assignments: nothing half done.
        self.open.write().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The recovery thread of a store; stopped and joined on drop (after a reopen under way).
pub(crate) struct Recovery {
    alarm: Arc<Alarm>,
    thread: Option<JoinHandle<()>>,
}

impl Recovery {
    /// Starts the recovery thread of the store whose state is `shared`.
    ///
    /// # Errors
    /// [`StoreError::Backend`] if the thread cannot be started.
    pub(crate) fn start(shared: Arc<Shared>) -> Result<Recovery, StoreError> {
        let alarm = shared.alarm.clone();
        let thread = std::thread::Builder::new()
            .name("kanect-recovery".into())
            .spawn(move || recover_after_failures(&shared))
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
fn recover_after_failures(shared: &Shared) {
    while shared.alarm.wait_for_failure() {
        let mut delay = FIRST_RETRY;
        loop {
            if !shared.alarm.sleep(delay) {
                return;
            }
            delay = (delay * 2).min(LAST_RETRY);
            if let Err(error) = probe(&shared.config.path) {
                tracing::warn!(%error, retry_ms = delay.as_millis() as u64, "the store's directory does not take writes yet");
                continue;
            }
            match reopen(shared) {
                Ok(()) => {
                    tracing::info!("the store has recovered: reopened, with its journal replayed");
                    break;
                }
                Err(error) => {
                    tracing::error!(%error, retry_ms = delay.as_millis() as u64, "cannot reopen the failed store")
                }
            }
        }
    }
}

/// Whether the directory `path` takes writes: see the module docs.
fn probe(path: &Path) -> io::Result<()> {
    let file = path.join(PROBE_FILE);
    let written = File::create(&file).and_then(|mut probe| {
        probe.write_all(&vec![0; PROBE_BYTES])?;
        probe.sync_data()
    });
    let removed = std::fs::remove_file(&file);
    written.and(removed)
}

/// Replaces the failed database with a fresh open of its directory.
fn reopen(shared: &Shared) -> Result<(), StoreError> {
    shared.alarm.set(Phase::Recovering);
    // The write lock waits for the calls inside the database to return.
    let failed = shared.slot().take();
    // Stops its threads (their writers get errors) and releases the directory.
    drop(failed);
    match Open::new(&shared.config, shared.alarm.clone()) {
        Ok(open) => {
            // Running before the database takes calls: a failure of the fresh one must
            // raise the alarm again, not be ignored as one of the old one's.
            let mut slot = shared.slot();
            shared.alarm.set(Phase::Running);
            *slot = Some(open);
            Ok(())
        }
        Err(error) => {
            shared.alarm.set(Phase::Failed);
            Err(error)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_probe_leaves_nothing_behind_and_fails_where_nothing_can_be_written() {
        let dir = tempfile::tempdir().unwrap();
        probe(dir.path()).unwrap();
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
        assert!(probe(&dir.path().join("missing")).is_err());
    }
}
