//! [`InviteStore`] for [`PgStore`]: `kanect_invites`, one statement per method.
//!
//! A redemption is one `UPDATE ... WHERE uses_left > 0 AND expires_at > now`: the row lock
//! it takes makes a concurrent redemption (on any node) wait and then re-check the row as the
//! first left it, so an invite's uses are never overdrawn. When it matches no row, the row is
//! read to say why, with the rule every backend shares ([`redeem`]).

use super::rows::{self, invite_columns};
use super::sql::{execute, limit, query, query_opt, Params};
use super::PgStore;
use async_trait::async_trait;
use kanect_core::backend::{redeem, InviteStore, StoreResult};
use kanect_core::{Invite, InviteId, InviteRefused, Timestamp, TokenHash, UserId};

/// How often a redemption tries again after finding the invite usable on its second look: a
/// use given back between its update and its read (see [`InviteStore::redeem_invite`]).
const REDEEM_TRIES: usize = 3;

#[async_trait]
impl InviteStore for PgStore {
    async fn insert_invite(&self, invite: &Invite) -> StoreResult<()> {
        let sql = "INSERT INTO kanect_invites (id, token_hash, created_by, created_at, expires_at, uses, uses_left) \
                   VALUES ($1, $2, $3, $4, $5, $6, $7) \
                   ON CONFLICT (id) DO UPDATE SET token_hash = EXCLUDED.token_hash, \
                   created_by = EXCLUDED.created_by, created_at = EXCLUDED.created_at, \
                   expires_at = EXCLUDED.expires_at, uses = EXCLUDED.uses, uses_left = EXCLUDED.uses_left";
        let client = self.client().await?;
        let params: Params<'_> = &[
            invite.id.as_uuid(),
            &&invite.token_hash.0[..],
            invite.created_by.as_uuid(),
            &rows::signed(invite.created_at.0, "created_at")?,
            &rows::signed(invite.expires_at.0, "expires_at")?,
            &i64::from(invite.uses),
            &i64::from(invite.uses_left),
        ];
        execute(&client, sql, params).await.map(drop)
    }

    async fn invite(&self, id: InviteId) -> StoreResult<Option<Invite>> {
        let sql = concat!("SELECT ", invite_columns!(), " FROM kanect_invites WHERE id = $1");
        let client = self.client().await?;
        query_opt(&client, sql, &[id.as_uuid()]).await?.as_ref().map(rows::invite).transpose()
    }

    async fn invite_by_token(&self, token_hash: &TokenHash) -> StoreResult<Option<Invite>> {
        let sql = concat!("SELECT ", invite_columns!(), " FROM kanect_invites WHERE token_hash = $1");
        let client = self.client().await?;
        query_opt(&client, sql, &[&&token_hash.0[..]]).await?.as_ref().map(rows::invite).transpose()
    }

    async fn redeem_invite(
        &self,
        token_hash: &TokenHash,
        now: Timestamp,
    ) -> StoreResult<Result<Invite, InviteRefused>> {
        let sql = concat!(
            "UPDATE kanect_invites SET uses_left = uses_left - 1 \
             WHERE token_hash = $1 AND uses_left > 0 AND expires_at > $2 RETURNING ",
            invite_columns!()
        );
        let read = concat!("SELECT ", invite_columns!(), " FROM kanect_invites WHERE token_hash = $1");
        let now_param = rows::clamped(now.0);
        // One connection for both statements: taking a second while holding the first could
        // exhaust the pool under many concurrent sign-ups, each waiting for the other's.
        let client = self.client().await?;
        for _ in 0..REDEEM_TRIES {
            if let Some(row) = query_opt(&client, sql, &[&&token_hash.0[..], &now_param]).await? {
                return rows::invite(&row).map(Ok);
            }
            let row = query_opt(&client, read, &[&&token_hash.0[..]]).await?;
            let stored = row.as_ref().map(rows::invite).transpose()?;
            if let Err(refused) = redeem(stored, now) {
                return Ok(Err(refused));
            }
        }
        Ok(Err(InviteRefused::UsedUp))
    }

    async fn restore_invite_use(&self, id: InviteId) -> StoreResult<bool> {
        let sql = "UPDATE kanect_invites SET uses_left = LEAST(uses_left + 1, uses) WHERE id = $1";
        let client = self.client().await?;
        Ok(execute(&client, sql, &[id.as_uuid()]).await? > 0)
    }

    async fn delete_invite(&self, id: InviteId) -> StoreResult<bool> {
        let client = self.client().await?;
        Ok(execute(&client, "DELETE FROM kanect_invites WHERE id = $1", &[id.as_uuid()]).await? > 0)
    }

    async fn invites(
        &self,
        created_by: Option<UserId>,
        before: Option<InviteId>,
        count: usize,
    ) -> StoreResult<Vec<Invite>> {
        // UUIDs compare as their bytes, the order of the other backends' keys.
        let sql = concat!(
            "SELECT ",
            invite_columns!(),
            " FROM kanect_invites WHERE ($1::uuid IS NULL OR created_by = $1) AND ($2::uuid IS NULL OR id < $2) \
             ORDER BY id DESC LIMIT $3"
        );
        let client = self.client().await?;
        let created_by = created_by.map(|id| *id.as_uuid());
        let before = before.map(|id| *id.as_uuid());
        query(&client, sql, &[&created_by, &before, &limit(count)]).await?.iter().map(rows::invite).collect()
    }
}
