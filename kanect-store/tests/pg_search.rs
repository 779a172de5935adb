//! The core's search conformance suite against PostgreSQL's full-text search
//! (`PgStore::search_index`), each test in a fresh schema (`KANECT_TEST_PG`).
#![cfg(feature = "postgres")]

mod pg_support;

use kanect_core::testing::search::SearchFixture;

kanect_core::search_conformance!(
    #[cfg_attr(not(kanect_test_pg), ignore = "set KANECT_TEST_PG to run")]
    async {
        let store = pg_support::fresh_store().await;
        let index = store.search_index();
        SearchFixture::new(store, index)
    }
);
