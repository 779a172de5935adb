//! The server binary's e-mail flags: a bad SMTP configuration (a URL that is not one, a sender
//! that is not an address, a server that does not answer) stops the start with an error that
//! names the flag and what is wrong, rather than failing at the first mail; bad verification
//! and digest values are refused by the flags' parser.

mod support;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;
use support::binary::server_binary;

/// Runs `binary --listen 127.0.0.1:0 --memory --log warn ARGS`, which must exit by itself
/// (within 20 s): its exit code and what it wrote to stderr.
fn exit_of(binary: &Path, args: &[&str]) -> (Option<i32>, String) {
    let mut child = Command::new(binary)
        .args(["--listen", "127.0.0.1:0", "--memory", "--log", "warn"])
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the server");
    for _ in 0..400 {
        if child.try_wait().expect("wait").is_some() {
            let output = child.wait_with_output().expect("output");
            return (output.status.code(), String::from_utf8_lossy(&output.stderr).into_owned());
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
    panic!("{args:?}: the server started instead of refusing its mail settings");
}

#[test]
fn a_bad_smtp_configuration_stops_the_start_and_says_what_is_wrong() {
    let binary = server_binary(&[]);
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let unreachable = format!("smtp://127.0.0.1:{closed}?tls=none");
    let cases: [(&[&str], &str); 4] = [
        (&["--smtp-url", "http://mail.example.com"], "--smtp-url: bad SMTP URL: scheme \"http\""),
        (&["--smtp-url", "smtp://mail.example.com?tls=maybe"], "--smtp-url: bad SMTP URL: tls=\"maybe\""),
        (&["--smtp-url", &unreachable, "--mail-from", "not an address"], "bad sender address \"not an address\""),
        (&["--smtp-url", &unreachable], "does not answer as configured"),
    ];
    for (args, says) in cases {
        let (code, stderr) = exit_of(&binary, args);
        assert_ne!(code, Some(0), "{args:?}: {stderr}");
        assert!(stderr.contains(says), "{args:?}: {stderr}");
    }
    let (code, stderr) = exit_of(&binary, &["--email-verification", "sometimes"]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("expected off, optional or required"), "{stderr}");
    let (code, stderr) = exit_of(&binary, &["--digest-after", "0"]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("from 1 to 10080"), "{stderr}");
    let (code, stderr) = exit_of(&binary, &["--smtp-url", &unreachable, "--mail-log"]);
    assert_eq!(code, Some(2), "one mailer or the other: {stderr}");
}
