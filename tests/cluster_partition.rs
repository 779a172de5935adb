//! Network partitions of a cluster node (issue 25): one node runs in a network namespace of its
//! own, reaching its clients, PostgreSQL and NATS over a veth link each (`support::netns`); a
//! second node runs in the root namespace as in `tests/multinode.rs`. Each test cuts one link
//! of the first node for 30 s (its packets vanish: connections hang, nothing is reset) and heals
//! it, then checks what the issue asks: while cut, the node answers errors with stable codes
//! and never acknowledges what is not durable; after healing, nothing acknowledged is lost or
//! doubled, a resume from a cursor is gap-free, presence converges within the heartbeat bound,
//! and the node serves again without a restart.
//!
//! Needs `KANECT_TEST_PG` and `KANECT_TEST_NATS` (ignored without them), and root with `ip`
//! (iproute2): with the variables set and no way to make a namespace, the tests fail, saying why.
//! Fresh schema and bus prefix per test, as in `tests/multinode.rs`.

mod support;

use serde_json::{json, Value};
use std::process::Stdio;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use support::binary::{server_binary, start_as, start_process, ServerProcess};
use support::netns::{self, Netns, Relay, Which};
use support::*;
use tokio_tungstenite::tungstenite::Message;

/// The nodes' heartbeat: a node silent for three of these counts as gone.
const HEARTBEAT_MS: u64 = 200;
/// How long a link stays cut (the figure).
const CUT: Duration = Duration::from_secs(30);
/// How long the cut node may take to answer a request with an error while cut.
const ERROR_WITHIN: Duration = Duration::from_secs(15);
/// How long presence may take to change across nodes, after a cut or a heal: three
/// heartbeats plus slack for a loaded machine (and, after a heal, the bus client's reconnect).
const PRESENCE_WITHIN: Duration = Duration::from_secs(10);
/// How long the node may take to serve again after a heal (its broken connections replaced).
const SERVES_AGAIN_WITHIN: Duration = Duration::from_secs(15);
/// The cut node's WebSocket ping interval and idle timeout (`--ws-ping-interval`,
/// `--ws-idle-timeout`): a client behind a cut link is closed after about their sum.
const WS_PING: &str = "1s";
const WS_IDLE: &str = "3s";
/// How long the cut node may take to notice its clients are gone and report them offline.
const CLIENT_GONE_WITHIN: Duration = Duration::from_secs(10);

fn fresh_names() -> (String, String) {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    let random = format!("{:08x}{:04x}", now.subsec_nanos(), std::process::id() & 0xffff);
    (format!("kanect_test_{}_{random}", now.as_secs()), format!("test-{random}"))
}

/// Two nodes on one schema and prefix: `inside` behind a namespace, `other` in the root one.
/// Fields drop in order: the processes before the relays and the namespace.
struct Cluster {
    inside: ServerProcess,
    other: ServerProcess,
    _pg: Relay,
    _nats: Relay,
    netns: Netns,
}

impl Cluster {
    /// `short_pings`: the cut node pings its sockets every [`WS_PING`] and closes one silent
    /// for [`WS_IDLE`] (for the clients' cut); else the server's defaults.
    async fn start(short_pings: bool) -> Cluster {
        if let Err(why) = netns::available() {
            panic!("KANECT_TEST_PG and KANECT_TEST_NATS are set, but these tests need network namespaces: {why}");
        }
        let pg = std::env::var("KANECT_TEST_PG").expect("KANECT_TEST_PG names a database");
        let nats = std::env::var("KANECT_TEST_NATS").expect("KANECT_TEST_NATS names a NATS server");
        let binary = server_binary();
        let (schema, prefix) = fresh_names();
        let netns = Netns::new();
        let pg_relay = Relay::start(netns.link(Which::Postgres).outside_ip, netns::service_addr(&pg)).await;
        let nats_relay = Relay::start(netns.link(Which::Nats).outside_ip, netns::service_addr(&nats)).await;
        let heartbeat = HEARTBEAT_MS.to_string();
        let (pg_inside, nats_inside) = (netns::via(&pg, pg_relay.addr), netns::via(&nats, nats_relay.addr));
        let mut inside_args = vec![
            "--store",
            &pg_inside,
            "--store-schema",
            &schema,
            "--bus",
            &nats_inside,
            "--bus-prefix",
            &prefix,
            "--heartbeat-ms",
            &heartbeat,
        ];
        if short_pings {
            inside_args.extend(["--ws-ping-interval", WS_PING, "--ws-idle-timeout", WS_IDLE]);
        }
        let listen = format!("{}:0", netns.link(Which::Clients).inside_ip);
        let inside = start_as(netns.command(&binary), &listen, inside_args, &[], "warn", Stdio::inherit());
        let other_args = [
            "--store",
            &pg,
            "--store-schema",
            &schema,
            "--bus",
            &nats,
            "--bus-prefix",
            &prefix,
            "--heartbeat-ms",
            &heartbeat,
        ];
        let other = start_process(&binary, other_args, &[]);
        Cluster { inside, other, _pg: pg_relay, _nats: nats_relay, netns }
    }
}

/// The next frame within `within` for which `pick` holds, skipping others; None if none came.
async fn frame_within(ws: &mut Ws, within: Duration, pick: impl Fn(&Value) -> bool) -> Option<Value> {
    let deadline = tokio::time::Instant::now() + within;
    for _ in 0..10_000 {
        let message = match tokio::time::timeout_at(deadline, futures_util::StreamExt::next(&mut ws.socket)).await {
            Err(_) => return None,
            Ok(Some(Ok(message))) => message,
            Ok(other) => panic!("the socket ended: {other:?}"),
        };
        if let Message::Text(text) = message {
            let frame: Value = serde_json::from_str(&text).expect("frames are JSON");
            if pick(&frame) {
                return Some(frame);
            }
        }
    }
    panic!("too many frames");
}

/// Sends `body` (client id = body) and returns the reply carrying its reference, within `within`.
async fn send_within(ws: &mut Ws, conversation: &str, body: &str, reference: &str, within: Duration) -> Option<Value> {
    let frame =
        json!({"type": "send", "conversation": conversation, "client_id": body, "body": body, "ref": reference});
    ws.send(frame).await;
    frame_within(ws, within, |f| f["ref"] == reference).await
}

/// Sends `body` until it is acknowledged (an `unavailable` error means try again), within
/// [`SERVES_AGAIN_WITHIN`]; its seq.
async fn send_until_acked(ws: &mut Ws, conversation: &str, body: &str) -> u64 {
    let started = Instant::now();
    for attempt in 0..100 {
        let left = SERVES_AGAIN_WITHIN.saturating_sub(started.elapsed());
        let reply = send_within(ws, conversation, body, &format!("{body}-{attempt}"), left).await;
        let Some(reply) = reply else { panic!("{body}: no reply within {SERVES_AGAIN_WITHIN:?}") };
        match reply["type"].as_str() {
            Some("ack") => {
                eprintln!("{body} acknowledged {:?} after the first try (attempt {attempt})", started.elapsed());
                return reply["seq"].as_u64().expect("seq");
            }
            Some("error") if reply["code"] == "unavailable" => {
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
            _ => panic!("{body}: {reply}"),
        }
    }
    panic!("{body}: not acknowledged within {SERVES_AGAIN_WITHIN:?}");
}

/// Sends over REST on `node`; its seq.
async fn post(node: &ServerProcess, token: &str, conversation: &str, body: &str) -> u64 {
    let path = format!("/api/v1/conversations/{conversation}/messages");
    let reply = request(node.addr, "POST", &path, Some(token), Some(json!({"client_id": body, "body": body}))).await;
    assert_eq!(reply.status, 200, "{:?}", reply.json());
    reply.json()["seq"].as_u64().expect("seq")
}

/// The conversation's history: (body, seq) of every message, in order.
async fn history(node: &ServerProcess, token: &str, conversation: &str) -> Vec<(String, u64)> {
    let path = format!("/api/v1/conversations/{conversation}/messages?limit=100");
    let reply = request(node.addr, "GET", &path, Some(token), None).await;
    assert_eq!(reply.status, 200, "{:?}", reply.json());
    let messages = reply.json()["messages"].as_array().expect("messages").clone();
    messages.iter().map(|m| (m["body"].as_str().unwrap_or("").to_string(), m["seq"].as_u64().expect("seq"))).collect()
}

/// Checks that the history holds each of `acked` (body, seq) exactly once, nothing else, with
/// seqs 1, 2, 3, ... (gap-free).
fn assert_history(history: &[(String, u64)], acked: &[(String, u64)]) {
    let seqs: Vec<u64> = history.iter().map(|(_, seq)| *seq).collect();
    assert_eq!(seqs, (1..=history.len() as u64).collect::<Vec<_>>(), "gap-free seqs: {history:?}");
    let mut kept = history.to_vec();
    kept.sort();
    let mut expected = acked.to_vec();
    expected.sort();
    assert_eq!(kept, expected, "every acknowledged message exactly once, and nothing else");
}

/// Resumes on a new socket to `node` from `cursor` and collects the messages until `last`
/// (the seq of the last message): every one after the cursor, once, in order.
async fn resume(node: &ServerProcess, token: &str, conversation: &str, cursor: u64, last: u64) -> Vec<u64> {
    let mut ws = connect_resuming(node.addr, token).await;
    let cursors = json!([{"conversation": conversation, "seq": cursor}]);
    ws.send(json!({"type": "resume", "cursors": cursors, "ref": "resume"})).await;
    let mut received = Vec::new();
    let mut resumed = false;
    while !(resumed && received.last() == Some(&last)) {
        let frame = ws.next().await;
        match frame["type"].as_str() {
            Some("message") => received.push(message_of(&frame).1),
            Some("ack") if frame["ref"] == "resume" => resumed = true,
            Some("error") | Some("resync") => panic!("unexpected {frame}"),
            _ => {}
        }
        assert!(received.len() <= 100, "too many messages: {received:?}");
    }
    // Nothing more: everything queued comes before the pong.
    ws.send(json!({"type": "ping", "ref": "end"})).await;
    loop {
        let frame = ws.next().await;
        if frame["type"] == "pong" {
            break;
        }
        assert_ne!(frame["type"], "message", "a message after the last one: {frame}");
    }
    received
}

fn presence(user: &str, online: bool) -> impl Fn(&Value) -> bool + '_ {
    move |f: &Value| f["type"] == "presence" && f["user"] == user && f["online"] == online
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(not(all(kanect_test_pg, kanect_test_nats)), ignore = "set KANECT_TEST_PG and KANECT_TEST_NATS to run")]
async fn a_node_cut_from_postgres_answers_unavailable_and_serves_again_after_the_heal() {
    let cluster = Cluster::start(false).await;
    let (inside, other) = (&cluster.inside, &cluster.other);
    let alice = signup(inside.addr, "alice").await;
    let bob = signup(other.addr, "bob").await;
    let direct = open_direct(inside.addr, &alice, &bob).await;
    let mut alice_ws = connect(inside.addr, &alice.token).await;
    let mut acked = Vec::new();
    let first = send_until_acked(&mut alice_ws, &direct, "a1").await;
    acked.push(("a1".to_string(), first));

    let cut_at = Instant::now();
    cluster.netns.cut(Which::Postgres);
    // A send on the cut node: an error with a stable code, in time; never an ack.
    for attempt in 0..2 {
        let asked = Instant::now();
        let reply = send_within(&mut alice_ws, &direct, "a2", &format!("cut-{attempt}"), ERROR_WITHIN).await;
        let Some(reply) = reply else { panic!("no answer to a send within {ERROR_WITHIN:?} of asking, while cut") };
        eprintln!("send {attempt} while cut from PostgreSQL: {reply} after {:?}", asked.elapsed());
        assert_eq!((reply["type"].as_str(), reply["code"].as_str()), (Some("error"), Some("unavailable")), "{reply}");
    }
    // The other node goes on storing and acknowledging.
    acked.push(("b1".to_string(), post(other, &bob.token, &direct, "b1").await));
    tokio::time::sleep(CUT.saturating_sub(cut_at.elapsed())).await;
    let reply = send_within(&mut alice_ws, &direct, "a2", "cut-late", ERROR_WITHIN).await;
    assert_eq!(reply.as_ref().map(|r| r["type"].clone()), Some(json!("error")), "still cut: {reply:?}");
    cluster.netns.heal(Which::Postgres);

    // The same node serves again, without a restart; the send it refused goes through once.
    acked.push(("a2".to_string(), send_until_acked(&mut alice_ws, &direct, "a2").await));
    acked.push(("a3".to_string(), send_until_acked(&mut alice_ws, &direct, "a3").await));
    let last = acked.iter().map(|(_, seq)| *seq).max().expect("acked");
    for node in [inside, other] {
        assert_history(&history(node, &bob.token, &direct).await, &acked);
    }
    let received = resume(other, &bob.token, &direct, first, last).await;
    assert_eq!(received, (first + 1..=last).collect::<Vec<_>>(), "a resume from the cursor before the cut is gap-free");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(not(all(kanect_test_pg, kanect_test_nats)), ignore = "set KANECT_TEST_PG and KANECT_TEST_NATS to run")]
async fn a_node_cut_from_nats_keeps_storing_and_presence_converges_after_the_heal() {
    let cluster = Cluster::start(false).await;
    let (inside, other) = (&cluster.inside, &cluster.other);
    let alice = signup(inside.addr, "alice").await;
    let bob = signup(other.addr, "bob").await;
    let direct = open_direct(inside.addr, &alice, &bob).await;
    // Bob first: he sees Alice come online.
    let mut bob_ws = connect(other.addr, &bob.token).await;
    let mut alice_ws = connect(inside.addr, &alice.token).await;
    assert!(frame_within(&mut bob_ws, PRESENCE_WITHIN, presence(&alice.id, true)).await.is_some(), "alice online");
    let mut acked = Vec::new();
    let first = send_until_acked(&mut alice_ws, &direct, "a1").await;
    acked.push(("a1".to_string(), first));
    let live = frame_within(&mut bob_ws, Duration::from_secs(5), |f| f["type"] == "message").await;
    assert_eq!(live.as_ref().map(message_of), Some(("a1".to_string(), first)), "live across nodes before the cut");

    let cut_at = Instant::now();
    cluster.netns.cut(Which::Nats);
    // Both nodes go on storing and acknowledging: the store is PostgreSQL's, not the bus's.
    for body in ["a2", "a3"] {
        let reply = send_within(&mut alice_ws, &direct, body, body, ERROR_WITHIN).await;
        let reply = reply.unwrap_or_else(|| panic!("{body}: no answer within {ERROR_WITHIN:?} while cut from NATS"));
        assert_eq!(reply["type"], "ack", "{reply}");
        acked.push((body.to_string(), reply["seq"].as_u64().expect("seq")));
    }
    acked.push(("b1".to_string(), post(other, &bob.token, &direct, "b1").await));
    // The other node stops hearing the cut one's heartbeats: Alice goes offline there.
    let offline = frame_within(&mut bob_ws, PRESENCE_WITHIN, presence(&alice.id, false)).await;
    assert!(offline.is_some(), "Alice offline on the other node within {PRESENCE_WITHIN:?} of the cut");
    eprintln!("Alice offline on the other node {:?} after the cut", cut_at.elapsed());
    tokio::time::sleep(CUT.saturating_sub(cut_at.elapsed())).await;
    acked.push(("a4".to_string(), send_until_acked(&mut alice_ws, &direct, "a4").await));
    let healed_at = Instant::now();
    cluster.netns.heal(Which::Nats);

    // Presence converges: Alice online again on the other node.
    let online = frame_within(&mut bob_ws, PRESENCE_WITHIN, presence(&alice.id, true)).await;
    assert!(online.is_some(), "Alice online again on the other node within {PRESENCE_WITHIN:?} of the heal");
    eprintln!("Alice online again on the other node {:?} after the heal", healed_at.elapsed());
    // Bob, who missed events, resumes from his cursor on a new socket: all of them, once.
    let last = acked.iter().map(|(_, seq)| *seq).max().expect("acked");
    let received = resume(other, &bob.token, &direct, first, last).await;
    assert_eq!(received, (first + 1..=last).collect::<Vec<_>>(), "a resume after the heal is gap-free");
    // Live delivery across nodes works again: a message on the healed node reaches Bob's new
    // socket (connected after the heal).
    let mut bob_ws = connect(other.addr, &bob.token).await;
    let seq = send_until_acked(&mut alice_ws, &direct, "a5").await;
    acked.push(("a5".to_string(), seq));
    let live = frame_within(&mut bob_ws, Duration::from_secs(5), |f| f["type"] == "message").await;
    assert_eq!(live.as_ref().map(message_of), Some(("a5".to_string(), seq)), "live across nodes after the heal");
    assert_history(&history(other, &bob.token, &direct).await, &acked);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(not(all(kanect_test_pg, kanect_test_nats)), ignore = "set KANECT_TEST_PG and KANECT_TEST_NATS to run")]
async fn a_node_cut_from_its_clients_reports_them_offline_and_they_resume_after_the_heal() {
    let cluster = Cluster::start(true).await;
    let (inside, other) = (&cluster.inside, &cluster.other);
    let alice = signup(inside.addr, "alice").await;
    let bob = signup(other.addr, "bob").await;
    let direct = open_direct(other.addr, &bob, &alice).await;
    // Bob first: he sees Alice come online.
    let mut bob_ws = connect(other.addr, &bob.token).await;
    let mut alice_ws = connect(inside.addr, &alice.token).await;
    assert!(frame_within(&mut bob_ws, PRESENCE_WITHIN, presence(&alice.id, true)).await.is_some(), "alice online");
    let mut acked = Vec::new();
    let first = send_until_acked(&mut alice_ws, &direct, "a1").await;
    acked.push(("a1".to_string(), first));

    let cut_at = Instant::now();
    cluster.netns.cut(Which::Clients);
    // The node hears nothing from Alice's socket any more: it closes it after its idle timeout
    // and reports her offline.
    let offline = frame_within(&mut bob_ws, CLIENT_GONE_WITHIN, presence(&alice.id, false)).await;
    assert!(offline.is_some(), "Alice offline within {CLIENT_GONE_WITHIN:?} of her link being cut");
    eprintln!("Alice offline {:?} after her link was cut", cut_at.elapsed());
    for body in ["b1", "b2"] {
        acked.push((body.to_string(), post(other, &bob.token, &direct, body).await));
    }
    tokio::time::sleep(CUT.saturating_sub(cut_at.elapsed())).await;
    cluster.netns.heal(Which::Clients);

    // Alice's old socket is gone (the node closed it); she reconnects and resumes gap-free.
    assert!(alice_ws.closed_within(WAIT).await.is_some(), "the old socket ends after the heal");
    let last = acked.iter().map(|(_, seq)| *seq).max().expect("acked");
    let received = resume(inside, &alice.token, &direct, first, last).await;
    assert_eq!(received, (first + 1..=last).collect::<Vec<_>>(), "a resume after the heal is gap-free");
    let online = frame_within(&mut bob_ws, PRESENCE_WITHIN, presence(&alice.id, true)).await;
    assert!(online.is_some(), "Alice online again after reconnecting");
    assert_history(&history(inside, &alice.token, &direct).await, &acked);
}
