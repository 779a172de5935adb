//! The Grafana dashboard in `deploy/grafana/kanect.json` uses only series that `/metrics`
//! serves: every metric name in its queries is on the server binary's page after some traffic.

mod support;

use serde_json::{json, Value};
use std::ffi::OsStr;
use support::binary::{server_binary, start_process};
use support::*;

/// The metric names a PromQL expression refers to: Kanect's and the process's.
fn metric_names(expression: &str) -> Vec<String> {
    expression
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == ':'))
        .filter(|word| word.starts_with("kanect_") || word.starts_with("process_"))
        .map(str::to_string)
        .collect()
}

/// Every query of the dashboard: the panels' targets and the template variables'.
fn queries(dashboard: &Value) -> Vec<String> {
    let panels = dashboard["panels"].as_array().expect("panels");
    let targets = panels.iter().flat_map(|panel| panel["targets"].as_array().expect("targets")).map(|t| &t["expr"]);
    let variables = dashboard["templating"]["list"].as_array().expect("variables").iter().map(|v| &v["query"]);
    targets.chain(variables).filter_map(|query| query.as_str().map(str::to_string)).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_metric_the_dashboard_queries_is_served() {
    let dashboard: Value =
        serde_json::from_str(include_str!("../deploy/grafana/kanect.json")).expect("the dashboard is JSON");
    // The binary on its default store, as an operator runs it: the store's group commit has
    // series too.
    let binary = server_binary();
    let data = tempfile::tempdir().expect("temp dir");
    let args =
        [OsStr::new("--data-dir"), data.path().as_os_str(), OsStr::new("--metrics-listen"), OsStr::new("127.0.0.1:0")];
    let server = start_process(&binary, args, &[]);
    let addr = server.addr;
    // Traffic of every kind the dashboard shows: requests, a refused log-in, a socket and a
    // command on it, a send.
    let (alice, bob) = (signup(addr, "alice").await, signup(addr, "bob").await);
    let wrong = json!({"username":"alice","password":"not alice's password"});
    assert_eq!(request(addr, "POST", "/api/v1/auth/login", None, Some(wrong)).await.status, 401);
    let direct = open_direct(addr, &alice, &bob).await;
    let mut socket = connect(addr, &bob.token).await;
    assert_eq!(socket.call(json!({"type":"ping"}), "p").await["type"], "pong");
    let send = json!({"client_id":"1","body":"hello"});
    let path = format!("/api/v1/conversations/{direct}/messages");
    assert_eq!(request(addr, "POST", &path, Some(&alice.token), Some(send)).await.status, 200);

    let page = request(server.metrics.expect("a metrics listener"), "GET", "/metrics", None, None).await;
    let page = String::from_utf8(page.body).unwrap();
    let served =
        |name: &str| page.lines().any(|line| line.strip_prefix(name).is_some_and(|rest| rest.starts_with(['{', ' '])));
    let names: Vec<String> = queries(&dashboard).iter().flat_map(|query| metric_names(query)).collect();
    assert!(names.len() >= 16, "the dashboard queries Kanect's metrics: {names:?}");
    let missing: Vec<&String> = names.iter().filter(|name| !served(name)).collect();
    assert!(missing.is_empty(), "the dashboard queries series /metrics does not serve: {missing:?}\n{page}");
    let status = tokio::task::spawn_blocking(move || server.terminate()).await.unwrap();
    assert_eq!(status, Some(0));
}
