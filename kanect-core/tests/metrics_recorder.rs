//! An application that installs its own `metrics` recorder sees what the engine counts: the
//! facade is the engine's only way out for metrics. (Its own test binary: the recorder is
//! process-wide, as an application's is.)

mod support;

use kanect_core::metrics::{LOGIN_FAILURES, MESSAGES_SENT, STORE_APPEND_SECONDS};
use metrics_util::debugging::{DebugValue, DebuggingRecorder};
use support::*;

#[tokio::test]
async fn the_applications_recorder_sees_sends_their_timings_and_refused_log_ins() {
    let recorder = DebuggingRecorder::new();
    let snapshotter = recorder.snapshotter();
    recorder.install().expect("the only recorder of this process");
    let chat = chat().await;
    let (_, alice) = user(&chat, "alice").await;
    let (bob, _) = user(&chat, "bob").await;
    let direct = chat.open_direct(&alice, bob.id).await.unwrap();
    assert_eq!(counter_value(&snapshot(&snapshotter), MESSAGES_SENT), 0);

    chat.send(&alice, direct.id, "c1", "hello").await.unwrap();
    // A resend with the same client id is a duplicate: not counted again.
    chat.send(&alice, direct.id, "c1", "hello").await.unwrap();
    assert!(chat.login("alice", "not the password").await.is_err());

    let seen = snapshot(&snapshotter);
    assert_eq!(counter_value(&seen, MESSAGES_SENT), 1);
    let appends = series(&seen, STORE_APPEND_SECONDS);
    let [(_, DebugValue::Histogram(timings))] = appends.as_slice() else { panic!("{appends:?}") };
    assert_eq!(timings.len(), 2, "both appends timed (the duplicate's too)");
    assert!(timings.iter().all(|seconds| seconds.0 >= 0.0 && seconds.0 < 60.0), "{timings:?}");
    let reason = vec![("reason".to_string(), "bad_credentials".to_string())];
    assert_eq!(series(&seen, LOGIN_FAILURES), [(reason, DebugValue::Counter(1))]);
}
