//! [`SessionStore`] for [`FjallStore`]: the shared record space (`kv::sessions`), each write
//! a job on the writer thread, acknowledged after its group sync.

use super::FjallStore;
use crate::kv::sessions;
use kanect_core::backend::{Session, SessionStore, StoreResult};
use kanect_core::{Timestamp, TokenHash, UserId};

#[async_trait::async_trait]
impl SessionStore for FjallStore {
    async fn insert_session(&self, session: &Session) -> StoreResult<()> {
        let session = session.clone();
        self.write(move |inner| sessions::insert(inner, &session).map(|()| ((), true))).await
    }

    async fn session(&self, token_hash: &TokenHash) -> StoreResult<Option<Session>> {
        self.with(|inner| sessions::get(inner, token_hash))
    }

    async fn delete_session(&self, token_hash: &TokenHash) -> StoreResult<bool> {
        let token_hash = *token_hash;
        self.write(move |inner| sessions::delete(inner, &token_hash).map(|deleted| (deleted, deleted))).await
    }

    async fn sessions_of(&self, user: UserId) -> StoreResult<Vec<Session>> {
        self.with(|inner| sessions::of_user(inner, user))
    }

    async fn touch_session(
        &self,
        token_hash: &TokenHash,
        at: Timestamp,
        user_agent: Option<&str>,
    ) -> StoreResult<bool> {
        let (token_hash, user_agent) = (*token_hash, user_agent.map(str::to_owned));
        self.write(move |inner| {
            sessions::touch(inner, &token_hash, at, user_agent.as_deref()).map(|touched| (touched, touched))
        })
        .await
    }

    async fn delete_sessions_of(&self, user: UserId) -> StoreResult<u64> {
        self.write(move |inner| sessions::delete_of(inner, user).map(|count| (count, count > 0))).await
    }

    async fn sessions(&self, after: Option<TokenHash>, limit: usize) -> StoreResult<Vec<Session>> {
        self.with(|inner| sessions::page(inner, after, limit))
    }
}
