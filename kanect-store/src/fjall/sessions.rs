//! [`SessionStore`] for [`FjallStore`]: sessions by token hash (`0x04` keys), indexed by user
//! (`0x05`).
//!
//! Writes run under the `accounts` mutex that user writes take too (see `users`), and each is
//! one batch, so a session and its index entry never part.

use super::format::{decode, encode};
use super::{FjallStore, Inner};
use crate::kv::keys;
use fjall::OwnedWriteBatch;
use kanect_core::backend::{Session, SessionStore, StoreResult};
use kanect_core::{StoreError, Timestamp, TokenHash, UserId};

impl Inner {
    fn insert_session_now(&self, session: &Session) -> StoreResult<()> {
        let mut batch = self.batch();
        batch.insert(&self.data, keys::session(&session.token_hash), encode(session)?);
        batch.insert(&self.data, keys::user_session(session.user, &session.token_hash), []);
        let _accounts = self.accounts();
        self.commit(batch)
    }

    fn delete_session_now(&self, token_hash: &TokenHash) -> StoreResult<bool> {
        let key = keys::session(token_hash);
        let _accounts = self.accounts();
        let Some(bytes) = self.get_raw(&key)? else { return Ok(false) };
        let session: Session = decode("session", &key, &bytes)?;
        let mut batch = self.batch();
        batch.remove(&self.data, key);
        batch.remove(&self.data, keys::user_session(session.user, token_hash));
        self.commit(batch)?;
        Ok(true)
    }

    /// Every session of `user`, through the user index.
    fn sessions_of_now(&self, user: UserId) -> StoreResult<Vec<Session>> {
        let prefix = keys::user_sessions(user);
        let mut sessions = Vec::new();
        for key in self.keys_with(&prefix) {
            let hash = session_hash(&prefix, &key?)?;
            if let Some(session) = self.get("session", &keys::session(&hash))? {
                sessions.push(session);
            }
        }
        Ok(sessions)
    }

    /// Records a use, under the accounts mutex so that a delete in between is seen (and a
    /// deleted session is not written back).
    fn touch_session_now(&self, token_hash: &TokenHash, at: Timestamp, user_agent: Option<&str>) -> StoreResult<bool> {
        let key = keys::session(token_hash);
        let _accounts = self.accounts();
        let Some(mut session) = self.get::<Session>("session", &key)? else { return Ok(false) };
        session.last_used = Some(at);
        if let Some(agent) = user_agent {
            session.user_agent = Some(agent.to_owned());
        }
        let mut batch = self.batch();
        batch.insert(&self.data, key, encode(&session)?);
        self.commit(batch)?;
        Ok(true)
    }

    fn delete_sessions_of_now(&self, user: UserId) -> StoreResult<u64> {
        let mut batch = self.batch();
        let _accounts = self.accounts();
        let count = self.remove_sessions_of(user, &mut batch)?;
        if count > 0 {
            self.commit(batch)?;
        }
        Ok(count)
    }

    /// Adds the removal of every session of `user` (and its index entry) to `batch`.
    pub(super) fn remove_sessions_of(&self, user: UserId, batch: &mut OwnedWriteBatch) -> StoreResult<u64> {
        let prefix = keys::user_sessions(user);
        let mut count = 0;
        for key in self.keys_with(&prefix) {
            let key = key?;
            let hash = session_hash(&prefix, &key)?;
            batch.remove(&self.data, keys::session(&hash));
            batch.remove(&self.data, key);
            count += 1;
        }
        Ok(count)
    }

    /// A page of every session, ordered by token hash bytes, after `after`, at most `limit`.
    fn sessions_page_now(&self, after: Option<TokenHash>, limit: usize) -> StoreResult<Vec<Session>> {
        let prefix = keys::all_sessions();
        let start = after.map_or_else(|| prefix.clone(), |after| keys::session(&after));
        self.entries_after(&prefix, start)
            .take(limit)
            .map(|entry| {
                let (key, value) = entry?;
                decode("session", &key, &value)
            })
            .collect()
    }
}

/// The token hash a user index key (under `prefix`) names.
fn session_hash(prefix: &[u8], key: &[u8]) -> StoreResult<TokenHash> {
    key.get(prefix.len()..)
        .and_then(|hash| <[u8; 32]>::try_from(hash).ok())
        .map(TokenHash)
        .ok_or_else(|| StoreError::Corrupt(format!("session index key of {} bytes", key.len())))
}

#[async_trait::async_trait]
impl SessionStore for FjallStore {
    async fn insert_session(&self, session: &Session) -> StoreResult<()> {
        let session = session.clone();
        self.write(move |inner| inner.insert_session_now(&session).map(|()| ((), true))).await
    }

    async fn session(&self, token_hash: &TokenHash) -> StoreResult<Option<Session>> {
        self.with(|inner| inner.get("session", &keys::session(token_hash)))
    }

    async fn delete_session(&self, token_hash: &TokenHash) -> StoreResult<bool> {
        let token_hash = *token_hash;
        self.write(move |inner| inner.delete_session_now(&token_hash).map(|deleted| (deleted, deleted))).await
    }

    async fn sessions_of(&self, user: UserId) -> StoreResult<Vec<Session>> {
        self.with(|inner| inner.sessions_of_now(user))
    }

    async fn touch_session(
        &self,
        token_hash: &TokenHash,
        at: Timestamp,
        user_agent: Option<&str>,
    ) -> StoreResult<bool> {
        let (token_hash, user_agent) = (*token_hash, user_agent.map(str::to_owned));
        self.write(move |inner| {
            inner.touch_session_now(&token_hash, at, user_agent.as_deref()).map(|touched| (touched, touched))
        })
        .await
    }

    async fn delete_sessions_of(&self, user: UserId) -> StoreResult<u64> {
        self.write(move |inner| inner.delete_sessions_of_now(user).map(|count| (count, count > 0))).await
    }

    async fn sessions(&self, after: Option<TokenHash>, limit: usize) -> StoreResult<Vec<Session>> {
        self.with(|inner| inner.sessions_page_now(after, limit))
    }
}
