//! VAPID (RFC 8292): the server's P-256 key pair, which browsers bind each subscription to
//! (`applicationServerKey`), and the `Authorization` header that proves a push comes from it.
//!
//! The private key is made on the first start and kept as the store secret [`VAPID_SECRET`]
//! (its 32 bytes), written once ([`SecretStore::init_server_secret`]): every node of a
//! cluster reads the same key, and a restart keeps it, so subscriptions made through any node
//! stay valid. The header is `vapid t=<JWT>, k=<public key>`, the JWT signed with ES256 and
//! claiming `aud` (the endpoint's origin), `exp` (12 hours ahead, within the 24 hours the RFC
//! allows) and `sub` (the operator's contact).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use kanect_core::backend::SecretStore;
use kanect_core::StoreError;
use p256::ecdsa::signature::Signer;
use p256::ecdsa::{Signature, SigningKey};
use p256::elliptic_curve::sec1::ToSec1Point;
use p256::elliptic_curve::Generate;
use p256::SecretKey;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The name of the store secret that holds the VAPID private key.
pub const VAPID_SECRET: &str = "vapid_private_key";

/// How long a VAPID token is valid.
const TOKEN_LIFETIME: Duration = Duration::from_secs(12 * 3600);

/// The server's VAPID key pair.
#[derive(Clone)]
pub(crate) struct VapidKeys {
    signing: SigningKey,
    /// The public key as browsers take it: the uncompressed point, base64url.
    public: String,
}

impl std::fmt::Debug for VapidKeys {
    /// The public key only.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VapidKeys").field("public", &self.public).finish_non_exhaustive()
    }
}

impl VapidKeys {
    /// The store's key pair, made and stored first if there is none.
    ///
    /// # Errors
    /// The store's; [`StoreError::Corrupt`] if the stored secret is not a P-256 private key.
    pub(crate) async fn load_or_create(store: &dyn SecretStore) -> Result<Self, StoreError> {
        let bytes = match store.server_secret(VAPID_SECRET).await? {
            Some(bytes) => bytes,
            None => {
                let fresh = SecretKey::generate();
                store.init_server_secret(VAPID_SECRET, &fresh.to_bytes()).await?
            }
        };
        let secret = SecretKey::from_slice(&bytes)
            .map_err(|_| StoreError::Corrupt(format!("the secret {VAPID_SECRET} is not a P-256 private key")))?;
        Ok(Self::from_secret(&secret))
    }

    fn from_secret(secret: &SecretKey) -> Self {
        let public = URL_SAFE_NO_PAD.encode(secret.public_key().to_sec1_point(false).as_bytes());
        VapidKeys { signing: SigningKey::from(secret), public }
    }

    /// The public key, base64url (what `GET /api/v1/push/key` answers).
    pub(crate) fn public_key(&self) -> &str {
        &self.public
    }

    /// The `Authorization` header of a push to an endpoint of `origin`
    /// (`https://push.example.net`), signed now, naming `subject`.
    pub(crate) fn authorization(&self, origin: &str, subject: &str) -> String {
        let expires = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default() + TOKEN_LIFETIME;
        let header = URL_SAFE_NO_PAD.encode(br#"{"typ":"JWT","alg":"ES256"}"#);
        let claims = serde_json::json!({ "aud": origin, "exp": expires.as_secs(), "sub": subject });
        let claims = URL_SAFE_NO_PAD.encode(claims.to_string());
        let signed = format!("{header}.{claims}");
        let signature: Signature = self.signing.sign(signed.as_bytes());
        let signature = URL_SAFE_NO_PAD.encode(signature.to_bytes());
        format!("vapid t={signed}.{signature}, k={}", self.public)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kanect_core::MemoryStore;
    use p256::ecdsa::signature::Verifier;
    use p256::ecdsa::VerifyingKey;

    #[tokio::test]
    async fn the_key_is_made_once_and_signs_tokens_it_verifies() {
        let store = MemoryStore::new();
        let first = VapidKeys::load_or_create(&store).await.unwrap();
        let again = VapidKeys::load_or_create(&store).await.unwrap();
        assert_eq!(first.public_key(), again.public_key(), "kept in the store");
        assert_eq!(URL_SAFE_NO_PAD.decode(first.public_key()).unwrap().len(), 65);

        let header = first.authorization("https://push.example.net", "mailto:ops@example.com");
        let (token, key) = header.strip_prefix("vapid t=").unwrap().split_once(", k=").unwrap();
        assert_eq!(key, first.public_key());
        let (signed, signature) = token.rsplit_once('.').unwrap();
        let point = URL_SAFE_NO_PAD.decode(key).unwrap();
        let verifying = VerifyingKey::from_sec1_bytes(&point).unwrap();
        let signature = Signature::from_slice(&URL_SAFE_NO_PAD.decode(signature).unwrap()).unwrap();
        verifying.verify(signed.as_bytes(), &signature).unwrap();
        let claims = URL_SAFE_NO_PAD.decode(signed.split_once('.').unwrap().1).unwrap();
        let claims: serde_json::Value = serde_json::from_slice(&claims).unwrap();
        assert_eq!(claims["aud"], "https://push.example.net");
        assert_eq!(claims["sub"], "mailto:ops@example.com");
    }

    #[tokio::test]
    async fn a_stored_secret_that_is_no_key_is_refused() {
        let store = MemoryStore::new();
        store.init_server_secret(VAPID_SECRET, &[0; 32]).await.unwrap();
        assert!(matches!(VapidKeys::load_or_create(&store).await, Err(StoreError::Corrupt(_))));
    }
}
