//! The server binary on a NATS that requires TLS with a private CA (`--bus tls://…`,
//! `--bus-ca-file`): it joins the bus and serves; with another CA's certificate, a CA file that
//! is not one or a missing seed file it refuses to start, naming the flag to fix.
//!
//! Starts its own `nats-server` (from `PATH` or `/usr/sbin`) with the test's certificates, so
//! it needs no shared NATS; gated on `KANECT_TEST_NATS` like the other NATS tests, since a
//! machine that runs them has the server installed.

mod support;

use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use support::binary::{exit_of, server_binary, start_process};
use support::certs::{CertFiles, TestCertificates};
use support::request;

/// A `nats-server` requiring TLS with the certificate in `files`, killed when dropped.
struct TlsNats {
    child: Child,
    port: u16,
}

impl TlsNats {
    fn start(files: &CertFiles) -> TlsNats {
        let port =
            TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).and_then(|l| l.local_addr()).expect("a free port").port();
        let config = files.dir.path().join("nats.conf");
        let tls = format!("tls {{\n  cert_file: {:?}\n  key_file: {:?}\n}}\n", files.cert(), files.key());
        std::fs::write(&config, tls).expect("nats.conf");
        let binary = ["nats-server", "/usr/sbin/nats-server", "/usr/local/bin/nats-server"]
            .into_iter()
            .find(|path| Command::new(path).arg("--version").stdout(Stdio::null()).status().is_ok())
            .expect("nats-server is installed");
        let child = Command::new(binary)
            .arg("-c")
            .arg(&config)
            .args(["-a", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("nats-server starts");
        let nats = TlsNats { child, port };
        let deadline = Instant::now() + Duration::from_secs(10);
        while TcpStream::connect((Ipv4Addr::LOCALHOST, port)).is_err() {
            assert!(Instant::now() < deadline, "nats-server did not listen on {port}");
            std::thread::sleep(Duration::from_millis(20));
        }
        nats
    }
}

impl Drop for TlsNats {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(not(kanect_test_nats), ignore = "set KANECT_TEST_NATS to run")]
async fn the_binary_joins_nats_over_tls_and_refuses_a_certificate_it_cannot_verify() {
    let binary = server_binary();
    let files = CertFiles::new(&TestCertificates::new());
    let nats = TlsNats::start(&files);
    let url = format!("tls://127.0.0.1:{}", nats.port);
    let ca = files.dir.path().join("ca.pem").display().to_string();

    let server = start_process(&binary, ["--memory", "--bus", &url, "--bus-ca-file", &ca], &[]);
    assert_eq!(request(server.addr, "GET", "/health", None, None).await.status, 200);
    drop(server);

    let other = CertFiles::new(&TestCertificates::new());
    let other_ca = other.dir.path().join("ca.pem").display().to_string();
    let (code, stderr) = exit_of(&binary, &["--bus", &url, "--bus-ca-file", &other_ca], &[]);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("--bus:") && stderr.contains("TLS") && stderr.contains("--bus-ca-file"), "{stderr}");

    // The server's key is no CA certificate; a seed file that is not there.
    let key = files.key().display().to_string();
    let (code, stderr) = exit_of(&binary, &["--bus", &url, "--bus-ca-file", &key], &[]);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("--bus-ca-file: CA file") && stderr.contains("no certificate"), "{stderr}");
    let missing = files.dir.path().join("missing.nk").display().to_string();
    let (code, stderr) = exit_of(&binary, &["--bus", &url, "--bus-ca-file", &ca, "--bus-nkey", &missing], &[]);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("--bus-nkey: nkey seed file") && stderr.contains("missing.nk"), "{stderr}");

    // A client certificate without its key is a usage error, before anything is read.
    let cert = files.cert().display().to_string();
    let (code, stderr) = exit_of(&binary, &["--bus", &url, "--bus-client-cert", &cert], &[]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("--bus-client-key"), "{stderr}");
}
