//! The standalone Kanect server: the web app, REST, WebSocket and long-poll on one port, with
//! the embedded fjall store (or sled, `--engine sled`) — or, as one node of a cluster,
//! PostgreSQL and NATS.
//!
//! ```text
//! cargo run --release --example server                      # http://127.0.0.1:8080, ./kanect-data
//! cargo run --release --example server -- --listen 0.0.0.0:80 --data-dir /var/lib/kanect
//! cargo run --release --example server -- --memory          # nothing persisted
//! cargo run --release --example server -- --no-rate-limits  # for load tests
//! cargo run --release --example server -- --no-search       # no message search index
//! cargo run --release --example server -- --tls-cert fullchain.pem --tls-key privkey.pem  # HTTPS (README, "TLS")
//! echo 'a long password' | cargo run --release --example server -- create-admin alice
//! cargo run --release --example server -- export backup.jsonl   # a dump of the store (README)
//! echo 'the admin password' | cargo run --release --example server -- \
//!     export backup.jsonl --from http://127.0.0.1:8080 --admin-username alice  # of a running server
//! cargo run --release --example server -- --data-dir new import backup.jsonl  # into an empty one
//! cargo run --release --example server -- --mail-log --email-verification required  # mails in the log
//! cargo run --release --example server -- --smtp-url 'smtp://user:pass@mail.example.com:587?tls=starttls' \
//!     --mail-from 'Kanect <chat@example.com>' --public-url https://chat.example.com
//! # one node of a cluster (run several with the same --store and --bus):
//! cargo run --release --features postgres,nats --example server -- \
//!     --store postgres://kanect@db/kanect --bus nats://127.0.0.1:4222 --bus-prefix prod
//! ```
//!
//! Deliberately thin: parse flags, build the `Chat` (all in `build_chat`), serve it with
//! `kanect::http::Server` (and the metrics page on `--metrics-listen`, if given). Every flag also
//! reads an environment variable (`KANECT_LISTEN`, `KANECT_DATA_DIR`, `KANECT_STORE`,
//! `KANECT_BUS`, `KANECT_LIMIT_SENDS`, ...; see `--help`). `--store` and `--bus`
//! need the `postgres` and `nats` features; a build without them says so and exits.

#[path = "server/mail.rs"]
mod mail;
#[path = "server/remote_export.rs"]
mod remote_export;

use clap::{Parser, Subcommand};
use kanect::blob::{BlobStore, MemoryBlobStore};
use kanect::http::HttpConfig;
use kanect::search::{MemorySearchIndex, SearchIndex};
use kanect::{
    AttachmentLimits, Chat, ChatBuilder, ChatConfig, InviteLimits, LoginLimits, MemoryStore, Rate, RateLimits,
    Registration, SignUpMode, Store, StoreError,
};
use std::io::{BufRead, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// mimalloc rather than glibc malloc: sled allocates on one thread and frees on another,
/// which glibc's arenas handle slowly and hold on to. Measured with the load generator: more
/// durable sends/s on sled, and less RSS per idle socket (`benches/README.md`, "Allocator").
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

type AnyError = Box<dyn std::error::Error + Send + Sync>;

/// The Kanect chat server: web app, REST, WebSocket and long-poll on one port.
///
/// The flags that choose the store, the bus and the log are global: they may also come after
/// a subcommand (`create-admin NAME --data-dir DIR`).
#[derive(Parser, Debug)]
#[command(version)]
struct Cli {
    /// Address to listen on (port 0 picks a free port; the bound address is printed).
    #[arg(long, env = "KANECT_LISTEN", default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// Serve the Prometheus metrics page, `GET /metrics`, on this address (port 0 picks a free
    /// port; the bound address is printed). Off by default: the page is never on the client
    /// port. Bind it to an address only the scraper reaches, such as 127.0.0.1:9464.
    #[arg(long, env = "KANECT_METRICS_LISTEN")]
    metrics_listen: Option<SocketAddr>,
    /// Where the embedded store keeps its files.
    #[arg(long, global = true, env = "KANECT_DATA_DIR", default_value = "./kanect-data")]
    data_dir: PathBuf,
    /// The embedded store's engine: `fjall` (the default) or `sled` (feature `sled`), for a
    /// data directory sled wrote. Each refuses the other's directory, naming the migration.
    #[arg(long, global = true, env = "KANECT_ENGINE", value_enum, default_value_t = Engine::Fjall)]
    engine: Engine,
    /// Keep everything in memory (lost at exit) instead of on disk.
    #[arg(long, global = true, env = "KANECT_MEMORY", conflicts_with = "store")]
    memory: bool,
    /// A shared store instead of the embedded one: `postgres://user:password@host/database` (feature
    /// `postgres`). Every node of a cluster names the same one.
    #[arg(long, global = true, env = "KANECT_STORE", hide_env_values = true)]
    store: Option<String>,
    /// The PostgreSQL schema for Kanect's tables (created if missing; default: the connection's
    /// search_path, normally `public`), so several deployments can share one database.
    #[arg(long, global = true, env = "KANECT_STORE_SCHEMA", requires = "store")]
    store_schema: Option<String>,
    /// Connect to the other nodes of a cluster through NATS: `nats://host:4222` (feature
    /// `nats`). Without it the node is alone.
    #[arg(long, global = true, env = "KANECT_BUS", hide_env_values = true)]
    bus: Option<String>,
    /// Names the deployment on the bus: only nodes with the same prefix see each other.
    #[arg(long, global = true, env = "KANECT_BUS_PREFIX", default_value = "kanect", requires = "bus")]
    bus_prefix: String,
    /// How often (milliseconds) a node tells the others who is online on it; a node silent
    /// for three of these counts as gone, and its users as offline.
    #[arg(long, global = true, env = "KANECT_HEARTBEAT_MS", default_value_t = 5000, value_parser = clap::value_parser!(u64).range(10..))]
    heartbeat_ms: u64,
    /// How long an online user may go without a device in use (input in the web app, its tab
    /// brought back) before showing as away: a whole number of seconds, minutes or hours, such
    /// as `30s`, `10m` or `1h`.
    #[arg(long, global = true, env = "KANECT_AWAY_AFTER", value_name = "DURATION", default_value = "10m", value_parser = away_after_setting)]
    away_after: Duration,
    /// `--away-after` in whole minutes: the older spelling, kept so that existing setups go on
    /// working.
    #[arg(long, global = true, env = "KANECT_AWAY_AFTER_MINUTES", value_name = "N", conflicts_with = "away_after", value_parser = clap::value_parser!(u64).range(1..=AWAY_AFTER_MAX_SECS / 60))]
    away_after_minutes: Option<u64>,
    /// Log filter: a level (`info`, `debug`) or tracing directives (`kanect_http=debug,info`).
    #[arg(long, global = true, env = "KANECT_LOG", default_value = "info")]
    log: String,
    /// How log lines are written to stderr: `text` for people, `json` for a log collector (one
    /// JSON object a line, with the fields of its spans: the connection's peer, the request's
    /// id, method, route and user; the access log is target `kanect_http::access`).
    #[arg(long, global = true, env = "KANECT_LOG_FORMAT", value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
    /// Extra origins allowed to open WebSockets (comma-separated, e.g. https://chat.example.com).
    #[arg(long, env = "KANECT_ALLOWED_ORIGINS", value_delimiter = ',')]
    allowed_origin: Vec<String>,
    /// Open connections the server holds at once; more wait for a free slot. Raise the
    /// process's file limit (`ulimit -n`) to match.
    #[arg(long, env = "KANECT_MAX_CONNECTIONS", default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(1..))]
    max_connections: u64,
    /// Open connections one client address may hold (an IPv6 client: one /64); more are
    /// refused with `429 too_many_connections`. Trusted proxies are exempt.
    #[arg(long, env = "KANECT_MAX_CONNECTIONS_PER_ADDRESS", default_value_t = 100, value_parser = clap::value_parser!(u64).range(1..))]
    max_connections_per_address: u64,
    /// Devices (WebSockets and long-poll sessions) one account may have connected to this node;
    /// more are refused with `429 too_many_connections`.
    #[arg(long, env = "KANECT_MAX_DEVICES_PER_USER", default_value_t = 16, value_parser = clap::value_parser!(u64).range(1..))]
    max_devices_per_user: u64,
    /// Reverse proxies in front of the server (comma-separated IP addresses): their
    /// `X-Forwarded-For` names the client, and the per-address connection cap does not count
    /// them (cap per client at the proxy).
    #[arg(long, env = "KANECT_TRUSTED_PROXIES", value_delimiter = ',')]
    trusted_proxy: Vec<std::net::IpAddr>,
    /// Serve HTTPS with this certificate chain (PEM: the server's certificate, then any
    /// intermediates), with `--tls-key`. Reloaded without a restart when the files change
    /// (checked every 5 s) or on SIGHUP; a bad new file keeps the old certificate.
    #[arg(long, env = "KANECT_TLS_CERT", value_name = "PATH", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// The private key of `--tls-cert` (PEM: PKCS#8, PKCS#1 or SEC1).
    #[arg(long, env = "KANECT_TLS_KEY", value_name = "PATH", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Mark cookies `Secure` (set when a TLS proxy sits in front; on with `--tls-cert`).
    #[arg(long, env = "KANECT_SECURE_COOKIES")]
    secure_cookies: bool,
    /// Turn every rate limit off, and the per-address caps on password hashes (for load tests:
    /// the load generator signs up hundreds of users from one address, many at once, and sends
    /// far faster than people do). Log-in slow-downs stay.
    #[arg(long, env = "KANECT_NO_RATE_LIMITS")]
    no_rate_limits: bool,
    /// Turn message search off: no index is kept (`<data-dir>/search` for an embedded store) and
    /// searches get `501 search_disabled`. For comparing send throughput with and without
    /// indexing (benches/README.md, "Search").
    #[arg(long, env = "KANECT_NO_SEARCH")]
    no_search: bool,
    /// Sends per account: BURST/PERIOD (e.g. 100/20s: 100 at once, 100 per 20 s), or `off`.
    #[arg(long, env = "KANECT_LIMIT_SENDS", value_name = "RATE", value_parser = rate_setting, default_value_t = RateSetting(RateLimits::default().sends))]
    limit_sends: RateSetting,
    /// Typing signals per account: BURST/PERIOD, or `off`.
    #[arg(long, env = "KANECT_LIMIT_TYPING", value_name = "RATE", value_parser = rate_setting, default_value_t = RateSetting(RateLimits::default().typing))]
    limit_typing: RateSetting,
    /// Groups created per account: BURST/PERIOD, or `off`.
    #[arg(long, env = "KANECT_LIMIT_GROUPS", value_name = "RATE", value_parser = rate_setting, default_value_t = RateSetting(RateLimits::default().group_creations))]
    limit_groups: RateSetting,
    /// Users added to groups per account (at creation or later): BURST/PERIOD, or `off`.
    #[arg(long, env = "KANECT_LIMIT_MEMBER_ADDITIONS", value_name = "RATE", value_parser = rate_setting, default_value_t = RateSetting(RateLimits::default().member_additions))]
    limit_member_additions: RateSetting,
    /// Sign-ups per client address (IPv4 address or IPv6 /64): BURST/PERIOD, or `off`.
    #[arg(long, env = "KANECT_LIMIT_SIGNUPS", value_name = "RATE", value_parser = rate_setting, default_value_t = RateSetting(RateLimits::default().sign_ups_per_address))]
    limit_signups: RateSetting,
    /// Delete messages older than DAYS (1 to 36500), as an administrator's delete does: each
    /// stays in its conversation's history as a deleted message without its text, and open
    /// clients are told. Checked at start and then hourly. `off` keeps messages forever.
    #[arg(long, env = "KANECT_MESSAGE_RETENTION", value_name = "DAYS", value_parser = retention_setting, default_value = "off", allow_negative_numbers = true)]
    message_retention: RetentionSetting,
    /// The largest file a user may upload, in MiB (1 to 1024).
    #[arg(long, env = "KANECT_MAX_FILE_SIZE", value_name = "MIB", default_value_t = 25, value_parser = clap::value_parser!(u64).range(1..=1024))]
    max_file_size: u64,
    /// What one account's files (thumbnails included) may take in all, in MiB (1 to 1048576).
    #[arg(long, env = "KANECT_STORAGE_QUOTA", value_name = "MIB", default_value_t = 1024, value_parser = clap::value_parser!(u64).range(1..=1_048_576))]
    storage_quota: u64,
    /// Who may sign up: `open` (anyone), `invite` (only with an invite link) or `closed` (only
    /// administrators create accounts, from the admin page or `create-admin`).
    #[arg(long, env = "KANECT_SIGN_UP", value_name = "MODE", default_value = "open", value_parser = sign_up_mode)]
    sign_up: SignUpMode,
    /// Let users (not only administrators) make invite links.
    #[arg(long, env = "KANECT_USERS_MAY_INVITE")]
    users_may_invite: bool,
    /// Turn Web Push off: no VAPID key is made, and push subscriptions get `501 push_disabled`
    /// (the web app's desktop notifications, while a tab is open, still work).
    #[arg(long, env = "KANECT_NO_PUSH")]
    no_push: bool,
    /// Who runs this server, for push services to contact (the VAPID `sub`): a `mailto:` or
    /// `https:` URL.
    #[arg(long, env = "KANECT_PUSH_SUBJECT", default_value = "mailto:postmaster@localhost")]
    push_subject: String,
    /// Allow push endpoints over plain http and on private, loopback or link-local addresses.
    /// Off by default, so that a subscription cannot make the server call into its own
    /// network: only for a push service on the operator's network, and for tests.
    #[arg(long, env = "KANECT_PUSH_ALLOW_PRIVATE_ENDPOINTS")]
    push_allow_private_endpoints: bool,
    /// How long after a message a push waits, in milliseconds: a member who reads it meanwhile
    /// on a device (their read receipt reaches it) is not pushed.
    #[arg(long, env = "KANECT_PUSH_GRACE_MS", default_value_t = 2000)]
    push_grace_ms: u64,
    /// At start, make sure this administrator exists (with KANECT_ADMIN_PASSWORD).
    #[arg(long, env = "KANECT_ADMIN_USERNAME", requires = "admin_password")]
    admin_username: Option<String>,
    /// The password for KANECT_ADMIN_USERNAME when it is created.
    #[arg(long, env = "KANECT_ADMIN_PASSWORD", hide_env_values = true, requires = "admin_username")]
    admin_password: Option<String>,
    #[command(flatten)]
    mail: mail::MailFlags,
    #[command(subcommand)]
    command: Option<Command>,
}

/// One rate limit as given on the command line: a rate, or off.
#[derive(Clone, Copy, Debug)]
struct RateSetting(Option<Rate>);

/// Parses `BURST/PERIOD` (see `kanect::Rate`) or `off`.
fn rate_setting(text: &str) -> Result<RateSetting, String> {
    if text.trim().eq_ignore_ascii_case("off") {
        return Ok(RateSetting(None));
    }
    let rate =
        text.parse().map_err(|_| format!("{text:?}: expected BURST/PERIOD such as 100/20s or 10/50m, or off"))?;
    Ok(RateSetting(Some(rate)))
}

/// Parses `--sign-up`.
fn sign_up_mode(text: &str) -> Result<SignUpMode, String> {
    text.parse().map_err(|_| format!("{text:?}: expected open, invite or closed"))
}

/// `--message-retention`: how long messages are kept, or forever.
#[derive(Clone, Copy, Debug)]
struct RetentionSetting(Option<Duration>);

/// The longest retention `--message-retention` takes: 100 years. Longer is kept forever in all
/// but name, so a bigger number is far more likely a typo (a duration in hours or seconds,
/// digits twice) than a decision; forever is `off`.
const RETENTION_MAX_DAYS: u64 = 36_500;

/// Parses a whole number of days, 1 to [`RETENTION_MAX_DAYS`], or `off`.
fn retention_setting(text: &str) -> Result<RetentionSetting, String> {
    if text.trim().eq_ignore_ascii_case("off") {
        return Ok(RetentionSetting(None));
    }
    let expected =
        format!("expected a whole number of days from 1 to {RETENTION_MAX_DAYS}, or off to keep messages forever");
    let days: u64 = text.trim().parse().map_err(|_| expected.clone())?;
    if days == 0 {
        return Err(format!("0 days would delete every message at once; {expected}"));
    }
    if days > RETENTION_MAX_DAYS {
        return Err(format!("{days} days is over 100 years; {expected}"));
    }
    Ok(RetentionSetting(Some(Duration::from_secs(days * 24 * 3600))))
}

/// The longest `--away-after`: a week. Idle for longer is not "away" in any useful sense, so a
/// bigger number is far more likely a unit mistaken (seconds meant as minutes) than a decision.
const AWAY_AFTER_MAX_SECS: u64 = 7 * 24 * 3600;

/// Parses `--away-after`: a whole number of seconds (`s`), minutes (`m`) or hours (`h`), from
/// one second to [`AWAY_AFTER_MAX_SECS`].
fn away_after_setting(text: &str) -> Result<Duration, String> {
    let expected = "expected a whole number of seconds, minutes or hours, such as 30s, 10m or 1h, up to a week";
    let text = text.trim();
    let (count, unit) = text.split_at(text.find(|c: char| !c.is_ascii_digit()).unwrap_or(text.len()));
    let count: u64 = count.parse().map_err(|_| format!("{text:?}: {expected}"))?;
    let unit_secs = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        _ => return Err(format!("{text:?}: {expected}")),
    };
    match count.checked_mul(unit_secs) {
        Some(0) => Err(format!("{text:?}: everyone would be away at once; {expected}")),
        Some(secs) if secs <= AWAY_AFTER_MAX_SECS => Ok(Duration::from_secs(secs)),
        _ => Err(format!("{text:?} is over a week; {expected}")),
    }
}

/// As `--help` shows a default: the engine's.
impl std::fmt::Display for RateSetting {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.0 {
            Some(rate) => rate.fmt(f),
            None => f.write_str("off"),
        }
    }
}

impl Cli {
    /// The log-in limits from the flags: the defaults, without the per-address admission to
    /// password hashing under `--no-rate-limits`.
    fn login_limits(&self) -> LoginLimits {
        if self.no_rate_limits {
            return LoginLimits::default().without_address_admission();
        }
        LoginLimits::default()
    }

    /// The rate limits from the flags.
    fn rate_limits(&self) -> RateLimits {
        if self.no_rate_limits {
            return RateLimits::UNLIMITED;
        }
        RateLimits {
            sends: self.limit_sends.0,
            typing: self.limit_typing.0,
            group_creations: self.limit_groups.0,
            member_additions: self.limit_member_additions.0,
            sign_ups_per_address: self.limit_signups.0,
            ..RateLimits::default()
        }
    }
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Create an administrator account; the password is read from stdin (one line).
    CreateAdmin {
        /// The administrator's username.
        name: String,
    },
    /// Write a dump of everything in the store to FILE (`-`: standard output): a versioned
    /// JSON Lines file (`kanect::store::backup`). Runs beside a server on PostgreSQL; a sled
    /// directory must not be in use. With `--from`, a running server's dump instead, over its
    /// API, logged in as an administrator (password on stdin, one line).
    Export {
        /// Where to write the dump.
        file: PathBuf,
        /// The running server to back up, `http://HOST:PORT` (its `--listen` address).
        #[arg(long, value_name = "URL", requires = "admin_username")]
        from: Option<String>,
        /// The administrator to log in as, with `--from`; the password is read from stdin.
        #[arg(long, value_name = "NAME", requires = "from")]
        admin_username: Option<String>,
    },
    /// Replay a dump from FILE (`-`: standard input) into the store, which must be empty: how
    /// to restore a backup, or move to another backend (export from one, import into the other).
    Import {
        /// The dump to read.
        file: PathBuf,
    },
}

/// `--log-format`.
#[derive(clap::ValueEnum, Clone, Copy, Debug)]
enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object a line.
    Json,
}

fn main() {
    let cli = Cli::parse();
    let filter = match tracing_subscriber::EnvFilter::try_new(&cli.log) {
        Ok(filter) => quiet_storage_engine(filter, &cli.log),
        Err(error) => exit_with(format!("--log {:?}: {error}", cli.log).into()),
    };
    // Colours only for a terminal: a log file or a journal gets plain text an operator can grep.
    let colours = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let log = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_ansi(colours);
    match cli.log_format {
        LogFormat::Text => log.init(),
        LogFormat::Json => log.json().with_current_span(true).with_span_list(true).init(),
    }
    no_transparent_huge_pages();
    // Named apart from tokio's default, like the store's threads (`kanect-commit`, ...), so that
    // `top -H` and `perf` tell them from an embedding or load-generating process's workers.
    let runtime = match tokio::runtime::Builder::new_multi_thread().thread_name("kanect-worker").enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => exit_with(error.into()),
    };
    if let Err(error) = runtime.block_on(run(cli)) {
        exit_with(error);
    }
}

/// fjall and its lsm-tree log every open, recovery, flush and compaction at `info`: warnings
/// only, unless the filter names them (`--log info,fjall=info`).
fn quiet_storage_engine(filter: tracing_subscriber::EnvFilter, text: &str) -> tracing_subscriber::EnvFilter {
    if text.contains("fjall") || text.contains("lsm_tree") {
        return filter;
    }
    ["fjall=warn", "lsm_tree=warn"].into_iter().fold(filter, |filter, directive| match directive.parse() {
        Ok(directive) => filter.add_directive(directive),
        Err(_) => filter,
    })
}

/// Turns transparent huge pages off for this process. mimalloc asks the kernel for them on
/// its arenas, and the kernel zeroes a huge page whole, 2 MiB at once, in the thread that first
/// touches it. Under load that happened several times a second, mostly inside sled inserts
/// on group commit's thread, whose whole group waited: it was most of the p99 latency
/// (`benches/README.md`, "Transparent huge pages"). Small pages spread the same
/// zeroing over the allocations that use them.
fn no_transparent_huge_pages() {
    #[cfg(target_os = "linux")]
    if let Err(error) = rustix::thread::disable_transparent_huge_pages(true) {
        tracing::warn!(%error, "cannot turn transparent huge pages off");
    }
}

/// Prints the error with its causes (a store's "backend failure" says little on its own).
fn exit_with(error: AnyError) -> ! {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        text.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    eprintln!("kanect: {text}");
    std::process::exit(1);
}

async fn run(cli: Cli) -> Result<(), AnyError> {
    match &cli.command {
        Some(Command::Export { file, from: Some(url), admin_username: Some(username) }) => {
            return remote_export::run(url, username, &read_password()?, file).await;
        }
        Some(Command::Export { file, .. }) => return export(&*open_store(&cli).await?, file).await,
        Some(Command::Import { file }) => return import(&*open_store(&cli).await?, file).await,
        _ => {}
    }
    // The recorder goes in before the store and the engine register their metrics with it.
    let metrics_page = match (&cli.command, cli.metrics_listen) {
        (None, Some(_)) => Some(kanect::http::PrometheusMetrics::install()?),
        _ => None,
    };
    let opened = open_store(&cli).await?;
    let blobs = open_blobs(&cli, &opened)?;
    let store = opened.shared();
    // `create-admin` only writes an account: no index to open (nor to catch up).
    let search = match cli.command {
        None => open_search(&cli, &opened)?,
        Some(_) => Search::default(),
    };
    let chat = build_chat(&cli, store.clone(), blobs, search.index.clone()).await?;
    if let Some(Command::CreateAdmin { name }) = &cli.command {
        let admin = chat.create_admin(Registration::new(name.as_str(), read_password()?)).await?;
        chat.flush().await?;
        println!("created administrator {} ({})", admin.username, admin.id);
        return Ok(());
    }
    if let (Some(username), Some(password)) = (&cli.admin_username, &cli.admin_password) {
        let (admin, created) = chat.ensure_admin(Registration::new(username.as_str(), password.as_str())).await?;
        tracing::info!(username = %admin.username, created, "administrator ensured");
    }
    let shutdown = shutdown_signal()?;
    // An administrator's backup of the running server, streamed (GET /api/v1/admin/export).
    let export_source = move |out: kanect::http::ExportWriter| {
        let store = store.clone();
        async move {
            let counts = kanect::store::backup::export_async(&*store, out).await?;
            tracing::info!(%counts, "exported");
            Ok::<(), kanect::http::ExportError>(())
        }
    };
    let mut server = kanect::http::Server::new(chat, http_config(&cli)).export_source(export_source);
    if let (Some(address), Some(page)) = (cli.metrics_listen, metrics_page) {
        let listener = tokio::net::TcpListener::bind(address).await?;
        println!("kanect metrics on http://{}/metrics", listener.local_addr()?);
        server = server.metrics_listener(listener, page);
    }
    let tls = tls_config(&cli)?;
    let scheme = if tls.is_some() { "https" } else { "http" };
    if let Some(tls) = tls {
        reload_on_sighup(tls.clone())?;
        server = server.tls(tls);
    }
    let listener = tokio::net::TcpListener::bind(cli.listen).await?;
    println!("kanect listening on {scheme}://{}", listener.local_addr()?);
    std::io::stdout().flush()?;
    server.serve(listener, shutdown).await?;
    if let Some(index) = search.tantivy {
        // Applies what is queued and marks the index clean: the next start makes no full pass.
        tokio::task::spawn_blocking(move || index.close()).await?;
    }
    Ok(())
}

/// A new backup file, readable by its owner only: a dump holds password hashes, session token
/// hashes and every message. (An existing file keeps its own permissions.)
fn backup_file(path: &Path) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(path)
}

/// `export FILE`: the store's dump to a file (made durable before it says so) or stdout.
async fn export(store: &dyn Store, file: &Path) -> Result<(), AnyError> {
    let counts = if file == Path::new("-") {
        kanect::store::backup::export(store, std::io::BufWriter::new(std::io::stdout().lock())).await?
    } else {
        let out = backup_file(file)?;
        let mut writer = std::io::BufWriter::new(out);
        let counts = kanect::store::backup::export(store, &mut writer).await?;
        writer.into_inner().map_err(|error| error.into_error())?.sync_all()?;
        counts
    };
    eprintln!("exported {counts}");
    Ok(())
}

/// A password from stdin: its first line, without the line end.
fn read_password() -> std::io::Result<String> {
    let mut password = String::new();
    std::io::stdin().lock().read_line(&mut password)?;
    Ok(password.trim_end_matches(['\r', '\n']).to_string())
}

/// `import FILE`: a dump from a file or stdin into the (empty) store, flushed before it says so.
async fn import(store: &dyn Store, file: &Path) -> Result<(), AnyError> {
    let counts = if file == Path::new("-") {
        kanect::store::backup::import(store, std::io::stdin().lock()).await?
    } else {
        let input = std::fs::File::open(file).map_err(|error| format!("{}: {error}", file.display()))?;
        kanect::store::backup::import(store, std::io::BufReader::new(input)).await?
    };
    store.flush().await?;
    eprintln!("imported {counts}");
    Ok(())
}

/// HTTPS from `--tls-cert` and `--tls-key`, if given; a file that will not do stops the start,
/// naming its flag.
fn tls_config(cli: &Cli) -> Result<Option<kanect::http::TlsConfig>, AnyError> {
    let (Some(cert), Some(key)) = (&cli.tls_cert, &cli.tls_key) else { return Ok(None) };
    kanect::http::TlsConfig::from_pem_files(cert, key).map(Some).map_err(|error| {
        let flag = match &error {
            kanect::http::TlsError::Certificate { .. } => "--tls-cert",
            kanect::http::TlsError::Key { .. } => "--tls-key",
            _ => "--tls-cert/--tls-key",
        };
        format!("{flag}: {error}").into()
    })
}

/// Reloads the certificate files on SIGHUP (they are also checked every few seconds); a bad
/// file is logged and the old certificate stays.
#[cfg(unix)]
fn reload_on_sighup(tls: kanect::http::TlsConfig) -> std::io::Result<()> {
    let mut hangups = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())?;
    tokio::spawn(async move {
        while hangups.recv().await.is_some() {
            let tls = tls.clone();
            match tokio::task::spawn_blocking(move || tls.reload()).await {
                Ok(Ok(())) => {}
                Ok(Err(error)) => tracing::error!(%error, "SIGHUP: still serving the old certificate"),
                Err(error) => tracing::error!(%error, "SIGHUP: the certificate reload failed"),
            }
        }
    });
    Ok(())
}

/// Without SIGHUP, the files are still checked every few seconds.
#[cfg(not(unix))]
fn reload_on_sighup(_tls: kanect::http::TlsConfig) -> std::io::Result<()> {
    Ok(())
}

/// The HTTP adapter's settings from the flags.
fn http_config(cli: &Cli) -> HttpConfig {
    HttpConfig {
        allowed_origins: cli.allowed_origin.clone(),
        secure_cookies: cli.secure_cookies,
        max_connections: usize::try_from(cli.max_connections).unwrap_or(usize::MAX),
        max_connections_per_address: usize::try_from(cli.max_connections_per_address).unwrap_or(usize::MAX),
        trusted_proxies: cli.trusted_proxy.clone(),
        ..HttpConfig::default()
    }
}

/// The store from the flags: `--store`, `--memory` or the `--engine` in `--data-dir`.
async fn open_store(cli: &Cli) -> Result<OpenStore, AnyError> {
    if let Some(url) = &cli.store {
        postgres_store(url, cli.store_schema.clone()).await
    } else if cli.memory {
        Ok(OpenStore::Memory(Arc::new(MemoryStore::new())))
    } else {
        std::fs::create_dir_all(&cli.data_dir)?;
        let store = embedded_store(cli.engine, &cli.data_dir).map_err(|error| explain_open(cli, error))?;
        Ok(OpenStore::Embedded(store))
    }
}

/// The store opened, by kind: where attachments' bytes go depends on it.
enum OpenStore {
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
    fn shared(&self) -> Arc<dyn Store> {
        match self {
            OpenStore::Memory(store) => store.clone(),
            OpenStore::Embedded(store) => store.clone(),
            #[cfg(feature = "postgres")]
            OpenStore::Postgres(store) => store.clone(),
        }
    }
}

/// Where attachments' bytes go: beside the store (`--data-dir`/blobs for an embedded one).
fn open_blobs(cli: &Cli, store: &OpenStore) -> Result<Arc<dyn BlobStore>, AnyError> {
    Ok(match store {
        OpenStore::Memory(_) => Arc::new(MemoryBlobStore::new()),
        OpenStore::Embedded(_) => Arc::new(kanect::store::FsBlobStore::open(cli.data_dir.join("blobs"))?),
        #[cfg(feature = "postgres")]
        OpenStore::Postgres(store) => Arc::new(store.blobs()),
    })
}

/// The message search index beside the store, if search is on.
#[derive(Default)]
struct Search {
    /// What the engine searches with.
    index: Option<Arc<dyn SearchIndex>>,
    /// The same index, when it is a TantivyIndex, to close cleanly at shutdown.
    #[cfg(feature = "tantivy")]
    tantivy: Option<Arc<kanect::store::TantivyIndex>>,
    #[cfg(not(feature = "tantivy"))]
    tantivy: Option<Arc<NoIndex>>,
}

/// Stands for `TantivyIndex` in a build without it.
#[cfg(not(feature = "tantivy"))]
struct NoIndex;

#[cfg(not(feature = "tantivy"))]
impl NoIndex {
    fn close(&self) {}
}

/// Message search beside the store (`--no-search`: none): a TantivyIndex in
/// `--data-dir`/search for an embedded store, PostgreSQL's own full-text search beside
/// PostgreSQL, an index in memory beside memory.
fn open_search(cli: &Cli, store: &OpenStore) -> Result<Search, AnyError> {
    if cli.no_search {
        return Ok(Search::default());
    }
    Ok(match store {
        OpenStore::Memory(_) => Search { index: Some(Arc::new(MemorySearchIndex::new())), tantivy: None },
        #[cfg(feature = "tantivy")]
        OpenStore::Embedded(_) => {
            let index = Arc::new(kanect::store::TantivyIndex::open(cli.data_dir.join("search"))?);
            Search { index: Some(index.clone()), tantivy: Some(index) }
        }
        #[cfg(not(feature = "tantivy"))]
        OpenStore::Embedded(_) => {
            tracing::warn!("built without the tantivy feature: message search is off");
            Search::default()
        }
        #[cfg(feature = "postgres")]
        OpenStore::Postgres(store) => Search { index: Some(Arc::new(store.search_index())), tantivy: None },
    })
}

/// The embedded store engines (`--engine`).
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum Engine {
    /// `FjallStore`, the default.
    Fjall,
    /// `SledStore`, for data directories sled wrote (feature `sled`).
    Sled,
}

/// The `engine`'s store in `dir`; an engine left out of this build is an error naming its
/// feature.
fn embedded_store(engine: Engine, dir: &Path) -> Result<Arc<dyn Store>, StoreError> {
    match engine {
        #[cfg(feature = "fjall")]
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

/// The engine from the flags: the store (from [`open_store`]), the bus (`--bus`, or none), the
/// heartbeat, the limits and the message retention.
async fn build_chat(
    cli: &Cli,
    store: Arc<dyn Store>,
    blobs: Arc<dyn BlobStore>,
    search: Option<Arc<dyn SearchIndex>>,
) -> Result<Chat, AnyError> {
    let mut builder = Chat::builder_shared(store.clone()).blobs_shared(blobs);
    if let Some(index) = search {
        builder = builder.search_shared(index);
    }
    // Only a serving process pushes (and makes the VAPID key on the first start).
    if !cli.no_push && cli.command.is_none() {
        let config = kanect::push::WebPushConfig::new(cli.push_subject.clone())
            .allow_private_endpoints(cli.push_allow_private_endpoints);
        if cli.push_allow_private_endpoints {
            tracing::warn!(
                "push endpoints may be plain http and on private addresses (--push-allow-private-endpoints)"
            );
        }
        builder = builder.push(kanect::push::WebPush::start(&*store, config).await?);
    }
    let builder = match &cli.bus {
        Some(url) => {
            if cli.store.is_none() {
                tracing::warn!("--bus without --store: each node keeps its own data, so nodes disagree");
            }
            nats_bus(builder, url, &cli.bus_prefix).await?
        }
        None => builder,
    };
    let config = ChatConfig {
        heartbeat: Duration::from_millis(cli.heartbeat_ms),
        away_after: cli.away_after_minutes.map_or(cli.away_after, |minutes| Duration::from_secs(minutes * 60)),
        max_devices_per_user: usize::try_from(cli.max_devices_per_user).unwrap_or(usize::MAX),
        rate_limits: cli.rate_limits(),
        login: cli.login_limits(),
        // Only a serving process runs retention passes: `create-admin` exits before one ends.
        message_retention: if cli.command.is_none() { cli.message_retention.0 } else { None },
        push_grace: Duration::from_millis(cli.push_grace_ms),
        attachments: AttachmentLimits {
            max_file_bytes: cli.max_file_size * 1024 * 1024,
            quota_bytes: cli.storage_quota * 1024 * 1024,
            ..AttachmentLimits::default()
        },
        sign_up: cli.sign_up,
        invites: InviteLimits { users_may_invite: cli.users_may_invite, ..InviteLimits::default() },
        mail: cli.mail.config(),
        ..ChatConfig::default()
    };
    // Only a serving process mails: `create-admin` exits at once.
    let builder = match cli.command {
        None => cli.mail.mailer(builder).await?,
        Some(_) => builder,
    };
    Ok(builder.config(config).build().await?)
}

/// Says what to do when the data directory is in use (by a server running on it, most
/// likely), instead of the store's lock error; other errors pass through.
fn explain_open(cli: &Cli, error: StoreError) -> AnyError {
    let busy = std::error::Error::source(&error)
        .and_then(|source| source.downcast_ref::<std::io::Error>())
        .is_some_and(|io| io.kind() == std::io::ErrorKind::ResourceBusy);
    if !busy {
        return error.into();
    }
    let mut text =
        format!("{} is in use by another process: is a Kanect server running on it?", cli.data_dir.display());
    if matches!(cli.command, Some(Command::Export { .. } | Command::Import { .. })) {
        text.push_str(
            " An embedded store is one process's: export from the running server over its API (export \
             FILE --from http://HOST:PORT --admin-username NAME, the password on stdin), or stop \
             the server to export or import, or run the server on PostgreSQL (--store), which an \
             export reads beside running servers.",
        );
    }
    if matches!(cli.command, Some(Command::CreateAdmin { .. })) {
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
async fn postgres_store(url: &str, schema: Option<String>) -> Result<OpenStore, AnyError> {
    use kanect::store::{PgConfig, PgStore};
    if !(url.starts_with("postgres://") || url.starts_with("postgresql://")) {
        return Err("--store: expected a postgres:// or postgresql:// URL".into());
    }
    tracing::info!(schema = schema.as_deref().unwrap_or("(search_path)"), "store: PostgreSQL");
    Ok(OpenStore::Postgres(Arc::new(PgStore::connect_with(PgConfig { schema, ..PgConfig::new(url) }).await?)))
}

#[cfg(not(feature = "postgres"))]
async fn postgres_store(_url: &str, _schema: Option<String>) -> Result<OpenStore, AnyError> {
    Err("--store: this build has no postgres support; build with --features postgres".into())
}

#[cfg(feature = "nats")]
async fn nats_bus(builder: ChatBuilder, url: &str, prefix: &str) -> Result<ChatBuilder, AnyError> {
    use kanect::nats::{NatsBus, NatsConfig};
    let bus = NatsBus::connect_with(NatsConfig { prefix: prefix.to_string(), ..NatsConfig::new(url) }).await?;
    tracing::info!(subject = bus.subject(), "bus: NATS");
    Ok(builder.bus(bus))
}

#[cfg(not(feature = "nats"))]
async fn nats_bus(_builder: ChatBuilder, _url: &str, _prefix: &str) -> Result<ChatBuilder, AnyError> {
    Err("--bus: this build has no nats support; build with --features nats".into())
}

/// Resolves on SIGINT (Ctrl-C) or SIGTERM. The handlers are installed by this call, not when
/// the future is first polled: `run` calls it before printing the address, so a signal sent as
/// soon as the server says it listens still stops it cleanly (exit code 0).
#[cfg(unix)]
fn shutdown_signal() -> std::io::Result<impl std::future::Future<Output = ()>> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut interrupt = signal(SignalKind::interrupt())?;
    let mut terminate = signal(SignalKind::terminate())?;
    Ok(async move {
        tokio::select! {
            _ = interrupt.recv() => tracing::info!("SIGINT: shutting down"),
            _ = terminate.recv() => tracing::info!("SIGTERM: shutting down"),
        }
    })
}

/// Resolves on Ctrl-C.
#[cfg(not(unix))]
fn shutdown_signal() -> std::io::Result<impl std::future::Future<Output = ()>> {
    Ok(async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
        tracing::info!("Ctrl-C: shutting down");
    })
}
