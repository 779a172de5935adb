//! Unit tests of the load generator's parsing and /proc readers (`cargo test --example loadgen`).

use crate::report::{cpu_seconds, rss_kib};
use crate::workload::{ack_stamp, body_stamp};

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
