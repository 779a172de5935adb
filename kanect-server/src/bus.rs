//! The bus to the other nodes of a cluster (NATS, `--bus`), from the server's flags: the
//! servers, the deployment's prefix, and how to authenticate (a user and password or a token
//! in the URL, `--bus-credentials`, `--bus-nkey`) and secure the connection (`tls://`,
//! `--bus-ca-file`, `--bus-client-cert` and `--bus-client-key`). A bus that refuses the node
//! stops the start, naming the flag to fix.

use crate::AnyError;
use clap::Args;
use kanect::ChatBuilder;
use std::path::PathBuf;

/// A cluster's bus: without `--bus` the node is alone.
#[derive(Args, Debug)]
pub(crate) struct BusFlags {
    /// Connect to the other nodes of a cluster through NATS (feature `nats`):
    /// `nats://host:4222`, `tls://host:4222` for TLS, several separated by commas. A user and
    /// password (`nats://USER:PASSWORD@host`, percent-encoded) or a token
    /// (`nats://TOKEN@host`) may go in it. Without it the node is alone.
    #[arg(long, global = true, env = "KANECT_BUS", hide_env_values = true)]
    pub(crate) bus: Option<String>,
    /// Names the deployment on the bus: only nodes with the same prefix see each other.
    #[arg(long, global = true, env = "KANECT_BUS_PREFIX", default_value = "kanect")]
    pub(crate) bus_prefix: String,
    /// A NATS `.creds` file (a user's JWT and nkey seed, as `nsc` writes them), for a NATS
    /// server in operator mode.
    #[arg(long, global = true, env = "KANECT_BUS_CREDENTIALS", value_name = "FILE")]
    pub(crate) bus_credentials: Option<PathBuf>,
    /// A file holding a NATS user's nkey seed (`SU...`), for a NATS server that lists the
    /// user's public nkey.
    #[arg(long, global = true, env = "KANECT_BUS_NKEY", value_name = "FILE")]
    pub(crate) bus_nkey: Option<PathBuf>,
    /// A PEM file of the CA certificate(s) that signed the NATS server's certificate, trusted
    /// instead of the system's roots. Implies TLS.
    #[arg(long, global = true, env = "KANECT_BUS_CA_FILE", value_name = "FILE")]
    pub(crate) bus_ca_file: Option<PathBuf>,
    /// A PEM client certificate for a NATS server that verifies its clients (mutual TLS).
    /// Implies TLS; needs --bus-client-key.
    #[arg(long, global = true, env = "KANECT_BUS_CLIENT_CERT", value_name = "FILE")]
    pub(crate) bus_client_cert: Option<PathBuf>,
    /// The private key (PEM) of --bus-client-cert.
    #[arg(long, global = true, env = "KANECT_BUS_CLIENT_KEY", value_name = "FILE")]
    pub(crate) bus_client_key: Option<PathBuf>,
}

#[cfg(feature = "nats")]
pub(crate) async fn nats_bus(builder: ChatBuilder, url: &str, flags: &BusFlags) -> Result<ChatBuilder, AnyError> {
    use kanect::nats::{ConnectError, FileRole, NatsBus, NatsConfig};
    let config = NatsConfig {
        prefix: flags.bus_prefix.clone(),
        credentials_file: flags.bus_credentials.clone(),
        nkey_file: flags.bus_nkey.clone(),
        ca_file: flags.bus_ca_file.clone(),
        client_cert: flags.bus_client_cert.clone(),
        client_key: flags.bus_client_key.clone(),
        ..NatsConfig::new(url)
    };
    let bus = NatsBus::connect_with(config).await.map_err(|error| match &error {
        ConnectError::File { role, .. } => {
            let flag = match role {
                FileRole::Credentials => "--bus-credentials",
                FileRole::Nkey => "--bus-nkey",
                FileRole::CaFile => "--bus-ca-file",
                FileRole::ClientCert => "--bus-client-cert",
                _ => "--bus-client-key",
            };
            format!("{flag}: {error}")
        }
        ConnectError::Prefix(_) => format!("--bus-prefix: {error}"),
        ConnectError::Credentials(_) => {
            format!("--bus: {error} (the URL's user and password or token, --bus-credentials or --bus-nkey)")
        }
        ConnectError::Tls(_) => format!(
            "--bus: {error} (does --bus-ca-file hold the CA that signed the server's certificate, for this host? \
             does the server want --bus-client-cert? does it speak TLS?)"
        ),
        _ => format!("--bus: {error}"),
    })?;
    tracing::info!(subject = bus.subject(), "bus: NATS");
    Ok(builder.bus(bus))
}

#[cfg(not(feature = "nats"))]
pub(crate) async fn nats_bus(_builder: ChatBuilder, _url: &str, _flags: &BusFlags) -> Result<ChatBuilder, AnyError> {
    Err("--bus: this build has no nats support; build with --features nats".into())
}
