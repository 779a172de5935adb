//! The WebSocket command parser (`kanect-http/src/command.rs`, `parse`) on arbitrary text
//! frames.
//!
//! Properties: it never panics; an accepted frame was a JSON object, echoes the `ref` it was
//! given, and written back out re-parses to the same frame; a refused frame gets a known code,
//! an `unknown_field` names a field the frame has, and a readable `ref` is echoed even then.

#![no_main]

use kanect_fuzz::check_json_rejection;
use kanect_http::fuzzing::parse_frame;
use libfuzzer_sys::fuzz_target;
use serde_json::{Map, Value};

/// Codes of the frame envelope, beside the JSON ones.
const FRAME_CODES: &[&str] = &["unsupported_version", "unknown_type"];

/// Whether the server can echo `reference` (`PROTOCOL.md`: a string of up to 64 characters or
/// an integer).
fn echoable(reference: &Value) -> bool {
    match reference {
        Value::String(s) => s.chars().count() <= 64,
        Value::Number(n) => n.is_i64() || n.is_u64(),
        _ => false,
    }
}

fuzz_target!(|data: &[u8]| {
    // Text frames are UTF-8: the WebSocket layer refuses anything else before parsing.
    let Ok(text) = std::str::from_utf8(data) else { return };
    let object: Option<Map<String, Value>> = serde_json::from_str(text).ok();
    let given_ref = object.as_ref().and_then(|o| o.get("ref")).filter(|r| echoable(r));
    match parse_frame(text) {
        Ok(frame) => {
            assert!(object.is_some(), "accepted a frame that is not a JSON object");
            assert_eq!(frame.reference(), given_ref, "accepted frame's ref");
            let written = frame.to_text();
            let again = parse_frame(&written).unwrap_or_else(|e| panic!("{written} refused: {e:?}"));
            assert_eq!(again, frame, "re-parse of {written}");
        }
        Err(rejected) => {
            let rejection = &rejected.rejection;
            check_json_rejection(data, rejection.code, rejection.field.as_deref(), FRAME_CODES, true);
            assert_eq!(rejected.reference.as_ref(), given_ref, "refused frame's ref ({rejection:?})");
        }
    }
});
