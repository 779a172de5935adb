//! The server binary's `backup DIR` and `import DIR`: a complete backup (the dump and the
//! attachments' bytes) of a stopped fjall store and, with `--from`, of a running server, that
//! restores into a fresh data directory and into PostgreSQL (`KANECT_TEST_PG`; ignored without
//! it) with every file served again, byte for byte. A damaged backup (a blob missing, cut short
//! or changed, a dump cut short) is refused before anything is imported; so is a directory that
//! is not a backup, and an import into a store that is not empty. And `export --from https://`
//! against the binary serving TLS, trusting the test's CA through `--from-ca-file`.

mod support;

use serde_json::json;
use sha2::{Digest, Sha256};
use std::ffi::OsStr;
use std::io::Write;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{SystemTime, UNIX_EPOCH};
use support::binary::{server_binary, start_process};
use support::certs::{CertFiles, TestCertificates};
use support::*;

const ADMIN: [(&str, &str); 2] = [("KANECT_ADMIN_USERNAME", "ops"), ("KANECT_ADMIN_PASSWORD", "the admin password")];

/// `kanect ARGS --log warn` with `stdin` written to its standard input; waits for its exit.
fn kanect(binary: &Path, args: &[&OsStr], stdin: &str) -> Output {
    let mut child = Command::new(binary)
        .args(args)
        .args(["--log", "warn"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("kanect");
    // It may exit before reading it (a refusal).
    let _ = child.stdin.take().expect("stdin").write_all(stdin.as_bytes());
    child.wait_with_output().expect("kanect exits")
}

/// Asserts the command succeeded; its stderr.
fn succeeded(output: Output) -> String {
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(output.status.success(), "{stderr}");
    stderr
}

/// Asserts the command failed with exit code 1 and `expected` in its message.
fn refused(output: Output, expected: &str) {
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains(expected), "{expected:?} in {stderr}");
}

fn png(width: u32, height: u32) -> Vec<u8> {
    let image = image::RgbImage::from_pixel(width, height, image::Rgb([20, 90, 200]));
    let mut out = std::io::Cursor::new(Vec::new());
    image.write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}

fn sha256(bytes: &[u8]) -> String {
    Sha256::digest(bytes).iter().map(|byte| format!("{byte:02x}")).collect()
}

/// What the source server held: an image (with its thumbnail) and a text file, sent by alice.
struct Seeded {
    image: String,
    image_sha256: String,
    text: String,
    text_sha256: String,
    /// The thumbnail's bytes as the source served them.
    thumbnail: Vec<u8>,
}

async fn get(addr: SocketAddr, token: &str, path: &str) -> Reply {
    raw_request(addr, "GET", path, &[("Authorization", &format!("Bearer {token}"))], b"").await
}

async fn upload(addr: SocketAddr, token: &str, name: &str, bytes: &[u8]) -> String {
    let path = format!("/api/v1/attachments?name={name}");
    let reply = raw_request(addr, "POST", &path, &[("Authorization", &format!("Bearer {token}"))], bytes).await;
    assert_eq!(reply.status, 201, "{}", String::from_utf8_lossy(&reply.body));
    reply.json()["id"].as_str().unwrap().to_string()
}

/// Users, a message and two attachments on the server at `addr`.
async fn seed(addr: SocketAddr) -> Seeded {
    let (alice, bob) = (signup(addr, "alice").await, signup(addr, "bob").await);
    let direct = open_direct(addr, &alice, &bob).await;
    let picture = png(400, 300);
    let text = b"minutes of the meeting\n".repeat(5000);
    let (image, text_id) =
        (upload(addr, &alice.token, "a.png", &picture).await, upload(addr, &alice.token, "m.txt", &text).await);
    let body = json!({"client_id": "c1", "body": "files", "attachments": [image, text_id]});
    let path = format!("/api/v1/conversations/{direct}/messages");
    assert_eq!(request(addr, "POST", &path, Some(&alice.token), Some(body)).await.status, 200);
    let thumbnail = get(addr, &bob.token, &format!("/api/v1/attachments/{image}/thumbnail")).await;
    assert_eq!(thumbnail.status, 200);
    Seeded {
        image,
        image_sha256: sha256(&picture),
        text: text_id,
        text_sha256: sha256(&text),
        thumbnail: thumbnail.body,
    }
}

/// Logs bob in on the restored server at `addr` and checks every file it serves.
async fn serves_the_same_files(addr: SocketAddr, seeded: &Seeded) {
    let body = json!({"username": "bob", "password": "correct horse battery"});
    let login = request(addr, "POST", "/api/v1/auth/login", None, Some(body)).await;
    assert_eq!(login.status, 200, "bob logs in on the restored store");
    let token = login.json()["token"].as_str().unwrap().to_string();
    for (id, expected) in [(&seeded.image, &seeded.image_sha256), (&seeded.text, &seeded.text_sha256)] {
        let file = get(addr, &token, &format!("/api/v1/attachments/{id}")).await;
        assert_eq!(file.status, 200, "attachment {id}");
        assert_eq!(&sha256(&file.body), expected, "attachment {id}'s bytes");
    }
    let thumbnail = get(addr, &token, &format!("/api/v1/attachments/{}/thumbnail", seeded.image)).await;
    assert_eq!(thumbnail.body, seeded.thumbnail);
}

fn os(path: &Path) -> &OsStr {
    path.as_os_str()
}

/// The blob file of `key` in the backup `dir` (its shard is the id's last byte).
fn blob_file(dir: &Path, key: &str) -> PathBuf {
    let id = key.split('.').next().unwrap();
    dir.join("blobs").join(&id[id.len() - 2..]).join(key)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backups_of_a_running_and_a_stopped_server_restore_every_file() {
    let binary = server_binary();
    let [source, live, stopped, restored, from_live] = std::array::from_fn(|_| tempfile::tempdir().unwrap());
    let server = start_process(&binary, [OsStr::new("--data-dir"), os(source.path())], &ADMIN);
    let seeded = seed(server.addr).await;
    let url = format!("http://{}", server.addr);

    // Over the API while it runs, the bytes read beside it from its data directory.
    let args = |dir: &Path| -> Vec<std::ffi::OsString> {
        ["backup".as_ref(), os(dir), "--from".as_ref(), url.as_ref(), "--admin-username".as_ref(), "ops".as_ref()]
            .into_iter()
            .chain(["--data-dir".as_ref(), os(source.path())])
            .map(OsStr::to_os_string)
            .collect()
    };
    let live_args = args(live.path());
    let live_args: Vec<&OsStr> = live_args.iter().map(|arg| arg.as_os_str()).collect();
    let stderr = succeeded(kanect(&binary, &live_args, "the admin password\n"));
    assert!(stderr.contains("3 blobs copied"), "the file, the text and the thumbnail: {stderr}");
    // Again into the same directory: nothing new to copy.
    let stderr = succeeded(kanect(&binary, &live_args, "the admin password\n"));
    assert!(stderr.contains("0 blobs copied (0 bytes), 3 already there"), "{stderr}");
    // The store is the server's: a backup of it directly says how to take one.
    let busy = kanect(&binary, &["backup".as_ref(), os(stopped.path()), "--data-dir".as_ref(), os(source.path())], "");
    refused(busy, "backup DIR --from http://HOST:PORT");
    assert_eq!(tokio::task::spawn_blocking(move || server.terminate()).await.unwrap(), Some(0));

    let stderr = succeeded(kanect(
        &binary,
        &["backup".as_ref(), os(stopped.path()), "--data-dir".as_ref(), os(source.path())],
        "",
    ));
    assert!(stderr.contains("3 blobs copied") && stderr.contains("2 attachments"), "{stderr}");
    let mode = std::os::unix::fs::PermissionsExt::mode(
        &std::fs::metadata(stopped.path().join("dump.jsonl")).unwrap().permissions(),
    );
    assert_eq!(mode & 0o777, 0o600, "password hashes: the owner's only");

    for (backup, target) in [(stopped.path(), restored.path()), (live.path(), from_live.path())] {
        let stderr =
            succeeded(kanect(&binary, &["import".as_ref(), os(backup), "--data-dir".as_ref(), os(target)], ""));
        assert!(stderr.contains("imported") && stderr.contains("3 blobs copied"), "{stderr}");
        let server = start_process(&binary, [OsStr::new("--data-dir"), os(target)], &[]);
        serves_the_same_files(server.addr, &seeded).await;
        assert_eq!(tokio::task::spawn_blocking(move || server.terminate()).await.unwrap(), Some(0));
    }
    // Into a store that holds data: refused.
    let again =
        kanect(&binary, &["import".as_ref(), os(stopped.path()), "--data-dir".as_ref(), os(restored.path())], "");
    refused(again, "not empty");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_damaged_backup_or_a_wrong_directory_is_refused_before_anything_is_imported() {
    let binary = server_binary();
    let [source, backup, target, stray] = std::array::from_fn(|_| tempfile::tempdir().unwrap());
    let server = start_process(&binary, [OsStr::new("--data-dir"), os(source.path())], &[]);
    let seeded = seed(server.addr).await;
    assert_eq!(tokio::task::spawn_blocking(move || server.terminate()).await.unwrap(), Some(0));
    succeeded(kanect(&binary, &["backup".as_ref(), os(backup.path()), "--data-dir".as_ref(), os(source.path())], ""));

    // A directory with other files in it is not a backup's.
    std::fs::write(stray.path().join("notes.txt"), "mine").unwrap();
    let into_stray =
        kanect(&binary, &["backup".as_ref(), os(stray.path()), "--data-dir".as_ref(), os(source.path())], "");
    refused(into_stray, "is not empty and not a backup's");
    assert_eq!(std::fs::read_dir(stray.path()).unwrap().count(), 1, "nothing written beside the stray file");
    refused(kanect(&binary, &["import".as_ref(), os(stray.path()), "--memory".as_ref()], ""), "has no dump.jsonl");

    let import =
        || kanect(&binary, &["import".as_ref(), os(backup.path()), "--data-dir".as_ref(), os(target.path())], "");
    let file = blob_file(backup.path(), &seeded.text);
    let whole = std::fs::read(&file).unwrap();
    // Cut short, changed at the same size, gone: each names the blob, and imports nothing.
    std::fs::write(&file, &whole[..whole.len() - 1]).unwrap();
    refused(
        import(),
        &format!("blob {}: {} bytes in the backup, its record says {}", seeded.text, whole.len() - 1, whole.len()),
    );
    let mut changed = whole.clone();
    changed[0] ^= 1;
    std::fs::write(&file, &changed).unwrap();
    refused(import(), &format!("blob {}: its SHA-256 is", seeded.text));
    std::fs::remove_file(&file).unwrap();
    refused(import(), &format!("blob {}: not in blobs/", seeded.text));
    let thumbnail = blob_file(backup.path(), &format!("{}.thumb", seeded.image));
    let thumbnail_bytes = std::fs::read(&thumbnail).unwrap();
    std::fs::write(&thumbnail, b"short").unwrap();
    std::fs::write(&file, &whole).unwrap();
    refused(import(), &format!("blob {}.thumb: 5 bytes in the backup", seeded.image));
    std::fs::write(&thumbnail, &thumbnail_bytes).unwrap();

    // A dump cut short: refused at its end, and the store it began to fill is not reused.
    let dump = backup.path().join("dump.jsonl");
    let text = std::fs::read_to_string(&dump).unwrap();
    let cut = &text[..text.trim_end().rfind('\n').unwrap() + 1];
    std::fs::write(&dump, cut).unwrap();
    let truncated = tempfile::tempdir().unwrap();
    let cut_import =
        kanect(&binary, &["import".as_ref(), os(backup.path()), "--data-dir".as_ref(), os(truncated.path())], "");
    refused(cut_import, "truncated");
    std::fs::write(&dump, &text).unwrap();

    // None of the refusals above imported anything: the same target takes the mended backup.
    let stderr = succeeded(import());
    assert!(stderr.contains("3 blobs copied"), "{stderr}");
    let server = start_process(&binary, [OsStr::new("--data-dir"), os(target.path())], &[]);
    serves_the_same_files(server.addr, &seeded).await;
    assert_eq!(tokio::task::spawn_blocking(move || server.terminate()).await.unwrap(), Some(0));
}

/// A fresh schema name, as the other PostgreSQL tests make them (their clean-up drops them).
fn fresh_schema() -> String {
    let seconds = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs();
    format!("kanect_test_{seconds}_{}", uuid::Uuid::new_v4().simple().to_string().split_at(8).0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(not(kanect_test_pg), ignore = "set KANECT_TEST_PG to run")]
async fn a_backup_of_fjall_restores_into_postgresql_with_its_files() {
    let pg = std::env::var("KANECT_TEST_PG").expect("KANECT_TEST_PG names a database");
    let binary = server_binary();
    let [source, backup] = std::array::from_fn(|_| tempfile::tempdir().unwrap());
    let server = start_process(&binary, [OsStr::new("--data-dir"), os(source.path())], &[]);
    let seeded = seed(server.addr).await;
    assert_eq!(tokio::task::spawn_blocking(move || server.terminate()).await.unwrap(), Some(0));
    succeeded(kanect(&binary, &["backup".as_ref(), os(backup.path()), "--data-dir".as_ref(), os(source.path())], ""));

    let schema = fresh_schema();
    let postgres: [&OsStr; 4] = ["--store".as_ref(), pg.as_ref(), "--store-schema".as_ref(), schema.as_ref()];
    let args: Vec<&OsStr> = ["import".as_ref(), os(backup.path())].into_iter().chain(postgres).collect();
    let stderr = succeeded(kanect(&binary, &args, ""));
    assert!(stderr.contains("3 blobs copied"), "{stderr}");
    let server = start_process(&binary, postgres, &[]);
    serves_the_same_files(server.addr, &seeded).await;
    assert_eq!(tokio::task::spawn_blocking(move || server.terminate()).await.unwrap(), Some(0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn export_from_an_https_server_trusts_the_ca_file_and_nothing_else() {
    let binary = server_binary();
    let certificates = TestCertificates::new();
    let files = CertFiles::new(&certificates);
    let (cert, key, ca) = (files.cert(), files.key(), files.dir.path().join("ca.pem"));
    let args = [OsStr::new("--memory"), "--tls-cert".as_ref(), os(&cert), "--tls-key".as_ref(), os(&key)];
    let server = start_process(&binary, args, &ADMIN);
    let out = tempfile::tempdir().unwrap();
    let dump = out.path().join("dump.jsonl");
    let url = format!("https://{}", server.addr);
    let export = |extra: &[&OsStr]| {
        let base = [
            "export".as_ref(),
            os(&dump),
            "--from".as_ref(),
            url.as_ref(),
            "--admin-username".as_ref(),
            "ops".as_ref(),
        ];
        let args: Vec<&OsStr> = base.into_iter().chain(extra.iter().copied()).collect();
        kanect(&binary, &args, "the admin password\n")
    };

    // The test's CA is no system's: refused without the file, and nothing written.
    refused(export(&[]), "certificate");
    assert!(!dump.exists());
    let stderr = succeeded(export(&["--from-ca-file".as_ref(), os(&ca)]));
    assert!(stderr.contains(&format!("from {url}")), "{stderr}");
    assert!(std::fs::read_to_string(&dump).unwrap().starts_with(r#"{"format":"kanect-dump","version":1}"#));
    // A file with no certificate in it, and a CA file for plain HTTP, name the flag.
    refused(export(&["--from-ca-file".as_ref(), os(&key)]), "--from-ca-file");
    let plain = ["export".as_ref(), os(&dump), "--from".as_ref(), "http://127.0.0.1:1".as_ref()];
    let plain: Vec<&OsStr> = plain
        .into_iter()
        .chain(["--admin-username".as_ref(), "ops".as_ref(), "--from-ca-file".as_ref(), os(&ca)])
        .collect();
    refused(kanect(&binary, &plain, "x\n"), "--from-ca-file: only for an https:// --from");
    assert_eq!(tokio::task::spawn_blocking(move || server.terminate()).await.unwrap(), Some(0));
}
