//! [`NatsBus`]: engine events between nodes over one NATS subject per deployment.
//!
//! Publishing encodes the envelope once and hands it to async-nats, which writes it from its
//! own connection task; `publish` returns without waiting for the network. Each
//! [`attach`](Bus::attach) subscribes and spawns a listener task that decodes envelopes and
//! passes other nodes' ones to the engine's inbox (which only enqueues, so a slow device never
//! slows the listener). Dropping the bus stops its listeners.

use async_nats::connection::State;
use async_trait::async_trait;
use futures_util::StreamExt;
use kanect_core::{Bus, BusEnvelope, BusInbox, NodeId, StoreError};
use std::sync::Mutex;
use std::time::Duration;
use tokio::task::AbortHandle;

/// How to reach NATS and which deployment to join.
#[derive(Clone, Debug)]
pub struct NatsConfig {
    /// Server address(es), e.g. `nats://127.0.0.1:4222` (credentials may go in the URL).
    pub url: String,
    /// Names the deployment: nodes with the same prefix (on the same NATS) exchange events,
    /// others are invisible to them. Letters, digits, `-` and `_`. Default `"default"`.
    pub prefix: String,
    /// How long connecting may take before failing. Default 10 s.
    pub connect_timeout: Duration,
    /// How long a publish may wait for room in async-nats's outgoing queue (full only while
    /// NATS is slow or unreachable) before the event is dropped. Default 1 s.
    pub publish_timeout: Duration,
}

impl NatsConfig {
    /// The defaults for `url`.
    pub fn new(url: impl Into<String>) -> Self {
        NatsConfig {
            url: url.into(),
            prefix: "default".to_string(),
            connect_timeout: Duration::from_secs(10),
            publish_timeout: Duration::from_secs(1),
        }
    }
}

/// A [`Bus`] over NATS. Give each engine its own (or share one: an engine skips its own
/// envelopes either way).
///
/// # Errors
/// Methods fail with [`StoreError::Backend`]: connecting when the server cannot be reached,
/// publishing while disconnected (the event is dropped; see the crate docs).
pub struct NatsBus {
    client: async_nats::Client,
    subject: String,
    publish_timeout: Duration,
    /// Bounds [`NatsBus::round_trip`] as it bounds connecting.
    connect_timeout: Duration,
    /// The listener tasks of attached engines, stopped when the bus is dropped: a bus that
    /// outlives nobody should not keep a subscription (and its traffic) alive.
    listeners: Mutex<Vec<AbortHandle>>,
}

impl std::fmt::Debug for NatsBus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("NatsBus").field("subject", &self.subject).finish_non_exhaustive()
    }
}

impl NatsBus {
    /// Connects with [`NatsConfig::new`]`(url)` defaults (prefix `"default"`).
    ///
    /// # Errors
    /// As [`NatsBus::connect_with`].
    pub async fn connect(url: &str) -> Result<NatsBus, StoreError> {
        Self::connect_with(NatsConfig::new(url)).await
    }

    /// Connects to NATS.
    ///
    /// # Errors
    /// [`StoreError::Backend`] for a prefix that is not a plain token, or when the server
    /// cannot be reached within [`NatsConfig::connect_timeout`].
    pub async fn connect_with(config: NatsConfig) -> Result<NatsBus, StoreError> {
        let subject = subject(&config.prefix)?;
        let options = async_nats::ConnectOptions::new().name("kanect").connection_timeout(config.connect_timeout);
        let client = tokio::time::timeout(config.connect_timeout, options.connect(config.url.as_str()))
            .await
            .map_err(|_| StoreError::backend(NatsError::ConnectTimeout))?
            .map_err(StoreError::backend)?;
        Ok(NatsBus {
            client,
            subject,
            publish_timeout: config.publish_timeout,
            connect_timeout: config.connect_timeout,
            listeners: Mutex::default(),
        })
    }

    /// The subject this bus publishes and listens on.
    pub fn subject(&self) -> &str {
        &self.subject
    }

    /// Returns once the server has processed everything this connection sent so far.
    ///
    /// `Client::flush` only writes the socket; a subscription is live for other connections'
    /// messages only once the server has read it. The server reads a connection in order, so
    /// receiving our own probe, sent after the subscription, proves it is live: what other
    /// nodes publish once `attach` returns is received.
    async fn round_trip(&self) -> Result<(), StoreError> {
        let inbox = self.client.new_inbox();
        let mut probe = self.client.subscribe(inbox.clone()).await.map_err(StoreError::backend)?;
        self.client.publish(inbox, Vec::new().into()).await.map_err(StoreError::backend)?;
        match tokio::time::timeout(self.connect_timeout, probe.next()).await {
            Ok(Some(_)) => Ok(()),
            Ok(None) | Err(_) => Err(StoreError::backend(NatsError::ConnectTimeout)),
        }
    }
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
        let mut subscriber = self.client.subscribe(self.subject.clone()).await.map_err(StoreError::backend)?;
        self.round_trip().await?;
        let subject = self.subject.clone();
        let listener = tokio::spawn(async move {
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
        });
        self.listeners.lock().unwrap_or_else(|p| p.into_inner()).push(listener.abort_handle());
        Ok(())
    }

    async fn publish(&self, envelope: BusEnvelope) -> Result<(), StoreError> {
        if self.client.connection_state() == State::Disconnected {
            // async-nats would queue it until its queue fills, then stall the sender.
            return Err(StoreError::backend(NatsError::Disconnected));
        }
        let payload = serde_json::to_vec(&envelope).map_err(StoreError::backend)?;
        tokio::time::timeout(self.publish_timeout, self.client.publish(self.subject.clone(), payload.into()))
            .await
            .map_err(|_| StoreError::backend(NatsError::PublishTimeout))?
            .map_err(StoreError::backend)
    }

    fn has_peers(&self) -> bool {
        true
    }
}

/// The deployment's subject, `kanect.<prefix>.events`.
fn subject(prefix: &str) -> Result<String, StoreError> {
    let plain = !prefix.is_empty()
        && prefix.len() <= 64
        && prefix.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if plain {
        Ok(format!("kanect.{prefix}.events"))
    } else {
        Err(StoreError::backend(NatsError::Prefix(prefix.to_string())))
    }
}

/// Failures of this bus that are not async-nats's own.
#[derive(Debug)]
enum NatsError {
    Prefix(String),
    ConnectTimeout,
    Disconnected,
    PublishTimeout,
}

impl std::fmt::Display for NatsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            NatsError::Prefix(prefix) => {
                write!(f, "NATS prefix {prefix:?} must be 1-64 letters, digits, '-' or '_'")
            }
            NatsError::ConnectTimeout => f.write_str("timed out connecting or subscribing to NATS"),
            NatsError::Disconnected => f.write_str("not connected to NATS; event dropped"),
            NatsError::PublishTimeout => f.write_str("NATS publish queue full; event dropped"),
        }
    }
}

impl std::error::Error for NatsError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes_are_single_plain_tokens() {
        assert_eq!(subject("prod-eu_1").unwrap(), "kanect.prod-eu_1.events");
        for bad in ["", "a.b", "a*", ">", "a b", "é", &"x".repeat(65)] {
            assert!(matches!(subject(bad), Err(StoreError::Backend(_))), "{bad:?}");
        }
    }

    #[tokio::test]
    async fn an_unreachable_server_is_a_backend_error() {
        let config = NatsConfig { connect_timeout: Duration::from_secs(2), ..NatsConfig::new("nats://127.0.0.1:1") };
        let error = NatsBus::connect_with(config).await.unwrap_err();
        assert!(matches!(error, StoreError::Backend(_)), "{error:?}");
    }
}
