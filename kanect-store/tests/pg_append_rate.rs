//! A bounded timing of PgStore appends, not a check: `APPENDERS` tasks each append `EACH`
//! messages (each waiting for the last, as a client waits for its ack) to one of 64
//! conversations, through the public API only, so the same file times any build of the store.
//! Prints messages/s, this process's CPU per message and PostgreSQL's: that of the server
//! processes of this store's connections (found by their `application_name`), and that of every
//! `postgres` process on the machine (the WAL writer's and checkpointer's share, but other
//! load on the machine too). Run it by hand:
//!
//! ```text
//! KANECT_TEST_PG=postgres://postgres@127.0.0.1:5432/test cargo test --release -p kanect-store \
//!     --all-features --test pg_append_rate -- --ignored --nocapture
//! ```
//!
//! `KANECT_APPENDERS` and `KANECT_APPENDS_EACH` change the 64 x 2,000 default.
#![cfg(feature = "postgres")]

mod pg_support;

use kanect_core::backend::MessageStore;
use kanect_core::{ConversationId, UserId};
use kanect_store::{PgConfig, PgStore};
use pg_support::{config, raw_client, schema_name};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn env_or(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

/// CPU seconds (user + system) of the processes whose `/proc/<pid>/stat` `filter` accepts.
fn cpu_seconds(filter: impl Fn(&str, &str) -> bool) -> f64 {
    let mut ticks = 0u64;
    let Ok(entries) = std::fs::read_dir("/proc") else { return 0.0 };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if !name.bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else { continue };
        let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else { continue };
        if !filter(&name, &stat[open + 1..close]) {
            continue;
        }
        // Fields after the command: state is field 3, utime 14 and stime 15 (1-based).
        let rest: Vec<&str> = stat[close + 2..].split(' ').collect();
        ticks += rest.get(11).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
        ticks += rest.get(12).and_then(|v| v.parse::<u64>().ok()).unwrap_or(0);
    }
    ticks as f64 / 100.0 // USER_HZ, 100 on Linux
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a timing, run by hand with KANECT_TEST_PG (see the module docs)"]
async fn append_rate() {
    let appenders = env_or("KANECT_APPENDERS", 64);
    let each = env_or("KANECT_APPENDS_EACH", 2_000);
    let application = format!("kanect_rate_{}", std::process::id());
    let separator = if pg_support::url().contains('?') { '&' } else { '?' };
    let url = format!("{}{separator}application_name={application}", pg_support::url());
    let store = Arc::new(PgStore::connect_with(PgConfig { url, ..config(&schema_name()) }).await.unwrap());
    let watcher = raw_client("public").await;
    let backends = || async {
        let sql = "SELECT pid::text FROM pg_stat_activity WHERE application_name = $1";
        let rows = watcher.query(sql, &[&application]).await.unwrap();
        let pids: Vec<String> = rows.iter().map(|row| row.get(0)).collect();
        cpu_seconds(|pid, _| pids.iter().any(|p| p == pid))
    };
    let conversations: Vec<ConversationId> = (0..64).map(|_| ConversationId::new()).collect();
    let me = std::process::id().to_string();
    let ours = |pid: &str, _: &str| pid == me;
    let postgres = |_: &str, command: &str| command == "postgres";
    let (cpu, pg_cpu, backend_cpu, started) =
        (cpu_seconds(ours), cpu_seconds(postgres), backends().await, Instant::now());
    let mut tasks = Vec::new();
    for task in 0..appenders {
        let (store, conversation) = (store.clone(), conversations[task % conversations.len()]);
        tasks.push(tokio::spawn(async move {
            let sender = UserId::new();
            for i in 0..each {
                let message = kanect_core::testing::new_message(conversation, sender, &format!("c{i}"), "hello there");
                store.append_message(message).await.unwrap();
            }
        }));
    }
    for task in tasks {
        tokio::time::timeout(Duration::from_secs(600), task).await.expect("within 10 minutes").unwrap();
    }
    let elapsed = started.elapsed().as_secs_f64();
    let (cpu, pg_cpu) = (cpu_seconds(ours) - cpu, cpu_seconds(postgres) - pg_cpu);
    let backend_cpu = backends().await - backend_cpu;
    let total = (appenders * each) as f64;
    println!(
        "appends: {appenders} x {each} = {total} in {elapsed:.2} s: {:.0} msg/s; CPU per message: this process {:.1} µs, \
         its PostgreSQL backends {:.1} µs, all postgres processes {:.1} µs",
        total / elapsed,
        cpu / total * 1e6,
        backend_cpu / total * 1e6,
        pg_cpu / total * 1e6
    );
}
