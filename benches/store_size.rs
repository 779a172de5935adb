//! Store size benchmark: what N messages cost an embedded store on disk and in memory —
//! FjallStore (the default), and (with the `sled` feature) SledStore.
//!
//! ```text
//! cargo bench --bench store_size                       # fjall, 1,000,000 messages
//! cargo bench --bench store_size --features sled       # sled, then fjall
//! KANECT_BENCH_MESSAGES=100000 cargo bench --bench store_size
//! ```
//!
//! The messages go through the engine, as an application's do: `Chat::send` from
//! [`SENDERS`] concurrent tasks into [`CONVERSATIONS`] direct conversations (message `n` into
//! conversation `n mod CONVERSATIONS`), each send durable before the next of its task. Bodies
//! are 4–19 words drawn from a small vocabulary (about 60 bytes on average, printed), so they
//! compress about as text does; the disk figures scale with the body length.
//!
//! Each store runs in two child processes of its own (this program re-executed with
//! `KANECT_STORE_SIZE_CHILD` set), so that one store's memory does not show in another's
//! figures and the second child sees the store as a restarted server would:
//!
//! - `write` appends the messages, flushes (`Chat::flush`), and prints the bytes on disk under
//!   the store's directory (allocated, as `du` counts them, and apparent) per message, and the
//!   growth of the process's VmRSS (`/proc/self/status`) from just before the store opened to
//!   after the flush, with the store still open, per message. That growth is everything the
//!   process holds for the store and the engine over it: the store's caches and write
//!   buffers (sled's page cache, fjall's memtables and block cache), the engine's state for
//!   the conversations and users, the tokio tasks of the senders, and whatever the allocator
//!   keeps after frees. The peak (VmHWM) is printed beside it.
//! - `reopen` opens the directory again and prints the disk figures and the RSS growth of
//!   the open alone (recovery included, no reads yet), then checks the engine's message count.
//!
//! The directory holds everything the store keeps, whatever the state of its background work:
//! for sled, Kanect's journal of the groups not yet checkpointed (a clean close empties it);
//! for fjall, its journal, which holds every write until its memtable is flushed into
//! (compressed) tables and compacted. So the figures per message depend on N: with a few
//! hundred thousand messages fjall's are mostly journal and memtable, which a reopen replays
//! into memory.
//!
//! The allocator is mimalloc and transparent huge pages are off, as in the standalone server
//! (`kanect-server/src/main.rs`), so the memory figures are the shipped server's. The store lives in
//! a temporary directory (`TMPDIR`, else `/tmp`), deleted at the end. Linux only (`/proc`).

mod support;

use kanect::{Chat, Registration};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Instant;

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The stores measured, in the order they run: those this build has.
const STORES: &[&str] = &[
    #[cfg(feature = "sled")]
    "sled",
    #[cfg(feature = "fjall")]
    "fjall",
];

/// How many messages to append unless `KANECT_BENCH_MESSAGES` says otherwise.
const DEFAULT_MESSAGES: u64 = 1_000_000;
/// Direct conversations the messages are spread over.
const CONVERSATIONS: usize = 1_000;
/// Concurrent sending tasks (each waits for its send to be durable before the next).
const SENDERS: usize = 64;
/// Set in a child: `<store> <phase>`, with phase `write` or `reopen`.
const CHILD_ENV: &str = "KANECT_STORE_SIZE_CHILD";
/// Set in a child: the store's directory.
const DIR_ENV: &str = "KANECT_STORE_SIZE_DIR";
/// The number of messages (the parent passes it on to its children).
const MESSAGES_ENV: &str = "KANECT_BENCH_MESSAGES";

/// The vocabulary of message bodies.
const WORDS: [&str; 32] = [
    "the", "meeting", "is", "moved", "to", "tomorrow", "at", "noon", "can", "you", "send", "me", "report", "please",
    "thanks", "sounds", "good", "see", "later", "what", "about", "lunch", "I", "think", "so", "deploy", "went", "fine",
    "coffee", "first", "then", "review",
];

type BoxError = Box<dyn std::error::Error + Send + Sync>;

fn main() {
    #[cfg(target_os = "linux")]
    if let Err(error) = rustix::thread::disable_transparent_huge_pages(true) {
        eprintln!("could not turn transparent huge pages off: {error}");
    }
    let outcome = messages().and_then(|messages| match std::env::var(CHILD_ENV) {
        Ok(job) => child(&job, messages),
        Err(_) => parent(messages),
    });
    if let Err(error) = outcome {
        eprintln!("store_size bench failed: {error}");
        std::process::exit(1);
    }
}

/// `KANECT_BENCH_MESSAGES`, or the default.
fn messages() -> Result<u64, BoxError> {
    match std::env::var(MESSAGES_ENV) {
        Err(_) => Ok(DEFAULT_MESSAGES),
        Ok(text) => match text.trim().parse::<u64>() {
            Ok(n) if n > 0 => Ok(n),
            _ => Err(format!("{MESSAGES_ENV} must be a positive whole number, got {text:?}").into()),
        },
    }
}

/// Runs both phases of every store, each in a child process, over a fresh directory.
fn parent(messages: u64) -> Result<(), BoxError> {
    let exe = std::env::current_exe()?;
    println!("store_size: {messages} messages, {CONVERSATIONS} direct conversations, {SENDERS} concurrent senders");
    for store in STORES {
        let dir = tempfile::tempdir()?;
        for phase in ["write", "reopen"] {
            let status = Command::new(&exe)
                .env(CHILD_ENV, format!("{store} {phase}"))
                .env(DIR_ENV, dir.path().join("store"))
                .env(MESSAGES_ENV, messages.to_string())
                .status()?;
            if !status.success() {
                return Err(format!("{store} {phase}: the child process failed ({status})").into());
            }
        }
    }
    Ok(())
}

fn child(job: &str, messages: u64) -> Result<(), BoxError> {
    let dir = PathBuf::from(std::env::var_os(DIR_ENV).ok_or("the store's directory is not set")?);
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    let (store, phase) = job.split_once(' ').ok_or_else(|| format!("bad {CHILD_ENV}: {job:?}"))?;
    match phase {
        "write" => runtime.block_on(write(store, &dir, messages)),
        "reopen" => runtime.block_on(reopen(store, &dir, messages)),
        _ => Err(format!("bad {CHILD_ENV}: {job:?}").into()),
    }
}

/// Opens `store` in `dir` under an engine.
async fn open(store: &str, dir: &Path) -> Result<Chat, BoxError> {
    let builder = match store {
        #[cfg(feature = "sled")]
        "sled" => Chat::builder(kanect::store::SledStore::open(dir)?),
        #[cfg(feature = "fjall")]
        "fjall" => Chat::builder(kanect::store::FjallStore::open(dir)?),
        _ => return Err(format!("unknown store {store:?}").into()),
    };
    Ok(builder.config(support::fast_config()).build().await?)
}

/// The `write` phase (see the module docs).
async fn write(store: &str, dir: &Path, messages: u64) -> Result<(), BoxError> {
    let before = Memory::read()?;
    let chat = open(store, dir).await?;
    let senders = Arc::new(support::direct_conversations(&chat, CONVERSATIONS).await);
    let next = Arc::new(AtomicU64::new(0));
    let tenth = messages.div_ceil(10);
    let started = Instant::now();
    let tasks: Vec<_> = (0..SENDERS)
        .map(|_| {
            let (chat, senders, next, store) = (chat.clone(), senders.clone(), next.clone(), store.to_owned());
            tokio::spawn(async move {
                let mut body_bytes = 0;
                loop {
                    let n = next.fetch_add(1, Ordering::Relaxed);
                    if n >= messages {
                        return Ok::<u64, kanect::Error>(body_bytes);
                    }
                    if n > 0 && n % tenth == 0 {
                        eprintln!("{store}: {n} messages sent in {:.1} s", started.elapsed().as_secs_f64());
                    }
                    let (caller, conversation) = &senders[n as usize % senders.len()];
                    let body = body(n);
                    body_bytes += body.len() as u64;
                    chat.send(caller, *conversation, &n.to_string(), &body).await?;
                }
            })
        })
        .collect();
    let mut body_bytes = 0;
    for task in tasks {
        body_bytes += task.await??;
    }
    chat.flush().await?;
    let elapsed = started.elapsed().as_secs_f64();
    let after = Memory::read()?;
    println!(
        "{store:<6} write   {messages} messages in {elapsed:.1} s ({:.0}/s), bodies {:.1} B on average",
        messages as f64 / elapsed,
        body_bytes as f64 / messages as f64
    );
    println!("{store:<6} disk    after the flush: {}", DiskUsage::of(dir)?.per(messages));
    println!(
        "{store:<6} RSS     {} after the writes (peak {}) = {:.0} B per message",
        mib(after.rss.saturating_sub(before.rss)),
        mib(after.peak.saturating_sub(before.rss)),
        after.rss.saturating_sub(before.rss) as f64 / messages as f64
    );
    Ok(())
}

/// The `reopen` phase (see the module docs).
async fn reopen(store: &str, dir: &Path, messages: u64) -> Result<(), BoxError> {
    let before = Memory::read()?;
    let started = Instant::now();
    let chat = open(store, dir).await?;
    let opened = started.elapsed().as_secs_f64();
    let after = Memory::read()?;
    println!("{store:<6} reopen  opened in {opened:.2} s; disk {}", DiskUsage::of(dir)?.per(messages));
    println!(
        "{store:<6} RSS     {} after the open = {:.0} B per message",
        mib(after.rss.saturating_sub(before.rss)),
        after.rss.saturating_sub(before.rss) as f64 / messages as f64
    );
    // After the figures: counting may read every message.
    let (admin, _) = chat.ensure_admin(Registration::new("counter", "bench password")).await?;
    let stats = chat.server_stats(&chat.act_as(admin.id).await?).await?;
    if stats.messages != messages {
        return Err(format!("{store}: {} messages after the reopen, {messages} sent", stats.messages).into());
    }
    Ok(())
}

/// The body of message `n`: 4–19 words of [`WORDS`], picked by a hash of `n` (xorshift).
fn body(n: u64) -> String {
    let mut x = n.wrapping_add(1).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    let count = 4 + (x >> 60) as usize;
    let mut words = Vec::with_capacity(count);
    for _ in 0..count {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        words.push(WORDS[(x % WORDS.len() as u64) as usize]);
    }
    words.join(" ")
}

/// This process's memory, from `/proc/self/status`, in bytes.
struct Memory {
    /// VmRSS: resident now.
    rss: u64,
    /// VmHWM: the most that was ever resident.
    peak: u64,
}

impl Memory {
    fn read() -> Result<Memory, BoxError> {
        let status = std::fs::read_to_string("/proc/self/status")?;
        let field = |name: &str| -> Result<u64, BoxError> {
            let line = status.lines().find(|line| line.starts_with(name)).ok_or_else(|| format!("no {name}"))?;
            let kib: u64 = line[name.len()..].trim().trim_end_matches("kB").trim().parse()?;
            Ok(kib * 1024)
        };
        Ok(Memory { rss: field("VmRSS:")?, peak: field("VmHWM:")? })
    }
}

/// Bytes under a directory, as `du` (allocated blocks) and `du --apparent-size` count them.
struct DiskUsage {
    allocated: u64,
    apparent: u64,
}

impl DiskUsage {
    fn of(path: &Path) -> std::io::Result<DiskUsage> {
        let meta = std::fs::symlink_metadata(path)?;
        let mut usage = DiskUsage { allocated: meta.blocks() * 512, apparent: meta.len() };
        if meta.is_dir() {
            for entry in std::fs::read_dir(path)? {
                let inner = DiskUsage::of(&entry?.path())?;
                usage.allocated += inner.allocated;
                usage.apparent += inner.apparent;
            }
        }
        Ok(usage)
    }

    /// `<allocated> allocated, <apparent> apparent = <a> / <b> B per message`.
    fn per(&self, messages: u64) -> String {
        let per = |bytes: u64| bytes as f64 / messages as f64;
        format!(
            "{} allocated, {} apparent = {:.0} / {:.0} B per message",
            mib(self.allocated),
            mib(self.apparent),
            per(self.allocated),
            per(self.apparent)
        )
    }
}

fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1024.0 * 1024.0))
}
