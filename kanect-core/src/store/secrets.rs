//! [`SecretStore`]: secrets the server makes once and every node shares, such as the Web Push
//! (VAPID) key pair.

use super::StoreResult;
use async_trait::async_trait;

/// Server secrets by name: written once, never changed (a changed VAPID key would orphan
/// every push subscription made with the old one).
///
/// [`SecretStore::init_server_secret`] is atomic across nodes: of two nodes starting at once
/// with no secret yet, both get the one that was stored first.
#[async_trait]
pub trait SecretStore: Send + Sync {
    /// The secret named `name`, if there is one.
    async fn server_secret(&self, name: &str) -> StoreResult<Option<Vec<u8>>>;

    /// Stores `value` as the secret `name` unless there is one already, and returns the secret
    /// as stored (`value`, or the one there was). Durable when it returns.
    async fn init_server_secret(&self, name: &str, value: &[u8]) -> StoreResult<Vec<u8>>;

    /// Every secret, by name: for backups.
    async fn server_secrets(&self) -> StoreResult<Vec<(String, Vec<u8>)>>;
}
