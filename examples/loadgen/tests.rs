//! Unit tests of the load generator's parsing and /proc readers (`cargo test --example loadgen`).

use crate::report::{cpu_seconds, rss_kib};
use crate::workload::{ack_stamp, body_stamp, frame_type};

const MESSAGE: &str = r#"{"v":1,"type":"message","message":{"id":"0193","conversation":"5c1e","sender":"0194","seq":3,"body":"lg 1234 17","client_id":"1234.2","sent_at":1,"edited_at":null,"deleted":false}}"#;

#[test]
fn reads_the_envelope_type() {
    assert_eq!(frame_type(MESSAGE), "message");
    assert_eq!(frame_type(r#"{"v":1,"type":"ack","client_id":"5.1"}"#), "ack");
    assert_eq!(frame_type(r#"{"v":1}"#), "");
    assert_eq!(frame_type(r#"{"type":""#), "");
}

#[test]
fn reads_the_stamps_it_wrote() {
    assert_eq!(body_stamp(MESSAGE), Some((1234, 17)));
    assert_eq!(body_stamp(&MESSAGE.replace("lg 1234 17", "hello")), None);
    assert_eq!(body_stamp(&MESSAGE.replace("lg 1234 17", "lg x 17")), None);
    let ack = r#"{"v":1,"type":"ack","ref":null,"client_id":"987.4","id":"0193","seq":4}"#;
    assert_eq!(ack_stamp(ack), Some(987));
    assert_eq!(ack_stamp(r#"{"v":1,"type":"ack","ref":"r1"}"#), None);
}

#[test]
fn reads_its_own_process_figures() {
    assert!(rss_kib(std::process::id()).is_some_and(|kib| kib > 0));
    assert!(cpu_seconds(None).is_some_and(|cpu| cpu >= 0.0));
    assert_eq!(cpu_seconds(Some(u32::MAX)), None);
}
