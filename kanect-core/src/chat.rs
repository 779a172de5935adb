//! [`Chat`]: the engine handle an application holds, its configuration, and event routing.
//!
//! The operations live in sibling modules as `impl Chat` blocks, one concern each:
//! `accounts` (register, log in, sessions, users), `conversations` (direct and group),
//! `conversation_list` (the caller's list, in pages), `messaging` (send, edit, delete, history,
//! receipts, typing, subscribe), `admin`, `invites` (who may sign up) and `retention`.
//! `presence` holds who is online and who hears of it. This module holds what they share: the
//! handle, who is calling ([`Caller`]), and [`Chat::route`], the one path every event takes to
//! local devices and other nodes.
//!
//! The handle holds each component's state, from modules that know nothing of it (`hub`,
//! `presence::state`, `throttle`, `limits`, ...), and imports none of the modules that operate
//! on it: they all import this one. Starting an engine, which needs those operations (the bus's
//! inbox, the heartbeat task), is the `builder` module's.

use crate::auth::{PasswordCost, PasswordHasher};
use crate::blob::BlobStore;
use crate::bus::{Bus, BusEnvelope, BusInbox, BusMessage};
use crate::cache::HotCache;
use crate::error::Result;
use crate::event::{Delivery, Event};
use crate::hub::Hub;
use crate::id::{ConversationId, NodeId, Seq, UserId};
use crate::limits::{Limits, RateLimits};
use crate::mail::{MailConfig, Mailer, Verification};
use crate::metrics::Metrics;
use crate::model::{Role, Timestamp, TokenHash};
use crate::notifications::{PushQueue, PushSender};
use crate::ordering::{Sequencer, Ticket};
use crate::presence::state::PresenceState;
use crate::search::SearchIndex;
use crate::sign_up::{InviteLimits, SignUpMode};
use crate::store::{Store, StoreHealth};
use crate::throttle::{LoginLimits, LoginThrottle};
use crate::uploads::{AttachmentLimits, Uploads};
use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Weak};
use std::time::Duration;

/// Engine settings. `ChatConfig::default()` suits a server; every field can be changed.
#[derive(Clone, Debug)]
pub struct ChatConfig {
    /// How long a log-in session lasts. Default 30 days.
    pub session_ttl: Duration,
    /// Events queued per device before it is considered lagging. Default 1024.
    pub device_queue: usize,
    /// Devices (subscriptions) one user may hold on one node. Default 16.
    pub max_devices_per_user: usize,
    /// How log-ins are throttled: slow-downs per account and client address and per account,
    /// and this node's per-address budget. Default [`LoginLimits::default`].
    pub login: LoginLimits,
    /// Argon2id cost. Default [`PasswordCost::RECOMMENDED`].
    pub password_cost: PasswordCost,
    /// Password hashes computed at once (each takes its memory cost). Default: the number
    /// of CPUs.
    pub hash_concurrency: usize,
    /// How often this node tells other nodes who is online on it, and (times three) how
    /// long another node's word counts without being repeated. Default 5 s.
    pub heartbeat: Duration,
    /// How long all of a user's devices may go without being in use before the user shows as
    /// away (see the `presence` module docs, "Away"). Default 10 minutes. Noticed within a
    /// [`ChatConfig::heartbeat`] of the time.
    pub away_after: Duration,
    /// How often one account may send, type, create groups and add members, and one client
    /// address sign up. Default [`RateLimits::default`]; [`RateLimits::UNLIMITED`] turns them
    /// off.
    pub rate_limits: RateLimits,
    /// How long messages are kept: one older than this (by its `sent_at`) is deleted as an
    /// administrator's delete does it, by a pass at start and then at most an hour apart
    /// (see the `retention` module and [`Chat::expire_messages`]). Default `None`: kept forever.
    pub message_retention: Option<Duration>,
    /// File sizes, quotas, uploads at once, the expiry of unsent uploads and image decoding
    /// limits. Default [`AttachmentLimits::default`].
    pub attachments: AttachmentLimits,
    /// Who may sign up from the public (see the `invites` module). Default
    /// [`SignUpMode::Open`].
    pub sign_up: SignUpMode,
    /// Who may make invites, and their bounds. Default [`InviteLimits::default`].
    pub invites: InviteLimits,
    /// What is mailed (verification, password reset, digests) and the links in mails. Only
    /// used with a mailer ([`ChatBuilder::mailer`](crate::ChatBuilder::mailer)). Default
    /// [`MailConfig::default`].
    pub mail: MailConfig,
    /// How long after a message the engine waits before pushing it (with a
    /// [`PushSender`](crate::PushSender)): a member whose device reads it meanwhile (their read
    /// receipt reaches it) is not pushed. Default 2 s.
    pub push_grace: Duration,
    /// How many messages may wait for their pushes at once (see
    /// [`ChatConfig::push_grace`]); past it, a new message is not pushed, and counted in
    /// [`Metrics::pushes_dropped`](crate::metrics::Metrics::pushes_dropped). Default 10 000.
    pub push_backlog: usize,
}

impl Default for ChatConfig {
    fn default() -> Self {
        ChatConfig {
            session_ttl: Duration::from_secs(30 * 24 * 3600),
            device_queue: 1024,
            max_devices_per_user: 16,
            login: LoginLimits::default(),
            password_cost: PasswordCost::RECOMMENDED,
            hash_concurrency: std::thread::available_parallelism().map_or(2, |n| n.get()),
            heartbeat: Duration::from_secs(5),
            away_after: Duration::from_secs(600),
            rate_limits: RateLimits::default(),
            message_retention: None,
            attachments: AttachmentLimits::default(),
            sign_up: SignUpMode::Open,
            invites: InviteLimits::default(),
            mail: MailConfig::default(),
            push_grace: Duration::from_secs(2),
            push_backlog: 10_000,
        }
    }
}

/// The chat engine: the one handle an application holds. Cheap to clone; all clones share
/// one engine. Several engines can live in one process.
///
/// ```
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(async {
/// use kanect_core::{Chat, ChatConfig, MemoryStore, PasswordCost, Registration};
/// let config = ChatConfig { password_cost: PasswordCost::INSECURE_FAST, ..Default::default() };
/// let chat = Chat::builder(MemoryStore::new()).config(config).build().await?;
/// let alice = chat.register(Registration::new("alice", "correct horse")).await?;
/// let bob = chat.register(Registration::new("bob", "battery staple")).await?;
/// let alice = chat.act_as(alice.id).await?;
/// let direct = chat.open_direct(&alice, bob.id).await?;
/// let sent = chat.send(&alice, direct.id, "c1", "hi bob").await?;
/// assert_eq!(sent.seq.0, 1);
/// # Ok::<_, kanect_core::Error>(())
/// # }).unwrap();
/// ```
#[derive(Clone)]
pub struct Chat {
    inner: Arc<Inner>,
}

impl std::fmt::Debug for Chat {
    /// The node's id: which engine of a cluster this handle is.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Chat").field("node", &self.inner.node).finish_non_exhaustive()
    }
}

/// A [`Chat`] that does not keep the engine alive, for its own tasks (the heartbeat, the bus's
/// inbox): they stop once every handle an application held is gone.
pub(crate) struct WeakChat(Weak<Inner>);

impl WeakChat {
    /// The engine, if it still lives.
    pub(crate) fn upgrade(&self) -> Option<Chat> {
        self.0.upgrade().map(|inner| Chat { inner })
    }
}

struct Inner {
    node: NodeId,
    store: Arc<dyn Store>,
    bus: Arc<dyn Bus>,
    hub: Hub,
    /// Presence beyond this node's devices (see the `presence` module).
    presence: PresenceState,
    hasher: PasswordHasher,
    throttle: LoginThrottle,
    /// The rate limits' buckets (shared with the task that forgets idle ones).
    limits: Arc<Limits>,
    metrics: Metrics,
    ordering: Sequencer,
    /// Conversations and accounts a send reads (see the `cache` module).
    cache: HotCache,
    /// Per conversation, the seq up to which retention passes have expired every message, so
    /// that the next pass starts after it; the lock also makes passes run one at a time (see
    /// the `retention` module). Shared so that the background pass can hold it without holding
    /// the engine.
    retention_cursors: Arc<tokio::sync::Mutex<HashMap<ConversationId, Seq>>>,
    /// Where attachments' bytes are; None: attachments are off.
    blobs: Option<Arc<dyn BlobStore>>,
    /// The message search index; None: search is off (see the `search` module).
    search: Option<Arc<dyn SearchIndex>>,
    /// Where mails go; None: e-mail is off (see the `mail` module).
    mailer: Option<Arc<dyn Mailer>>,
    /// Where Web Push messages go out; None: push is off (see `notifications`).
    push: Option<Arc<dyn PushSender>>,
    /// The messages waiting for their push; Some when push is on.
    push_queue: Option<Arc<PushQueue>>,
    /// Uploads under way per account (see `attachments`).
    uploads: Uploads,
    /// One image decoded at a time: its bytes and pixels are in memory meanwhile.
    thumbnailing: Arc<tokio::sync::Semaphore>,
    /// Notification settings are read, changed and written back whole: one change at a time
    /// on this node (see the `notifications` module).
    notification_writes: tokio::sync::Mutex<()>,
    config: ChatConfig,
}

/// Who is calling: an authenticated user, as returned by [`Chat::authenticate`] or
/// [`Chat::act_as`]. Only the engine makes these.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Caller {
    user: UserId,
    role: Role,
    session: Option<TokenHash>,
}

impl Caller {
    pub(crate) fn new(user: UserId, role: Role, session: Option<TokenHash>) -> Self {
        Caller { user, role, session }
    }

    /// The user.
    pub fn user(&self) -> UserId {
        self.user
    }

    /// The user's role when the caller was authenticated. Administrative operations re-check
    /// the stored role, so a demotion takes effect at once.
    pub fn role(&self) -> Role {
        self.role
    }

    /// The session the caller authenticated with (None for [`Chat::act_as`]).
    pub fn session(&self) -> Option<TokenHash> {
        self.session
    }
}

/// What a node's fan-out did, from [`Chat::delivery_counts`]: counters since the engine
/// started, for monitoring.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct DeliveryCounts {
    /// Events handed to device queues (each device an event was queued for counts once).
    pub delivered: u64,
    /// Events not queued because the device lagged (its queue was full, or it had not yet taken
    /// its resync): a growing count means consumers too slow for the traffic.
    pub lagged: u64,
}

impl Chat {
    /// An engine on `store` and `bus`, each component's state made from `config`. Not yet
    /// attached to the bus, and its tasks not started: `ChatBuilder::build` does that.
    pub(crate) fn new(
        store: Arc<dyn Store>,
        bus: Arc<dyn Bus>,
        blobs: Option<Arc<dyn BlobStore>>,
        search: Option<Arc<dyn SearchIndex>>,
        mailer: Option<Arc<dyn Mailer>>,
        push: Option<Arc<dyn PushSender>>,
        config: ChatConfig,
    ) -> Chat {
        let metrics = Metrics::register();
        let inner = Inner {
            node: NodeId::new(),
            hub: Hub::new(config.device_queue, config.max_devices_per_user, metrics.clone()),
            presence: PresenceState::new(config.heartbeat * 3),
            hasher: PasswordHasher::new(config.password_cost, config.hash_concurrency),
            throttle: LoginThrottle::new(&config.login),
            limits: Arc::new(Limits::new(&config.rate_limits, &store)),
            metrics,
            ordering: Sequencer::default(),
            cache: HotCache::default(),
            retention_cursors: Arc::default(),
            blobs,
            search,
            mailer,
            push_queue: push.as_ref().map(|_| Arc::new(PushQueue::new(config.push_backlog))),
            push,
            uploads: Uploads::default(),
            thumbnailing: Arc::new(tokio::sync::Semaphore::new(1)),
            notification_writes: tokio::sync::Mutex::new(()),
            store,
            bus,
            config,
        };
        Chat { inner: Arc::new(inner) }
    }

    /// Attaches this node to the bus: `inbox` receives every envelope published, this node's
    /// own included.
    ///
    /// # Errors
    /// `unavailable` if the bus cannot be attached.
    pub(crate) async fn attach(&self, inbox: BusInbox) -> Result<()> {
        self.inner.bus.attach(self.inner.node, inbox).await?;
        Ok(())
    }

    /// This engine's node: which engine of a cluster it is.
    pub(crate) fn node(&self) -> NodeId {
        self.inner.node
    }

    /// The store, for the engine's operations.
    pub(crate) fn store(&self) -> &dyn Store {
        &*self.inner.store
    }

    /// The blob store, if attachments are on.
    pub(crate) fn blobs(&self) -> Option<&Arc<dyn BlobStore>> {
        self.inner.blobs.as_ref()
    }

    /// The search index, if search is on.
    pub(crate) fn search_index(&self) -> Option<&Arc<dyn SearchIndex>> {
        self.inner.search.as_ref()
    }

    /// The mailer, if e-mail is on.
    pub(crate) fn mailer(&self) -> Option<&Arc<dyn Mailer>> {
        self.inner.mailer.as_ref()
    }

    /// Whether this engine can mail (it was given a mailer): without one, verification,
    /// password resets and digests are off.
    pub fn mail_enabled(&self) -> bool {
        self.inner.mailer.is_some()
    }

    /// The verification mode in force: [`MailConfig::verification`], or
    /// [`Verification::Off`] without a mailer.
    pub fn verification(&self) -> Verification {
        if self.mail_enabled() {
            self.inner.config.mail.verification
        } else {
            Verification::Off
        }
    }

    /// The push sender, if Web Push is on.
    pub(crate) fn push(&self) -> Option<&Arc<dyn PushSender>> {
        self.inner.push.as_ref()
    }

    /// The push queue, if Web Push is on.
    pub(crate) fn push_queue(&self) -> Option<&Arc<PushQueue>> {
        self.inner.push_queue.as_ref()
    }

    /// Uploads under way per account.
    pub(crate) fn uploads(&self) -> &Uploads {
        &self.inner.uploads
    }

    /// The turn to decode an image.
    pub(crate) fn thumbnailing(&self) -> &Arc<tokio::sync::Semaphore> {
        &self.inner.thumbnailing
    }

    /// The turn to change notification settings on this node.
    pub(crate) fn notification_writes(&self) -> &tokio::sync::Mutex<()> {
        &self.inner.notification_writes
    }

    /// The configuration in force.
    pub fn config(&self) -> &ChatConfig {
        &self.inner.config
    }

    /// Counters and histograms for monitoring.
    pub fn metrics(&self) -> &Metrics {
        &self.inner.metrics
    }

    /// Devices subscribed on this node now.
    pub fn connected_devices(&self) -> usize {
        self.inner.hub.device_count()
    }

    /// How many events this node handed to device queues, and how many it did not queue
    /// because the device lagged, since it started.
    pub fn delivery_counts(&self) -> DeliveryCounts {
        let counters = &self.inner.hub.counters;
        DeliveryCounts {
            delivered: counters.deliveries.load(Ordering::Relaxed),
            lagged: counters.lagged.load(Ordering::Relaxed),
        }
    }

    /// Makes everything written durable, and hands other nodes what was published for them
    /// (for graceful shutdown, or before a one-shot command exits). It first waits for the
    /// departures under way: devices that have just gone (as at shutdown, when every socket
    /// closes) have their users' last-seen recorded and their going offline published.
    ///
    /// # Errors
    /// `unavailable` if the store fails. A bus that cannot flush is logged, not an error:
    /// delivery between nodes is at most once, and what was written is durable.
    pub async fn flush(&self) -> Result<()> {
        self.inner.presence.departures_finished().await;
        self.inner.store.flush().await?;
        if let Some(search) = &self.inner.search {
            // Derived data, caught up from the store if this fails: logged, not an error.
            if let Err(error) = search.flush().await {
                tracing::warn!(%error, "search index flush failed");
            }
        }
        if let Err(error) = self.inner.bus.flush().await {
            tracing::warn!(%error, "bus flush failed");
        }
        Ok(())
    }

    /// Whether the engine can serve now: its store's [`Store::health`], for a health check
    /// (`GET /health` answers `503` unless it is [`StoreHealth::Ok`]). The bus is not asked:
    /// delivery between nodes is at most once, and a node without it still serves its own
    /// devices.
    pub async fn health(&self) -> StoreHealth {
        self.inner.store.health().await
    }

    pub(crate) fn hub(&self) -> &Hub {
        &self.inner.hub
    }

    pub(crate) fn presence_state(&self) -> &PresenceState {
        &self.inner.presence
    }

    pub(crate) fn downgrade(&self) -> WeakChat {
        WeakChat(Arc::downgrade(&self.inner))
    }

    /// Whether other nodes listen: if not, nothing need be published.
    pub(crate) fn has_peers(&self) -> bool {
        self.inner.bus.has_peers()
    }

    pub(crate) fn hasher(&self) -> &PasswordHasher {
        &self.inner.hasher
    }

    pub(crate) fn throttle(&self) -> &LoginThrottle {
        &self.inner.throttle
    }

    /// The rate limits, shared (by a weak handle) with the task that forgets idle buckets.
    pub(crate) fn limits(&self) -> &Arc<Limits> {
        &self.inner.limits
    }

    /// Where retention passes stopped, per conversation (see the `retention` module).
    pub(crate) fn retention_cursors(&self) -> &Arc<tokio::sync::Mutex<HashMap<ConversationId, Seq>>> {
        &self.inner.retention_cursors
    }

    /// A place in the conversation's fan-out order (see the `ordering` module).
    pub(crate) fn ticket(&self, id: ConversationId) -> Ticket<'_> {
        self.inner.ordering.begin(id, &self.inner.hub)
    }

    /// Finishes a send's ticket: routes what is now due, in seq order, here and to other nodes.
    pub(crate) async fn route_in_order(&self, ticket: Ticket<'_>, message: Option<(Seq, Vec<UserId>, Event)>) {
        let started = std::time::Instant::now();
        let hub = &self.inner.hub;
        let released = ticket.finish(message, |(recipients, delivery)| hub.deliver(recipients, delivery));
        self.inner.metrics.fanout.record(started.elapsed());
        if self.inner.bus.has_peers() {
            for (recipients, delivery) in released {
                let event = delivery.event().clone();
                self.publish(BusMessage::Deliver { recipients, event }).await;
            }
        }
    }

    pub(crate) fn now(&self) -> Timestamp {
        Timestamp::now()
    }

    /// Sends `event` to every device of `recipients`, here and on other nodes.
    pub(crate) async fn route(&self, recipients: Vec<UserId>, event: Event) {
        let started = std::time::Instant::now();
        let delivery = Delivery::new(event);
        self.inner.hub.deliver(&recipients, &delivery);
        self.inner.metrics.fanout.record(started.elapsed());
        if self.inner.bus.has_peers() {
            let event = delivery.event().clone();
            self.publish(BusMessage::Deliver { recipients, event }).await;
        }
    }

    /// Sends `event` to every device, here and on other nodes.
    pub(crate) async fn broadcast(&self, event: Event) {
        let delivery = Delivery::new(event);
        self.inner.hub.deliver_to_all(&delivery);
        if self.inner.bus.has_peers() {
            let event = delivery.event().clone();
            self.publish(BusMessage::Broadcast { event }).await;
        }
    }

    /// The node's cache of conversations and accounts (see the `cache` module).
    pub(crate) fn cache(&self) -> &HotCache {
        &self.inner.cache
    }

    /// Forgets cached conversations and accounts here and on every other node, after a change
    /// to them; call before the change's operation returns. Here at once; other nodes when the
    /// bus brings them word of it.
    pub(crate) async fn forget(&self, conversations: Vec<ConversationId>, users: Vec<UserId>) {
        self.inner.cache.forget(&conversations, &users);
        if self.inner.bus.has_peers() {
            self.publish(BusMessage::Forget { conversations, users }).await;
        }
    }

    /// Ends the live streams of a user's devices (all, or one session's) on every node.
    pub(crate) async fn end_sessions(&self, user: UserId, session: Option<TokenHash>, reason: &str) {
        self.inner.hub.end_sessions(user, session, reason);
        if self.inner.bus.has_peers() {
            self.publish(BusMessage::EndSessions { user, session, reason: reason.to_string() }).await;
        }
    }

    /// Hands `message` to the other nodes (at most once: a failure is logged).
    pub(crate) async fn publish(&self, message: BusMessage) {
        let envelope = BusEnvelope { origin: self.inner.node, message };
        if let Err(error) = self.inner.bus.publish(envelope).await {
            // Other nodes' devices catch up by cursor; the local fan-out already happened.
            tracing::warn!(%error, "bus publish failed");
        }
    }
}
