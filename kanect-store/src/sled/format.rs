//! The on-disk format: its version, checked at open, and the mapping of sled's errors; the
//! record codecs it names are the embedded engines' shared ones (`crate::kv`).
//!
//! Records other than messages are encoded with serde_json: they are small and rarely written,
//! the core's types already derive serde, and a JSON value can be read by hand when debugging
//! a store (`sled` keys are binary, values are text). Messages, written on the hot path where
//! sled's cost grows with their size, have their own binary codec (`kv::message_codec`).
//!
//! The version is a u32 big-endian under [`keys::FORMAT`]. A fresh (empty) store gets
//! [`FORMAT_VERSION`]; a store written by an older or newer build, or without a version but
//! with data (not a Kanect store), is refused with [`StoreError::Format`] rather than misread. A value
//! that does not decode is [`StoreError::Corrupt`], never a panic.

pub(crate) use crate::kv::records::{decode, decode_text, encode};
use crate::kv::{email_index, keys};
use kanect_core::StoreError;
use std::path::Path;

/// The layout this build writes and reads. Bump it whenever a key or value encoding changes.
///
/// - 1: JSON messages and a seq counter record per conversation.
/// - 2: no counter (the last message key is the last seq), binary message records.
/// - 3: no client-id record: message ids are derived from client ids, so the id index finds
///   a resend.
/// - 4: message appends are durable in the journal (`journal/` beside sled's files) until a
///   checkpoint; the keys and values are those of version 3.
///   Later, the `login_attempts` tree was added without a bump (see `keys` for why).
/// - 5: attachments: their records and owner index (`0x0e`, `0x0f`), and message records that
///   carry them (tag 2 of `kv::message_codec`); every version-4 record is valid as it is.
/// - 6: message records that reply, mention or carry reactions (tag 3 of
///   `kv::message_codec`); every version-5 record is valid as it is.
/// - 7: account tokens (`0x10`, `0x11`) and user records with their e-mail verification and
///   digest fields; every version-6 record is valid as it is. The bump keeps an older build,
///   which would drop those fields when it rewrites a user, from opening the store.
/// - 8: the users' address index (`0x14`, see `kv::email_index`), which a password reset reads;
///   the upgrade builds it from the user records, in the batch that writes the version.
///
/// Versions 3 to 7 are upgraded in place at open (below 8, with the index built) (their data is already version 5's: version
/// 3 lacks only the journal, version 4 only what attachments add), so that an older build
/// refuses the store afterwards instead of ignoring its journal (3) or finding a message
/// with attachments corrupt in the middle of a history page (4). Versions 1 and 2 are refused
/// with a clear [`StoreError::Format`], not migrated: they only ever existed before Kanect's
/// first release.
pub(crate) const FORMAT_VERSION: u32 = 8;

/// The oldest version this build opens, upgrading it to [`FORMAT_VERSION`].
const UPGRADES_FROM: u32 = 3;

/// Refuses a directory that another engine wrote: fjall leaves a `version` file and a
/// `keyspaces` folder (sled writes neither). Without this, sled would start an empty store
/// beside the real one and the server would come up with no data.
///
/// # Errors
/// [`StoreError::Format`] naming both engines and the migration (`export` from the one,
/// `import` into the other).
pub(crate) fn refuse_other_engines(path: &Path) -> Result<(), StoreError> {
    if path.join("version").is_file() && path.join("keyspaces").is_dir() {
        return Err(StoreError::Format(format!(
            "{0} holds a fjall store (FjallStore), not a sled one (SledStore): open it with the fjall \
             engine (the server's default `--engine fjall`), or migrate it to sled: `server \
             --data-dir {0} export kanect.jsonl`, then `server --engine sled --data-dir NEW_DIR \
             import kanect.jsonl`",
            path.display()
        )));
    }
    Ok(())
}

/// Checks the store's format version, writing it into an empty store and over an upgradable
/// one. The caller flushes before acknowledging anything.
pub(crate) fn check_version(tree: &sled::Tree) -> Result<(), StoreError> {
    match tree.get(keys::FORMAT).map_err(sled_error)? {
        Some(value) => {
            let version: [u8; 4] = value.as_ref().try_into().map_err(|_| {
                StoreError::Format(format!("format version record of {} bytes, expected 4", value.len()))
            })?;
            match u32::from_be_bytes(version) {
                FORMAT_VERSION => Ok(()),
                UPGRADES_FROM..FORMAT_VERSION => upgrade(tree),
                older if older < FORMAT_VERSION => Err(StoreError::Format(format!(
                    "store has the older format version {older}, which this build does not read or migrate \
                     (it reads version {FORMAT_VERSION}); open it with the build that wrote it"
                ))),
                newer => Err(StoreError::Format(format!(
                    "store has format version {newer}, newer than this build's version {FORMAT_VERSION}"
                ))),
            }
        }
        None => {
            if let Some((key, _)) = tree.iter().next().transpose().map_err(sled_error)? {
                if !keys::is_meta(&key) {
                    return Err(StoreError::Format("the database holds data but no Kanect format version".into()));
                }
            }
            write_version(tree)
        }
    }
}

/// Upgrades a store of an older version this build reads: builds the address index (which no
/// older version has) and writes the version, in one batch, so a crash leaves the old version
/// with no index or the new one with it.
fn upgrade(tree: &sled::Tree) -> Result<(), StoreError> {
    let mut batch = sled::Batch::default();
    for record in tree.scan_prefix(keys::all_users()) {
        let (key, value) = record.map_err(sled_error)?;
        if let Some(entry) = email_index::entry_of_record(&key, &value)? {
            batch.insert(entry, &[]);
        }
    }
    batch.insert(keys::FORMAT, &FORMAT_VERSION.to_be_bytes());
    tree.apply_batch(batch).map_err(sled_error)
}

fn write_version(tree: &sled::Tree) -> Result<(), StoreError> {
    tree.insert(keys::FORMAT, &FORMAT_VERSION.to_be_bytes()).map(drop).map_err(sled_error)
}

/// Maps a sled error to the core's kinds: detected corruption stays corruption, everything
/// else (I/O, a held lock, misuse) is a backend failure.
pub(crate) fn sled_error(error: sled::Error) -> StoreError {
    match error {
        sled::Error::Corruption { at, .. } => StoreError::Corrupt(format!("sled detected corruption at {at:?}")),
        other => StoreError::backend(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree() -> sled::Db {
        sled::Config::new().temporary(true).open().unwrap()
    }

    #[test]
    fn a_fresh_store_gets_the_current_version_and_keeps_it() {
        let db = tree();
        check_version(&db).unwrap();
        check_version(&db).unwrap();
        assert_eq!(db.get(keys::FORMAT).unwrap().unwrap().as_ref(), FORMAT_VERSION.to_be_bytes());
    }

    #[test]
    fn versions_3_to_7_are_upgraded_in_place() {
        for old in UPGRADES_FROM..FORMAT_VERSION {
            let db = tree();
            db.insert(keys::FORMAT, &old.to_be_bytes()).unwrap();
            db.insert(b"\x02some user", b"{}".as_slice()).unwrap();
            check_version(&db).unwrap();
            assert_eq!(db.get(keys::FORMAT).unwrap().unwrap().as_ref(), FORMAT_VERSION.to_be_bytes(), "from {old}");
            assert_eq!(db.get(b"\x02some user").unwrap().unwrap().as_ref(), b"{}");
        }
    }

    #[test]
    fn newer_or_malformed_versions_and_foreign_data_are_format_errors() {
        let db = tree();
        db.insert(keys::FORMAT, &(FORMAT_VERSION + 1).to_be_bytes()).unwrap();
        let newer = format!("version {}, newer", FORMAT_VERSION + 1);
        assert!(matches!(check_version(&db), Err(StoreError::Format(m)) if m.contains(&newer)));
        db.insert(keys::FORMAT, &1u32.to_be_bytes()).unwrap();
        assert!(matches!(check_version(&db), Err(StoreError::Format(m)) if m.contains("older format version 1")));
        db.insert(keys::FORMAT, &2u32.to_be_bytes()).unwrap();
        assert!(matches!(check_version(&db), Err(StoreError::Format(m)) if m.contains("older format version 2")));
        db.insert(keys::FORMAT, b"v1".as_slice()).unwrap();
        assert!(matches!(check_version(&db), Err(StoreError::Format(_))));
        let foreign = tree();
        foreign.insert(b"someone else's key", b"value".as_slice()).unwrap();
        assert!(matches!(check_version(&foreign), Err(StoreError::Format(_))));
    }

    #[test]
    fn undecodable_records_are_corrupt_not_panics() {
        let result: Result<kanect_core::User, _> = decode("user", b"\x01k", b"{not json");
        assert!(matches!(result, Err(StoreError::Corrupt(m)) if m.contains("user at key 016b")));
        assert!(matches!(decode_text("password", b"k", &[0xff, 0xfe]), Err(StoreError::Corrupt(_))));
    }
}
