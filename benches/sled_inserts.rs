//! The floor under a durable send on sled: the bare sled 0.34 inserts that the store's commit
//! thread makes per message, without the engine, the journal or a sync. Each element is one
//! message: its record (~160 bytes under a 25-byte key) and its 17-byte id-index key.
//!
//! Keys are shaped like the store's: 100 conversations take turns, so each one's seqs grow as
//! in a busy server, and the id-index key lands anywhere in the tree (message ids are hashes).
//! sled is opened as the store opens it, and the allocator is the server's (mimalloc), since
//! sled allocates and frees a node copy per insert.
//!
//! Beside the store's layout (`store_layout`), three others answer "would a format change
//! pay?", each on a fresh database:
//! - `blocks_of_16`: messages kept 16 to a key, the block rewritten on each append (a sixteenth
//!   of the message keys, so fewer leaf splits);
//! - `sequential_index`: id-index keys in one ascending sequence, so each lands at the tree's
//!   right edge. Not possible while a message's id is a hash of its client id (that is what
//!   makes a resend findable), so this is only an upper bound for any cheaper index;
//! - `two_trees`: messages and the id index in sled trees of their own.
//!
//! `cargo bench --bench sled_inserts`

// `criterion_group!` generates an undocumented function.
#![allow(missing_docs)]

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use std::collections::HashMap;
use std::time::{Duration, Instant};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

const CONVERSATIONS: u64 = 100;
const RECORD: [u8; 160] = [7; 160];
const BLOCK: u64 = 16;

/// Where one layout puts a message's record and its id-index entry.
#[derive(Clone, Copy)]
enum Layout {
    Store,
    BlocksOf16,
    SequentialIndex,
    TwoTrees,
}

fn message_key(conversation: u64, seq: u64) -> Vec<u8> {
    let mut key = vec![0x08];
    key.extend_from_slice(&conversation.wrapping_mul(0x9e37_79b9_7f4a_7c15).to_be_bytes());
    key.extend_from_slice(&[0; 8]);
    key.extend_from_slice(&seq.to_be_bytes());
    key
}

fn index_key(n: u64, layout: Layout) -> Vec<u8> {
    let mut key = vec![0x09];
    match layout {
        Layout::SequentialIndex => {
            key.extend_from_slice(&n.to_be_bytes());
            key.extend_from_slice(&[0; 8]);
        }
        _ => key.extend_from_slice(&uuid::Uuid::new_v4().into_bytes()),
    }
    key
}

/// A database laid out one way, and the open blocks of `BlocksOf16`.
struct Messages {
    layout: Layout,
    records: sled::Tree,
    index: sled::Tree,
    blocks: HashMap<u64, Vec<u8>>,
    _dir: tempfile::TempDir,
}

impl Messages {
    fn open(layout: Layout) -> Messages {
        let dir = tempfile::tempdir().unwrap();
        // As kanect-store's `open_db` does, with the store's default cache.
        let db = sled::Config::new()
            .path(dir.path().join("db"))
            .cache_capacity(kanect_store::SledConfig::new(dir.path()).cache_capacity)
            .flush_every_ms(None)
            .mode(sled::Mode::HighThroughput)
            .open()
            .unwrap();
        let (records, index) = match layout {
            Layout::TwoTrees => (db.open_tree("messages").unwrap(), db.open_tree("index").unwrap()),
            _ => ((*db).clone(), (*db).clone()),
        };
        Messages { layout, records, index, blocks: HashMap::new(), _dir: dir }
    }

    /// The two writes of message `n`, and the tree each goes to.
    fn writes(&mut self, n: u64) -> [(sled::Tree, Vec<u8>, Vec<u8>); 2] {
        let (conversation, seq) = (n % CONVERSATIONS, n / CONVERSATIONS + 1);
        let record = match self.layout {
            Layout::BlocksOf16 => {
                let block = self.blocks.entry(conversation).or_default();
                if (seq - 1) % BLOCK == 0 {
                    block.clear();
                }
                block.extend_from_slice(&RECORD);
                (message_key(conversation, (seq - 1) / BLOCK), block.clone())
            }
            _ => (message_key(conversation, seq), RECORD.to_vec()),
        };
        [(self.records.clone(), record.0, record.1), (self.index.clone(), index_key(n, self.layout), vec![1; 24])]
    }
}

fn sled_inserts(c: &mut Criterion) {
    let mut group = c.benchmark_group("sled_inserts");
    group.throughput(Throughput::Elements(1)).sample_size(10).warm_up_time(Duration::from_secs(1));
    group.measurement_time(Duration::from_secs(4));
    for (name, layout) in [
        ("store_layout", Layout::Store),
        ("blocks_of_16", Layout::BlocksOf16),
        ("sequential_index", Layout::SequentialIndex),
        ("two_trees", Layout::TwoTrees),
    ] {
        let mut messages = Messages::open(layout);
        let mut next = 0u64;
        group.bench_function(name, |b| {
            b.iter_custom(|count| {
                let writes: Vec<_> = (next..next + count).flat_map(|n| messages.writes(n)).collect();
                next += count;
                let started = Instant::now();
                for (tree, key, value) in writes {
                    tree.insert(key, value).unwrap();
                }
                started.elapsed()
            })
        });
    }
    group.finish();
}

criterion_group!(benches, sled_inserts);
criterion_main!(benches);
