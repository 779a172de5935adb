//! The other records (users, sessions, conversations, receipts, audit entries, log-in attempts)
//! as both embedded engines store them: JSON, which is compact enough off the hot path and
//! readable in a dump of the raw keys. Errors name the record and its key, so a corrupt
//! record can be found.

use kanect_core::StoreError;
use serde::de::DeserializeOwned;
use serde::Serialize;

/// Encodes a record.
pub(crate) fn encode<T: Serialize>(record: &T) -> Result<Vec<u8>, StoreError> {
    serde_json::to_vec(record).map_err(StoreError::backend)
}

/// Decodes a record, naming what and where on failure.
pub(crate) fn decode<T: DeserializeOwned>(what: &str, key: &[u8], bytes: &[u8]) -> Result<T, StoreError> {
    serde_json::from_slice(bytes).map_err(|error| StoreError::Corrupt(format!("{what} at key {}: {error}", hex(key))))
}

/// Decodes a UTF-8 text value.
pub(crate) fn decode_text(what: &str, key: &[u8], bytes: &[u8]) -> Result<String, StoreError> {
    String::from_utf8(bytes.to_vec())
        .map_err(|_| StoreError::Corrupt(format!("{what} at key {} is not UTF-8", hex(key))))
}

/// A key as hex, for error messages.
pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
