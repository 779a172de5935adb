//! The floor under a durable send on sled: the bare sled 0.34 inserts that the store's commit
//! thread makes per message, without the engine, the journal or a sync. Each element is one
//! message: its record (~160 bytes under a 25-byte key) and its 17-byte id-index key.
//!
//! Keys are shaped like the store's: 100 conversations take turns, so each one's seqs grow as
//! in a busy server, and the id-index key lands anywhere in the tree (message ids are hashes).
//! sled is opened as the store opens it, and the allocator is the server's (mimalloc), since
//! sled allocates and frees a node copy per insert.
//!
//! `cargo bench --bench sled_inserts`

// `criterion_group!` generates an undocumented function.
#![allow(missing_docs)]

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use std::time::{Duration, Instant};

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The two writes of message `n`.
fn message_writes(n: u64) -> [(Vec<u8>, Vec<u8>); 2] {
    let (conversation, seq) = (n % 100, n / 100 + 1);
    let mut message_key = vec![0x08];
    message_key.extend_from_slice(&conversation.wrapping_mul(0x9e37_79b9_7f4a_7c15).to_be_bytes());
    message_key.extend_from_slice(&[0; 8]);
    message_key.extend_from_slice(&seq.to_be_bytes());
    let mut index_key = vec![0x09];
    index_key.extend_from_slice(&uuid::Uuid::new_v4().into_bytes());
    [(message_key, vec![7; 160]), (index_key, vec![1; 24])]
}

fn sled_inserts(c: &mut Criterion) {
    let mut group = c.benchmark_group("sled_inserts");
    group.throughput(Throughput::Elements(1)).sample_size(10).warm_up_time(Duration::from_secs(1));
    group.measurement_time(Duration::from_secs(4));
    let dir = tempfile::tempdir().unwrap();
    // As kanect-store's `open_db` does, with the store's default cache.
    let db = sled::Config::new()
        .path(dir.path().join("db"))
        .cache_capacity(kanect_store::SledConfig::new(dir.path()).cache_capacity)
        .flush_every_ms(None)
        .mode(sled::Mode::HighThroughput)
        .open()
        .unwrap();
    let mut next = 0u64;
    group.bench_function("message_and_index_key", |b| {
        b.iter_custom(|messages| {
            let writes: Vec<_> = (next..next + messages).flat_map(message_writes).collect();
            next += messages;
            let started = Instant::now();
            for (key, value) in writes {
                db.insert(key, value).unwrap();
            }
            started.elapsed()
        })
    });
    group.finish();
}

criterion_group!(benches, sled_inserts);
criterion_main!(benches);
