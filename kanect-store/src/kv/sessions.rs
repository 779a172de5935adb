//! Sessions for both embedded engines: by token hash (`0x04` keys), indexed by user (`0x05`).
//!
//! Writes run under the `accounts` lock that user writes take too (see each engine's `users`),
//! and each is one batch, so a session and its index entry never part, and a user's deletion
//! takes every session of theirs along.

use super::engine::Engine;
use super::keys;
use super::records::encode;
use kanect_core::backend::{Session, StoreResult};
use kanect_core::{StoreError, Timestamp, TokenHash, UserId};

/// Adds a session and its index entry.
pub(crate) fn insert<E: Engine>(engine: &E, session: &Session) -> StoreResult<()> {
    let mut batch = engine.batch();
    engine.put(&mut batch, keys::session(&session.token_hash), encode(session)?);
    engine.put(&mut batch, keys::user_session(session.user, &session.token_hash), Vec::new());
    let _accounts = engine.accounts();
    engine.commit(batch)
}

/// The session with this hash.
pub(crate) fn get<E: Engine>(engine: &E, token_hash: &TokenHash) -> StoreResult<Option<Session>> {
    engine.get("session", &keys::session(token_hash))
}

/// Removes a session and its index entry; false if there was none.
pub(crate) fn delete<E: Engine>(engine: &E, token_hash: &TokenHash) -> StoreResult<bool> {
    let key = keys::session(token_hash);
    let _accounts = engine.accounts();
    let Some(session) = engine.get::<Session>("session", &key)? else { return Ok(false) };
    let mut batch = engine.batch();
    engine.remove(&mut batch, key);
    engine.remove(&mut batch, keys::user_session(session.user, token_hash));
    engine.commit(batch)?;
    Ok(true)
}

/// Every session of `user`, through the user index.
pub(crate) fn of_user<E: Engine>(engine: &E, user: UserId) -> StoreResult<Vec<Session>> {
    let prefix = keys::user_sessions(user);
    let mut sessions = Vec::new();
    for key in engine.keys_with(&prefix) {
        let hash = session_hash(&prefix, key?.as_ref())?;
        if let Some(session) = get(engine, &hash)? {
            sessions.push(session);
        }
    }
    Ok(sessions)
}

/// Records a use, under the accounts lock so that a delete in between is seen (and a deleted
/// session is not written back).
pub(crate) fn touch<E: Engine>(
    engine: &E,
    token_hash: &TokenHash,
    at: Timestamp,
    user_agent: Option<&str>,
) -> StoreResult<bool> {
    let key = keys::session(token_hash);
    let _accounts = engine.accounts();
    let Some(mut session) = engine.get::<Session>("session", &key)? else { return Ok(false) };
    session.last_used = Some(at);
    if let Some(agent) = user_agent {
        session.user_agent = Some(agent.to_owned());
    }
    let mut batch = engine.batch();
    engine.put(&mut batch, key, encode(&session)?);
    engine.commit(batch)?;
    Ok(true)
}

/// Removes every session of `user`; returns how many.
pub(crate) fn delete_of<E: Engine>(engine: &E, user: UserId) -> StoreResult<u64> {
    let mut batch = engine.batch();
    let _accounts = engine.accounts();
    let count = remove_of(engine, user, &mut batch)?;
    if count > 0 {
        engine.commit(batch)?;
    }
    Ok(count)
}

/// A page of every session, in token hash order: at most `limit` after `after`.
pub(crate) fn page<E: Engine>(engine: &E, after: Option<TokenHash>, limit: usize) -> StoreResult<Vec<Session>> {
    engine.page("session", keys::all_sessions(), after.map(|hash| keys::session(&hash)), limit)
}

/// Adds the removal of every session of `user` (and its index entry) to `batch`; returns how
/// many. Called under the accounts lock.
pub(crate) fn remove_of<E: Engine>(engine: &E, user: UserId, batch: &mut E::Batch) -> StoreResult<u64> {
    let prefix = keys::user_sessions(user);
    let mut count = 0;
    for key in engine.keys_with(&prefix) {
        let key = key?.as_ref().to_vec();
        let hash = session_hash(&prefix, &key)?;
        engine.remove(batch, keys::session(&hash));
        engine.remove(batch, key);
        count += 1;
    }
    Ok(count)
}

/// The token hash a user index key (under `prefix`) names.
fn session_hash(prefix: &[u8], key: &[u8]) -> StoreResult<TokenHash> {
    key.get(prefix.len()..)
        .and_then(|hash| <[u8; 32]>::try_from(hash).ok())
        .map(TokenHash)
        .ok_or_else(|| StoreError::Corrupt(format!("session index key of {} bytes", key.len())))
}
