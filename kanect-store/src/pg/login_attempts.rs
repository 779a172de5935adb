//! [`LoginAttemptStore`] for [`PgStore`]: the `UNLOGGED` table `kanect_login_attempts`; a count
//! is one transaction holding the row locks of all its keys.

use super::rows;
use super::sql::{execute, query};
use super::{db, PgStore};
use async_trait::async_trait;
use kanect_core::backend::{Attempt, AttemptKey, LoginAttemptStore, StoreResult};
use kanect_core::{SlowDown, Timestamp};

#[async_trait]
impl LoginAttemptStore for PgStore {
    async fn count_login_attempt(&self, keys: &[(AttemptKey, SlowDown)], now: Timestamp) -> StoreResult<Attempt> {
        // One transaction. The upsert takes the row lock of every key (inserting an expired
        // placeholder where there was no row) and reads the records; concurrent attempts at any
        // of these keys, from any node, wait on those locks until this transaction has written
        // its decision for all of them. Rows are locked in key order, the order the sorted
        // SELECT feeds them to the insert, so two attempts sharing keys never deadlock.
        let lock = "INSERT INTO kanect_login_attempts AS a (key, count, not_before, expires_at) \
                    SELECT key, 0, 0, 0 FROM unnest($1::bytea[]) AS key ORDER BY key \
                    ON CONFLICT (key) DO UPDATE SET count = a.count RETURNING key, count, not_before, expires_at";
        let update = "UPDATE kanect_login_attempts AS a \
                      SET count = n.count, not_before = n.not_before, expires_at = n.expires_at \
                      FROM unnest($1::bytea[], $2::bigint[], $3::bigint[], $4::bigint[]) \
                      AS n (key, count, not_before, expires_at) WHERE a.key = n.key";
        let ids: Vec<&[u8]> = keys.iter().map(|(key, _)| key.0.as_slice()).collect();
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(db)?;
        let current =
            query(&tx, lock, &[&ids]).await?.iter().map(rows::login_attempts).collect::<StoreResult<Vec<_>>>()?;
        let record_of = |key: &AttemptKey| current.iter().find(|(found, _)| found == key).map(|(_, record)| *record);
        let attempt = Attempt::decide(keys.iter().map(|(key, rule)| (*rule, record_of(key))), now);
        if let Attempt::Counted(records) = &attempt {
            let counts: Vec<i64> = records.iter().map(|record| i64::from(record.count)).collect();
            let not_before =
                records.iter().map(|r| rows::signed(r.not_before.0, "not_before")).collect::<StoreResult<Vec<_>>>()?;
            let expires_at =
                records.iter().map(|r| rows::signed(r.expires_at.0, "expires_at")).collect::<StoreResult<Vec<_>>>()?;
            execute(&tx, update, &[&ids, &counts, &not_before, &expires_at]).await?;
            tx.commit().await.map_err(db)?;
        }
        // A refusal drops `tx`, rolling back: nothing changed.
        Ok(attempt)
    }

    async fn clear_login_attempts(&self, key: &AttemptKey) -> StoreResult<()> {
        let client = self.client().await?;
        execute(&client, "DELETE FROM kanect_login_attempts WHERE key = $1", &[&key.0.as_slice()]).await.map(drop)
    }

    async fn expire_login_attempts(&self, now: Timestamp) -> StoreResult<u64> {
        let client = self.client().await?;
        let sql = "DELETE FROM kanect_login_attempts WHERE expires_at <= $1";
        execute(&client, sql, &[&rows::clamped(now.0)]).await
    }
}
