//! [`InviteStore`] for [`SledStore`]: invites by id (`0x10` keys) with their token index
//! (`0x11`), and the synchronous halves of their methods.
//!
//! Each write is one sled `Batch` (a record and its index entry never part), decided under the
//! open database's `invites` lock, which makes a redemption's read-check-write atomic against
//! every other invite write: of two sign-ups racing for the last use, exactly one gets it.

use super::format::{decode, encode};
use super::open::Open;
use super::SledStore;
use crate::kv::keys;
use kanect_core::backend::{redeem, restore_use, InviteStore, StoreResult};
use kanect_core::{Invite, InviteId, InviteRefused, Timestamp, TokenHash, UserId};

impl Open {
    fn invite_now(&self, id: InviteId) -> StoreResult<Option<Invite>> {
        self.get("invite", &keys::invite(id))
    }

    fn invite_by_token_now(&self, hash: &TokenHash) -> StoreResult<Option<Invite>> {
        let Some(id) = self.get_raw(&keys::invite_token(hash))? else { return Ok(None) };
        self.invite_now(keys::parse_invite_id(&id)?)
    }

    fn insert_invite_now(&self, invite: &Invite) -> StoreResult<()> {
        let _invites = self.invites();
        let mut batch = sled::Batch::default();
        if let Some(old) = self.invite_now(invite.id)? {
            batch.remove(keys::invite_token(&old.token_hash));
        }
        batch.insert(keys::invite(invite.id), encode(invite)?);
        batch.insert(keys::invite_token(&invite.token_hash), &invite.id.to_bytes());
        self.apply(batch)
    }

    /// The record as redeemed (and whether it was written), or why not.
    fn redeem_invite_now(
        &self,
        hash: &TokenHash,
        now: Timestamp,
    ) -> StoreResult<(Result<Invite, InviteRefused>, bool)> {
        let _invites = self.invites();
        let redeemed = redeem(self.invite_by_token_now(hash)?, now);
        if let Ok(invite) = &redeemed {
            self.insert(&keys::invite(invite.id), encode(invite)?)?;
        }
        let written = redeemed.is_ok();
        Ok((redeemed, written))
    }

    fn restore_invite_use_now(&self, id: InviteId) -> StoreResult<bool> {
        let _invites = self.invites();
        let Some(mut invite) = self.invite_now(id)? else { return Ok(false) };
        restore_use(&mut invite);
        self.insert(&keys::invite(id), encode(&invite)?)?;
        Ok(true)
    }

    fn delete_invite_now(&self, id: InviteId) -> StoreResult<bool> {
        let _invites = self.invites();
        let Some(invite) = self.invite_now(id)? else { return Ok(false) };
        let mut batch = sled::Batch::default();
        batch.remove(keys::invite(id));
        batch.remove(keys::invite_token(&invite.token_hash));
        self.apply(batch)?;
        Ok(true)
    }

    fn invites_now(
        &self,
        created_by: Option<UserId>,
        before: Option<InviteId>,
        limit: usize,
    ) -> StoreResult<Vec<Invite>> {
        let prefix = keys::all_invites();
        let newest_first = match before {
            Some(before) => self.entries(self.db.range(prefix..keys::invite(before))).rev(),
            None => self.entries(self.db.scan_prefix(prefix)).rev(),
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
impl InviteStore for SledStore {
    async fn insert_invite(&self, invite: &Invite) -> StoreResult<()> {
        self.write(|open| open.insert_invite_now(invite).map(|()| ((), true))).await
    }

    async fn invite(&self, id: InviteId) -> StoreResult<Option<Invite>> {
        self.with(|open| open.invite_now(id))
    }

    async fn invite_by_token(&self, token_hash: &TokenHash) -> StoreResult<Option<Invite>> {
        self.with(|open| open.invite_by_token_now(token_hash))
    }

    async fn redeem_invite(
        &self,
        token_hash: &TokenHash,
        now: Timestamp,
    ) -> StoreResult<Result<Invite, InviteRefused>> {
        self.write(|open| open.redeem_invite_now(token_hash, now)).await
    }

    async fn restore_invite_use(&self, id: InviteId) -> StoreResult<bool> {
        self.write(|open| open.restore_invite_use_now(id).map(|restored| (restored, restored))).await
    }

    async fn delete_invite(&self, id: InviteId) -> StoreResult<bool> {
        self.write(|open| open.delete_invite_now(id).map(|deleted| (deleted, deleted))).await
    }

    async fn invites(
        &self,
        created_by: Option<UserId>,
        before: Option<InviteId>,
        limit: usize,
    ) -> StoreResult<Vec<Invite>> {
        self.with(|open| open.invites_now(created_by, before, limit))
    }
}
