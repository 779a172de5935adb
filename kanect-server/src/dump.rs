//! `export FILE` and `import FILE` on the store the flags open: the dump
//! (`kanect::store::backup`) to and from a file or the standard streams, made durable before
//! the command says it is done. `backup DIR` and `import DIR`: the dump and the attachments'
//! bytes together, in a directory (`kanect::store::backup::{backup, restore}`).

use crate::store::{open_blobs, open_store, Purpose, StoreFlags};
use crate::AnyError;
use kanect::Store;
use std::io::BufRead;
use std::path::{Path, PathBuf};

/// A dump's file while it is written: `.NAME.partial` beside `file`, new (never a file or a
/// link found there) and readable by its owner only (a dump holds password hashes, session
/// token hashes and every message). [`finish`] renames it over `file`, so `file` is either the
/// new dump, whole, or what it was before: an older backup is not lost to a failed one.
pub(crate) fn partial_file(file: &Path) -> Result<(PathBuf, std::fs::File), AnyError> {
    use std::os::unix::fs::OpenOptionsExt;
    let name = file.file_name().ok_or_else(|| format!("{}: not a file name", file.display()))?;
    let partial = file.with_file_name(format!(".{}.partial", name.to_string_lossy()));
    // One left by a run that was killed: not a dump, and in the way.
    let _ = std::fs::remove_file(&partial);
    let out = std::fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(&partial);
    let out = out.map_err(|error| format!("{}: {error}", partial.display()))?;
    Ok((partial, out))
}

/// Puts a [`partial_file`], written and synced, in place of `file`, and syncs the directory.
pub(crate) fn finish(partial: &Path, file: &Path) -> std::io::Result<()> {
    std::fs::rename(partial, file)?;
    let directory = file.parent().filter(|parent| !parent.as_os_str().is_empty()).unwrap_or(Path::new("."));
    std::fs::File::open(directory)?.sync_all()
}

/// `export FILE`: the store's dump to a file (made durable before it says so, and in place
/// only once whole) or stdout.
pub(crate) async fn export(store: &dyn Store, file: &Path) -> Result<(), AnyError> {
    let counts = if file == Path::new("-") {
        kanect::store::backup::export(store, std::io::BufWriter::new(std::io::stdout().lock())).await?
    } else {
        let (partial, out) = partial_file(file)?;
        let written = async {
            let mut writer = std::io::BufWriter::new(out);
            let counts = kanect::store::backup::export(store, &mut writer).await?;
            writer.into_inner().map_err(|error| error.into_error())?.sync_all()?;
            finish(&partial, file)?;
            Ok::<_, AnyError>(counts)
        }
        .await;
        if written.is_err() {
            let _ = std::fs::remove_file(&partial);
        }
        written?
    };
    eprintln!("exported {counts}");
    Ok(())
}

/// A password from stdin: its first line, without the line end.
pub(crate) fn read_password() -> std::io::Result<String> {
    let mut password = String::new();
    std::io::stdin().lock().read_line(&mut password)?;
    Ok(password.trim_end_matches(['\r', '\n']).to_string())
}

/// `import FILE`: a dump from a file or stdin into the (empty) store, flushed before it says so.
pub(crate) async fn import(store: &dyn Store, file: &Path) -> Result<(), AnyError> {
    let counts = if file == Path::new("-") {
        kanect::store::backup::import(store, std::io::stdin().lock()).await?
    } else {
        let input = std::fs::File::open(file).map_err(|error| format!("{}: {error}", file.display()))?;
        kanect::store::backup::import(store, std::io::BufReader::new(input)).await?
    };
    store.flush().await?;
    eprintln!("imported {counts}");
    Ok(())
}

/// `backup DIR`: the dump and the attachments' bytes of the store the flags open, into DIR
/// (`kanect::store::backup::backup`). An embedded store in use by a running server is refused
/// with what to do instead: `--from` its address.
pub(crate) async fn backup(flags: &StoreFlags, dir: &Path) -> Result<(), AnyError> {
    let opened = open_store(flags, Purpose::Backup).await?;
    let blobs = open_blobs(flags, &opened)?;
    let (counts, copied) = kanect::store::backup::backup(&*opened, &*blobs, dir).await?;
    eprintln!("backed up {counts}; {copied}");
    Ok(())
}

/// `import DIR`: a backup directory into the (empty) store and its blob store, every blob
/// checked against its record before anything is imported.
pub(crate) async fn restore(flags: &StoreFlags, dir: &Path) -> Result<(), AnyError> {
    let opened = open_store(flags, Purpose::Backup).await?;
    let blobs = open_blobs(flags, &opened)?;
    let (counts, copied) = kanect::store::backup::restore(&*opened, &*blobs, dir).await?;
    eprintln!("imported {counts}; {copied}");
    Ok(())
}
