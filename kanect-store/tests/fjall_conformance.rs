//! The core's store conformance suite, run against [`FjallStore`]; the model test restarts it
//! (closes it and opens its directory again) between operations.

#![cfg(feature = "fjall")]

use kanect_store::FjallStore;

kanect_core::store_conformance!(
    async { FjallStore::temporary().unwrap() },
    reopen = |store: FjallStore| async move { store.reopen().unwrap() },
);
