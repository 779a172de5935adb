//! The sled store's journal records (`kanect-store/src/sled/journal.rs`: `next_record`,
//! `decode_writes`), read as replay reads a journal file after its magic. The first byte
//! picks the input: even, the bytes of a journal file after its magic; odd, one record's
//! payload (past the checksum, which random bytes rarely pass).
//!
//! Properties: reading never panics; every intact record decodes to writes that re-encode to
//! exactly its bytes, or is `Corrupt`; after the last intact record, what is left is not a
//! record; a payload that decodes re-encodes to itself.

#![no_main]

use kanect_core::StoreError;
use kanect_store::fuzzing::{journal_frame, journal_record, journal_writes};
use libfuzzer_sys::fuzz_target;

/// Length and CRC-32 before each payload.
const HEADER: usize = 8;

fuzz_target!(|data: &[u8]| {
    let Some((&mode, bytes)) = data.split_first() else { return };
    if mode % 2 == 1 {
        match journal_writes(bytes) {
            Ok(writes) => {
                let record = journal_record(&writes).expect("decoded writes encode");
                assert_eq!(&record[HEADER..], bytes, "payload of {writes:?}");
            }
            Err(error) => assert!(matches!(error, StoreError::Corrupt(_)), "{error:?}"),
        }
        return;
    }
    let mut rest = bytes;
    while let Some((payload, after)) = journal_frame(rest) {
        assert!(after.len() < rest.len(), "a record takes bytes");
        let framed = &rest[..rest.len() - after.len()];
        assert_eq!(&framed[HEADER..], payload);
        match journal_writes(payload) {
            Ok(writes) => assert_eq!(journal_record(&writes).expect("decoded writes encode"), framed),
            Err(error) => assert!(matches!(error, StoreError::Corrupt(_)), "{error:?}"),
        }
        rest = after;
    }
});
