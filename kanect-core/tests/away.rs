//! "Away": an online user none of whose devices has been in use for `away_after` shows as
//! away, to their contacts, on every node; a device that reports activity brings them back at
//! once on its node, and within a heartbeat on the others.

mod support;

use kanect_core::{Chat, ChatConfig, Event, Presence, Subscription, UserId};
use std::time::Duration;
use support::*;

fn config() -> ChatConfig {
    ChatConfig { away_after: Duration::from_millis(400), heartbeat: Duration::from_millis(50), ..fast_config() }
}

/// The next presence event of `user` on `device` within two seconds.
async fn next_presence(device: &mut Subscription, user: UserId) -> Presence {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(2);
    loop {
        let event = tokio::time::timeout_at(deadline, device.next()).await.expect("a presence event in time");
        if let Event::Presence(presence) = event.expect("stream ended").event() {
            if presence.user == user {
                return *presence;
            }
        }
    }
}

/// Waits until `chat` shows `user`'s away state as `away` (bounded).
async fn until_away(chat: &Chat, user: &kanect_core::User, away: bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(3);
    while chat.presence(user).away != away {
        assert!(tokio::time::Instant::now() < deadline, "never became away = {away}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn a_user_idle_on_every_device_is_away_and_activity_brings_them_back_at_once() {
    let chat = chat_with(config()).await;
    let (alice, as_alice) = user(&chat, "alice").await;
    let (_bob, as_bob) = user(&chat, "bob").await;
    chat.open_direct(&as_bob, alice.id).await.unwrap();
    let mut bobs = chat.subscribe(&as_bob).await.unwrap();
    let alices = chat.subscribe(&as_alice).await.unwrap();
    let online = next_presence(&mut bobs, alice.id).await;
    assert!(online.online && !online.away, "a device that just connected is in use");
    let started = tokio::time::Instant::now();

    let away = next_presence(&mut bobs, alice.id).await;
    assert!(away.online && away.away, "{away:?}");
    assert!(started.elapsed() >= Duration::from_millis(400), "not before away_after");
    assert!(chat.presence(&alice).away);
    assert!(chat.user(&as_bob, alice.id).await.unwrap().presence.away);

    alices.mark_active().await;
    let back = next_presence(&mut bobs, alice.id).await;
    assert!(back.online && !back.away, "{back:?}");

    // Offline is not away.
    drop(alices);
    let gone = next_presence(&mut bobs, alice.id).await;
    assert!(!gone.online && !gone.away, "{gone:?}");
}

#[tokio::test]
async fn one_device_in_use_keeps_the_user_present() {
    let chat = chat_with(config()).await;
    let (alice, as_alice) = user(&chat, "alice").await;
    let _idle_tab = chat.subscribe(&as_alice).await.unwrap();
    let phone = chat.subscribe(&as_alice).await.unwrap();
    for _ in 0..8 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        phone.mark_active().await;
    }
    assert!(!chat.presence(&alice).away, "the phone is in use");
    until_away(&chat, &alice, true).await;
}

#[tokio::test]
async fn away_travels_between_nodes_with_the_heartbeat() {
    let (a, b) = two_nodes(config()).await;
    let (alice, as_alice) = user(&a, "alice").await;
    let on_a = a.subscribe(&as_alice).await.unwrap();
    assert!(b.presence(&alice).online && !b.presence(&alice).away);
    until_away(&b, &alice, true).await;
    on_a.mark_active().await;
    until_away(&b, &alice, false).await;
    // Active on another node keeps her present on this one too.
    let (_, as_alice_b) = (alice.clone(), b.act_as(alice.id).await.unwrap());
    let on_b = b.subscribe(&as_alice_b).await.unwrap();
    for _ in 0..8 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        on_b.mark_active().await;
    }
    assert!(!a.presence(&alice).away, "in use on node b");
    drop(on_a);
}
