//! The `kanect` binary (with its `postgres` feature) on PostgreSQL over TLS, checked as an
//! operator would set it up: `sslmode=verify-full` and `sslrootcert` in the `--store` URL, and
//! the same through `--store-ssl-mode` and `--store-ssl-root-cert`, which refuse a host the
//! certificate does not name.
//!
//! Needs `KANECT_TEST_PG` (a database URL through 127.0.0.1 or localhost) whose server has
//! `ssl = on` with Debian's snakeoil certificate (for `localhost`), as on the project's
//! machines; ignored without `KANECT_TEST_PG`. Each run uses a fresh schema named like the
//! kanect-store tests' (`kanect_test_<unix seconds>_<random>`), which their clean-up drops once
//! it is an hour old.

mod support;

use std::time::{SystemTime, UNIX_EPOCH};
use support::binary::{exit_on, server_binary, start_process};
use support::*;

/// The certificate the test database serves, self-signed for `localhost`.
const SNAKEOIL: &str = "/etc/ssl/certs/ssl-cert-snakeoil.pem";

/// `KANECT_TEST_PG` through `host` instead of its own host (same port, user and database).
fn test_pg_via(host: &str) -> String {
    let url = std::env::var("KANECT_TEST_PG").expect("KANECT_TEST_PG names a database");
    let (scheme, rest) = url.split_once("://").expect("KANECT_TEST_PG is a postgres:// URL");
    let (credentials, rest) = rest.split_once('@').map_or(("", rest), |(c, r)| (c, r));
    let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
    let port = authority.rsplit_once(':').map_or("5432", |(_, port)| port);
    let at = if credentials.is_empty() { "" } else { "@" };
    format!("{scheme}://{credentials}{at}{host}:{port}/{path}")
}

fn fresh_schema() -> String {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default();
    format!("kanect_test_{}_{:08x}{:04x}", now.as_secs(), now.subsec_nanos(), std::process::id() & 0xffff)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(not(kanect_test_pg), ignore = "set KANECT_TEST_PG to run")]
async fn the_binary_serves_on_postgres_over_verified_tls() {
    assert!(
        std::path::Path::new(SNAKEOIL).is_file(),
        "{SNAKEOIL} is missing: the test database must serve Debian's snakeoil certificate with ssl = on"
    );
    let binary = server_binary();
    let url = format!("{}?sslmode=verify-full&sslrootcert={SNAKEOIL}", test_pg_via("localhost"));
    let schema = fresh_schema();
    let server = start_process(&binary, ["--store", url.as_str(), "--store-schema", schema.as_str()], &[]);
    let health = request(server.addr, "GET", "/health", None, None).await;
    assert_eq!(health.status, 200, "{:?}", String::from_utf8_lossy(&health.body));
    let alice = signup(server.addr, "alice").await;
    let me = request(server.addr, "GET", "/api/v1/me", Some(&alice.token), None).await;
    assert_eq!(me.status, 200);
    assert_eq!(me.json()["username"], "alice");
    drop(server);

    // The flags, through a name the certificate does not have: the start fails, saying why.
    let url = test_pg_via("127.0.0.1");
    let args = ["--store", url.as_str(), "--store-schema", schema.as_str(), "--store-ssl-mode", "verify-full"];
    let (code, stderr) = exit_on(&binary, &[&args[..], &["--store-ssl-root-cert", SNAKEOIL]].concat(), &[]);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("sslmode=verify-full") && stderr.contains("not valid for name"), "{stderr}");

    // A mode that is not libpq's is refused by the flag's parser, naming the flag.
    let (code, stderr) = exit_on(&binary, &["--store", url.as_str(), "--store-ssl-mode", "verify"], &[]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("--store-ssl-mode") && stderr.contains("verify-full"), "{stderr}");
}
