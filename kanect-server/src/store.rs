//! The store the server runs on, from its flags: fjall or sled in `--data-dir`, memory, or
//! PostgreSQL (`--store`); and what sits beside it: the attachments' bytes and the search index.

use crate::AnyError;
use clap::Args;
use kanect::blob::{BlobStore, MemoryBlobStore};
use kanect::search::{MemorySearchIndex, SearchIndex};
use kanect::{MemoryStore, Store, StoreError};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The store: embedded in `--data-dir`, in memory, or shared (a cluster's nodes all name the
/// same `--store`); and message search beside it.
#[derive(Args, Debug)]
pub(crate) struct StoreFlags {
    /// Where the embedded store keeps its files.
    #[arg(long, global = true, env = "KANECT_DATA_DIR", default_value = "./kanect-data")]
    pub(crate) data_dir: PathBuf,
    /// The embedded store's engine: `fjall` (the default) or `sled` (feature `sled`), for a
    /// data directory sled wrote. Each refuses the other's directory, naming the migration.
    #[arg(long, global = true, env = "KANECT_ENGINE", value_enum, default_value_t = Engine::Fjall)]
    pub(crate) engine: Engine,
    /// Keep everything in memory (lost at exit) instead of on disk.
    #[arg(long, global = true, env = "KANECT_MEMORY")]
    pub(crate) memory: bool,
    /// A shared store instead of the embedded one: `postgres://user:password@host/database` (feature
    /// `postgres`). Every node of a cluster names the same one.
    #[arg(long, global = true, env = "KANECT_STORE", hide_env_values = true)]
    pub(crate) store: Option<String>,
    /// The PostgreSQL schema for Kanect's tables (created if missing; default: the connection's
    /// search_path, normally `public`), so several deployments can share one database.
    #[arg(long, global = true, env = "KANECT_STORE_SCHEMA")]
    pub(crate) store_schema: Option<String>,
    /// PostgreSQL connections this node keeps at most (1 to 1000; default 8). The sum over
    /// all nodes must stay under the database's max_connections; README "Running a cluster"
    /// says how it was sized.
    #[arg(long, global = true, env = "KANECT_STORE_POOL_SIZE", value_name = "N", value_parser = clap::value_parser!(u64).range(1..=1000))]
    pub(crate) store_pool_size: Option<u64>,
    /// How the connection to PostgreSQL uses TLS, as libpq's sslmode: disable, prefer (the
    /// default: TLS when the server offers it, its certificate unchecked), require, verify-ca or
    /// verify-full (the certificate must chain to --store-ssl-root-cert and name the host). The
    /// --store URL's `sslmode=` does the same; given in both, they must agree.
    #[arg(long, global = true, env = "KANECT_STORE_SSL_MODE", value_parser = SSL_MODES)]
    pub(crate) store_ssl_mode: Option<String>,
    /// The PEM file of the CA certificates that sign PostgreSQL's certificate (libpq's
    /// sslrootcert; `system` for the system's roots). Default for verify-full: the system's
    /// roots; verify-ca needs it. The --store URL's `sslrootcert=` does the same.
    #[arg(long, global = true, env = "KANECT_STORE_SSL_ROOT_CERT")]
    pub(crate) store_ssl_root_cert: Option<PathBuf>,
    /// Turn message search off: no index is kept (`<data-dir>/search` for an embedded store) and
    /// searches get `501 search_disabled`. For comparing send throughput with and without
    /// indexing (benches/README.md, "Search").
    #[arg(long, global = true, env = "KANECT_NO_SEARCH")]
    pub(crate) no_search: bool,
}

/// The embedded store engines (`--engine`).
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Engine {
    /// `FjallStore`, the default.
    Fjall,
    /// `SledStore`, for data directories sled wrote (feature `sled`).
    Sled,
}

/// What the store is opened for: when an embedded store is busy (a server runs on it), what to
/// do instead depends on it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Purpose {
    /// To serve.
    Serve,
    /// `export` or `import`.
    Dump,
    /// `backup` (or `import DIR`).
    Backup,
    /// `create-admin`.
    CreateAdmin,
}

/// `--store-ssl-mode`'s values: libpq's sslmodes but `allow`, as kanect-store's `PgSslMode`
/// spells them (a test checks that each parses), listed here for builds without PostgreSQL.
const SSL_MODES: [&str; 5] = ["disable", "prefer", "require", "verify-ca", "verify-full"];

/// The store from the flags: `--store`, `--memory` or the `--engine` in `--data-dir`.
pub(crate) async fn open_store(flags: &StoreFlags, purpose: Purpose) -> Result<OpenStore, AnyError> {
    if let Some(url) = &flags.store {
        postgres_store(url, flags).await
    } else if flags.memory {
        Ok(OpenStore::Memory(Arc::new(MemoryStore::new())))
    } else {
        std::fs::create_dir_all(&flags.data_dir)?;
        let store =
            embedded_store(flags.engine, &flags.data_dir).map_err(|error| explain_open(flags, purpose, error))?;
        Ok(OpenStore::Embedded(store))
    }
}

/// The store opened, by kind: where attachments' bytes go depends on it.
pub(crate) enum OpenStore {
    /// In memory: the bytes too.
    Memory(Arc<MemoryStore>),
    /// fjall or sled in `--data-dir`: the bytes in files beside it.
    Embedded(Arc<dyn Store>),
    /// PostgreSQL: the bytes in its tables, so every node serves every file.
    #[cfg(feature = "postgres")]
    Postgres(Arc<kanect::store::PgStore>),
}

impl std::ops::Deref for OpenStore {
    type Target = dyn Store;
    fn deref(&self) -> &dyn Store {
        match self {
            OpenStore::Memory(store) => &**store,
            OpenStore::Embedded(store) => &**store,
            #[cfg(feature = "postgres")]
            OpenStore::Postgres(store) => &**store,
        }
    }
}

impl OpenStore {
    /// The store as the engine holds it.
    pub(crate) fn shared(&self) -> Arc<dyn Store> {
        match self {
            OpenStore::Memory(store) => store.clone(),
            OpenStore::Embedded(store) => store.clone(),
            #[cfg(feature = "postgres")]
            OpenStore::Postgres(store) => store.clone(),
        }
    }
}

/// Where attachments' bytes go: beside the store (`--data-dir`/blobs for an embedded one).
pub(crate) fn open_blobs(flags: &StoreFlags, store: &OpenStore) -> Result<Arc<dyn BlobStore>, AnyError> {
    Ok(match store {
        OpenStore::Memory(_) => Arc::new(MemoryBlobStore::new()),
        OpenStore::Embedded(_) => Arc::new(kanect::store::FsBlobStore::open(flags.data_dir.join("blobs"))?),
        #[cfg(feature = "postgres")]
        OpenStore::Postgres(store) => Arc::new(store.blobs()),
    })
}

/// The message search index beside the store, if search is on.
#[derive(Default)]
pub(crate) struct Search {
    /// What the engine searches with.
    pub(crate) index: Option<Arc<dyn SearchIndex>>,
    /// The same index, when it is a TantivyIndex, to close cleanly at shutdown.
    pub(crate) tantivy: Option<Arc<kanect::store::TantivyIndex>>,
}

/// Message search beside the store (`--no-search`: none): a TantivyIndex in
/// `--data-dir`/search for an embedded store, PostgreSQL's own full-text search beside
/// PostgreSQL, an index in memory beside memory.
pub(crate) fn open_search(flags: &StoreFlags, store: &OpenStore) -> Result<Search, AnyError> {
    if flags.no_search {
        return Ok(Search::default());
    }
    Ok(match store {
        OpenStore::Memory(_) => Search { index: Some(Arc::new(MemorySearchIndex::new())), tantivy: None },
        OpenStore::Embedded(_) => {
            let index = Arc::new(kanect::store::TantivyIndex::open(flags.data_dir.join("search"))?);
            Search { index: Some(index.clone()), tantivy: Some(index) }
        }
        #[cfg(feature = "postgres")]
        OpenStore::Postgres(store) => Search { index: Some(Arc::new(store.search_index())), tantivy: None },
    })
}

/// The `engine`'s store in `dir`; an engine left out of this build is an error naming its
/// feature.
pub(crate) fn embedded_store(engine: Engine, dir: &Path) -> Result<Arc<dyn Store>, StoreError> {
    match engine {
        Engine::Fjall => Ok(Arc::new(kanect::store::FjallStore::open(dir)?)),
        #[cfg(feature = "sled")]
        Engine::Sled => Ok(Arc::new(kanect::store::SledStore::open(dir)?)),
        #[allow(unreachable_patterns)]
        missing => Err(StoreError::Format(format!(
            "--engine {}: this build has no such engine; build with `--features {0}`",
            format!("{missing:?}").to_lowercase()
        ))),
    }
}

/// Says what to do when the data directory is in use (by a server running on it, most
/// likely), instead of the store's lock error; other errors pass through.
fn explain_open(flags: &StoreFlags, purpose: Purpose, error: StoreError) -> AnyError {
    let busy = std::error::Error::source(&error)
        .and_then(|source| source.downcast_ref::<std::io::Error>())
        .is_some_and(|io| io.kind() == std::io::ErrorKind::ResourceBusy);
    if !busy {
        return error.into();
    }
    let mut text =
        format!("{} is in use by another process: is a Kanect server running on it?", flags.data_dir.display());
    if purpose == Purpose::Dump {
        text.push_str(
            " An embedded store is one process's: export from the running server over its API (export \
             FILE --from http://HOST:PORT --admin-username NAME, the password on stdin), or stop \
             the server to export or import, or run the server on PostgreSQL (--store), which an \
             export reads beside running servers.",
        );
    }
    if purpose == Purpose::Backup {
        text.push_str(
            " An embedded store is one process's: back up the running server over its API (backup \
             DIR --from http://HOST:PORT --admin-username NAME --data-dir DIR, the password on stdin; \
             the attachments are read from --data-dir/blobs beside it), or stop the server, or run \
             it on PostgreSQL (--store).",
        );
    }
    if purpose == Purpose::CreateAdmin {
        text.push_str(
            " create-admin needs the store to itself: stop the server and run it again, or have the \
             server create the administrator as it starts, with --admin-username and \
             --admin-password (KANECT_ADMIN_USERNAME, KANECT_ADMIN_PASSWORD); an administrator \
             can also promote an existing account in the admin area.",
        );
    }
    text.into()
}

#[cfg(feature = "postgres")]
pub(crate) async fn postgres_store(url: &str, flags: &StoreFlags) -> Result<OpenStore, AnyError> {
    use kanect::store::{PgConfig, PgSslMode, PgStore};
    if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
        return Err("--store: expected a postgres:// or postgresql:// URL".into());
    }
    let schema = flags.store_schema.clone();
    let ssl_mode = match &flags.store_ssl_mode {
        Some(mode) => Some(mode.parse::<PgSslMode>().map_err(|error| format!("--store-ssl-mode: {error}"))?),
        None => None,
    };
    tracing::info!(schema = schema.as_deref().unwrap_or("(search_path)"), "store: PostgreSQL");
    let mut config =
        PgConfig { schema, ssl_mode, ssl_root_cert: flags.store_ssl_root_cert.clone(), ..PgConfig::new(url) };
    if let Some(size) = flags.store_pool_size {
        config.pool_size = usize::try_from(size)?;
    }
    Ok(OpenStore::Postgres(Arc::new(PgStore::connect_with(config).await?)))
}

#[cfg(not(feature = "postgres"))]
pub(crate) async fn postgres_store(_url: &str, _flags: &StoreFlags) -> Result<OpenStore, AnyError> {
    Err("--store: this build has no postgres support; build with --features postgres".into())
}

#[cfg(all(test, feature = "postgres"))]
mod tests {
    use super::SSL_MODES;
    use kanect::store::PgSslMode;

    #[test]
    fn the_flags_ssl_modes_are_the_stores() {
        let parsed: Vec<PgSslMode> = SSL_MODES.iter().map(|mode| mode.parse().unwrap()).collect();
        assert_eq!(parsed, PgSslMode::ALL);
    }
}
