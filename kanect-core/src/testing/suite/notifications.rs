//! Conformance cases of [`NotificationStore`](crate::backend::NotificationStore).

use crate::id::{ConversationId, UserId};
use crate::model::{Timestamp, TokenHash};
use crate::notifications::{
    ConversationNotifications, DoNotDisturb, NotificationLevel, NotificationSettings, PushSubscription,
};
use crate::store::Store;
use std::sync::Arc;

fn subscription(user: UserId, endpoint: &str) -> PushSubscription {
    PushSubscription {
        user,
        session: TokenHash([7; 32]),
        endpoint: endpoint.to_string(),
        p256dh: "BKey".into(),
        auth: "secret".into(),
        created_at: Timestamp(1_700_000_000_000),
    }
}

/// Settings are none until put, then read back as put, per user, replaced whole.
pub async fn notification_settings_round_trip<S: Store>(store: Arc<S>) {
    let (alice, bob) = (UserId::new(), UserId::new());
    assert_eq!(store.notification_settings(alice).await.unwrap(), None);
    let mut settings =
        NotificationSettings { do_not_disturb: Some(DoNotDisturb { until: None }), ..Default::default() };
    let muted =
        ConversationNotifications { level: NotificationLevel::Muted, until: Some(Timestamp(1_800_000_000_000)) };
    settings.conversations.insert(ConversationId::new(), muted);
    let mentions = ConversationNotifications { level: NotificationLevel::Mentions, until: None };
    settings.conversations.insert(ConversationId::new(), mentions);
    store.put_notification_settings(alice, &settings).await.unwrap();
    assert_eq!(store.notification_settings(alice).await.unwrap(), Some(settings));
    assert_eq!(store.notification_settings(bob).await.unwrap(), None, "per user");
    store.put_notification_settings(alice, &NotificationSettings::default()).await.unwrap();
    assert_eq!(store.notification_settings(alice).await.unwrap(), Some(NotificationSettings::default()));
}

/// Subscriptions are per user and endpoint: a second insert of one replaces it, a deletion
/// removes only it, and deleting a user's notifications removes theirs and their settings only.
pub async fn push_subscriptions_are_per_user_and_endpoint<S: Store>(store: Arc<S>) {
    let (alice, bob) = (UserId::new(), UserId::new());
    let first = subscription(alice, "https://push.example/a");
    let second = subscription(alice, "https://push.example/b");
    let bobs = subscription(bob, "https://push.example/a");
    for record in [&first, &second, &bobs] {
        store.insert_push_subscription(record).await.unwrap();
    }
    let renewed = PushSubscription { auth: "renewed".into(), ..first.clone() };
    store.insert_push_subscription(&renewed).await.unwrap();
    let mut expected = vec![renewed.clone(), second.clone()];
    expected.sort_by_key(PushSubscription::endpoint_hash);
    assert_eq!(store.push_subscriptions_of(alice).await.unwrap(), expected);
    assert_eq!(store.push_subscriptions_of(bob).await.unwrap(), vec![bobs.clone()]);

    assert!(store.delete_push_subscription(alice, &second.endpoint).await.unwrap());
    assert!(!store.delete_push_subscription(alice, &second.endpoint).await.unwrap());
    assert!(!store.delete_push_subscription(alice, "https://push.example/none").await.unwrap());
    assert_eq!(store.push_subscriptions_of(alice).await.unwrap(), vec![renewed]);

    store.put_notification_settings(alice, &NotificationSettings::default()).await.unwrap();
    store.put_notification_settings(bob, &NotificationSettings::default()).await.unwrap();
    store.delete_notifications_of(alice).await.unwrap();
    assert_eq!(store.push_subscriptions_of(alice).await.unwrap(), Vec::new());
    assert_eq!(store.notification_settings(alice).await.unwrap(), None);
    assert_eq!(store.push_subscriptions_of(bob).await.unwrap(), vec![bobs], "another user's stay");
    assert!(store.notification_settings(bob).await.unwrap().is_some());
}
