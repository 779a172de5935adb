//! The node's cache of conversations and accounts (the `cache` module): a send reads them from
//! the store once, not every time, and a change made through one node is in force on every
//! node when it returns. Two engines on one store and one bus stand for two nodes.

mod support;

use kanect_core::backend::StoreResult;
use kanect_core::{Chat, LocalBus, MemoryStore, Registration, Store};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use support::*;

/// A memory store that counts reads of conversations and accounts by id.
#[derive(Default)]
struct Counted {
    inner: MemoryStore,
    conversation_reads: AtomicUsize,
    user_reads: AtomicUsize,
}

impl Counted {
    async fn count(&self, method: &'static str) -> StoreResult<()> {
        match method {
            "conversation" => self.conversation_reads.fetch_add(1, Ordering::Relaxed),
            "user" => self.user_reads.fetch_add(1, Ordering::Relaxed),
            _ => 0,
        };
        Ok(())
    }
}

kanect_core::delegate_store!(
    impl UserStore, SessionStore, LoginAttemptStore, ConversationStore, MessageStore, AttachmentStore,
        AdminStore, InviteStore, AccountTokenStore, NotificationStore, SecretStore, Store for Counted => inner,
        before count
);

/// Two engines on one counting store and one local bus.
async fn two_counted_nodes() -> (Chat, Chat, Arc<Counted>) {
    let store = Arc::new(Counted::default());
    let shared: Arc<dyn Store> = store.clone();
    let bus = LocalBus::new();
    let node = || Chat::builder_shared(shared.clone()).bus(bus.clone()).config(unlimited_config()).build();
    (node().await.unwrap(), node().await.unwrap(), store)
}

#[tokio::test]
async fn sends_read_the_conversation_and_the_peer_once_not_every_time() {
    let (a, _b, store) = two_counted_nodes().await;
    let (_, alice) = user(&a, "alice").await;
    let (bob, _) = user(&a, "bob").await;
    let direct = a.open_direct(&alice, bob.id).await.unwrap();
    let reads = |s: &Counted| (s.conversation_reads.load(Ordering::Relaxed), s.user_reads.load(Ordering::Relaxed));
    let before = reads(&store);
    for i in 0..100 {
        a.send(&alice, direct.id, &format!("c{i}"), "hi").await.unwrap();
        a.typing(&alice, direct.id).await.unwrap();
    }
    let after = reads(&store);
    assert_eq!(after.0 - before.0, 1, "the conversation was read once for 100 sends and 100 typing signals");
    assert_eq!(after.1 - before.1, 1, "the peer's account was read once");
}

#[tokio::test]
async fn a_member_removed_through_one_node_cannot_send_through_another() {
    let (a, b) = two_nodes(unlimited_config()).await;
    let (_, alice) = user(&a, "alice").await;
    let (bob, bob_caller) = user(&a, "bob").await;
    let group = a.create_group(&alice, "g", &[bob.id]).await.unwrap();
    // Bob's sends through node b leave the group cached there, Bob a member.
    b.send(&bob_caller, group.id, "before", "hello").await.unwrap();
    a.remove_member(&alice, group.id, bob.id).await.unwrap();
    assert_eq!(code(b.send(&bob_caller, group.id, "after", "still here?").await), "conversation_not_found");
    assert_eq!(code(b.typing(&bob_caller, group.id).await), "conversation_not_found");
}

#[tokio::test]
async fn a_member_added_through_one_node_sends_and_receives_through_another_at_once() {
    let (a, b) = two_nodes(unlimited_config()).await;
    let (_, alice) = user(&a, "alice").await;
    let (bob, bob_caller) = user(&a, "bob").await;
    let (carol, carol_caller) = user(&a, "carol").await;
    let group = a.create_group(&alice, "g", &[bob.id]).await.unwrap();
    // Node b caches the group without Carol, and Carol's refusal is not remembered.
    b.send(&bob_caller, group.id, "before", "hello").await.unwrap();
    assert_eq!(code(b.send(&carol_caller, group.id, "early", "let me in").await), "conversation_not_found");
    let mut carol_on_b = b.subscribe(&carol_caller).await.unwrap();

    a.add_member(&alice, group.id, carol.id).await.unwrap();
    // Sent through b: b's fan-out list has Carol, whose device is on b.
    let sent = b.send(&bob_caller, group.id, "welcome", "welcome carol").await.unwrap();
    // First the system line saying she was added, then Bob's message.
    let added = next_message(&mut carol_on_b).await;
    assert!(added.event.is_some(), "{added:?}");
    let received = next_message(&mut carol_on_b).await;
    assert_eq!(received.id, sent.id);
    b.send(&carol_caller, group.id, "thanks", "thanks!").await.unwrap();
}

async fn admin(chat: &Chat) -> kanect_core::Caller {
    let (user, _) = chat.ensure_admin(Registration::new("root", "root password")).await.unwrap();
    chat.act_as(user.id).await.unwrap()
}

#[tokio::test]
async fn an_account_disabled_through_one_node_receives_nothing_more_through_another() {
    let (a, b) = two_nodes(unlimited_config()).await;
    let root = admin(&a).await;
    let (_, alice) = user(&a, "alice").await;
    let (bob, _) = user(&a, "bob").await;
    let direct = a.open_direct(&alice, bob.id).await.unwrap();
    b.send(&alice, direct.id, "before", "hi bob").await.unwrap();
    a.set_disabled(&root, bob.id, true).await.unwrap();
    assert_eq!(code(b.send(&alice, direct.id, "after", "bob?").await), "recipient_unavailable");
    // Enabled again through a: b lets the message through without waiting for anything.
    a.set_disabled(&root, bob.id, false).await.unwrap();
    b.send(&alice, direct.id, "again", "welcome back").await.unwrap();
}

#[tokio::test]
async fn a_deleted_account_receives_nothing_more_through_another_node() {
    let (a, b) = two_nodes(unlimited_config()).await;
    let root = admin(&a).await;
    let (_, alice) = user(&a, "alice").await;
    let (bob, _) = user(&a, "bob").await;
    let direct = a.open_direct(&alice, bob.id).await.unwrap();
    b.send(&alice, direct.id, "before", "hi bob").await.unwrap();
    a.delete_user(&root, bob.id).await.unwrap();
    assert_eq!(code(b.send(&alice, direct.id, "after", "bob?").await), "recipient_unavailable");
}
