//! Authentication and TLS against real `nats-server`s, each started by its test with the
//! configuration it tests: a user and password or a token in the URL, an nkey seed file, a
//! `.creds` file for a server in operator mode (JWTs made here with nkeys), TLS with a private
//! CA, and mutual TLS. With the right settings two buses exchange an event; with wrong ones
//! connecting fails in bounded time, with the [`ConnectError`] kind that names what to fix.
//!
//! Gated on `KANECT_TEST_NATS` like the other NATS tests, since a machine that runs them has
//! the server installed.

mod support;

use kanect_nats::{ConnectError, FileRole, NatsConfig};
use std::path::PathBuf;
use support::{exchange, refusal, NatsServer, Operator, Pki};

fn config(url: &str) -> NatsConfig {
    NatsConfig { prefix: "security".into(), ..NatsConfig::new(url) }
}

/// The role of the file a [`ConnectError::File`] names, and panics on any other error.
fn file_role(error: ConnectError) -> FileRole {
    match error {
        ConnectError::File { role, .. } => role,
        other => panic!("expected an error about a file, got {other:?}"),
    }
}

fn credentials_refused(error: ConnectError) {
    assert!(matches!(error, ConnectError::Credentials(_)), "expected refused credentials, got {error:?}");
}

fn tls_failed(error: ConnectError) {
    assert!(matches!(error, ConnectError::Tls(_)), "expected a TLS failure, got {error:?}");
}

#[tokio::test]
#[cfg_attr(not(kanect_test_nats), ignore = "set KANECT_TEST_NATS to run")]
async fn a_user_and_password_in_the_url_log_in() {
    let server = NatsServer::start("authorization { user: \"al@ice\", password: \"p:ss w\" }");
    let port = server.port;
    exchange(|| config(&format!("nats://al%40ice:p%3Ass%20w@127.0.0.1:{port}"))).await;

    credentials_refused(refusal(config(&format!("nats://al%40ice:wrong@127.0.0.1:{port}"))).await);
    credentials_refused(refusal(config(&server.url("nats"))).await);
}

#[tokio::test]
#[cfg_attr(not(kanect_test_nats), ignore = "set KANECT_TEST_NATS to run")]
async fn a_token_in_the_url_logs_in() {
    let server = NatsServer::start("authorization { token: \"s3cret\" }");
    let port = server.port;
    exchange(|| config(&format!("nats://s3cret@127.0.0.1:{port}"))).await;

    credentials_refused(refusal(config(&format!("nats://wrong@127.0.0.1:{port}"))).await);
    credentials_refused(refusal(config(&server.url("nats"))).await);
}

#[tokio::test]
#[cfg_attr(not(kanect_test_nats), ignore = "set KANECT_TEST_NATS to run")]
async fn an_nkey_seed_file_logs_in() {
    let user = nkeys::KeyPair::new_user();
    let server = NatsServer::start(&format!("authorization {{ users = [ {{ nkey: {} }} ] }}", user.public_key()));
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, text: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path
    };
    // As `nsc` and `nk` write it: the seed and a newline.
    let seed = write("user.nk", &format!("{}\n", user.seed().unwrap()));
    let url = server.url("nats");
    exchange(|| NatsConfig { nkey_file: Some(seed.clone()), ..config(&url) }).await;

    let stranger = write("stranger.nk", &nkeys::KeyPair::new_user().seed().unwrap());
    credentials_refused(refusal(NatsConfig { nkey_file: Some(stranger), ..config(&url) }).await);
    credentials_refused(refusal(config(&url)).await);

    let account = write("account.nk", &nkeys::KeyPair::new_account().seed().unwrap());
    let public_key = write("public.nk", &user.public_key());
    let garbage = write("garbage.nk", "SUnot-a-seed");
    for bad in [account, public_key, garbage, dir.path().join("missing.nk")] {
        let error = refusal(NatsConfig { nkey_file: Some(bad.clone()), ..config(&url) }).await;
        assert!(error.to_string().contains(&bad.display().to_string()), "{error}");
        assert_eq!(file_role(error), FileRole::Nkey, "{bad:?}");
    }
}

#[tokio::test]
#[cfg_attr(not(kanect_test_nats), ignore = "set KANECT_TEST_NATS to run")]
async fn a_creds_file_logs_in_to_a_server_in_operator_mode() {
    let dir = tempfile::tempdir().unwrap();
    let operator = Operator::new();
    let server = NatsServer::start(&operator.server_config(dir.path()));
    let url = server.url("nats");
    let creds = operator.creds(&dir.path().join("node.creds"));
    exchange(|| NatsConfig { credentials_file: Some(creds.clone()), ..config(&url) }).await;

    // A user of an account the server does not know, and no credentials at all.
    let foreign = support::user_creds(&nkeys::KeyPair::new_account(), &dir.path().join("foreign.creds"));
    credentials_refused(refusal(NatsConfig { credentials_file: Some(foreign), ..config(&url) }).await);
    credentials_refused(refusal(config(&url)).await);

    let garbage = dir.path().join("garbage.creds");
    std::fs::write(&garbage, "not a credentials file\n").unwrap();
    for bad in [garbage, dir.path().join("missing.creds")] {
        let error = refusal(NatsConfig { credentials_file: Some(bad.clone()), ..config(&url) }).await;
        assert_eq!(file_role(error), FileRole::Credentials, "{bad:?}");
    }
}

#[tokio::test]
#[cfg_attr(not(kanect_test_nats), ignore = "set KANECT_TEST_NATS to run")]
async fn tls_trusts_the_ca_file_and_nothing_else() {
    let pki = Pki::new();
    let server = NatsServer::start(&pki.server_tls(false));
    let ca = pki.path("ca.pem");
    // `tls://` insists on TLS; with `nats://` the server's INFO asks for it.
    for scheme in ["tls", "nats"] {
        let url = server.url(scheme);
        exchange(|| NatsConfig { ca_file: Some(ca.clone()), ..config(&url) }).await;
    }

    let url = server.url("tls");
    let other = Pki::new();
    tls_failed(refusal(NatsConfig { ca_file: Some(other.path("ca.pem")), ..config(&url) }).await);
    // Without a CA file the system's roots, which do not know the test's CA.
    tls_failed(refusal(config(&url)).await);

    let not_pem = pki.write("not-pem.pem", "just some text\n");
    let broken = pki.write("broken.pem", "-----BEGIN CERTIFICATE-----\nMIIB\n");
    let a_key = pki.path("server.key");
    for bad in [not_pem, broken, a_key, pki.path("missing.pem")] {
        let error = refusal(NatsConfig { ca_file: Some(bad.clone()), ..config(&url) }).await;
        assert_eq!(file_role(error), FileRole::CaFile, "{bad:?}");
    }
}

#[tokio::test]
#[cfg_attr(not(kanect_test_nats), ignore = "set KANECT_TEST_NATS to run")]
async fn a_ca_file_insists_on_tls() {
    let pki = Pki::new();
    let plain = NatsServer::start("");
    let url = plain.url("nats");
    tls_failed(refusal(NatsConfig { ca_file: Some(pki.path("ca.pem")), ..config(&url) }).await);
    tls_failed(refusal(NatsConfig { require_tls: true, ..config(&url) }).await);
    exchange(|| config(&url)).await;
}

#[tokio::test]
#[cfg_attr(not(kanect_test_nats), ignore = "set KANECT_TEST_NATS to run")]
async fn mutual_tls_presents_the_client_certificate() {
    let pki = Pki::new();
    let server = NatsServer::start(&pki.server_tls(true));
    let url = server.url("tls");
    let mutual = |cert: PathBuf, key: PathBuf| NatsConfig {
        ca_file: Some(pki.path("ca.pem")),
        client_cert: Some(cert),
        client_key: Some(key),
        ..config(&url)
    };
    exchange(|| mutual(pki.path("client.pem"), pki.path("client.key"))).await;

    // No client certificate, or one another CA signed.
    tls_failed(refusal(NatsConfig { ca_file: Some(pki.path("ca.pem")), ..config(&url) }).await);
    let stranger = Pki::new();
    tls_failed(refusal(mutual(stranger.path("client.pem"), stranger.path("client.key"))).await);

    // A key that is not the certificate's, a key file without a key, a certificate file
    // without a certificate.
    let error = refusal(mutual(pki.path("client.pem"), stranger.path("client.key"))).await;
    assert_eq!(file_role(error), FileRole::ClientKey);
    let error = refusal(mutual(pki.path("client.pem"), pki.path("client.pem"))).await;
    assert_eq!(file_role(error), FileRole::ClientKey);
    let error = refusal(mutual(pki.path("client.key"), pki.path("client.key"))).await;
    assert_eq!(file_role(error), FileRole::ClientCert);
}
