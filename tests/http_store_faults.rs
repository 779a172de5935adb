//! A disk that fills up under a running server, over HTTP, on each embedded engine: `GET
//! /health` answers `503 store_unavailable` while it is full, a send answered `503
//! unavailable` may still have been stored and its resend returns it (same id and seq) or
//! stores it once, and once there is room again the server works and says so without a
//! restart.
//!
//! The fault is the kernel's: the test re-executes its own binary as a child process
//! (`KANECT_STORE_FAULT_CHILD` names the store directory) that runs a server on 127.0.0.1 port
//! 0 and lowers its own file-size limit (`RLIMIT_FSIZE`) to [`LIMIT`]. With sled, its file can
//! no longer grow while the journal's, [`LIMIT`] long and written out before use, still takes
//! records: the failed send was stored. With fjall, the journal write that reaches past the
//! limit fails (the limit is on the offset written, so fjall's preallocated journal is no
//! escape): the failed send's journal record is torn and dropped at the reopen, and its
//! resend stores it. (See
//! `kanect-store/tests/disk_full.rs`, which also covers restarts.) Raising the limit again is
//! "space was freed".

#![cfg(any(feature = "sled", feature = "fjall"))]

mod support;

use kanect::http::HttpConfig;
use kanect::{Chat, ChatBuilder, ChatConfig, RateLimits};
use rustix::process::{getrlimit, setrlimit, Resource, Rlimit, Signal};
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::path::Path;
use std::time::{Duration, Instant};
use support::{chat_config, open_direct, request, signup, Session};

const CHILD_ENV: &str = "KANECT_STORE_FAULT_CHILD";
/// The child's file-size limit while the disk is "full", and sled's journal file size.
const LIMIT: u64 = 256 * 1024;
/// Sends tried before the fault must have shown (sled's file reaches the limit after a few
/// hundred).
const MAX_SENDS: usize = 20_000;
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
            Engine::Sled => "sled_a_full_disk_makes_health_fail_and_a_failed_send_is_resent_once",
            #[cfg(feature = "fjall")]
            Engine::Fjall => "fjall_a_full_disk_makes_health_fail_and_a_failed_send_is_resent_once",
        }
    }

    /// An engine on the store in `path` (sled's journal files [`LIMIT`] long).
    fn chat(self, path: &Path) -> ChatBuilder {
        match self {
            #[cfg(feature = "sled")]
            Engine::Sled => {
                use kanect::store::{SledConfig, SledStore};
                Chat::builder(
                    SledStore::open_with(SledConfig { journal_bytes: LIMIT, ..SledConfig::new(path) }).unwrap(),
                )
            }
            #[cfg(feature = "fjall")]
            Engine::Fjall => Chat::builder(kanect::store::FjallStore::open(path).unwrap()),
        }
    }
}

#[cfg(feature = "sled")]
#[test]
fn sled_a_full_disk_makes_health_fail_and_a_failed_send_is_resent_once() {
    a_full_disk_makes_health_fail_and_a_failed_send_is_resent_once(Engine::Sled);
}

#[cfg(feature = "fjall")]
#[test]
fn fjall_a_full_disk_makes_health_fail_and_a_failed_send_is_resent_once() {
    a_full_disk_makes_health_fail_and_a_failed_send_is_resent_once(Engine::Fjall);
}

fn a_full_disk_makes_health_fail_and_a_failed_send_is_resent_once(engine: Engine) {
    if let Ok(path) = std::env::var(CHILD_ENV) {
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        runtime.block_on(child(engine, Path::new(&path)));
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().join("store");
    kanect_core::testing::run_in_child(engine.test_name(), (CHILD_ENV, store.as_os_str()), CHILD_LIFETIME);
}

async fn send(addr: SocketAddr, session: &Session, conversation: &str, client_id: &str) -> support::Reply {
    let body = json!({"client_id": client_id, "body": format!("{client_id}: {}", "x".repeat(400))});
    request(addr, "POST", &format!("/api/v1/conversations/{conversation}/messages"), Some(&session.token), Some(body))
        .await
}

async fn health(addr: SocketAddr) -> (u16, Value) {
    let reply = request(addr, "GET", "/health", None, None).await;
    (reply.status, reply.json())
}

/// The newest messages of `conversation`, as (client id, id, seq).
async fn latest(addr: SocketAddr, session: &Session, conversation: &str) -> Vec<(String, String, u64)> {
    let path = format!("/api/v1/conversations/{conversation}/messages?limit=10");
    let reply = request(addr, "GET", &path, Some(&session.token), None).await;
    assert_eq!(reply.status, 200, "{:?}", reply.json());
    let messages = reply.json()["messages"].as_array().cloned().unwrap_or_default();
    let field = |message: &Value, name: &str| message[name].as_str().unwrap_or_default().to_string();
    messages
        .iter()
        .map(|message| (field(message, "client_id"), field(message, "id"), message["seq"].as_u64().unwrap_or(0)))
        .collect()
}

async fn child(engine: Engine, path: &Path) {
    // Handled, so that a write past the limit fails with EFBIG instead of killing the process.
    let xfsz = tokio::signal::unix::SignalKind::from_raw(Signal::XFSZ.as_raw());
    let _xfsz = tokio::signal::unix::signal(xfsz).unwrap();
    // Sends until the disk fills: hundreds, past the default send rate.
    let config = ChatConfig { rate_limits: RateLimits::UNLIMITED, ..chat_config() };
    let chat = engine.chat(path).config(config).build().await.unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(kanect::http::serve(listener, chat, HttpConfig::default(), async {
        let _ = stopped.await;
    }));
    let (alice, bob) = (signup(addr, "alice").await, signup(addr, "bob").await);
    let direct = open_direct(addr, &alice, &bob).await;
    assert_eq!(health(addr).await, (200, json!({"status": "ok", "store": "ok"})));

    let room = getrlimit(Resource::Fsize);
    setrlimit(Resource::Fsize, Rlimit { current: Some(LIMIT), maximum: room.maximum }).unwrap();
    let mut failed = None;
    for n in 0..MAX_SENDS {
        let client_id = format!("m{n}");
        let reply = send(addr, &alice, &direct, &client_id).await;
        if reply.status != 200 {
            assert_eq!((reply.status, reply.code()), (503, "unavailable".to_string()));
            failed = Some(client_id);
            break;
        }
    }
    let failed = failed.expect("no send failed: the fault never showed");
    let full = json!({"status": "store_unavailable", "store": "failed"});
    assert_eq!(health(addr).await, (503, full.clone()));
    assert_eq!(send(addr, &alice, &direct, "while-full").await.status, 503);
    assert_eq!(health(addr).await, (503, full), "the store stays failed while the disk is full");

    setrlimit(Resource::Fsize, room).unwrap();
    let started = Instant::now();
    while health(addr).await.0 != 200 {
        assert!(started.elapsed() < RECOVERY, "the server did not recover: {:?}", health(addr).await);
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(health(addr).await, (200, json!({"status": "ok", "store": "ok"})));

    // The failed send may have been stored: then it is the newest message, and its resend
    // returns it and stores nothing; else the resend stores it once, next.
    let before = latest(addr, &alice, &direct).await;
    let newest = before.last().cloned().expect("messages");
    let stored = newest.0 == failed;
    #[cfg(feature = "sled")]
    if engine == Engine::Sled {
        assert!(stored, "the send answered 503 was stored anyway: its journal record was synced before sled failed");
    }
    let resent = send(addr, &alice, &direct, &failed).await;
    assert_eq!(resent.status, 200, "{:?}", resent.json());
    let message = resent.json();
    let last = if stored {
        assert_eq!((message["id"].as_str(), message["seq"].as_u64()), (Some(newest.1.as_str()), Some(newest.2)));
        assert_eq!(latest(addr, &alice, &direct).await, before, "the resend stored nothing");
        newest.2
    } else {
        assert_eq!(message["seq"].as_u64(), Some(newest.2 + 1), "the resend is stored next");
        let after = latest(addr, &alice, &direct).await;
        assert_eq!(after.iter().filter(|(client_id, ..)| *client_id == failed).count(), 1, "stored once");
        newest.2 + 1
    };
    assert_eq!(send(addr, &alice, &direct, "after").await.json()["seq"].as_u64(), Some(last + 1));
    signup(addr, "carol").await;

    let _ = stop.send(());
    tokio::time::timeout(support::WAIT, server).await.expect("serve returns").unwrap().unwrap();
}
