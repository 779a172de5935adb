//! The core's store conformance suite, run against [`SledStore`]; the model test restarts it
//! (closes it and opens its directory again) between operations.

#![cfg(feature = "sled")]

use kanect_store::SledStore;

kanect_core::store_conformance!(
    async { SledStore::temporary().unwrap() },
    reopen = |store: SledStore| async move { store.reopen().unwrap() },
);
