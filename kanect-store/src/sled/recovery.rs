//! Recovery: after a failure, the store reopens itself once its directory takes writes again.
//!
//! Why reopen, rather than retry the write that failed: sled 0.34's errors are sticky. Its
//! first failed write to its files (a full disk, an I/O error) is kept as a global error, and
//! every later flush, and many inserts and reads, return it until the database is opened
//! again. And what sled holds in memory may by then differ from its files. So a failure of
//! group commit or of sled ([`Alarm::raise`], see `kv::alarm`) ends the life of the whole open database
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
//! The recovery thread (`kv::recovery`, shared with fjall) waits for the alarm, then probes the
//! directory with backoff (100 ms doubling up to 5 s) by writing [`PROBE_BYTES`] to a scratch
//! file, and once that succeeds calls [`reopen`]. Meanwhile the store is
//! [`StoreHealth::Failed`]: writes are refused, and reads are served by the failed database as
//! far as sled still answers them. The reopen:
//! 1. [`StoreHealth::Recovering`]: takes the failed database out (once the calls inside it
//!    have returned; they never wait on anything while inside) and drops it, which stops its
//!    threads and releases the directory, then opens it again. Calls fail meanwhile.
//! 2. If the open fails, the store is failed again with no database (calls fail until an open
//!    succeeds, at the next attempt); else the fresh database takes calls and the store is
//!    [`StoreHealth::Ok`] again.
//!
//! [`StoreHealth::Ok`]: kanect_core::StoreHealth::Ok
//! [`StoreHealth::Failed`]: kanect_core::StoreHealth::Failed
//! [`StoreHealth::Recovering`]: kanect_core::StoreHealth::Recovering

use super::config::SledConfig;
use super::open::Open;
use crate::kv::alarm::Alarm;
pub(super) use crate::kv::recovery::{OpenSlot, Recovery};
use kanect_core::StoreError;
use std::sync::Arc;

/// What a probe writes: two of sled's 512 KiB segments, the least a reopen, its journal replay
/// and its flush will need.
const PROBE_BYTES: usize = 1 << 20;

/// What the store's handle shares with its recovery thread.
pub(super) struct Shared {
    /// The directory as opened now; None while it is being reopened, and after a reopen that
    /// failed.
    pub(super) open: OpenSlot<Open>,
    /// How to open it again.
    pub(super) config: SledConfig,
    /// Raised by a failure of the current `Open`; the store's health.
    pub(super) alarm: Arc<Alarm>,
}

/// Starts the recovery thread of the store whose state is `shared`.
///
/// # Errors
/// [`StoreError::Backend`] if the thread cannot be started.
pub(super) fn start(shared: Arc<Shared>) -> Result<Recovery, StoreError> {
    let (alarm, path) = (shared.alarm.clone(), shared.config.path.clone());
    Recovery::start(alarm, path, PROBE_BYTES, move || reopen(&shared))
}

/// Replaces the failed database with a fresh open of its directory.
fn reopen(shared: &Shared) -> Result<(), StoreError> {
    // Dropping the failed open stops its threads (their writers get errors).
    shared.open.replace(&shared.alarm, || Open::new(&shared.config, shared.alarm.clone()))
}
