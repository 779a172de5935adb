//! The on-disk format: its version, checked at open, the refusal of another engine's
//! directory, and the mapping of fjall's errors; the record codecs it names are the embedded
//! engines' shared ones (`crate::kv`).
//!
//! Records other than messages are serde_json, as `SledStore`'s are: small, rarely written, and
//! readable by hand; messages have their binary codec (`kv::message_codec`).
//!
//! The version is a u32 big-endian under [`keys::FORMAT`] in the data keyspace. A fresh (empty)
//! store gets [`FORMAT_VERSION`], an older one whose data this build reads as it is is upgraded
//! in place ([`UPGRADES_FROM`]); a store with another version, or with data but no version,
//! is refused with [`StoreError::Format`] rather than misread. A directory that `SledStore`
//! wrote is refused before fjall touches it ([`refuse_other_engines`]): the engines' files
//! share nothing, and opening one's directory with the other would start an empty store beside
//! the real one.

pub(crate) use crate::kv::records::{decode, decode_text, encode};
use crate::kv::{email_index, keys};
use fjall::Keyspace;
use kanect_core::StoreError;
use std::path::Path;

/// The layout this build writes and reads. Bump it whenever a key or value encoding changes.
///
/// - 1: the key spaces of `SledStore`'s format 4, in the `kanect` keyspace, and the
///   `login_attempts` keyspace.
/// - 2: attachments: their records and owner index (`0x0e`, `0x0f`), and message records that
///   carry them (tag 2 of `kv::message_codec`), as `SledStore`'s format 5.
/// - 3: message records that reply, mention or carry reactions (tag 3 of `kv::message_codec`),
///   as `SledStore`'s format 6.
/// - 4: account tokens (`0x10`, `0x11`) and user records with their e-mail verification and
///   digest fields, as `SledStore`'s format 7.
/// - 5: the users' address index (`0x14`, see `kv::email_index`), as `SledStore`'s format 8;
///   the upgrade builds it from the user records.
pub(crate) const FORMAT_VERSION: u32 = 5;

/// The oldest version this build opens, upgrading it to [`FORMAT_VERSION`] ([`upgrade`]): every
/// record of an older version is valid in the newest as it is, only the address index is new.
/// The rewritten version is what makes an older build refuse the store afterwards, rather than
/// find a message with attachments corrupt in the middle of a history page (version 1) or miss
/// the index entries of accounts it creates (version 4).
const UPGRADES_FROM: u32 = 1;

/// Refuses a directory that another engine wrote: sled leaves a `conf` file and a `db` file
/// (fjall writes neither).
///
/// # Errors
/// [`StoreError::Format`] naming both engines and the migration (`export` from the old
/// engine, `import` into the new one).
pub(crate) fn refuse_other_engines(path: &Path) -> Result<(), StoreError> {
    if path.join("conf").is_file() && path.join("db").is_file() {
        return Err(StoreError::Format(format!(
            "{0} holds a sled store (SledStore), not a fjall one (FjallStore): open it with the sled \
             engine (the server's `--engine sled`), or migrate it to fjall: `server --engine sled \
             --data-dir {0} export kanect.jsonl`, then `server --data-dir NEW_DIR import kanect.jsonl` \
             (the server built with `--features sled`)",
            path.display()
        )));
    }
    Ok(())
}

/// Checks the store's format version, writing it into an empty store and over an upgradable
/// one. The caller makes it durable before acknowledging anything.
pub(crate) fn check_version(data: &Keyspace) -> Result<(), StoreError> {
    match data.get(keys::FORMAT).map_err(fjall_error)? {
        Some(value) => {
            let version: [u8; 4] = value.as_ref().try_into().map_err(|_| {
                StoreError::Format(format!("format version record of {} bytes, expected 4", value.len()))
            })?;
            match u32::from_be_bytes(version) {
                FORMAT_VERSION => Ok(()),
                UPGRADES_FROM..FORMAT_VERSION => upgrade(data),
                other => Err(StoreError::Format(format!(
                    "fjall store has format version {other}; this build reads version {FORMAT_VERSION}"
                ))),
            }
        }
        None => {
            if let Some(entry) = data.iter().next() {
                let key = entry.key().map_err(fjall_error)?;
                if !keys::is_meta(&key) {
                    return Err(StoreError::Format("the database holds data but no Kanect format version".into()));
                }
            }
            data.insert(keys::FORMAT, FORMAT_VERSION.to_be_bytes()).map_err(fjall_error)
        }
    }
}

/// Upgrades a store of an older version this build reads: builds the address index (which no
/// older version has), then writes the version. Entries first: a crash in between leaves the
/// old version, whose next open builds them again (writing an entry twice changes nothing).
fn upgrade(data: &Keyspace) -> Result<(), StoreError> {
    for record in data.prefix(keys::all_users()) {
        let (key, value) = record.into_inner().map_err(fjall_error)?;
        if let Some(entry) = email_index::entry_of_record(&key, &value)? {
            data.insert(entry, []).map_err(fjall_error)?;
        }
    }
    data.insert(keys::FORMAT, FORMAT_VERSION.to_be_bytes()).map_err(fjall_error)
}

/// Maps a fjall error to the core's kinds: a format fjall does not know is a format error,
/// detected corruption (a bad journal, block or tag) is corruption, everything else (I/O, a
/// held lock, a store poisoned by an earlier failed sync) a backend failure.
pub(crate) fn fjall_error(error: fjall::Error) -> StoreError {
    match error {
        fjall::Error::InvalidVersion(version) => {
            StoreError::Format(format!("fjall reports an unknown on-disk version {version:?}"))
        }
        fjall::Error::JournalRecovery(_)
        | fjall::Error::InvalidTrailer
        | fjall::Error::InvalidTag(_)
        | fjall::Error::Decompress(_)
        | fjall::Error::Unrecoverable => StoreError::Corrupt(format!("fjall: {error}")),
        // As sled reports its lock: an I/O error of kind `ResourceBusy`, which callers (the
        // server's "is a server running on it?") recognise whatever the engine.
        fjall::Error::Locked => StoreError::backend(std::io::Error::new(
            std::io::ErrorKind::ResourceBusy,
            "the directory is locked: another process (or store) has it open",
        )),
        other => StoreError::backend(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn undecodable_records_are_corrupt_not_panics() {
        let result: Result<kanect_core::User, _> = decode("user", b"\x01k", b"{not json");
        assert!(matches!(result, Err(StoreError::Corrupt(m)) if m.contains("user at key 016b")));
        assert!(matches!(decode_text("password", b"k", &[0xff, 0xfe]), Err(StoreError::Corrupt(_))));
    }
}
