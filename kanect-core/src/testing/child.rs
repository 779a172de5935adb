//! [`run_in_child`]: runs one test of the current test binary again, in a process of its own,
//! for tests that need what only a process can have — a signal, a resource limit (a "full
//! disk" through `RLIMIT_FSIZE`), an end that is not graceful — without it reaching the test
//! runner.

use std::ffi::OsStr;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Runs the test named `test` of this test binary in a child process with `env` set (the
/// child tells by it that it is the child), kills it if it runs past `lifetime`, and returns
/// its standard output.
///
/// # Panics
/// If the child cannot be started, or fails (its output is in the message).
pub fn run_in_child(test: &str, env: (&str, &OsStr), lifetime: Duration) -> String {
    let mut child = Command::new(std::env::current_exe().expect("the test binary"))
        .args(["--exact", test, "--nocapture", "--test-threads=1"])
        .env(env.0, env.1)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the child starts");
    let started = Instant::now();
    while child.try_wait().expect("the child's status").is_none() {
        if started.elapsed() > lifetime {
            child.kill().expect("the child is killed");
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let output = child.wait_with_output().expect("the child's output");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "the child failed ({}):\n{stdout}\n{stderr}", output.status);
    stdout
}
