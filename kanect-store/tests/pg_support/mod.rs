//! What the PostgreSQL tests share: the database URL from `KANECT_TEST_PG` and fresh, empty
//! stores, each in a schema of its own (`kanect_test_<unix seconds>_<random>`).
//!
//! Schemas are not dropped when a test ends (the conformance macro has no teardown hook);
//! instead the first store made by a test process drops the test schemas older than an hour,
//! so the database does not fill up and concurrent test runs never lose theirs.

#![allow(dead_code)] // each test file uses its own subset

use kanect_store::{PgConfig, PgStore};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// `KANECT_TEST_PG`. The tests that call this are ignored unless it is set at build time.
pub(crate) fn url() -> String {
    std::env::var("KANECT_TEST_PG").expect("KANECT_TEST_PG must name a PostgreSQL database")
}

/// A new, unused schema name.
pub(crate) fn schema_name() -> String {
    let secs = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    format!("kanect_test_{secs}_{}", &uuid::Uuid::new_v4().simple().to_string()[..12])
}

/// Config for a fresh schema.
pub(crate) fn config(schema: &str) -> PgConfig {
    PgConfig { schema: Some(schema.to_string()), pool_size: 8, ..PgConfig::new(url()) }
}

/// A fresh, empty store in a schema of its own.
pub(crate) async fn fresh_store() -> PgStore {
    drop_stale_schemas().await;
    PgStore::connect_with(config(&schema_name())).await.expect("connect to KANECT_TEST_PG")
}

/// `store` closed (its pool and every connection of it) and connected again to the same
/// database and schema, as a restart of the process would.
pub(crate) async fn reconnect(store: PgStore) -> PgStore {
    let config = store.config().clone();
    drop(store);
    PgStore::connect_with(config).await.expect("reconnect to KANECT_TEST_PG")
}

/// A plain client with `schema` on its search path, for what the store API cannot do.
pub(crate) async fn raw_client(schema: &str) -> tokio_postgres::Client {
    let mut config: tokio_postgres::Config = url().parse().expect("KANECT_TEST_PG is a valid URL");
    config.options(format!("-c search_path={schema}"));
    let (client, connection) = config.connect(tokio_postgres::NoTls).await.expect("connect to KANECT_TEST_PG");
    tokio::spawn(connection);
    client
}

async fn drop_stale_schemas() {
    static DONE: AtomicBool = AtomicBool::new(false);
    if DONE.swap(true, Ordering::SeqCst) {
        return;
    }
    let client = raw_client("public").await;
    let rows = client
        .query(r"SELECT nspname FROM pg_namespace WHERE nspname LIKE 'kanect\_test\_%'", &[])
        .await
        .expect("list test schemas");
    let now = SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    for row in rows {
        let name: String = row.get(0);
        let created = name.split('_').nth(2).and_then(|secs| secs.parse::<u64>().ok());
        if created.is_some_and(|secs| secs + 3600 < now) {
            // Another process may be dropping it too; either way it goes.
            let _ = client.batch_execute(&format!("DROP SCHEMA IF EXISTS {name} CASCADE")).await;
        }
    }
}
