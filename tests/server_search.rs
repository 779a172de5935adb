//! Message search in the built server binary (`examples/server.rs`): its TantivyIndex in
//! `<data-dir>/search` is closed clean by a SIGTERM, caught up after a SIGKILL (an edit and a
//! new message it never committed are found by their words), and `--no-search` turns it off.

mod support;

use serde_json::{json, Value};
use std::ffi::OsStr;
use std::path::Path;
use support::binary::{server_binary, start_process, ServerProcess};
use support::*;

fn start(binary: &Path, data: &Path, extra: &[&str]) -> ServerProcess {
    let mut args = vec![OsStr::new("--data-dir"), data.as_os_str()];
    args.extend(extra.iter().map(OsStr::new));
    start_process(binary, args, &[])
}

/// The ids found for `query` once `wanted` are (the index commits every few seconds, and
/// catches up in the background after a start).
async fn found(addr: std::net::SocketAddr, token: &str, query: &str, wanted: &[&Value]) -> Vec<Value> {
    let deadline = tokio::time::Instant::now() + 3 * WAIT;
    loop {
        let reply = request(addr, "GET", &format!("/api/v1/search/messages?q={query}"), Some(token), None).await;
        assert_eq!(reply.status, 200, "{:?}", reply.json());
        let ids: Vec<Value> = reply.json()["hits"].as_array().unwrap().iter().map(|h| h["id"].clone()).collect();
        if wanted.iter().all(|id| ids.contains(id)) {
            return ids;
        }
        assert!(tokio::time::Instant::now() < deadline, "{query}: {ids:?}, wanted {wanted:?}");
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
}

fn clean_marker(data: &Path) -> Option<bool> {
    let meta: Value = serde_json::from_slice(&std::fs::read(data.join("search/meta.json")).ok()?).ok()?;
    let payload: Value = serde_json::from_str(meta["payload"].as_str()?).ok()?;
    payload["clean"].as_bool()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binarys_index_survives_a_sigterm_and_catches_up_after_a_sigkill() {
    let binary = server_binary();
    let data = tempfile::tempdir().expect("temp dir");
    let server = start(&binary, data.path(), &[]);
    let (alice, bob) = (signup(server.addr, "alice").await, signup(server.addr, "bob").await);
    let direct = open_direct(server.addr, &alice, &bob).await;
    let path = format!("/api/v1/conversations/{direct}/messages");
    let send = |client_id: &'static str, body: &'static str| {
        let body = json!({"client_id": client_id, "body": body});
        request(server.addr, "POST", &path, Some(&alice.token), Some(body))
    };
    let first = send("c1", "meeting at the harbour").await.json();
    assert_eq!(found(server.addr, &bob.token, "harbour", &[&first["id"]]).await.len(), 1);
    assert_eq!(clean_marker(data.path()), Some(false), "dirty while it runs");
    let status = tokio::task::spawn_blocking(move || server.terminate()).await.unwrap();
    assert_eq!(status, Some(0));
    assert_eq!(clean_marker(data.path()), Some(true), "a graceful stop closes the index clean");

    let server = start(&binary, data.path(), &[]);
    assert_eq!(found(server.addr, &bob.token, "harbour", &[&first["id"]]).await.len(), 1);
    // Changes the index has not committed when the process is killed.
    let path = format!("/api/v1/conversations/{direct}/messages");
    let body = json!({"client_id": "c2", "body": "lunch at the station"});
    let second = request(server.addr, "POST", &path, Some(&alice.token), Some(body)).await.json();
    let edit = format!("/api/v1/messages/{}", first["id"].as_str().unwrap());
    let edited =
        request(server.addr, "PATCH", &edit, Some(&alice.token), Some(json!({"body": "meeting at the pier"}))).await;
    assert_eq!(edited.status, 200);
    tokio::task::spawn_blocking(move || server.kill()).await.unwrap();

    let server = start(&binary, data.path(), &[]);
    assert_eq!(found(server.addr, &bob.token, "station", &[&second["id"]]).await.len(), 1);
    assert_eq!(found(server.addr, &bob.token, "pier", &[&first["id"]]).await.len(), 1);
    assert_eq!(found(server.addr, &bob.token, "harbour", &[]).await, Vec::<Value>::new(), "the old words");
    tokio::task::spawn_blocking(move || server.terminate()).await.unwrap();

    let server = start(&binary, data.path(), &["--no-search"]);
    let reply = request(server.addr, "GET", "/api/v1/search/messages?q=pier", Some(&bob.token), None).await;
    assert_eq!((reply.status, reply.code()), (501, "search_disabled".to_string()));
    tokio::task::spawn_blocking(move || server.terminate()).await.unwrap();
}
