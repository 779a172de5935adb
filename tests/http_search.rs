//! `GET /api/v1/search/messages` end to end: a real server on port 0 with a FjallStore and its
//! TantivyIndex, every parameter, the wire shape, paging, and the refusals with their codes.
#![cfg(all(feature = "fjall", feature = "tantivy", feature = "http"))]

mod support;

use kanect::http::HttpConfig;
use kanect::proto::rest::SearchPage;
use kanect::store::{FjallStore, TantivyConfig, TantivyIndex};
use kanect::{Chat, RateLimits};
use serde_json::{json, Value};
use std::net::SocketAddr;
use support::*;

/// A running server, stopped gracefully by [`Running::stop`].
struct Running {
    addr: SocketAddr,
    stop: tokio::sync::oneshot::Sender<()>,
    task: tokio::task::JoinHandle<std::io::Result<()>>,
    _dir: tempfile::TempDir,
}

impl Running {
    /// Shuts the server down and waits for it (and so its store and index) to close.
    async fn stop(self) {
        let _ = self.stop.send(());
        tokio::time::timeout(WAIT, self.task).await.expect("serve returns").unwrap().unwrap();
    }
}

/// A server whose engine searches with a TantivyIndex (or none).
async fn server(search: bool) -> Running {
    let dir = tempfile::tempdir().unwrap();
    let store = FjallStore::open(dir.path().join("data")).unwrap();
    let config = kanect::ChatConfig { rate_limits: RateLimits::UNLIMITED, ..chat_config() };
    let mut builder = Chat::builder(store).config(config);
    if search {
        // Commits often, so that a test finds what it sent at once.
        let config =
            TantivyConfig { commit_interval: std::time::Duration::from_millis(100), ..TantivyConfig::default() };
        builder = builder.search(TantivyIndex::open_with(dir.path().join("search"), config).unwrap());
    }
    let chat = builder.build().await.unwrap();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = kanect::http::Server::new(chat, HttpConfig::default());
    let task = tokio::spawn(server.serve(listener, async {
        let _ = stopped.await;
    }));
    Running { addr, stop, task, _dir: dir }
}

async fn send(addr: SocketAddr, who: &Session, conversation: &str, body: &str) -> Value {
    let path = format!("/api/v1/conversations/{conversation}/messages");
    let client_id = format!("c-{}", uuid::Uuid::new_v4());
    let reply =
        request(addr, "POST", &path, Some(&who.token), Some(json!({"client_id": client_id, "body": body}))).await;
    assert_eq!(reply.status, 200, "{:?}", reply.json());
    reply.json()
}

/// Searches until the index has committed what was sent.
async fn search_until(addr: SocketAddr, who: &Session, query: &str, hits: usize) -> Reply {
    let path = format!("/api/v1/search/messages?{query}");
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let reply = request(addr, "GET", &path, Some(&who.token), None).await;
        if reply.status != 200 || reply.json()["hits"].as_array().map_or(0, Vec::len) >= hits {
            return reply;
        }
        assert!(tokio::time::Instant::now() < deadline, "no {hits} hits for {query}: {:?}", reply.json());
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

fn refusal(reply: &Reply) -> (u16, String, Value) {
    let json = reply.json();
    (reply.status, reply.code(), json["error"]["field"].clone())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_are_found_with_snippets_filters_and_pages() {
    let running = server(true).await;
    let addr = running.addr;
    let alice = signup(addr, "alice").await;
    let bob = signup(addr, "bob").await;
    let carol = signup(addr, "carol").await;
    let direct = open_direct(addr, &alice, &bob).await;
    let lunch = send(addr, &alice, &direct, "We had <b>lunch</b> at noon").await;
    for i in 0..4 {
        send(addr, &bob, &direct, &format!("lunch again {i}")).await;
    }

    let reply = search_until(addr, &bob, "q=LUNCH%20noon", 1).await;
    assert_eq!(reply.status, 200);
    let page: SearchPage = reply.body_as();
    assert_eq!(page.hits.len(), 1);
    let json = reply.json();
    let hit = &json["hits"][0];
    assert_eq!(hit["id"], lunch["id"]);
    assert_eq!(hit["conversation"], direct.as_str());
    assert_eq!(hit["seq"], 1);
    assert_eq!(hit["sender"], alice.id.as_str());
    assert_eq!(hit["sent_at"], lunch["sent_at"]);
    assert_eq!(
        hit["snippet"],
        json!([{"text": "We had <b>"}, {"text": "lunch", "hit": true}, {"text": "</b> at "}, {"text": "noon", "hit": true}])
    );
    assert_eq!(json["next_cursor"], Value::Null);

    // Pages of two, newest first, by cursor: five hits once each.
    let mut seen = Vec::new();
    let mut query = "q=lunch&limit=2".to_string();
    loop {
        let json = search_until(addr, &alice, &query, 1).await.json();
        seen.extend(json["hits"].as_array().unwrap().iter().map(|h| h["seq"].as_u64().unwrap()));
        match json["next_cursor"].as_str() {
            Some(cursor) => query = format!("q=lunch&limit=2&cursor={cursor}"),
            None => break,
        }
    }
    assert_eq!(seen, [5, 4, 3, 2, 1]);

    // Filters: sender, conversation, date range; relevance order.
    let json = search_until(addr, &alice, &format!("q=lunch&sender={}", alice.id), 1).await.json();
    assert_eq!(json["hits"].as_array().unwrap().len(), 1);
    let json = search_until(addr, &alice, &format!("q=lunch&conversation={direct}&order=relevance&limit=50"), 5).await;
    assert_eq!(json.json()["hits"].as_array().unwrap().len(), 5);
    let from = lunch["sent_at"].as_u64().unwrap() + 1_000_000;
    let json = search_until(addr, &alice, &format!("q=lunch&from={from}"), 0).await.json();
    assert_eq!(json["hits"], json!([]));

    // Not a member: nothing, and the conversation filter is not found.
    let json = search_until(addr, &carol, "q=lunch", 0).await.json();
    assert_eq!(json["hits"], json!([]));
    let reply = search_until(addr, &carol, &format!("q=lunch&conversation={direct}"), 0).await;
    assert_eq!(refusal(&reply), (404, "conversation_not_found".into(), Value::Null));
    running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_searches_are_refused_with_stable_codes() {
    let running = server(true).await;
    let addr = running.addr;
    let alice = signup(addr, "alice").await;
    let at_limit = format!("a{}", "%20a".repeat(127));
    let cases: Vec<(String, (u16, &str, Value))> = vec![
        ("q=".into(), (400, "empty", json!("q"))),
        ("".into(), (400, "empty", json!("q"))),
        ("q=%21%21%21%20-%20or".into(), (400, "empty", json!("q"))),
        (format!("q={at_limit}%20a"), (400, "too_long", json!("q"))),
        ("q=x&limit=0".into(), (400, "out_of_range", json!("limit"))),
        ("q=x&limit=51".into(), (400, "out_of_range", json!("limit"))),
        ("q=x&limit=lots".into(), (400, "wrong_type", json!("limit"))),
        ("q=x&order=oldest".into(), (400, "invalid_value", json!("order"))),
        ("q=x&cursor=nope".into(), (400, "invalid_value", json!("cursor"))),
        ("q=x&conversation=nope".into(), (400, "malformed", json!("conversation"))),
        ("q=x&sender=nope".into(), (400, "malformed", json!("sender"))),
        ("q=x&from=yesterday".into(), (400, "wrong_type", json!("from"))),
    ];
    for (query, (status, code, field)) in cases {
        let reply = request(addr, "GET", &format!("/api/v1/search/messages?{query}"), Some(&alice.token), None).await;
        assert_eq!(refusal(&reply), (status, code.to_string(), field), "{query}");
    }
    // At the limits: fine.
    for query in [format!("q={at_limit}"), "q=x&limit=50".into(), "q=x&limit=1".into()] {
        let reply = request(addr, "GET", &format!("/api/v1/search/messages?{query}"), Some(&alice.token), None).await;
        assert_eq!(reply.status, 200, "{query}: {:?}", reply.json());
    }
    // A cursor of the other order.
    let direct = open_direct(addr, &alice, &signup(addr, "bob").await).await;
    for i in 0..3 {
        send(addr, &alice, &direct, &format!("word {i}")).await;
    }
    let json = search_until(addr, &alice, "q=word&limit=1", 1).await.json();
    let cursor = json["next_cursor"].as_str().expect("a next page").to_string();
    let path = format!("/api/v1/search/messages?q=word&order=relevance&cursor={cursor}");
    let reply = request(addr, "GET", &path, Some(&alice.token), None).await;
    assert_eq!(refusal(&reply), (400, "invalid_value".into(), json!("cursor")));
    // Logged out: as every endpoint.
    let reply = request(addr, "GET", "/api/v1/search/messages?q=x", None, None).await;
    assert_eq!(reply.status, 401);
    running.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_without_an_index_says_search_is_disabled() {
    let running = server(false).await;
    let addr = running.addr;
    let alice = signup(addr, "alice").await;
    let reply = request(addr, "GET", "/api/v1/search/messages?q=x", Some(&alice.token), None).await;
    assert_eq!(refusal(&reply), (501, "search_disabled".into(), Value::Null));
    running.stop().await;
}
