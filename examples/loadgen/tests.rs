//! Unit tests of the load generator's parsing, /proc readers, RSS settling rule and upload
//! bodies (`cargo test --example loadgen`).

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

#[test]
fn an_upload_body_is_exactly_its_size_and_hashes_as_predicted() {
    use crate::uploads::{hex, pattern_sha256, random_block, PatternBody};
    use http_body_util::BodyExt;
    use hyper::body::Body;
    use sha2::{Digest, Sha256};
    let block = random_block(7, 1000);
    assert_eq!(block.len(), 1000);
    assert_ne!(block, random_block(8, 1000), "the seed matters");
    let runtime = tokio::runtime::Builder::new_current_thread().build().expect("a runtime");
    // Shorter than a block, exactly one, several, one past a multiple, and nothing.
    for size in [1u64, 999, 1000, 3000, 3001, 0] {
        let body = PatternBody::new(block.clone(), size);
        assert_eq!(body.size_hint().exact(), Some(size), "Content-Length is sent");
        let bytes = runtime.block_on(body.collect()).expect("infallible").to_bytes();
        assert_eq!(bytes.len() as u64, size);
        let expected: Vec<u8> = block.iter().copied().cycle().take(size as usize).collect();
        assert_eq!(bytes[..], expected[..]);
        assert_eq!(pattern_sha256(&block, size), hex(&Sha256::digest(&expected)));
    }
    // A whole MiB from the run's block size: exactly 2^20 bytes.
    let mib = runtime.block_on(PatternBody::new(random_block(1, 256 * 1024), 1 << 20).collect());
    assert_eq!(mib.expect("infallible").to_bytes().len(), 1 << 20);
}

#[test]
fn an_empty_block_is_refused_for_a_body_with_bytes() {
    use crate::uploads::PatternBody;
    let empty = bytes::Bytes::new();
    assert!(hyper::body::Body::is_end_stream(&PatternBody::new(empty.clone(), 0)));
    assert!(std::panic::catch_unwind(|| PatternBody::new(empty, 1)).is_err());
}

#[test]
fn quantiles_by_nearest_rank() {
    use crate::uploads::quantile;
    assert_eq!(quantile(&[], 0.5), None);
    assert_eq!(quantile(&[3.0], 0.5), Some(3.0));
    assert_eq!(quantile(&[4.0, 1.0, 3.0, 2.0], 0.5), Some(2.0));
    assert_eq!(quantile(&[4.0, 1.0, 3.0, 2.0, 5.0], 0.5), Some(3.0));
    assert_eq!(quantile(&[4.0, 1.0, 3.0, 2.0], 1.0), Some(4.0));
    assert_eq!(quantile(&[4.0, 1.0, 3.0, 2.0], 0.0), Some(1.0));
}
