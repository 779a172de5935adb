//! Unit tests of the load generator's parsing, /proc readers and RSS settling rule
//! (`cargo test --example loadgen`).

use crate::report::{cpu_seconds, rss_kib, Settling};
use crate::workload::{ack_stamp, body_stamp};
use std::time::Duration;

#[test]
fn reads_the_stamps_it_wrote() {
    assert_eq!(body_stamp("lg 1234 17"), Some((1234, 17)));
    assert_eq!(body_stamp("hello"), None);
    assert_eq!(body_stamp("lg x 17"), None);
    assert_eq!(body_stamp("lg 1234 17 more"), None);
    assert_eq!(ack_stamp("987.4"), Some(987));
    assert_eq!(ack_stamp("r1"), None);
}

#[test]
fn reads_its_own_process_figures() {
    assert!(rss_kib(std::process::id()).is_some_and(|kib| kib > 0));
    assert!(cpu_seconds(None).is_some_and(|cpu| cpu >= 0.0));
    assert_eq!(cpu_seconds(Some(u32::MAX)), None);
}

/// Feeds `readings` (KiB, one every 250 ms from the start of the wait) to a [`Settling`];
/// returns the index of the first one it calls settled.
fn settles_at(readings: &[u64]) -> Option<usize> {
    let mut settling = Settling::new(readings[0]);
    (1..readings.len()).find(|&i| settling.settled(Duration::from_millis(250 * i as u64), readings[i]))
}

#[test]
fn settles_only_after_the_hash_threads_memory_is_returned() {
    // Flat for 10 s (argon2's memory still held), a fall at 10.25 s, flat after it: settled 2 s
    // after the fall, not 2 s after the start.
    let mut readings = vec![55_000; 41];
    readings.extend([40_000, 16_000]);
    readings.extend([16_000; 20]);
    assert_eq!(settles_at(&readings), Some(42 + 8));
}

#[test]
fn settles_after_the_shortest_wait_when_nothing_falls() {
    assert_eq!(settles_at(&[30_000; 60]), Some(44));
    // Noise within the tolerance, and rises, are not falls.
    let noisy: Vec<u64> = (0..60).map(|i| if i % 2 == 0 { 30_000 } else { 29_900 }).collect();
    assert_eq!(settles_at(&noisy), Some(44));
    let rising: Vec<u64> = (0..60).map(|i| 30_000 + 50 * i).collect();
    assert_eq!(settles_at(&rising), Some(44));
}

#[test]
fn a_slow_slide_counts_as_falling() {
    // 100 KiB per reading stays under the tolerance each time, but not from the last fall.
    let sliding: Vec<u64> = (0..120).map(|i| 60_000 - 100 * i).collect();
    assert_eq!(settles_at(&sliding), None);
    // Once the slide stops, it settles 2 s after the last fall counted (at reading 57).
    let mut stopping: Vec<u64> = (0..60).map(|i| 60_000 - 100 * i).collect();
    stopping.extend([54_100; 20]);
    assert_eq!(settles_at(&stopping), Some(57 + 8));
}
