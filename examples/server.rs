//! The standalone Kanect server: the web app, REST, WebSocket and long-poll on one port, with
//! the embedded sled store.
//!
//! ```text
//! cargo run --release --example server                      # http://127.0.0.1:8080, ./kanect-data
//! cargo run --release --example server -- --listen 0.0.0.0:80 --data-dir /var/lib/kanect
//! cargo run --release --example server -- --memory          # nothing persisted
//! echo 'a long password' | cargo run --release --example server -- create-admin alice
//! ```
//!
//! Deliberately thin: parse flags, build the `Chat`, call `kanect::http::serve`. Every flag
//! also reads an environment variable (`KANECT_LISTEN`, `KANECT_DATA_DIR`, ...; see `--help`).

use clap::{Parser, Subcommand};
use kanect::http::HttpConfig;
use kanect::store::SledStore;
use kanect::{Chat, ChatConfig, MemoryStore, Registration};
use std::io::{BufRead, Write};
use std::net::SocketAddr;
use std::path::PathBuf;

type AnyError = Box<dyn std::error::Error + Send + Sync>;

/// The Kanect chat server: web app, REST, WebSocket and long-poll on one port.
#[derive(Parser, Debug)]
#[command(version)]
struct Cli {
    /// Address to listen on (port 0 picks a free port; the bound address is printed).
    #[arg(long, env = "KANECT_LISTEN", default_value = "127.0.0.1:8080")]
    listen: SocketAddr,
    /// Where the sled store keeps its files.
    #[arg(long, env = "KANECT_DATA_DIR", default_value = "./kanect-data")]
    data_dir: PathBuf,
    /// Keep everything in memory (lost at exit) instead of on disk.
    #[arg(long, env = "KANECT_MEMORY")]
    memory: bool,
    /// Log filter: a level (`info`, `debug`) or tracing directives (`kanect_http=debug,info`).
    #[arg(long, env = "KANECT_LOG", default_value = "info")]
    log: String,
    /// Extra origins allowed to open WebSockets (comma-separated, e.g. https://chat.example.com).
    #[arg(long, env = "KANECT_ALLOWED_ORIGINS", value_delimiter = ',')]
    allowed_origin: Vec<String>,
    /// Mark cookies `Secure` (set when a TLS proxy sits in front).
    #[arg(long, env = "KANECT_SECURE_COOKIES")]
    secure_cookies: bool,
    /// At start, make sure this administrator exists (with KANECT_ADMIN_PASSWORD).
    #[arg(long, env = "KANECT_ADMIN_USERNAME", requires = "admin_password")]
    admin_username: Option<String>,
    /// The password for KANECT_ADMIN_USERNAME when it is created.
    #[arg(long, env = "KANECT_ADMIN_PASSWORD", hide_env_values = true, requires = "admin_username")]
    admin_password: Option<String>,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Create an administrator account; the password is read from stdin (one line).
    CreateAdmin {
        /// The administrator's username.
        name: String,
    },
}

fn main() {
    let cli = Cli::parse();
    let filter = match tracing_subscriber::EnvFilter::try_new(&cli.log) {
        Ok(filter) => filter,
        Err(error) => exit_with(format!("--log {:?}: {error}", cli.log).into()),
    };
    tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).init();
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(error) => exit_with(error.into()),
    };
    if let Err(error) = runtime.block_on(run(cli)) {
        exit_with(error);
    }
}

fn exit_with(error: AnyError) -> ! {
    eprintln!("kanect: {error}");
    std::process::exit(1);
}

async fn run(cli: Cli) -> Result<(), AnyError> {
    let chat = build_chat(&cli).await?;
    if let Some(Command::CreateAdmin { name }) = &cli.command {
        let mut password = String::new();
        std::io::stdin().lock().read_line(&mut password)?;
        let password = password.trim_end_matches(['\r', '\n']);
        let admin = chat.create_admin(Registration::new(name.as_str(), password)).await?;
        chat.flush().await?;
        println!("created administrator {} ({})", admin.username, admin.id);
        return Ok(());
    }
    if let (Some(username), Some(password)) = (&cli.admin_username, &cli.admin_password) {
        let (admin, created) = chat.ensure_admin(Registration::new(username.as_str(), password.as_str())).await?;
        tracing::info!(username = %admin.username, created, "administrator ensured");
    }
    let listener = tokio::net::TcpListener::bind(cli.listen).await?;
    println!("kanect listening on http://{}", listener.local_addr()?);
    std::io::stdout().flush()?;
    let config = HttpConfig {
        allowed_origins: cli.allowed_origin.clone(),
        secure_cookies: cli.secure_cookies,
        ..HttpConfig::default()
    };
    kanect::http::serve(listener, chat, config, shutdown_signal()).await?;
    Ok(())
}

/// The store (and, later, the bus) from the flags. `--store postgres://...` and
/// `--bus nats://...` plug in here.
async fn build_chat(cli: &Cli) -> Result<Chat, AnyError> {
    let builder = if cli.memory {
        Chat::builder(MemoryStore::new())
    } else {
        std::fs::create_dir_all(&cli.data_dir)?;
        Chat::builder(SledStore::open(&cli.data_dir)?)
    };
    Ok(builder.config(ChatConfig::default()).build().await?)
}

/// Resolves on SIGINT (Ctrl-C) or SIGTERM.
async fn shutdown_signal() {
    let interrupt = async {
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        _ = interrupt => tracing::info!("SIGINT: shutting down"),
        _ = terminate => tracing::info!("SIGTERM: shutting down"),
    }
}
