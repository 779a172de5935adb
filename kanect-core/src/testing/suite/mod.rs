//! The conformance cases: a module per domain trait (and `store` for [`Store`](crate::Store)'s own `flush` and
//! `health`), each case a function that takes a fresh, empty store.
//!
//! [`store_conformance!`](crate::store_conformance) generates a test per case, in a module per
//! domain named as the one here. A case takes any [`Store`](crate::Store), not only its domain's trait:
//! setting up may need another domain (a session needs its user).

pub mod account_tokens;
pub mod admin;
pub mod attachments;
pub mod conversations;
pub mod invites;
pub mod login_attempts;
pub mod messages;
pub mod notifications;
pub mod secrets;
pub mod sessions;
pub mod store;
pub mod users;
