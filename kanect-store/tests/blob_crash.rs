//! [`FsBlobStore`]: an acknowledged put survives SIGKILL, a put cut short leaves no blob and,
//! after the next open, no file.
//!
//! The test re-executes its own binary as a child process that runs only this test
//! (`KANECT_BLOB_CRASH_CHILD` names the store's directory). The child puts blobs of various
//! sizes from several tasks at once, printing `PUT <id> <len> <seed>` before each put and
//! `ACK <id>` once it returns. The parent kills it with SIGKILL at a random moment, then
//! checks, before reopening, that every blob in the shards is one the child began and is whole
//! (the rename is atomic: no blob is ever partly there), and after reopening that every
//! acknowledged blob reads back byte for byte and that `tmp/` is empty. Repeated [`KILLS`]
//! times on one directory. Most kills must have hit a put under way (a temporary file in
//! `tmp/` before the reopen), or the test would prove nothing.
//!
//! SIGKILL does not lose what reached the page cache, so this proves atomicity and cleanup,
//! not the syncs that a power loss needs (those are argued in the module docs of `blob::fs`).

#![cfg(unix)]

mod sigkill;

use kanect_core::blob::{BlobKey, BlobStore};
use kanect_core::testing::blob::{body, collect, pattern};
use kanect_core::AttachmentId;
use kanect_store::FsBlobStore;
use sigkill::XorShift;
use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::time::{Duration, Instant};

const CHILD_ENV: &str = "KANECT_BLOB_CRASH_CHILD";
const TEST: &str = "acknowledged_blobs_survive_sigkill";
/// Kill points per test run.
const KILLS: usize = 12;
/// Concurrent puts in the child.
const PUTTERS: usize = 4;
/// A child left alone stops on its own after this long (the parent kills it much sooner).
const CHILD_LIFETIME: Duration = Duration::from_secs(20);

#[test]
fn acknowledged_blobs_survive_sigkill() {
    if let Some(path) = std::env::var_os(CHILD_ENV) {
        let runtime = tokio::runtime::Runtime::new().unwrap();
        runtime.block_on(child(Path::new(&path)));
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut random = XorShift::from_clock(TEST);
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let mut begun: HashMap<AttachmentId, (usize, u8)> = HashMap::new();
    let mut acked: HashSet<AttachmentId> = HashSet::new();
    let mut hit_mid_put = 0;
    for _ in 0..KILLS {
        let mut acked_now = Vec::new();
        for line in kill_child_at_random(dir.path(), &mut random) {
            let mut fields = line.split(' ');
            match fields.next() {
                Some("PUT") => {
                    let id = fields.next().unwrap().parse().unwrap();
                    let len = fields.next().unwrap().parse().unwrap();
                    let seed = fields.next().unwrap().parse().unwrap();
                    begun.insert(id, (len, seed));
                }
                Some("ACK") => acked_now.push(fields.next().unwrap().parse().unwrap()),
                _ => {}
            }
        }
        hit_mid_put += usize::from(std::fs::read_dir(dir.path().join("tmp")).unwrap().count() > 0);
        for (id, bytes) in stored(dir.path()) {
            let (len, seed) = begun.get(&id).unwrap_or_else(|| panic!("a blob {id} that no put began"));
            assert!(bytes.len() == *len && (acked.contains(&id) || bytes == pattern(*len, *seed)), "blob {id} is cut");
        }
        let store = FsBlobStore::open(dir.path()).unwrap();
        assert_eq!(std::fs::read_dir(dir.path().join("tmp")).unwrap().count(), 0, "open empties tmp/");
        runtime.block_on(reads_back(&store, &acked_now, &begun));
        acked.extend(acked_now);
    }
    // Every blob acknowledged in any run, after all the kills since.
    let store = FsBlobStore::open(dir.path()).unwrap();
    runtime.block_on(reads_back(&store, &acked.iter().copied().collect::<Vec<_>>(), &begun));
    assert!(hit_mid_put >= KILLS / 2, "only {hit_mid_put} of {KILLS} kills hit a put under way");
    eprintln!("{KILLS} kills, {} puts begun, {} acknowledged, {hit_mid_put} cut short", begun.len(), acked.len());
}

/// Checks that each of `ids` reads back as it was put.
async fn reads_back(store: &FsBlobStore, ids: &[AttachmentId], begun: &HashMap<AttachmentId, (usize, u8)>) {
    for id in ids {
        let (len, seed) = begun[id];
        let blob = store.get(BlobKey::file(*id), None).await.unwrap();
        let blob = blob.unwrap_or_else(|| panic!("acknowledged blob {id} is gone"));
        assert!(collect(blob.bytes).await.unwrap() == pattern(len, seed), "blob {id}");
    }
}

/// Every blob in the shards of the store at `dir`, by id, with its bytes.
fn stored(dir: &Path) -> Vec<(AttachmentId, Vec<u8>)> {
    let mut blobs = Vec::new();
    for shard in std::fs::read_dir(dir).unwrap() {
        let shard = shard.unwrap();
        if shard.file_name() == "tmp" {
            continue;
        }
        for file in std::fs::read_dir(shard.path()).unwrap() {
            let file = file.unwrap();
            let id = file.file_name().to_str().unwrap().parse().unwrap();
            blobs.push((id, std::fs::read(file.path()).unwrap()));
        }
    }
    blobs
}

/// Runs one child until it has acknowledged a put, kills it a random moment later, and
/// returns the lines it printed.
fn kill_child_at_random(path: &Path, random: &mut XorShift) -> Vec<String> {
    let pause = Duration::from_millis(random.below(200));
    sigkill::run_and_kill(TEST, &[(CHILD_ENV, path.as_os_str())], Some("ACK "), pause)
}

/// The child: put blobs from [`PUTTERS`] tasks as fast as the store takes them.
async fn child(path: &Path) {
    let store = std::sync::Arc::new(FsBlobStore::open(path).unwrap());
    let started = Instant::now();
    let tasks: Vec<_> = (0..PUTTERS)
        .map(|putter| {
            let store = store.clone();
            tokio::spawn(async move {
                // The sizes need not be replayed (the kill moments are, from the parent's seed).
                let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() as u64;
                let mut random = XorShift((now ^ (putter as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15)) | 1);
                while started.elapsed() < CHILD_LIFETIME {
                    let id = AttachmentId::new();
                    let len = 1 + random.below(1024 * 1024) as usize;
                    let seed = random.below(256) as u8;
                    println!("PUT {id} {len} {seed}");
                    let bytes = pattern(len, seed);
                    store.put(BlobKey::file(id), body(&bytes, 64 * 1024)).await.unwrap();
                    println!("ACK {id}");
                }
            })
        })
        .collect();
    for task in tasks {
        task.await.unwrap();
    }
}
