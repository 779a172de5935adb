//! A full disk, for real, on each embedded engine: sends that failed are stored at most once,
//! a resend returns what was stored, and the store recovers by itself once there is room
//! again, with no restart.
//!
//! The fault is the kernel's, not a mock: the test re-executes its own binary as a child
//! process (`KANECT_DISK_FULL_CHILD` names the store), which lowers its own file-size limit
//! (`RLIMIT_FSIZE`, no privileges needed) to [`LIMIT`]. A write that reaches past that offset
//! of any file then fails with `EFBIG`, as it would with `ENOSPC` on a full disk. (A small file
//! system would need mounting; the limit is per process, hence the child, and its `SIGXFSZ` is
//! handled so that writes fail instead of killing it.) Raising the limit again is "space was
//! freed". What fails first:
//! - sled: the journal's files are [`LIMIT`] long and written out in full before use, so the
//!   journal still takes records, while sled's file, which grows, fails: the exact case of a
//!   send whose journal record was synced and whose sled insert failed. So a send answered
//!   with an error is stored anyway, and its resend must return it.
//! - fjall: its journal file is preallocated (`set_len` to 64 MiB, which on Linux reserves no
//!   blocks: on a full disk its writes fail as any other's would), but the limit applies to the
//!   offset written, not to the file's size, so the journal write that reaches past [`LIMIT`]
//!   fails with `EFBIG`: a send's commit (fjall writes its journal's 8 KiB buffer out as it
//!   fills), which poisons fjall (its tables stay far smaller than the limit, and are not
//!   written until the reopen). That record is torn and dropped at the reopen, so the failed
//!   send is not stored and its resend stores it; later sends are refused without being run.
//!   (A failed *sync* instead, not this test's fault, can leave whole records that were never
//!   synced, which the reopen replays: see `fjall::recovery`.)
//!
//! The child sends until a send fails, checks that the store says failed and refuses writes,
//! frees the space, waits for the store to say ok, resends every failed send with its client
//! id and prints what each returned (`RESENT <client id> <seq>`). The parent then reopens the
//! store, as a restart would, and checks that history has every client id once, at the seq the
//! resend returned, gap-free.

#![cfg(any(feature = "sled", feature = "fjall"))]

use kanect_core::backend::Store;
use kanect_core::{
    Caller, Chat, ChatConfig, ConversationId, HistoryPage, PasswordCost, RateLimits, Registration, StoreHealth,
};
use rustix::process::{getrlimit, setrlimit, Resource, Rlimit, Signal};
use std::collections::{HashMap, HashSet};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

const CHILD_ENV: &str = "KANECT_DISK_FULL_CHILD";
/// The child's file-size limit during the fault, and sled's journal file size.
const LIMIT: u64 = 256 * 1024;
/// Sends tried before the fault must have shown (the failing file reaches the limit after a
/// few hundred).
const MAX_SENDS: usize = 20_000;
/// Sends tried after the first failure: the store refuses them.
const SENDS_AFTER_THE_FAILURE: usize = 3;
/// How long the child may take, and how long it waits for the store to recover.
const CHILD_LIFETIME: Duration = Duration::from_secs(120);
const RECOVERY: Duration = Duration::from_secs(30);

/// The store under test.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Engine {
    #[cfg(feature = "sled")]
    Sled,
    #[cfg(feature = "fjall")]
    Fjall,
}

impl Engine {
    /// The test that runs this engine, which its child runs again.
    fn test_name(self) -> &'static str {
        match self {
            #[cfg(feature = "sled")]
            Engine::Sled => "sled_a_full_disk_fails_sends_at_most_once_and_the_store_recovers_by_itself",
            #[cfg(feature = "fjall")]
            Engine::Fjall => "fjall_a_full_disk_fails_sends_at_most_once_and_the_store_recovers_by_itself",
        }
    }

    /// The store in `path`.
    fn open(self, path: &Path) -> Arc<dyn Store> {
        match self {
            #[cfg(feature = "sled")]
            Engine::Sled => Arc::new(kanect_store::SledStore::open(path).unwrap()),
            #[cfg(feature = "fjall")]
            Engine::Fjall => Arc::new(kanect_store::FjallStore::open(path).unwrap()),
        }
    }

    /// The store in `path`, for the fault: sled's journal files are [`LIMIT`] long.
    fn open_for_the_fault(self, path: &Path) -> Arc<dyn Store> {
        match self {
            #[cfg(feature = "sled")]
            Engine::Sled => {
                use kanect_store::{SledConfig, SledStore};
                Arc::new(SledStore::open_with(SledConfig { journal_bytes: LIMIT, ..SledConfig::new(path) }).unwrap())
            }
            #[cfg(feature = "fjall")]
            Engine::Fjall => self.open(path),
        }
    }
}

#[cfg(feature = "sled")]
#[test]
fn sled_a_full_disk_fails_sends_at_most_once_and_the_store_recovers_by_itself() {
    a_full_disk_fails_sends_at_most_once_and_the_store_recovers_by_itself(Engine::Sled);
}

#[cfg(feature = "fjall")]
#[test]
fn fjall_a_full_disk_fails_sends_at_most_once_and_the_store_recovers_by_itself() {
    a_full_disk_fails_sends_at_most_once_and_the_store_recovers_by_itself(Engine::Fjall);
}

fn body(client_id: &str) -> String {
    format!("{client_id}: {}", "x".repeat(400))
}

/// Cheap hashing, and no send rate limit: the test sends until the disk fills (hundreds).
fn engine_config() -> ChatConfig {
    ChatConfig { password_cost: PasswordCost::INSECURE_FAST, rate_limits: RateLimits::UNLIMITED, ..Default::default() }
}

fn a_full_disk_fails_sends_at_most_once_and_the_store_recovers_by_itself(engine: Engine) {
    if let Ok(path) = std::env::var(CHILD_ENV) {
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        runtime.block_on(child(engine, Path::new(&path)));
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("store");
    let output = run_child(engine, &path);
    let resent: HashMap<String, u64> = output
        .lines()
        .filter_map(|line| line.split_once("RESENT ")?.1.split_once(' '))
        .map(|(client_id, seq)| (client_id.to_string(), seq.parse().unwrap()))
        .collect();
    assert!(!resent.is_empty(), "the child resent nothing:\n{output}");

    // A restart: the journal is replayed again, and must add nothing.
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let store = engine.open(&path);
        let chat = Chat::builder_shared(store.clone()).config(engine_config()).build().await.unwrap();
        let alice = chat.login("alice", "alice-secret-pw").await.unwrap();
        let alice = chat.authenticate(alice.token.as_str()).await.unwrap();
        let bob = store.user_by_username("bob").await.unwrap().unwrap();
        let history = whole_history(&chat, &alice, ConversationId::direct(alice.user(), bob.id)).await;
        for (client_id, seq) in &resent {
            assert_eq!(history.get(client_id), Some(seq), "{client_id} after a restart");
        }
    });
}

/// Runs the child to its end (killed after [`CHILD_LIFETIME`]); its stdout, once it succeeded.
fn run_child(engine: Engine, path: &Path) -> String {
    kanect_core::testing::run_in_child(engine.test_name(), (CHILD_ENV, path.as_os_str()), CHILD_LIFETIME)
}

/// Every message of `conversation`, client id → seq; each client id once, seqs gap-free.
async fn whole_history(chat: &Chat, caller: &Caller, conversation: ConversationId) -> HashMap<String, u64> {
    let mut seen = HashMap::new();
    let mut after = kanect_core::Seq::ZERO;
    loop {
        let page = chat.history(caller, conversation, HistoryPage::After(after), 200).await.unwrap();
        let Some(last) = page.last() else { break };
        after = last.seq;
        for message in page {
            assert_eq!(message.seq.0, seen.len() as u64 + 1, "seqs are gap-free");
            assert!(seen.insert(message.client_id.clone(), message.seq.0).is_none(), "{} twice", message.client_id);
        }
    }
    seen
}

/// Every file under `dir` but those ending in `.{except}` that contains `needle`, by name.
#[cfg(feature = "fjall")]
fn files_containing(dir: &Path, needle: &str, except: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(next) = pending.pop() {
        for entry in std::fs::read_dir(&next).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                pending.push(path);
            } else if path.extension().is_none_or(|extension| extension != except) {
                // fjall deletes files as it compacts: one gone since the listing holds nothing.
                let bytes = match std::fs::read(&path) {
                    Err(error) if error.kind() == std::io::ErrorKind::NotFound => continue,
                    read => read.unwrap(),
                };
                if bytes.windows(needle.len()).any(|window| window == needle.as_bytes()) {
                    found.push(path.display().to_string());
                }
            }
        }
    }
    found
}

async fn child(engine: Engine, path: &Path) {
    // Handled, so that a write past the limit fails with EFBIG instead of killing the process.
    let xfsz = tokio::signal::unix::SignalKind::from_raw(Signal::XFSZ.as_raw());
    let _xfsz = tokio::signal::unix::signal(xfsz).unwrap();
    let chat = Chat::builder_shared(engine.open_for_the_fault(path)).config(engine_config()).build().await.unwrap();
    chat.register(Registration::new("alice", "alice-secret-pw")).await.unwrap();
    let bob = chat.register(Registration::new("bob", "bob-secret-pw")).await.unwrap();
    let alice = chat.authenticate(chat.login("alice", "alice-secret-pw").await.unwrap().token.as_str()).await.unwrap();
    let direct = chat.open_direct(&alice, bob.id).await.unwrap().id;

    let room = getrlimit(Resource::Fsize);
    setrlimit(Resource::Fsize, Rlimit { current: Some(LIMIT), maximum: room.maximum }).unwrap();
    let mut failed = Vec::new();
    for n in 0..MAX_SENDS {
        let client_id = format!("m{n}");
        if let Err(error) = chat.send(&alice, direct, &client_id, &body(&client_id)).await {
            assert_eq!(error.code(), "unavailable");
            failed.push(client_id);
            if failed.len() > SENDS_AFTER_THE_FAILURE {
                break;
            }
        }
    }
    assert!(!failed.is_empty(), "no send failed: the fault never showed");
    assert_eq!(chat.health().await, StoreHealth::Failed);
    // While there is no room, the store stays failed and refuses every write.
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(chat.health().await, StoreHealth::Failed);
    assert!(chat.register(Registration::new("carol", "carol-secret-pw")).await.is_err());
    assert!(chat.send(&alice, direct, "during", "still full").await.is_err());

    setrlimit(Resource::Fsize, room).unwrap();
    let started = Instant::now();
    while chat.health().await != StoreHealth::Ok {
        assert!(started.elapsed() < RECOVERY, "the store did not recover: {}", chat.health().await);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    // Sends that failed may have been stored. Each resend returns what was stored, or stores
    // it now.
    let before = whole_history(&chat, &alice, direct).await;
    let stored_anyway: Vec<&String> = failed.iter().filter(|client_id| before.contains_key(*client_id)).collect();
    #[cfg(feature = "sled")]
    if engine == Engine::Sled {
        // The first one was: its journal record was synced before sled failed.
        assert!(!stored_anyway.is_empty(), "no failed send was stored: the fault hit elsewhere than after the journal");
    }
    #[cfg(feature = "fjall")]
    if engine == Engine::Fjall {
        // The sends after the failure were refused without being run.
        assert!(stored_anyway.iter().all(|client_id| *client_id == &failed[0]), "a refused send was stored");
        // What the reopen replayed from the journal (read through the page cache, which a
        // failed sync can leave holding what never reached the disk) was written again, to
        // tables fjall syncs, before the store took calls: the newest message is in a table.
        let newest = before.iter().max_by_key(|(_, seq)| **seq).map(|(client_id, _)| client_id).unwrap();
        let tables = files_containing(path, &format!("{newest}: x"), "jnl");
        assert!(!tables.is_empty(), "{newest} is only in the journal after the reopen");
    }
    for client_id in &failed {
        let message = chat.send(&alice, direct, client_id, &body(client_id)).await.unwrap();
        if let Some(seq) = before.get(client_id) {
            assert_eq!(message.seq.0, *seq, "the resend of {client_id} returns the stored message");
            assert_eq!(message.id, kanect_core::MessageId::for_client(direct, alice.user(), client_id));
        }
        println!("RESENT {client_id} {}", message.seq.0);
    }
    let after = whole_history(&chat, &alice, direct).await;
    assert_eq!(after.len(), before.len() + failed.len() - stored_anyway.len(), "each failed send stored once");
    let unique: HashSet<&String> = after.keys().collect();
    assert!(failed.iter().all(|client_id| unique.contains(client_id)));

    // Everything else works again, without a restart.
    chat.register(Registration::new("carol", "carol-secret-pw")).await.unwrap();
    chat.login("carol", "carol-secret-pw").await.unwrap();
    let next = chat.send(&alice, direct, "after", "there is room again").await.unwrap();
    assert_eq!(next.seq.0, after.len() as u64 + 1);
    chat.flush().await.unwrap();
}
