//! The [`Bus`]: how engines on several nodes tell each other about events.
//!
//! Each engine fans events out to its own devices directly and publishes a [`BusEnvelope`] for
//! the other nodes; a node receiving one delivers it to its own devices of the named users.
//! [`LocalBus`] connects the engines of one process (the single-node default, and a way to test
//! multi-node routing in one test); `kanect-nats` connects processes.

use crate::error::StoreError;
use crate::event::Event;
use crate::id::{ConversationId, NodeId, UserId};
use crate::model::{Timestamp, TokenHash};
use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use std::sync::{Arc, Mutex};

/// What one node tells the others.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum BusMessage {
    /// Deliver `event` to every device of these users that you hold.
    Deliver {
        /// The recipients.
        recipients: Vec<UserId>,
        /// The event.
        event: Event,
    },
    /// Deliver `event` to every device you hold (changes to the user directory).
    Broadcast {
        /// The event.
        event: Event,
    },
    /// End the live streams of a user's devices: all of them, or those of one session.
    EndSessions {
        /// Whose.
        user: UserId,
        /// Only this session's devices, if given.
        session: Option<TokenHash>,
        /// Stable reason code, passed on in [`Event::SessionEnded`].
        reason: String,
    },
    /// A user's devices on the origin node went from none to some (`online`) or back.
    Presence {
        /// Whose.
        user: UserId,
        /// Whether the user has a device on the origin node now.
        online: bool,
        /// When the origin node's last device of the user left.
        last_seen: Option<Timestamp>,
    },
    /// The users the origin node holds devices for, sent periodically: a node that stops
    /// sending these stops counting towards anyone's presence after a bounded time.
    Heartbeat {
        /// Users online on the origin node.
        online: Vec<UserId>,
        /// Those of them whose every device there is idle (see the `presence` module docs,
        /// "Away"). Empty from a node that predates it: its users count as active.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        idle: Vec<UserId>,
    },
    /// Forget what you cached of these conversations and accounts: they changed (see the
    /// `cache` module).
    Forget {
        /// Conversations whose kind, name, owner or members changed.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        conversations: Vec<ConversationId>,
        /// Accounts disabled, enabled, changed by an administrator or deleted.
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        users: Vec<UserId>,
    },
    /// A user made a Web Push subscription: a node that believed they had none pushes to them
    /// again (see the `notifications` module).
    PushSubscribed {
        /// Whose.
        user: UserId,
    },
}

/// A [`BusMessage`] and the node it came from.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct BusEnvelope {
    /// The sending node.
    pub origin: NodeId,
    /// What it says.
    pub message: BusMessage,
}

/// Where a bus hands an engine the envelopes of other nodes. Cheap to clone.
#[derive(Clone)]
pub struct BusInbox(Arc<dyn Fn(BusEnvelope) + Send + Sync>);

impl BusInbox {
    /// An inbox that calls `deliver` for each envelope.
    pub fn new(deliver: impl Fn(BusEnvelope) + Send + Sync + 'static) -> Self {
        BusInbox(Arc::new(deliver))
    }

    /// Hands an envelope to the engine. Never blocks: the engine only enqueues.
    pub fn deliver(&self, envelope: BusEnvelope) {
        (self.0)(envelope)
    }
}

impl std::fmt::Debug for BusInbox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("BusInbox")
    }
}

/// Carries engine events between nodes.
#[async_trait]
pub trait Bus: Send + Sync + 'static {
    /// Starts handing other nodes' envelopes to `inbox`. Each engine calls it once at start.
    async fn attach(&self, node: NodeId, inbox: BusInbox) -> Result<(), StoreError>;

    /// Sends an envelope to every other attached node. Delivery is at most once: a node
    /// that misses an event catches up from the store (resume by cursor).
    async fn publish(&self, envelope: BusEnvelope) -> Result<(), StoreError>;

    /// Returns once what was published has left this process (see [`Chat::flush`]). The
    /// default has nothing to wait for; a bus that wraps another must pass this on.
    ///
    /// [`Chat::flush`]: crate::Chat::flush
    async fn flush(&self) -> Result<(), StoreError> {
        Ok(())
    }

    /// Whether any other node can be listening; lets a lone engine skip building envelopes.
    fn has_peers(&self) -> bool {
        true
    }
}

/// A bus between the engines of one process. With one engine attached it does nothing.
#[derive(Clone, Default)]
pub struct LocalBus {
    nodes: Arc<Mutex<Vec<(NodeId, BusInbox)>>>,
}

impl std::fmt::Debug for LocalBus {
    /// The attached engines are not shown: their inboxes are channels.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalBus").finish_non_exhaustive()
    }
}

impl LocalBus {
    /// A bus with no engines attached.
    pub fn new() -> Self {
        Self::default()
    }

    fn nodes(&self) -> Vec<(NodeId, BusInbox)> {
        self.nodes.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

#[async_trait]
impl Bus for LocalBus {
    async fn attach(&self, node: NodeId, inbox: BusInbox) -> Result<(), StoreError> {
        self.nodes.lock().unwrap_or_else(|p| p.into_inner()).push((node, inbox));
        Ok(())
    }

    async fn publish(&self, envelope: BusEnvelope) -> Result<(), StoreError> {
        for (node, inbox) in self.nodes() {
            if node != envelope.origin {
                inbox.deliver(envelope.clone());
            }
        }
        Ok(())
    }

    fn has_peers(&self) -> bool {
        self.nodes.lock().unwrap_or_else(|p| p.into_inner()).len() > 1
    }
}
