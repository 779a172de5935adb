//! [`SharedRateBuckets`] for [`PgStore`]: the `UNLOGGED` table `kanect_rate_buckets`; taking
//! tokens is one short transaction holding the bucket's row lock, by the database's clock.

use super::sql::{execute, query_one};
use super::{db, PgStore};
use async_trait::async_trait;
use kanect_core::backend::{BucketKey, Grant, SharedRateBuckets, StoreResult};
use kanect_core::{Rate, StoreError};

/// Takes the bucket's row lock (inserting a full placeholder where there was no row) and reads
/// its state and the database's clock in microseconds since the Unix epoch: one clock for
/// every node.
const LOCK: &str = "INSERT INTO kanect_rate_buckets AS b (key, full_at) VALUES ($1, 0) \
                    ON CONFLICT (key) DO UPDATE SET full_at = b.full_at \
                    RETURNING full_at, (extract(epoch FROM clock_timestamp()) * 1000000)::bigint";

/// Deletes the buckets full by the database's clock.
const FORGET: &str =
    "DELETE FROM kanect_rate_buckets WHERE full_at <= (extract(epoch FROM clock_timestamp()) * 1000000)::bigint";

#[async_trait]
impl SharedRateBuckets for PgStore {
    async fn take_tokens(
        &self,
        key: &BucketKey,
        rate: Rate,
        returned: u32,
        need: u32,
        want: u32,
    ) -> StoreResult<Grant> {
        // A concurrent take at the same key, from any node, waits on the row lock LOCK takes
        // until this transaction has written its decision.
        let mut client = self.client().await?;
        let tx = client.transaction().await.map_err(db)?;
        let row = query_one(&tx, LOCK, &[&key.0.as_slice()]).await?;
        let (full_at, now): (i64, i64) = (row.try_get(0).map_err(db)?, row.try_get(1).map_err(db)?);
        let state = u64::try_from(full_at).ok().filter(|&at| at > 0);
        let now = u64::try_from(now).map_err(|_| StoreError::Corrupt(format!("the database's clock reads {now}")))?;
        let (grant, next) = Grant::decide(rate, state, now, returned, need, want);
        if let Some(next) = next.filter(|_| next != state) {
            let next = i64::try_from(next).unwrap_or(i64::MAX);
            execute(&tx, "UPDATE kanect_rate_buckets SET full_at = $2 WHERE key = $1", &[&key.0.as_slice(), &next])
                .await?;
            tx.commit().await.map_err(db)?;
        }
        // Nothing to write drops `tx`, rolling back the placeholder: nothing changed.
        Ok(grant)
    }

    async fn forget_full_buckets(&self) -> StoreResult<u64> {
        let client = self.client().await?;
        execute(&client, FORGET, &[]).await
    }
}
