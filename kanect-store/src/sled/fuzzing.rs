//! Entry points for the fuzz targets in `fuzz/` (cargo feature `fuzzing`): the sled store's
//! decoders of what it reads back from disk, reachable from outside without making them part
//! of the API.
//!
//! Every function here calls the store's own codec; the targets feed them arbitrary bytes (a
//! damaged disk, a bug in an older build) and check that what decodes re-encodes to the same
//! bytes. Not for applications: nothing here is stable.

use super::{format, journal};
use crate::kv::{keys, message_codec};
use kanect_core::{Message, StoreError};
use serde::de::DeserializeOwned;
use serde::Serialize;

/// One write of a journal record: a key and its value.
pub type Write = (Vec<u8>, Vec<u8>);

/// Decodes the message record `value` stored under `key`.
pub fn decode_message(key: &[u8], value: &[u8]) -> Result<Message, StoreError> {
    message_codec::decode_message(key, value)
}

/// The key and value the store writes for `message`.
pub fn encode_message(message: &Message) -> Result<(Vec<u8>, Vec<u8>), StoreError> {
    Ok((keys::message(message.conversation, message.seq), message_codec::encode_message(message)?))
}

/// The first whole, intact journal record framed at the start of `bytes` (what follows a
/// journal file's magic): its payload and the bytes after it; None at a torn record or the end.
pub fn journal_frame(bytes: &[u8]) -> Option<(&[u8], &[u8])> {
    journal::next_record(bytes)
}

/// The writes of an intact journal record's payload.
pub fn journal_writes(payload: &[u8]) -> Result<Vec<Write>, StoreError> {
    let writes = journal::decode_writes(payload)?;
    Ok(writes.into_iter().map(|(key, value)| (key.to_vec(), value.to_vec())).collect())
}

/// The journal record (length, checksum, payload) holding `writes`.
pub fn journal_record(writes: &[Write]) -> std::io::Result<Vec<u8>> {
    let mut out = Vec::new();
    journal::encode_record(writes, &mut out)?;
    Ok(out)
}

/// Decodes a JSON record (user, session, conversation, receipt, audit entry) as the store reads
/// it.
pub fn decode_record<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, StoreError> {
    format::decode("record", b"", bytes)
}

/// Encodes a JSON record as the store writes it.
pub fn encode_record<T: Serialize>(record: &T) -> Result<Vec<u8>, StoreError> {
    format::encode(record)
}

/// What [`FormatCheck::check`] saw.
#[derive(Debug)]
pub struct FormatChecked {
    /// The check's verdict: whether the store would open.
    pub result: Result<(), StoreError>,
    /// The version record after the check (written or upgraded, if it opened).
    pub version_after: Option<Vec<u8>>,
}

/// A scratch database for the format version check, which reads and writes a sled tree.
#[derive(Debug)]
pub struct FormatCheck {
    /// A temporary (in-memory, deleted on drop) database, emptied before each check.
    db: sled::Db,
}

impl FormatCheck {
    /// Opens the scratch database.
    pub fn new() -> Result<FormatCheck, StoreError> {
        Ok(FormatCheck { db: sled::Config::new().temporary(true).open().map_err(format::sled_error)? })
    }

    /// Runs the open-time format check on a store holding `version` (the raw record, if any)
    /// and a record under `other_key` (if any). Errors are the scratch database's own.
    pub fn check(&self, version: Option<&[u8]>, other_key: Option<&[u8]>) -> Result<FormatChecked, StoreError> {
        self.db.clear().map_err(format::sled_error)?;
        if let Some(version) = version {
            self.db.insert(keys::FORMAT, version).map_err(format::sled_error)?;
        }
        if let Some(key) = other_key {
            self.db.insert(key, b"{}".as_slice()).map_err(format::sled_error)?;
        }
        let result = format::check_version(&self.db);
        let version_after = self.db.get(keys::FORMAT).map_err(format::sled_error)?.map(|v| v.to_vec());
        Ok(FormatChecked { result, version_after })
    }

    /// The version this build writes.
    pub fn current_version() -> u32 {
        format::FORMAT_VERSION
    }
}
