//! The bus to the other nodes of a cluster (NATS, `--bus`), from the server's flags.

use crate::AnyError;
use clap::Args;
use kanect::ChatBuilder;

/// A cluster's bus: without `--bus` the node is alone.
#[derive(Args, Debug)]
pub(crate) struct BusFlags {
    /// Connect to the other nodes of a cluster through NATS: `nats://host:4222` (feature
    /// `nats`). Without it the node is alone.
    #[arg(long, global = true, env = "KANECT_BUS", hide_env_values = true)]
    pub(crate) bus: Option<String>,
    /// Names the deployment on the bus: only nodes with the same prefix see each other.
    #[arg(long, global = true, env = "KANECT_BUS_PREFIX", default_value = "kanect")]
    pub(crate) bus_prefix: String,
}

#[cfg(feature = "nats")]
pub(crate) async fn nats_bus(builder: ChatBuilder, url: &str, prefix: &str) -> Result<ChatBuilder, AnyError> {
    use kanect::nats::{NatsBus, NatsConfig};
    let bus = NatsBus::connect_with(NatsConfig { prefix: prefix.to_string(), ..NatsConfig::new(url) }).await?;
    tracing::info!(subject = bus.subject(), "bus: NATS");
    Ok(builder.bus(bus))
}

#[cfg(not(feature = "nats"))]
pub(crate) async fn nats_bus(_builder: ChatBuilder, _url: &str, _prefix: &str) -> Result<ChatBuilder, AnyError> {
    Err("--bus: this build has no nats support; build with --features nats".into())
}
