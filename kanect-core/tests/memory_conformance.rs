//! The store conformance suite on MemoryStore.

use kanect_core::MemoryStore;

kanect_core::store_conformance!(async { MemoryStore::new() });
