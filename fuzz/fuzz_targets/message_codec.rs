//! The embedded stores' binary message records (`kanect-store/src/kv/message_codec.rs`) on
//! arbitrary keys and values. The first byte is the key's length (mod 32), then the key, then
//! the value; a real record is `25`, its 25-byte key, its value.
//!
//! Properties: decoding never panics, a record that does not decode is `Corrupt`, and one that
//! decodes re-encodes to exactly the same key and value (nothing is dropped, defaulted or read
//! two ways).

#![no_main]

use kanect_core::StoreError;
use kanect_store::fuzzing::{decode_message, encode_message};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&key_len, rest)) = data.split_first() else { return };
    let key_len = usize::from(key_len % 32).min(rest.len());
    let (key, value) = rest.split_at(key_len);
    match decode_message(key, value) {
        Ok(message) => {
            let (key_again, value_again) = encode_message(&message).expect("a decoded message encodes");
            assert_eq!(key_again, key, "key of {message:?}");
            assert_eq!(value_again, value, "value of {message:?}");
        }
        Err(error) => assert!(matches!(error, StoreError::Corrupt(_)), "{error:?}"),
    }
});
