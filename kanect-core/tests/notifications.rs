//! Notification settings through the engine: levels and mutes per conversation, the
//! do-not-disturb, their refusals, and the settings reaching the user's other devices; push
//! subscriptions' limits and refusals (the pushes themselves are tested end to end, against a
//! push-service stand-in, in the workspace's `tests/http_push.rs`).

mod support;

use async_trait::async_trait;
use kanect_core::{
    Chat, Event, MemoryStore, NotificationLevel, PushNotice, PushOutcome, PushRefused, PushSender, PushSubscription,
    Timestamp, PUSH_ENDPOINT_MAX_BYTES, PUSH_SUBSCRIPTIONS_MAX, UNTIL_MAX,
};
use std::time::Duration;
use support::*;

#[tokio::test]
async fn levels_and_mutes_are_kept_and_reach_every_device() {
    let chat = chat().await;
    let (_alice, alice) = user(&chat, "alice").await;
    let (bob_user, _bob) = user(&chat, "bob").await;
    let (_carol, carol) = user(&chat, "carol").await;
    let direct = chat.open_direct(&alice, bob_user.id).await.unwrap();
    let mut other_device = chat.subscribe(&alice).await.unwrap();

    assert_eq!(chat.notification_settings(&alice).await.unwrap(), Default::default());
    let until = Timestamp::now().plus(Duration::from_secs(3600));
    let settings = chat.set_notification_level(&alice, direct.id, NotificationLevel::Muted, Some(until)).await.unwrap();
    assert_eq!(settings.conversations[&direct.id].until, Some(until));
    assert_eq!(next_event(&mut other_device).await, Event::NotificationSettings { settings: settings.clone() });
    assert_eq!(chat.notification_settings(&alice).await.unwrap(), settings);

    let settings = chat.set_notification_level(&alice, direct.id, NotificationLevel::Mentions, None).await.unwrap();
    assert_eq!(settings.level_at(direct.id, Timestamp::now()), NotificationLevel::Mentions);
    let settings = chat.set_notification_level(&alice, direct.id, NotificationLevel::All, None).await.unwrap();
    assert!(settings.conversations.is_empty(), "the default is not stored");

    // Not a member: the conversation does not exist for carol.
    let error = chat.set_notification_level(&carol, direct.id, NotificationLevel::Muted, None).await.unwrap_err();
    assert_eq!(error.code(), "conversation_not_found");
}

#[tokio::test]
async fn an_until_must_be_ahead_within_a_year_and_only_with_a_mute_or_do_not_disturb() {
    let chat = chat().await;
    let (_alice, alice) = user(&chat, "alice").await;
    let (bob, _) = user(&chat, "bob").await;
    let direct = chat.open_direct(&alice, bob.id).await.unwrap();
    let now = Timestamp::now();
    let level = |level, until| chat.set_notification_level(&alice, direct.id, level, until);
    assert_eq!(
        level(NotificationLevel::Mentions, Some(now.plus(Duration::from_secs(60)))).await.unwrap_err().code(),
        "malformed"
    );
    assert_eq!(level(NotificationLevel::Muted, Some(now)).await.unwrap_err().code(), "out_of_range");
    // At the limit (less the test's own run time) and past it.
    let limit = now.plus(UNTIL_MAX);
    assert!(level(NotificationLevel::Muted, Some(limit.minus(Duration::from_secs(5)))).await.is_ok());
    let past = level(NotificationLevel::Muted, Some(limit.plus(Duration::from_secs(5)))).await.unwrap_err();
    assert_eq!((past.code(), past.is_invalid()), ("out_of_range", true));

    let settings = chat.set_do_not_disturb(&alice, true, None).await.unwrap();
    assert!(settings.do_not_disturb_at(Timestamp::now()));
    let until = now.plus(Duration::from_secs(600));
    let settings = chat.set_do_not_disturb(&alice, true, Some(until)).await.unwrap();
    assert_eq!(settings.do_not_disturb.unwrap().until, Some(until));
    assert_eq!(chat.set_do_not_disturb(&alice, false, Some(until)).await.unwrap_err().code(), "malformed");
    assert_eq!(chat.set_do_not_disturb(&alice, true, Some(now)).await.unwrap_err().code(), "out_of_range");
    let settings = chat.set_do_not_disturb(&alice, false, None).await.unwrap();
    assert_eq!(settings.do_not_disturb, None);
}

/// Takes every subscription whose endpoint starts with `https://`, sends nothing.
#[derive(Debug)]
struct Accepting;

#[async_trait]
impl PushSender for Accepting {
    fn public_key(&self) -> String {
        "BKey".into()
    }

    async fn check(&self, endpoint: &str, p256dh: &str, _auth: &str) -> Result<(), PushRefused> {
        match (endpoint.starts_with("https://"), p256dh == "bad") {
            (false, _) => Err(PushRefused::Endpoint),
            (_, true) => Err(PushRefused::Keys),
            _ => Ok(()),
        }
    }

    async fn send(&self, _subscription: &PushSubscription, _notice: &PushNotice) -> PushOutcome {
        PushOutcome::Sent
    }
}

#[tokio::test]
async fn subscriptions_are_refused_with_stable_codes_and_capped_per_account() {
    let disabled = chat().await;
    let (_, somebody) = user(&disabled, "somebody").await;
    assert_eq!(disabled.push_public_key().unwrap_err().code(), "push_disabled");
    let refused = disabled.subscribe_push(&somebody, "https://push.example/1", "k", "a").await.unwrap_err();
    assert_eq!(refused.code(), "push_disabled");

    let store = std::sync::Arc::new(MemoryStore::new());
    let chat = Chat::builder_shared(store.clone()).config(fast_config()).push(Accepting).build().await.unwrap();
    let (alice_user, alice) = user(&chat, "alice").await;
    assert_eq!(chat.push_public_key().unwrap(), "BKey");
    let subscribe = |endpoint: String, key: &'static str| {
        let (chat, alice) = (chat.clone(), alice.clone());
        async move { chat.subscribe_push(&alice, &endpoint, key, "auth").await }
    };
    assert_eq!(subscribe("http://push.example/1".into(), "k").await.unwrap_err().code(), "bad_push_endpoint");
    assert_eq!(subscribe("https://push.example/1".into(), "bad").await.unwrap_err().code(), "bad_push_keys");
    // The endpoint's length at the limit, and past it.
    let long = |bytes: usize| format!("https://push.example/{}", "a".repeat(bytes - "https://push.example/".len()));
    subscribe(long(PUSH_ENDPOINT_MAX_BYTES), "k").await.unwrap();
    assert_eq!(subscribe(long(PUSH_ENDPOINT_MAX_BYTES + 1), "k").await.unwrap_err().code(), "too_long");
    let no_session = chat.act_as(alice_user.id).await.unwrap();
    let error = chat.subscribe_push(&no_session, "https://push.example/x", "k", "auth").await.unwrap_err();
    assert_eq!(error.code(), "invalid_session");

    // The cap: at it, all are kept; one more, and the oldest goes.
    use kanect_core::backend::NotificationStore;
    for n in 1..PUSH_SUBSCRIPTIONS_MAX {
        tokio::time::sleep(Duration::from_millis(2)).await;
        subscribe(format!("https://push.example/{n}"), "k").await.unwrap();
    }
    let kept = store.push_subscriptions_of(alice_user.id).await.unwrap();
    assert_eq!(kept.len(), PUSH_SUBSCRIPTIONS_MAX);
    tokio::time::sleep(Duration::from_millis(2)).await;
    subscribe("https://push.example/newest".into(), "k").await.unwrap();
    let kept = store.push_subscriptions_of(alice_user.id).await.unwrap();
    assert_eq!(kept.len(), PUSH_SUBSCRIPTIONS_MAX);
    assert!(kept.iter().all(|s| s.endpoint != long(PUSH_ENDPOINT_MAX_BYTES)), "the oldest went");
    assert!(chat.unsubscribe_push(&alice, "https://push.example/newest").await.unwrap());
    assert!(!chat.unsubscribe_push(&alice, "https://push.example/newest").await.unwrap());
}
