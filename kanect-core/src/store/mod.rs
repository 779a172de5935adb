//! The persistence contract, one trait per domain: everything the engine keeps.
//!
//! A backend implements every domain trait and [`Store`], the one bound the engine holds; the
//! contract they share (atomicity, durability, what a failure may leave behind) is written in
//! the docs of [`crate::backend`], which is how implementers reach these traits. Each domain
//! file holds its trait and the query types and rules that go with it:
//!
//! - `users` — [`UserStore`]: accounts and password hashes;
//! - `sessions` — [`SessionStore`]: log-in sessions;
//! - `login_attempts` — [`LoginAttemptStore`]: log-in slow-down records;
//! - `conversations` — [`ConversationStore`]: conversations and memberships;
//! - `messages` — [`MessageStore`]: messages and receipts;
//! - `attachments` — [`AttachmentStore`]: uploaded files' records;
//! - `admin` — [`AdminStore`]: the audit log and the counts;
//! - `invites` — [`InviteStore`]: invite links, by token hash;
//! - `account_tokens` — [`AccountTokenStore`]: single-use tokens mailed to users;
//! - `notifications` — [`NotificationStore`]: notification settings and push subscriptions;
//! - `secrets` — [`SecretStore`]: server secrets every node shares;
//! - `rate_buckets` — [`SharedRateBuckets`]: rate-limit buckets, offered only by a store several
//!   nodes share ([`Store::shared_rate_buckets`]), so not a supertrait of [`Store`].
//!
//! Split by domain so that a new stored concept is a new trait beside these rather than more
//! methods on one: adding a domain is a trait file here (and a supertrait of [`Store`]), a
//! module of the conformance suite (`testing::suite`) and its line in the suite's macro and
//! in `testing`'s delegation table, and one file per backend (memory, sled, PostgreSQL).

mod account_tokens;
mod admin;
mod attachments;
mod conversations;
mod invites;
mod login_attempts;
mod messages;
mod notifications;
mod rate_buckets;
mod secrets;
mod sessions;
mod users;

pub use account_tokens::AccountTokenStore;
pub use admin::AdminStore;
pub use attachments::{claim, AttachmentStore, ClaimRefused};
pub use conversations::ConversationStore;
pub use invites::{redeem, restore_use, Invite, InviteStore};
pub use login_attempts::LoginAttemptStore;
pub use messages::{move_receipt_forward, replace_fields, HistoryPage, MessageStore};
pub use notifications::NotificationStore;
pub use rate_buckets::{ArrivalTime, BucketKey, Grant, SharedRateBuckets};
pub use secrets::SecretStore;
pub use sessions::SessionStore;
pub use users::{matches_search, UserQuery, UserStore, UserUpdate};

use crate::error::StoreError;
use async_trait::async_trait;

/// The result of a store call.
pub type StoreResult<T> = std::result::Result<T, StoreError>;

/// Everything Kanect persists: the one bound a backend implements, made of a trait per domain,
/// plus the two calls about the store as a whole.
///
/// The engine holds a store as `Arc<dyn Store>` and calls every domain's methods through it;
/// [`crate::backend`] says what every implementation must keep (atomicity, durability, what a
/// failure may leave behind), and each domain trait its own invariants. Every backend runs the
/// conformance suite in `kanect_core::testing` (feature `testing`).
#[async_trait]
pub trait Store:
    UserStore
    + SessionStore
    + LoginAttemptStore
    + ConversationStore
    + MessageStore
    + AttachmentStore
    + AdminStore
    + InviteStore
    + AccountTokenStore
    + NotificationStore
    + SecretStore
    + Send
    + Sync
    + 'static
{
    /// Makes everything written so far durable, e.g. before a graceful shutdown.
    async fn flush(&self) -> StoreResult<()>;

    /// Whether the store works now, for a health check: cheap, and bounded in time (a
    /// backend that must ask a server gives up after a short timeout and answers
    /// [`StoreHealth::Failed`]). The default is for a store that cannot fail, as
    /// [`MemoryStore`](crate::MemoryStore).
    async fn health(&self) -> StoreHealth {
        StoreHealth::Ok
    }

    /// The rate-limit buckets every node sharing this store draws from, if several nodes can
    /// share it (PostgreSQL). None, the default, for a store of one process: the engine then
    /// keeps its buckets in memory, where a check costs no round trip.
    fn shared_rate_buckets(&self) -> Option<&dyn SharedRateBuckets> {
        None
    }
}

/// What [`Store::health`] reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum StoreHealth {
    /// Reads and writes work.
    Ok,
    /// Writes fail (a full disk, an I/O error, a database out of reach), and perhaps reads.
    /// The store retries by itself where it can (sled reopens once its directory takes writes
    /// again; PostgreSQL's pool reconnects).
    Failed,
    /// The store is recovering from a failure (sled: reopening the database and replaying its
    /// journal); calls fail until it is done.
    Recovering,
}

impl StoreHealth {
    /// The stable machine code: `"ok"`, `"failed"` or `"recovering"`.
    pub fn code(self) -> &'static str {
        match self {
            StoreHealth::Ok => "ok",
            StoreHealth::Failed => "failed",
            StoreHealth::Recovering => "recovering",
        }
    }

    /// True for [`StoreHealth::Ok`].
    pub fn is_ok(self) -> bool {
        self == StoreHealth::Ok
    }
}

impl std::fmt::Display for StoreHealth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.code())
    }
}
