//! The core's store conformance suite, run against [`SledStore`].

use kanect_store::SledStore;

kanect_core::store_conformance!(async { SledStore::temporary().unwrap() });
