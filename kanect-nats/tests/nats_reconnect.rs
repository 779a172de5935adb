//! What a NATS outage does to a [`NatsBus`]: publishing fails fast while the server is gone
//! (events are dropped, never queued until the sender stalls), and once it is back the bus
//! reconnects and re-subscribes by itself.
//!
//! Runs its own `nats-server` (from `PATH` or `/usr/sbin`) on a free port, so that it can stop
//! and restart it; gated on `KANECT_TEST_NATS` like the other NATS tests, since a machine that
//! runs them has the server installed.

mod support;

use kanect_core::{Bus, BusInbox, NodeId, StoreError};
use kanect_nats::{NatsBus, NatsConfig};
use std::time::{Duration, Instant};
use support::{free_port, heartbeat, NatsServer};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(not(kanect_test_nats), ignore = "set KANECT_TEST_NATS to run")]
async fn an_outage_drops_events_fast_and_the_bus_recovers() {
    let port = free_port();
    let server = NatsServer::start_on(port, "");
    let config = || NatsConfig {
        prefix: "outage".into(),
        publish_timeout: Duration::from_millis(500),
        ..NatsConfig::new(format!("nats://127.0.0.1:{port}"))
    };
    let sender = NatsBus::connect_with(config()).await.unwrap();
    let receiver = NatsBus::connect_with(config()).await.unwrap();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    receiver.attach(NodeId::new(), BusInbox::new(move |envelope| drop(tx.send(envelope)))).await.unwrap();
    let origin = NodeId::new();

    let before = heartbeat(origin);
    sender.publish(before.clone()).await.unwrap();
    let received = tokio::time::timeout(Duration::from_secs(10), rx.recv()).await.unwrap().unwrap();
    assert_eq!(received, before);

    drop(server);
    // Publishing never hangs; once the client has noticed, it fails instead of queueing.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let attempt = tokio::time::timeout(Duration::from_secs(2), sender.publish(heartbeat(origin))).await;
        match attempt.expect("a publish during the outage returned promptly") {
            Err(StoreError::Backend(_)) => break,
            Err(other) => panic!("unexpected error kind: {other:?}"),
            Ok(()) => {
                assert!(Instant::now() < deadline, "publishing never noticed the outage");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }

    let _server = NatsServer::start_on(port, "");
    // After the restart both clients reconnect and the receiver's subscription is renewed:
    // one of the heartbeats published from now on arrives.
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut published = Vec::new();
    loop {
        let envelope = heartbeat(origin);
        if sender.publish(envelope.clone()).await.is_ok() {
            published.push(envelope);
        }
        if let Ok(Some(received)) = tokio::time::timeout(Duration::from_millis(200), rx.recv()).await {
            if published.contains(&received) {
                break;
            }
        }
        assert!(Instant::now() < deadline, "the bus did not recover");
    }
}
