//! The three workloads, shared by the `loadgen` example (against a running server) and the
//! `e2e` bench (against one started in-process).
//!
//! A run has four phases: register users (concurrently: password hashing is the slow part),
//! open every socket, create the conversations (after the sockets, so that no presence storm
//! precedes the measurement: a member who connects before sharing a conversation tells nobody),
//! then measure. Given the server's pid, it waits between the first two until the server's RSS
//! has settled, and takes that as the baseline (see `report::settled_rss`). Each socket is
//! driven by one task that writes `send` frames — at most `window` unacknowledged, paced to
//! `rate` if given — and reads everything the server sends. The send timestamp travels in the
//! message body (`lg <µs since start> <socket>`) and in the client id (`<µs>.<n>`), so
//! send→deliver and send→ack latencies need no lookup table; both are measured from the moment
//! the frame was written (not from a schedule), so when the window is full the wait shows up
//! as lower throughput, not as latency.
//!
//! Once the time or every sender's message quota is used up, senders stop and the run drains:
//! it waits until every send is settled and every delivery is in (bounded), then the sockets
//! close.

use crate::client::{self, Account, Api, BoxError, Socket, Sources};
use crate::report::{cpu_seconds, settled_rss, Live, Report, Tally};
use futures_util::{SinkExt, StreamExt};
use kanect::proto::{Ack, ClientFrame, Command, ConversationId, SendMessage, ServerFrame};
use serde_json::json;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::watch;
use tokio_tungstenite::tungstenite::Message;

/// The longest the drain waits for outstanding acks and deliveries.
const DRAIN_LIMIT: Duration = Duration::from_secs(10);
/// The drain also ends once nothing arrived for this long (a lost delivery must not hang it).
const DRAIN_QUIET: Duration = Duration::from_millis(500);
/// Deliveries are added to the shared live counter in batches of this many while measuring.
const LIVE_BATCH: u64 = 16;

/// Which traffic to generate.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub(crate) enum Workload {
    /// Pairs of users in direct conversations, both sides sending.
    Pairs,
    /// One group; every member connected, some of them sending.
    Room,
    /// Connections held open, pinging now and then, nothing sent.
    Idle,
    /// Attachments uploaded and downloaded over REST (`uploads::run`; no socket).
    Uploads,
}

impl Workload {
    fn name(self) -> &'static str {
        match self {
            Workload::Pairs => "pairs",
            Workload::Room => "room",
            Workload::Idle => "idle",
            Workload::Uploads => "uploads",
        }
    }
}

/// Everything a run needs to know.
#[derive(Clone, Debug)]
pub(crate) struct Plan {
    /// The traffic.
    pub(crate) workload: Workload,
    /// The server's address.
    pub(crate) server: SocketAddr,
    /// The server's pid, to read its RSS (same machine only).
    pub(crate) server_pid: Option<u32>,
    /// A second node of the cluster: the odd-numbered accounts' sockets connect there.
    pub(crate) peer: Option<SocketAddr>,
    /// The second node's pid, whose CPU counts as the server's too.
    pub(crate) peer_pid: Option<u32>,
    /// Whether to read the CPU of the machine's `postgres` processes.
    pub(crate) postgres_cpu: bool,
    /// Username prefix, unique per run so that runs against one server do not collide.
    pub(crate) prefix: String,
    /// Longest measured phase (for `idle`: how long the connections are held).
    pub(crate) duration: Duration,
    /// Messages per sender, at most.
    pub(crate) messages: u64,
    /// Unacknowledged sends per sender, at most.
    pub(crate) window: usize,
    /// Total sends per second over all senders; 0 means as fast as the window allows.
    pub(crate) rate: f64,
    /// `pairs`: number of pairs.
    pub(crate) pairs: usize,
    /// `room`: members (each with one socket).
    pub(crate) members: usize,
    /// `room`: how many members send.
    pub(crate) senders: usize,
    /// `idle`: sockets to open.
    pub(crate) connections: usize,
    /// `idle`: sockets per user (the server allows 16 devices per user by default).
    pub(crate) sockets_per_user: usize,
    /// Loopback source addresses to spread sockets over (127.0.0.1 ..= 127.0.0.N).
    pub(crate) sources: u8,
    /// Sign-ups in flight at once.
    pub(crate) register_concurrency: usize,
    /// Socket handshakes in flight at once.
    pub(crate) connect_concurrency: usize,
    /// Interval of the application `ping` each socket sends (the server closes a socket that
    /// sends nothing for 60 s).
    pub(crate) ping_interval: Duration,
}

/// What one socket does.
struct Role {
    /// This socket's number; deliveries whose body names it are its own echoes.
    index: usize,
    /// The conversation it sends into, if it sends.
    sends_to: Option<ConversationId>,
}

/// Shared by every socket task of a run.
struct Context {
    live: Arc<Live>,
    epoch: Instant,
    quota: u64,
    window: usize,
    /// Time between two sends of one sender, if paced.
    period: Option<Duration>,
    ping_interval: Duration,
}

impl Context {
    fn micros(&self) -> u64 {
        self.epoch.elapsed().as_micros() as u64
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Phase {
    Measure,
    Drain,
    Stop,
}

/// Runs `plan` and reports. `live` is bumped as the run goes (for a progress line).
pub(crate) async fn run(plan: &Plan, live: Arc<Live>) -> Result<Report, BoxError> {
    let (users, owners) = match plan.workload {
        Workload::Pairs => (2 * plan.pairs, (0..2 * plan.pairs).collect::<Vec<_>>()),
        Workload::Room => (plan.members, (0..plan.members).collect()),
        Workload::Idle => {
            let per_user = plan.sockets_per_user.max(1);
            (plan.connections.div_ceil(per_user), (0..plan.connections).map(|n| n / per_user).collect())
        }
        Workload::Uploads => return Err("the uploads workload opens no socket: run it with uploads::run".into()),
    };
    let started = Instant::now();
    let accounts = client::register(plan.server, &plan.prefix, users, plan.register_concurrency).await?;
    eprintln!("registered {users} users in {:.1} s", started.elapsed().as_secs_f64());

    // The baseline is read once the sign-ups' memory is back with the system (see
    // `settled_rss`): read at once, it would include the password hashes' working memory
    // (tens of MiB), which the server returns while the sockets open, and so understate what
    // they cost (down to nothing, for a few thousand sockets).
    let baseline = match plan.server_pid {
        Some(pid) => settled_rss(pid).await,
        None => None,
    };
    if let Some(baseline) = &baseline {
        let outcome = if baseline.settled { "settled" } else { "still falling: not settled" };
        eprintln!(
            "server RSS {} KiB after the sign-ups, {} KiB after {:.1} s ({outcome})",
            baseline.after_signups,
            baseline.kib,
            baseline.waited.as_secs_f64()
        );
    }
    let started = Instant::now();
    let sources = Sources::new(plan.server, plan.sources);
    let servers: Vec<SocketAddr> = std::iter::once(plan.server).chain(plan.peer).collect();
    let opened = client::connect_all(&servers, &sources, &accounts, &owners, plan.connect_concurrency, 64 * 1024).await;
    let mut sockets = Vec::with_capacity(opened.len());
    let mut failed = 0;
    for socket in opened {
        match socket {
            Ok(socket) => sockets.push(socket),
            // Idle measures how many sockets the server holds: a refused one is a finding.
            Err(error) if plan.workload == Workload::Idle => {
                failed += 1;
                if failed == 1 {
                    eprintln!("socket refused: {error}");
                }
            }
            Err(error) => return Err(error),
        }
    }
    eprintln!("opened {} sockets ({failed} failed) in {:.1} s", sockets.len(), started.elapsed().as_secs_f64());
    Live::add(&live.errors, failed);

    let (targets, fan_out) = conversations(plan, &accounts).await?;
    let senders = targets.iter().filter(|t| t.is_some()).count();
    let context = Arc::new(Context {
        live: live.clone(),
        epoch: Instant::now(),
        quota: plan.messages,
        window: plan.window.max(1),
        period: (plan.rate > 0.0 && senders > 0).then(|| Duration::from_secs_f64(senders as f64 / plan.rate)),
        ping_interval: plan.ping_interval,
    });
    let (phase_tx, phase_rx) = watch::channel(Phase::Measure);
    let tasks: Vec<_> = sockets
        .into_iter()
        .zip(targets)
        .enumerate()
        .map(|(index, (socket, sends_to))| {
            let role = Role { index, sends_to };
            tokio::spawn(drive(socket, role, context.clone(), phase_rx.clone()))
        })
        .collect();

    let measuring = Instant::now();
    let server_pids: Vec<u32> = plan.server_pid.into_iter().chain(plan.peer_pid).collect();
    let servers_cpu = || server_pids.iter().map(|pid| cpu_seconds(Some(*pid))).sum::<Option<f64>>();
    let postgres_cpu = || plan.postgres_cpu.then(crate::report::postgres_cpu_seconds);
    let cpu_before = (servers_cpu().filter(|_| !server_pids.is_empty()), cpu_seconds(None), postgres_cpu());
    let total_quota = plan.messages.saturating_mul(senders as u64);
    while measuring.elapsed() < plan.duration && (senders == 0 || live.sent.load(Ordering::Relaxed) < total_quota) {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let _ = phase_tx.send(Phase::Drain);
    let drained_at = drain(&live, fan_out).await;
    let elapsed = drained_at.duration_since(measuring);
    let rss_after = plan.server_pid.and_then(crate::report::rss_kib);
    let server_cpu = servers_cpu().zip(cpu_before.0).map(|(b, a)| b - a);
    let own_cpu = cpu_seconds(None).zip(cpu_before.1).map(|(b, a)| b - a);
    let postgres_cpu = postgres_cpu().zip(cpu_before.2).map(|(b, a)| b - a);
    let connections = live.open.load(Ordering::Relaxed);
    let _ = phase_tx.send(Phase::Stop);

    let mut tally = Tally::new();
    tally.errors = failed;
    for task in tasks {
        tally.merge(&task.await?);
    }
    Ok(Report {
        workload: plan.workload.name(),
        parameters: parameters(plan),
        connections,
        elapsed,
        tally,
        server_rss: baseline.zip(rss_after),
        server_cpu,
        own_cpu,
        postgres_cpu,
    })
}

/// Creates the conversations; returns, per socket, where it sends (if it does), and how many
/// other sockets receive each message.
async fn conversations(plan: &Plan, accounts: &[Account]) -> Result<(Vec<Option<ConversationId>>, u64), BoxError> {
    let mut api = Api::connect(plan.server).await?;
    match plan.workload {
        Workload::Pairs => {
            let mut targets = Vec::with_capacity(accounts.len());
            for pair in accounts.chunks_exact(2) {
                let id = api.open_direct(&pair[0], &pair[1]).await?;
                targets.extend([Some(id), Some(id)]);
            }
            Ok((targets, 1))
        }
        Workload::Room => {
            let owner = accounts.first().ok_or("a room needs at least one member")?;
            let id = api.create_group(owner, "loadgen room", accounts).await?;
            let targets = (0..accounts.len()).map(|i| (i < plan.senders).then_some(id)).collect();
            Ok((targets, accounts.len() as u64 - 1))
        }
        Workload::Idle | Workload::Uploads => Ok((vec![None; plan.connections], 0)),
    }
}

/// Waits until every send is settled and every delivery is in, or nothing arrives for
/// [`DRAIN_QUIET`], or [`DRAIN_LIMIT`] passes. Returns when the last thing arrived.
async fn drain(live: &Live, fan_out: u64) -> Instant {
    let started = Instant::now();
    let mut last = (0, 0);
    let mut last_change = Instant::now();
    loop {
        let sent = live.sent.load(Ordering::Relaxed);
        let settled = live.settled.load(Ordering::Relaxed);
        let delivered = live.delivered.load(Ordering::Relaxed);
        let now = Instant::now();
        if settled >= sent && delivered >= settled * fan_out {
            return now;
        }
        if (settled, delivered) != last {
            (last, last_change) = ((settled, delivered), now);
        } else if now.duration_since(last_change) >= DRAIN_QUIET || now.duration_since(started) >= DRAIN_LIMIT {
            return last_change;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

fn parameters(plan: &Plan) -> serde_json::Value {
    let mut p = json!({
        "duration_s": plan.duration.as_secs_f64(), "messages_per_sender": plan.messages,
        "window": plan.window, "rate": plan.rate,
    });
    if let Some(peer) = plan.peer {
        p["peer_server"] = json!(peer.to_string());
    }
    match plan.workload {
        Workload::Pairs => p["pairs"] = json!(plan.pairs),
        Workload::Room => (p["members"], p["senders"]) = (json!(plan.members), json!(plan.senders)),
        Workload::Idle | Workload::Uploads => {
            p = json!({"duration_s": plan.duration.as_secs_f64(), "connections": plan.connections,
                       "sockets_per_user": plan.sockets_per_user});
        }
    }
    p
}

/// Drives one socket until [`Phase::Stop`], then closes it. Returns what it saw; a failed
/// socket counts one error.
async fn drive(mut socket: Socket, role: Role, context: Arc<Context>, phase: watch::Receiver<Phase>) -> Tally {
    let mut tally = Tally::new();
    let live = &context.live;
    Live::add(&live.open, 1);
    let outcome = exchange(&mut socket, &role, &context, phase, &mut tally).await;
    live.open.fetch_sub(1, Ordering::Relaxed);
    if let Err(error) = outcome {
        tally.errors += 1;
        if live.errors.fetch_add(1, Ordering::Relaxed) == 0 {
            eprintln!("socket {}: {error}", role.index);
        }
    }
    let _ = tokio::time::timeout(Duration::from_secs(2), socket.close(None)).await;
    tally
}

/// Per-socket state of the measured exchange.
struct Progress {
    sent: u64,
    in_flight: usize,
    unreported: u64,
}

async fn exchange(
    socket: &mut Socket,
    role: &Role,
    context: &Context,
    mut phase: watch::Receiver<Phase>,
    tally: &mut Tally,
) -> Result<(), BoxError> {
    let live = &context.live;
    let mut state = Progress { sent: 0, in_flight: 0, unreported: 0 };
    let ping_frame = serde_json::to_string(&ClientFrame::new(Command::Ping))?;
    let mut current = *phase.borrow_and_update();
    // One future waits for the next phase across loop turns (a fresh `changed()` per turn
    // would cost a waiter registration per frame).
    let mut phase_change = std::pin::pin!(next_phase(phase.clone()));
    // Paced senders start at spread-out phases (golden-ratio steps), not all at once.
    let phase_offset = context.period.map_or(Duration::ZERO, |p| p.mul_f64((role.index as f64 * 0.618_034).fract()));
    let mut next_due = tokio::time::Instant::now() + phase_offset;
    let pace = tokio::time::sleep_until(next_due);
    let ping = tokio::time::sleep(context.ping_interval);
    tokio::pin!(pace, ping);
    loop {
        if current == Phase::Stop {
            Live::add(&live.delivered, state.unreported);
            return Ok(());
        }
        let quota_left = current == Phase::Measure && role.sends_to.is_some() && state.sent < context.quota;
        if let (true, Some(conversation)) = (quota_left, role.sends_to) {
            let now = tokio::time::Instant::now();
            let before = state.sent;
            while state.in_flight < context.window
                && state.sent < context.quota
                && (context.period.is_none() || next_due <= now)
            {
                let at = context.micros();
                let send = ClientFrame::new(Command::Send(SendMessage {
                    conversation,
                    client_id: format!("{at}.{}", state.sent),
                    body: format!("lg {at} {}", role.index),
                    attachments: Vec::new(),
                    reply_to: None,
                }));
                socket.feed(Message::Text(serde_json::to_string(&send)?.into())).await?;
                state.sent += 1;
                state.in_flight += 1;
                if let Some(period) = context.period {
                    next_due += period;
                }
            }
            if state.sent > before {
                socket.flush().await?;
                Live::add(&live.sent, state.sent - before);
                tally.sent = state.sent;
                if now.duration_since(next_due) > Duration::from_secs(1) {
                    // Fell far behind schedule (a stall): restart pacing rather than burst.
                    next_due = now;
                }
                pace.as_mut().reset(next_due);
            }
        }
        let waiting_on_pace = quota_left && context.period.is_some() && state.in_flight < context.window;
        tokio::select! {
            frame = socket.next() => match frame {
                Some(Ok(Message::Text(text))) => {
                    let draining = current != Phase::Measure;
                    on_frame(&text, role, context, &mut state, tally, draining)?;
                }
                Some(Ok(Message::Close(_))) | None => return Err("the server closed the socket".into()),
                Some(Ok(_)) => {}
                Some(Err(error)) => return Err(error.into()),
            },
            _ = &mut pace, if waiting_on_pace => {}
            _ = &mut ping => {
                socket.send(Message::Text(ping_frame.as_str().into())).await?;
                ping.as_mut().reset(tokio::time::Instant::now() + context.ping_interval);
            }
            changed = &mut phase_change => match changed {
                Some(_) => {
                    // Mark the change seen before cloning: a clone inherits the seen version.
                    current = *phase.borrow_and_update();
                    phase_change.set(next_phase(phase.clone()));
                    // The drain counts deliveries as they come: report the batch held back.
                    Live::add(&live.delivered, std::mem::take(&mut state.unreported));
                }
                None => return Ok(()),
            },
        }
    }
}

/// Resolves when the phase changes (None if the run is gone).
async fn next_phase(mut phase: watch::Receiver<Phase>) -> Option<()> {
    phase.changed().await.ok()
}

/// Accounts for one text frame from the server. A frame that is not a [`ServerFrame`] this
/// client knows (a newer server's event, say) is skipped, as the protocol says.
fn on_frame(
    text: &str,
    role: &Role,
    context: &Context,
    state: &mut Progress,
    tally: &mut Tally,
    draining: bool,
) -> Result<(), BoxError> {
    let live = &context.live;
    let Ok(frame) = serde_json::from_str::<ServerFrame>(text) else { return Ok(()) };
    match frame {
        ServerFrame::Message { message } => {
            if let Some((at, origin)) = body_stamp(&message.body) {
                if origin != role.index {
                    tally.delivered += 1;
                    let _ = tally.latency.record(context.micros().saturating_sub(at).max(1));
                    state.unreported += 1;
                    if draining || state.unreported >= LIVE_BATCH {
                        Live::add(&live.delivered, std::mem::take(&mut state.unreported));
                    }
                }
            }
        }
        ServerFrame::Ack(Ack::Sent { client_id, .. }) => {
            if let Some(at) = ack_stamp(&client_id) {
                tally.acked += 1;
                state.in_flight = state.in_flight.saturating_sub(1);
                let _ = tally.ack_latency.record(context.micros().saturating_sub(at).max(1));
                Live::add(&live.settled, 1);
            }
        }
        ServerFrame::Error(_) => {
            tally.errors += 1;
            if live.errors.fetch_add(1, Ordering::Relaxed) == 0 {
                eprintln!("socket {}: {text}", role.index);
            }
            if state.in_flight > 0 {
                state.in_flight -= 1;
                Live::add(&live.settled, 1);
            }
        }
        ServerFrame::Resync => tally.resyncs += 1,
        ServerFrame::SessionEnded { .. } => return Err(format!("session ended: {text}").into()),
        _ => {}
    }
    Ok(())
}

/// `(µs, socket)` from a loadgen message body, `lg <µs> <socket>`.
pub(crate) fn body_stamp(body: &str) -> Option<(u64, usize)> {
    let (at, origin) = body.strip_prefix("lg ")?.split_once(' ')?;
    Some((at.parse().ok()?, origin.parse().ok()?))
}

/// µs from a loadgen client id, `<µs>.<n>`.
pub(crate) fn ack_stamp(client_id: &str) -> Option<u64> {
    client_id.split('.').next()?.parse().ok()
}
