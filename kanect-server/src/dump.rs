//! `export FILE` and `import FILE` on the store the flags open: the dump
//! (`kanect::store::backup`) to and from a file or the standard streams, made durable before
//! the command says it is done.

use crate::AnyError;
use kanect::Store;
use std::io::BufRead;
use std::path::Path;

/// A new backup file, readable by its owner only: a dump holds password hashes, session token
/// hashes and every message. (An existing file keeps its own permissions.)
pub(crate) fn backup_file(path: &Path) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new().write(true).create(true).truncate(true).mode(0o600).open(path)
}

/// `export FILE`: the store's dump to a file (made durable before it says so) or stdout.
pub(crate) async fn export(store: &dyn Store, file: &Path) -> Result<(), AnyError> {
    let counts = if file == Path::new("-") {
        kanect::store::backup::export(store, std::io::BufWriter::new(std::io::stdout().lock())).await?
    } else {
        let out = backup_file(file)?;
        let mut writer = std::io::BufWriter::new(out);
        let counts = kanect::store::backup::export(store, &mut writer).await?;
        writer.into_inner().map_err(|error| error.into_error())?.sync_all()?;
        counts
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
