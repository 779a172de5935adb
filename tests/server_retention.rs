//! `--message-retention DAYS` (`KANECT_MESSAGE_RETENTION`) on the built server binary: values
//! that make no sense are refused before anything starts, with a message that says what is
//! expected; the limits themselves and `off` are taken; and a server given a retention deletes
//! the older messages as it starts. That message is made old through a dump (`export`, its
//! `sent_at` moved back three days, `import`), as a store that has run for a while holds it.

mod support;

use serde_json::{json, Value};
use std::ffi::OsStr;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use support::binary::{exit_of, server_binary, start_process};
use support::*;

#[test]
fn retention_values_that_make_no_sense_are_refused_with_what_is_expected() {
    let binary = server_binary();
    let expected = "expected a whole number of days from 1 to 36500, or off to keep messages forever";
    let cases = [
        ("0", "0 days would delete every message at once"),
        ("-30", ""),
        ("thirty", ""),
        ("1.5", ""),
        ("30d", ""),
        ("36501", "36501 days is over 100 years"),
        ("99999999999999999999", ""),
    ];
    for (value, says) in cases {
        let (code, stderr) = exit_of(&binary, &["--message-retention", value], &[]);
        assert_eq!(code, Some(2), "{value}: {stderr}");
        assert!(stderr.contains(&format!("invalid value '{value}' for '--message-retention <DAYS>'")), "{stderr}");
        assert!(stderr.contains(says) && stderr.contains(expected), "{value}: {stderr}");
    }
    let (code, stderr) = exit_of(&binary, &[], &[("KANECT_MESSAGE_RETENTION", "0")]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("--message-retention") && stderr.contains("0 days would delete"), "{stderr}");
}

#[test]
fn the_limits_and_off_are_taken() {
    let binary = server_binary();
    for (args, env) in [
        (vec!["--message-retention", "1"], vec![]),
        (vec!["--message-retention", "36500"], vec![]),
        (vec![], vec![("KANECT_MESSAGE_RETENTION", "off")]),
        (vec![], vec![("KANECT_MESSAGE_RETENTION", "365")]),
    ] {
        let server = start_process(&binary, args.iter().chain(&["--memory"]), &env);
        assert_eq!(server.terminate(), Some(0), "{args:?} {env:?}");
    }
}

/// `server SUBCOMMAND FILE --log warn --data-dir DIR`, run to its end; panics unless it succeeds.
fn run_subcommand(binary: &Path, subcommand: &str, file: &Path, data: &Path) {
    let output = Command::new(binary)
        .args([OsStr::new(subcommand), file.as_os_str()])
        .args(["--log", "warn", "--data-dir"])
        .arg(data)
        .stdin(Stdio::null())
        .output()
        .expect("the subcommand runs");
    assert!(output.status.success(), "{subcommand}: {}", String::from_utf8_lossy(&output.stderr));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_with_a_retention_deletes_older_messages_as_it_starts() {
    let binary = server_binary();
    let (old_dir, new_dir) = (tempfile::tempdir().expect("temp dir"), tempfile::tempdir().expect("temp dir"));

    let server = start_process(&binary, [OsStr::new("--data-dir"), old_dir.path().as_os_str()], &[]);
    let (alice, bob) = (signup(server.addr, "alice").await, signup(server.addr, "bob").await);
    let direct = open_direct(server.addr, &alice, &bob).await;
    let path = format!("/api/v1/conversations/{direct}/messages");
    for (client_id, body) in [("c1", "three days old"), ("c2", "today")] {
        let body = json!({"client_id": client_id, "body": body});
        assert_eq!(request(server.addr, "POST", &path, Some(&alice.token), Some(body)).await.status, 200);
    }
    let status = tokio::task::spawn_blocking(move || server.terminate()).await.unwrap();
    assert_eq!(status, Some(0));

    // The dump, with the first message sent three days ago.
    let dump = old_dir.path().join("backup.jsonl");
    run_subcommand(&binary, "export", &dump, old_dir.path());
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_millis() as u64;
    let mut aged = 0;
    let lines: Vec<String> = std::fs::read_to_string(&dump)
        .expect("the dump")
        .lines()
        .map(|line| {
            let mut record: Value = serde_json::from_str(line).expect("a JSON line");
            if record["kind"] == "message" && record["message"]["body"] == "three days old" {
                record["message"]["sent_at"] = json!(now - 3 * 24 * 3600 * 1000);
                aged += 1;
            }
            record.to_string()
        })
        .collect();
    assert_eq!(aged, 1, "the dump holds the message");
    std::fs::write(&dump, lines.join("\n") + "\n").expect("write the dump");
    run_subcommand(&binary, "import", &dump, new_dir.path());

    let args = [OsStr::new("--data-dir"), new_dir.path().as_os_str()];
    let server = start_process(&binary, args.into_iter().chain(["--message-retention", "2"].map(OsStr::new)), &[]);
    let mut history = Vec::new();
    for _ in 0..200 {
        let reply = request(server.addr, "GET", &path, Some(&bob.token), None).await;
        assert_eq!(reply.status, 200);
        history = reply.json()["messages"].as_array().expect("messages").clone();
        if history[0]["deleted"] == true {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let state: Vec<_> = history.iter().map(|m| (m["seq"].clone(), m["body"].clone(), m["deleted"].clone())).collect();
    assert_eq!(state, [(json!(1), json!(""), json!(true)), (json!(2), json!("today"), json!(false))]);
    let status = tokio::task::spawn_blocking(move || server.terminate()).await.unwrap();
    assert_eq!(status, Some(0));
}
