//! [`InviteStore`]: invite links' records, by id and by the hash of their token.
//!
//! An invite's token is a random secret in its link, as a session's is in its cookie: only its
//! SHA-256 ([`TokenHash`]) is stored, so a copy of the store (a backup) lets nobody sign up.
//! The record carries its own use count, which [`InviteStore::redeem_invite`] takes one from
//! atomically: of two sign-ups racing for an invite's last use, exactly one gets it, on one
//! node or several sharing a store. Every backend decides with the one rule here, [`redeem`].

use super::StoreResult;
use crate::error::InviteRefused;
use crate::id::{InviteId, UserId};
use crate::model::{Timestamp, TokenHash};
use async_trait::async_trait;
use serde::{Deserialize, Serialize};

/// An invite link, as stored: everything but its token.
#[derive(Clone, PartialEq, Eq, Debug, Serialize, Deserialize)]
pub struct Invite {
    /// Time-ordered id: how the invite is listed and revoked (the token is never shown again).
    pub id: InviteId,
    /// SHA-256 of the token: what a sign-up presents is looked up by it.
    pub token_hash: TokenHash,
    /// Who made it (an administrator, or a user where the operator allows it): whose list it
    /// is in, and who may revoke it besides administrators.
    pub created_by: UserId,
    /// When it was made.
    pub created_at: Timestamp,
    /// From this moment on it no longer works.
    pub expires_at: Timestamp,
    /// How many sign-ups it allowed when made.
    pub uses: u32,
    /// How many it still allows.
    pub uses_left: u32,
}

impl Invite {
    /// Whether a sign-up could use it at `now`: unexpired, with a use left.
    pub fn usable_at(&self, now: Timestamp) -> bool {
        self.uses_left > 0 && now < self.expires_at
    }
}

/// Invite records.
///
/// - [`InviteStore::redeem_invite`] is one atomic read-check-write, also across nodes sharing
///   the store: concurrent redemptions of an invite with `n` uses left succeed `n` times.
/// - Writes are durable when they return, as every store write.
#[async_trait]
pub trait InviteStore: Send + Sync {
    /// Stores a new invite (or replaces the record with its id: a backup's import).
    async fn insert_invite(&self, invite: &Invite) -> StoreResult<()>;

    /// An invite by id.
    async fn invite(&self, id: InviteId) -> StoreResult<Option<Invite>>;

    /// An invite by its token's hash.
    async fn invite_by_token(&self, token_hash: &TokenHash) -> StoreResult<Option<Invite>>;

    /// Takes one use of the invite whose token hashes to `token_hash`, if [`redeem`] allows it
    /// at `now`, as one atomic step. Returns the record as left (one use fewer), or why not,
    /// without writing anything.
    async fn redeem_invite(&self, token_hash: &TokenHash, now: Timestamp)
        -> StoreResult<Result<Invite, InviteRefused>>;

    /// Gives one use back to an invite (a sign-up that redeemed it and then failed), never
    /// beyond its [`Invite::uses`]. Returns false if the invite is gone (revoked meanwhile).
    async fn restore_invite_use(&self, id: InviteId) -> StoreResult<bool>;

    /// Deletes an invite (a revocation). Returns false if there was none.
    async fn delete_invite(&self, id: InviteId) -> StoreResult<bool>;

    /// A page of invites, newest first (by id): made by `created_by` if given, else everyone's;
    /// before `before` if given. For listing, and for backups (which page through them all).
    async fn invites(
        &self,
        created_by: Option<UserId>,
        before: Option<InviteId>,
        limit: usize,
    ) -> StoreResult<Vec<Invite>>;
}

/// The rule of a redemption, for every backend: `stored` is the record under the presented
/// token (None if there is none). Returns the record with one use fewer, or why it cannot be
/// used: unknown (forged, revoked) first, then expired, then used up.
///
/// # Errors
/// The [`InviteRefused`] reason.
pub fn redeem(stored: Option<Invite>, now: Timestamp) -> Result<Invite, InviteRefused> {
    let mut invite = stored.ok_or(InviteRefused::Unknown)?;
    if now >= invite.expires_at {
        return Err(InviteRefused::Expired);
    }
    if invite.uses_left == 0 {
        return Err(InviteRefused::UsedUp);
    }
    invite.uses_left -= 1;
    Ok(invite)
}

/// The rule of [`InviteStore::restore_invite_use`], for every backend: one use back, never
/// beyond the invite's uses.
pub fn restore_use(invite: &mut Invite) {
    invite.uses_left = invite.uses_left.saturating_add(1).min(invite.uses);
}
