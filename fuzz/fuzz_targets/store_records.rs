//! The sled store's other stored records (`kanect-store/src/sled/format.rs`): the format
//! version record checked at open, and the JSON records (users, sessions, conversations,
//! receipts, audit entries). The first byte picks the case.
//!
//! Properties: nothing panics. The version check opens exactly a store at this build's version
//! (unchanged) or the one before (upgraded in place), or an empty store without foreign keys
//! (given the version); anything else is `Format`, never `Corrupt` nor a silent rewrite. A
//! JSON record that does not decode is `Corrupt`; one that does survives a write and a
//! read unchanged.

#![no_main]

use kanect_core::backend::Session;
use kanect_core::{AuditEntry, Conversation, Receipt, StoreError, User};
use kanect_store::fuzzing::{decode_record, encode_record, FormatCheck, FormatChecked};
use libfuzzer_sys::fuzz_target;
use serde::de::DeserializeOwned;
use serde::Serialize;
use std::fmt::Debug;
use std::sync::OnceLock;

/// The format version's key (`kanect-store/src/kv/keys.rs`).
const FORMAT_KEY: &[u8] = b"\x00format";

fuzz_target!(|data: &[u8]| {
    let Some((&case, bytes)) = data.split_first() else { return };
    match case % 6 {
        0 => version(bytes),
        1 => record::<User>(bytes),
        2 => record::<Session>(bytes),
        3 => record::<Conversation>(bytes),
        4 => record::<Receipt>(bytes),
        _ => record::<AuditEntry>(bytes),
    }
});

/// `bytes`: a flags byte (bit 0: a version record; bit 1: another record), the version
/// record's length (mod 9), the version record, then the other record's key.
fn version(bytes: &[u8]) {
    static CHECK: OnceLock<FormatCheck> = OnceLock::new();
    let check = CHECK.get_or_init(|| FormatCheck::new().expect("a temporary sled database"));
    let [flags, len, rest @ ..] = bytes else { return };
    let (record, other) = rest.split_at(usize::from(len % 9).min(rest.len()));
    let record = (flags & 1 == 1).then_some(record);
    let other = (flags & 2 == 2).then_some(other);
    let FormatChecked { result, version_after: after } =
        check.check(record, other).expect("the scratch database works");
    // Another record under the version's own key replaces it.
    let record = if other == Some(FORMAT_KEY) { Some(&b"{}"[..]) } else { record };
    let current = FormatCheck::current_version();
    let expected_after = match record {
        Some(record) => match <[u8; 4]>::try_from(record).map(u32::from_be_bytes) {
            Ok(version) if version == current || current.checked_sub(1) == Some(version) => {
                Some(current.to_be_bytes().to_vec())
            }
            _ => Some(record.to_vec()),
        },
        None if other.is_some_and(|key| key.first() != Some(&0)) => None,
        None => Some(current.to_be_bytes().to_vec()),
    };
    let opens = expected_after.as_deref() == Some(&current.to_be_bytes()[..]);
    match result {
        Ok(()) => assert!(opens, "opened with version record {record:?} and other key {other:?}"),
        Err(StoreError::Format(_)) => assert!(!opens, "refused with version record {record:?}"),
        Err(error) => panic!("{error:?} for version record {record:?}"),
    }
    assert_eq!(after, expected_after, "version record after the check");
}

fn record<T: DeserializeOwned + Serialize + PartialEq + Debug>(bytes: &[u8]) {
    match decode_record::<T>(bytes) {
        Ok(record) => {
            let written = encode_record(&record).expect("a decoded record encodes");
            let read: T = decode_record(&written).expect("a written record decodes");
            assert_eq!(read, record);
        }
        Err(error) => assert!(matches!(error, StoreError::Corrupt(_)), "{error:?}"),
    }
}
