//! Notifications: what each user chose to hear about, the one rule that decides whether a
//! message notifies them, and Web Push.
//!
//! - `settings` — [`NotificationSettings`] (levels per conversation, mutes with an expiry, a
//!   do-not-disturb) and [`should_notify`], the rule every notifier applies;
//! - `api` — the engine's operations on them ([`Chat::set_notification_level`](crate::Chat::set_notification_level), ...),
//!   which reach the user's other devices as [`Event::NotificationSettings`](crate::Event::NotificationSettings);
//! - `subscription` — [`PushSubscription`], a device's Web Push subscription;
//! - `push` — the [`PushSender`] trait and whom the engine pushes what (not while they read);
//! - `push_queue` — the messages waiting for their push, and who this node knows to have no
//!   subscription (so that most messages cost push nothing).

mod api;
mod push;
mod push_queue;
mod settings;
mod subscription;

pub use api::UNTIL_MAX;
pub use push::{
    PushNotice, PushOutcome, PushRefused, PushSender, PUSH_ENDPOINT_MAX_BYTES, PUSH_PREVIEW_CHARS,
    PUSH_SUBSCRIPTIONS_MAX,
};
pub(crate) use push_queue::{push_when_due, PushQueue};
pub use settings::{
    should_notify, Channel, ConversationNotifications, DoNotDisturb, NotificationLevel, NotificationSettings,
};
pub use subscription::{endpoint_hash, PushSubscription};
