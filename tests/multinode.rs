//! Server processes as a cluster: the `kanect` binary (with its `postgres` and `nats` features),
//! every node on one PostgreSQL schema (`--store`, `--store-schema`) and one NATS prefix
//! (`--bus`, `--bus-prefix`), each on 127.0.0.1 port 0. Users on different nodes chat live over
//! WebSocket with receipts and presence; then one node is killed with SIGKILL, its user
//! reconnects to the other node and resumes by cursor — nothing lost, nothing doubled — and the
//! surviving node reports the user offline once the dead node's heartbeats stop. A node
//! stopped with SIGTERM instead tells the other of its users' departure before it exits.
//! Three nodes share a group, and a member removed (or added back) through one node is refused
//! (or let in) through another right after, whatever that node had cached; log-in slow-downs
//! and rate limits counted on one node hold on the other. PostgreSQL's group commit shows on
//! `/metrics` as the embedded stores' does.
//!
//! Needs `KANECT_TEST_PG` (a database URL) and `KANECT_TEST_NATS` (a NATS URL); ignored without
//! them, failing when they are set and a service is down. Each run uses a fresh schema named
//! like the kanect-store tests' (`kanect_test_<unix seconds>_<random>`), which their clean-up
//! drops once it is an hour old, and a fresh bus prefix, so runs never see each other.

mod support;

use serde_json::{json, Value};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use support::binary::{server_binary, start_process, ServerProcess};
use support::*;

/// The nodes' heartbeat: a killed node's users count as offline after three of these.
const HEARTBEAT_MS: u64 = 200;
/// How long after the kill the survivor may take to report the dead node's user offline:
/// three heartbeats plus generous slack for a loaded machine.
const OFFLINE_WITHIN: Duration = Duration::from_secs(5);

/// A schema and a bus prefix no other run uses.
fn fresh_names() -> (String, String) {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    let random = format!("{:08x}{:04x}", now.subsec_nanos(), std::process::id() & 0xffff);
    (format!("kanect_test_{}_{random}", now.as_secs()), format!("test-{random}"))
}

/// One node: the cluster build, on the shared schema and prefix.
fn start_node(binary: &std::path::Path, schema: &str, prefix: &str) -> ServerProcess {
    start_node_beating(binary, schema, prefix, HEARTBEAT_MS)
}

fn start_node_beating(binary: &std::path::Path, schema: &str, prefix: &str, heartbeat_ms: u64) -> ServerProcess {
    start_node_with(binary, schema, prefix, &["--heartbeat-ms", &heartbeat_ms.to_string()])
}

/// One node, with `flags` besides the cluster's own.
fn start_node_with(binary: &std::path::Path, schema: &str, prefix: &str, flags: &[&str]) -> ServerProcess {
    let pg = std::env::var("KANECT_TEST_PG").expect("KANECT_TEST_PG names a database");
    let nats = std::env::var("KANECT_TEST_NATS").expect("KANECT_TEST_NATS names a NATS server");
    let args = ["--store", &pg, "--store-schema", schema, "--bus", &nats, "--bus-prefix", prefix];
    start_process(binary, args.iter().chain(flags), &[])
}

/// The next frame for which `pick` holds, skipping others.
async fn next_where(ws: &mut Ws, what: &str, pick: impl Fn(&Value) -> bool) -> Value {
    for _ in 0..1000 {
        let frame = ws.next().await;
        if pick(&frame) {
            return frame;
        }
    }
    panic!("no {what}");
}

async fn presence_of(ws: &mut Ws, user: &str, online: bool) -> Value {
    next_where(ws, "presence", |f| f["type"] == "presence" && f["user"] == user && f["online"] == online).await
}

async fn send(ws: &mut Ws, conversation: &str, body: &str) -> u64 {
    let frame = json!({"type": "send", "conversation": conversation, "client_id": body, "body": body});
    let ack = ws.call(frame, body).await;
    assert_eq!(ack["type"], "ack", "{ack}");
    ack["seq"].as_u64().expect("seq")
}

/// Sends over REST, so that no event on the sender's socket is skipped while waiting for an ack.
async fn post(node: &ServerProcess, token: &str, conversation: &str, body: &str) -> u64 {
    let path = format!("/api/v1/conversations/{conversation}/messages");
    let reply = request(node.addr, "POST", &path, Some(token), Some(json!({"client_id": body, "body": body}))).await;
    assert_eq!(reply.status, 200, "{:?}", reply.json());
    reply.json()["seq"].as_u64().expect("seq")
}

async fn online_via_rest(node: &ServerProcess, token: &str, user: &str) -> bool {
    let reply = request(node.addr, "GET", &format!("/api/v1/users/{user}"), Some(token), None).await;
    assert_eq!(reply.status, 200);
    reply.json()["presence"]["online"] == true
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(not(all(kanect_test_pg, kanect_test_nats)), ignore = "set KANECT_TEST_PG and KANECT_TEST_NATS to run")]
async fn two_server_processes_chat_live_and_survive_a_killed_node() {
    let binary = server_binary();
    let (schema, prefix) = fresh_names();
    let node1 = start_node(&binary, &schema, &prefix);
    let node2 = start_node(&binary, &schema, &prefix);

    // Accounts live in the shared database: signed up on different nodes, found from either.
    let alice = signup(node1.addr, "alice").await;
    let bob = signup(node2.addr, "bob").await;
    let direct = open_direct(node1.addr, &alice, &bob).await;
    assert_eq!(open_direct(node2.addr, &bob, &alice).await, direct, "the same conversation from node 2");

    // Presence across nodes: Alice (node 1) sees Bob come online on node 2.
    let mut alice_ws = connect(node1.addr, &alice.token).await;
    let mut bob_ws = connect(node2.addr, &bob.token).await;
    presence_of(&mut alice_ws, &bob.id, true).await;
    assert!(online_via_rest(&node1, &alice.token, &bob.id).await, "node 1 counts Bob, connected to node 2");

    // A message from node 1 arrives live on node 2; Bob's read receipt comes back to node 1.
    let seq = send(&mut alice_ws, &direct, "m1").await;
    assert_eq!(message_of(&bob_ws.next_of("message").await), ("m1".to_string(), seq));
    bob_ws.send(json!({"type": "read", "conversation": direct, "seq": seq})).await;
    let receipt = next_where(&mut alice_ws, "Bob's receipt", |f| f["type"] == "receipt" && f["user"] == bob.id).await;
    assert_eq!((receipt["conversation"].as_str(), receipt["read"].as_u64()), (Some(direct.as_str()), Some(seq)));
    // And the other way: Bob's reply (to m1, with its preview) reaches Alice on node 1.
    let frame = json!({"type": "send", "conversation": direct, "client_id": "r1", "body": "r1", "reply_to": seq});
    let reply = bob_ws.call(frame, "r1").await["seq"].as_u64().expect("seq");
    let got =
        next_where(&mut alice_ws, "Bob's reply", |f| f["type"] == "message" && f["message"]["body"] == "r1").await;
    assert_eq!(message_of(&got).1, reply);
    assert_eq!(got["message"]["reply"], json!({"sender": alice.id, "text": "m1", "deleted": false}));
    let bob_cursor = reply;
    // A reaction on node 2 reaches node 1, with the message's reactions as they are now.
    let path = format!("/api/v1/conversations/{direct}/messages");
    let m1_id = request(node2.addr, "GET", &path, Some(&bob.token), None).await.json()["messages"][0]["id"].clone();
    assert_eq!(bob_ws.call(json!({"type": "react", "id": m1_id, "emoji": "👍"}), "like").await["type"], "ack");
    let reaction = next_where(&mut alice_ws, "Bob's reaction", |f| f["type"] == "reaction").await;
    assert_eq!(reaction["reactions"], json!([{"emoji": "👍", "users": [bob.id]}]));

    // Node 2 dies without a word (from here Alice sends over REST: waiting for a WebSocket ack
    // would skip the presence frames this part watches for). Bob's socket drops; node 1 notices by the missing heartbeats.
    let killed_at = Instant::now();
    node2.kill();
    assert!(bob_ws.closed_within(WAIT).await.is_some(), "Bob's socket to the killed node ends");
    let missed = post(&node1, &alice.token, &direct, "m2").await;
    presence_of(&mut alice_ws, &bob.id, false).await;
    let offline_after = killed_at.elapsed();
    eprintln!("Bob reported offline {offline_after:?} after node 2 was killed (heartbeat {HEARTBEAT_MS} ms)");
    assert!(offline_after < OFFLINE_WITHIN, "offline after {offline_after:?}");
    assert!(!online_via_rest(&node1, &alice.token, &bob.id).await);
    let missed_too = post(&node1, &alice.token, &direct, "m3").await;

    // Bob reconnects to node 1 and resumes from his cursor. A message sent after his socket
    // opened but before his resume is handled must come once, after the backlog.
    let mut bob_ws = connect_resuming(node1.addr, &bob.token).await;
    presence_of(&mut alice_ws, &bob.id, true).await;
    let racing = post(&node1, &alice.token, &direct, "m4").await;
    let cursors = json!([{"conversation": direct, "seq": bob_cursor}]);
    bob_ws.send(json!({"type": "resume", "cursors": cursors, "ref": "resume"})).await;
    let live = post(&node1, &alice.token, &direct, "m5").await;
    let mut received = Vec::new();
    let mut resumed = false;
    while !(resumed && received.last() == Some(&live)) {
        let frame = bob_ws.next().await;
        match frame["type"].as_str() {
            Some("message") => received.push(message_of(&frame).1),
            Some("ack") if frame["ref"] == "resume" => resumed = true,
            Some("error") | Some("resync") => panic!("unexpected {frame}"),
            _ => {}
        }
        assert!(received.len() <= 10, "too many messages: {received:?}");
    }
    // Nothing after m5 either: everything queued for Bob comes before the pong.
    bob_ws.send(json!({"type": "ping", "ref": "end"})).await;
    loop {
        let frame = bob_ws.next().await;
        if frame["type"] == "pong" {
            break;
        }
        assert_ne!(frame["type"], "message", "a message after the last one: {frame}");
    }
    assert_eq!(received, vec![missed, missed_too, racing, live], "each missed and live message exactly once, in order");

    // Receipts keep working on the surviving node.
    bob_ws.send(json!({"type": "read", "conversation": direct, "seq": live})).await;
    let receipt = next_where(&mut alice_ws, "Bob's second receipt", |f| {
        f["type"] == "receipt" && f["user"] == bob.id && f["read"] == live
    })
    .await;
    assert_eq!(receipt["conversation"], direct.as_str());

    // The history has every message once, in seq order.
    let path = format!("/api/v1/conversations/{direct}/messages?limit=50");
    let history = request(node1.addr, "GET", &path, Some(&bob.token), None).await.json();
    let bodies: Vec<_> = history["messages"].as_array().expect("messages").iter().map(|m| m["body"].clone()).collect();
    assert_eq!(bodies, vec![json!("m1"), json!("r1"), json!("m2"), json!("m3"), json!("m4"), json!("m5")]);

    let status = tokio::task::spawn_blocking(move || node1.terminate()).await.expect("join");
    assert_eq!(status, Some(0), "the surviving node stops cleanly");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(not(all(kanect_test_pg, kanect_test_nats)), ignore = "set KANECT_TEST_PG and KANECT_TEST_NATS to run")]
async fn a_node_stopped_cleanly_tells_the_other_that_its_users_left() {
    // Heartbeats so slow that their expiry (3 × 60 s) cannot be what reports Bob offline.
    const SLOW_HEARTBEAT_MS: u64 = 60_000;
    let binary = server_binary();
    let (schema, prefix) = fresh_names();
    let node1 = start_node_beating(&binary, &schema, &prefix, SLOW_HEARTBEAT_MS);
    let node2 = start_node_beating(&binary, &schema, &prefix, SLOW_HEARTBEAT_MS);
    let alice = signup(node1.addr, "alice").await;
    let bob = signup(node2.addr, "bob").await;
    open_direct(node1.addr, &alice, &bob).await;
    let mut alice_ws = connect(node1.addr, &alice.token).await;
    let mut bob_ws = connect(node2.addr, &bob.token).await;
    presence_of(&mut alice_ws, &bob.id, true).await;

    let status = tokio::task::spawn_blocking(move || node2.terminate()).await.expect("join");
    assert_eq!(status, Some(0), "node 2 stops cleanly");
    assert!(bob_ws.closed_within(WAIT).await.is_some(), "Bob's socket is closed by the shutdown");
    let offline = tokio::time::timeout(OFFLINE_WITHIN, presence_of(&mut alice_ws, &bob.id, false)).await;
    assert!(offline.is_ok(), "node 1 heard that Bob left, long before node 2's heartbeats would expire");
    assert!(!online_via_rest(&node1, &alice.token, &bob.id).await);
    let status = tokio::task::spawn_blocking(move || node1.terminate()).await.expect("join");
    assert_eq!(status, Some(0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(not(all(kanect_test_pg, kanect_test_nats)), ignore = "set KANECT_TEST_PG and KANECT_TEST_NATS to run")]
async fn a_file_uploaded_to_one_node_is_read_from_the_other_until_its_message_is_deleted() {
    let binary = server_binary();
    let (schema, prefix) = fresh_names();
    let node1 = start_node(&binary, &schema, &prefix);
    let node2 = start_node(&binary, &schema, &prefix);
    let alice = signup(node1.addr, "alice").await;
    let bob = signup(node2.addr, "bob").await;
    let direct = open_direct(node1.addr, &alice, &bob).await;
    let mut bob_ws = connect(node2.addr, &bob.token).await;

    // Over a chunk of PgBlobStore (256 KiB), so the bytes span rows.
    let bytes: Vec<u8> = (0..300_000u32).map(|i| (i % 251) as u8).collect();
    let auth = format!("Bearer {}", alice.token);
    let uploaded =
        raw_request(node1.addr, "POST", "/api/v1/attachments?name=data.bin", &[("Authorization", &auth)], &bytes).await;
    assert_eq!(uploaded.status, 201, "{:?}", uploaded.json());
    let id = uploaded.json()["id"].as_str().expect("id").to_string();
    let path = format!("/api/v1/conversations/{direct}/messages");
    let body = json!({"client_id": "f1", "body": "", "attachments": [id]});
    let sent = request(node1.addr, "POST", &path, Some(&alice.token), Some(body)).await;
    assert_eq!(sent.status, 200, "{:?}", sent.json());
    let message = bob_ws.next_of("message").await;
    assert_eq!(message["message"]["attachments"][0]["id"], id.as_str(), "the event crosses the bus with its files");

    let bob_auth = format!("Bearer {}", bob.token);
    let read =
        raw_request(node2.addr, "GET", &format!("/api/v1/attachments/{id}"), &[("Authorization", &bob_auth)], b"")
            .await;
    assert_eq!(read.status, 200);
    assert_eq!(read.body, bytes, "node 2 serves the bytes node 1 took");
    let range = [("Authorization", bob_auth.as_str()), ("Range", "bytes=262140-262150")];
    let part = raw_request(node2.addr, "GET", &format!("/api/v1/attachments/{id}"), &range, b"").await;
    assert_eq!((part.status, part.body.as_slice()), (206, &bytes[262_140..=262_150]), "a range across two chunks");

    let message_id = sent.json()["id"].as_str().expect("message id").to_string();
    let deleted =
        request(node2.addr, "DELETE", &format!("/api/v1/messages/{message_id}"), Some(&alice.token), None).await;
    assert_eq!(deleted.status, 200);
    let gone =
        raw_request(node1.addr, "GET", &format!("/api/v1/attachments/{id}"), &[("Authorization", &auth)], b"").await;
    assert_eq!((gone.status, gone.code().as_str()), (404, "attachment_not_found"));

    for node in [node1, node2] {
        assert_eq!(tokio::task::spawn_blocking(move || node.terminate()).await.expect("join"), Some(0));
    }
}

/// A message through `node` over REST; the reply, whatever it is.
async fn try_post(node: &ServerProcess, token: &str, conversation: &str, body: &str) -> Reply {
    let path = format!("/api/v1/conversations/{conversation}/messages");
    request(node.addr, "POST", &path, Some(token), Some(json!({"client_id": body, "body": body}))).await
}

/// The bodies of a user's messages (not system lines) in the conversation, oldest first.
async fn user_bodies(node: &ServerProcess, token: &str, conversation: &str) -> Vec<String> {
    let path = format!("/api/v1/conversations/{conversation}/messages?limit=100");
    let history = request(node.addr, "GET", &path, Some(token), None).await.json();
    let messages = history["messages"].as_array().expect("messages").clone();
    let seqs: Vec<u64> = messages.iter().map(|m| m["seq"].as_u64().expect("seq")).collect();
    assert_eq!(seqs, (1..=seqs.len() as u64).collect::<Vec<_>>(), "gap-free seqs");
    messages.iter().filter(|m| m["event"].is_null()).map(|m| m["body"].as_str().expect("body").to_string()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(not(all(kanect_test_pg, kanect_test_nats)), ignore = "set KANECT_TEST_PG and KANECT_TEST_NATS to run")]
async fn three_nodes_share_a_group_and_a_membership_change_on_one_is_in_force_on_the_others_at_once() {
    let binary = server_binary();
    let (schema, prefix) = fresh_names();
    let nodes = [
        start_node(&binary, &schema, &prefix),
        start_node(&binary, &schema, &prefix),
        start_node(&binary, &schema, &prefix),
    ];
    let alice = signup(nodes[0].addr, "alice").await;
    let bob = signup(nodes[1].addr, "bob").await;
    let carol = signup(nodes[2].addr, "carol").await;
    let created = request(
        nodes[0].addr,
        "POST",
        "/api/v1/conversations",
        Some(&alice.token),
        Some(json!({"name": "three", "members": [bob.id, carol.id]})),
    )
    .await;
    assert_eq!(created.status, 201, "{:?}", created.json());
    let group = created.json()["id"].as_str().expect("id").to_string();

    // Each on their own node; what each sends reaches the other two live.
    let mut sockets = Vec::new();
    for (node, user) in nodes.iter().zip([&alice, &bob, &carol]) {
        sockets.push(connect(node.addr, &user.token).await);
    }
    for (i, user) in ["alice", "bob", "carol"].iter().enumerate() {
        let body = format!("hello-from-{user}");
        let seq = send(&mut sockets[i], &group, &body).await;
        for j in (0..3).filter(|j| *j != i) {
            let got = next_where(&mut sockets[j], "the message", |f| {
                f["type"] == "message" && f["message"]["body"] == body.as_str()
            })
            .await;
            assert_eq!(message_of(&got).1, seq, "node {} got {user}'s message", j + 1);
        }
    }

    // Carol's sends through node 3 have the group cached there with her in it. Alice removes
    // her through node 1: Carol's next send through node 3, right after, is refused.
    let removed = request(
        nodes[0].addr,
        "DELETE",
        &format!("/api/v1/conversations/{group}/members/{}", carol.id),
        Some(&alice.token),
        None,
    )
    .await;
    assert_eq!(removed.status, 200, "{:?}", removed.json());
    let refused = try_post(&nodes[2], &carol.token, &group, "after-removal").await;
    assert_eq!((refused.status, refused.code().as_str()), (404, "conversation_not_found"));
    // Added back through node 1: her send through node 3, right after, goes in.
    let added = request(
        nodes[0].addr,
        "POST",
        &format!("/api/v1/conversations/{group}/members"),
        Some(&alice.token),
        Some(json!({"user": carol.id})),
    )
    .await;
    assert_eq!(added.status, 200, "{:?}", added.json());
    let back = try_post(&nodes[2], &carol.token, &group, "back-again").await;
    assert_eq!(back.status, 200, "{:?}", back.json());
    // Bob, on node 2, gets it live: node 3's fan-out list has him, and the bus carries it.
    next_where(&mut sockets[1], "Carol's return", |f| f["type"] == "message" && f["message"]["body"] == "back-again")
        .await;

    let bodies = user_bodies(&nodes[1], &bob.token, &group).await;
    assert_eq!(bodies, ["hello-from-alice", "hello-from-bob", "hello-from-carol", "back-again"]);
    for node in nodes {
        assert_eq!(tokio::task::spawn_blocking(move || node.terminate()).await.expect("join"), Some(0));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(not(all(kanect_test_pg, kanect_test_nats)), ignore = "set KANECT_TEST_PG and KANECT_TEST_NATS to run")]
async fn log_in_slow_downs_are_shared_by_the_nodes() {
    let binary = server_binary();
    let (schema, prefix) = fresh_names();
    let node1 = start_node(&binary, &schema, &prefix);
    let node2 = start_node(&binary, &schema, &prefix);
    signup(node1.addr, "alice").await;
    let log_in = |addr, password: &'static str| async move {
        let body = json!({"username": "alice", "password": password});
        request(addr, "POST", "/api/v1/auth/login", None, Some(body)).await
    };
    // The free attempts, all on node 1.
    for _ in 0..5 {
        let reply = log_in(node1.addr, "wrong password").await;
        assert_eq!((reply.status, reply.code().as_str()), (401, "bad_credentials"));
    }
    // Node 2 has seen no attempt from this address, and still makes this one wait: the count
    // is in the shared database. Even the right password waits.
    let refused = log_in(node2.addr, "correct horse battery").await;
    assert_eq!((refused.status, refused.code().as_str()), (429, "too_many_attempts"));
    assert_eq!(refused.header("retry-after"), Some("1"));
    // Once the wait is over, the owner gets in through either node.
    tokio::time::sleep(Duration::from_millis(1100)).await;
    let reply = log_in(node2.addr, "correct horse battery").await;
    assert_eq!(reply.status, 200, "{:?}", reply.json());
    for node in [node1, node2] {
        assert_eq!(tokio::task::spawn_blocking(move || node.terminate()).await.expect("join"), Some(0));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(not(all(kanect_test_pg, kanect_test_nats)), ignore = "set KANECT_TEST_PG and KANECT_TEST_NATS to run")]
async fn rate_limits_are_shared_by_the_nodes() {
    let binary = server_binary();
    let (schema, prefix) = fresh_names();
    // Bursts under 10: a node takes no tokens ahead of need, so the counts are exact.
    let limits = ["--heartbeat-ms", "200", "--limit-sends", "6/1h", "--limit-signups", "3/1h"];
    let nodes =
        [start_node_with(&binary, &schema, &prefix, &limits), start_node_with(&binary, &schema, &prefix, &limits)];
    // Sign-ups from one address, spread over both nodes: three in all, not three per node.
    let alice = signup(nodes[0].addr, "alice").await;
    let bob = signup(nodes[1].addr, "bob").await;
    signup(nodes[0].addr, "carol").await;
    let body = json!({"username": "dave", "password": "correct horse battery"});
    let refused = request(nodes[1].addr, "POST", "/api/v1/auth/signup", None, Some(body)).await;
    assert_eq!((refused.status, refused.code().as_str()), (429, "rate_limited"), "the fourth, on the other node");
    assert!(refused.header("retry-after").is_some());
    // Sends by one account, alternating between the nodes: six in all.
    let direct = open_direct(nodes[0].addr, &alice, &bob).await;
    for n in 0..6 {
        let node = &nodes[n % 2];
        let reply = try_post(node, &alice.token, &direct, &format!("message-{n}")).await;
        assert_eq!(reply.status, 200, "send {n}: {:?}", reply.json());
    }
    for node in &nodes {
        let reply = try_post(node, &alice.token, &direct, "one-too-many").await;
        assert_eq!((reply.status, reply.code().as_str()), (429, "rate_limited"), "{:?}", reply.json());
        let wait: u64 = reply.header("retry-after").expect("Retry-After").parse().expect("seconds");
        assert!((1..=600).contains(&wait), "one send comes back every 10 minutes: {wait}");
    }
    // Another account has buckets of its own.
    post(&nodes[1], &bob.token, &direct, "bobs").await;
    assert_eq!(user_bodies(&nodes[1], &bob.token, &direct).await.len(), 7, "nothing refused was stored");
    for node in nodes {
        assert_eq!(tokio::task::spawn_blocking(move || node.terminate()).await.expect("join"), Some(0));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(not(all(kanect_test_pg, kanect_test_nats)), ignore = "set KANECT_TEST_PG and KANECT_TEST_NATS to run")]
async fn postgresqls_group_commit_is_measured_as_the_embedded_stores_is() {
    let binary = server_binary();
    let (schema, prefix) = fresh_names();
    let node = start_node_with(&binary, &schema, &prefix, &["--metrics-listen", "127.0.0.1:0"]);
    let (alice, bob) = (signup(node.addr, "alice").await, signup(node.addr, "bob").await);
    let direct = open_direct(node.addr, &alice, &bob).await;
    for body in ["one", "two", "three"] {
        post(&node, &alice.token, &direct, body).await;
    }
    let page = request(node.metrics.expect("a metrics listener"), "GET", "/metrics", None, None).await;
    let page = String::from_utf8(page.body).unwrap();
    let value = |series: &str| -> f64 {
        let line = page.lines().find(|line| line.starts_with(series)).unwrap_or_else(|| panic!("no {series}:\n{page}"));
        line[series.len()..].trim().parse().expect("a number")
    };
    let batches = value("kanect_store_group_writes_count{engine=\"postgres\"}");
    assert!(batches >= 1.0, "{page}");
    assert_eq!(value("kanect_store_group_writes_sum{engine=\"postgres\"}"), 3.0, "three appends, each in a batch");
    assert_eq!(value("kanect_store_group_sync_seconds_count{engine=\"postgres\"}"), batches, "each batch timed");
    let status = tokio::task::spawn_blocking(move || node.terminate()).await.expect("join");
    assert_eq!(status, Some(0));
}
