//! `GET /metrics`: the engine's counters and histograms and the adapter's gauges in the
//! Prometheus text exposition format (version 0.0.4), on a listener of its own.
//!
//! The page says how busy the server is and how many people are online: it is for the
//! operator's scraper, so it is served only on the listener given to
//! [`crate::Server::metrics_listener`] (bound to an internal address), never on the client
//! port. That listener serves a few connections at once ([`CONNECTIONS`]) with the client
//! port's header timeout, and stops when the server's shutdown begins.

use crate::connection::{accept_until, drive, http1_builder};
use crate::error::{ApiError, Body};
use crate::headers::with_common_headers;
use crate::state::App;
use hyper::body::Incoming;
use hyper::header::{HeaderValue, CONTENT_TYPE};
use hyper::service::service_fn;
use hyper::{Method, Request, Response};
use hyper_util::rt::TokioIo;
use kanect_core::metrics::{Histogram, BUCKETS_MICROS};
use std::convert::Infallible;
use std::fmt::Write;
use std::sync::atomic::Ordering;
use tokio::net::TcpListener;
use tokio::sync::watch;

/// Connections the metrics listener serves at once; more wait in its backlog. Its clients are
/// a scraper or two.
const CONNECTIONS: usize = 16;

/// Serves the page on `listener` until the server's shutdown begins. Each connection holds a
/// clone of `tracker`, so the server's drain waits for it.
pub(crate) async fn serve(app: App, listener: TcpListener, tracker: watch::Receiver<()>) {
    accept_until(&listener, CONNECTIONS, app.until_shutdown(), |stream, _peer, permit| {
        let (app, held) = (app.clone(), (permit, tracker.clone()));
        tokio::spawn(async move {
            let page = app.clone();
            let service = service_fn(move |request| std::future::ready(Ok::<_, Infallible>(handle(&page, &request))));
            let builder = http1_builder(&app.config, app.config.header_read_timeout);
            drive(&app, builder.serve_connection(TokioIo::new(stream), service).with_upgrades()).await;
            drop(held);
        });
    })
    .await;
}

/// `GET /metrics`, and `404 not_found` for anything else.
fn handle(app: &App, request: &Request<Incoming>) -> Response<Body> {
    with_common_headers(match (request.method(), request.uri().path()) {
        (&Method::GET, "/metrics") => response(app),
        _ => ApiError::not_found().into_response(),
    })
}

/// Renders the metrics page.
pub(crate) fn render(app: &App) -> String {
    let chat = &app.chat;
    let kanect_core::DeliveryCounts { delivered, lagged, .. } = chat.delivery_counts();
    let mut out = String::new();
    let mut gauge = |name: &str, help: &str, kind: &str, value: u64| {
        let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {value}");
    };
    gauge(
        "kanect_http_connections_open",
        "TCP connections being served.",
        "gauge",
        app.connections.get().max(0) as u64,
    );
    gauge("kanect_ws_connections_open", "WebSockets open.", "gauge", app.sockets.get().max(0) as u64);
    gauge(
        "kanect_devices_connected",
        "Devices (sockets and poll sessions) subscribed on this node.",
        "gauge",
        chat.connected_devices() as u64,
    );
    gauge(
        "kanect_messages_sent_total",
        "Messages accepted and persisted.",
        "counter",
        chat.metrics().messages_sent.load(Ordering::Relaxed),
    );
    gauge(
        "kanect_pushes_dropped_total",
        "Messages not pushed because too many waited for their pushes already.",
        "counter",
        chat.metrics().pushes_dropped.load(Ordering::Relaxed),
    );
    gauge("kanect_deliveries_total", "Events handed to device queues.", "counter", delivered);
    gauge("kanect_deliveries_lagged_total", "Events not queued because the device lagged.", "counter", lagged);
    histogram(
        &mut out,
        "kanect_fanout_seconds",
        "Time from a persisted event to its last local device queue.",
        &chat.metrics().fanout,
    );
    histogram(
        &mut out,
        "kanect_store_append_seconds",
        "Time the store took to append a message durably.",
        &chat.metrics().store_append,
    );
    out
}

fn histogram(out: &mut String, name: &str, help: &str, histogram: &Histogram) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} histogram");
    let counts = histogram.counts();
    let mut cumulative = 0;
    for (i, count) in counts.iter().enumerate() {
        cumulative += count;
        let le = match BUCKETS_MICROS.get(i) {
            Some(micros) => format!("{}", *micros as f64 / 1e6),
            None => "+Inf".to_string(),
        };
        let _ = writeln!(out, "{name}_bucket{{le=\"{le}\"}} {cumulative}");
    }
    let _ = writeln!(out, "{name}_sum {}", histogram.sum_micros() as f64 / 1e6);
    let _ = writeln!(out, "{name}_count {cumulative}");
}

/// The `/metrics` response.
fn response(app: &App) -> Response<Body> {
    let mut response = Response::new(crate::error::whole(render(app)));
    response.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("text/plain; version=0.0.4"));
    response
}
