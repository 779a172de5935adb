//! The Grafana dashboard in `deploy/grafana/kanect.json` uses only series that `/metrics`
//! serves: every metric name in its queries is on the page after some traffic.

mod support;

use kanect::http::HttpConfig;
use serde_json::{json, Value};
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
    let server = start_server_with_metrics(HttpConfig::default(), chat_config()).await;
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
    server.shutdown().await.unwrap();
}
