//! # kanect-store
//!
//! Kanect's storage backends for the [`kanect_core::Store`] trait: [`FjallStore`], the
//! embedded default (feature `fjall`, on by default), on the maintained fjall LSM-tree engine
//! (its durability, atomicity and key layout are in its module's docs); `SledStore`, embedded
//! on sled 0.34 (feature `sled`: supported, for data directories it wrote; its contract is
//! below); and `PgStore` for deployments beyond one machine (feature `postgres`). All pass
//! the core's conformance suite, and both embedded stores the SIGKILL crash test. A directory
//! written by one embedded engine is refused by the other, with the commands that migrate it:
//! [`backup`] dumps any store to a versioned file and replays one into an empty store, for
//! backups and for moves between backends; [`backup::backup`] and [`backup::restore`] take the
//! blob store's bytes along, in a directory.
//!
//! Attachments' bytes are not in those stores but in a blob store of their own
//! ([`kanect_core::blob::BlobStore`]): [`FsBlobStore`], files under the data directory, beside
//! an embedded store; `PgBlobStore` (`PgStore::blobs`), chunk rows in the same database, beside
//! `PgStore`.
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), kanect_core::StoreError> {
//! # let dir = tempfile::tempdir().unwrap();
//! use kanect_core::backend::Store;
//! use kanect_store::FjallStore;
//! let store = FjallStore::open(dir.path().join("kanect-data"))?;
//! store.flush().await?;
//! # Ok(()) }
//! ```
//!
//! # Durability contract (SledStore)
//!
//! *Acknowledged means durable.* Every write method (`append_message`, `insert_user`,
//! `advance_receipt`, ...) returns only after its write is on disk in a way that survives a
//! crash of the process, and, with [`SledConfig::fsync`] (the default), power loss or a kernel
//! crash too. When a write method returns an error, nothing was acknowledged, but the write
//! may or may not be in the store (see "Failures" below).
//!
//! Message appends, the hot path, are made durable by a **write-ahead journal** and **group
//! commit**: appends wait for one commit thread, which takes every append waiting when it
//! comes round (at most [`SledConfig::group_max`]; those arriving meanwhile form the next
//! group), appends the group to the journal file as one checksummed record and `fdatasync`s
//! it once; only then does it insert the group into sled and acknowledge it. sled itself is
//! flushed (and its file `fdatasync`ed) at checkpoints, when the journal reaches
//! [`SledConfig::journal_bytes`]; the files a checkpoint covers are deleted, and an open
//! replays whatever a crash left in the journal. There is never an fsync per message, and
//! nothing is acknowledged before the sync that covers it. The other writes (accounts,
//! sessions, conversations, receipts, edits, attachment records) are applied to sled directly
//! and acknowledged after the next sled flush and `fdatasync`, shared the same way; a send into a
//! conversation whose record is still on its way to the disk waits for that flush too.
//!
//! A message and its id index are one journal record, so a crash never leaves one without
//! the other once the journal is replayed. The id index also answers resends: a message's id
//! is derived from its (conversation, sender, client id). A new message skips that lookup
//! when an in-memory Bloom filter of every stored id rules its id out (2–5 bytes of memory
//! per stored message; filled at open by a background scan of the id index, during which
//! every append looks its id up as before). Seqs are gap-free
//! under concurrent appends: a conversation's last seq is its last message's key, cached in
//! memory after the first append.
//!
//! Reads may observe a direct write between its apply and its flush (usually well under a
//! millisecond; longer while a checkpoint's flush runs); if the process dies in that window
//! the write is gone, but it was never acknowledged. A message is visible to reads once it
//! is acknowledged. [`SledStore::temporary`] stores never sync their journal and are deleted
//! on drop (kept in memory where `/dev/shm` exists): tests only.
//!
//! # Failures (SledStore)
//!
//! A failed journal write or sync, sled insert or flush (a full disk, an I/O error) fails the
//! store: every write is refused from then on (reads are served as far as sled still can),
//! and `Store::health` says `Failed`. A recovery thread then reopens the directory by itself,
//! as soon as it takes writes again (probed with backoff, from 100 ms up to every 5 s), and
//! the store works again without a restart. The reopen recovers as an open after a crash
//! does: sled's files, plus a replay of every journal record, made durable before anything
//! new is acknowledged. So what a failed write leaves behind is exactly what a crash at that
//! moment would: an append whose journal record was synced before the failure (its sled insert
//! failed) is in the store after recovery, at the seq it was given; one whose record was not,
//! is not. Either way a resend with the same client id is safe: it returns the stored message
//! (same id, same seq), or stores it now, once; never a second copy, also across restarts.
//! Direct writes (accounts, sessions, conversations, receipts, edits) that failed may be in the
//! store or not, as after a crash. `tests/disk_full.rs` proves this on a real full disk.
//!
//! # On disk
//!
//! One sled database per directory (`./kanect-data` by the server's default), and the journal
//! in its `journal/` subdirectory (usually about three times [`SledConfig::journal_bytes`],
//! up to 64 MiB a file: a full file stays until its checkpoint, the next one fills, and the one
//! after it is written out ahead; more if checkpoints fall behind; empty after a clean close). Keys are
//! big-endian so range scans return history in order; messages are a compact binary record,
//! the other values serde_json. The layout
//! carries a format version, checked at open: a newer or unknown version is
//! [`StoreError::Format`](kanect_core::StoreError::Format) (as is one older than format 3;
//! formats 3 and 4 are upgraded in place), an undecodable record is
//! [`StoreError::Corrupt`](kanect_core::StoreError::Corrupt). The page cache defaults to
//! 64 MiB ([`SledConfig::cache_capacity`]). sled 0.34 does not reclaim space: disk grows with
//! every message, about 0.9 KB each for short messages when 64 writers share group commits
//! (`benches/README.md`, "Disk use").
//!
//! # Layout
//! - `sled` — [`SledStore`] and the `Store` impl.
//!
//!   The sled modules, from the top down: each uses only those listed after it (the trait
//!   impls also the handle, [`SledStore`], which they implement the traits for).
//! - `sled::users`, `sled::sessions`, `sled::login_attempts`, `sled::conversations`,
//!   `sled::messages`, `sled::attachments`, `sled::admin` — one store trait's impl each (see
//!   [`kanect_core::backend`]), with the synchronous write and read halves of its methods.
//! - `sled::recovery` — how a failed store is reopened, and what the store's handle shares
//!   with its recovery thread.
//! - `sled::open` — one open of the directory: sled, the journal's replay, group commit and
//!   the in-memory state that lives as long as they do.
//! - `sled::config` — [`SledConfig`], how a store is opened.
//! - `sled::stripe` — what a per-conversation write lock guards: pending appends and seq
//!   counters, the conversation cache and its not-yet-durable writes.
//! - `sled::commit` — group commit: the commit and checkpoint threads.
//! - `sled::journal` — the write-ahead journal of message appends: files, records, replay.
//! - `sled::format` — the format version check, sled error mapping.
//! - `sled::fuzzing` (feature `fuzzing`, hidden) — entry points for the fuzz targets in `fuzz/`.
//! - `fjall` (feature `fjall`) — `FjallStore`, one file per store trait's impl likewise, and
//!   its group sync, recovery and format.
//! - `kv` (either embedded engine) — what sled and fjall store alike: `kv::keys`, the key
//!   spaces and their big-endian encoding; `kv::message_codec`, the binary message records;
//!   `kv::records`, the JSON of the other records; `kv::id_filter`, the Bloom filter of stored
//!   message ids that spares an append the read for a resend, and the scan that fills it;
//!   `kv::alarm`, a store's health, raised by a failure; `kv::recovery`, the thread that
//!   reopens a failed store once its directory takes writes; `kv::engine`, what the record
//!   spaces written once for both engines ask of one (`kv::sessions`, `kv::account_tokens`,
//!   `kv::invites`, `kv::notifications`), each engine's file of them keeping only how a write
//!   waits for durability; `kv::email_index`, the index of users by address.
//! - `pg` (feature `postgres`) — `PgStore`, one file per store trait's impl likewise.
//! - `blob` — where attachments' bytes live: `blob::fs`, [`FsBlobStore`], files under the
//!   data directory, for the embedded stores; `blob::pg` (feature `postgres`), `PgBlobStore`,
//!   chunk rows in a `PgStore`'s database (`PgStore::blobs`), for a cluster.
//! - `backup` — the dump, through the store traits; `backup::directory`, a complete backup in
//!   a directory: the dump and every blob its records refer to.
//! - `search` — message search indexes: `search::tantivy` (feature `tantivy`), [`TantivyIndex`]
//!   in the embedded stores' data directory; `pg::search` (feature `postgres`), PostgreSQL's
//!   full-text search over the messages table (`PgStore::search_index`).

// docs.rs (nightly) marks each feature-gated item with the feature it needs.
#![cfg_attr(docsrs, feature(doc_cfg))]

pub mod backup;
mod blob;
#[cfg(unix)]
pub use blob::FsBlobStore;
#[cfg(feature = "postgres")]
pub use blob::PgBlobStore;
#[cfg(any(feature = "sled", feature = "fjall"))]
mod kv;
#[cfg(feature = "sled")]
mod sled;
/// Entry points for the fuzz targets in `fuzz/` (feature `fuzzing`; not a stable API).
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub use crate::sled::fuzzing;
#[cfg(feature = "sled")]
pub use crate::sled::{GroupCommitStats, SledConfig, SledStore};

#[cfg(feature = "fjall")]
mod fjall;
#[cfg(feature = "fjall")]
pub use crate::fjall::{FjallStore, GroupSyncStats as FjallSyncStats};

#[cfg(feature = "postgres")]
mod pg;
mod search;
#[cfg(feature = "postgres")]
pub use pg::{PgConfig, PgSearchIndex, PgSslMode, PgStore, UnknownSslMode};
#[cfg(feature = "tantivy")]
pub use search::{TantivyConfig, TantivyIndex};

/// The README's example (crates.io shows it), compiled and run as a doctest so it stays true.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctest;
