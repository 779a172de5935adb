//! [`ChatBuilder`]: where an engine is put together and started, the one module that knows
//! every part of it.
//!
//! Every component keeps its state in a module of its own (the hub, presence's
//! `presence::state`, the log-in throttle, the rate limits, ...), the handle's module (`chat`)
//! holds that state, and the operations are `impl Chat` blocks in modules that use the handle.
//! Starting an engine needs more than its state: the bus's inbox hands other nodes' envelopes
//! to the hub and to presence's operations, and presence's heartbeat, the rate limits'
//! clean-up and message retention's passes run as tasks. Done in `chat`, that would make the handle's module depend on the
//! modules that depend on it; done here, above all of them, every module imports only modules
//! below it.

use crate::blob::BlobStore;
use crate::bus::{Bus, BusEnvelope, BusInbox, BusMessage, LocalBus};
use crate::chat::{Chat, ChatConfig, WeakChat};
use crate::error::Result;
use crate::event::Delivery;
use crate::mail::Mailer;
use crate::notifications::PushSender;
use crate::search::SearchIndex;
use crate::store::Store;
use std::sync::Arc;

/// Builds a [`Chat`]: a store, optionally a bus and a config.
pub struct ChatBuilder {
    store: Arc<dyn Store>,
    bus: Arc<dyn Bus>,
    blobs: Option<Arc<dyn BlobStore>>,
    search: Option<Arc<dyn SearchIndex>>,
    mailer: Option<Arc<dyn Mailer>>,
    push: Option<Arc<dyn PushSender>>,
    config: ChatConfig,
}

impl std::fmt::Debug for ChatBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChatBuilder").field("config", &self.config).finish_non_exhaustive()
    }
}

impl ChatBuilder {
    /// Connects engines across nodes through `bus` (default: a private [`LocalBus`]).
    pub fn bus(mut self, bus: impl Bus) -> Self {
        self.bus = Arc::new(bus);
        self
    }

    /// Keeps attachments' bytes in `blobs` and turns attachments on (without a blob store,
    /// uploads and reads are refused with `attachments_disabled`). Give it a store that keeps
    /// its bytes as long as the [`Store`] keeps its records: files beside an embedded store,
    /// PostgreSQL beside PostgreSQL, memory beside memory.
    pub fn blobs(mut self, blobs: impl BlobStore) -> Self {
        self.blobs = Some(Arc::new(blobs));
        self
    }

    /// As [`ChatBuilder::blobs`], with a blob store shared with others.
    pub fn blobs_shared(mut self, blobs: Arc<dyn BlobStore>) -> Self {
        self.blobs = Some(blobs);
        self
    }

    /// Indexes messages in `index` and turns search on (without an index,
    /// [`Chat::search_messages`] is refused with `search_disabled`). Give it an index kept
    /// beside the [`Store`]: a `TantivyIndex` in an embedded store's data directory, the
    /// PostgreSQL one beside PostgreSQL, [`MemorySearchIndex`](crate::search::MemorySearchIndex)
    /// beside memory. [`build`](ChatBuilder::build) starts it catching up with the store.
    pub fn search(mut self, index: impl SearchIndex) -> Self {
        self.search = Some(Arc::new(index));
        self
    }

    /// As [`ChatBuilder::search`], with an index shared with others (or kept by the
    /// application, to close it at shutdown).
    pub fn search_shared(mut self, index: Arc<dyn SearchIndex>) -> Self {
        self.search = Some(index);
        self
    }

    /// Mails through `mailer` and turns e-mail on: verification as
    /// [`MailConfig::verification`](crate::MailConfig::verification) says, password resets, and
    /// missed-message digests (see the `mail` module). Without a mailer, none of them.
    pub fn mailer(mut self, mailer: impl Mailer) -> Self {
        self.mailer = Some(Arc::new(mailer));
        self
    }

    /// As [`ChatBuilder::mailer`], with a mailer shared with others.
    pub fn mailer_shared(mut self, mailer: Arc<dyn Mailer>) -> Self {
        self.mailer = Some(mailer);
        self
    }

    /// Sends Web Push messages through `push` and turns push on (without one, push
    /// subscriptions are refused with `push_disabled` and nothing is pushed).
    pub fn push(mut self, push: impl PushSender) -> Self {
        self.push = Some(Arc::new(push));
        self
    }

    /// As [`ChatBuilder::push`], with a sender shared with others.
    pub fn push_shared(mut self, push: Arc<dyn PushSender>) -> Self {
        self.push = Some(push);
        self
    }

    /// Replaces the configuration.
    pub fn config(mut self, config: ChatConfig) -> Self {
        self.config = config;
        self
    }

    /// Starts the engine: attaches it to the bus and starts its heartbeat task (and the one that
    /// forgets idle rate-limit buckets, and with
    /// [`ChatConfig::message_retention`] the one that deletes expired messages: a pass now, then
    /// at most an hour apart; with a blob store, the attachment sweep: a pass now, then hourly).
    ///
    /// # Errors
    /// `unavailable` if the bus cannot be attached.
    ///
    /// # Panics
    /// Outside a tokio runtime (the engine spawns its heartbeat task).
    pub async fn build(self) -> Result<Chat> {
        if let Some(index) = &self.search {
            index.start(self.store.clone());
        }
        let chat = Chat::new(self.store, self.bus, self.blobs, self.search, self.mailer, self.push, self.config);
        let weak = chat.downgrade();
        chat.attach(BusInbox::new(move |envelope| receive(&weak, envelope))).await?;
        tokio::spawn(crate::presence::heartbeat(chat.downgrade()));
        tokio::spawn(crate::limits::forget_idle_keys(Arc::downgrade(chat.limits())));
        if chat.config().message_retention.is_some() {
            tokio::spawn(crate::retention::expire_periodically(chat.downgrade()));
        }
        if chat.attachments_enabled() {
            tokio::spawn(crate::attachments::sweep_periodically(chat.downgrade()));
        }
        if let Some(queue) = chat.push_queue() {
            tokio::spawn(crate::notifications::push_when_due(chat.downgrade(), queue.clone()));
        }
        if chat.mail_enabled() && chat.config().mail.digest_after.is_some() {
            tokio::spawn(crate::digests::digest_periodically(chat.downgrade()));
        }
        Ok(chat)
    }
}

impl Chat {
    /// Starts building an engine on `store`.
    pub fn builder(store: impl Store) -> ChatBuilder {
        Self::builder_shared(Arc::new(store))
    }

    /// Starts building an engine on a store shared with others (several engines in one
    /// process, as several nodes share one database), or with the application, which then
    /// keeps its own handle on the store (the engine does not lend out its own).
    pub fn builder_shared(store: Arc<dyn Store>) -> ChatBuilder {
        ChatBuilder {
            store,
            bus: Arc::new(LocalBus::new()),
            blobs: None,
            search: None,
            mailer: None,
            push: None,
            config: ChatConfig::default(),
        }
    }
}

/// Applies another node's envelope. Runs on the bus's task; never blocks.
fn receive(weak: &WeakChat, envelope: BusEnvelope) {
    let Some(chat) = weak.upgrade() else { return };
    if envelope.origin == chat.node() {
        return;
    }
    match envelope.message {
        BusMessage::Deliver { recipients, event } => {
            chat.hub().deliver(&recipients, &Delivery::new(event));
        }
        BusMessage::Broadcast { event } => {
            chat.hub().deliver_to_all(&Delivery::new(event));
        }
        BusMessage::EndSessions { user, session, reason } => {
            chat.hub().end_sessions(user, session, &reason);
        }
        BusMessage::Presence { user, online, last_seen } => {
            chat.heard_presence(envelope.origin, user, online, last_seen);
        }
        BusMessage::Heartbeat { online, idle } => chat.heard_heartbeat(envelope.origin, &online, &idle),
        BusMessage::PushSubscribed { user } => chat.heard_push_subscription(user),
        BusMessage::Forget { conversations, users } => chat.cache().forget(&conversations, &users),
    }
}
