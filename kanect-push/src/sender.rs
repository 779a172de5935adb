//! [`WebPush`]: the [`PushSender`] the engine hands notices to, made of the VAPID keys, the
//! payload encryption, the endpoint guard and the client.

use crate::client::{Answer, Client};
use crate::encryption::{decode_key, encrypt_new};
use crate::endpoint;
use crate::vapid::VapidKeys;
use async_trait::async_trait;
use hyper::StatusCode;
use kanect_core::backend::SecretStore;
use kanect_core::{PushNotice, PushOutcome, PushRefused, PushSender, PushSubscription, StoreError};
use std::time::Duration;

/// How [`WebPush`] behaves.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct WebPushConfig {
    /// Who runs the server, for push services to contact (`mailto:` or `https:`): the VAPID
    /// token's `sub`.
    pub subject: String,
    /// Allows endpoints over plain `http` and on private, loopback or link-local addresses.
    /// Off by default: only for a push service on the operator's own network, and for tests.
    pub allow_private_endpoints: bool,
    /// How long a push may take, connection included. Default 10 s.
    pub timeout: Duration,
    /// How long the push service keeps a push for a device that is offline (`TTL`). Default a
    /// day: a chat message older than that is better read in the app.
    pub ttl: Duration,
}

impl WebPushConfig {
    /// The defaults, with the operator's contact.
    pub fn new(subject: impl Into<String>) -> Self {
        WebPushConfig {
            subject: subject.into(),
            allow_private_endpoints: false,
            timeout: Duration::from_secs(10),
            ttl: Duration::from_secs(24 * 3600),
        }
    }

    /// Sets [`WebPushConfig::allow_private_endpoints`].
    pub fn allow_private_endpoints(mut self, allow: bool) -> Self {
        self.allow_private_endpoints = allow;
        self
    }
}

/// Web Push through the push services browsers name, signed with the store's VAPID key.
#[derive(Debug)]
pub struct WebPush {
    keys: VapidKeys,
    client: Client,
    config: WebPushConfig,
}

impl WebPush {
    /// Reads the VAPID key pair from `store`, making and storing it on the first start (every
    /// node sharing the store then uses the same one).
    ///
    /// # Errors
    /// The store's; [`StoreError::Corrupt`] if the stored key is not a P-256 private key.
    pub async fn start(store: &dyn SecretStore, config: WebPushConfig) -> Result<Self, StoreError> {
        let keys = VapidKeys::load_or_create(store).await?;
        Ok(WebPush { keys, client: Client::new(config.timeout), config })
    }
}

#[async_trait]
impl PushSender for WebPush {
    fn public_key(&self) -> String {
        self.keys.public_key().to_string()
    }

    async fn check(&self, endpoint: &str, p256dh: &str, auth: &str) -> Result<(), PushRefused> {
        decode_key(p256dh, auth)?;
        endpoint::check(endpoint, self.config.allow_private_endpoints).await.map(drop)
    }

    async fn send(&self, subscription: &PushSubscription, notice: &PushNotice) -> PushOutcome {
        let (ua_public, auth) = match decode_key(&subscription.p256dh, &subscription.auth) {
            Ok(keys) => keys,
            Err(_) => return PushOutcome::Gone,
        };
        // Checked again: the name may resolve elsewhere now.
        let target = match endpoint::check(&subscription.endpoint, self.config.allow_private_endpoints).await {
            Ok(target) => target,
            Err(_) => return PushOutcome::Failed("the endpoint is no longer allowed".into()),
        };
        let payload = match serde_json::to_vec(notice) {
            Ok(payload) => payload,
            Err(error) => return PushOutcome::Failed(format!("payload: {error}")),
        };
        let body = encrypt_new(&payload, &ua_public, &auth);
        let headers = [
            ("authorization", self.keys.authorization(&target.origin, &self.config.subject)),
            ("ttl", self.config.ttl.as_secs().to_string()),
            ("content-encoding", "aes128gcm".to_string()),
            ("content-type", "application/octet-stream".to_string()),
            ("urgency", "normal".to_string()),
        ];
        match self.client.post(&target, &headers, body).await {
            Answer::Status(status) if status.is_success() => PushOutcome::Sent,
            Answer::Status(StatusCode::NOT_FOUND | StatusCode::GONE) => PushOutcome::Gone,
            Answer::Status(status) => PushOutcome::Failed(format!("the push service answered {status}")),
            Answer::Failed(reason) => PushOutcome::Failed(reason),
        }
    }
}
