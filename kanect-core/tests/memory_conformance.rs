//! The store conformance suite on MemoryStore.

use kanect_core::MemoryStore;

kanect_core::store_conformance!(async { MemoryStore::new() });

use kanect_core::blob::MemoryBlobStore;
kanect_core::blob_conformance!(async { MemoryBlobStore::new() });
