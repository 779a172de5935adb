//! [`AccountTokenStore`]: the single-use tokens mailed to users (e-mail verification,
//! password reset), by the hash of their token.

use super::StoreResult;
use crate::id::UserId;
use crate::model::{AccountToken, TokenHash, TokenPurpose};
use async_trait::async_trait;

/// Single-use account tokens. Only a token's hash is stored. Taking one is atomic: of two
/// concurrent takes of the same token (on one node or several), at most one gets it.
///
/// A user has at most one token of each purpose, the newest: storing one replaces the user's
/// other of its purpose in the same atomic write, so of two racing password-reset requests
/// (on one node or several) exactly one link works. Expired tokens stay until taken or
/// replaced: the engine checks expiry.
#[async_trait]
pub trait AccountTokenStore: Send + Sync {
    /// Stores `token` as its user's one token of its purpose: atomically, the user's other
    /// tokens of that purpose are removed and this one added, unless one of them is newer (a
    /// later [`AccountToken::created_at`]; of equal ones, the last stored wins), in which case
    /// nothing changes. Returns whether it was stored. The same rule serves a new token, one
    /// given back after a refused use, and a backup's, so the newest link always wins.
    async fn put_account_token(&self, token: &AccountToken) -> StoreResult<bool>;

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
