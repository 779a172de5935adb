//! What the SIGKILL tests share (`crash.rs`, `blob_crash.rs`, `upload_crash.rs`): running the
//! test's own binary again as a child that does the work, killing it at a random moment, and
//! reading what it printed before it died.
#![allow(dead_code, unreachable_pub)]

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant, SystemTime};

/// How long the child may take to print the line the parent waits for.
const READY_WITHIN: Duration = Duration::from_secs(20);

/// Runs `test` (exactly that one) in a child process with `env` set, waits until it prints a
/// line containing `wait_for` (if given: otherwise the kill may come at any moment, opening
/// included), waits `pause` more, kills it with SIGKILL, and returns every line it printed,
/// without libtest's `test <name> ... ` prefix.
///
/// # Panics
/// If the child does not print `wait_for` in time, or stops before it is killed.
pub fn run_and_kill(
    test: &str,
    env: &[(&str, &std::ffi::OsStr)],
    wait_for: Option<&str>,
    pause: Duration,
) -> Vec<String> {
    let mut command = Command::new(std::env::current_exe().unwrap());
    command.args(["--exact", test, "--nocapture", "--test-threads=1"]).stdout(Stdio::piped());
    for (name, value) in env {
        command.env(name, value);
    }
    let mut child = command.spawn().unwrap();
    let stdout = child.stdout.take().unwrap();
    let (lines, received) = mpsc::channel();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines() {
            let Ok(line) = line else { break };
            if lines.send(line).is_err() {
                break;
            }
        }
    });
    let mut output = Vec::new();
    if let Some(marker) = wait_for {
        let deadline = Instant::now() + READY_WITHIN;
        loop {
            let line =
                received.recv_timeout(deadline.saturating_duration_since(Instant::now())).expect("the child is ready");
            let ready = line.contains(marker);
            output.push(line);
            if ready {
                break;
            }
        }
    }
    std::thread::sleep(pause);
    assert!(child.try_wait().unwrap().is_none(), "the child stopped before it was killed");
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    reader.join().unwrap();
    output.extend(received.try_iter());
    // libtest prints "test <name> ... " without a newline before the test's own output.
    output.iter().map(|line| line.rsplit_once("... ").map_or(line.as_str(), |(_, rest)| rest).to_string()).collect()
}

/// A small PRNG: the tests need random kill moments, not a dependency.
pub struct XorShift(pub u64);

impl XorShift {
    /// Seeded from the clock; the seed is printed so a failure can be replayed.
    pub fn from_clock(test: &str) -> XorShift {
        let seed = SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).unwrap().as_nanos() as u64 | 1;
        eprintln!("{test}: seed {seed}");
        XorShift(seed)
    }

    /// A number in `0..bound`.
    pub fn below(&mut self, bound: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % bound
    }
}
