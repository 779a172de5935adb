//! [`PushSubscription`]: where a device's browser takes Web Push messages, as the engine keeps
//! it: one record per device (session) and push-service endpoint.
//!
//! The keys are kept as the browser hands them (base64url, unpadded), checked once when the
//! subscription is made (by the [`PushSender`](super::PushSender), which knows the
//! cryptography) and decoded again by it when it encrypts: the store never interprets them.

use crate::id::UserId;
use crate::model::{Timestamp, TokenHash};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// A device's Web Push subscription (the browser's `PushSubscription`, with whose it is).
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct PushSubscription {
    /// Whose device.
    pub user: UserId,
    /// The session of the device that subscribed: a subscription whose session has ended
    /// (logged out, revoked) is dropped instead of used, so a shared computer stops hearing
    /// of a user once they log out.
    pub session: TokenHash,
    /// The push service's URL for this browser (`https`, checked when it was made).
    pub endpoint: String,
    /// The browser's P-256 public key (65 bytes uncompressed, base64url).
    pub p256dh: String,
    /// The browser's authentication secret (16 bytes, base64url).
    pub auth: String,
    /// When it was made or last renewed.
    pub created_at: Timestamp,
}

impl PushSubscription {
    /// The SHA-256 of the endpoint: how stores key a subscription (an endpoint may be long).
    pub fn endpoint_hash(&self) -> [u8; 32] {
        endpoint_hash(&self.endpoint)
    }
}

/// The SHA-256 of an endpoint URL (see [`PushSubscription::endpoint_hash`]).
pub fn endpoint_hash(endpoint: &str) -> [u8; 32] {
    Sha256::digest(endpoint.as_bytes()).into()
}
