//! # kanect
//!
//! Real-time chat for Rust: embed the engine in an application with a few lines, run it as a
//! standalone server with a web app, or scale it past one machine.
//!
//! This facade re-exports the engine ([`kanect_core`]), the wire protocol ([`proto`]) and, by
//! feature, its backends:
//!
//! | feature | default | brings |
//! |---|---|---|
//! | `fjall` | yes | [`store::FjallStore`], the embedded persistent store, on fjall (an LSM-tree engine) |
//! | `http` | yes | [`http`], the REST/WebSocket/long-poll server and web app |
//! | `tantivy` | yes | `store::TantivyIndex`, message search for the embedded stores (PostgreSQL searches itself) |
//! | `push` | yes | [`push`], Web Push: VAPID keys kept in the store, encrypted payloads |
//! | `mail` | yes | `mail::SmtpMailer` (SMTP through lettre) and `mail::LogMailer`, for verification, password reset and digests |
//! | `sled` | no | `store::SledStore`, the embedded store on sled 0.34, for existing data directories |
//! | `postgres` | no | `store::PgStore`, for deployments that share one database |
//! | `nats` | no | `nats::NatsBus`, to connect several server nodes |
//!
//! ```
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
//! use kanect::{Chat, MemoryStore, Registration};
//! # let config = kanect::ChatConfig { password_cost: kanect::PasswordCost::INSECURE_FAST, ..Default::default() };
//! let chat = Chat::builder(MemoryStore::new()).config(config).build().await?;
//! let alice = chat.register(Registration::new("alice", "correct horse")).await?;
//! # Ok::<_, kanect::Error>(())
//! # }).unwrap();
//! ```
//!
//! # Layout
//! - the crate root — everything from [`kanect_core`]: the engine; [`backend`] holds what only
//!   store implementers need.
//! - [`proto`] — the wire protocol's frames and bodies (`kanect-proto`), for clients.
//! - [`store`] — persistent stores (`kanect-store`).
//! - [`http`] — the network adapter (`kanect-http`), feature `http`.
//! - [`nats`] — the cluster bus (`kanect-nats`), feature `nats`.
//! - [`push`] — Web Push (`kanect-push`), feature `push`.
//! - `mail` — mailers (`kanect-mail`), feature `mail`.

// docs.rs (nightly) marks each feature-gated item with the feature it needs.
#![cfg_attr(docsrs, feature(doc_cfg))]

pub use kanect_core::*;

/// The wire protocol as serde types: every WebSocket and long-poll frame and every REST body, as
/// `PROTOCOL.md` in `kanect-http` describes them. A client reads and writes these.
pub mod proto {
    pub use kanect_proto::*;
}

/// Persistent [`Store`] backends.
pub mod store {
    pub use kanect_store::*;
}

/// The network adapter: REST, WebSocket, long-poll, web app and admin API.
#[cfg(feature = "http")]
pub mod http {
    pub use kanect_http::*;
}

/// Mailers: SMTP, and a logging one for development.
#[cfg(feature = "mail")]
pub mod mail {
    pub use kanect_mail::*;
}

/// The NATS bus for multi-node deployments.
#[cfg(feature = "nats")]
pub mod nats {
    pub use kanect_nats::*;
}

/// Web Push: the [`PushSender`] that VAPID-signs, encrypts and sends pushes.
#[cfg(feature = "push")]
pub mod push {
    pub use kanect_push::*;
}
