//! `GET /metrics`: the engine's counters and histograms and the adapter's gauges in the
//! Prometheus text exposition format (version 0.0.4).

use crate::error::Body;
use crate::state::App;
use hyper::header::{HeaderValue, CONTENT_TYPE};
use hyper::Response;
use kanect_core::metrics::{Histogram, BUCKETS_MICROS};
use std::fmt::Write;
use std::sync::atomic::Ordering;

/// Renders the metrics page.
pub(crate) fn render(app: &App) -> String {
    let chat = &app.chat;
    let (delivered, lagged) = chat.delivery_counts();
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
pub(crate) fn response(app: &App) -> Response<Body> {
    let mut response = Response::new(Body::from(render(app)));
    response.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("text/plain; version=0.0.4"));
    response
}
