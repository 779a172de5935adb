//! # kanect-push
//!
//! Web Push for Kanect: a [`PushSender`](kanect_core::PushSender) that the engine hands each
//! notice to ([`WebPush`]). It keeps the server's VAPID key pair in the store, so that every
//! node of a cluster signs with the same key and subscriptions survive restarts; encrypts
//! each payload for its subscription as RFC 8291 requires (`aes128gcm`); and posts it to the
//! push service with a hyper client that refuses endpoints that are not `https` or that
//! resolve to private, loopback, link-local or unspecified addresses — unless the operator
//! allows them ([`WebPushConfig::allow_private_endpoints`], for a push service on the local
//! network, and for tests).
//!
//! ```no_run
//! # async fn example() -> Result<(), Box<dyn std::error::Error>> {
//! use kanect_core::{Chat, MemoryStore, Store};
//! use kanect_push::{WebPush, WebPushConfig};
//! use std::sync::Arc;
//!
//! let store: Arc<dyn Store> = Arc::new(MemoryStore::new());
//! let push = WebPush::start(&*store, WebPushConfig::new("mailto:ops@example.com")).await?;
//! let chat = Chat::builder_shared(store).push(push).build().await?;
//! # Ok(()) }
//! ```
//!
//! # Layout
//! - `vapid` — the key pair (made once, kept as a store secret) and the signed `Authorization`.
//! - `encryption` — RFC 8291 / RFC 8188 `aes128gcm`, and the checks of a subscription's keys.
//! - `endpoint` — which endpoints may be called: the scheme, and every resolved address.
//! - `client` — one push: connect to the checked address, TLS, HTTP/1.1, the answer.
//! - `sender` — [`WebPush`], the [`PushSender`](kanect_core::PushSender) made of them.

// docs.rs (nightly) marks each feature-gated item with the feature it needs.
#![cfg_attr(docsrs, feature(doc_cfg))]

mod client;
mod encryption;
mod endpoint;
mod sender;
mod vapid;

pub use sender::{WebPush, WebPushConfig};
pub use vapid::VAPID_SECRET;

/// The README's example (crates.io shows it), compiled and run as a doctest so it stays true.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctest;
