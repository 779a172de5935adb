//! Credentials: argon2id password hashing and session tokens (log-in throttling is in
//! `throttle`).
//!
//! Hashing is deliberately slow, so it runs on tokio's blocking pool behind a semaphore: at
//! most `hash_concurrency` hashes at once, and the async worker threads never stall on one.
//! An unknown username is verified against a dummy hash, so it costs the same time as a wrong
//! password and a caller cannot probe which usernames exist.

use crate::error::{Error, Result, StoreError};
use crate::model::TokenHash;
use argon2::password_hash::phc::PasswordHash;
use argon2::password_hash::{PasswordHasher as _, PasswordVerifier as _};
use argon2::{Algorithm, Argon2, Params, Version};
use sha2::{Digest, Sha256};
use std::sync::Arc;
use tokio::sync::Semaphore;

/// Argon2id cost parameters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PasswordCost {
    /// Memory in KiB.
    pub memory_kib: u32,
    /// Passes over memory.
    pub iterations: u32,
}

impl PasswordCost {
    /// OWASP's recommended argon2id minimum: 19 MiB, 2 passes (~20–40 ms on this class of
    /// machine). The default.
    pub const RECOMMENDED: PasswordCost = PasswordCost { memory_kib: 19 * 1024, iterations: 2 };
    /// Tiny and insecure: for tests and benchmarks that create thousands of users.
    pub const INSECURE_FAST: PasswordCost = PasswordCost { memory_kib: 64, iterations: 1 };
}

impl Default for PasswordCost {
    fn default() -> Self {
        Self::RECOMMENDED
    }
}

/// A session token as handed to a client: 256 random bits, hex-encoded. Only its hash is
/// stored. `Debug` does not print it.
#[derive(Clone, PartialEq, Eq)]
pub struct SessionToken(String);

impl SessionToken {
    pub(crate) fn generate() -> Self {
        SessionToken(random_token())
    }

    /// The token text, to hand to the client.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The hash stores keep.
    pub fn hash(&self) -> TokenHash {
        hash_token(&self.0)
    }
}

impl std::fmt::Debug for SessionToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SessionToken(..)")
    }
}

/// 256 random bits, hex-encoded (64 lower-case digits): a session's or an invite's token.
pub(crate) fn random_token() -> String {
    let mut bytes = [0u8; 32];
    rand::fill(&mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The hash of any presented token text.
pub(crate) fn hash_token(token: &str) -> TokenHash {
    TokenHash(Sha256::digest(token.as_bytes()).into())
}

/// Hashes and verifies passwords off the async threads, a bounded number at a time.
pub(crate) struct PasswordHasher {
    argon: Argon2<'static>,
    permits: Arc<Semaphore>,
    /// Verified against when the username is unknown, to equalise timing.
    dummy_hash: String,
}

impl PasswordHasher {
    pub(crate) fn new(cost: PasswordCost, concurrency: usize) -> Self {
        let params = Params::new(cost.memory_kib.max(8), cost.iterations.max(1), 1, None).unwrap_or_default();
        let argon = Argon2::new(Algorithm::Argon2id, Version::V0x13, params);
        // argon2 draws each hash's salt from the operating system's generator.
        let dummy_hash = argon.hash_password(b"kanect-dummy-password").map(|h| h.to_string()).unwrap_or_default();
        PasswordHasher { argon, permits: Arc::new(Semaphore::new(concurrency.max(1))), dummy_hash }
    }

    /// The PHC string of a new hash of `password`.
    pub(crate) async fn hash(&self, password: String) -> Result<String> {
        let argon = self.argon.clone();
        self.blocking(move || argon.hash_password(password.as_bytes()).map(|h| h.to_string()).map_err(backend)).await
    }

    /// Whether `password` matches `hash`; with no hash (unknown user), checks against the
    /// dummy and returns false, in the same time.
    pub(crate) async fn verify(&self, password: String, hash: Option<String>) -> Result<bool> {
        let argon = self.argon.clone();
        let known = hash.is_some();
        let hash = hash.unwrap_or_else(|| self.dummy_hash.clone());
        self.blocking(move || {
            let parsed = PasswordHash::new(&hash).map_err(backend)?;
            Ok(argon.verify_password(password.as_bytes(), &parsed).is_ok() && known)
        })
        .await
    }

    async fn blocking<T: Send + 'static>(&self, work: impl FnOnce() -> Result<T> + Send + 'static) -> Result<T> {
        let _permit = self.permits.acquire().await.map_err(backend)?;
        tokio::task::spawn_blocking(work).await.map_err(backend)?
    }
}

fn backend(error: impl std::fmt::Display) -> Error {
    Error::Unavailable(StoreError::Backend(error.to_string().into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hash_verify_and_unknown_user() {
        let hasher = PasswordHasher::new(PasswordCost::INSECURE_FAST, 2);
        let hash = hasher.hash("correct horse".into()).await.unwrap();
        assert!(hash.starts_with("$argon2id$"));
        assert!(hasher.verify("correct horse".into(), Some(hash.clone())).await.unwrap());
        assert!(!hasher.verify("wrong horse".into(), Some(hash)).await.unwrap());
        assert!(!hasher.verify("kanect-dummy-password".into(), None).await.unwrap());
    }

    #[test]
    fn tokens_are_random_and_hashed() {
        let (a, b) = (SessionToken::generate(), SessionToken::generate());
        assert_ne!(a, b);
        assert_eq!(a.as_str().len(), 64);
        assert_eq!(a.hash(), hash_token(a.as_str()));
        assert!(!format!("{a:?}").contains(a.as_str()));
    }
}
