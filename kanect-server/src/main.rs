//! `kanect`, the Kanect chat server: the web app, REST, WebSocket and long-poll on one port,
//! with the embedded fjall store (or sled, `--engine sled`) — or, as one node of a cluster,
//! PostgreSQL and NATS.
//!
//! ```text
//! kanect                                        # serve: http://127.0.0.1:8080, ./kanect-data
//! kanect --config /etc/kanect/kanect.toml       # settings from a file (README, "Configuration")
//! kanect --listen 0.0.0.0:443 --tls-cert fullchain.pem --tls-key privkey.pem   # HTTPS
//! kanect check-config --config kanect.toml      # the effective settings, secrets masked
//! echo 'a long password' | kanect create-admin alice
//! kanect export backup.jsonl                    # a dump of the store (README, "Backups")
//! echo 'the admin password' | kanect export backup.jsonl --from http://127.0.0.1:8080 --admin-username alice
//! kanect --data-dir new import backup.jsonl     # into an empty store
//! kanect backup /var/backups/kanect             # the dump and the attachments' bytes
//! kanect --store postgres://kanect@db/kanect import /var/backups/kanect   # with the bytes
//! kanect --store postgres://kanect@db/kanect --bus nats://127.0.0.1:4222   # a cluster node
//! ```
//!
//! Deliberately thin: read the settings (`cli`, with `config_file` beneath the environment and
//! the flags), open the store (`store`), build the `Chat` (`build_chat`), serve it with
//! `kanect::http::Server`. Everything it does, an embedding application can do with the same
//! public API. `--store` and `--bus` need the `postgres` and `nats` features; a build without
//! them says so and exits.

mod bus;
mod cli;
mod config_file;
mod dump;
mod mail;
mod remote_export;
mod store;

use cli::{Cli, Command, LogFormat};
use kanect::blob::BlobStore;
use kanect::search::SearchIndex;
use kanect::{AttachmentLimits, Chat, ChatConfig, InviteLimits, Registration, Store};
use std::io::{Read, Write};
use std::sync::Arc;
use std::time::Duration;
use store::{open_blobs, open_search, open_store, Search};

/// mimalloc rather than glibc malloc: sled allocates on one thread and frees on another,
/// which glibc's arenas handle slowly and hold on to. Measured with the load generator: more
/// durable sends/s on sled, and less RSS per idle socket (`benches/README.md`, "Allocator").
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

type AnyError = Box<dyn std::error::Error + Send + Sync>;

fn main() {
    let settings = config_file::settings_or_exit();
    if let Some(Command::CheckConfig) = settings.cli.command {
        check_config(&settings);
    }
    let cli = settings.cli;
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

/// `check-config`: the files the settings name (the TLS certificate and key) are read as the
/// server would read them; then the effective settings are printed, and the process exits (1 if
/// something will not do).
fn check_config(settings: &config_file::Settings) -> ! {
    if let Err(error) = tls_config(&settings.cli) {
        exit_with(error);
    }
    // The other files the settings name are read when the store, the bus or the mailer is
    // set up, each by its own parser; here, that each is there and readable, named by its flag.
    let cli = &settings.cli;
    let files = [
        ("--store-ssl-root-cert", cli.store.store_ssl_root_cert.as_ref().filter(|path| path.as_os_str() != "system")),
        ("--bus-credentials", cli.bus.bus_credentials.as_ref()),
        ("--bus-nkey", cli.bus.bus_nkey.as_ref()),
        ("--bus-ca-file", cli.bus.bus_ca_file.as_ref()),
        ("--bus-client-cert", cli.bus.bus_client_cert.as_ref()),
        ("--bus-client-key", cli.bus.bus_client_key.as_ref()),
        ("--smtp-ca-file", cli.mail.smtp_ca_file.as_ref()),
    ];
    for (flag, path) in files {
        if let Some(path) = path {
            if let Err(error) = std::fs::File::open(path).and_then(|mut file| file.read(&mut [0; 1])) {
                exit_with(format!("{flag}: {}: {error}", path.display()).into());
            }
        }
    }
    print!("{}", settings.effective());
    eprintln!("kanect: the configuration is valid");
    std::process::exit(0);
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
        Some(Command::Export { file, remote }) => match remote.server(cli.admin_username.as_deref())? {
            Some((server, username)) => {
                return remote_export::run(&server, username, &dump::read_password()?, file).await;
            }
            None => return dump::export(&*open_store(&cli.store, cli.purpose()).await?, file).await,
        },
        Some(Command::Backup { dir, remote }) => match remote.server(cli.admin_username.as_deref())? {
            Some((server, username)) => return remote_export::backup_from(&cli.store, &server, username, dir).await,
            None => return dump::backup(&cli.store, dir).await,
        },
        Some(Command::Import { file }) if file.is_dir() => return dump::restore(&cli.store, file).await,
        Some(Command::Import { file }) => {
            return dump::import(&*open_store(&cli.store, cli.purpose()).await?, file).await
        }
        Some(Command::CheckConfig) => unreachable!("handled by config_file before the runtime starts"),
        None | Some(Command::Serve | Command::CreateAdmin { .. }) => {}
    }
    if cli.ws_idle_timeout <= cli.ws_ping_interval {
        // Else a healthy device, pinged once per interval, would be closed between its pongs.
        return Err(format!(
            "--ws-idle-timeout ({}s) must be longer than --ws-ping-interval ({}s)",
            cli.ws_idle_timeout.as_secs(),
            cli.ws_ping_interval.as_secs()
        )
        .into());
    }
    // The recorder goes in before the store and the engine register their metrics with it.
    let metrics_page = match cli.metrics_listen {
        Some(_) if cli.serving() => Some(kanect::http::PrometheusMetrics::install()?),
        _ => None,
    };
    let opened = open_store(&cli.store, cli.purpose()).await?;
    let blobs = open_blobs(&cli.store, &opened)?;
    let store = opened.shared();
    // `create-admin` only writes an account: no index to open (nor to catch up).
    let search = if cli.serving() { open_search(&cli.store, &opened)? } else { Search::default() };
    let chat = build_chat(&cli, store.clone(), blobs, search.index.clone()).await?;
    if let Some(Command::CreateAdmin { name }) = &cli.command {
        let admin = chat.create_admin(Registration::new(name.as_str(), dump::read_password()?)).await?;
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
    let mut server = kanect::http::Server::new(chat, cli.http_config()).export_source(export_source);
    if let (Some(address), Some(page)) = (cli.metrics_listen, metrics_page) {
        let listener = tokio::net::TcpListener::bind(address).await?;
        println!("kanect metrics on http://{}/metrics", listener.local_addr()?);
        server = server.metrics_listener(listener, page);
    }
    let tls = tls_config(&cli)?;
    let scheme = if tls.is_some() { "https" } else { "http" };
    reload_on_sighup(tls.clone())?;
    if let Some(tls) = tls {
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
/// file is logged and the old certificate stays. Without TLS there is nothing to reload, but
/// SIGHUP is still taken: its default action ends the process, and `systemctl reload` (the unit's
/// `ExecReload`) or a log rotation script sends it to any server.
#[cfg(unix)]
fn reload_on_sighup(tls: Option<kanect::http::TlsConfig>) -> std::io::Result<()> {
    let mut hangups = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())?;
    tokio::spawn(async move {
        while hangups.recv().await.is_some() {
            let Some(tls) = tls.clone() else {
                tracing::info!("SIGHUP: nothing to reload (no --tls-cert)");
                continue;
            };
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
fn reload_on_sighup(_tls: Option<kanect::http::TlsConfig>) -> std::io::Result<()> {
    Ok(())
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
    if !cli.no_push && cli.serving() {
        let config = kanect::push::WebPushConfig::new(cli.push_subject.clone())
            .allow_private_endpoints(cli.push_allow_private_endpoints);
        if cli.push_allow_private_endpoints {
            tracing::warn!(
                "push endpoints may be plain http and on private addresses (--push-allow-private-endpoints)"
            );
        }
        builder = builder.push(kanect::push::WebPush::start(&*store, config).await?);
    }
    let builder = match &cli.bus.bus {
        Some(url) => {
            if cli.store.store.is_none() {
                tracing::warn!("--bus without --store: each node keeps its own data, so nodes disagree");
            }
            bus::nats_bus(builder, url, &cli.bus).await?
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
        message_retention: if cli.serving() { cli.message_retention.0 } else { None },
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
    let builder = if cli.serving() { cli.mail.mailer(builder).await? } else { builder };
    Ok(builder.config(config).build().await?)
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
