//! The engine's rate limits over real sockets: `429 rate_limited` with `Retry-After` on REST,
//! an `error` frame with `retry_after_ms` on the WebSocket (which stays open), sign-ups counted
//! per client address (behind a trusted proxy, per forwarded address), and nothing stored or
//! delivered past a limit. The periods are long (an hour): the refill itself is tested on
//! tokio's paused clock in `kanect-core/tests/limits.rs`.

mod support;

use kanect::http::HttpConfig;
use kanect::{ChatConfig, Rate, RateLimits};
use serde_json::json;
use std::time::Duration;
use support::*;

/// `burst` of everything per hour: nothing refills during a test.
fn limited(burst: u32) -> ChatConfig {
    let rate = Rate::new(burst, Duration::from_secs(3600));
    let rate_limits = RateLimits::all(rate);
    ChatConfig { rate_limits, ..chat_config() }
}

/// Asserts a `429 rate_limited` with a `Retry-After` of at least a second.
fn assert_limited(reply: &Reply) {
    assert_eq!((reply.status, reply.code().as_str()), (429, "rate_limited"), "{:?}", reply.json());
    let retry: u64 = reply.header("retry-after").expect("Retry-After").parse().expect("seconds");
    assert!(retry >= 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sign_ups_past_the_limit_of_an_address_get_429_and_store_nothing() {
    let server = start_server_with(HttpConfig::default(), limited(3)).await;
    let addr = server.addr;
    let alice = signup(addr, "alice").await;
    signup(addr, "bob").await;
    // Refused input does not count.
    let weak = request(addr, "POST", "/api/v1/auth/signup", None, Some(json!({"username":"x1","password":"short"})));
    assert_eq!(weak.await.code(), "too_short");
    signup(addr, "carol").await;
    let body = json!({"username": "dave", "password": "correct horse battery"});
    let refused = request(addr, "POST", "/api/v1/auth/signup", None, Some(body)).await;
    assert_limited(&refused);
    let users = request(addr, "GET", "/api/v1/users?search=dave", Some(&alice.token), None).await.json();
    assert_eq!(users["users"], json!([]), "the refused sign-up stored nothing");
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn behind_a_trusted_proxy_sign_ups_count_per_forwarded_address() {
    let config = HttpConfig { trusted_proxies: vec!["127.0.0.1".parse().unwrap()], ..HttpConfig::default() };
    let server = start_server_with(config, limited(1)).await;
    let addr = server.addr;
    let sign_up = |name: &'static str, client: &'static str| async move {
        let body = json!({"username": name, "password": "correct horse battery"});
        let headers = [("Content-Type", "application/json"), ("X-Forwarded-For", client)];
        raw_request(addr, "POST", "/api/v1/auth/signup", &headers, body.to_string().as_bytes()).await
    };
    assert_eq!(sign_up("amy", "203.0.113.1").await.status, 201);
    assert_limited(&sign_up("ann", "203.0.113.1").await);
    assert_eq!(sign_up("ann", "203.0.113.2").await.status, 201, "another client behind the same proxy");
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sends_past_the_limit_are_refused_on_rest_and_socket_and_nothing_reaches_anyone() {
    let server = start_server_with(HttpConfig::default(), limited(4)).await;
    let addr = server.addr;
    let (alice, bob) = (signup(addr, "alice").await, signup(addr, "bob").await);
    let direct = open_direct(addr, &alice, &bob).await;
    let path = format!("/api/v1/conversations/{direct}/messages");
    let mut bob_ws = connect(addr, &bob.token).await;
    let mut alice_ws = connect(addr, &alice.token).await;
    for n in 0..2 {
        let body = json!({"client_id": format!("r{n}"), "body": "over REST"});
        assert_eq!(request(addr, "POST", &path, Some(&alice.token), Some(body)).await.status, 200);
    }
    for n in 0..2 {
        let frame = json!({"type":"send","conversation":direct,"client_id":format!("w{n}"),"body":"over the socket"});
        assert_eq!(alice_ws.call(frame, &format!("s{n}")).await["type"], "ack");
    }
    // The fifth, by either way, is refused.
    let body = json!({"client_id": "r2", "body": "one too many"});
    assert_limited(&request(addr, "POST", &path, Some(&alice.token), Some(body)).await);
    let frame = json!({"type":"send","conversation":direct,"client_id":"w2","body":"one too many"});
    let refused = alice_ws.call(frame, "s2").await;
    assert_eq!((refused["type"].clone(), refused["code"].clone()), (json!("error"), json!("rate_limited")));
    assert!(refused["retry_after_ms"].as_u64().is_some_and(|ms| ms > 0), "{refused}");
    assert_eq!(alice_ws.call(json!({"type":"ping"}), "p").await["type"], "pong", "the socket stays open");

    let history = request(addr, "GET", &path, Some(&bob.token), None).await.json();
    assert_eq!(history["messages"].as_array().unwrap().len(), 4, "nothing past the limit was stored");
    // Bob got the four, and then his own ping's pong: no fifth message came before it.
    for _ in 0..4 {
        bob_ws.next_of("message").await;
    }
    bob_ws.send(json!({"type":"ping","ref":"after"})).await;
    loop {
        let frame = bob_ws.next().await;
        assert_ne!(frame["type"], "message", "{frame}");
        if frame["type"] == "pong" {
            break;
        }
    }
    // Bob's own sends have a bucket of their own.
    let body = json!({"client_id": "b0", "body": "my turn"});
    assert_eq!(request(addr, "POST", &path, Some(&bob.token), Some(body)).await.status, 200);
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn typing_groups_and_member_additions_past_their_limits_get_429() {
    let limits = limited(2).rate_limits;
    let config = ChatConfig { rate_limits: RateLimits { sign_ups_per_address: None, ..limits }, ..chat_config() };
    let server = start_server_with(HttpConfig::default(), config).await;
    let addr = server.addr;
    let (alice, bob) = (signup(addr, "alice").await, signup(addr, "bob").await);
    let a = Some(alice.token.as_str());
    let direct = open_direct(addr, &alice, &bob).await;
    let typing = format!("/api/v1/conversations/{direct}/typing");
    for _ in 0..2 {
        assert_eq!(request(addr, "POST", &typing, a, None).await.status, 204);
    }
    assert_limited(&request(addr, "POST", &typing, a, None).await);

    // Two groups, with one member besides alice each: both budgets used up.
    for name in ["one", "two"] {
        let group = request(addr, "POST", "/api/v1/conversations", a, Some(json!({"name":name,"members":[bob.id]})));
        assert_eq!(group.await.status, 201);
    }
    let third = request(addr, "POST", "/api/v1/conversations", a, Some(json!({"name":"three"}))).await;
    assert_limited(&third);
    let list = request(addr, "GET", "/api/v1/conversations", a, None).await.json();
    assert_eq!(list["conversations"].as_array().unwrap().len(), 2, "two groups (the direct one has no message)");

    // Bob's own group, and the two additions his budget holds.
    let b = Some(bob.token.as_str());
    let group = request(addr, "POST", "/api/v1/conversations", b, Some(json!({"name":"bobs"}))).await.json();
    let members = format!("/api/v1/conversations/{}/members", group["id"].as_str().unwrap());
    let carol = signup(addr, "carol").await;
    let dave = signup(addr, "dave").await;
    assert_eq!(request(addr, "POST", &members, b, Some(json!({"user": carol.id}))).await.status, 200);
    assert_eq!(request(addr, "POST", &members, b, Some(json!({"user": dave.id}))).await.status, 200);
    assert_limited(&request(addr, "POST", &members, b, Some(json!({"user": alice.id}))).await);
    server.shutdown().await.unwrap();
}
