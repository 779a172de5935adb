//! Log-in throttling over HTTP: slow-downs keyed by the client's address (the TCP peer, or the
//! hop a trusted proxy names in `X-Forwarded-For`), refused with `429 too_many_attempts` and a
//! `Retry-After`, never locking the account's owner out from their own address.

mod support;

use kanect::http::HttpConfig;
use serde_json::json;
use support::*;

/// `POST /auth/login` for alice with `password`, with extra headers.
async fn log_in(addr: std::net::SocketAddr, password: &str, headers: &[(&str, &str)]) -> Reply {
    let body = json!({"username": "alice", "password": password}).to_string();
    let mut all = vec![("Content-Type", "application/json")];
    all.extend_from_slice(headers);
    raw_request(addr, "POST", "/api/v1/auth/login", &all, body.as_bytes()).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_attackers_failures_slow_down_its_address_not_the_owners() {
    let localhost = "127.0.0.1".parse().unwrap();
    let server =
        start_server_with(HttpConfig { trusted_proxies: vec![localhost], ..HttpConfig::default() }, chat_config())
            .await;
    let addr = server.addr;
    signup(addr, "alice").await;
    let attacker = [("X-Forwarded-For", "203.0.113.9")];
    for _ in 0..5 {
        let reply = log_in(addr, "wrong password", &attacker).await;
        assert_eq!((reply.status, reply.code().as_str()), (401, "bad_credentials"));
    }
    let refused = log_in(addr, "correct horse battery", &attacker).await;
    assert_eq!((refused.status, refused.code().as_str()), (429, "too_many_attempts"));
    assert_eq!(refused.header("retry-after"), Some("1"));
    let owner = log_in(addr, "correct horse battery", &[("X-Forwarded-For", "198.51.100.7")]).await;
    assert_eq!(owner.status, 200, "{:?}", owner.json());
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_is_not_a_trusted_proxy_cannot_pick_its_address() {
    let server = start_server().await;
    let addr = server.addr;
    signup(addr, "alice").await;
    for hop in ["203.0.113.1", "203.0.113.2", "203.0.113.3", "203.0.113.4", "203.0.113.5"] {
        let reply = log_in(addr, "wrong password", &[("X-Forwarded-For", hop)]).await;
        assert_eq!(reply.code(), "bad_credentials");
    }
    let reply = log_in(addr, "correct horse battery", &[("X-Forwarded-For", "203.0.113.6")]).await;
    assert_eq!((reply.status, reply.code().as_str()), (429, "too_many_attempts"), "all from 127.0.0.1");
    server.shutdown().await.unwrap();
}
