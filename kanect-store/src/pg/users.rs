//! [`UserStore`] for [`PgStore`]: `kanect_users`, one statement per method.

use super::rows::{self, user_columns};
use super::sql::{execute, limit, query, query_one, query_opt, Params};
use super::PgStore;
use async_trait::async_trait;
use kanect_core::backend::{StoreResult, UserQuery, UserStore, UserUpdate};
use kanect_core::{Conflict, StoreError, User, UserId};

#[async_trait]
impl UserStore for PgStore {
    async fn insert_user(&self, user: &User, password_hash: &str) -> StoreResult<()> {
        let sql = "INSERT INTO kanect_users (id, username, username_folded, display_name, display_name_lower, email, \
                   role, created_at, disabled, last_seen, password_hash, email_verified, digests_off, digested_at, \
                   status, avatar) \
                   VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)";
        let client = self.client().await?;
        let lower = user.display_name.as_deref().map(str::to_lowercase);
        let last_seen = user.last_seen.map(|t| rows::signed(t.0, "last_seen")).transpose()?;
        let digested_at = user.digested_at.map(|t| rows::signed(t.0, "digested_at")).transpose()?;
        let params: Params<'_> = &[
            user.id.as_uuid(),
            &user.username,
            &User::fold(&user.username),
            &user.display_name,
            &lower,
            &user.email,
            &rows::role_text(user.role),
            &rows::signed(user.created_at.0, "created_at")?,
            &user.disabled,
            &last_seen,
            &password_hash,
            &user.email_verified,
            &user.digests_off,
            &digested_at,
            &user.status,
            &user.avatar.map(|avatar| *avatar.as_uuid()),
        ];
        match execute(&client, sql, params).await {
            // The folded username (or, absurdly, the id) exists.
            Err(StoreError::Conflict(_)) => Err(StoreError::Conflict(Conflict::UsernameTaken)),
            other => other.map(drop),
        }
    }

    async fn user(&self, id: UserId) -> StoreResult<Option<User>> {
        let sql = concat!("SELECT ", user_columns!(), " FROM kanect_users WHERE id = $1");
        let client = self.client().await?;
        query_opt(&client, sql, &[id.as_uuid()]).await?.as_ref().map(rows::user).transpose()
    }

    async fn user_by_username(&self, username: &str) -> StoreResult<Option<User>> {
        let sql = concat!("SELECT ", user_columns!(), " FROM kanect_users WHERE username_folded = $1");
        if username.contains('\0') {
            return Ok(None); // PostgreSQL text cannot hold NUL, so no stored name does
        }
        let client = self.client().await?;
        query_opt(&client, sql, &[&User::fold(username)]).await?.as_ref().map(rows::user).transpose()
    }

    async fn update_user(&self, id: UserId, update: UserUpdate) -> StoreResult<Option<User>> {
        // One column per statement: a concurrent update of another column (on any node) stays.
        let client = self.client().await?;
        let row = match update {
            UserUpdate::Role(role) => {
                let sql = concat!("UPDATE kanect_users SET role = $2 WHERE id = $1 RETURNING ", user_columns!());
                query_opt(&client, sql, &[id.as_uuid(), &rows::role_text(role)]).await?
            }
            UserUpdate::Disabled(disabled) => {
                let sql = concat!("UPDATE kanect_users SET disabled = $2 WHERE id = $1 RETURNING ", user_columns!());
                query_opt(&client, sql, &[id.as_uuid(), &disabled]).await?
            }
            UserUpdate::LastSeen(at) => {
                let sql = concat!("UPDATE kanect_users SET last_seen = $2 WHERE id = $1 RETURNING ", user_columns!());
                query_opt(&client, sql, &[id.as_uuid(), &rows::signed(at.0, "last_seen")?]).await?
            }
            UserUpdate::DisplayName(name) => {
                let sql = concat!(
                    "UPDATE kanect_users SET display_name = $2, display_name_lower = $3 WHERE id = $1 RETURNING ",
                    user_columns!()
                );
                // Lower-cased here, as `insert_user` does, so search matches alike on every backend.
                let lower = name.as_deref().map(str::to_lowercase);
                query_opt(&client, sql, &[id.as_uuid(), &name, &lower]).await?
            }
            UserUpdate::Email(email) => {
                let sql = concat!(
                    "UPDATE kanect_users SET email = $2, email_verified = false WHERE id = $1 RETURNING ",
                    user_columns!()
                );
                query_opt(&client, sql, &[id.as_uuid(), &email]).await?
            }
            UserUpdate::EmailVerified(address) => {
                // Only while the account still has that address (see `UserUpdate::EmailVerified`).
                let sql = concat!(
                    "UPDATE kanect_users SET email_verified = (email_verified OR email IS NOT DISTINCT FROM $2) \
                     WHERE id = $1 RETURNING ",
                    user_columns!()
                );
                query_opt(&client, sql, &[id.as_uuid(), &address]).await?
            }
            UserUpdate::DigestsOff(off) => {
                let sql = concat!("UPDATE kanect_users SET digests_off = $2 WHERE id = $1 RETURNING ", user_columns!());
                query_opt(&client, sql, &[id.as_uuid(), &off]).await?
            }
            UserUpdate::DigestedAt(at) => {
                let sql = concat!("UPDATE kanect_users SET digested_at = $2 WHERE id = $1 RETURNING ", user_columns!());
                query_opt(&client, sql, &[id.as_uuid(), &rows::signed(at.0, "digested_at")?]).await?
            }
            UserUpdate::Status(status) => {
                let sql = concat!("UPDATE kanect_users SET status = $2 WHERE id = $1 RETURNING ", user_columns!());
                query_opt(&client, sql, &[id.as_uuid(), &status]).await?
            }
            UserUpdate::Avatar(avatar) => {
                let sql = concat!("UPDATE kanect_users SET avatar = $2 WHERE id = $1 RETURNING ", user_columns!());
                query_opt(&client, sql, &[id.as_uuid(), &avatar.map(|avatar| *avatar.as_uuid())]).await?
            }
        };
        row.as_ref().map(rows::user).transpose()
    }

    async fn delete_user(&self, id: UserId) -> StoreResult<bool> {
        // One statement, so the account and its sessions go together.
        let sql = "WITH gone AS (DELETE FROM kanect_users WHERE id = $1 RETURNING id), \
                   sessions AS (DELETE FROM kanect_sessions WHERE user_id IN (SELECT id FROM gone)), \
                   tokens AS (DELETE FROM kanect_account_tokens WHERE user_id IN (SELECT id FROM gone)) \
                   SELECT count(*) FROM gone";
        let client = self.client().await?;
        let count: i64 = rows::first(&query_one(&client, sql, &[id.as_uuid()]).await?)?;
        Ok(count > 0)
    }

    async fn password_hash(&self, id: UserId) -> StoreResult<Option<String>> {
        let client = self.client().await?;
        let row = query_opt(&client, "SELECT password_hash FROM kanect_users WHERE id = $1", &[id.as_uuid()]).await?;
        row.as_ref().map(rows::first).transpose()
    }

    async fn set_password_hash(&self, id: UserId, hash: &str) -> StoreResult<bool> {
        let client = self.client().await?;
        let sql = "UPDATE kanect_users SET password_hash = $2 WHERE id = $1";
        Ok(execute(&client, sql, &[id.as_uuid(), &hash]).await? > 0)
    }

    async fn users(&self, page: &UserQuery) -> StoreResult<Vec<User>> {
        // `username_folded` is COLLATE "C": byte order, as the other backends page.
        let sql = concat!(
            "SELECT ",
            user_columns!(),
            " FROM kanect_users WHERE ($1::text IS NULL OR username_folded > $1) \
             AND ($2::text IS NULL OR strpos(username_folded, $2) > 0 OR strpos(display_name_lower, $2) > 0) \
             ORDER BY username_folded LIMIT $3"
        );
        // Client text may hold NUL, which PostgreSQL text cannot (nor, therefore, any stored
        // name): a search for it matches nobody, and names after "ab\0..." are those after "ab".
        if page.search.as_deref().is_some_and(|needle| needle.contains('\0')) {
            return Ok(Vec::new());
        }
        let after = page.after.as_deref().map(|after| after.split('\0').next().unwrap_or_default());
        let client = self.client().await?;
        let params: Params<'_> = &[&after, &page.search, &limit(page.limit)];
        query(&client, sql, params).await?.iter().map(rows::user).collect()
    }

    async fn users_by_email(&self, address: &str) -> StoreResult<Vec<User>> {
        // The expression of the index `kanect_users_email_folded` (migration 11), which folds as
        // `User::fold_email` does.
        let sql = concat!(
            "SELECT ",
            user_columns!(),
            " FROM kanect_users WHERE email IS NOT NULL \
             AND translate(email, 'ABCDEFGHIJKLMNOPQRSTUVWXYZ', 'abcdefghijklmnopqrstuvwxyz') = $1 ORDER BY id"
        );
        if address.contains('\0') {
            return Ok(Vec::new()); // PostgreSQL text cannot hold NUL, so no stored address does
        }
        let client = self.client().await?;
        query(&client, sql, &[&User::fold_email(address)]).await?.iter().map(rows::user).collect()
    }
}
