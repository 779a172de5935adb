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
//! # Subjects
//!
//! All nodes of a deployment publish and subscribe on one subject, `kanect.<prefix>.events`.
//! Every node receives every event and its hub keeps only those for users it holds devices
//! for (a look-up per event, no allocation for strangers). This is the simplest design that
//! is correct: NATS keeps each publisher's order on a subject, so every node sees a node's
//! events in the order it routed them (which keeps messages in seq order), and presence and
//! heartbeats need no interest tracking. Its cost grows with nodes × events; past a handful
//! of busy nodes, subjects per user (`kanect.<prefix>.user.<id>`, each node subscribing to the
//! users connected to it) would cut the traffic, at the price of one publish per recipient and
//! a subscription per connected user — it needs a hook in the engine telling the bus when a
//! user's first device arrives and last one leaves, which the `Bus` trait does not have yet.
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
//! - `bus` — [`NatsBus`] and [`NatsConfig`]: connecting, the subject, publishing, and the
//!   listener task that hands other nodes' envelopes to the engine.

mod bus;

pub use bus::{NatsBus, NatsConfig};
