//! What a run counts and how it is shown: live counters for the once-a-second progress line,
//! per-socket tallies merged at the end, the server's figures read from `/proc` (CPU time, and
//! RSS with a baseline taken once it has settled), and the final table plus one JSON line for
//! scripts.

use hdrhistogram::Histogram;
use serde_json::json;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Counters every socket task bumps as it goes; read by the progress line and the drain
/// check. The final figures come from [`Tally`]s, which are exact.
#[derive(Default)]
pub(crate) struct Live {
    /// `send` frames written.
    pub(crate) sent: AtomicU64,
    /// `ack` (and `error`) frames received for sends.
    pub(crate) settled: AtomicU64,
    /// `message` frames received by sockets other than the sender's (flushed in batches).
    pub(crate) delivered: AtomicU64,
    /// Error frames, failed sockets.
    pub(crate) errors: AtomicU64,
    /// Sockets open now.
    pub(crate) open: AtomicU64,
}

impl Live {
    /// Adds `n` to a counter.
    pub(crate) fn add(counter: &AtomicU64, n: u64) {
        if n > 0 {
            counter.fetch_add(n, Ordering::Relaxed);
        }
    }
}

/// Prints `[  3s] sends/s  deliveries/s  errors  open` every second until dropped.
pub(crate) fn progress(live: Arc<Live>, label: &'static str) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let started = Instant::now();
        let mut tick = tokio::time::interval(Duration::from_secs(1));
        tick.tick().await;
        let (mut sent, mut delivered) = (0, 0);
        loop {
            tick.tick().await;
            let now_sent = live.sent.load(Ordering::Relaxed);
            let now_delivered = live.delivered.load(Ordering::Relaxed);
            eprintln!(
                "[{label} {:>4}s] sends {:>9}/s  deliveries {:>10}/s  errors {:>6}  open {:>6}",
                started.elapsed().as_secs(),
                now_sent - sent,
                now_delivered - delivered,
                live.errors.load(Ordering::Relaxed),
                live.open.load(Ordering::Relaxed),
            );
            (sent, delivered) = (now_sent, now_delivered);
        }
    })
}

/// What one socket saw. Latencies are in microseconds; two significant digits (±1%) keep
/// a histogram at a few KiB, so a thousand sockets can each hold one.
pub(crate) struct Tally {
    /// `send` frames written.
    pub(crate) sent: u64,
    /// Sends acknowledged.
    pub(crate) acked: u64,
    /// `message` frames from other sockets.
    pub(crate) delivered: u64,
    /// `error` frames, plus one if the socket failed.
    pub(crate) errors: u64,
    /// `resync` frames: the server dropped events for this lagging socket.
    pub(crate) resyncs: u64,
    /// Send → delivery at another socket.
    pub(crate) latency: Histogram<u32>,
    /// Send → ack at the sender (the message is durable).
    pub(crate) ack_latency: Histogram<u32>,
}

impl Tally {
    /// An empty tally.
    pub(crate) fn new() -> Tally {
        Tally { sent: 0, acked: 0, delivered: 0, errors: 0, resyncs: 0, latency: histogram(), ack_latency: histogram() }
    }

    /// Adds `other` into `self`.
    pub(crate) fn merge(&mut self, other: &Tally) {
        self.sent += other.sent;
        self.acked += other.acked;
        self.delivered += other.delivered;
        self.errors += other.errors;
        self.resyncs += other.resyncs;
        // Both histograms auto-resize, so adding cannot fail on range.
        let _ = self.latency.add(&other.latency);
        let _ = self.ack_latency.add(&other.ack_latency);
    }
}

fn histogram() -> Histogram<u32> {
    let mut histogram = Histogram::new(2).unwrap_or_else(|_| unreachable!("2 significant digits are valid"));
    histogram.auto(true);
    histogram
}

/// The result of one workload.
pub(crate) struct Report {
    /// `pairs`, `room` or `idle`.
    pub(crate) workload: &'static str,
    /// The run's parameters, as shown in the table and the JSON line.
    pub(crate) parameters: serde_json::Value,
    /// Sockets open at the end of the measured phase.
    pub(crate) connections: u64,
    /// Measured phase: first send (or the hold's start) to the end of the drain.
    pub(crate) elapsed: Duration,
    /// Everything the sockets saw.
    pub(crate) tally: Tally,
    /// Server VmRSS: the baseline, taken before the sockets were opened, and at the end (KiB),
    /// if its pid was given.
    pub(crate) server_rss: Option<(Baseline, u64)>,
    /// CPU seconds (user + system) the server spent in the measured phase, if its pid was
    /// given. With the machine shared, CPU per message is steadier than throughput.
    pub(crate) server_cpu: Option<f64>,
    /// CPU seconds this process spent in the measured phase: the load generator's own (in
    /// the e2e bench, the in-process server's too).
    pub(crate) own_cpu: Option<f64>,
    /// CPU seconds the machine's `postgres` processes spent in the measured phase, if asked.
    pub(crate) postgres_cpu: Option<f64>,
}

impl Report {
    fn per_second(&self, n: u64) -> f64 {
        n as f64 / self.elapsed.as_secs_f64().max(1e-9)
    }

    /// Server RSS growth per open socket, in bytes; only for `idle` (with traffic, the
    /// growth is mostly stored messages, not sockets).
    fn rss_per_connection(&self) -> Option<f64> {
        let (before, after) = self.server_rss.as_ref().map(|(baseline, after)| (baseline.kib, *after))?;
        (self.workload == "idle" && self.connections > 0)
            .then(|| (after.saturating_sub(before) * 1024) as f64 / self.connections as f64)
    }

    /// CPU µs per message sent (or per delivery, where a send fans out), if any.
    fn per_message(&self, cpu: f64) -> Option<f64> {
        let events = self.tally.delivered.max(self.tally.acked);
        (events > 0).then(|| (cpu * 1e6 / events as f64 * 100.0).round() / 100.0)
    }

    /// The JSON line for scripts: every figure of the table, latencies in microseconds.
    pub(crate) fn json(&self) -> String {
        let t = &self.tally;
        json!({
            "workload": self.workload,
            "parameters": self.parameters,
            "elapsed_s": self.elapsed.as_secs_f64(),
            "connections": self.connections,
            "sent": t.sent, "acked": t.acked, "delivered": t.delivered,
            "errors": t.errors, "resyncs": t.resyncs,
            "sends_per_s": self.per_second(t.acked).round(),
            "deliveries_per_s": self.per_second(t.delivered).round(),
            "latency_us": quantiles(&t.latency),
            "ack_latency_us": quantiles(&t.ack_latency),
            "server_rss_kib": self.server_rss.as_ref().map(|(baseline, after)| json!({
                "after_signups": baseline.after_signups, "before": baseline.kib, "after": after,
                "settle_s": baseline.waited.as_secs_f64(), "settled": baseline.settled,
            })),
            "server_rss_per_connection_bytes": self.rss_per_connection().map(f64::round),
            "server_cpu_s": self.server_cpu,
            "process_cpu_s": self.own_cpu,
            "server_cpu_us_per_message": self.server_cpu.and_then(|cpu| self.per_message(cpu)),
            "postgres_cpu_s": self.postgres_cpu,
            "postgres_cpu_us_per_message": self.postgres_cpu.and_then(|cpu| self.per_message(cpu)),
        })
        .to_string()
    }

    /// The human table.
    pub(crate) fn table(&self) -> String {
        let t = &self.tally;
        let ms = |h: &Histogram<u32>, q: f64| h.value_at_quantile(q) as f64 / 1000.0;
        let mut out = format!("workload      {}  {}\n", self.workload, self.parameters);
        out += &format!("elapsed       {:.2} s\nconnections   {}\n", self.elapsed.as_secs_f64(), self.connections);
        out += &format!("sent/acked    {} / {}\ndelivered     {}\n", t.sent, t.acked, t.delivered);
        out += &format!("errors        {}\nresyncs       {}\n", t.errors, t.resyncs);
        out += &format!(
            "sends/s       {:.0}\ndeliveries/s  {:.0}\n",
            self.per_second(t.acked),
            self.per_second(t.delivered)
        );
        for (name, h) in [("send→deliver", &t.latency), ("send→ack    ", &t.ack_latency)] {
            if !h.is_empty() {
                out += &format!(
                    "{name}  p50 {:.3} ms  p99 {:.3} ms  p999 {:.3} ms  max {:.3} ms\n",
                    ms(h, 0.5),
                    ms(h, 0.99),
                    ms(h, 0.999),
                    h.max() as f64 / 1000.0
                );
            }
        }
        let cpus =
            [("server CPU   ", self.server_cpu), ("PostgreSQL   ", self.postgres_cpu), ("process CPU  ", self.own_cpu)];
        for (name, cpu) in cpus {
            if let Some(cpu) = cpu {
                out += &format!("{name} {cpu:.2} s");
                if let Some(per) = self.per_message(cpu) {
                    out += &format!("  ({per:.2} µs per delivery)");
                }
                out += "\n";
            }
        }
        if let Some((baseline, after)) = &self.server_rss {
            out += &format!("server RSS    {} KiB → {after} KiB", baseline.kib);
            if let Some(per) = self.rss_per_connection() {
                out += &format!("  ({per:.0} B per connection)");
            }
            out += "\n";
        }
        out
    }
}

fn quantiles(h: &Histogram<u32>) -> serde_json::Value {
    if h.is_empty() {
        return serde_json::Value::Null;
    }
    json!({
        "p50": h.value_at_quantile(0.5), "p99": h.value_at_quantile(0.99),
        "p999": h.value_at_quantile(0.999), "max": h.max(), "count": h.len(),
    })
}

/// CPU seconds (user + system) process `pid` (None: this one) has used, from
/// `/proc/<pid>/stat`.
pub(crate) fn cpu_seconds(pid: Option<u32>) -> Option<f64> {
    let path = pid.map_or_else(|| "/proc/self/stat".to_string(), |pid| format!("/proc/{pid}/stat"));
    let stat = std::fs::read_to_string(path).ok()?;
    // Fields after the command name (which may hold spaces) start at field 3; utime and
    // stime are fields 14 and 15.
    let mut fields = stat.rsplit_once(')')?.1.split_whitespace().skip(11);
    let user: u64 = fields.next()?.parse().ok()?;
    let system: u64 = fields.next()?.parse().ok()?;
    Some((user + system) as f64 / rustix::param::clock_ticks_per_second() as f64)
}

/// CPU seconds used so far by every process named `postgres` (PostgreSQL's server and its
/// backends, one per connection). A backend that exits takes its time with it: pooled
/// connections stay, so over a measured phase this is the database's CPU.
pub(crate) fn postgres_cpu_seconds() -> f64 {
    let Ok(entries) = std::fs::read_dir("/proc") else { return 0.0 };
    entries
        .filter_map(|entry| entry.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/comm")).is_ok_and(|comm| comm.trim_end() == "postgres")
        })
        .filter_map(|pid| cpu_seconds(Some(pid)))
        .sum()
}

/// VmRSS of process `pid` in KiB, from `/proc/<pid>/status`.
pub(crate) fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|line| line.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// How often the server's RSS is read while the run waits for it to settle.
const SETTLE_POLL: Duration = Duration::from_millis(250);
/// The shortest wait. The server hashes passwords on tokio's blocking threads; argon2's
/// working memory (19 MiB a hash) stays resident on them after the sign-ups, and is returned
/// only when they exit, after tokio's keep-alive of 10 idle seconds. Until then RSS does not
/// fall, so "it has stopped falling" alone would settle too early.
const SETTLE_AT_LEAST: Duration = Duration::from_secs(11);
/// RSS has settled once it has not fallen for this long (and [`SETTLE_AT_LEAST`] has passed).
const SETTLE_QUIET: Duration = Duration::from_secs(2);
/// The longest wait; past it the last reading is the baseline, marked as not settled.
const SETTLE_LIMIT: Duration = Duration::from_secs(30);
/// A fall of less than this (KiB) below the last fall's reading is noise, not memory being
/// returned (an idle server's RSS moves by a few pages).
const SETTLE_TOLERANCE_KIB: u64 = 256;

/// The server's RSS before the sockets open: the figure the growth per socket is taken from.
#[derive(Clone, Debug)]
pub(crate) struct Baseline {
    /// Right after the sign-ups, while the password hashes' memory is still resident: what the
    /// baseline would be without the wait.
    pub(crate) after_signups: u64,
    /// The baseline (KiB): the last reading of the wait.
    pub(crate) kib: u64,
    /// How long the wait took.
    pub(crate) waited: Duration,
    /// Whether RSS settled within [`SETTLE_LIMIT`].
    pub(crate) settled: bool,
}

/// Decides from a series of RSS readings when the server has stopped returning memory: it
/// has not fallen (by more than [`SETTLE_TOLERANCE_KIB`]) for [`SETTLE_QUIET`], and at least
/// [`SETTLE_AT_LEAST`] has passed. A rise does not count as a fall, nor a slow slide under
/// the tolerance per reading: a fall is measured from the reading of the last fall, not from
/// the previous reading.
#[derive(Debug)]
pub(crate) struct Settling {
    /// The reading of the last fall (the first reading until one comes).
    floor: u64,
    /// When (since the wait began) that reading was taken.
    since: Duration,
}

impl Settling {
    /// Starts from the reading taken when the wait began.
    pub(crate) fn new(first_kib: u64) -> Settling {
        Settling { floor: first_kib, since: Duration::ZERO }
    }

    /// Takes a reading `kib` made `at` after the wait began; true once RSS has settled.
    pub(crate) fn settled(&mut self, at: Duration, kib: u64) -> bool {
        if kib + SETTLE_TOLERANCE_KIB < self.floor {
            (self.floor, self.since) = (kib, at);
        }
        at >= SETTLE_AT_LEAST && at.saturating_sub(self.since) >= SETTLE_QUIET
    }
}

/// Waits until the RSS of process `pid` has settled ([`Settling`]), at most [`SETTLE_LIMIT`],
/// and returns the baseline; None if the process cannot be read.
pub(crate) async fn settled_rss(pid: u32) -> Option<Baseline> {
    let after_signups = rss_kib(pid)?;
    let started = Instant::now();
    let mut settling = Settling::new(after_signups);
    loop {
        tokio::time::sleep(SETTLE_POLL).await;
        let (at, kib) = (started.elapsed(), rss_kib(pid)?);
        let settled = settling.settled(at, kib);
        if settled || at >= SETTLE_LIMIT {
            return Some(Baseline { after_signups, kib, waited: at, settled });
        }
    }
}
