//! PgStore over TLS against the real test database: each `sslmode` encrypts and checks what
//! libpq's does, and each failure names the setting. The database must have `ssl = on` with a
//! self-signed certificate for `localhost` as its `ssl_cert_file` (Debian's snakeoil one, as on
//! the project's machines): the tests fail, saying so, on a database without TLS. Whether a
//! store's sessions are encrypted is read from `pg_stat_ssl`, by the application name each test
//! gives its store. Needs `KANECT_TEST_PG`, except the checks of settings that fail before any
//! connection.
#![cfg(feature = "postgres")]

mod pg_support;

use kanect_core::StoreError;
use kanect_store::{PgConfig, PgSslMode, PgStore};
use pg_support::{raw_client, schema_name};
use std::path::PathBuf;
use std::time::Duration;

/// The test database's own certificate, which signs itself: the root a checked connection needs.
/// Fails the test, saying why, when the database has TLS off.
async fn server_certificate() -> PathBuf {
    let client = raw_client("public").await;
    let ssl: String = client.query_one("SHOW ssl", &[]).await.unwrap().get(0);
    assert_eq!(
        ssl, "on",
        "the PostgreSQL at KANECT_TEST_PG has ssl = off: these tests need ssl = on, with a self-signed \
         certificate for localhost as ssl_cert_file (Debian's snakeoil certificate does)"
    );
    let file: String = client.query_one("SHOW ssl_cert_file", &[]).await.unwrap().get(0);
    let path = PathBuf::from(file);
    assert!(path.is_file(), "the database's ssl_cert_file {} is not readable here", path.display());
    path
}

/// A URL for the test database through `host` (at its port), with `params`.
fn url_via(host: &str, params: &str) -> String {
    let pg: tokio_postgres::Config = pg_support::url().parse().unwrap();
    url_at(&format!("{host}:{}", pg.get_ports().first().copied().unwrap_or(5432)), params)
}

/// A URL for the test database's user and database at `host_port`, with `params`.
fn url_at(host_port: &str, params: &str) -> String {
    let pg: tokio_postgres::Config = pg_support::url().parse().unwrap();
    let user = pg.get_user().unwrap_or("postgres");
    let password = pg.get_password().map(|p| format!(":{}", String::from_utf8_lossy(p))).unwrap_or_default();
    let dbname = pg.get_dbname().unwrap_or(user);
    format!("postgres://{user}{password}@{host_port}/{dbname}?{params}")
}

/// An application name no other test's connections have.
fn app_name() -> String {
    format!("kanect_tls_{}", &uuid::Uuid::new_v4().simple().to_string()[..12])
}

/// Connects a store in a fresh schema with `config`'s URL and TLS settings.
async fn connect(config: PgConfig) -> Result<PgStore, StoreError> {
    let config =
        PgConfig { schema: Some(schema_name()), pool_size: 2, connect_timeout: Duration::from_secs(10), ..config };
    PgStore::connect_with(config).await
}

/// Whether each session of application `app` is encrypted.
async fn encrypted(app: &str) -> Vec<bool> {
    let client = raw_client("public").await;
    let sql = "SELECT s.ssl FROM pg_stat_ssl s JOIN pg_stat_activity a USING (pid) WHERE a.application_name = $1";
    client.query(sql, &[&app]).await.unwrap().iter().map(|row| row.get(0)).collect()
}

/// The error and its causes in one line, as the server prints them.
fn chain(error: &StoreError) -> String {
    let mut text = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    text
}

/// The failure of connecting with `config`, which must be a backend error naming `named`.
async fn refused(config: PgConfig, named: &[&str]) -> String {
    let error = connect(config).await.expect_err("the connection was made");
    let text = chain(&error);
    assert!(matches!(error, StoreError::Backend(_)), "{text}");
    for name in named {
        assert!(text.contains(name), "{name:?} is not in: {text}");
    }
    text
}

/// A PEM file of a certificate authority that signed nothing the database has.
fn other_ca(dir: &tempfile::TempDir) -> PathBuf {
    let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    params.distinguished_name.push(rcgen::DnType::CommonName, "localhost");
    let key = rcgen::KeyPair::generate().unwrap();
    let ca = params.self_signed(&key).unwrap();
    let path = dir.path().join("other-ca.pem");
    std::fs::write(&path, ca.pem()).unwrap();
    path
}

#[tokio::test]
#[cfg_attr(not(kanect_test_pg), ignore = "set KANECT_TEST_PG to run")]
async fn verify_full_with_the_servers_certificate_encrypts_every_connection() {
    let root = server_certificate().await;
    let app = app_name();
    let params = format!("sslmode=verify-full&sslrootcert={}&application_name={app}", root.display());
    let store = connect(PgConfig::new(url_via("localhost", &params))).await.unwrap();
    assert_eq!(store.schema_version().await.unwrap(), PgStore::SCHEMA_VERSION);
    let sessions = encrypted(&app).await;
    assert!(!sessions.is_empty() && sessions.iter().all(|&ssl| ssl), "{sessions:?}");
}

#[tokio::test]
#[cfg_attr(not(kanect_test_pg), ignore = "set KANECT_TEST_PG to run")]
async fn verify_full_refuses_a_certificate_that_does_not_name_the_host() {
    let root = server_certificate().await;
    let params = format!("sslmode=verify-full&sslrootcert={}", root.display());
    let text = refused(PgConfig::new(url_via("127.0.0.1", &params)), &["sslmode=verify-full", "sslrootcert="]).await;
    assert!(text.contains("not valid for name"), "{text}");
}

#[tokio::test]
#[cfg_attr(not(kanect_test_pg), ignore = "set KANECT_TEST_PG to run")]
async fn verify_ca_checks_the_chain_but_not_the_name() {
    let root = server_certificate().await;
    let app = app_name();
    let config = PgConfig {
        ssl_mode: Some(PgSslMode::VerifyCa),
        ssl_root_cert: Some(root),
        ..PgConfig::new(url_via("127.0.0.1", &format!("application_name={app}")))
    };
    let _store = connect(config).await.unwrap();
    let sessions = encrypted(&app).await;
    assert!(!sessions.is_empty() && sessions.iter().all(|&ssl| ssl), "{sessions:?}");
}

#[tokio::test]
#[cfg_attr(not(kanect_test_pg), ignore = "set KANECT_TEST_PG to run")]
async fn a_chain_another_ca_signed_is_refused_under_verify_ca_and_under_require_with_a_root() {
    server_certificate().await;
    let dir = tempfile::tempdir().unwrap();
    let other = other_ca(&dir);
    for (mode, named) in [(PgSslMode::VerifyCa, "sslmode=verify-ca"), (PgSslMode::Require, "sslmode=require")] {
        let config = PgConfig {
            ssl_mode: Some(mode),
            ssl_root_cert: Some(other.clone()),
            ..PgConfig::new(url_via("localhost", ""))
        };
        let text = refused(config, &[named, "other-ca.pem"]).await;
        assert!(text.contains("invalid peer certificate"), "{text}");
    }
}

#[tokio::test]
#[cfg_attr(not(kanect_test_pg), ignore = "set KANECT_TEST_PG to run")]
async fn require_encrypts_without_checking_the_certificate() {
    server_certificate().await;
    let app = app_name();
    // A key-value string; through 127.0.0.1, which the certificate does not name either.
    let pg: tokio_postgres::Config = pg_support::url().parse().unwrap();
    let port = pg.get_ports().first().copied().unwrap_or(5432);
    let user = pg.get_user().unwrap_or("postgres");
    let dbname = pg.get_dbname().unwrap_or(user);
    let conninfo =
        format!("host=127.0.0.1 port={port} user={user} dbname={dbname} sslmode=require application_name={app}");
    let _store = connect(PgConfig::new(conninfo)).await.unwrap();
    let sessions = encrypted(&app).await;
    assert!(!sessions.is_empty() && sessions.iter().all(|&ssl| ssl), "{sessions:?}");
}

#[tokio::test]
#[cfg_attr(not(kanect_test_pg), ignore = "set KANECT_TEST_PG to run")]
async fn disable_connects_in_the_clear_and_the_default_prefers_tls() {
    server_certificate().await;
    let clear = app_name();
    let _store = connect(PgConfig::new(url_via("127.0.0.1", &format!("sslmode=disable&application_name={clear}"))))
        .await
        .unwrap();
    let sessions = encrypted(&clear).await;
    assert!(!sessions.is_empty() && sessions.iter().all(|&ssl| !ssl), "{sessions:?}");

    let default = app_name();
    let _store = connect(PgConfig::new(url_via("127.0.0.1", &format!("application_name={default}")))).await.unwrap();
    let sessions = encrypted(&default).await;
    assert!(!sessions.is_empty() && sessions.iter().all(|&ssl| ssl), "{sessions:?}");
}

/// A relay to the test database that answers a TLS request "no", as a server (or pooler)
/// without TLS does, then relays the plain session. Returns its port.
async fn relay_without_tls() -> u16 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    /// The protocol's SSLRequest: length 8, then the request code 80877103.
    const SSL_REQUEST: [u8; 8] = [0, 0, 0, 8, 0x04, 0xd2, 0x16, 0x2f];
    let pg: tokio_postgres::Config = pg_support::url().parse().unwrap();
    let host = match &pg.get_hosts()[0] {
        tokio_postgres::config::Host::Tcp(host) => host.clone(),
        other => panic!("the relay needs a TCP host, not {other:?}"),
    };
    let target = format!("{host}:{}", pg.get_ports().first().copied().unwrap_or(5432));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    tokio::spawn(async move {
        while let Ok((mut inbound, _)) = listener.accept().await {
            let target = target.clone();
            tokio::spawn(async move {
                let mut first = [0u8; 8];
                if inbound.read_exact(&mut first).await.is_err() {
                    return;
                }
                let Ok(mut outbound) = tokio::net::TcpStream::connect(target).await else { return };
                if first == SSL_REQUEST {
                    if inbound.write_all(b"N").await.is_err() {
                        return;
                    }
                } else if outbound.write_all(&first).await.is_err() {
                    return;
                }
                let _ = tokio::io::copy_bidirectional(&mut inbound, &mut outbound).await;
            });
        }
    });
    port
}

#[tokio::test]
#[cfg_attr(not(kanect_test_pg), ignore = "set KANECT_TEST_PG to run")]
async fn a_server_without_tls_fails_require_and_is_plain_under_prefer() {
    let relay = format!("127.0.0.1:{}", relay_without_tls().await);
    let url = |params: &str| url_at(&relay, params);
    let text = refused(PgConfig::new(url("sslmode=require")), &["sslmode=require"]).await;
    assert!(text.contains("does not support TLS"), "{text}");

    let app = app_name();
    let _store = connect(PgConfig::new(url(&format!("sslmode=prefer&application_name={app}")))).await.unwrap();
    let sessions = encrypted(&app).await;
    assert!(!sessions.is_empty() && sessions.iter().all(|&ssl| !ssl), "{sessions:?}");
}

/// Settings that fail before any connection: no database needed (port 1 is never reached).
#[tokio::test]
async fn unusable_tls_settings_are_refused_naming_the_setting() {
    let dir = tempfile::tempdir().unwrap();
    let garbage = dir.path().join("garbage.pem");
    std::fs::write(&garbage, "not a certificate at all\n").unwrap();
    let key_only = dir.path().join("key.pem");
    std::fs::write(&key_only, rcgen::KeyPair::generate().unwrap().serialize_pem()).unwrap();
    let missing = dir.path().join("missing.pem");
    let unreachable = "postgres://kanect@127.0.0.1:1/kanect";
    for (path, why) in [
        (missing, "cannot be read"),
        (dir.path().to_path_buf(), "cannot be read"),
        (garbage, "holds no certificate"),
        (key_only, "holds no certificate"),
    ] {
        let config =
            PgConfig { ssl_mode: Some(PgSslMode::VerifyFull), ssl_root_cert: Some(path), ..PgConfig::new(unreachable) };
        let text = refused(config, &["sslrootcert", why]).await;
        assert!(!text.contains("cannot connect"), "tried to connect: {text}");
    }
    for (url, named) in [
        (format!("{unreachable}?sslmode=verify_full"), "\"verify_full\""),
        ("host=127.0.0.1 port=1 sslmode=require sslrootcert=system".to_string(), "sslrootcert=system needs"),
        (format!("{unreachable}?sslmode=require"), "give it in one place"),
    ] {
        let config =
            PgConfig { ssl_mode: named.contains("one place").then_some(PgSslMode::Disable), ..PgConfig::new(url) };
        let text = refused(config, &["sslmode", named]).await;
        assert!(!text.contains("cannot connect"), "tried to connect: {text}");
    }
}

/// The system's roots are a valid choice: such a store gets as far as connecting, and its
/// failure says which roots it had.
#[tokio::test]
async fn sslrootcert_system_connects_with_the_systems_roots() {
    let url = "postgres://kanect@127.0.0.1:1/kanect?sslrootcert=system";
    let config = PgConfig { connect_timeout: Duration::from_secs(2), ..PgConfig::new(url) };
    refused(config, &["cannot connect", "(sslmode=verify-full, the system's root certificates)"]).await;
}
