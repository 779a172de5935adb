//! Two nodes as a deployment runs them, in one process: each engine has its own `PgStore`
//! (pool) on one PostgreSQL schema and its own [`NatsBus`] on one prefix. Accounts, sessions,
//! conversations, history and receipts are shared through the database; live events and
//! presence through NATS. Needs `KANECT_TEST_PG` and `KANECT_TEST_NATS`.
//!
//! The schema is named like the kanect-store tests' (`kanect_test_<unix seconds>_<random>`), so
//! their clean-up drops it once it is an hour old.

use kanect_core::{
    Chat, ChatConfig, Conflict, Error, Event, HistoryPage, PasswordCost, ReceiptKind, Registration, Subscription,
};
use kanect_nats::{NatsBus, NatsConfig};
use kanect_store::{PgConfig, PgStore};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

const PATIENCE: Duration = Duration::from_secs(10);

async fn node(schema: &str, prefix: &str) -> Chat {
    let pg_url = std::env::var("KANECT_TEST_PG").expect("KANECT_TEST_PG names a database");
    let nats_url = std::env::var("KANECT_TEST_NATS").expect("KANECT_TEST_NATS names a server");
    let store =
        PgStore::connect_with(PgConfig { schema: Some(schema.to_string()), pool_size: 4, ..PgConfig::new(pg_url) })
            .await
            .unwrap();
    let bus =
        NatsBus::connect_with(NatsConfig { prefix: prefix.to_string(), ..NatsConfig::new(nats_url) }).await.unwrap();
    let config = ChatConfig {
        password_cost: PasswordCost::INSECURE_FAST,
        heartbeat: Duration::from_millis(200),
        ..Default::default()
    };
    Chat::builder(store).bus(bus).config(config).build().await.unwrap()
}

async fn next_event<T>(device: &mut Subscription, mut pick: impl FnMut(&Event) -> Option<T>) -> T {
    let wait = async {
        loop {
            let delivery = device.next().await.expect("the stream ended");
            if let Some(found) = pick(delivery.event()) {
                return found;
            }
        }
    };
    tokio::time::timeout(PATIENCE, wait).await.expect("the event arrived in time")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(not(all(kanect_test_pg, kanect_test_nats)), ignore = "set KANECT_TEST_PG and KANECT_TEST_NATS to run")]
async fn two_nodes_share_accounts_history_and_live_events() {
    let secs = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let random = uuid::Uuid::new_v4().simple().to_string();
    let schema = format!("kanect_test_{secs}_{}", &random[..12]);
    let prefix = format!("test-{random}");
    let a = node(&schema, &prefix).await;
    let b = node(&schema, &prefix).await;

    // Accounts are shared: registered on A, taken on B, logged in on B.
    a.register(Registration::new("alice", "correct horse")).await.unwrap();
    let taken = b.register(Registration::new("ALICE", "another horse")).await.unwrap_err();
    assert!(matches!(taken, Error::Conflict(Conflict::UsernameTaken)), "{taken:?}");
    let bob = b.register(Registration::new("bob", "battery staple")).await.unwrap();
    let alice = a.authenticate(a.login("alice", "correct horse").await.unwrap().token.as_str()).await.unwrap();
    let bob_on_b = b.authenticate(b.login("bob", "battery staple").await.unwrap().token.as_str()).await.unwrap();

    let mut alices_laptop = a.subscribe(&alice).await.unwrap();
    let mut bobs_phone = b.subscribe(&bob_on_b).await.unwrap();
    let direct = a.open_direct(&alice, bob.id).await.unwrap();
    // Opening it from B finds the same conversation.
    assert_eq!(b.open_direct(&bob_on_b, alice.user()).await.unwrap().id, direct.id);

    let sent = a.send(&alice, direct.id, "c1", "hello from node A").await.unwrap();
    let received = next_event(&mut bobs_phone, |event| match event {
        Event::Message { message } => Some(message.clone()),
        _ => None,
    })
    .await;
    assert_eq!(received, sent);
    assert_eq!(b.history(&bob_on_b, direct.id, HistoryPage::Latest, 10).await.unwrap(), vec![sent.clone()]);

    b.mark(&bob_on_b, direct.id, ReceiptKind::Read, sent.seq).await.unwrap();
    let receipt = next_event(&mut alices_laptop, |event| match event {
        Event::Receipt(receipt) if receipt.user == bob.id => Some(*receipt),
        _ => None,
    })
    .await;
    assert_eq!(receipt.read, sent.seq);

    let bob_record = b.me(&bob_on_b).await.unwrap();
    assert!(a.presence(&bob_record).online, "bob, connected to B, is online as A sees it");
}
