//! # kanect-http
//!
//! Kanect over the network: a REST API, a WebSocket endpoint, a long-poll fallback, the admin
//! API, health and Prometheus metrics, and the embedded web app — served from a
//! [`kanect_core::Chat`] on hyper 1.x, with no web framework in between. The wire protocol is
//! specified in `PROTOCOL.md` beside this crate, and every frame and body is a type of
//! `kanect-proto`: this crate encodes and decodes only through those.
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use kanect_core::{Chat, MemoryStore};
//! let chat = Chat::builder(MemoryStore::new()).build().await?;
//! let listener = tokio::net::TcpListener::bind("127.0.0.1:8080").await?;
//! let shutdown = async { let _ = tokio::signal::ctrl_c().await; };
//! kanect_http::serve(listener, chat, kanect_http::HttpConfig::default(), shutdown).await?;
//! # Ok(()) }
//! ```
//!
//! To mount Kanect in a server of your own (axum, hyper, any `tower` stack) under a path prefix,
//! behind your own TLS and middleware, with your own log-in deciding who the user is, build a
//! [`KanectService`] instead: [`Server`] is the ready-made server around that same service.
//!
//! The adapter only ever calls `Chat`'s public API: roles, validation and limits are the
//! engine's; this crate authenticates requests, maps errors, and moves frames.
//!
//! # Layout
//! - `server` — [`serve`] and [`Server`], the top: the listeners, connection limits, graceful
//!   shutdown.
//! - `service` — [`KanectService`]: everything served, as one `tower` service that the server
//!   runs and an application mounts in its own (under a path, with its own authentication);
//!   `incoming` — a request as the handlers see it: one body type, the connection it came on.
//! - `connection` — what every listener shares: the accept loop under a limit, hyper's settings,
//!   driving a connection, and the guard an open connection holds.
//! - `tls` — [`TlsConfig`]: HTTPS with a certificate reloaded when its files change.
//! - `headers` — the headers every response carries.
//! - `config` — [`HttpConfig`]: limits and timeouts.
//! - `state` — the shared handle every handler gets, and gauges.
//! - `routes` — the top-level dispatch: health, API, static files.
//! - `api` — the REST API: `accounts`, `profile` (my own account: profile, avatar, password,
//!   sessions, deleting it), `my_data` (exporting it, streamed), `conversations`, `admin`,
//!   `invites` (the sign-up mode, invite links), `export` (the admin's backup of the running
//!   server, streamed), and `request` helpers.
//! - `ws` — the WebSocket upgrade; `socket` — the socket loop, a type with a method per event source.
//! - `command` — client frames parsed into commands and applied.
//! - `wire` — the one mapping from engine records and events to `kanect-proto`'s wire types.
//! - `poll` — the long-poll endpoints; `poll::sessions`, the registry of poll sessions.
//! - `auth` — bearer tokens, cookies, CSRF, the Origin check.
//! - `client` — the client's address, behind trusted proxies too.
//! - `export` — what an embedding application gives for that backup: an [`ExportSource`].
//! - `error` — the one mapping from errors to HTTP statuses, JSON bodies and error frames.
//! - `metrics` — the Prometheus recorder ([`PrometheusMetrics`]), its text page and own listener;
//!   `process` — the process metrics it reads from `/proc/self`.
//! - `traffic` — request ids, route labels, the access log's spans, HTTP and WebSocket metrics.
//! - `per_address` — the cap on connections per client address.
//! - `static_files` — the web app embedded at build time; `conditional` — `If-None-Match` and
//!   `304`s; `encoding` — `Accept-Encoding`, whether to send gzip.
//! - `fuzzing` — (feature `fuzzing`, hidden) entry points for the fuzz targets in `fuzz/`.

// docs.rs (nightly) marks each feature-gated item with the feature it needs.
#![cfg_attr(docsrs, feature(doc_cfg))]

mod api;
mod auth;
mod client;
mod command;
mod conditional;
mod config;
mod connection;
mod encoding;
mod error;
mod export;
mod headers;
mod incoming;
mod metrics;
mod per_address;
mod poll;
mod process;
mod routes;
mod server;
mod service;
mod socket;
mod state;
mod static_files;
mod tls;
mod traffic;
mod wire;
mod ws;

#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing;

pub use config::HttpConfig;
pub use error::{Body, BoxError};
pub use export::{ExportError, ExportSource, ExportWriter};
pub use incoming::PeerAddress;
pub use metrics::{PrometheusMetrics, RecorderTaken};
pub use server::{serve, Server};
pub use service::{KanectService, KanectServiceBuilder};
pub use tls::{TlsConfig, TlsError};

/// The README's example (crates.io shows it), compiled and run as a doctest so it stays true.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctest;
