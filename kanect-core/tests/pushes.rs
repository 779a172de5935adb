//! Whom the engine pushes to, in one process, with a push sender that records: a message to
//! members without subscriptions costs no store reads once the node knows they have none; a
//! subscription made on another node is heard at once; past the backlog a message is not
//! pushed, and counted. (The pushes' encryption and the push service are tested end to end in
//! the workspace's `tests/http_push.rs`.)

mod support;

use async_trait::async_trait;
use kanect_core::backend::StoreResult;
use kanect_core::{
    Chat, ChatConfig, LocalBus, MemoryStore, PushNotice, PushOutcome, PushRefused, PushSender, PushSubscription, Store,
};
use metrics_util::debugging::DebuggingRecorder;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use support::*;

/// Takes every subscription and records each push.
#[derive(Debug, Default)]
struct Recording {
    sent: Mutex<Vec<PushNotice>>,
}

impl Recording {
    fn bodies(&self) -> Vec<String> {
        self.sent.lock().unwrap().iter().map(|notice| notice.preview.clone()).collect()
    }
}

#[async_trait]
impl PushSender for Recording {
    fn public_key(&self) -> String {
        "BKey".into()
    }

    async fn check(&self, _endpoint: &str, _p256dh: &str, _auth: &str) -> Result<(), PushRefused> {
        Ok(())
    }

    async fn send(&self, _subscription: &PushSubscription, notice: &PushNotice) -> PushOutcome {
        self.sent.lock().unwrap().push(notice.clone());
        PushOutcome::Sent
    }
}

/// A memory store that counts the calls made to it, per method.
#[derive(Default)]
struct Counted {
    inner: MemoryStore,
    calls: Mutex<HashMap<&'static str, usize>>,
}

impl Counted {
    async fn count(&self, method: &'static str) -> StoreResult<()> {
        *self.calls.lock().unwrap().entry(method).or_default() += 1;
        Ok(())
    }

    fn calls(&self, method: &str) -> usize {
        self.calls.lock().unwrap().get(method).copied().unwrap_or(0)
    }
}

kanect_core::delegate_store!(
    impl UserStore, SessionStore, LoginAttemptStore, ConversationStore, MessageStore, AttachmentStore,
        AdminStore, InviteStore, AccountTokenStore, NotificationStore, SecretStore, Store for Counted => inner,
        before count
);

fn config() -> ChatConfig {
    ChatConfig { push_grace: Duration::from_millis(50), ..unlimited_config() }
}

/// Waits (five seconds at most) until `done` holds.
async fn until(what: &str, done: impl Fn() -> bool) {
    for _ in 0..500 {
        if done() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("not within 5 s: {what}");
}

#[tokio::test]
async fn messages_to_members_without_subscriptions_cost_no_store_reads_once_known() {
    let store = Arc::new(Counted::default());
    let pushes = Arc::new(Recording::default());
    let chat = Chat::builder_shared(store.clone() as Arc<dyn Store>)
        .config(config())
        .push_shared(pushes.clone())
        .build()
        .await
        .unwrap();
    let (_, alice) = user(&chat, "alice").await;
    let (bob_user, bob) = user(&chat, "bob").await;
    let direct = chat.open_direct(&alice, bob_user.id).await.unwrap();

    // The first message: the node does not know yet whether bob has a subscription, and reads.
    chat.send(&alice, direct.id, "c0", "first").await.unwrap();
    until("the first message's push considered", || store.calls("push_subscriptions_of") == 1).await;

    // Now it knows: more messages read nothing for pushes.
    for n in 1..=20 {
        chat.send(&alice, direct.id, &format!("c{n}"), &format!("more {n}")).await.unwrap();
    }
    // Bob subscribes: the next message is pushed; pushes go in order, so once it is, the 20
    // before it have been considered.
    chat.subscribe_push(&bob, "https://push.example/bob", "key", "auth").await.unwrap();
    chat.send(&alice, direct.id, "c21", "after subscribing").await.unwrap();
    until("the push after subscribing", || pushes.bodies() == ["after subscribing"]).await;
    assert_eq!(store.calls("push_subscriptions_of"), 2 + 1, "the first message, the subscribe's cap check, the last");
    assert_eq!(store.calls("receipts"), 1, "receipts read only for the message that had someone to push to");
}

#[tokio::test]
async fn a_subscription_made_on_another_node_is_heard_at_once() {
    let store = Arc::new(Counted::default());
    let pushes = Arc::new(Recording::default());
    let bus = LocalBus::new();
    let node = || {
        Chat::builder_shared(store.clone() as Arc<dyn Store>)
            .bus(bus.clone())
            .config(config())
            .push_shared(pushes.clone())
            .build()
    };
    let (one, two) = (node().await.unwrap(), node().await.unwrap());
    let (_, alice) = user(&one, "alice").await;
    let (bob_user, bob) = user(&one, "bob").await;
    let direct = one.open_direct(&alice, bob_user.id).await.unwrap();

    one.send(&alice, direct.id, "c1", "before").await.unwrap();
    until("node one learned that bob has no subscription", || store.calls("push_subscriptions_of") == 1).await;
    two.subscribe_push(&bob, "https://push.example/bob", "key", "auth").await.unwrap();
    one.send(&alice, direct.id, "c2", "after").await.unwrap();
    until("node one pushes to bob", || pushes.bodies() == ["after"]).await;
}

#[tokio::test]
async fn past_the_backlog_a_message_is_not_pushed_and_is_counted() {
    let pushes = Arc::new(Recording::default());
    let config = ChatConfig { push_backlog: 2, push_grace: Duration::from_secs(2), ..config() };
    // The engine's handles come from the recorder in place when it is built: this test's own.
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    let dropped = || counter_value(&snapshot(&snapshotter), kanect_core::metrics::PUSHES_DROPPED);
    let chat = {
        let _local = metrics::set_default_local_recorder(&recorder);
        Chat::builder(MemoryStore::new()).config(config).push_shared(pushes.clone()).build().await.unwrap()
    };
    let (_, alice) = user(&chat, "alice").await;
    let (bob_user, bob) = user(&chat, "bob").await;
    chat.subscribe_push(&bob, "https://push.example/bob", "key", "auth").await.unwrap();
    let direct = chat.open_direct(&alice, bob_user.id).await.unwrap();

    // At the backlog, nothing dropped; one past it, one.
    for n in 1..=2 {
        chat.send(&alice, direct.id, &format!("c{n}"), &format!("m{n}")).await.unwrap();
    }
    assert_eq!(dropped(), 0);
    chat.send(&alice, direct.id, "c3", "m3").await.unwrap();
    assert_eq!(dropped(), 1, "dropped since the last look");
    until("the two queued pushes", || pushes.bodies().len() == 2).await;
    assert_eq!(pushes.bodies(), ["m1", "m2"]);

    // The queue has room again.
    chat.send(&alice, direct.id, "c4", "m4").await.unwrap();
    until("the next push", || pushes.bodies().len() == 3).await;
    assert_eq!(pushes.bodies()[2], "m4");
}
