//! Message search indexes ([`kanect_core::search::SearchIndex`]) beside the stores:
//!
//! - `tantivy` (feature `tantivy`) — [`TantivyIndex`]: a tantivy index in the embedded stores'
//!   data directory (`<data-dir>/search`), kept up to date off the send path and caught up
//!   from the store when it is behind.
//! - the PostgreSQL one is `PgStore::search_index` (feature `postgres`, module `pg::search`):
//!   PostgreSQL's own full-text search over the messages table, so a cluster needs no new
//!   service.
//!
//! Both pass the core's search conformance suite (`kanect_core::search_conformance!`).

#[cfg(feature = "tantivy")]
mod tantivy;

#[cfg(feature = "tantivy")]
pub use self::tantivy::{TantivyConfig, TantivyIndex};
