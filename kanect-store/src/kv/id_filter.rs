//! A Bloom filter over every message id in the store, so that an append of a new message
//! (nearly every append) skips the engine read that looks for a resend.
//!
//! Why each embedded engine wants it: in sled 0.34 that read ran on the async workers, and
//! sled splits leaves during reads too; a split reserves room in sled's log, and the
//! reserving thread spins on `sched_yield` while the commit thread's inserts hold it (traced
//! under load, most of the server's `sched_yield` calls came from that read; with the filter,
//! a message costs less server CPU at saturation: `benches/README.md`, "The id filter"). In
//! fjall the read is a `Keyspace::get` on the one writer thread that runs every write, walking
//! the memtable's skiplist and the tables' filters; profiled under load, it was the largest
//! single item of the server's CPU. A read is still made whenever the filter cannot rule the
//! id out (~1% of new messages per full layer: ~3% at 10 million stored ids), and for every
//! real resend.
//!
//! The filter never answers "absent" for an id in the store, so a resend is never stored twice:
//! - ids in the store at open are added by [`IdScan`], a thread that reads the id index once
//!   in the background. Until it has finished, the filter answers "maybe" for every id, and
//!   every append reads, as before; so a large store opens as fast as ever;
//! - an append adds its id before it hands the message to the engine (sled: before submitting
//!   it to group commit; fjall: before committing its write batch), so before the store can
//!   have it, and before any later append can look for it;
//! - the engine's own recovery at open, the only other writer of message ids (sled: Kanect's
//!   journal replay; fjall: its journal replay inside `Database::open`), is over before the
//!   scan starts, and the scan's iterator is made after it;
//! - messages are never removed (a deletion replaces the body and keeps the id). Were one
//!   removed, its id would stay in the filter (a Bloom filter cannot forget): a read more,
//!   never a wrong answer.
//!
//! Message ids are SHA-256 output ([`kanect_core::MessageId::for_client`]), so bit positions
//! are taken straight from the id's bytes, with no hashing of their own. Each id sets
//! [`PROBES`] bits within one 64-byte block (a blocked Bloom filter: one cache miss per layer
//! looked at). The filter grows by layers, each four times the last, rather than being sized
//! in advance; a layer takes ~10 bits an id when full, so the whole filter takes 2–5 bytes per
//! stored id (10 million ids: ~21 MiB in 4 layers). An absent id is looked for in every layer,
//! and each full layer adds ~1% of false positives.

use kanect_core::StoreError;
use std::fmt::Display;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;

/// Bits set per id, each within the id's block. With ~10 bits per id: ~1% false positives.
const PROBES: usize = 6;

/// Bits per id that a layer is sized for; past that, the next id starts a new layer.
const BITS_PER_ID: usize = 10;

/// Blocks (of 512 bits) in the first layer: 256 KiB, for ~210,000 ids.
const FIRST_LAYER_BLOCKS: usize = 1 << 12;

/// Each layer has this many times the blocks of the one before.
const GROWTH: usize = 4;

/// Ids the scan adds under one lock.
const SCAN_BATCH: usize = 4096;

/// One 512-bit block: the unit an id's bits fall in.
type Block = [u64; 8];

struct Layer {
    blocks: Vec<Block>,
    /// Ids added to this layer.
    len: usize,
}

impl Layer {
    fn new(blocks: usize) -> Layer {
        Layer { blocks: vec![[0; 8]; blocks], len: 0 }
    }

    fn is_full(&self) -> bool {
        self.len * BITS_PER_ID >= self.blocks.len() * 512
    }

    /// The block of `id`, and the bits it sets there: the block from bytes 0..6 (random: byte 6
    /// holds the UUID version), the bit numbers from bytes 9..16 (byte 8 holds the variant).
    fn bits(&self, id: &[u8; 16]) -> (usize, [u16; PROBES]) {
        let mut low = [0u8; 8];
        low[..6].copy_from_slice(&id[..6]);
        // `blocks.len()` is a power of two.
        let block = (u64::from_le_bytes(low) as usize) & (self.blocks.len() - 1);
        let mut high = [0u8; 8];
        high[..7].copy_from_slice(&id[9..]);
        let high = u64::from_le_bytes(high);
        // 6 probes × 9 bits of the 56 random ones.
        let bits = std::array::from_fn(|probe| ((high >> (9 * probe)) & 511) as u16);
        (block, bits)
    }

    fn insert(&mut self, id: &[u8; 16]) {
        let (block, bits) = self.bits(id);
        for bit in bits {
            self.blocks[block][usize::from(bit / 64)] |= 1 << (bit % 64);
        }
        self.len += 1;
    }

    fn contains(&self, id: &[u8; 16]) -> bool {
        let (block, bits) = self.bits(id);
        bits.iter().all(|&bit| self.blocks[block][usize::from(bit / 64)] & (1 << (bit % 64)) != 0)
    }
}

/// The filter: shared by the store's appends and its [`IdScan`].
#[derive(Default)]
pub(crate) struct IdFilter {
    layers: Mutex<Vec<Layer>>,
    /// The scan has added every id that was in the store at open.
    complete: AtomicBool,
}

impl IdFilter {
    /// Adds `id`: from now on, [`IdFilter::may_contain`] answers true for it.
    pub(crate) fn insert(&self, id: &[u8; 16]) {
        Self::insert_into(&mut self.lock(), id);
    }

    /// False only if `id` is surely not in the store; true until the scan is complete.
    pub(crate) fn may_contain(&self, id: &[u8; 16]) -> bool {
        !self.complete.load(Ordering::Acquire) || self.lock().iter().any(|layer| layer.contains(id))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<Layer>> {
        // Every update is a bit set or a push that cannot panic half-way.
        self.layers.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn insert_into(layers: &mut Vec<Layer>, id: &[u8; 16]) {
        let full = layers.last().is_none_or(Layer::is_full);
        if full {
            let blocks = layers.last().map_or(FIRST_LAYER_BLOCKS, |last| last.blocks.len() * GROWTH);
            layers.push(Layer::new(blocks));
        }
        if let Some(layer) = layers.last_mut() {
            layer.insert(id);
        }
    }

    /// Back to a filter's state at open, before its scan has added anything: for tests of
    /// appends during the scan (whose own scan has finished, so that nothing completes it).
    #[cfg(test)]
    pub(crate) fn reset(&self) {
        self.lock().clear();
        self.complete.store(false, Ordering::Release);
    }

    /// Bytes the layers hold.
    #[cfg(test)]
    fn bytes(&self) -> usize {
        self.lock().iter().map(|layer| layer.blocks.len() * std::mem::size_of::<Block>()).sum()
    }
}

/// The thread that adds the ids stored before the open; stopped and joined on drop, so that
/// it never holds the database after its store is gone.
pub(crate) struct IdScan {
    stop: Arc<AtomicBool>,
    /// Behind a mutex so that a test can wait for it through a shared store (`finish`).
    thread: Mutex<Option<JoinHandle<()>>>,
}

impl IdScan {
    /// Starts adding every key of `keys` into `filter`: the id index's keys, each a space
    /// byte and 16 id bytes, from an iterator made after the engine's recovery at open (see
    /// the module docs). If the scan fails, the filter stays incomplete and appends keep
    /// reading the store: slower, never wrong.
    pub(crate) fn start<K, E>(
        keys: impl Iterator<Item = Result<K, E>> + Send + 'static,
        filter: Arc<IdFilter>,
    ) -> Result<IdScan, StoreError>
    where
        K: AsRef<[u8]>,
        E: Display,
    {
        let stop = Arc::new(AtomicBool::new(false));
        let thread = std::thread::Builder::new()
            .name("kanect-id-scan".into())
            .spawn({
                let stop = stop.clone();
                move || {
                    let started = std::time::Instant::now();
                    match scan(keys, &filter, &stop) {
                        Ok(Some(count)) => {
                            filter.complete.store(true, Ordering::Release);
                            let elapsed_ms = started.elapsed().as_millis() as u64;
                            tracing::debug!(count, elapsed_ms, "message id filter complete");
                        }
                        Ok(None) => {}
                        Err(error) => {
                            tracing::warn!(%error, "cannot read the message ids; every send will look for a resend in the store")
                        }
                    }
                }
            })
            .map_err(StoreError::backend)?;
        Ok(IdScan { stop, thread: Mutex::new(Some(thread)) })
    }

    /// Waits for the scan to end by itself.
    #[cfg(test)]
    pub(crate) fn finish(&self) {
        let thread = self.thread.lock().unwrap().take();
        if let Some(thread) = thread {
            thread.join().unwrap();
        }
    }
}

/// Adds every id of `keys` to `filter`; the count, or None if stopped first.
fn scan<K: AsRef<[u8]>, E>(
    mut keys: impl Iterator<Item = Result<K, E>>,
    filter: &IdFilter,
    stop: &AtomicBool,
) -> Result<Option<u64>, E> {
    let mut count = 0u64;
    loop {
        if stop.load(Ordering::Relaxed) {
            return Ok(None);
        }
        let batch: Vec<K> = keys.by_ref().take(SCAN_BATCH).collect::<Result<_, _>>()?;
        let mut layers = filter.lock();
        // A key of another length is no id's (an id's key is always 17 bytes): nothing to add.
        for id in batch.iter().filter_map(|key| <[u8; 16]>::try_from(key.as_ref().get(1..)?).ok()) {
            IdFilter::insert_into(&mut layers, &id);
        }
        count += batch.len() as u64;
        if batch.len() < SCAN_BATCH {
            return Ok(Some(count));
        }
    }
}

impl Drop for IdScan {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        let thread = self.thread.get_mut().unwrap_or_else(PoisonError::into_inner).take();
        if let Some(thread) = thread {
            let _ = thread.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kanect_core::{ConversationId, UserId};

    /// A random id with a message id's fixed bits: UUIDv4 keeps its version and variant where
    /// a message id's UUIDv8 does.
    fn random_id() -> [u8; 16] {
        uuid::Uuid::new_v4().into_bytes()
    }

    #[test]
    fn message_ids_keep_their_fixed_bits_where_random_ids_do() {
        let id = kanect_core::MessageId::for_client(ConversationId::new(), UserId::new(), "c1").to_bytes();
        let random = random_id();
        assert_eq!((id[6] & 0xf0, id[8] & 0xc0), (0x80, 0x80));
        assert_eq!((random[6] & 0xf0, random[8] & 0xc0), (0x40, 0x80));
    }

    fn complete_filter() -> IdFilter {
        let filter = IdFilter::default();
        filter.complete.store(true, Ordering::Release);
        filter
    }

    #[test]
    fn every_added_id_is_found_across_layers_and_few_others_are() {
        let filter = complete_filter();
        let added: Vec<[u8; 16]> = (0..300_000).map(|_| random_id()).collect();
        for id in &added {
            filter.insert(id);
        }
        assert!(filter.lock().len() >= 2, "300,000 ids outgrow the first layer");
        assert!(added.iter().all(|id| filter.may_contain(id)), "a Bloom filter has no false negatives");
        let false_positives = (0..100_000).filter(|_| filter.may_contain(&random_id())).count();
        // ~1% expected; a filter that answered "maybe" for everything would fail here.
        assert!(false_positives < 3_000, "{false_positives} false positives in 100,000");
    }

    #[test]
    fn an_incomplete_filter_rules_nothing_out() {
        let filter = IdFilter::default();
        assert!(filter.may_contain(&random_id()));
        filter.complete.store(true, Ordering::Release);
        assert!(!filter.may_contain(&random_id()), "an empty complete filter holds nothing");
        filter.insert(&random_id());
        filter.reset();
        assert!(filter.may_contain(&random_id()), "reset: incomplete again");
        assert!(filter.lock().is_empty(), "reset: as at open, before the scan");
    }

    #[test]
    fn layers_grow_by_four_each_sized_for_ten_bits_an_id() {
        let filter = complete_filter();
        for _ in 0..1_100_000 {
            filter.insert(&random_id());
        }
        // 256 KiB and 1 MiB hold 1,048,575 ids at 10 bits each; the rest start 4 MiB more.
        assert_eq!(filter.bytes(), (1 + 4 + 16) * FIRST_LAYER_BLOCKS * 64);
    }

    /// The id index's key of `id`, as an engine's iterator yields it.
    fn index_key(id: &[u8; 16]) -> Result<Vec<u8>, String> {
        Ok([&[0x09][..], id].concat())
    }

    #[test]
    fn the_scan_adds_the_stored_ids_and_only_then_completes() {
        let stored: Vec<[u8; 16]> = (0..10_000).map(|_| random_id()).collect();
        // A key of the id space that is too short is no id.
        let keys: Vec<_> = stored.iter().map(index_key).chain([Ok(vec![0x09, 1, 2, 3])]).collect();
        let filter = Arc::new(IdFilter::default());
        // Holding the layers stops the scan at its first batch: it must not count as complete.
        let layers = filter.lock();
        let scan = IdScan::start(keys.into_iter(), filter.clone()).unwrap();
        std::thread::sleep(std::time::Duration::from_millis(50));
        let complete_too_early = filter.complete.load(Ordering::Acquire);
        // Released before asserting: a failing test must not hold the lock that `scan`'s drop
        // waits for.
        drop(layers);
        assert!(!complete_too_early, "complete before the scan added anything");
        scan.finish();
        assert!(filter.complete.load(Ordering::Acquire));
        assert!(stored.iter().all(|id| filter.may_contain(id)));
        assert_eq!(filter.lock().iter().map(|layer| layer.len).sum::<usize>(), stored.len());
    }

    #[test]
    fn a_scan_that_fails_leaves_the_filter_incomplete() {
        // The error comes after a whole batch was added, so the scan had made progress.
        let keys: Vec<_> = (0..SCAN_BATCH + 10)
            .map(|n| match n {
                n if n == SCAN_BATCH + 5 => Err("the disk is gone".to_string()),
                _ => index_key(&random_id()),
            })
            .collect();
        let filter = Arc::new(IdFilter::default());
        IdScan::start(keys.into_iter(), filter.clone()).unwrap().finish();
        assert_eq!(filter.lock().iter().map(|layer| layer.len).sum::<usize>(), SCAN_BATCH);
        assert!(!filter.complete.load(Ordering::Acquire));
        assert!(filter.may_contain(&random_id()), "an incomplete filter rules nothing out");
    }
}
