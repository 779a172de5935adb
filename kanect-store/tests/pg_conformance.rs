//! The store conformance suite against a real PostgreSQL (`KANECT_TEST_PG`), each test in a
//! fresh schema; the model test restarts the store (a new pool, connected to the same schema)
//! between operations.
#![cfg(feature = "postgres")]

mod pg_support;

kanect_core::store_conformance!(
    #[cfg_attr(not(kanect_test_pg), ignore = "set KANECT_TEST_PG to run")]
    async {
        pg_support::fresh_store().await
    },
    reopen = pg_support::reconnect,
);
