//! PgStore's shared rate-limit buckets (`pg::rate_buckets`): takes from several nodes at once
//! never get more than a bucket holds, and engines on two nodes count each limit once between
//! them, tokens they took ahead of need included. Needs `KANECT_TEST_PG`.
#![cfg(feature = "postgres")]

mod pg_support;

use kanect_core::backend::{BucketKey, Grant, SharedRateBuckets, Store};
use kanect_core::{Chat, ChatConfig, Error, Limit, PasswordCost, Rate, RateLimits, Registration};
use kanect_store::PgStore;
use pg_support::{config, raw_client, schema_name};
use std::sync::Arc;
use std::time::Duration;

/// Two stores on one fresh schema: two nodes.
async fn two_nodes() -> (Arc<PgStore>, Arc<PgStore>, String) {
    let schema = schema_name();
    let a = Arc::new(PgStore::connect_with(config(&schema)).await.expect("connect"));
    let b = Arc::new(PgStore::connect_with(config(&schema)).await.expect("connect"));
    (a, b, schema)
}

fn buckets(store: &PgStore) -> &dyn SharedRateBuckets {
    store.shared_rate_buckets().expect("PostgreSQL shares its buckets")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(not(kanect_test_pg), ignore = "set KANECT_TEST_PG to run")]
async fn concurrent_takes_on_two_nodes_never_get_more_than_the_bucket_holds() {
    let (a, b, _) = two_nodes().await;
    // 20 an hour: nothing comes back while the test runs.
    let rate: Rate = "20/1h".parse().unwrap();
    let key = BucketKey::new("sends", "someone");
    let mut tasks = Vec::new();
    for node in [a, b] {
        for _ in 0..4 {
            let node = node.clone();
            tasks.push(tokio::spawn(async move {
                let mut taken = 0;
                loop {
                    match buckets(&node).take_tokens(&key, rate, 0, 1, 3).await.expect("take") {
                        Grant::Taken(tokens) => {
                            assert!((1..=3).contains(&tokens), "between need and want: {tokens}");
                            taken += tokens;
                        }
                        Grant::Wait(wait) => {
                            assert!(wait > Duration::ZERO && wait <= Duration::from_secs(180), "{wait:?}");
                            return taken;
                        }
                    }
                }
            }));
        }
    }
    let mut total = 0;
    for task in tasks {
        total += task.await.unwrap();
    }
    assert_eq!(total, 20, "exactly the burst, between eight racing takers on two nodes");
}

#[tokio::test]
#[cfg_attr(not(kanect_test_pg), ignore = "set KANECT_TEST_PG to run")]
async fn a_take_needing_more_than_is_left_takes_nothing_and_full_buckets_are_forgotten() {
    let (a, _b, schema) = two_nodes().await;
    // One token back every 5 s: nothing comes back between the statements, however slow.
    let slow: Rate = "4/20s".parse().unwrap();
    let key = BucketKey::new("typing", "someone");
    assert_eq!(buckets(&a).take_tokens(&key, slow, 0, 3, 3).await.unwrap(), Grant::Taken(3));
    let Grant::Wait(wait) = buckets(&a).take_tokens(&key, slow, 0, 2, 4).await.unwrap() else {
        panic!("two are not left");
    };
    assert!(
        wait > Duration::ZERO && wait <= Duration::from_secs(5),
        "one more comes back within one interval: {wait:?}"
    );
    assert_eq!(buckets(&a).take_tokens(&key, slow, 0, 1, 1).await.unwrap(), Grant::Taken(1), "the refusal took none");
    assert_eq!(buckets(&a).take_tokens(&key, slow, 2, 2, 2).await.unwrap(), Grant::Taken(2), "two given back");
    // A bucket full again 400 ms after its one take.
    let fast: Rate = "2/400ms".parse().unwrap();
    assert_eq!(
        buckets(&a).take_tokens(&BucketKey::new("typing", "another"), fast, 0, 1, 1).await.unwrap(),
        Grant::Taken(1)
    );
    let raw = raw_client(&schema).await;
    let count = "SELECT count(*) FROM kanect_rate_buckets";
    assert_eq!(raw.query_one(count, &[]).await.unwrap().get::<_, i64>(0), 2);
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(buckets(&a).forget_full_buckets().await.unwrap(), 1, "the full one, not the other");
    assert_eq!(raw.query_one(count, &[]).await.unwrap().get::<_, i64>(0), 1);
}

/// An engine on `store` whose only limit is `sends`.
async fn engine(store: Arc<PgStore>, sends: &str) -> Chat {
    let rate_limits = RateLimits { sends: Some(sends.parse().unwrap()), ..RateLimits::UNLIMITED };
    let config = ChatConfig { password_cost: PasswordCost::INSECURE_FAST, rate_limits, ..ChatConfig::default() };
    Chat::builder_shared(store).config(config).build().await.expect("engine")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(not(kanect_test_pg), ignore = "set KANECT_TEST_PG to run")]
async fn two_engines_count_a_limit_once_between_them_tokens_taken_ahead_included() {
    let (a, b, _) = two_nodes().await;
    // A burst of 30, one back every second (a hot limit: each node takes 3 ahead of need).
    let nodes = [engine(a, "30/30s").await, engine(b, "30/30s").await];
    nodes[0].register(Registration::new("alice", "alice's password")).await.unwrap();
    let bob = nodes[0].register(Registration::new("bob", "bob's password")).await.unwrap();
    let mut callers = Vec::new();
    for node in &nodes {
        let login = node.login("alice", "alice's password").await.unwrap();
        callers.push(node.authenticate(login.token.as_str()).await.unwrap());
    }
    let direct = nodes[0].open_direct(&callers[0], bob.id).await.unwrap();
    let started = std::time::Instant::now();
    let mut sent = 0;
    for n in 0..80 {
        let which = n % 2;
        match nodes[which].send(&callers[which], direct.id, &format!("c{n}"), "hi").await {
            Ok(_) => sent += 1,
            Err(Error::Limited { limit: Limit::Sends, retry_after: Some(_) }) => {}
            Err(other) => panic!("send {n}: {other:?}"),
        }
    }
    let elapsed = started.elapsed().as_secs();
    // Counted per node, each would pass its own 30 and more: 60 at least.
    assert!(elapsed < 25, "too slow to tell shared from per-node counts: {elapsed} s");
    // At most the burst and one a second since; at least the burst but what the two nodes may
    // still hold ahead at the end (3 each).
    let refilled = usize::try_from(elapsed).unwrap() + 1;
    assert!((24..=30 + refilled).contains(&sent), "the burst once, plus one a second: {sent} in {elapsed} s");
}
