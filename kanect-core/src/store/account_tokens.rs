//! [`AccountTokenStore`]: the single-use tokens mailed to users (e-mail verification,
//! password reset), by the hash of their token.

use super::StoreResult;
use crate::id::UserId;
use crate::model::{AccountToken, TokenHash, TokenPurpose};
use async_trait::async_trait;

/// Single-use account tokens. Only a token's hash is stored. Taking one is atomic: of two
/// concurrent takes of the same token (on one node or several), at most one gets it.
///
/// Expired tokens stay until taken or replaced: the engine checks expiry, and issuing a new
/// token of a purpose deletes the user's others of it, so each account keeps at most one per
/// purpose.
#[async_trait]
pub trait AccountTokenStore: Send + Sync {
    /// Adds a token.
    async fn insert_account_token(&self, token: &AccountToken) -> StoreResult<()>;

    /// Removes and returns the token with this hash if it is of `purpose` (expired or not);
    /// None, removing nothing, if there is none of that purpose.
    async fn take_account_token(
        &self,
        purpose: TokenPurpose,
        token_hash: &TokenHash,
    ) -> StoreResult<Option<AccountToken>>;

    /// Removes every token of `user` (of `purpose`, or of every purpose); returns how many.
    async fn delete_account_tokens_of(&self, user: UserId, purpose: Option<TokenPurpose>) -> StoreResult<u64>;

    /// A page of every token (expired ones included), ordered by the bytes of the token hash:
    /// at most `limit` tokens whose hash sorts strictly after `after`. For backups.
    async fn account_tokens(&self, after: Option<TokenHash>, limit: usize) -> StoreResult<Vec<AccountToken>>;
}
