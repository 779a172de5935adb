//! [`SessionStore`]: log-in sessions, by the hash of their token.

use super::StoreResult;
use crate::id::UserId;
use crate::model::{Session, Timestamp, TokenHash};
use async_trait::async_trait;

/// Log-in sessions. Only a token's hash is ever stored ([`TokenHash`]); a user's sessions go
/// with the user ([`UserStore::delete_user`](super::UserStore::delete_user)).
#[async_trait]
pub trait SessionStore: Send + Sync {
    /// Adds a session.
    async fn insert_session(&self, session: &Session) -> StoreResult<()>;

    /// A session by token hash (expired ones included: the engine checks expiry).
    async fn session(&self, token_hash: &TokenHash) -> StoreResult<Option<Session>>;

    /// Removes one session. Returns false if absent.
    async fn delete_session(&self, token_hash: &TokenHash) -> StoreResult<bool>;

    /// Every session of a user (expired ones included), in no particular order: for the user's
    /// own list of their devices, which is short.
    async fn sessions_of(&self, user: UserId) -> StoreResult<Vec<Session>>;

    /// Records a use of a session: sets its `last_used` to `at` and, if `user_agent` is given,
    /// its `user_agent`, leaving its other fields as they are. Returns false if there is no
    /// such session (it ended meanwhile: nothing is written).
    async fn touch_session(&self, token_hash: &TokenHash, at: Timestamp, user_agent: Option<&str>)
        -> StoreResult<bool>;

    /// Removes every session of a user; returns how many there were.
    async fn delete_sessions_of(&self, user: UserId) -> StoreResult<u64>;

    /// A page of every session (expired ones included), ordered by the bytes of the token
    /// hash: at most `limit` sessions whose hash sorts strictly after `after`. For backups,
    /// which must page through them all with flat memory.
    async fn sessions(&self, after: Option<TokenHash>, limit: usize) -> StoreResult<Vec<Session>>;
}
