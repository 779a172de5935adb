//! The write-ahead journal of message appends: how an append becomes durable without a sled
//! flush.
//!
//! Why: in sled 0.34 every `apply_batch` seals and writes sled's current log buffer on its IO
//! thread pool (whose `notify_all` wakes all seven of its threads for each job) and takes
//! sled's process-wide lock for writing, and every `flush()` waits for that write and its
//! `sync_file_range`. With one batch and one flush per group commit, this was most of the
//! CPU time of a durable send below saturation and half of the flusher's cycle at saturation.
//! The journal replaces both on the hot path: a group of appends is one record appended to a
//! plain file and `fdatasync`ed, then applied to sled with plain inserts (which take sled's
//! lock only for reading). sled writes its own log in the background as its buffers fill, and
//! is flushed only at a *checkpoint* (see `commit`), after which the journal files it covers
//! are deleted.
//!
//! The rule that makes this correct: a group is applied to sled only after its record is
//! durable in the journal, so whatever sled holds after a crash (some prefix of its log) is
//! contained in sled's last checkpoint plus the journal. [`replay`] at open re-applies every
//! journal record, each key only where it is absent: message and index records are written
//! once, when the message is created (edits overwrite the message record later, outside the
//! journal, and must not be undone). A message and its index entry are one record, so a
//! replay restores both or, for a torn last record that was never acknowledged, neither.
//!
//! Files are made ahead of need: with fsync on, the next file is written out in full (its magic,
//! then zeros up to [`Options::file_bytes`]), synced and renamed into place, on a thread of its
//! own while the current one fills. Records then overwrite zeros in place, so on a file system
//! that overwrites in place (ext4, XFS; not a copy-on-write one like btrfs) an `fdatasync`
//! writes only the record's data, with no file-size or extent update to persist: measured
//! faster than a sync of a record appended to a growing file (`benches/README.md`, "Journal
//! files made ahead"). If the zeros cannot be written (a nearly full disk), the file
//! grows instead. A file made ahead and never used is deleted when the store closes (after a
//! crash, the next open replays it as empty and deletes it).
//!
//! Files are `journal/<number>.log` in the store's directory, numbered in write order. A file
//! starts with [`MAGIC`]; each record is its payload's length (u32 LE), the CRC-32 of that
//! length and the payload (u32 LE), then the payload: a write count (u32 LE) and, per write,
//! key length (u32 LE), key, value length (u32 LE), value. Reading stops at the first record
//! that is short or fails its checksum: a write torn by a crash, never acknowledged, or the
//! zeros not yet written over.

use super::format::sled_error;
use kanect_core::StoreError;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write as _};
use std::os::unix::fs::FileExt as _;
use std::path::{Path, PathBuf};
use std::thread::JoinHandle;

/// A key and the value to put under it: what a journal record holds, and what group commit
/// applies to sled once the record is durable.
pub(crate) type Write = (Vec<u8>, Vec<u8>);

/// The first bytes of every journal file: what it is and its encoding version.
const MAGIC: &[u8; 8] = b"KNJRNL01";
/// The journal's subdirectory of the store's directory.
const DIR: &str = "journal";
/// Record header: payload length and CRC-32.
const HEADER: usize = 8;

/// How journal files are written.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Options {
    /// `fdatasync` in [`Journal::sync`]; off only for stores that promise no durability.
    pub(crate) fsync: bool,
    /// With `fsync`, each file is this long, zero-filled and synced, before its first record.
    pub(crate) file_bytes: u64,
}

#[cfg(test)]
impl Options {
    /// No syncs, and so no file made ahead: for tests of the journal and group commit alone.
    pub(crate) const NO_SYNC: Options = Options { fsync: false, file_bytes: 0 };
}

/// The journal file being appended to.
pub(crate) struct Journal {
    dir: PathBuf,
    file: File,
    number: u64,
    len: u64,
    options: Options,
    /// The next file, being made on a thread of its own (with `fsync` only).
    next: Option<JoinHandle<io::Result<Prepared>>>,
    /// The record being encoded, reused between groups.
    buffer: Vec<u8>,
}

/// A journal file ready for its first record: the magic, then zeros (see [`prepare`]).
struct Prepared {
    number: u64,
    file: File,
}

/// Tries this many numbers past the one asked for when files already hold them (left by
/// another version, say).
const NUMBERS_TRIED: u64 = 8;

/// A file is written under this name and renamed to its number once whole and synced, so that
/// a crash never leaves a numbered file that is not. Ignored by [`numbers`] and [`replay`].
const MAKING: &str = "making.tmp";

/// The most a file is made with, whatever [`Options::file_bytes`] says: past it, records
/// extend the file (slower syncs) rather than an open writing out gigabytes.
const MAX_ZEROS: u64 = 64 << 20;

/// Makes the entries of directory `path` durable.
pub(crate) fn sync_dir(path: &Path) -> io::Result<()> {
    File::open(path)?.sync_all()
}

impl Journal {
    /// Starts a journal at file `number` (or the first free number after it) in the journal
    /// directory `dir` (see [`dir`]); with `fsync`, its directory entry is durable before any
    /// record is appended.
    pub(crate) fn create(dir: &Path, number: u64, options: Options) -> io::Result<Journal> {
        // The directory's own entry is made durable by the store's open (see `recover`).
        fs::create_dir_all(dir)?;
        let first = prepare(dir, number, options)?;
        Ok(Journal::start(dir, first, options))
    }

    /// A journal writing to `first`, with the file after it started on its own thread.
    fn start(dir: &Path, first: Prepared, options: Options) -> Journal {
        let next = if options.fsync { make_ahead(dir, first.number + 1, options) } else { None };
        let (file, number, len) = (first.file, first.number, MAGIC.len() as u64);
        Journal { dir: dir.to_path_buf(), file, number, len, options, next, buffer: Vec::new() }
    }

    /// A journal writing to `file` (tests: a file whose writes fail).
    #[cfg(test)]
    pub(crate) fn on_file(dir: &Path, file: File) -> Journal {
        let options = Options { fsync: true, file_bytes: 0 };
        Journal { dir: dir.to_path_buf(), file, number: 1, len: 0, options, next: None, buffer: Vec::new() }
    }

    /// This file's number.
    pub(crate) fn number(&self) -> u64 {
        self.number
    }

    /// Bytes written to this file so far.
    pub(crate) fn len(&self) -> u64 {
        self.len
    }

    /// Appends one record holding `writes` (not yet durable: see [`Journal::sync`]).
    pub(crate) fn append(&mut self, writes: &[Write]) -> io::Result<()> {
        encode_record(writes, &mut self.buffer)?;
        // Over the zeros of a file made ahead, not at its end.
        self.file.write_all_at(&self.buffer, self.len)?;
        self.len += self.buffer.len() as u64;
        Ok(())
    }

    /// Makes every record appended so far durable.
    pub(crate) fn sync(&self) -> io::Result<()> {
        if self.options.fsync {
            self.file.sync_data()?;
        }
        Ok(())
    }

    /// Moves on to the next file (made ahead; made now, growing, if that failed); returns the
    /// number of the one it replaces, which stays on disk until a checkpoint covers it
    /// ([`remove`]). Waits for the file being made ahead, if it is not ready yet.
    pub(crate) fn rotate(&mut self) -> io::Result<u64> {
        let made = match self.next.take().map(JoinHandle::join) {
            Some(Ok(Ok(made))) => Some(made),
            Some(Ok(Err(error))) => {
                tracing::warn!(%error, "cannot make the next journal file ahead; using one that grows");
                None
            }
            Some(Err(_)) => {
                tracing::warn!("the thread making the next journal file panicked; using one that grows");
                None
            }
            None => None,
        };
        let next = match made {
            Some(made) => made,
            // No zeros on this thread: every send waits for it.
            None => prepare(&self.dir, self.number + 1, Options { file_bytes: 0, ..self.options })?,
        };
        let next = Journal::start(&self.dir, next, self.options);
        Ok(std::mem::replace(self, next).number)
    }

    /// Where the journal files of this store live.
    pub(crate) fn dir(&self) -> &Path {
        &self.dir
    }
}

impl Drop for Journal {
    /// Waits for the file being made ahead (no thread writes into the store after it closes)
    /// and deletes it: it holds no record, so a clean stop leaves no file to replay.
    fn drop(&mut self) {
        if let Some(Ok(Ok(unused))) = self.next.take().map(JoinHandle::join) {
            drop(unused.file);
            // Left behind (the removal is not synced either), it replays as empty.
            let _ = fs::remove_file(file_name(&self.dir, unused.number));
        }
    }
}

/// Starts making file `number` on a thread of its own; None if no thread can be started
/// (`rotate` then makes the file itself).
fn make_ahead(dir: &Path, number: u64, options: Options) -> Option<JoinHandle<io::Result<Prepared>>> {
    let dir = dir.to_path_buf();
    let thread = std::thread::Builder::new().name("kanect-journal".into());
    thread
        .spawn(move || prepare(&dir, number, options))
        .inspect_err(|error| tracing::warn!(%error, "cannot start a thread to make the next journal file"))
        .ok()
}

/// Makes journal file `number`, or the first free number after it: its magic and, with
/// `fsync`, zeros up to `file_bytes` (at most [`MAX_ZEROS`]), synced, then gives it its name
/// and syncs the directory. Where the zeros cannot be written (a nearly full disk, say), the
/// file gets its magic only: a slower sync is better than no journal.
fn prepare(dir: &Path, number: u64, options: Options) -> io::Result<Prepared> {
    let making = dir.join(MAKING);
    let file = match make(&making, options) {
        Err(error) if options.fsync && options.file_bytes > 0 => {
            tracing::warn!(%error, "cannot write out a journal file ahead; using one that grows");
            make(&making, Options { file_bytes: 0, ..options })?
        }
        made => made?,
    };
    let mut taken = number;
    // This process holds the store's lock and makes one file at a time: nothing else names one.
    while fs::exists(file_name(dir, taken))? {
        if taken >= number + NUMBERS_TRIED {
            return Err(io::Error::new(io::ErrorKind::AlreadyExists, "journal file numbers taken"));
        }
        taken += 1;
    }
    fs::rename(&making, file_name(dir, taken))?;
    if options.fsync {
        sync_dir(dir)?;
    }
    Ok(Prepared { number: taken, file })
}

/// Writes the file to be named next at `path` (over whatever a failed attempt left there).
fn make(path: &Path, options: Options) -> io::Result<File> {
    let file = OpenOptions::new().create(true).truncate(true).write(true).open(path)?;
    (&file).write_all(MAGIC)?;
    if options.fsync {
        let zeros = vec![0; 1 << 20];
        let mut left = options.file_bytes.min(MAX_ZEROS).saturating_sub(MAGIC.len() as u64);
        while left > 0 {
            let chunk = left.min(zeros.len() as u64) as usize;
            (&file).write_all(&zeros[..chunk])?;
            left -= chunk as u64;
        }
        file.sync_all()?;
    }
    Ok(file)
}

/// The journal directory of the store in `store`.
pub(crate) fn dir(store: &Path) -> PathBuf {
    store.join(DIR)
}

/// Digits in a journal file's name: every u64, zero-padded, so names sort as numbers.
const NAME_DIGITS: usize = 20;

pub(crate) fn file_name(dir: &Path, number: u64) -> PathBuf {
    dir.join(format!("{number:0NAME_DIGITS$}.log"))
}

/// The numbers of the journal files in `dir`, oldest first.
pub(crate) fn numbers(dir: &Path) -> io::Result<Vec<u64>> {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(error) if error.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(error) => return Err(error),
    };
    let mut numbers = Vec::new();
    for entry in entries {
        let name = entry?.file_name();
        // Anything else in the directory is not ours to read or delete.
        let digits = name
            .to_str()
            .and_then(|n| n.strip_suffix(".log"))
            .filter(|n| n.len() == NAME_DIGITS && n.bytes().all(|b| b.is_ascii_digit()));
        if let Some(number) = digits.and_then(|n| n.parse().ok()) {
            numbers.push(number);
        }
    }
    numbers.sort_unstable();
    Ok(numbers)
}

/// Deletes journal files `..=upto` of the directory `dir` (after a checkpoint covered them).
pub(crate) fn remove(dir: &Path, upto: u64) -> io::Result<()> {
    for number in numbers(dir)? {
        if number <= upto {
            fs::remove_file(file_name(dir, number))?;
        }
    }
    Ok(())
}

/// What [`replay`] found.
#[derive(Debug, Default)]
pub(crate) struct Replayed {
    /// Records read (each a group of appends).
    pub(crate) records: u64,
    /// Keys written because sled did not have them.
    pub(crate) restored: u64,
    /// The highest file number seen (0 if none).
    pub(crate) last_file: u64,
    /// Files that end in a torn record (never acknowledged), not in zeros or at their end.
    pub(crate) torn: u64,
}

/// Re-applies every record of the journal in `dir` to `db`, each key only where it is
/// absent, oldest file first. The files stay: delete them with [`remove`] once a sled flush
/// has made the result durable.
///
/// # Errors
/// [`StoreError::Format`] for a file that is not a Kanect journal; [`StoreError::Corrupt`] for
/// a record whose checksum holds but whose writes do not decode (a bug, not a torn write);
/// [`StoreError::Backend`] for I/O and sled errors.
pub(crate) fn replay(dir: &Path, db: &sled::Db) -> Result<Replayed, StoreError> {
    let mut replayed = Replayed::default();
    for number in numbers(dir).map_err(StoreError::backend)? {
        replayed.last_file = number;
        let path = file_name(dir, number);
        let bytes = fs::read(&path).map_err(StoreError::backend)?;
        let Some(mut rest) = bytes.strip_prefix(MAGIC.as_slice()) else {
            // Files made before they were renamed into place could be left short by a crash
            // between their creation and their magic: empty.
            if bytes.len() < MAGIC.len() && MAGIC.starts_with(&bytes) {
                continue;
            }
            return Err(StoreError::Format(format!("{} is not a Kanect journal file", path.display())));
        };
        while let Some((payload, after)) = next_record(rest) {
            for (key, value) in decode_writes(payload)? {
                let absent = db.compare_and_swap(key, None as Option<&[u8]>, Some(value)).map_err(sled_error)?;
                replayed.restored += u64::from(absent.is_ok());
            }
            replayed.records += 1;
            rest = after;
        }
        // Zeros are the unwritten rest of a file made ahead.
        if rest.iter().any(|&byte| byte != 0) {
            replayed.torn += 1;
            tracing::warn!(file = %path.display(), bytes = rest.len(), "journal ends in a torn record (never acknowledged); ignored");
        }
    }
    Ok(replayed)
}

/// Encodes one record into `out` (cleared first).
pub(super) fn encode_record(writes: &[Write], out: &mut Vec<u8>) -> io::Result<()> {
    let too_long = |_| io::Error::new(io::ErrorKind::InvalidInput, "journal record too long");
    out.clear();
    out.extend_from_slice(&[0; HEADER]);
    out.extend_from_slice(&u32::try_from(writes.len()).map_err(too_long)?.to_le_bytes());
    for (key, value) in writes {
        for part in [key, value] {
            out.extend_from_slice(&u32::try_from(part.len()).map_err(too_long)?.to_le_bytes());
            out.extend_from_slice(part);
        }
    }
    let payload_len = u32::try_from(out.len() - HEADER).map_err(too_long)?.to_le_bytes();
    out[..4].copy_from_slice(&payload_len);
    let crc = checksum(payload_len, &out[HEADER..]);
    out[4..HEADER].copy_from_slice(&crc.to_le_bytes());
    Ok(())
}

/// A record's CRC-32, over its length as well as its payload: a run of zero bytes (what some
/// file systems leave past the last synced write after a power loss) must not read as an
/// empty record, and CRC-32 of nothing is 0.
fn checksum(len: [u8; 4], payload: &[u8]) -> u32 {
    let mut hasher = crc32fast::Hasher::new();
    hasher.update(&len);
    hasher.update(payload);
    hasher.finalize()
}

/// The next whole, intact record's payload and what follows it; None at the end or at a torn
/// record.
pub(super) fn next_record(bytes: &[u8]) -> Option<(&[u8], &[u8])> {
    let len_bytes: [u8; 4] = bytes.get(..4)?.try_into().ok()?;
    let len = u32::from_le_bytes(len_bytes) as usize;
    let crc = u32::from_le_bytes(bytes.get(4..HEADER)?.try_into().ok()?);
    let payload = bytes.get(HEADER..HEADER.checked_add(len)?)?;
    (checksum(len_bytes, payload) == crc).then(|| (payload, &bytes[HEADER + len..]))
}

/// A key and its value, borrowed from a record.
type WriteRef<'a> = (&'a [u8], &'a [u8]);

/// The writes of an intact record.
pub(super) fn decode_writes(payload: &[u8]) -> Result<Vec<WriteRef<'_>>, StoreError> {
    let corrupt = || StoreError::Corrupt("a journal record with a valid checksum does not decode".into());
    let count = payload.get(..4).and_then(|b| b.try_into().ok()).map(u32::from_le_bytes).ok_or_else(corrupt)?;
    let mut rest = &payload[4..];
    let mut writes = Vec::with_capacity(count.min(1 << 16) as usize);
    for _ in 0..count {
        let key = split_part(&mut rest).ok_or_else(corrupt)?;
        let value = split_part(&mut rest).ok_or_else(corrupt)?;
        writes.push((key, value));
    }
    if !rest.is_empty() {
        return Err(corrupt());
    }
    Ok(writes)
}

/// Splits a length-prefixed part off the front of `bytes`.
fn split_part<'a>(bytes: &mut &'a [u8]) -> Option<&'a [u8]> {
    let len = u32::from_le_bytes(bytes.get(..4)?.try_into().ok()?) as usize;
    let part = bytes.get(4..4usize.checked_add(len)?)?;
    *bytes = &bytes[4 + len..];
    Some(part)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(writes: &[Write]) -> Vec<u8> {
        let mut out = Vec::new();
        encode_record(writes, &mut out).unwrap();
        out
    }

    #[test]
    fn records_round_trip_back_to_back() {
        let first = vec![(b"k1".to_vec(), b"v1".to_vec()), (Vec::new(), b"empty key".to_vec())];
        let second = vec![(b"k2".to_vec(), Vec::new())];
        let bytes = [record(&first), record(&second), record(&[])].concat();
        let (payload, rest) = next_record(&bytes).unwrap();
        assert_eq!(decode_writes(payload).unwrap(), [(&b"k1"[..], &b"v1"[..]), (&b""[..], &b"empty key"[..])]);
        let (payload, rest) = next_record(rest).unwrap();
        assert_eq!(decode_writes(payload).unwrap(), [(&b"k2"[..], &b""[..])]);
        let (payload, rest) = next_record(rest).unwrap();
        assert!(decode_writes(payload).unwrap().is_empty());
        assert!(rest.is_empty() && next_record(rest).is_none());
    }

    #[test]
    fn a_torn_or_damaged_record_ends_the_journal() {
        let bytes = record(&[(b"key".to_vec(), b"value".to_vec())]);
        for cut in 0..bytes.len() {
            assert!(next_record(&bytes[..cut]).is_none(), "cut at {cut}");
        }
        for at in 0..bytes.len() {
            let mut damaged = bytes.clone();
            damaged[at] ^= 0x40;
            // A damaged length may still frame a shorter "record": its checksum fails.
            assert!(next_record(&damaged).is_none(), "flipped byte {at}");
        }
    }

    #[test]
    fn zeros_after_the_last_record_are_a_torn_tail_not_a_record() {
        let bytes = [record(&[(b"k".to_vec(), b"v".to_vec())]), vec![0; 64]].concat();
        let (_, rest) = next_record(&bytes).unwrap();
        assert_eq!(rest.len(), 64);
        assert!(next_record(rest).is_none());
    }

    #[test]
    fn a_checksummed_record_that_does_not_decode_is_corrupt() {
        let payload = [2u8, 0, 0, 0, 3, 0, 0, 0, b'k'];
        let len = (payload.len() as u32).to_le_bytes();
        let mut bytes = len.to_vec();
        bytes.extend_from_slice(&checksum(len, &payload).to_le_bytes());
        bytes.extend_from_slice(&payload);
        let (payload, _) = next_record(&bytes).unwrap();
        assert!(matches!(decode_writes(payload), Err(StoreError::Corrupt(_))));
    }

    #[test]
    fn rotation_skips_a_number_already_taken() {
        let dir = tempfile::tempdir().unwrap();
        let mut journal = Journal::create(dir.path(), 1, Options::NO_SYNC).unwrap();
        std::fs::write(file_name(dir.path(), 2), b"left by a failed start").unwrap();
        assert_eq!(journal.rotate().unwrap(), 1);
        assert_eq!(journal.number(), 3);
    }

    fn file_len(dir: &Path, number: u64) -> u64 {
        fs::metadata(file_name(dir, number)).unwrap().len()
    }

    /// A journal with fsync on, its files made ahead at `file_bytes`.
    fn made_ahead(dir: &Path, file_bytes: u64) -> Journal {
        Journal::create(dir, 1, Options { fsync: true, file_bytes }).unwrap()
    }

    /// Replays the journal in `dir` into a fresh sled database.
    fn replay_fresh(dir: &Path) -> (Replayed, sled::Db) {
        let db = sled::Config::new().temporary(true).open().unwrap();
        (replay(dir, &db).unwrap(), db)
    }

    #[test]
    fn with_fsync_files_are_made_ahead_zero_filled_and_replay_reads_only_the_records() {
        let dir = tempfile::tempdir().unwrap();
        let mut journal = made_ahead(dir.path(), 4096);
        assert_eq!(file_len(dir.path(), 1), 4096);
        journal.append(&[(b"a".to_vec(), b"1".to_vec()), (b"b".to_vec(), b"2".to_vec())]).unwrap();
        journal.append(&[(b"c".to_vec(), b"3".to_vec())]).unwrap();
        journal.sync().unwrap();
        assert_eq!(file_len(dir.path(), 1), 4096, "records are written over the zeros");

        // The next file was made while this one filled, and the one after it is under way.
        assert_eq!(journal.rotate().unwrap(), 1);
        assert_eq!((journal.number(), file_len(dir.path(), 2)), (2, 4096));
        assert_eq!(&fs::read(file_name(dir.path(), 2)).unwrap()[..MAGIC.len()], MAGIC);
        // Closing waits for that one and deletes it, unused. (Only now is no file being made:
        // before, the thread making the next one may still be writing it under its other name.)
        drop(journal);
        assert_eq!(numbers(dir.path()).unwrap(), [1, 2]);
        assert!(!dir.path().join(MAKING).exists(), "made under another name, then renamed");

        let (replayed, db) = replay_fresh(dir.path());
        assert_eq!((replayed.records, replayed.restored, replayed.last_file), (2, 3, 2));
        assert_eq!(replayed.torn, 0, "zeros after the records are not a torn record");
        assert_eq!(db.get(b"c").unwrap().as_deref(), Some(&b"3"[..]));
        assert_eq!(db.len(), 3);

        // Bytes of a record torn by a crash, amid the zeros, are.
        let second = fs::OpenOptions::new().write(true).open(file_name(dir.path(), 2)).unwrap();
        second.write_all_at(&[9, 0, 0, 0, 1, 2], MAGIC.len() as u64).unwrap();
        assert_eq!(replay(dir.path(), &db).unwrap().torn, 1);
    }

    #[test]
    fn when_the_next_file_was_not_made_ahead_rotation_makes_one_that_grows() {
        let dir = tempfile::tempdir().unwrap();
        let mut journal = made_ahead(dir.path(), 4096);
        // As if the disk had been full: the thread's file is discarded, unfinished.
        let made_ahead = journal.next.take().unwrap().join().unwrap().unwrap();
        fs::remove_file(file_name(dir.path(), made_ahead.number)).unwrap();
        journal.next = Some(std::thread::spawn(|| Err(io::Error::other("no space left on device"))));

        assert_eq!(journal.rotate().unwrap(), 1);
        assert_eq!((journal.number(), file_len(dir.path(), 2)), (2, MAGIC.len() as u64));
        journal.append(&[(b"k".to_vec(), b"v".to_vec())]).unwrap();
        journal.sync().unwrap();
        drop(journal);
        assert_eq!(replay_fresh(dir.path()).0.records, 1);
    }

    #[test]
    fn a_record_past_the_made_ahead_size_extends_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let mut journal = made_ahead(dir.path(), 64);
        for key in [b"first", b"other"] {
            journal.append(&[(key.to_vec(), vec![7; 100])]).unwrap();
        }
        journal.sync().unwrap();
        assert_eq!(file_len(dir.path(), 1), journal.len());
        drop(journal);
        assert_eq!(replay_fresh(dir.path()).0.records, 2);
    }

    #[test]
    fn files_are_numbered_in_order_and_removed_up_to_a_number() {
        let dir = tempfile::tempdir().unwrap();
        let mut journal = Journal::create(dir.path(), 9, Options::NO_SYNC).unwrap();
        assert_eq!(journal.rotate().unwrap(), 9);
        assert_eq!(journal.rotate().unwrap(), 10);
        for foreign in ["notes.txt", "5.log", "+0000000000000000005.log"] {
            std::fs::write(dir.path().join(foreign), b"not ours").unwrap();
        }
        assert_eq!(numbers(dir.path()).unwrap(), [9, 10, 11]);
        remove(dir.path(), 10).unwrap();
        assert_eq!(numbers(dir.path()).unwrap(), [11]);
        assert!(dir.path().join("notes.txt").exists() && dir.path().join("5.log").exists());
    }
}
