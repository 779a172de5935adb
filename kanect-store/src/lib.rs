//! # kanect-store
//!
//! Kanect's storage backends for the [`kanect_core::Store`] trait: [`SledStore`], the
//! embedded default (feature `sled`, on by default), and `PgStore` for deployments beyond one
//! machine (feature `postgres`). Both pass the core's conformance suite.
//!
//! ```
//! # fn main() -> Result<(), kanect_core::StoreError> {
//! # let dir = tempfile::tempdir().unwrap();
//! use kanect_store::{SledConfig, SledStore};
//! let mut config = SledConfig::new(dir.path().join("kanect-data"));
//! config.cache_capacity = 16 * 1024 * 1024;
//! let store = SledStore::open_with(config)?;
//! # drop(store);
//! # Ok(()) }
//! ```
//!
//! # Durability contract (SledStore)
//!
//! *Acknowledged means durable.* Every write method (`append_message`, `insert_user`,
//! `advance_receipt`, ...) returns only after its write has been flushed: sled's `flush()`
//! (which ends in `sync_file_range`, so the write survives a crash of the process) followed by
//! an `fdatasync` of the database file (so it also survives power loss or a kernel crash;
//! [`SledConfig::fsync`] turns this second step off). When a write method returns an error,
//! nothing was acknowledged; the write may or may not be on disk, and retrying
//! `append_message` with the same client id is safe.
//!
//! Flushes are shared by **group commit**: writes apply to sled in memory and queue for one
//! flusher thread, which collects waiting writers for a short window (bounded by
//! [`SledConfig::group_max`] writers and [`SledConfig::group_window`], closed early after
//! [`SledConfig::group_quiet`] without a newcomer), flushes once and wakes the whole group.
//! One flush is in flight at a time; no write is ever acknowledged before the flush that
//! covers it, and there is never an fsync per message.
//!
//! Multi-record writes are atomic: a message and its id index are one sled batch, so a crash
//! never leaves an index entry without its message. The id index also answers resends: a
//! message's id is derived from its (conversation, sender, client id).
//! Seqs are gap-free under concurrent appends: a conversation's last seq is its last message's
//! key, cached in memory after the first append.
//!
//! Reads may observe a write between its apply and its flush (a few hundred microseconds);
//! if the process dies in that window the write is gone, but it was never acknowledged.
//! [`SledStore::temporary`] stores skip the disk sync entirely: tests only.
//!
//! # On disk
//!
//! One sled database per directory (`./kanect-data` by the server's default). Keys are
//! big-endian so range scans return history in order; messages are a compact binary record,
//! the other values serde_json. The layout
//! carries a format version, checked at open: a newer or unknown version is
//! [`StoreError::Format`](kanect_core::StoreError::Format) (as is an older one: format 1 is not
//! migrated), an undecodable record is
//! [`StoreError::Corrupt`](kanect_core::StoreError::Corrupt). The page cache defaults to
//! 64 MiB ([`SledConfig::cache_capacity`]). sled 0.34 does not reclaim space: disk grows with
//! every message, about 0.9 KB each when 64 writers share group commits (19,200 short
//! messages; format 1 took 1.3 KB in the same run).
//!
//! # Layout
//! - `sled` — [`SledStore`], [`SledConfig`], opening and the `Store` impl.
//! - `sled::keys` — the key spaces and their big-endian encoding.
//! - `sled::format` — the format version check, record codecs, sled error mapping.
//! - `sled::message_codec` — the binary encoding of message records.
//! - `sled::commit` — group commit: the flusher thread and its policy.
//! - `sled::accounts`, `sled::conversations`, `sled::messages` — the synchronous write and
//!   read halves of the `Store` methods, by domain.
//! - `pg` (feature `postgres`) — `PgStore`.

#[cfg(feature = "sled")]
mod sled;
#[cfg(feature = "sled")]
pub use crate::sled::{GroupCommitStats, SledConfig, SledStore};

#[cfg(feature = "postgres")]
mod pg;
#[cfg(feature = "postgres")]
pub use pg::{PgConfig, PgStore};
