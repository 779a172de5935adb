//! End-to-end benchmark: a Kanect server started in this process on 127.0.0.1 port 0, driven
//! over real WebSockets by the load generator's workloads (`examples/loadgen/`, included
//! below rather than copied), once with fjall (the default store) in a temporary directory (every ack durable) and
//! once in memory.
//!
//! `cargo bench --bench e2e`
//!
//! Parameters are fixed and modest so that the whole run is bounded (a few seconds per
//! workload, under two minutes in all). The server and the load generator each get a runtime
//! of two worker threads and share the machine, so the figures are lower bounds of what a
//! server alone would do; `examples/loadgen` against a separate server process measures that.
//! Password hashing uses `PasswordCost::INSECURE_FAST` so that registering users is quick.

#[path = "../examples/loadgen/client.rs"]
mod client;
#[path = "../examples/loadgen/report.rs"]
mod report;
#[path = "../examples/loadgen/workload.rs"]
mod workload;

use client::BoxError;
use kanect::http::HttpConfig;
use kanect::store::FjallStore;
use kanect::{Chat, ChatConfig, LoginLimits, MemoryStore, PasswordCost, RateLimits, Store};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use workload::{Plan, Workload};

/// The standalone server's allocator (see `kanect-server/src/main.rs`), so the figures are the
/// shipped server's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    if let Err(error) = client::raise_fd_limit() {
        eprintln!("could not raise the open-file limit: {error}");
    }
    // No transparent huge pages, as in the server (see its `no_transparent_huge_pages`).
    #[cfg(target_os = "linux")]
    if let Err(error) = rustix::thread::disable_transparent_huge_pages(true) {
        eprintln!("could not turn transparent huge pages off: {error}");
    }
    if let Err(error) = bench() {
        eprintln!("e2e bench failed: {error}");
        std::process::exit(1);
    }
}

fn bench() -> Result<(), BoxError> {
    let data = tempfile::tempdir()?;
    let loadgen = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    for name in ["fjall", "memory"] {
        let store: Arc<dyn Store> = match name {
            "fjall" => Arc::new(FjallStore::open(data.path().join("kanect"))?),
            _ => Arc::new(MemoryStore::new()),
        };
        let server = Server::start(store)?;
        for plan in plans(server.address) {
            println!("== {name}: {:?}", plan.workload);
            let live = Arc::new(report::Live::default());
            let progress = {
                let _inside = loadgen.enter();
                report::progress(live.clone(), name)
            };
            let outcome = loadgen.block_on(workload::run(&plan, live));
            progress.abort();
            let report = outcome?;
            print!("{}", report.table());
            println!("{}", report.json());
        }
        server.stop();
    }
    Ok(())
}

/// The three workloads with fixed parameters: each measures for at most 5 seconds.
fn plans(server: SocketAddr) -> Vec<Plan> {
    let base = Plan {
        workload: Workload::Pairs,
        server,
        server_pid: None,
        peer: None,
        peer_pid: None,
        postgres_cpu: false,
        prefix: String::new(),
        duration: Duration::from_secs(5),
        messages: 100_000,
        window: 16,
        rate: 0.0,
        pairs: 100,
        members: 200,
        senders: 2,
        connections: 2_000,
        sockets_per_user: 16,
        sources: 4,
        register_concurrency: 16,
        connect_concurrency: 256,
        ping_interval: Duration::from_secs(20),
    };
    [Workload::Pairs, Workload::Room, Workload::Idle]
        .into_iter()
        .map(|workload| Plan { workload, prefix: format!("e2e-{workload:?}-"), ..base.clone() })
        .collect()
}

/// The server under test, on its own runtime so that its threads are not the load
/// generator's.
struct Server {
    address: SocketAddr,
    runtime: tokio::runtime::Runtime,
    shutdown: tokio::sync::oneshot::Sender<()>,
    served: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Server {
    fn start(store: Arc<dyn Store>) -> Result<Server, BoxError> {
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
        // The load generator signs up hundreds of users from one address, many at once, and
        // sends far faster than people do: no rate limits and no per-address admission to
        // password hashing, as the server's `--no-rate-limits` for load runs.
        let config = ChatConfig {
            password_cost: PasswordCost::INSECURE_FAST,
            rate_limits: RateLimits::UNLIMITED,
            login: LoginLimits::default().without_address_admission(),
            ..Default::default()
        };
        let (listener, chat) = runtime.block_on(async {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
            let chat = Chat::builder_shared(store).config(config).build().await?;
            Ok::<_, BoxError>((listener, chat))
        })?;
        let address = listener.local_addr()?;
        let (shutdown, stopped) = tokio::sync::oneshot::channel::<()>();
        // Every one of the load generator's connections comes from 127.0.0.1.
        let http = HttpConfig { max_connections_per_address: usize::MAX, ..HttpConfig::default() };
        let served = runtime.spawn(kanect::http::serve(listener, chat, http, async move {
            let _ = stopped.await;
        }));
        Ok(Server { address, runtime, shutdown, served })
    }

    fn stop(self) {
        let _ = self.shutdown.send(());
        if let Ok(Err(error)) = self.runtime.block_on(self.served) {
            eprintln!("server: {error}");
        }
    }
}
