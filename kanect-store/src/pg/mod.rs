//! [`PgStore`]: the PostgreSQL backend, for deployments where several Kanect nodes share one
//! database (feature `postgres`).
//!
//! Connections come from a deadpool pool of tokio-postgres clients; hot statements are prepared
//! once per connection (`prepare_cached`). Every invariant of the [`Store`](kanect_core::Store)
//! contract is kept *by the database*, so it holds across nodes, not just within one process:
//!
//! - usernames: a unique constraint on the folded username;
//! - seqs: `kanect_conversation_seqs` holds each conversation's last seq. The appends waiting
//!   on a node go as one statement (`append_batch`: group commit) that adds each conversation's
//!   count to its row with one upsert, rows taken in conversation-id order on every node, and
//!   inserts all the messages, numbered in queue order. The upsert's row lock is held until the
//!   batch commits, so concurrent batches on any node queue on that row and seqs stay gap-free
//!   (a failed batch rolls its increments back too);
//! - client ids: a unique constraint on (conversation, sender, client id). A batch answers the
//!   keys it finds stored with their originals, and a key repeated within a batch with the first
//!   one's message. A resend that races in from elsewhere fails that constraint, which rolls
//!   back the whole batch; it is then appended one message at a time, where the loser's
//!   original is read and returned;
//! - sends from members: [`append_member_message`](kanect_core::backend::MessageStore::append_member_message)
//!   locks the sender's membership row (`FOR KEY SHARE`) in the append's statement: a member
//!   removed through any node before that cannot send, and a removal waits for the append;
//! - memberships: each change is one transaction that locks the conversation row;
//! - receipts: one upsert with `GREATEST`, so they only move forward;
//! - attachment claims: a transaction that locks the claimed rows (`SELECT ... FOR UPDATE`)
//!   before it checks and updates them, so of concurrent claims on any nodes exactly one wins;
//! - log-in attempts: each count is a transaction that holds the row locks of all the
//!   attempt's keys (taken in key order) from reading the records to writing the decision, so
//!   concurrent attempts on any node see each other, and an attempt counts at all its keys or
//!   at none;
//! - invite redemptions: one `UPDATE` that takes a use only while one is left and the invite
//!   is unexpired, so concurrent sign-ups on any node never take more uses than it has;
//! - rate-limit buckets (`rate_buckets`): a take holds the bucket's row lock from reading its
//!   state to writing the decision, by the database's clock, so nodes never both spend one
//!   token.
//!
//! **Durability.** A write returns after its transaction commits, which PostgreSQL makes
//! durable (with the default `synchronous_commit = on`); [`Store::flush`](kanect_core::Store::flush)
//! has nothing left to do. An append is answered after its batch's commit, so many appends
//! share one commit (one WAL flush) and one round trip, none is answered before it. The
//! exceptions are `kanect_login_attempts` and `kanect_rate_buckets`, `UNLOGGED` tables (see
//! their migrations): losing them only shortens log-in slow-downs and refills rate limits early.
//!
//! **Failures.** A write whose connection breaks before the answer to its commit arrives may
//! have been committed or not (the outcome is unknown, as the core's store contract says); an
//! append retried with the same client id then fails the unique constraint if it was, and
//! returns the original. For a batch, every append in it gets that error. A batch that
//! PostgreSQL refuses as a whole (a value it does not take, a deadlock) wrote nothing and is
//! appended one message at a time, so each append gets its own answer. The pool replaces
//! broken connections by itself. A connection that the network cuts off (a partition: packets
//! vanish, nothing resets it) is dropped once the database has not answered for
//! [`PgConfig::dead_connection_timeout`] (TCP user timeout and keepalives), so a call on it
//! fails with a backend error in seconds instead of hanging until the kernel gives up, minutes
//! later (`tests/cluster_partition.rs` cuts a node's link).
//! [`Store::health`](kanect_core::Store::health) takes a pooled connection and runs `SELECT 1`,
//! within 800 ms: failed if either fails or takes longer.
//!
//! **Schema.** [`PgStore::connect_with`] applies the migrations under `migrations/` (see
//! `migrate`). [`PgConfig::schema`] puts all tables in one PostgreSQL schema (created if
//! missing), which lets several deployments — or test runs — share a database.
//!
//! **TLS.** Connections use TLS as libpq's `sslmode` and `sslrootcert` say (see `tls`), given
//! as [`PgConfig`] fields or as the URL's parameters (`?sslmode=verify-full&sslrootcert=...`,
//! which `conninfo` takes out before tokio-postgres, which refuses them, parses the rest). The
//! default is libpq's `prefer`: encrypted when the server offers TLS, the certificate unchecked;
//! `verify-full` is what protects against someone in the middle. The roots are read once, when
//! the store connects, so a bad file fails the start. A connection that fails says which TLS
//! settings it was made under.
//!
//! **Layout.** Each store trait's impl is a file of its own (`users`, `sessions`,
//! `login_attempts`, `conversations`, `messages`, `attachments`, `admin`, `rate_buckets`;
//! [`Store`] itself here), with one SQL
//! statement (or one short transaction) per operation, but appends, which `append_batch` groups; how each invariant is kept across nodes
//! is said above, and the comments there only say what is not obvious from the SQL. `sql` runs
//! statements, `rows` decodes them, `migrate` keeps the schema, `search` is message search
//! ([`PgStore::search_index`]), `purge` vacuums deleted and
//! edited message bodies out of the table's pages, `tls` and `conninfo` are how connections are
//! encrypted.
//!
//! **Deletion.** A deleted or edited message's old body stays in the table's pages until a
//! `VACUUM`; the store runs one within ten minutes of a delete or an edit ([`PgStore::purge`]
//! runs it now). PostgreSQL's WAL, replicas and backups keep copies beyond that: see `purge`.

mod account_tokens;
mod admin;
mod append_batch;
mod attachments;
mod conninfo;
mod conversations;
mod invites;
mod login_attempts;
mod messages;
mod migrate;
mod notifications;
mod purge;
mod rate_buckets;
mod rows;
mod search;
mod sessions;
mod sql;
mod tls;
mod users;

pub use search::PgSearchIndex;
pub use tls::{PgSslMode, UnknownSslMode};

use async_trait::async_trait;
use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use kanect_core::backend::{SharedRateBuckets, Store, StoreResult};
use kanect_core::{StoreError, StoreHealth};
use std::path::PathBuf;
use std::time::Duration;
use tokio_postgres::error::SqlState;

/// How to reach PostgreSQL and how to use it.
#[derive(Clone, Debug)]
pub struct PgConfig {
    /// A libpq-style URL or key-value string, e.g. `postgres://kanect@db.internal/kanect`.
    /// Besides the parameters tokio-postgres takes, it may carry `sslmode` (all five of
    /// libpq's values but `allow`) and `sslrootcert`, as the two fields below.
    pub url: String,
    /// The PostgreSQL schema that holds Kanect's tables (created if missing); None uses the
    /// connection's default `search_path` (normally `public`). Lower-case letters, digits and `_`.
    pub schema: Option<String>,
    /// Connections kept at most. Each node needs about as many as it has concurrent store
    /// calls; the database's `max_connections` bounds the sum over all nodes. Default 8: at
    /// saturation on a two-core database, 4 and 8 connections delivered more than 16 and 32
    /// (more backends only compete for the database's cores; README "Sizing PostgreSQL").
    pub pool_size: usize,
    /// How long to wait for a new connection before failing. Default 10 s.
    pub connect_timeout: Duration,
    /// How long a connection may go without a sign of life from the database before it is
    /// dropped and the call on it fails with a backend error: data sent and unacknowledged
    /// this long (`TCP_USER_TIMEOUT`), or, on an idle connection, keepalive probes unanswered
    /// this long after it fell silent. A network partition leaves connections hanging, not
    /// reset: without this a call on one waits for the kernel to give up (about 15 minutes on
    /// Linux), holding its pooled connection, and the node neither answers nor frees its pool.
    /// The URL's `tcp_user_timeout` and `keepalives_idle` (seconds), if given, win. Default 5 s.
    /// The database's side: it ends a session of ours left idle inside a transaction for three
    /// times this (at least 5 s; `idle_in_transaction_session_timeout`, unless the URL's
    /// `options` set it), so a node cut off mid-transaction does not hold its row locks.
    pub dead_connection_timeout: Duration,
    /// How long a store call waits for a free pooled connection before failing with a
    /// backend error (rather than queueing forever when the database is slow). Default 30 s.
    pub wait_timeout: Duration,
    /// How connections use TLS (libpq's `sslmode`). None: the URL's `sslmode`, or else
    /// [`PgSslMode::Prefer`] (libpq's default: encrypted if the server offers TLS, certificate
    /// unchecked), or [`PgSslMode::VerifyFull`] with `sslrootcert` `system`. Given here and in
    /// the URL, the two must agree.
    pub ssl_mode: Option<PgSslMode>,
    /// The PEM file of the CA certificates that sign the server's certificate (libpq's
    /// `sslrootcert`), or `system` for the system's roots. None: the URL's `sslrootcert`, or
    /// else the system's roots for `verify-full`, none for the weaker modes (given, a `prefer`
    /// or `require` connection checks the chain too, as libpq's does); `verify-ca`, which checks
    /// no host name, needs one named (the system's roots would take any public CA's certificate).
    pub ssl_root_cert: Option<PathBuf>,
}

impl PgConfig {
    /// The defaults for `url`.
    pub fn new(url: impl Into<String>) -> Self {
        PgConfig {
            url: url.into(),
            schema: None,
            pool_size: 8,
            connect_timeout: Duration::from_secs(10),
            dead_connection_timeout: Duration::from_secs(5),
            wait_timeout: Duration::from_secs(30),
            ssl_mode: None,
            ssl_root_cert: None,
        }
    }
}

/// A [`Store`](kanect_core::Store) on PostgreSQL, for several nodes sharing one database.
/// Cheap to share behind an `Arc`; every method takes a pooled connection for its duration.
///
/// Every invariant of the store contract (unique folded usernames, gap-free seqs, client-id
/// deduplication, atomic membership changes, receipts that only move forward) is enforced by
/// the database itself, so it holds across nodes. A write returns once committed (durable with
/// PostgreSQL's default `synchronous_commit = on`). Connecting applies the schema migrations
/// shipped with this crate, under an advisory lock, so nodes may start together. Connections
/// use TLS as [`PgConfig::ssl_mode`] says: by default when the server offers it, unchecked.
///
/// A deleted or edited message's old body leaves the table's pages at a `VACUUM` that the
/// store runs within ten minutes ([`PgStore::purge`] at once); PostgreSQL's WAL, archives,
/// replicas and backups keep copies that only the operator can bound (see the README's
/// Storage section).
///
/// ```no_run
/// # async fn example() -> Result<(), kanect_core::StoreError> {
/// use kanect_store::{PgConfig, PgStore};
/// let store = PgStore::connect("postgres://kanect@127.0.0.1/kanect").await?;
/// let config = PgConfig { pool_size: 32, ..PgConfig::new("postgres://kanect@127.0.0.1/kanect") };
/// let tuned = PgStore::connect_with(config).await?;
/// // TLS with the certificate checked: in the URL as with libpq, or in the config
/// let url = "postgres://kanect@db.internal/kanect?sslmode=verify-full&sslrootcert=/etc/kanect/pg-ca.pem";
/// let checked = PgStore::connect(url).await?;
/// # Ok(()) }
/// ```
pub struct PgStore {
    pool: Pool,
    /// The TLS settings in force, which a failed connection names.
    tls: tls::Tls,
    /// How it was connected, to connect again the same way ([`PgStore::config`]).
    config: PgConfig,
    /// Vacuums the messages table after deletes and edits (see `purge`).
    purge: purge::Purger,
    /// Groups the appends waiting on this node into one statement and commit (see
    /// `append_batch`).
    appends: append_batch::Appender,
}

impl std::fmt::Debug for PgStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let status = self.pool.status();
        f.debug_struct("PgStore").field("size", &status.size).field("available", &status.available).finish()
    }
}

impl PgStore {
    /// The newest schema version this build knows (the number of the last migration).
    pub const SCHEMA_VERSION: i32 = migrate::LATEST;

    /// Connects with [`PgConfig::new`]`(url)` defaults. See [`PgStore::connect_with`].
    ///
    /// # Errors
    /// As [`PgStore::connect_with`].
    pub async fn connect(url: &str) -> Result<PgStore, StoreError> {
        Self::connect_with(PgConfig::new(url)).await
    }

    /// Builds the pool, checks that the database answers, and brings the schema up to date.
    /// Several nodes may start at once: migrations run under an advisory lock.
    ///
    /// # Errors
    /// [`StoreError::Backend`] for a malformed URL or schema name, TLS settings that cannot be
    /// used (an unknown `sslmode`, a root certificate file that cannot be read or holds no
    /// certificate, a setting given differently in the URL and the config), or when the
    /// database cannot be reached (also: the server refuses TLS that the mode requires, or its
    /// certificate fails the mode's check; the error names the TLS settings);
    /// [`StoreError::Format`] when the database's schema is newer than this build.
    pub async fn connect_with(config: PgConfig) -> Result<PgStore, StoreError> {
        let conninfo = conninfo::split(&config.url).map_err(|error| StoreError::backend(PgError::Config(error)))?;
        let tls = tls::Tls::resolve(config.ssl_mode, config.ssl_root_cert.as_deref(), &conninfo)
            .map_err(StoreError::backend)?;
        let mut pg: tokio_postgres::Config = conninfo.rest.parse().map_err(StoreError::backend)?;
        pg.ssl_mode(tls.postgres_mode());
        if pg.get_connect_timeout().is_none() {
            pg.connect_timeout(config.connect_timeout);
        }
        dead_connections_time_out(&mut pg, config.dead_connection_timeout);
        if pg.get_application_name().is_none() {
            pg.application_name("kanect");
        }
        let mut options: Vec<String> = pg.get_options().map(str::to_string).into_iter().collect();
        if let Some(schema) = &config.schema {
            check_schema_name(schema)?;
            // Every pooled connection starts with the schema first on its search path.
            options.push(format!("-c search_path={schema}"));
        }
        options.extend(stuck_transactions_end(pg.get_options(), config.dead_connection_timeout));
        if !options.is_empty() {
            pg.options(options.join(" "));
        }
        let connector = tls.connector().map_err(StoreError::backend)?;
        let manager = Manager::from_config(pg, connector, ManagerConfig { recycling_method: RecyclingMethod::Fast });
        let pool = Pool::builder(manager)
            .max_size(config.pool_size.max(1))
            .runtime(Runtime::Tokio1)
            .create_timeout(Some(config.connect_timeout))
            .wait_timeout(Some(config.wait_timeout))
            .build()
            .map_err(StoreError::backend)?;
        let purge = purge::Purger::start(pool.clone());
        let appends = append_batch::Appender::start(pool.clone(), connect_error, tls.to_string());
        let store = PgStore { pool, tls, config, purge, appends };
        let mut client = store.client().await?;
        migrate::run(&mut client, store.config.schema.as_deref()).await?;
        drop(client);
        Ok(store)
    }

    /// The configuration the store was connected with: [`PgStore::connect_with`] it again to
    /// reach the same database and schema (a restart, in a test).
    pub fn config(&self) -> &PgConfig {
        &self.config
    }

    /// The schema version the database is at (after [`connect`](PgStore::connect), normally
    /// [`PgStore::SCHEMA_VERSION`]).
    ///
    /// # Errors
    /// [`StoreError::Backend`] when the database cannot be reached.
    pub async fn schema_version(&self) -> Result<i32, StoreError> {
        let client = self.client().await?;
        migrate::current_version(&client).await
    }

    /// The pool, for the stores that share it ([`PgStore::blobs`]).
    pub(crate) fn pool(&self) -> &Pool {
        &self.pool
    }

    /// A pooled connection. A new connection that fails names the TLS settings it was made
    /// under: a refused certificate, or a server without TLS, is otherwise hard to tell apart
    /// from other failures to connect.
    async fn client(&self) -> StoreResult<deadpool_postgres::Object> {
        self.pool.get().await.map_err(|error| connect_error(&self.tls.to_string(), error))
    }

    /// Batch statements of appends committed so far (group commit: see the module docs). With
    /// [`PgStore::appends_batched`], how many appends share a commit on average.
    pub fn append_batches(&self) -> u64 {
        self.appends.stats().batches
    }

    /// Appends answered by a committed batch statement so far (not those of a batch that
    /// failed as a whole and went one by one: [`PgStore::append_fallbacks`]).
    pub fn appends_batched(&self) -> u64 {
        self.appends.stats().batched
    }

    /// Batches PostgreSQL refused as a whole and that were appended one message at a time.
    pub fn append_fallbacks(&self) -> u64 {
        self.appends.stats().fallbacks
    }

    /// Batch statements run a second time because a resend of one of their messages
    /// committed elsewhere while they ran (the second run answers it as a duplicate).
    pub fn append_reruns(&self) -> u64 {
        self.appends.stats().reruns
    }

    /// Batches of appends formed and not yet answered (at most
    /// [`PgStore::APPEND_BATCHES_IN_FLIGHT`]).
    pub fn append_batches_in_flight(&self) -> usize {
        self.appends.stats().in_flight
    }

    /// Appends queued for the next batch.
    pub fn appends_queued(&self) -> usize {
        self.appends.stats().queued
    }

    /// How many batches of appends commit at once, each on its own pooled connection: the pool
    /// needs that many connections besides those of the other calls.
    pub const APPEND_BATCHES_IN_FLIGHT: usize = append_batch::IN_FLIGHT;
}

/// Maps a pool's error: a new connection that fails names the TLS settings it was made under.
fn connect_error(tls: &str, error: deadpool_postgres::PoolError) -> StoreError {
    match error {
        deadpool_postgres::PoolError::Backend(_) => {
            StoreError::backend(PgError::Connect { tls: tls.to_string(), source: error })
        }
        other => StoreError::backend(other),
    }
}

#[async_trait]
impl Store for PgStore {
    async fn flush(&self) -> StoreResult<()> {
        // Every write returned after its commit, which PostgreSQL had already made durable.
        Ok(())
    }

    async fn health(&self) -> StoreHealth {
        let answered = tokio::time::timeout(HEALTH_TIMEOUT, async {
            let client = self.client().await?;
            client.simple_query("SELECT 1").await.map_err(db)
        })
        .await;
        match answered {
            Ok(Ok(_)) => StoreHealth::Ok,
            Ok(Err(error)) => {
                tracing::warn!(%error, "health check: PostgreSQL does not answer");
                StoreHealth::Failed
            }
            Err(_) => {
                tracing::warn!(
                    timeout_ms = HEALTH_TIMEOUT.as_millis() as u64,
                    "health check: PostgreSQL did not answer in time"
                );
                StoreHealth::Failed
            }
        }
    }

    fn shared_rate_buckets(&self) -> Option<&dyn SharedRateBuckets> {
        // Several nodes share one database: see `rate_buckets`.
        Some(self)
    }
}

/// Bounds how long a connection to an unreachable database lives (see
/// [`PgConfig::dead_connection_timeout`]): unacknowledged data for `timeout`, or silence for
/// `timeout` and then five keepalive probes a fifth of it apart, unanswered. Settings the
/// URL gave (`tcp_user_timeout`; `keepalives_idle` other than tokio-postgres's two-hour
/// default) stay.
fn dead_connections_time_out(pg: &mut tokio_postgres::Config, timeout: Duration) {
    const TOKIO_POSTGRES_DEFAULT_IDLE: Duration = Duration::from_secs(2 * 60 * 60);
    if pg.get_tcp_user_timeout().is_none() {
        pg.tcp_user_timeout(timeout);
    }
    if pg.get_keepalives_idle() == TOKIO_POSTGRES_DEFAULT_IDLE {
        pg.keepalives_idle(timeout.max(Duration::from_secs(1)));
        if pg.get_keepalives_interval().is_none() {
            pg.keepalives_interval((timeout / 5).max(Duration::from_secs(1)));
        }
        if pg.get_keepalives_retries().is_none() {
            pg.keepalives_retries(5);
        }
    }
}

/// The option that has PostgreSQL end a session of ours left idle inside a transaction for
/// three times `timeout` (at least 5 s): a node cut off between two statements of a
/// transaction (a membership change holds its rows' locks until its commit) would otherwise
/// hold those locks until PostgreSQL's own keepalives give up on it, two hours by default,
/// and every send to those conversations, from any node, would wait as long. Kanect's
/// transactions never wait between statements on anything but the network. None if the URL's
/// options already set it.
fn stuck_transactions_end(given: Option<&str>, timeout: Duration) -> Option<String> {
    if given.is_some_and(|options| options.contains("idle_in_transaction_session_timeout")) {
        return None;
    }
    let millis = (timeout * 3).max(Duration::from_secs(5)).as_millis();
    Some(format!("-c idle_in_transaction_session_timeout={millis}"))
}

/// How long a health check waits for a pooled connection and a `SELECT 1`: well under the
/// timeout of a load balancer's health probe (often 1-2 s), so that a database that stalls
/// (rather than refusing) reads as failed, not as a node that does not answer.
const HEALTH_TIMEOUT: std::time::Duration = std::time::Duration::from_millis(800);

/// Schema names go into connection options and DDL, so only plain identifiers are accepted.
fn check_schema_name(schema: &str) -> StoreResult<()> {
    let mut chars = schema.chars();
    let plain = chars.next().is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && schema.len() <= 63;
    if plain {
        Ok(())
    } else {
        Err(StoreError::backend(PgError::Config(format!(
            "schema name {schema:?} must be 1-63 lower-case letters, digits or '_', not starting with a digit"
        ))))
    }
}

/// Failures of this backend that are not PostgreSQL's own.
#[derive(Debug, thiserror::Error)]
enum PgError {
    /// The configuration cannot be used.
    #[error("invalid PostgreSQL configuration: {0}")]
    Config(String),
    /// A new connection failed (the database is down, refused the log-in, refused TLS, or sent
    /// a certificate the TLS settings refuse).
    #[error("cannot connect to PostgreSQL ({tls})")]
    Connect {
        /// The TLS settings in force, as [`tls::Tls`] shows them.
        tls: String,
        #[source]
        source: deadpool_postgres::PoolError,
    },
    /// A number does not fit PostgreSQL's BIGINT.
    #[error("{0} does not fit in a PostgreSQL BIGINT")]
    OutOfRange(&'static str),
}

/// Maps a PostgreSQL error: unique violations become [`StoreError::Conflict`], the rest
/// (connection, syntax, anything unexpected) [`StoreError::Backend`].
pub(crate) fn db(error: tokio_postgres::Error) -> StoreError {
    if error.code() == Some(&SqlState::UNIQUE_VIOLATION) {
        StoreError::Conflict(kanect_core::Conflict::Exists)
    } else {
        StoreError::backend(error)
    }
}

/// Whether `error` is a violation of the named unique constraint.
fn violates(error: &tokio_postgres::Error, constraint: &str) -> bool {
    error.code() == Some(&SqlState::UNIQUE_VIOLATION)
        && error.as_db_error().and_then(|e| e.constraint()).is_some_and(|name| name == constraint)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schema_names_are_plain_identifiers() {
        assert!(check_schema_name("kanect").is_ok());
        assert!(check_schema_name("kanect_test_01").is_ok());
        for bad in ["", "1abc", "Kanect", "a;drop", "a b", "a\"b", &"x".repeat(64)] {
            assert!(matches!(check_schema_name(bad), Err(StoreError::Backend(_))), "{bad:?}");
        }
    }

    #[test]
    fn dead_connections_time_out_unless_the_url_says_otherwise() {
        let mut pg: tokio_postgres::Config = "host=127.0.0.1 user=kanect".parse().unwrap();
        dead_connections_time_out(&mut pg, Duration::from_secs(5));
        assert_eq!(pg.get_tcp_user_timeout(), Some(&Duration::from_secs(5)));
        assert!(pg.get_keepalives());
        assert_eq!(pg.get_keepalives_idle(), Duration::from_secs(5));
        assert_eq!(pg.get_keepalives_interval(), Some(Duration::from_secs(1)));
        assert_eq!(pg.get_keepalives_retries(), Some(5));
        let mut given: tokio_postgres::Config =
            "host=127.0.0.1 user=kanect tcp_user_timeout=30 keepalives_idle=60".parse().unwrap();
        dead_connections_time_out(&mut given, Duration::from_secs(5));
        assert_eq!(given.get_tcp_user_timeout(), Some(&Duration::from_secs(30)));
        assert_eq!(given.get_keepalives_idle(), Duration::from_secs(60));
    }

    #[test]
    fn a_transaction_left_idle_is_ended_unless_the_url_says_otherwise() {
        let option = stuck_transactions_end(None, Duration::from_secs(5));
        assert_eq!(option.as_deref(), Some("-c idle_in_transaction_session_timeout=15000"));
        let short = stuck_transactions_end(Some("-c search_path=x"), Duration::from_millis(100));
        assert_eq!(short.as_deref(), Some("-c idle_in_transaction_session_timeout=5000"), "5 s at least");
        assert_eq!(
            stuck_transactions_end(Some("-c idle_in_transaction_session_timeout=0"), Duration::from_secs(5)),
            None
        );
    }

    #[tokio::test]
    #[cfg_attr(not(kanect_test_pg), ignore = "set KANECT_TEST_PG to run")]
    async fn the_database_ends_a_connection_of_ours_left_idle_in_a_transaction() {
        let url = std::env::var("KANECT_TEST_PG").expect("KANECT_TEST_PG names a database");
        let config = PgConfig { dead_connection_timeout: Duration::from_millis(100), ..PgConfig::new(url) };
        let store = PgStore::connect_with(config).await.expect("connect");
        let mut client = store.client().await.expect("a connection");
        let shown = client.simple_query("SHOW idle_in_transaction_session_timeout").await.expect("show");
        let value = shown.iter().find_map(|m| match m {
            tokio_postgres::SimpleQueryMessage::Row(row) => row.get(0).map(str::to_string),
            _ => None,
        });
        assert_eq!(value.as_deref(), Some("5s"));
        // A transaction that takes a lock and then waits on nothing but us: PostgreSQL ends it.
        let tx = client.transaction().await.expect("begin");
        tx.simple_query("SELECT pg_advisory_xact_lock(4242)").await.expect("lock");
        tokio::time::sleep(Duration::from_secs(6)).await;
        assert!(tx.simple_query("SELECT 1").await.is_err(), "the session was ended, its locks released");
    }

    #[tokio::test]
    async fn a_malformed_url_is_a_backend_error() {
        let error = PgStore::connect("postgres://host:notaport/db").await.unwrap_err();
        assert!(matches!(error, StoreError::Backend(_)), "{error:?}");
    }
}
