//! The server binary with `--tls-cert` and `--tls-key`: it says `https://`, serves HTTPS with
//! the certificate, takes new files on SIGHUP, and refuses to start on a file that will not do,
//! naming the flag.

mod support;

use std::ffi::OsStr;
use std::time::{Duration, Instant};
use support::binary::{exit_of, server_binary, start_process};
use support::certs::{CertFiles, TestCertificates};
use support::https::{client, https, presented, replace, tls_connect, wait_for_certificate};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_serves_https_and_reloads_its_certificate_on_sighup() {
    let binary = server_binary();
    let (old, new) = (TestCertificates::new(), TestCertificates::new());
    let files = CertFiles::new(&old);
    let (cert, key) = (files.cert(), files.key());
    let args =
        [OsStr::new("--memory"), OsStr::new("--tls-cert"), cert.as_os_str(), OsStr::new("--tls-key"), key.as_os_str()];
    let server = start_process(&binary, args, &[]);
    let started = Instant::now();
    let trusting = client(&[&old, &new]);
    assert_eq!(https(server.addr, &trusting, "GET", "/health", None, None).await.status, 200);
    assert_eq!(presented(&tls_connect(server.addr, &trusting).await.expect("TLS")), old.cert_der);

    replace(&files.cert(), &new.cert_pem);
    replace(&files.key(), &new.key_pem);
    server.hang_up();
    wait_for_certificate(server.addr, &trusting, &new.cert_der).await;
    // The files are also polled, every 5 s from the start: the new certificate came before the
    // first poll, so it was SIGHUP's doing.
    assert!(started.elapsed() < Duration::from_millis(4500), "SIGHUP reloaded only after {:?}", started.elapsed());
    assert_eq!(https(server.addr, &client(&[&new]), "GET", "/health", None, None).await.status, 200);
    let status = tokio::task::spawn_blocking(move || server.terminate()).await.unwrap();
    assert_eq!(status, Some(0), "still stops cleanly");
}

#[test]
fn the_binary_refuses_to_start_on_bad_tls_files_naming_the_flag() {
    let binary = server_binary();
    let files = CertFiles::new(&TestCertificates::new());
    let other = CertFiles::new(&TestCertificates::new());
    let (cert, key) = (files.cert(), files.key());
    let (cert, key, other_key) = (cert.to_str().unwrap(), key.to_str().unwrap(), other.key());
    let missing = files.dir.path().join("missing.pem");
    let missing = missing.to_str().unwrap();

    let (code, stderr) = exit_of(&binary, &["--tls-cert", missing, "--tls-key", key], &[]);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("--tls-cert") && stderr.contains(missing), "{stderr}");

    let (code, stderr) = exit_of(&binary, &["--tls-cert", cert, "--tls-key", cert], &[]);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("--tls-key") && stderr.contains("no private key"), "{stderr}");

    let (code, stderr) = exit_of(&binary, &["--tls-cert", cert, "--tls-key", other_key.to_str().unwrap()], &[]);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(stderr.contains("--tls-cert/--tls-key") && stderr.contains("does not fit"), "{stderr}");

    // Both or neither, from the flags or the environment.
    let (code, stderr) = exit_of(&binary, &["--tls-cert", cert], &[]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("--tls-key"), "{stderr}");
    let (code, stderr) = exit_of(&binary, &[], &[("KANECT_TLS_KEY", key)]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("--tls-cert"), "{stderr}");
}
