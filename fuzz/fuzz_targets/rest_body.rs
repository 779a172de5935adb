//! Every JSON request body of the REST API (the request structs of `kanect-http/src/api/` and
//! `poll.rs`, read by `read_json`'s parsing step) on arbitrary bytes. The first byte picks
//! the body; the rest is the body.
//!
//! Properties: parsing never panics; an accepted body is a JSON object (or, for `POST /poll`,
//! blank); a refused one gets a known code, never `invalid_json` for valid JSON, and an
//! `unknown_field` names a field the body has.

#![no_main]

use kanect_fuzz::check_json_rejection;
use kanect_http::fuzzing::RestBody;
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    let Some((&which, body)) = data.split_first() else { return };
    let kind = RestBody::ALL[usize::from(which) % RestBody::ALL.len()];
    match kind.parse(body) {
        Ok(()) => {
            let blank = body.iter().all(u8::is_ascii_whitespace);
            let object = matches!(serde_json::from_slice::<Value>(body), Ok(Value::Object(_)));
            assert!(object || (kind == RestBody::NewPoll && blank), "{kind:?} accepted a body that is not an object");
        }
        Err(rejection) => check_json_rejection(body, rejection.code, rejection.field.as_deref(), &[], false),
    }
});
