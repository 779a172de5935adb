//! `GET /metrics`: every metric Kanect emits through the [`metrics`] facade (the engine's and
//! this adapter's), process metrics and build info, in the Prometheus text exposition format
//! (version 0.0.4), on a listener of its own.
//!
//! The page says how busy the server is and how many people are online: it is for the
//! operator's scraper, so it is served only on the listener given to
//! [`crate::Server::metrics_listener`] (bound to an internal address), never on the client
//! port. That listener serves a few connections at once ([`CONNECTIONS`]) with the client
//! port's header timeout, and stops when the server's shutdown begins.
//!
//! # One recorder per process
//! The facade's recorder is process-wide. [`PrometheusMetrics::install`] installs
//! `metrics-exporter-prometheus`'s recorder (rendering only: no listener or push gateway of its
//! own) and hands back what renders it; an application that installs its own recorder instead
//! sees the same metrics there and needs no page of Kanect's. Install it before opening the
//! store and building the `Chat`: the store registers its group commit's handles when it
//! opens, the engine its own when it is built (see `kanect_core::metrics`).
//!
//! Series that are a reading rather than an event — process metrics — are taken when the page
//! is scraped ([`crate::process`]).

use crate::connection::{accept_until, drive, http1_builder};
use crate::error::{ApiError, Body};
use crate::headers::with_common_headers;
use crate::state::App;
use hyper::body::Incoming;
use hyper::header::{HeaderValue, CONTENT_TYPE};
use hyper::service::service_fn;
use hyper::{Method, Request, Response};
use hyper_util::rt::TokioIo;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use std::convert::Infallible;
use std::sync::OnceLock;
use tokio::net::TcpListener;
use tokio::sync::watch;

/// Connections the metrics listener serves at once; more wait in its backlog. Its clients are
/// a scraper or two.
const CONNECTIONS: usize = 16;

/// Upper bounds of the buckets of every `*_seconds` histogram: 10 µs to 10 s, so that a send's
/// store append (tens of µs to a few ms) and a slow request both land in a bucket of their own.
const SECONDS_BUCKETS: [f64; 14] =
    [0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05, 0.25, 1.0, 10.0];

/// Upper bounds of the buckets of `kanect_store_group_writes`: 1 to 4096 writes a group, by
/// powers of two.
const GROUP_WRITES_BUCKETS: [f64; 13] =
    [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0, 256.0, 512.0, 1024.0, 2048.0, 4096.0];

/// Kanect's Prometheus recorder, installed for the process, and what renders its page. Cheap
/// to clone.
#[derive(Clone, Debug)]
pub struct PrometheusMetrics {
    handle: PrometheusHandle,
}

/// [`PrometheusMetrics::install`] failed: another recorder is installed in this process.
#[derive(Debug)]
pub struct RecorderTaken;

impl std::fmt::Display for RecorderTaken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("another metrics recorder is installed in this process: Kanect's Prometheus page cannot render it")
    }
}

impl std::error::Error for RecorderTaken {}

/// The one Kanect installed in this process, if any (the facade's recorder is process-wide,
/// so this is too).
static INSTALLED: OnceLock<PrometheusMetrics> = OnceLock::new();

impl PrometheusMetrics {
    /// Installs Kanect's Prometheus recorder as the process's `metrics` recorder (once: a
    /// second call returns the first one's), and sets the `kanect_build_info` series. Call it
    /// before opening the store and building the `Chat`: each registers its series then.
    ///
    /// # Errors
    /// [`RecorderTaken`] if a recorder other than Kanect's was installed first.
    pub fn install() -> Result<Self, RecorderTaken> {
        if let Some(installed) = INSTALLED.get() {
            return Ok(installed.clone());
        }
        let recorder = PrometheusBuilder::new()
            .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), &SECONDS_BUCKETS)
            .and_then(|builder| {
                let name = kanect_core::metrics::STORE_GROUP_WRITES.to_string();
                builder.set_buckets_for_metric(Matcher::Full(name), &GROUP_WRITES_BUCKETS)
            })
            .expect("the buckets are not empty")
            .build_recorder();
        let installed = PrometheusMetrics { handle: recorder.handle() };
        metrics::set_global_recorder(recorder).map_err(|_| RecorderTaken)?;
        let installed = INSTALLED.get_or_init(|| installed).clone();
        record_build_info();
        Ok(installed)
    }

    /// The page: every series recorded so far, process metrics read now.
    pub fn render(&self) -> String {
        crate::process::record();
        self.handle.render()
    }
}

/// `kanect_build_info{version="..."} 1`: which build a node runs, to join with other series.
fn record_build_info() {
    metrics::describe_gauge!("kanect_build_info", "Always 1: the labels say which build runs.");
    metrics::gauge!("kanect_build_info", "version" => env!("CARGO_PKG_VERSION")).set(1.0);
}

/// Serves the page on `listener` until the server's shutdown begins. Each connection holds a
/// clone of `tracker`, so the server's drain waits for it.
pub(crate) async fn serve(app: App, page: PrometheusMetrics, listener: TcpListener, tracker: watch::Receiver<()>) {
    accept_until(&listener, CONNECTIONS, app.until_shutdown(), |stream, _peer, permit| {
        let (app, page, held) = (app.clone(), page.clone(), (permit, tracker.clone()));
        tokio::spawn(async move {
            let service = service_fn(move |request| std::future::ready(Ok::<_, Infallible>(handle(&page, &request))));
            let builder = http1_builder(&app.config, app.config.header_read_timeout);
            drive(&app, builder.serve_connection(TokioIo::new(stream), service).with_upgrades()).await;
            drop(held);
        });
    })
    .await;
}

/// `GET /metrics`, and `404 not_found` for anything else.
fn handle(page: &PrometheusMetrics, request: &Request<Incoming>) -> Response<Body> {
    with_common_headers(match (request.method(), request.uri().path()) {
        (&Method::GET, "/metrics") => {
            let mut response = Response::new(crate::error::whole(page.render()));
            response.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("text/plain; version=0.0.4"));
            response
        }
        _ => ApiError::not_found().into_response(),
    })
}
