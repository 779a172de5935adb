//! Uploads through the engine on PostgreSQL (PgStore and PgBlobStore), as a cluster runs them:
//! the record is written twice (before the bytes, and once complete), and stalled uploads must
//! not take the pool every other store call needs.
#![cfg(feature = "postgres")]
mod pg_support;

use kanect_core::testing::blob::body;
use kanect_core::{Chat, ChatConfig, PasswordCost, RateLimits, Registration};
use std::sync::Arc;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(not(kanect_test_pg), ignore = "set KANECT_TEST_PG to run")]
async fn an_upload_through_the_engine_on_postgres() {
    let store = Arc::new(pg_support::fresh_store().await);
    let blobs = store.blobs();
    let config = ChatConfig {
        password_cost: PasswordCost::INSECURE_FAST,
        rate_limits: RateLimits::UNLIMITED,
        ..Default::default()
    };
    let chat = Chat::builder_shared(store.clone()).blobs(blobs).config(config).build().await.unwrap();
    chat.register(Registration::new("alice", "alice-secret-pw")).await.unwrap();
    let login = chat.login("alice", "alice-secret-pw").await.unwrap();
    let alice = chat.authenticate(login.token.as_str()).await.unwrap();
    let text = b"hello postgres\n".repeat(100);
    let meta = chat.upload(&alice, "a.txt", None, body(&text, 1000)).await;
    assert!(meta.is_ok(), "upload on PostgreSQL failed: {meta:?}");
}

/// Stalled uploads (a client trickling its body, up to `upload_read_timeout`, 5 minutes by
/// default) each hold a pooled connection with an open transaction while they run: PgBlobStore
/// lets a quarter of the pool do so, so eight of them (two accounts, four each) in a pool of 8
/// leave six connections for everything else.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(not(kanect_test_pg), ignore = "set KANECT_TEST_PG to run")]
async fn stalled_uploads_leave_the_pool_to_everything_else() {
    use std::time::Duration;
    let schema = pg_support::schema_name();
    let config =
        kanect_store::PgConfig { pool_size: 8, wait_timeout: Duration::from_secs(2), ..pg_support::config(&schema) };
    let store = Arc::new(kanect_store::PgStore::connect_with(config).await.unwrap());
    let blobs = store.blobs();
    let config = ChatConfig {
        password_cost: PasswordCost::INSECURE_FAST,
        rate_limits: RateLimits::UNLIMITED,
        ..Default::default()
    };
    let chat = Chat::builder_shared(store.clone()).blobs(blobs).config(config).build().await.unwrap();
    let mut callers = Vec::new();
    for name in ["mallory1", "mallory2", "bob"] {
        chat.register(Registration::new(name, "a-secret-password")).await.unwrap();
        let login = chat.login(name, "a-secret-password").await.unwrap();
        callers.push(chat.authenticate(login.token.as_str()).await.unwrap());
    }
    let mut stalled = Vec::new();
    for caller in &callers[..2] {
        for _ in 0..4 {
            let (chat, caller) = (chat.clone(), caller.clone());
            stalled.push(tokio::spawn(async move {
                // One byte, then nothing: a trickling client.
                let first = futures_util::stream::iter([Ok(bytes::Bytes::from_static(b"x"))]);
                let body = futures_util::StreamExt::chain(first, futures_util::stream::pending());
                chat.upload(&caller, "slow.bin", None, Box::pin(body)).await
            }));
        }
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let started = std::time::Instant::now();
    let history = chat.conversations(&callers[2], None, 10).await;
    assert!(
        history.is_ok(),
        "another user's call failed after {:?} while 8 uploads stall: {history:?}",
        started.elapsed()
    );
    for task in stalled {
        task.abort();
    }
}
