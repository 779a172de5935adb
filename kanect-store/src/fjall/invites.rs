//! [`InviteStore`] for [`FjallStore`]: invites by id (`0x10` keys) with their token index
//! (`0x11`).
//!
//! Every write is one job on the writer thread, under the `invites` mutex, committing one batch:
//! a record and its index entry never part, and a redemption reads, checks and rewrites its
//! record with no other invite write in between, so of two sign-ups racing for the last use
//! exactly one gets it. A refused redemption writes nothing.

use super::format::{decode, encode};
use super::{FjallStore, Inner};
use crate::kv::keys;
use kanect_core::backend::{redeem, restore_use, InviteStore, StoreResult};
use kanect_core::{Invite, InviteId, InviteRefused, Timestamp, TokenHash, UserId};

impl Inner {
    fn invite_now(&self, id: InviteId) -> StoreResult<Option<Invite>> {
        self.get("invite", &keys::invite(id))
    }

    fn invite_by_token_now(&self, hash: &TokenHash) -> StoreResult<Option<Invite>> {
        let Some(id) = self.get_raw(&keys::invite_token(hash))? else { return Ok(None) };
        self.invite_now(keys::parse_invite_id(&id)?)
    }

    fn insert_invite_now(&self, invite: &Invite) -> StoreResult<()> {
        let _invites = self.invites();
        let mut batch = self.batch();
        if let Some(old) = self.invite_now(invite.id)? {
            batch.remove(&self.data, keys::invite_token(&old.token_hash));
        }
        batch.insert(&self.data, keys::invite(invite.id), encode(invite)?);
        batch.insert(&self.data, keys::invite_token(&invite.token_hash), invite.id.to_bytes());
        self.commit(batch)
    }

    /// The record as redeemed, or why not; and whether anything was written.
    fn redeem_invite_now(
        &self,
        hash: &TokenHash,
        now: Timestamp,
    ) -> StoreResult<(Result<Invite, InviteRefused>, bool)> {
        let _invites = self.invites();
        let redeemed = redeem(self.invite_by_token_now(hash)?, now);
        if let Ok(invite) = &redeemed {
            self.put_invite(invite)?;
        }
        let written = redeemed.is_ok();
        Ok((redeemed, written))
    }

    fn restore_invite_use_now(&self, id: InviteId) -> StoreResult<bool> {
        let _invites = self.invites();
        let Some(mut invite) = self.invite_now(id)? else { return Ok(false) };
        restore_use(&mut invite);
        self.put_invite(&invite)?;
        Ok(true)
    }

    /// Rewrites a record whose token is unchanged (its index entry stays).
    fn put_invite(&self, invite: &Invite) -> StoreResult<()> {
        let mut batch = self.batch();
        batch.insert(&self.data, keys::invite(invite.id), encode(invite)?);
        self.commit(batch)
    }

    fn delete_invite_now(&self, id: InviteId) -> StoreResult<bool> {
        let _invites = self.invites();
        let Some(invite) = self.invite_now(id)? else { return Ok(false) };
        let mut batch = self.batch();
        batch.remove(&self.data, keys::invite(id));
        batch.remove(&self.data, keys::invite_token(&invite.token_hash));
        self.commit(batch)?;
        Ok(true)
    }

    fn invites_now(
        &self,
        created_by: Option<UserId>,
        before: Option<InviteId>,
        limit: usize,
    ) -> StoreResult<Vec<Invite>> {
        let prefix = keys::all_invites();
        let newest_first: Box<dyn Iterator<Item = _>> = match before {
            Some(before) => Box::new(self.entries_before(&prefix, keys::invite(before)).rev()),
            None => Box::new(self.entries_with(&prefix).rev()),
        };
        let mut page = Vec::new();
        for entry in newest_first {
            let (key, value) = entry?;
            let invite: Invite = decode("invite", &key, &value)?;
            if created_by.is_none_or(|creator| invite.created_by == creator) {
                page.push(invite);
                if page.len() == limit {
                    break;
                }
            }
        }
        Ok(page)
    }
}

#[async_trait::async_trait]
impl InviteStore for FjallStore {
    async fn insert_invite(&self, invite: &Invite) -> StoreResult<()> {
        let invite = invite.clone();
        self.write(move |inner| inner.insert_invite_now(&invite).map(|()| ((), true))).await
    }

    async fn invite(&self, id: InviteId) -> StoreResult<Option<Invite>> {
        self.with(|inner| inner.invite_now(id))
    }

    async fn invite_by_token(&self, token_hash: &TokenHash) -> StoreResult<Option<Invite>> {
        self.with(|inner| inner.invite_by_token_now(token_hash))
    }

    async fn redeem_invite(
        &self,
        token_hash: &TokenHash,
        now: Timestamp,
    ) -> StoreResult<Result<Invite, InviteRefused>> {
        let token_hash = *token_hash;
        self.write(move |inner| inner.redeem_invite_now(&token_hash, now)).await
    }

    async fn restore_invite_use(&self, id: InviteId) -> StoreResult<bool> {
        self.write(move |inner| inner.restore_invite_use_now(id).map(|restored| (restored, restored))).await
    }

    async fn delete_invite(&self, id: InviteId) -> StoreResult<bool> {
        self.write(move |inner| inner.delete_invite_now(id).map(|deleted| (deleted, deleted))).await
    }

    async fn invites(
        &self,
        created_by: Option<UserId>,
        before: Option<InviteId>,
        limit: usize,
    ) -> StoreResult<Vec<Invite>> {
        self.with(|inner| inner.invites_now(created_by, before, limit))
    }
}
