//! Notification settings and Web Push on the wire: the `notification_settings` frame's record,
//! the REST bodies that change it, and those of push subscriptions and the VAPID key.
//!
//! Request bodies refuse unknown fields, as every REST request body does, but for
//! [`NewPushSubscription`], which takes the browser's `PushSubscription.toJSON()` as it is
//! (with its `expirationTime`, which the server does not need).

use crate::ids::{ConversationId, Timestamp};
use serde::{Deserialize, Serialize};

/// How much of a conversation notifies its member.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NotificationLevel {
    /// Every message (the default).
    All,
    /// Only messages that mention the member.
    Mentions,
    /// Nothing.
    Muted,
}

/// One conversation whose setting is not the default.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct ConversationNotifications {
    /// Which.
    pub conversation: ConversationId,
    /// Its level.
    pub level: NotificationLevel,
    /// When a mute ends by itself (`null`: until changed); once past, the level is `all`.
    #[serde(default)]
    pub until: Option<Timestamp>,
}

/// The do-not-disturb, while set.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct DoNotDisturb {
    /// When it ends by itself (`null`: until turned off).
    #[serde(default)]
    pub until: Option<Timestamp>,
}

/// A user's notification settings: `GET /notifications`, the answer to every change, and the
/// `notification_settings` frame.
#[derive(Clone, PartialEq, Eq, Debug, Default, Serialize, Deserialize)]
pub struct NotificationSettings {
    /// The do-not-disturb, if set (it may have ended: compare `until` with the time).
    #[serde(default)]
    pub do_not_disturb: Option<DoNotDisturb>,
    /// The conversations not at `all`, by id.
    #[serde(default)]
    pub conversations: Vec<ConversationNotifications>,
}

/// `PUT /conversations/{id}/notifications`.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SetNotificationLevel {
    /// The level.
    pub level: NotificationLevel,
    /// For `muted` only: when the mute ends (ahead, within a year).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<Timestamp>,
}

/// `PUT /notifications/do-not-disturb`.
#[derive(Clone, Copy, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SetDoNotDisturb {
    /// On or off.
    pub on: bool,
    /// When on: when it ends (ahead, within a year); absent: until turned off.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until: Option<Timestamp>,
}

/// `GET /push/key`: the server's VAPID public key, for `pushManager.subscribe`'s
/// `applicationServerKey`.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct PushKey {
    /// The uncompressed P-256 point, base64url without padding.
    pub public_key: String,
}

/// A subscription's keys, as the browser gives them.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PushKeys {
    /// The browser's P-256 public key, base64url (65 bytes).
    pub p256dh: String,
    /// The authentication secret, base64url (16 bytes).
    pub auth: String,
}

/// `POST /push/subscriptions`: the browser's `PushSubscription.toJSON()`.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct NewPushSubscription {
    /// The push service's URL.
    pub endpoint: String,
    /// When the browser will drop it (ignored: a dropped one answers 404/410 and goes).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expiration_time: Option<u64>,
    /// Its keys.
    pub keys: PushKeys,
}

/// `DELETE /push/subscriptions`: which one.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PushEndpoint {
    /// The push service's URL, as subscribed.
    pub endpoint: String,
}
