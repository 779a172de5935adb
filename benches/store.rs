//! Store benchmark: durable sends/s through the engine (`Chat::send`) with 1, 8 and 64
//! concurrent senders, and history page reads/s — MemoryStore, FjallStore (the default) and,
//! with the `sled` feature, SledStore side by side, in one run.
//!
//! Each sender sends into its own direct conversation (with a shared "sink" user, nobody
//! subscribed), so sends never wait on each other's per-conversation ordering lock and the
//! store's group commit can batch all of them. SledStore runs on disk (a temporary directory)
//! with its default config: every acknowledged send is in the journal, fdatasync'ed.
//! `sled-nofsync` is the same with `SledConfig::fsync = false`, to show what the power-loss
//! `fdatasync` costs. FjallStore runs on disk too, each acknowledged send covered by a journal
//! `fdatasync` shared with the sends waiting at the same time. After each on-disk benchmark
//! the mean number of writes per sync is printed.
//!
//! `cargo bench --features sled --bench store` (without the feature: memory and fjall only)

// `criterion_group!` generates an undocumented function.
#![allow(missing_docs)]

mod support;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use kanect::{Caller, Chat, ConversationId, HistoryPage, MemoryStore};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::runtime::Runtime;

const SENDERS: [usize; 3] = [1, 8, 64];

/// The stores compared, in the order they run: those this build has.
const BACKENDS: &[&str] = &[
    "memory",
    #[cfg(feature = "sled")]
    "sled",
    #[cfg(feature = "sled")]
    "sled-nofsync",
    #[cfg(feature = "fjall")]
    "fjall",
];

/// An engine on one backend, its senders and their conversations.
struct Bench {
    chat: Chat,
    senders: Vec<(Caller, ConversationId)>,
    /// How many writes each sync acknowledged, on average, for an on-disk store.
    writes_per_sync: Option<Box<dyn Fn() -> String + Send + Sync>>,
    /// Keeps the store's directory alive.
    _dir: tempfile::TempDir,
    next_client_id: AtomicU64,
}

fn runtime() -> Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap()
}

async fn bench(backend: &str, senders: usize) -> Bench {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store");
    let (builder, writes_per_sync): (_, Option<Box<dyn Fn() -> String + Send + Sync>>) = match backend {
        "memory" => (Chat::builder(MemoryStore::new()), None),
        #[cfg(feature = "fjall")]
        "fjall" => {
            let store = Arc::new(kanect_store::FjallStore::open(&path).unwrap());
            let stats = store.clone();
            let report = move || {
                let stats = stats.group_sync_stats();
                let mean = stats.acknowledged as f64 / stats.syncs.max(1) as f64;
                format!("{} syncs, mean group {mean:.1} writes", stats.syncs)
            };
            (Chat::builder_shared(store), Some(Box::new(report)))
        }
        #[cfg(feature = "sled")]
        "sled" | "sled-nofsync" => {
            let mut sled_config = kanect_store::SledConfig::new(&path);
            sled_config.fsync = backend == "sled";
            let store = Arc::new(kanect_store::SledStore::open_with(sled_config).unwrap());
            let stats = store.clone();
            let report = move || {
                let stats = stats.group_commit_stats();
                let mean = stats.writes as f64 / stats.flushes.max(1) as f64;
                format!("{} flushes, mean group {mean:.1} writes", stats.flushes)
            };
            (Chat::builder_shared(store), Some(Box::new(report)))
        }
        other => unreachable!("no backend {other} in this build"),
    };
    let chat = builder.config(support::fast_config()).build().await.unwrap();
    let callers = support::direct_conversations(&chat, senders).await;
    Bench { chat, senders: callers, writes_per_sync, _dir: dir, next_client_id: AtomicU64::new(0) }
}

impl Bench {
    /// Sends at least `total` messages from all senders at once; returns the time per message
    /// times `total`, as criterion's `iter_custom` expects.
    async fn send(self: &Arc<Self>, total: u64) -> Duration {
        let each = total.div_ceil(self.senders.len() as u64).max(1);
        let started = Instant::now();
        let mut tasks = Vec::new();
        for index in 0..self.senders.len() {
            let bench = self.clone();
            tasks.push(tokio::spawn(async move {
                let (caller, conversation) = &bench.senders[index];
                for _ in 0..each {
                    let client_id = bench.next_client_id.fetch_add(1, Ordering::Relaxed).to_string();
                    bench.chat.send(caller, *conversation, &client_id, "a benchmark message body").await.unwrap();
                }
            }));
        }
        for task in tasks {
            task.await.unwrap();
        }
        let sent = each * self.senders.len() as u64;
        started.elapsed().mul_f64(total as f64 / sent as f64)
    }
}

fn durable_sends(c: &mut Criterion) {
    let runtime = runtime();
    let mut group = c.benchmark_group("durable_sends");
    group.throughput(Throughput::Elements(1)).sample_size(10).warm_up_time(Duration::from_secs(1));
    group.measurement_time(Duration::from_secs(4));
    for &backend in BACKENDS {
        for senders in SENDERS {
            let bench = Arc::new(runtime.block_on(bench(backend, senders)));
            group.bench_with_input(BenchmarkId::new(backend, senders), &senders, |b, _| {
                b.iter_custom(|iters| runtime.block_on(bench.send(iters)))
            });
            if let Some(report) = &bench.writes_per_sync {
                eprintln!("{backend}/{senders}: {}", report());
            }
        }
    }
    group.finish();
}

fn history_pages(c: &mut Criterion) {
    let runtime = runtime();
    let mut group = c.benchmark_group("history_page_50");
    group.throughput(Throughput::Elements(1)).sample_size(20).warm_up_time(Duration::from_secs(1));
    group.measurement_time(Duration::from_secs(3));
    for &backend in BACKENDS.iter().filter(|backend| **backend != "sled-nofsync") {
        let bench = Arc::new(runtime.block_on(bench(backend, 1)));
        runtime.block_on(bench.send(2_000));
        let (caller, conversation) = bench.senders[0].clone();
        let mut before = 0u64;
        group.bench_function(BenchmarkId::new(backend, "before"), |b| {
            b.to_async(&runtime).iter(|| {
                // Walk the history backwards page by page, wrapping around.
                before = if before <= 50 { 2_001 } else { before - 50 };
                let (chat, caller) = (bench.chat.clone(), caller.clone());
                let page = HistoryPage::Before(kanect::Seq(before));
                async move { chat.history(&caller, conversation, page, 50).await.unwrap() }
            })
        });
    }
    group.finish();
}

criterion_group!(benches, durable_sends, history_pages);
criterion_main!(benches);
