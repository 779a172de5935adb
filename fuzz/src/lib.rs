//! What the fuzz targets share: the error codes the server may send for malformed input, and
//! the names a rejection may point at.

use serde_json::Value;
use std::collections::HashSet;

/// The codes a malformed JSON body or frame may be refused with (`PROTOCOL.md`, "Errors").
pub const JSON_CODES: &[&str] = &["invalid_json", "missing_field", "unknown_field", "wrong_type", "invalid_value"];

/// Every object key in `value`, at any depth: an `unknown_field` must name one of them.
pub fn keys_anywhere(value: &Value) -> HashSet<&str> {
    let mut keys = HashSet::new();
    let mut stack = vec![value];
    while let Some(value) = stack.pop() {
        match value {
            Value::Object(map) => {
                keys.extend(map.keys().map(String::as_str));
                stack.extend(map.values());
            }
            Value::Array(items) => stack.extend(items),
            _ => {}
        }
    }
    keys
}

/// Checks what a rejection of the JSON `text` says against the text itself: a known code, a
/// field for the codes that name one, and that field really in (or, if missing, not at the
/// top of) the input when it is valid JSON. Valid JSON is never `invalid_json`, but for
/// WebSocket frames (`objects_only`), which must be objects to be frames at all.
pub fn check_json_rejection(text: &[u8], code: &str, field: Option<&str>, extra_codes: &[&str], objects_only: bool) {
    assert!(JSON_CODES.contains(&code) || extra_codes.contains(&code), "unexpected code {code}");
    let Ok(value) = serde_json::from_slice::<Value>(text) else { return };
    if value.is_object() || !objects_only {
        assert_ne!(code, "invalid_json", "valid JSON refused as invalid_json");
    }
    match code {
        "unknown_field" => {
            let field = field.expect("unknown_field names the field");
            assert!(
                keys_anywhere(&value).contains(field),
                "unknown_field names {field:?}, which the input does not have"
            );
        }
        "missing_field" => {
            let field = field.expect("missing_field names the field");
            if let Value::Object(map) = &value {
                assert!(!map.contains_key(field) || value_nested(&value), "missing_field {field:?} is present");
            }
        }
        _ => {}
    }
}

/// Whether the object has nested objects (a missing field may be missing from one of those).
fn value_nested(value: &Value) -> bool {
    match value {
        Value::Object(map) => map.values().any(|v| v.is_object() || v.is_array()),
        _ => false,
    }
}
