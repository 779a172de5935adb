//! The statement helpers every domain's impl uses: each prepares its statement once per pooled
//! connection (`prepare_cached`, keyed by the query text) and maps errors with [`db`].

use super::db;
use deadpool_postgres::GenericClient;
use kanect_core::backend::StoreResult;
use tokio_postgres::types::ToSql;
use tokio_postgres::Row;

/// A statement's parameters.
pub(super) type Params<'a> = &'a [&'a (dyn ToSql + Sync)];

pub(super) async fn query(client: &impl GenericClient, sql: &str, params: Params<'_>) -> StoreResult<Vec<Row>> {
    let statement = client.prepare_cached(sql).await.map_err(db)?;
    client.query(&statement, params).await.map_err(db)
}

pub(super) async fn query_opt(client: &impl GenericClient, sql: &str, params: Params<'_>) -> StoreResult<Option<Row>> {
    let statement = client.prepare_cached(sql).await.map_err(db)?;
    client.query_opt(&statement, params).await.map_err(db)
}

pub(super) async fn query_one(client: &impl GenericClient, sql: &str, params: Params<'_>) -> StoreResult<Row> {
    let statement = client.prepare_cached(sql).await.map_err(db)?;
    client.query_one(&statement, params).await.map_err(db)
}

pub(super) async fn execute(client: &impl GenericClient, sql: &str, params: Params<'_>) -> StoreResult<u64> {
    let statement = client.prepare_cached(sql).await.map_err(db)?;
    client.execute(&statement, params).await.map_err(db)
}

/// A row limit as PostgreSQL's BIGINT.
pub(super) fn limit(limit: usize) -> i64 {
    i64::try_from(limit).unwrap_or(i64::MAX)
}
