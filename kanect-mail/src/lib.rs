//! # kanect-mail
//!
//! Mailers for Kanect: what delivers the [`Mail`](kanect_core::Mail)s the engine writes
//! (verification links, password resets, missed-message digests). Give one to
//! [`ChatBuilder::mailer`](kanect_core::ChatBuilder::mailer); without one the engine runs
//! without e-mail.
//!
//! - [`SmtpMailer`] hands mails to an SMTP server (lettre on tokio, rustls): STARTTLS, TLS
//!   from the first byte, or plain for a local relay or a test server, with authentication.
//!   Configured by one URL: `smtp://user:pass@host:587?tls=starttls`, and a CA file for a
//!   server whose certificate a private CA signed ([`SmtpConfig`]). What goes wrong with the
//!   server is an [`SmtpError`] with a stable code ([`Failure::code`]).
//! - [`LogMailer`] writes each mail to the log (`tracing`), for development: the links can be
//!   copied from the server's output.
//!
//! ```no_run
//! # async fn example() -> Result<(), Box<dyn std::error::Error>> {
//! use kanect_core::{Chat, MemoryStore};
//! use kanect_mail::SmtpMailer;
//! let mailer = SmtpMailer::from_url("smtp://kanect:secret@mail.example.com:587?tls=starttls", "Kanect <chat@example.com>")?;
//! mailer.check().await?; // a clear error at start rather than at the first mail
//! let chat = Chat::builder(MemoryStore::new()).mailer(mailer).build().await?;
//! # Ok(()) }
//! ```
//!
//! # Layout
//! - `smtp` — [`SmtpMailer`], its URL ([`SmtpUrl`]) and [`SmtpConfig`], [`SetupError`].
//! - `failure` — [`SmtpError`]: what the SMTP server did not take, and why ([`Failure`]).
//! - `log` — [`LogMailer`].

// docs.rs (nightly) marks each feature-gated item with the feature it needs.
#![cfg_attr(docsrs, feature(doc_cfg))]

mod failure;
mod log;
mod smtp;

pub use failure::{Failure, SmtpError};
pub use log::LogMailer;
pub use smtp::{SetupError, SmtpConfig, SmtpMailer, SmtpUrl, TlsMode};

/// The README's example (crates.io shows it), compiled and run as a doctest so it stays true.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctest;
