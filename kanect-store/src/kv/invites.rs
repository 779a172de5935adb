//! Invites for both embedded engines: by id (`0x10` keys) with their token index (`0x11`).
//!
//! Every write is one batch, decided under the `invites` lock: a record and its index entry
//! never part, and a redemption reads, checks and rewrites its record with no other invite
//! write in between, so of two sign-ups racing for the last use exactly one gets it. A refused
//! redemption writes nothing.

use super::engine::Engine;
use super::keys;
use super::records::{decode, encode};
use kanect_core::backend::{redeem as redeem_use, restore_use as restore_one_use, StoreResult};
use kanect_core::{Invite, InviteId, InviteRefused, Timestamp, TokenHash, UserId};

/// The invite `id`.
pub(crate) fn get<E: Engine>(engine: &E, id: InviteId) -> StoreResult<Option<Invite>> {
    engine.get("invite", &keys::invite(id))
}

/// The invite whose token has this hash.
pub(crate) fn by_token<E: Engine>(engine: &E, hash: &TokenHash) -> StoreResult<Option<Invite>> {
    let Some(id) = engine.get_raw(&keys::invite_token(hash))? else { return Ok(None) };
    get(engine, keys::parse_invite_id(id.as_ref())?)
}

/// Adds or replaces an invite, moving its token index entry.
pub(crate) fn insert<E: Engine>(engine: &E, invite: &Invite) -> StoreResult<()> {
    let _invites = engine.invites();
    let mut batch = engine.batch();
    if let Some(old) = get(engine, invite.id)? {
        if old.token_hash != invite.token_hash {
            engine.remove(&mut batch, keys::invite_token(&old.token_hash));
        }
    }
    engine.put(&mut batch, keys::invite(invite.id), encode(invite)?);
    engine.put(&mut batch, keys::invite_token(&invite.token_hash), invite.id.to_bytes().to_vec());
    engine.commit(batch)
}

/// The record as redeemed, or why not; and whether anything was written.
pub(crate) fn redeem<E: Engine>(
    engine: &E,
    hash: &TokenHash,
    now: Timestamp,
) -> StoreResult<(Result<Invite, InviteRefused>, bool)> {
    let _invites = engine.invites();
    let redeemed = redeem_use(by_token(engine, hash)?, now);
    if let Ok(invite) = &redeemed {
        rewrite(engine, invite)?;
    }
    let written = redeemed.is_ok();
    Ok((redeemed, written))
}

/// Gives a use back; false if the invite is gone.
pub(crate) fn restore_use<E: Engine>(engine: &E, id: InviteId) -> StoreResult<bool> {
    let _invites = engine.invites();
    let Some(mut invite) = get(engine, id)? else { return Ok(false) };
    restore_one_use(&mut invite);
    rewrite(engine, &invite)?;
    Ok(true)
}

/// Removes an invite and its token index entry; false if there was none.
pub(crate) fn delete<E: Engine>(engine: &E, id: InviteId) -> StoreResult<bool> {
    let _invites = engine.invites();
    let Some(invite) = get(engine, id)? else { return Ok(false) };
    let mut batch = engine.batch();
    engine.remove(&mut batch, keys::invite(id));
    engine.remove(&mut batch, keys::invite_token(&invite.token_hash));
    engine.commit(batch)?;
    Ok(true)
}

/// A page of invites (of `created_by`, or all), newest first, older than `before`.
pub(crate) fn page<E: Engine>(
    engine: &E,
    created_by: Option<UserId>,
    before: Option<InviteId>,
    limit: usize,
) -> StoreResult<Vec<Invite>> {
    let prefix = keys::all_invites();
    let mut page = Vec::new();
    for entry in engine.entries_newest_first(&prefix, before.map(keys::invite)) {
        let (key, value) = entry?;
        let invite: Invite = decode("invite", key.as_ref(), value.as_ref())?;
        if created_by.is_none_or(|creator| invite.created_by == creator) {
            page.push(invite);
            if page.len() == limit {
                break;
            }
        }
    }
    Ok(page)
}

/// Rewrites a record whose token is unchanged (its index entry stays).
fn rewrite<E: Engine>(engine: &E, invite: &Invite) -> StoreResult<()> {
    let mut batch = engine.batch();
    engine.put(&mut batch, keys::invite(invite.id), encode(invite)?);
    engine.commit(batch)
}
