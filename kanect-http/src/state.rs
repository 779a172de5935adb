//! [`App`]: what every request handler and socket task shares — the engine handle, the
//! configuration, the long-poll sessions, the adapter's gauges and traffic metrics, and the shutdown signal.

use crate::config::HttpConfig;
use crate::export::ExportSource;
use crate::poll::sessions::Polls;
use kanect_core::Chat;
use std::sync::{Arc, Weak};
use tokio::sync::watch;

/// A cheap-to-clone handle on the server's shared state.
#[derive(Clone)]
pub(crate) struct App(Arc<AppInner>);

pub(crate) struct AppInner {
    pub(crate) chat: Chat,
    pub(crate) config: HttpConfig,
    /// The path prefix the service is mounted at (`/chat`), or empty at the root: what its
    /// cookies' `Path` is, and whether it serves the web app (only at the root).
    pub(crate) mount: String,
    pub(crate) polls: Polls,
    /// Writes the dump of `GET /api/v1/admin/export`, if the embedding application gave one.
    pub(crate) export: Option<Arc<dyn ExportSource>>,
    /// One export at a time: each reads the whole store (see `api::export`).
    pub(crate) exporting: Arc<tokio::sync::Semaphore>,
    /// TCP connections being served (HTTP and upgraded).
    pub(crate) connections: Gauge,
    /// WebSockets open.
    pub(crate) sockets: Gauge,
    /// The request and WebSocket frame metrics.
    pub(crate) traffic: crate::traffic::Traffic,
    /// Becomes true when the server starts shutting down; sockets and long polls watch it.
    pub(crate) shutdown: watch::Receiver<bool>,
}

impl App {
    pub(crate) fn new(
        chat: Chat,
        config: HttpConfig,
        mount: String,
        export: Option<Arc<dyn ExportSource>>,
        shutdown: watch::Receiver<bool>,
    ) -> Self {
        App(Arc::new(AppInner {
            chat,
            config,
            mount,
            polls: Polls::default(),
            export,
            exporting: Arc::new(tokio::sync::Semaphore::new(1)),
            connections: Gauge::register("kanect_http_connections_open", "TCP connections being served."),
            sockets: Gauge::register("kanect_ws_connections_open", "WebSockets open."),
            traffic: crate::traffic::Traffic::register(),
            shutdown,
        }))
    }

    /// A handle that does not keep the server's state alive (for tasks that outlive requests).
    pub(crate) fn downgrade(&self) -> Weak<AppInner> {
        Arc::downgrade(&self.0)
    }

    /// The `Path` of the cookies the service sets: where it is mounted.
    pub(crate) fn cookie_path(&self) -> &str {
        if self.mount.is_empty() {
            "/"
        } else {
            &self.mount
        }
    }

    /// Whether shutdown has begun.
    pub(crate) fn shutting_down(&self) -> bool {
        *self.0.shutdown.borrow()
    }

    /// Resolves once shutdown begins (or the server is gone).
    pub(crate) async fn until_shutdown(&self) {
        let mut shutdown = self.0.shutdown.clone();
        let _ = shutdown.wait_for(|down| *down).await;
    }
}

impl std::ops::Deref for App {
    type Target = AppInner;
    fn deref(&self) -> &AppInner {
        &self.0
    }
}

/// A count of things open now (a `metrics` gauge), decremented by the guard's drop.
pub(crate) struct Gauge(metrics::Gauge);

impl Gauge {
    /// The gauge `name`, registered with the recorder installed now.
    pub(crate) fn register(name: &'static str, help: &'static str) -> Self {
        metrics::describe_gauge!(name, help);
        Gauge(metrics::gauge!(name))
    }

    /// Counts one more until the guard drops.
    pub(crate) fn enter(&self) -> GaugeGuard {
        self.0.increment(1.0);
        GaugeGuard(self.0.clone())
    }
}

/// Holds one unit of a [`Gauge`].
pub(crate) struct GaugeGuard(metrics::Gauge);

impl Drop for GaugeGuard {
    fn drop(&mut self) {
        self.0.decrement(1.0);
    }
}
