//! [`NatsBus`]: engine events between nodes over NATS subjects.
//!
//! Publishing encodes an envelope and hands it to async-nats, which writes it from its own
//! connection task; `publish` returns without waiting for the network. Every subscription
//! (the deployment subject for each [`attach`](Bus::attach)ed engine, and in
//! [`Subjects::PerUser`] mode one per followed user) gets a listener task that decodes
//! envelopes and passes other nodes' ones to the engine's inbox, which only enqueues, so a slow
//! device never slows a listener. Dropping the bus stops its listeners.

use crate::config::{ConnectError, NatsConfig, Subjects};
use crate::interest::Interest;
use async_nats::connection::State;
use async_trait::async_trait;
use futures_util::StreamExt;
use kanect_core::{Bus, BusEnvelope, BusInbox, BusMessage, NodeId, StoreError, UserId};
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;
use tokio::task::AbortHandle;

/// A [`Bus`] over NATS. Give each engine its own (or share one: an engine skips its own
/// envelopes either way).
///
/// # Errors
/// Connecting fails with a [`ConnectError`] that names what to fix; the [`Bus`] methods fail
/// with [`StoreError::Backend`], publishing while disconnected for one (the event is dropped;
/// see the crate docs).
pub struct NatsBus {
    client: async_nats::Client,
    /// `kanect.<prefix>`: the root of every subject of this deployment.
    root: String,
    /// `kanect.<prefix>.events`.
    events: String,
    subjects: Subjects,
    publish_timeout: Duration,
    /// Bounds connecting and [`NatsBus::live`].
    connect_timeout: Duration,
    /// The attached engines' inboxes, for the per-user listeners started later.
    inboxes: Mutex<HashMap<NodeId, BusInbox>>,
    /// The deployment-subject listeners, stopped when the bus is dropped: a bus nobody holds
    /// should not keep a subscription (and its traffic) alive.
    listeners: Mutex<Vec<AbortHandle>>,
    /// The followed users ([`Subjects::PerUser`]); stops their listeners when dropped.
    interest: Interest,
}

impl std::fmt::Debug for NatsBus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NatsBus").field("root", &self.root).field("subjects", &self.subjects).finish_non_exhaustive()
    }
}

impl NatsBus {
    /// Connects with [`NatsConfig::new`]`(url)` defaults (prefix `"default"`, one subject).
    ///
    /// # Errors
    /// As [`NatsBus::connect_with`].
    pub async fn connect(url: &str) -> Result<NatsBus, ConnectError> {
        Self::connect_with(NatsConfig::new(url)).await
    }

    /// Connects to NATS, authenticated and over TLS as `config` says (see
    /// [`NatsConfig`]'s module docs).
    ///
    /// # Errors
    /// [`ConnectError`]: a bad URL or prefix, a file that cannot be read or does not hold
    /// what it should, credentials the server refuses, a failed TLS handshake, or no answer
    /// within [`NatsConfig::connect_timeout`].
    pub async fn connect_with(config: NatsConfig) -> Result<NatsBus, ConnectError> {
        let root = root(&config.prefix)?;
        let (servers, options) = config.connect_options()?;
        // async-nats reconnects forever by default; say so in the logs when it has to.
        let options =
            options.name("kanect").connection_timeout(config.connect_timeout).event_callback(|event| async move {
                match event {
                    async_nats::Event::Connected => tracing::info!("NATS connected"),
                    other => tracing::warn!(event = %other, "NATS connection event"),
                }
            });
        let client = tokio::time::timeout(config.connect_timeout, options.connect(servers))
            .await
            .map_err(|_| ConnectError::Unreachable(format!("no answer within {:?}", config.connect_timeout)))??;
        Ok(NatsBus {
            client,
            events: format!("{root}.events"),
            root,
            subjects: config.subjects,
            publish_timeout: config.publish_timeout,
            connect_timeout: config.connect_timeout,
            inboxes: Mutex::default(),
            listeners: Mutex::default(),
            interest: Interest::default(),
        })
    }

    /// The deployment subject: every envelope in [`Subjects::Deployment`] mode; presence,
    /// heartbeats and broadcasts in [`Subjects::PerUser`] mode.
    pub fn subject(&self) -> &str {
        &self.events
    }

    /// The subject of one user's deliveries in [`Subjects::PerUser`] mode.
    pub fn user_subject(&self, user: UserId) -> String {
        format!("{}.user.{user}", self.root)
    }

    /// How many users' subjects this bus follows now (always 0 in [`Subjects::Deployment`]
    /// mode): a gauge for monitoring.
    pub fn followed_users(&self) -> usize {
        self.interest.count()
    }

    /// Subscribes to `subject` and returns once the subscription is live on the server.
    ///
    /// `Client::flush` only writes the socket; a subscription is live for other connections'
    /// messages only once the server has read it. The server reads a connection in order, so
    /// receiving our own probe, sent after the subscription, proves it: what other nodes
    /// publish once this returns is received.
    async fn live(&self, subject: &str) -> Result<async_nats::Subscriber, StoreError> {
        let subscriber = self.client.subscribe(subject.to_string()).await.map_err(StoreError::backend)?;
        let probe_subject = self.client.new_inbox();
        let mut probe = self.client.subscribe(probe_subject.clone()).await.map_err(StoreError::backend)?;
        self.client.publish(probe_subject, Vec::new().into()).await.map_err(StoreError::backend)?;
        match tokio::time::timeout(self.connect_timeout, probe.next()).await {
            Ok(Some(_)) => Ok(subscriber),
            Ok(None) | Err(_) => Err(StoreError::backend(NatsError::ConnectTimeout)),
        }
    }

    /// Publishes one envelope on one subject.
    async fn send(&self, subject: &str, envelope: &BusEnvelope) -> Result<(), StoreError> {
        if self.client.connection_state() == State::Disconnected {
            // async-nats would queue it until its queue fills, then stall the sender.
            return Err(StoreError::backend(NatsError::Disconnected));
        }
        let payload = serde_json::to_vec(envelope).map_err(StoreError::backend)?;
        tokio::time::timeout(self.publish_timeout, self.client.publish(subject.to_string(), payload.into()))
            .await
            .map_err(|_| StoreError::backend(NatsError::PublishTimeout))?
            .map_err(StoreError::backend)
    }

    /// Starts following `user`'s subject for the engine `node`, unless it already is.
    async fn follow(&self, node: NodeId, user: UserId) -> Result<(), StoreError> {
        if !self.interest.wanted(node, user) {
            return Ok(());
        }
        let Some(inbox) = self.inboxes.lock().unwrap_or_else(|p| p.into_inner()).get(&node).cloned() else {
            return Ok(()); // not an engine attached here
        };
        let subject = self.user_subject(user);
        let subscriber = self.live(&subject).await?;
        self.interest.followed(node, user, listen(subscriber, node, inbox, subject));
        Ok(())
    }

    /// [`Subjects::PerUser`] publishing: deliveries to each recipient's subject; broadcasts,
    /// push subscriptions, presence and heartbeats to the deployment's, following users as the node's own
    /// messages show them.
    async fn publish_per_user(&self, envelope: BusEnvelope) -> Result<(), StoreError> {
        let origin = envelope.origin;
        match &envelope.message {
            BusMessage::Deliver { recipients, event } => {
                let mut result = Ok(());
                for user in recipients {
                    let message = BusMessage::Deliver { recipients: vec![*user], event: event.clone() };
                    let sent = self.send(&self.user_subject(*user), &BusEnvelope { origin, message }).await;
                    result = result.and(sent); // keep the first error, try every recipient
                }
                result
            }
            // Any node may store the next message to a user who subscribed to pushes, and may
            // have cached what changed.
            BusMessage::Broadcast { .. } | BusMessage::PushSubscribed { .. } | BusMessage::Forget { .. } => {
                self.send(&self.events, &envelope).await
            }
            BusMessage::EndSessions { user, .. } => self.send(&self.user_subject(*user), &envelope).await,
            BusMessage::Presence { user, online, .. } => {
                // Follow before announcing, so that once the device's subscribe returns, what
                // other nodes send the user reaches this node.
                let followed = if *online { self.follow(origin, *user).await } else { Ok(()) };
                self.send(&self.events, &envelope).await.and(followed)
            }
            BusMessage::Heartbeat { online, .. } => {
                let mut result = Ok(());
                for user in self.interest.heartbeat(origin, online) {
                    result = result.and(self.follow(origin, user).await);
                }
                self.send(&self.events, &envelope).await.and(result)
            }
        }
    }
}

/// Spawns the task that hands `node`'s inbox the other nodes' envelopes arriving on
/// `subscriber`. Malformed payloads are logged and skipped.
fn listen(mut subscriber: async_nats::Subscriber, node: NodeId, inbox: BusInbox, subject: String) -> AbortHandle {
    tokio::spawn(async move {
        while let Some(message) = subscriber.next().await {
            match serde_json::from_slice::<BusEnvelope>(&message.payload) {
                Ok(envelope) if envelope.origin != node => inbox.deliver(envelope),
                Ok(_) => {} // our own, echoed back
                Err(error) => {
                    let bytes = message.payload.len();
                    tracing::warn!(%error, %subject, bytes, "skipping malformed bus message");
                }
            }
        }
    })
    .abort_handle()
}

impl Drop for NatsBus {
    fn drop(&mut self) {
        for listener in self.listeners.get_mut().unwrap_or_else(|p| p.into_inner()).drain(..) {
            listener.abort();
        }
    }
}

#[async_trait]
impl Bus for NatsBus {
    async fn attach(&self, node: NodeId, inbox: BusInbox) -> Result<(), StoreError> {
        let subscriber = self.live(&self.events).await?;
        self.inboxes.lock().unwrap_or_else(|p| p.into_inner()).insert(node, inbox.clone());
        let listener = listen(subscriber, node, inbox, self.events.clone());
        self.listeners.lock().unwrap_or_else(|p| p.into_inner()).push(listener);
        Ok(())
    }

    async fn publish(&self, envelope: BusEnvelope) -> Result<(), StoreError> {
        match self.subjects {
            Subjects::Deployment => self.send(&self.events, &envelope).await,
            Subjects::PerUser => self.publish_per_user(envelope).await,
        }
    }

    async fn flush(&self) -> Result<(), StoreError> {
        match tokio::time::timeout(self.publish_timeout, self.client.flush()).await {
            Ok(flushed) => flushed.map_err(StoreError::backend),
            Err(_) => Err(StoreError::backend(NatsError::FlushTimeout)),
        }
    }

    fn has_peers(&self) -> bool {
        true
    }
}

/// The deployment's subject root, `kanect.<prefix>`.
fn root(prefix: &str) -> Result<String, ConnectError> {
    let plain = !prefix.is_empty()
        && prefix.len() <= 64
        && prefix.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if plain {
        Ok(format!("kanect.{prefix}"))
    } else {
        Err(ConnectError::Prefix(prefix.to_string()))
    }
}

/// Failures of this bus that are not async-nats's own.
#[derive(Debug)]
enum NatsError {
    ConnectTimeout,
    Disconnected,
    PublishTimeout,
    FlushTimeout,
}

impl std::fmt::Display for NatsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NatsError::ConnectTimeout => f.write_str("timed out connecting or subscribing to NATS"),
            NatsError::Disconnected => f.write_str("not connected to NATS; event dropped"),
            NatsError::PublishTimeout => f.write_str("NATS publish queue full; event dropped"),
            NatsError::FlushTimeout => f.write_str("timed out flushing to NATS; events may not have left"),
        }
    }
}

impl std::error::Error for NatsError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_are_single_plain_tokens() {
        assert_eq!(root("prod-eu_1").unwrap(), "kanect.prod-eu_1");
        for bad in ["", "a.b", "a*", ">", "a b", "é", &"x".repeat(65)] {
            assert!(matches!(root(bad), Err(ConnectError::Prefix(_))), "{bad:?}");
        }
    }

    #[tokio::test]
    async fn an_unreachable_server_is_unreachable() {
        let config = NatsConfig { connect_timeout: Duration::from_secs(2), ..NatsConfig::new("nats://127.0.0.1:1") };
        let error = NatsBus::connect_with(config).await.unwrap_err();
        assert!(matches!(error, ConnectError::Unreachable(_)), "{error:?}");
    }
}
