//! Load generator: drives a running Kanect server over real WebSockets and reports
//! throughput, latency and server memory.
//!
//! ```text
//! cargo build --release -p kanect-server && cargo build --release --example loadgen
//! # every load connection comes from 127.0.0.1: lift the per-address cap and the rate limits
//! target/release/kanect --listen 127.0.0.1:8080 --memory --max-connections-per-address 20000 \
//!     --no-rate-limits &   # $! is its pid
//! target/release/examples/loadgen --server http://127.0.0.1:8080 --workload pairs \
//!     --pairs 100 --window 16 --duration 10 --server-pid $!
//! ```
//!
//! It registers its own users (a fresh prefix per run), opens the sockets, creates the
//! conversations, then runs one workload for at most `--duration` seconds and `--messages`
//! messages per sender, printing a progress line every second, a table at the end and one
//! JSON line (on stdout) for scripts:
//!
//! - `pairs`: `--pairs` pairs of users, each in a direct conversation, both sides sending with
//!   at most `--window` sends unacknowledged;
//! - `room`: one group of `--members` users, all connected, `--senders` of them sending;
//! - `idle`: `--connections` sockets held open (with pings) for the duration;
//! - `uploads`: `--clients` accounts each upload `--rounds` files of `--file-mib` MiB at once,
//!   then download them back and check them (attachment throughput, and the server's RSS
//!   while files stream through it; give the server a `--storage-quota` above
//!   rounds × file size).
//!
//! `--rate` paces the total sends per second, to read latency at a given load.
//!
//! The server must run with `--no-rate-limits`: its limits are set for people (a burst of 100
//! sends per account, 20 sign-ups per address, 2 password hashes at a time per address), and a
//! run signs up hundreds of users from one address, many at once, and sends hundreds of
//! messages a second per account.
//!
//! Frames are written and read as `kanect::proto` types: every frame the server sends is
//! decoded whole, which is what any client pays.
//!
//! # Layout
//! - `client` — HTTP calls (sign-up, conversations) and WebSocket connections.
//! - `workload` — the three socket workloads and the per-socket driver (shared with
//!   `benches/e2e.rs`).
//! - `uploads` — the `uploads` workload: files streamed up and back over REST.
//! - `report` — counters, the progress line, the table and the JSON line; the server's RSS
//!   baseline, taken once it has settled.
//! - `tests` — unit tests of the stamp readers, the `/proc` readers, the settling rule and the
//!   upload bodies.

mod client;
mod report;
#[cfg(test)]
mod tests;
mod uploads;
mod workload;

use clap::Parser;
use client::BoxError;
use std::net::{SocketAddr, ToSocketAddrs};
use std::sync::Arc;
use std::time::Duration;
use workload::{Plan, Workload};

/// Command line.
#[derive(Parser, Debug)]
#[command(about = "Load generator for a running Kanect server")]
struct Args {
    /// The server's base URL.
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    server: String,
    /// Which traffic to generate.
    #[arg(long, value_enum, default_value = "pairs")]
    workload: Workload,
    /// Longest measured phase in seconds (for `idle`: how long connections are held; for
    /// `uploads`: no file starts once its phase has run this long).
    #[arg(long, default_value_t = 10.0)]
    duration: f64,
    /// Messages per sender, at most.
    #[arg(long, default_value_t = 1_000_000)]
    messages: u64,
    /// Unacknowledged sends per sender, at most.
    #[arg(long, default_value_t = 16)]
    window: usize,
    /// Total sends per second over all senders (0: as fast as the window allows).
    #[arg(long, default_value_t = 0.0)]
    rate: f64,
    /// `pairs`: number of pairs.
    #[arg(long, default_value_t = 100)]
    pairs: usize,
    /// `room`: members, each with one socket.
    #[arg(long, default_value_t = 1000)]
    members: usize,
    /// `room`: members that send.
    #[arg(long, default_value_t = 1)]
    senders: usize,
    /// `idle`: sockets to hold.
    #[arg(long, default_value_t = 1000)]
    connections: usize,
    /// `idle`: sockets per user (the server's per-user device limit defaults to 16).
    #[arg(long, default_value_t = 16)]
    sockets_per_user: usize,
    /// Spread sockets over 127.0.0.1 ..= 127.0.0.N (each has ~28,000 ephemeral ports).
    #[arg(long, default_value_t = 1)]
    sources: u8,
    /// `uploads`: clients, each its own account and connection.
    #[arg(long, default_value_t = 16)]
    clients: usize,
    /// `uploads`: size of each file in MiB.
    #[arg(long, default_value_t = 25)]
    file_mib: u64,
    /// `uploads`: files each client uploads (one after another), then downloads.
    #[arg(long, default_value_t = 2)]
    rounds: usize,
    /// The server's pid, to report its RSS per connection (from /proc/<pid>/status). The run
    /// then waits after the sign-ups, 11–30 s, until the server has returned the memory of
    /// their password hashes, so that the baseline does not include it.
    #[arg(long)]
    server_pid: Option<u32>,
    /// A second node of the same cluster (`http://host:port`): every second account (the
    /// second of each pair) connects there, so that each message crosses from one node to the
    /// other.
    #[arg(long)]
    peer_server: Option<String>,
    /// The second node's pid: its CPU is added to the server CPU.
    #[arg(long, requires = "peer_server")]
    peer_pid: Option<u32>,
    /// Also report the CPU of every process named `postgres` on this machine (the database's
    /// backends, which stay for pooled connections), per delivery.
    #[arg(long)]
    postgres_cpu: bool,
    /// Sign-ups in flight at once.
    #[arg(long, default_value_t = 32)]
    register_concurrency: usize,
    /// WebSocket handshakes in flight at once.
    #[arg(long, default_value_t = 256)]
    connect_concurrency: usize,
    /// Seconds between the application pings each socket sends.
    #[arg(long, default_value_t = 20.0)]
    ping_interval: f64,
    /// Worker threads of the load generator's runtime.
    #[arg(long, default_value_t = 2)]
    threads: usize,
}

fn main() {
    let args = Args::parse();
    if let Err(error) = client::raise_fd_limit() {
        eprintln!("could not raise the open-file limit: {error}");
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(args.threads.max(1))
        .thread_name("loadgen-worker")
        .enable_all()
        .build();
    let outcome = runtime.map_err(BoxError::from).and_then(|runtime| runtime.block_on(run(args)));
    if let Err(error) = outcome {
        eprintln!("loadgen: {error}");
        std::process::exit(1);
    }
}

async fn run(args: Args) -> Result<(), BoxError> {
    if args.workload == Workload::Uploads {
        let plan = uploads::UploadPlan {
            server: resolve(&args.server)?,
            server_pid: args.server_pid,
            prefix: run_prefix(),
            clients: args.clients.max(1),
            file_mib: args.file_mib,
            rounds: args.rounds,
            duration: Duration::try_from_secs_f64(args.duration)?,
            register_concurrency: args.register_concurrency,
        };
        let report = uploads::run(&plan).await?;
        eprint!("{}", report.table());
        println!("{}", report.json());
        return Ok(());
    }
    let plan = Plan {
        workload: args.workload,
        server: resolve(&args.server)?,
        server_pid: args.server_pid,
        peer: args.peer_server.as_deref().map(resolve).transpose()?,
        peer_pid: args.peer_pid,
        postgres_cpu: args.postgres_cpu,
        prefix: run_prefix(),
        duration: Duration::try_from_secs_f64(args.duration)?,
        messages: args.messages,
        window: args.window,
        rate: args.rate,
        pairs: args.pairs,
        members: args.members,
        senders: args.senders,
        connections: args.connections,
        sockets_per_user: args.sockets_per_user,
        sources: args.sources,
        register_concurrency: args.register_concurrency,
        connect_concurrency: args.connect_concurrency,
        ping_interval: Duration::try_from_secs_f64(args.ping_interval)?,
    };
    let live = Arc::new(report::Live::default());
    let progress = report::progress(live.clone(), "loadgen");
    let outcome = workload::run(&plan, live).await;
    progress.abort();
    let report = outcome?;
    eprint!("{}", report.table());
    println!("{}", report.json());
    Ok(())
}

/// `http://host:port` (or `host:port`) → a socket address.
fn resolve(server: &str) -> Result<SocketAddr, BoxError> {
    let authority = server.trim_start_matches("http://").trim_end_matches('/');
    if server.starts_with("https://") || authority.contains('/') {
        return Err(format!("--server must be http://host:port, got {server}").into());
    }
    Ok(authority.to_socket_addrs()?.next().ok_or_else(|| format!("{server} resolves to nothing"))?)
}

/// A username prefix unique to this run (usernames allow `A-Z a-z 0-9 _ . -`, 3–32 long).
fn run_prefix() -> String {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
    format!("lg{:x}-", (nanos as u64) ^ u64::from(std::process::id()))
}
