//! What the tests that run their own NATS need: a `nats-server` process (from `PATH` or
//! `/usr/sbin`) with a configuration the test writes, on a free port of 127.0.0.1, stopped when
//! dropped; certificates made with rcgen; and NATS's operator-mode JWTs, signed with nkeys.
#![allow(dead_code, unreachable_pub)] // each test file uses a different part of this module

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use kanect_core::{Bus, BusEnvelope, BusInbox, BusMessage, NodeId, UserId};
use kanect_nats::{ConnectError, NatsBus, NatsConfig};
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair};
use std::io::Read;
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A `nats-server` child process, killed when dropped.
pub struct NatsServer {
    child: Child,
    /// The port it listens on, on 127.0.0.1.
    pub port: u16,
    /// Holds its configuration and log.
    dir: tempfile::TempDir,
}

impl NatsServer {
    /// A server on a free port with `config` (nats-server's configuration syntax).
    pub fn start(config: &str) -> NatsServer {
        NatsServer::start_on(free_port(), config)
    }

    /// A server on `port` with `config`; panics with its log if it does not listen within 10 s.
    pub fn start_on(port: u16, config: &str) -> NatsServer {
        let binary = ["nats-server", "/usr/sbin/nats-server", "/usr/local/bin/nats-server"]
            .into_iter()
            .find(|path| Command::new(path).arg("--version").stdout(Stdio::null()).status().is_ok())
            .expect("nats-server is installed");
        let dir = tempfile::tempdir().expect("a temporary directory");
        let config_file = dir.path().join("nats.conf");
        std::fs::write(&config_file, config).expect("write nats.conf");
        let log = std::fs::File::create(dir.path().join("nats.log")).expect("nats.log");
        let mut child = Command::new(binary)
            .arg("-c")
            .arg(&config_file)
            .args(["-a", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("nats-server starts");
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect((Ipv4Addr::LOCALHOST, port)).is_err() {
            let exited = child.try_wait().expect("wait for nats-server").is_some();
            if exited || Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                let mut text = String::new();
                let _ = std::fs::File::open(dir.path().join("nats.log")).and_then(|mut f| f.read_to_string(&mut text));
                panic!("nats-server did not listen on {port}:\n{config}\n{text}");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        NatsServer { child, port, dir }
    }

    /// `scheme://127.0.0.1:<port>`.
    pub fn url(&self, scheme: &str) -> String {
        format!("{scheme}://127.0.0.1:{}", self.port)
    }
}

impl Drop for NatsServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A port nothing listens on now.
pub fn free_port() -> u16 {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind port 0");
    listener.local_addr().expect("bound address").port()
}

/// A heartbeat envelope: the smallest event a bus carries.
pub fn heartbeat(origin: NodeId) -> BusEnvelope {
    BusEnvelope { origin, message: BusMessage::Heartbeat { online: vec![UserId::new()], idle: vec![] } }
}

/// Two buses made with `config` exchange an event: the settings work end to end.
pub async fn exchange(config: impl Fn() -> NatsConfig) {
    let within = Duration::from_secs(15);
    let sender = tokio::time::timeout(within, NatsBus::connect_with(config())).await.expect("connects in time");
    let sender = sender.expect("the sender connects");
    let receiver = NatsBus::connect_with(config()).await.expect("the receiver connects");
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    receiver.attach(NodeId::new(), BusInbox::new(move |envelope| drop(tx.send(envelope)))).await.unwrap();
    let sent = heartbeat(NodeId::new());
    sender.publish(sent.clone()).await.unwrap();
    let received = tokio::time::timeout(within, rx.recv()).await.expect("the event arrives in time");
    assert_eq!(received, Some(sent));
}

/// Why connecting with `config` fails, which it must within 15 s.
pub async fn refusal(config: NatsConfig) -> ConnectError {
    let config = NatsConfig { connect_timeout: Duration::from_secs(5), ..config };
    let attempt = tokio::time::timeout(Duration::from_secs(15), NatsBus::connect_with(config)).await;
    attempt.expect("refused in time").expect_err("connecting must fail")
}

/// A certificate authority, and the certificates and keys it signed, as PEM files in a
/// temporary directory: `ca.pem`, `server.pem` + `server.key` (for 127.0.0.1 and localhost),
/// `client.pem` + `client.key`.
pub struct Pki {
    pub dir: tempfile::TempDir,
}

impl Pki {
    /// A new CA (its own key, so each `Pki` trusts only its own certificates).
    pub fn new() -> Pki {
        let mut ca = CertificateParams::new(Vec::<String>::new()).expect("CA parameters");
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca.distinguished_name.push(DnType::CommonName, "kanect-nats test CA");
        let ca = CertifiedIssuer::self_signed(ca, KeyPair::generate().expect("CA key")).expect("the CA");
        let pki = Pki { dir: tempfile::tempdir().expect("a temporary directory") };
        pki.write("ca.pem", &ca.pem());
        for (name, mut params) in [
            ("server", CertificateParams::new(vec!["127.0.0.1".into(), "localhost".into()]).expect("server")),
            ("client", CertificateParams::new(vec!["kanect-node".into()]).expect("client")),
        ] {
            if name == "client" {
                params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
            }
            let key = KeyPair::generate().expect("a key");
            let certificate = params.signed_by(&key, &ca).expect("a certificate");
            pki.write(&format!("{name}.pem"), &certificate.pem());
            pki.write(&format!("{name}.key"), &key.serialize_pem());
        }
        pki
    }

    /// The path of one of its files.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// Writes a file of it (or a broken one a test makes).
    pub fn write(&self, name: &str, contents: &str) -> PathBuf {
        let path = self.path(name);
        std::fs::write(&path, contents).expect("write a PEM file");
        path
    }

    /// nats-server's `tls { }` block with this CA's server certificate; `verify` makes it ask
    /// clients for a certificate this CA signed.
    pub fn server_tls(&self, verify: bool) -> String {
        format!(
            "tls {{\n  cert_file: {:?}\n  key_file: {:?}\n  ca_file: {:?}\n  verify: {verify}\n  timeout: 5\n}}\n",
            self.path("server.pem"),
            self.path("server.key"),
            self.path("ca.pem"),
        )
    }
}

/// A NATS JWT (`alg: ed25519-nkey`) with `claims` for `subject`, signed by `issuer`.
pub fn jwt(issuer: &nkeys::KeyPair, subject: &str, nats: serde_json::Value) -> String {
    let header = URL_SAFE_NO_PAD.encode(r#"{"typ":"JWT","alg":"ed25519-nkey"}"#);
    let claims = serde_json::json!({
        "jti": uuid::Uuid::new_v4().simple().to_string(),
        "iat": std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs(),
        "iss": issuer.public_key(),
        "name": subject,
        "sub": subject,
        "nats": nats,
    });
    let signed = format!("{header}.{}", URL_SAFE_NO_PAD.encode(claims.to_string()));
    let signature = issuer.sign(signed.as_bytes()).expect("sign the JWT");
    format!("{signed}.{}", URL_SAFE_NO_PAD.encode(signature))
}

/// An operator and one account, as a server in operator mode with a memory resolver knows
/// them; [`Operator::creds`] makes a user of the account.
pub struct Operator {
    operator: nkeys::KeyPair,
    account: nkeys::KeyPair,
}

impl Operator {
    pub fn new() -> Operator {
        Operator { operator: nkeys::KeyPair::new_operator(), account: nkeys::KeyPair::new_account() }
    }

    /// The server's configuration: the operator's JWT (written into `dir`) and the account's
    /// preloaded.
    pub fn server_config(&self, dir: &Path) -> String {
        let operator_jwt = dir.join("operator.jwt");
        let claims = serde_json::json!({"type": "operator", "version": 2});
        std::fs::write(&operator_jwt, jwt(&self.operator, &self.operator.public_key(), claims)).unwrap();
        let unlimited = serde_json::json!({
            "subs": -1, "data": -1, "payload": -1, "imports": -1, "exports": -1,
            "wildcards": true, "conn": -1, "leaf": -1,
        });
        let claims = serde_json::json!({"limits": unlimited, "type": "account", "version": 2});
        let account_jwt = jwt(&self.operator, &self.account.public_key(), claims);
        format!(
            "operator: {operator_jwt:?}\nresolver: MEMORY\nresolver_preload: {{\n  {}: {account_jwt:?}\n}}\n",
            self.account.public_key()
        )
    }

    /// A `.creds` file for a new user of the account, written as `path`.
    pub fn creds(&self, path: &Path) -> PathBuf {
        user_creds(&self.account, path)
    }
}

/// A `.creds` file for a new user that `account` signed, in the layout `nsc` writes.
pub fn user_creds(account: &nkeys::KeyPair, path: &Path) -> PathBuf {
    let user = nkeys::KeyPair::new_user();
    let claims = serde_json::json!({
        "pub": {}, "sub": {}, "subs": -1, "data": -1, "payload": -1, "type": "user", "version": 2,
    });
    let jwt = jwt(account, &user.public_key(), claims);
    let seed = user.seed().expect("the user's seed");
    let text = format!(
        "-----BEGIN NATS USER JWT-----\n{jwt}\n------END NATS USER JWT------\n\n\
         ************************* IMPORTANT *************************\n\
         NKEY Seed printed below can be used to sign and prove identity.\n\
         NKEYs are sensitive and should be treated as secrets.\n\n\
         -----BEGIN USER NKEY SEED-----\n{seed}\n------END USER NKEY SEED------\n\n\
         *************************************************************\n"
    );
    std::fs::write(path, text).expect("write the .creds file");
    path.to_path_buf()
}
