//! A session's end reaches every device of it, also where its own event cannot: a revocation
//! that lands between a caller's authentication and its device's registration, one made on
//! another node whose message never arrives, and a session that simply expires. And a device
//! whose subscription fails half-way does not stay behind.

mod support;

use kanect_core::backend::{Session, SessionStore};
use kanect_core::testing::FaultyStore;
use kanect_core::{Chat, Event, MemoryStore, Registration, Store};
use std::sync::Arc;
use support::*;

#[tokio::test]
async fn a_log_out_between_authentication_and_subscription_leaves_no_device() {
    let chat = chat().await;
    chat.register(Registration::new("alice", "correct horse")).await.unwrap();
    let login = chat.login("alice", "correct horse").await.unwrap();
    let caller = chat.authenticate(login.token.as_str()).await.unwrap();
    // The log-out finds no device to end: the device does not exist yet.
    chat.logout(&caller).await.unwrap();
    let refused = chat.subscribe(&caller).await.map(drop);
    assert_eq!(code(refused), "invalid_session");
    assert_eq!(chat.connected_devices(), 0);
}

#[tokio::test]
async fn a_subscription_that_fails_half_way_leaves_no_device() {
    let store = FaultyStore::new(MemoryStore::new());
    let chat = Chat::builder(store.clone()).config(fast_config()).build().await.unwrap();
    let (_, alice) = user(&chat, "alice").await;
    store.fail("conversations_of");
    // More failures than the devices a user may hold: none of them may stay.
    for _ in 0..chat.config().max_devices_per_user + 1 {
        assert_eq!(code(chat.subscribe(&alice).await.map(drop)), "unavailable");
    }
    assert_eq!(chat.connected_devices(), 0);
    store.heal();
    chat.subscribe(&alice).await.unwrap();
}

#[tokio::test]
async fn a_recheck_ends_a_device_whose_session_ended_where_its_event_could_not_reach() {
    // Two nodes on one store, with no bus between them: a message between nodes lost.
    let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
    let here = Chat::builder_shared(store.clone()).config(fast_config()).build().await.unwrap();
    let there = Chat::builder_shared(store.clone()).config(fast_config()).build().await.unwrap();
    let (_, alice) = user(&here, "alice").await;
    let mut device = here.subscribe(&alice).await.unwrap();
    device.recheck().await.unwrap();
    assert!(drain(&mut device).is_empty(), "a valid session: nothing happens");

    there.logout(&alice).await.unwrap();
    assert!(drain(&mut device).is_empty(), "the log-out's event stayed on the other node");
    device.recheck().await.unwrap();
    assert_eq!(next_event(&mut device).await, Event::SessionEnded { reason: "logged_out".into() });
    assert!(device.next().await.is_none());
}

#[tokio::test]
async fn a_recheck_ends_a_device_whose_session_expired() {
    let (chat, store) = chat_and_store().await;
    let (alice_user, alice) = user(&chat, "alice").await;
    let mut device = chat.subscribe(&alice).await.unwrap();
    // The session as it will be once its time is up.
    let hash = alice.session().unwrap();
    let session = store.session(&hash).await.unwrap().unwrap();
    let expired = Session { expires_at: session.created_at, ..session };
    store.delete_session(&hash).await.unwrap();
    store.insert_session(&expired).await.unwrap();
    assert_eq!(expired.user, alice_user.id);

    device.recheck().await.unwrap();
    assert_eq!(next_event(&mut device).await, Event::SessionEnded { reason: "session_expired".into() });
}
