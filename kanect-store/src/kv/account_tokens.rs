//! Account tokens for both embedded engines: mailed single-use tokens by hash (`0x12` keys),
//! indexed by user (`0x13`), written under the `accounts` lock that user and session writes
//! take too.
//!
//! Every write is one batch, so a token and its index entry never part. Under the lock, a take
//! (read, then remove) is atomic, and so is a put's "remove the user's other token of this
//! purpose, then add this one": of two racing password-reset requests, one token survives
//! (one process owns an embedded store, so the lock is all the writers there are).

use super::engine::Engine;
use super::keys;
use super::records::encode;
use kanect_core::backend::StoreResult;
use kanect_core::{AccountToken, StoreError, TokenHash, TokenPurpose, UserId};

/// Stores `token` as its user's one token of its purpose (see
/// [`AccountTokenStore::put_account_token`](kanect_core::backend::AccountTokenStore::put_account_token)):
/// replaces the others of that purpose, unless one of them is newer; returns whether it was
/// stored.
pub(crate) fn put<E: Engine>(engine: &E, token: &AccountToken) -> StoreResult<bool> {
    let _accounts = engine.accounts();
    let mut batch = engine.batch();
    for (index, other) in tokens_of(engine, token.user)? {
        let Some(other) = other else {
            engine.remove(&mut batch, index);
            continue;
        };
        if other.purpose != token.purpose || other.token_hash == token.token_hash {
            continue; // the same hash is overwritten below: one batch never holds a key twice
        }
        if other.created_at > token.created_at {
            return Ok(false);
        }
        engine.remove(&mut batch, keys::account_token(&other.token_hash));
        engine.remove(&mut batch, index);
    }
    engine.put(&mut batch, keys::account_token(&token.token_hash), encode(token)?);
    engine.put(&mut batch, keys::user_account_token(token.user, &token.token_hash), Vec::new());
    engine.commit(batch)?;
    Ok(true)
}

/// Removes and returns the token with this hash, if it is of `purpose`.
pub(crate) fn take<E: Engine>(
    engine: &E,
    purpose: TokenPurpose,
    hash: &TokenHash,
) -> StoreResult<Option<AccountToken>> {
    let key = keys::account_token(hash);
    let _accounts = engine.accounts();
    let Some(token) = engine.get::<AccountToken>("account token", &key)? else { return Ok(None) };
    if token.purpose != purpose {
        return Ok(None);
    }
    let mut batch = engine.batch();
    engine.remove(&mut batch, key);
    engine.remove(&mut batch, keys::user_account_token(token.user, hash));
    engine.commit(batch)?;
    Ok(Some(token))
}

/// Removes `user`'s tokens (of `purpose`, or all); returns how many.
pub(crate) fn delete_of<E: Engine>(engine: &E, user: UserId, purpose: Option<TokenPurpose>) -> StoreResult<u64> {
    let _accounts = engine.accounts();
    let mut batch = engine.batch();
    let count = remove_of(engine, user, purpose, &mut batch)?;
    if count > 0 {
        engine.commit(batch)?;
    }
    Ok(count)
}

/// Adds the removal of `user`'s tokens (of `purpose`, or all) and their index entries to
/// `batch`; returns how many. Called under the accounts lock.
pub(crate) fn remove_of<E: Engine>(
    engine: &E,
    user: UserId,
    purpose: Option<TokenPurpose>,
    batch: &mut E::Batch,
) -> StoreResult<u64> {
    let mut count = 0;
    for (index, token) in tokens_of(engine, user)? {
        let Some(token) = token else {
            engine.remove(batch, index);
            continue;
        };
        if purpose.is_some_and(|purpose| token.purpose != purpose) {
            continue;
        }
        engine.remove(batch, keys::account_token(&token.token_hash));
        engine.remove(batch, index);
        count += 1;
    }
    Ok(count)
}

/// A page of every token, in hash order: at most `limit` after `after`.
pub(crate) fn page<E: Engine>(engine: &E, after: Option<TokenHash>, limit: usize) -> StoreResult<Vec<AccountToken>> {
    engine.page("account token", keys::all_account_tokens(), after.map(|hash| keys::account_token(&hash)), limit)
}

/// `user`'s index entries with their tokens. An entry whose token is gone (no write leaves one,
/// but a removal must not stop at it) comes with None, for the caller to remove.
fn tokens_of<E: Engine>(engine: &E, user: UserId) -> StoreResult<Vec<(Vec<u8>, Option<AccountToken>)>> {
    let prefix = keys::user_account_tokens(user);
    let mut tokens = Vec::new();
    for index in engine.keys_with(&prefix) {
        let index = index?.as_ref().to_vec();
        let hash = index
            .get(prefix.len()..)
            .and_then(|hash| <[u8; 32]>::try_from(hash).ok())
            .ok_or_else(|| StoreError::Corrupt(format!("account token index key of {} bytes", index.len())))?;
        let token = engine.get("account token", &keys::account_token(&TokenHash(hash)))?;
        tokens.push((index, token));
    }
    Ok(tokens)
}
