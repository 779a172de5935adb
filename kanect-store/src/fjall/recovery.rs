//! Recovery: after a failed write, the store reopens its directory by itself once the
//! directory takes writes again, with no restart.
//!
//! # Why reopen
//! A failed journal write or sync poisons the fjall database: fjall refuses every write after
//! it, for good, because what reached the disk is unknown (a sync that failed may have written
//! some of the journal's buffer, or none). fjall's own flush and compaction threads poison it
//! too when they fail to write a table. The only way back is fjall's recovery at open: it
//! replays every batch whose journal record is whole and drops a torn one at the end, exactly
//! as after a crash. So the store does what a restart would, without the restart: it drops the
//! whole failed open of the directory ([`Inner`]: the database, its keyspaces, the purge
//! thread, the record caches and the stripes' last seqs) and opens the directory again.
//!
//! # Why it is correct
//! What the new open holds is what a crash at the moment of the failure would have left, and
//! nothing of the old open survives it, so nothing can disagree with it:
//! - a write acknowledged before the failure was synced first (see `writer`): fjall replays it;
//! - a write committed but never synced (its sync is the one that failed, and its caller got
//!   the error) is in the old open's memtable, and perhaps in its caches and its stripe's last
//!   seq; whether it is in the directory is unknown. None of that memory is kept: the caches
//!   and the last-seq maps live in [`Inner`] and start empty with the new one, so the next
//!   append reads its conversation's last seq from what the directory really holds, and the
//!   next read of a record reads it from there too;
//! - so a resend of a send that failed finds the message if the directory kept it (same id,
//!   same seq) or stores it once at the next seq: the contract of `tests/disk_full.rs`.
//!
//! One more step makes "what the directory holds" durable. After a failed sync, the page cache
//! may hold journal bytes that never reached the disk (Linux marks pages whose write-back failed
//! clean, and a later `fdatasync` does not write them again), and fjall's recovery reads the
//! journal through that cache: it may replay a batch that is not on disk, and a resend would
//! then be acknowledged by it. So before the reopened store takes any call, its memtables, which
//! hold everything replayed, are flushed into new tables, which fjall writes and syncs
//! (`purge::flush_memtables`): every batch the reopened store shows is then on disk for real,
//! or the flush fails and the reopen is tried again later.
//!
//! Closing the failed open must not make things worse: the purge thread's close (see `purge`)
//! starts with a write, which the poisoned database refuses, so it leaves the journals alone
//! (they are what the reopen replays). fjall's drop stops its threads, and writes out and syncs
//! what its journal's buffer still holds (it does not check the poison; by then the directory
//! takes writes again): a group whose sync failed may thus end up whole in the journal and be
//! replayed, which the contract allows (its callers got an error: the write may be stored),
//! while a batch whose own commit failed stays torn (fjall stops writing it at the error) and
//! is dropped.
//!
//! # How
//! Every handle of the store shares one [`Shared`]: a slot holding the current open under a
//! read-write lock, and the [`Alarm`] (the store's health). Reads run on the open in the slot
//! under its read lock (`FjallStore::with`); the writer thread runs each group of writes and
//! its sync under it too; neither ever waits on anything there, so the lock's write side waits
//! only for the calls under way (bounded by a fjall read, or a group and its one sync).
//!
//! A failed commit ([`Inner::commit`]) or sync (`writer`) raises the alarm; so does
//! `Store::health` when it finds the database poisoned by fjall's own threads (and the next
//! write's commit finds it too). The alarm wakes the recovery thread (`kv::recovery`, shared
//! with sled), which probes the directory with backoff (100 ms doubling up to 5 s) by writing
//! [`PROBE_BYTES`] to a scratch file, and once that succeeds calls [`reopen`]:
//! 1. [`StoreHealth::Recovering`]: takes the failed open out of the slot (the write lock
//!    waits for the calls under way) and drops it. fjall holds a lock file while any handle
//!    of the database lives; the open's fields are the only handles (the purge thread's are
//!    joined as it drops), so after the drop the directory is free.
//! 2. opens the directory again and flushes what it replayed (see above); on success the new
//!    open goes into the slot and the store is [`StoreHealth::Ok`]; on failure the slot stays
//!    empty, the store [`StoreHealth::Failed`], and the thread tries again after its next
//!    wait.
//!
//! Meanwhile writes are refused at once ([`Refused`]: the writer thread answers them without
//! running them), and reads are served by the failed open while it is in the slot (fjall
//! still reads what it holds), and fail with [`Recovering`] while the slot is empty.
//!
//! [`StoreHealth::Ok`]: kanect_core::StoreHealth::Ok
//! [`StoreHealth::Failed`]: kanect_core::StoreHealth::Failed
//! [`StoreHealth::Recovering`]: kanect_core::StoreHealth::Recovering

use super::{purge, Inner};
use crate::kv::alarm::Alarm;
use crate::kv::recovery::{OpenSlot, Recovery};
use kanect_core::StoreError;
use std::path::PathBuf;
use std::sync::{Arc, RwLockReadGuard};

/// What a probe writes: 1 MiB, room for what a reopen writes (fjall's recovery, the format
/// record and its sync) and the first writes after it.
const PROBE_BYTES: usize = 1 << 20;

/// What every handle of the store, its writer thread and its recovery thread share.
pub(crate) struct Shared {
    /// The directory as opened now; None while it is being reopened, and after a reopen that
    /// failed.
    open: OpenSlot<Inner>,
    /// Where the store lives, to open it again.
    pub(crate) path: PathBuf,
    /// Raised by a failure of the current open; the store's health.
    pub(crate) alarm: Arc<Alarm>,
}

impl Shared {
    /// The state of a store just opened as `inner`, whose failures raise `alarm`.
    pub(crate) fn new(inner: Inner, alarm: Arc<Alarm>) -> Shared {
        Shared { path: inner.path.clone(), open: OpenSlot::new(inner), alarm }
    }

    /// The current open, for a call that returns without waiting on anything.
    pub(crate) fn open(&self) -> RwLockReadGuard<'_, Option<Inner>> {
        self.open.read()
    }
}

/// Starts the recovery thread of the store whose state is `shared`.
///
/// # Errors
/// [`StoreError::Backend`] if the thread cannot be started.
pub(crate) fn start(shared: Arc<Shared>) -> Result<Recovery, StoreError> {
    let (alarm, path) = (shared.alarm.clone(), shared.path.clone());
    Recovery::start(alarm, path, PROBE_BYTES, move || reopen(&shared))
}

/// Replaces the failed open with a fresh open of its directory: see the module docs.
pub(super) fn reopen(shared: &Shared) -> Result<(), StoreError> {
    shared.open.replace(&shared.alarm, || {
        let inner = Inner::open(&shared.path, shared.alarm.clone())?;
        purge::flush_memtables(&inner.db, &inner.data)?;
        Ok(inner)
    })
}

/// Why a read failed: the store has no open database (a reopen is under way, or the last one
/// failed).
#[derive(Debug, thiserror::Error)]
#[error("the store failed and is being reopened")]
pub(crate) struct Recovering;

/// Why a write was refused: a write to the store's directory failed, and the store refuses
/// writes until it has reopened it.
#[derive(Debug, thiserror::Error)]
#[error("the store failed (a write to its directory failed) and refuses writes until it has reopened it")]
pub(crate) struct Refused;
