//! # kanect-nats
//!
//! A [`Bus`](kanect_core::Bus) over [NATS](https://nats.io), so that several Kanect nodes serve
//! one deployment: a message sent through node A reaches a device connected to node B, and
//! presence is aggregated across nodes. Every node connects to the same NATS server (or
//! cluster) with the same prefix, and to the same shared store (PostgreSQL, see
//! `kanect-store`'s `PgStore`).
//!
//! ```no_run
//! # async fn example() -> Result<(), Box<dyn std::error::Error>> {
//! use kanect_core::{Chat, MemoryStore};
//! use kanect_nats::{NatsBus, NatsConfig};
//! let bus = NatsBus::connect_with(NatsConfig { prefix: "prod".into(), ..NatsConfig::new("nats://127.0.0.1:4222") })
//!     .await?;
//! let chat = Chat::builder(MemoryStore::new()).bus(bus).build().await?;
//! # Ok(()) }
//! ```
//!
//! # Credentials and TLS
//!
//! [`NatsConfig`] takes each way a NATS server is commonly configured to authenticate:
//!
//! | server configuration                        | the node gives                                     |
//! |---------------------------------------------|----------------------------------------------------|
//! | `authorization { user, password }`          | `nats://USER:PASSWORD@host` (percent-encoded)      |
//! | `authorization { token }`                   | `nats://TOKEN@host`                                |
//! | `authorization { users = [{ nkey: U… }] }`  | [`NatsConfig::nkey_file`]: the user's seed         |
//! | operator mode (JWTs, `nsc`)                 | [`NatsConfig::credentials_file`]: a `.creds` file  |
//!
//! A `tls://` URL or [`NatsConfig::require_tls`] insists on TLS, and so does a CA file or a
//! client certificate: whoever gave one meant TLS, so a server that turns out to speak plain
//! NATS is refused rather than used without it. A server that requires TLS gets it from a
//! `nats://` URL too. The server's certificate must chain to [`NatsConfig::ca_file`] (the
//! system's roots without one) and name the URL's host; there is no switch to accept any
//! certificate. [`NatsConfig::client_cert`] and [`NatsConfig::client_key`] answer a server that
//! verifies its clients (`tls { verify: true }`, mutual TLS).
//!
//! Every file is read and checked before connecting, and a refusal is a [`ConnectError`] whose
//! kind says what to fix: a file (and which: [`FileRole`]), the credentials, TLS, or the
//! address. The seed and the `.creds` file are read once; the TLS files again at every
//! reconnection, so renewed certificates are used from the next connection on.
//!
//! # Subjects
//!
//! [`Subjects::Deployment`] (the default): all nodes publish and subscribe on one subject,
//! `kanect.<prefix>.events`. Every node receives every event and its hub keeps those for users
//! it holds devices of (a look-up per recipient). One publish per event, no interest to track,
//! and NATS keeps each publisher's order on a subject, so every node sees a node's events in
//! the order it routed them (which keeps messages in seq order). Its cost grows with
//! nodes × events: each node decodes every event of the deployment.
//!
//! [`Subjects::PerUser`]: deliveries and session ends go to `kanect.<prefix>.user.<id>`, one
//! publish per recipient; a node follows (subscribes to) the subjects of the users it holds
//! devices of, so it only receives their events. Presence and heartbeats stay on the
//! deployment subject, since every node aggregates presence, and so do broadcasts (changes to
//! the user directory), which every device receives. Order still holds per publisher and
//! subject: a user's messages stay in seq order, but a broadcast and a user's session end
//! travel on different subjects, so a device may hear that its own account was disabled or
//! deleted just before its `session_ended`. The bus learns whom to follow from its own engine's traffic:
//! a user's first device on the node makes the engine publish their presence (the bus follows
//! the user first, so what is sent to them once the device is subscribed arrives), and
//! heartbeats list who is still there (see `interest`). Worth it when there are many nodes
//! and most events concern few of them; a message to a large group costs one publish per
//! member. Every node of a deployment must use the same mode.
//!
//! # Ordering across nodes
//!
//! A node's own events reach every other node in the order it routed them. Events from two
//! nodes are not ordered with each other: when senders on two nodes write into one
//! conversation at once, seq 6 (routed by a device's own node) can reach the node before
//! seq 5 (routed by the other, one NATS hop away). The engine's subscriptions repair this:
//! a message beyond the next expected seq makes the subscription read the gap from the
//! shared store first, and the late copy is then dropped as a duplicate — so every device
//! still gets every message exactly once, in seq order.
//!
//! # What a disconnection loses
//!
//! async-nats reconnects on its own and re-subscribes. Delivery is at most once: while a node
//! is cut off, the events it publishes are dropped (publishing fails fast rather than stalling
//! the sender) and the events others publish never reach it. Nothing durable is lost — every
//! message is in the store before it is published — and a client that reconnects (or resumes
//! with its cursors) receives everything it missed, in order. Presence heals by itself: other
//! nodes stop counting a silent node's users after three heartbeats, and count them again when
//! its heartbeats come back.
//!
//! Envelopes are JSON ([`BusEnvelope`](kanect_core::BusEnvelope)); one that does not decode
//! (a foreign publisher, a node of an incompatible version) is logged and skipped.
//!
//! # Layout
//! - `bus` — [`NatsBus`] and [`Subjects`]: connecting, subjects, publishing, and the listener
//!   tasks that hand other nodes' envelopes to the engine.
//! - `config` — [`NatsConfig`]: the servers, authentication (user and password, token, nkey,
//!   `.creds`) and TLS (a CA file, mutual TLS), each checked before connecting;
//!   [`ConnectError`], which names what to fix.
//! - `interest` — which users' subjects a node follows in [`Subjects::PerUser`] mode.

// docs.rs (nightly) marks each feature-gated item with the feature it needs.
#![cfg_attr(docsrs, feature(doc_cfg))]

mod bus;
mod config;
mod interest;

pub use bus::NatsBus;
pub use config::{ConnectError, FileRole, NatsConfig, Subjects};

/// The README's example (crates.io shows it), compiled and run as a doctest so it stays true.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctest;
