//! An acknowledged upload survives SIGKILL: FjallStore for the records, FsBlobStore for the
//! bytes, through the engine, as the server runs them.
//!
//! As `crash.rs` does for messages: the test re-executes its own binary as a child
//! (`KANECT_UPLOAD_CRASH_CHILD` names the data directory) that uploads files of random sizes
//! from several tasks and prints each acknowledgement (`ACK <id> <sha256> <size>`). The parent
//! kills it with SIGKILL at a random moment, then reopens both stores and checks that every
//! acknowledged upload has its record and exactly its bytes, that no temporary file survives
//! the reopen, and that the sweep, run as if a day had passed, deletes every upload no message
//! carries and nothing else is left in the blob directory. Most kills must hit an upload under
//! way (a temporary file is there before the reopen), or the test proves nothing.

#![cfg(feature = "fjall")]

mod sigkill;

use kanect_core::backend::AttachmentStore;
use kanect_core::blob::{collect, BlobKey, BlobStore};
use kanect_core::testing::blob::{body, pattern};
use kanect_core::{AttachmentId, Chat, ChatConfig, PasswordCost, RateLimits, Registration, Timestamp};
use kanect_store::{FjallStore, FsBlobStore};
use sigkill::XorShift;
use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

const CHILD_ENV: &str = "KANECT_UPLOAD_CRASH_CHILD";
/// Kill points per run.
const KILLS: usize = 12;
/// Concurrent uploaders in the child.
const UPLOADERS: usize = 3;
/// A child left alone stops on its own after this long.
const CHILD_LIFETIME: Duration = Duration::from_secs(20);
const TEST: &str = "acknowledged_uploads_survive_sigkill";

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap()
}

/// The engine on the stores in `path`, as the server opens them.
async fn start(path: &Path) -> (Chat, Arc<FjallStore>, Arc<FsBlobStore>) {
    let store = Arc::new(FjallStore::open(path.join("store")).unwrap());
    let blobs = Arc::new(FsBlobStore::open(path.join("blobs")).unwrap());
    let config = ChatConfig {
        password_cost: PasswordCost::INSECURE_FAST,
        rate_limits: RateLimits::UNLIMITED,
        ..Default::default()
    };
    let chat = Chat::builder_shared(store.clone()).blobs_shared(blobs.clone()).config(config).build().await.unwrap();
    (chat, store, blobs)
}

/// Files (not directories) under `dir`, recursively.
fn files_under(dir: &Path) -> Vec<std::path::PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else { return Vec::new() };
    entries
        .flatten()
        .flat_map(|entry| match entry.file_type().unwrap().is_dir() {
            true => files_under(&entry.path()),
            false => vec![entry.path()],
        })
        .collect()
}

#[test]
fn acknowledged_uploads_survive_sigkill() {
    if let Ok(path) = std::env::var(CHILD_ENV) {
        runtime().block_on(child(Path::new(&path)));
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().to_path_buf();
    let rt = runtime();
    rt.block_on(async {
        let (chat, _, _) = start(&path).await;
        for i in 0..UPLOADERS {
            chat.register(Registration::new(format!("uploader{i}"), "uploader-secret")).await.unwrap();
        }
    });
    let mut random = XorShift::from_clock(TEST);
    let mut acked: HashMap<AttachmentId, (String, u64)> = HashMap::new();
    let mut mid_upload = 0;
    for run in 0..KILLS {
        for (id, sha256, size) in kill_child_at_random(&path, run, &mut random) {
            assert!(acked.insert(id, (sha256, size)).is_none(), "upload {id} acknowledged twice");
        }
        mid_upload += usize::from(!files_under(&path.join("blobs").join("tmp")).is_empty());
        rt.block_on(verify(&path, &acked));
    }
    assert!(acked.len() >= 20, "too little load to prove anything: {} uploads", acked.len());
    assert!(mid_upload >= KILLS / 3, "only {mid_upload} kills hit an upload under way");

    // A day later every upload is unsent and expired: the sweep leaves nothing behind.
    rt.block_on(async {
        let (chat, store, _) = start(&path).await;
        let tomorrow = Timestamp::now().plus(Duration::from_secs(25 * 3600));
        chat.sweep_attachments(tomorrow).await.unwrap();
        assert!(store.attachments_after(None, 10).await.unwrap().is_empty());
    });
    assert_eq!(files_under(&path.join("blobs")), Vec::<std::path::PathBuf>::new(), "bytes left after the sweep");
}

/// Runs one child, kills it, and returns the acknowledgements it printed.
fn kill_child_at_random(path: &Path, run: usize, random: &mut XorShift) -> Vec<(AttachmentId, String, u64)> {
    // Most runs die under load; every fourth may die anywhere, opening included.
    let wait_for = (run % 4 != 3).then_some("READY");
    let pause = Duration::from_millis(200 + random.below(400));
    sigkill::run_and_kill(TEST, &[(CHILD_ENV, path.as_os_str())], wait_for, pause)
        .iter()
        .filter_map(|line| line.strip_prefix("ACK "))
        .map(|ack| {
            let mut fields = ack.split(' ');
            let id = fields.next().unwrap().parse().unwrap();
            let sha256 = fields.next().unwrap().to_string();
            let size = fields.next().unwrap().parse().unwrap();
            (id, sha256, size)
        })
        .collect()
}

/// The child: upload files of 1 KiB to 2 MiB as fast as they are acknowledged.
async fn child(path: &Path) {
    let (chat, store, _) = start(path).await;
    println!("READY");
    let mut tasks = Vec::new();
    for i in 0..UPLOADERS {
        let user =
            kanect_core::backend::UserStore::user_by_username(&*store, &format!("uploader{i}")).await.unwrap().unwrap();
        let (chat, caller) = (chat.clone(), chat.act_as(user.id).await.unwrap());
        tasks.push(tokio::spawn(async move {
            let started = Instant::now();
            for n in 0u64.. {
                let size = 1024 + (n * 7919 + i as u64 * 104_729) % (2 * 1024 * 1024);
                let bytes = pattern(size as usize, n as u8);
                let meta = chat.upload(&caller, "file.bin", Some(size), body(&bytes, 64 * 1024)).await.unwrap();
                println!("ACK {} {} {}", meta.id, meta.sha256, meta.size);
                if started.elapsed() > CHILD_LIFETIME {
                    break;
                }
            }
        }));
    }
    for task in tasks {
        task.await.unwrap();
    }
}

/// Reopens the stores: every acknowledged upload has its record and its bytes, and the open
/// left no temporary file.
async fn verify(path: &Path, acked: &HashMap<AttachmentId, (String, u64)>) {
    let (_chat, store, blobs) = start(path).await;
    assert!(files_under(&path.join("blobs").join("tmp")).is_empty(), "the reopen cleans temporary files");
    for (id, (sha256, size)) in acked {
        let record = store.attachment(*id).await.unwrap().unwrap_or_else(|| panic!("upload {id} lost its record"));
        assert_eq!((&record.meta.sha256, record.meta.size), (sha256, *size));
        let blob =
            blobs.get(BlobKey::file(*id), None).await.unwrap().unwrap_or_else(|| panic!("upload {id} lost its bytes"));
        let bytes = collect(blob.bytes).await.unwrap();
        assert_eq!(bytes.len() as u64, *size);
        use sha2::Digest;
        let digest: String = sha2::Sha256::digest(&bytes).iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(&digest, sha256, "upload {id}'s bytes changed");
    }
}
