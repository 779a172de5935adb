//! The server binary's `export FILE --from URL --admin-username NAME`: a backup of a running
//! server on fjall, the default store (whose directory the server holds locked), over the API, that `import`
//! restores into another data dir. A wrong password, a non-admin and a malformed URL fail with
//! exit code 1 and a message that names the cause, and leave no file (nor harm an older backup
//! at the same path). So does a server that goes silent, after `--from-timeout`.

mod support;

use serde_json::json;
use std::ffi::OsStr;
use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use support::binary::{server_binary, start_process};
use support::*;

/// `server export FILE --from URL --admin-username NAME --log warn`, `password` on stdin.
fn export_from(binary: &Path, file: &Path, url: &str, username: &str, password: &str) -> Output {
    export_from_with(binary, file, url, username, password, &[])
}

/// [`export_from`] with `flags` besides.
fn export_from_with(binary: &Path, file: &Path, url: &str, username: &str, password: &str, flags: &[&str]) -> Output {
    let mut export = Command::new(binary)
        .arg("export")
        .arg(file)
        .args(["--from", url, "--admin-username", username, "--log", "warn"])
        .args(flags)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("export");
    // It may exit before reading it (a malformed URL).
    let _ = export.stdin.take().expect("stdin").write_all(format!("{password}\n").as_bytes());
    export.wait_with_output().expect("export exits")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn export_from_a_running_server_restores_into_another_data_dir() {
    let binary = server_binary();
    let (old, new, out) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let env = [("KANECT_ADMIN_USERNAME", "ops"), ("KANECT_ADMIN_PASSWORD", "the admin password")];
    let server = start_process(&binary, [OsStr::new("--data-dir"), old.path().as_os_str()], &env);
    let (alice, bob) = (signup(server.addr, "alice").await, signup(server.addr, "bob").await);
    let direct = open_direct(server.addr, &alice, &bob).await;
    for n in 1..=3 {
        let body = json!({"client_id": n.to_string(), "body": format!("m{n}")});
        let path = format!("/api/v1/conversations/{direct}/messages");
        assert_eq!(request(server.addr, "POST", &path, Some(&alice.token), Some(body)).await.status, 200);
    }
    let url = format!("http://{}", server.addr);

    let dump = out.path().join("backup.jsonl");
    let exported = export_from(&binary, &dump, &url, "ops", "the admin password");
    let stderr = String::from_utf8_lossy(&exported.stderr);
    assert!(exported.status.success(), "{stderr}");
    assert!(stderr.contains("exported") && stderr.contains(&url), "{stderr}");
    // Password hashes and every message: readable by its owner only.
    assert_eq!(
        std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&dump).unwrap().permissions()) & 0o777,
        0o600
    );
    let text = std::fs::read_to_string(&dump).expect("the dump");
    assert!(text.starts_with(r#"{"format":"kanect-dump","version":1}"#), "{text}");
    assert!(text.lines().last().unwrap().starts_with(r#"{"kind":"end""#), "{text}");

    // Refusals: exit code 1, the server's code in the message, no file.
    let refused = [
        (export_from(&binary, &dump, &url, "ops", "not the password"), "bad_credentials"),
        (export_from(&binary, &out.path().join("b"), &url, "alice", "correct horse battery"), "admin_only"),
        (export_from(&binary, &out.path().join("c"), "127.0.0.1:1", "ops", "x"), "expected http://HOST:PORT"),
    ];
    for (output, expected) in refused {
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{stderr}");
        assert!(stderr.contains(expected), "{expected}: {stderr}");
    }
    // The backup taken before is untouched, and nothing else is left in its directory.
    assert_eq!(std::fs::read_to_string(&dump).expect("the dump"), text);
    let files: Vec<_> = std::fs::read_dir(out.path()).unwrap().map(|entry| entry.unwrap().file_name()).collect();
    assert_eq!(files, vec![OsStr::new("backup.jsonl").to_os_string()]);
    let status = tokio::task::spawn_blocking(move || server.terminate()).await.unwrap();
    assert_eq!(status, Some(0));

    let imported = Command::new(&binary)
        .arg("import")
        .arg(&dump)
        .args(["--log", "warn", "--data-dir"])
        .arg(new.path())
        .output()
        .expect("import");
    assert!(imported.status.success(), "{}", String::from_utf8_lossy(&imported.stderr));
    let server = start_process(&binary, [OsStr::new("--data-dir"), new.path().as_os_str()], &[]);
    let credentials = json!({"username": "alice", "password": "correct horse battery"});
    let login = request(server.addr, "POST", "/api/v1/auth/login", None, Some(credentials)).await;
    assert_eq!(login.status, 200);
    let token = login.json()["token"].as_str().unwrap().to_string();
    let history =
        request(server.addr, "GET", &format!("/api/v1/conversations/{direct}/messages"), Some(&token), None).await;
    let bodies: Vec<_> = history.json()["messages"].as_array().unwrap().iter().map(|m| m["body"].clone()).collect();
    assert_eq!(bodies, vec![json!("m1"), json!("m2"), json!("m3")]);
    let status = tokio::task::spawn_blocking(move || server.terminate()).await.unwrap();
    assert_eq!(status, Some(0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_goes_silent_fails_the_export_after_the_timeout() {
    use std::time::{Duration, Instant};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let binary = server_binary();
    let out = tempfile::tempdir().expect("temp dir");
    let file = out.path().join("backup.jsonl");
    let export = |url: String| {
        let (binary, file) = (binary.clone(), file.clone());
        tokio::task::spawn_blocking(move || {
            export_from_with(&binary, &file, &url, "alice", "correct horse battery", &["--from-timeout", "1s"])
        })
    };

    // A server that takes the connection and never answers.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let started = Instant::now();
    let exported = export(format!("http://{}", silent.local_addr().unwrap()));
    let _held = silent.accept().await.expect("the export connects");
    let exported = tokio::time::timeout(Duration::from_secs(30), exported).await.expect("bounded").unwrap();
    let stderr = String::from_utf8_lossy(&exported.stderr);
    assert_eq!(exported.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("POST /api/v1/auth/login") && stderr.contains("nothing within 1s"), "{stderr}");
    assert!(started.elapsed() < Duration::from_secs(20), "it gave up at the timeout, not much later");
    assert!(!file.exists());

    // One that logs in (relayed to a real server), then sends 5 bytes of the dump and stops.
    let data = tempfile::tempdir().expect("temp dir");
    let real = start_process(&binary, [OsStr::new("--data-dir"), data.path().as_os_str()], &[]);
    signup(real.addr, "alice").await;
    let stalling = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let exported = export(format!("http://{}", stalling.local_addr().unwrap()));
    let (mut login, _) = stalling.accept().await.expect("the log-in");
    let mut upstream = tokio::net::TcpStream::connect(real.addr).await.expect("the real server");
    let relay = tokio::spawn(async move { tokio::io::copy_bidirectional(&mut login, &mut upstream).await });
    let (mut dump, _) = stalling.accept().await.expect("the export");
    let _ = dump.read(&mut [0u8; 4096]).await.expect("its request");
    dump.write_all(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\n").await.expect("half a dump");
    let exported = tokio::time::timeout(Duration::from_secs(30), exported).await.expect("bounded").unwrap();
    let stderr = String::from_utf8_lossy(&exported.stderr);
    assert_eq!(exported.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("the dump stalled: nothing came for 1s after 5 bytes"), "{stderr}");
    assert!(!file.exists(), "the partial dump is removed");
    relay.abort();
    drop(dump);
    let status = tokio::task::spawn_blocking(move || real.terminate()).await.unwrap();
    assert_eq!(status, Some(0));
}

/// `--from-timeout` takes 1 s to an hour; the limit itself is taken (the export then fails
/// only on the address, where nothing listens), past it is refused at start.
#[test]
fn the_timeout_is_a_setting_of_one_second_to_an_hour() {
    let binary = server_binary();
    let out = tempfile::tempdir().expect("temp dir");
    let file = out.path().join("backup.jsonl");
    let closed = std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().unwrap();
    let url = format!("http://{closed}");
    for (timeout, code, says) in [
        ("0s", 2, "at least 1s"),
        ("61m", 2, "over an hour"),
        ("soon", 2, "seconds, minutes or hours"),
        ("1h", 1, "cannot connect"),
        ("1s", 1, "cannot connect"),
    ] {
        let exported = export_from_with(&binary, &file, &url, "alice", "x", &["--from-timeout", timeout]);
        let stderr = String::from_utf8_lossy(&exported.stderr);
        assert_eq!(exported.status.code(), Some(code), "{timeout}: {stderr}");
        assert!(stderr.contains(says), "{timeout}: {stderr}");
    }
}
