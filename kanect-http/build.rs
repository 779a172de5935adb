//! Embeds the web app: every file under `web/` becomes a `WebFile` in `$OUT_DIR/web_files.rs`
//! (included by `src/static_files.rs`), with what serving it well needs, worked out once here
//! rather than at each request, and from the files themselves so that no list is kept by hand:
//!
//! - its media type, by extension;
//! - a strong `ETag` per representation: the first 128 bits of the SHA-256 of the bytes sent, so a
//!   returning browser's `If-None-Match` gets a `304` for as long as the file is unchanged, across
//!   restarts and rebuilds;
//! - a gzip copy (best compression) of text formats when it is smaller; formats that are
//!   compressed already (PNG, WOFF2) are sent as they are. Only gzip: every client takes it, and
//!   `flate2` is small and already in the tree, where a brotli encoder is a large build
//!   dependency for a few kilobytes more;
//! - in each HTML page, a `<link rel="modulepreload">` for every module its module scripts import,
//!   directly or not, found from the `import`/`export … from` statements: the browser asks for the
//!   whole module graph in one round instead of discovering it import by import, and the list
//!   cannot fall behind the code. An import of a file that is not under `web/` fails the build.

use flate2::write::GzEncoder;
use flate2::Compression;
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::{Path, PathBuf};

fn main() {
    let root = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR")).join("web");
    let out_dir = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    println!("cargo:rerun-if-changed={}", root.display());
    let mut paths = Vec::new();
    collect(&root, &root, &mut paths);
    let files: BTreeMap<String, (PathBuf, Vec<u8>)> = paths
        .into_iter()
        .map(|(relative, absolute)| {
            println!("cargo:rerun-if-changed={}", absolute.display());
            let bytes = std::fs::read(&absolute).unwrap_or_else(|e| panic!("read {}: {e}", absolute.display()));
            (relative, (absolute, bytes))
        })
        .collect();

    let mut out =
        String::from("/// Every file of the web app, as built (see `build.rs`).\nstatic WEB_FILES: &[WebFile] = &[\n");
    for (path, (source, original)) in &files {
        let (content_type, compressible) = media(path);
        // A page is sent as rewritten here, from a copy under OUT_DIR; any other file as it is.
        let (identity_file, identity) = if path.ends_with(".html") {
            let page = with_module_preloads(path, original, &files);
            (write(&out_dir.join("pages").join(path), &page), page)
        } else {
            (source.clone(), original.clone())
        };
        let gzip =
            if compressible { Some(gzip(&identity)).filter(|zipped| zipped.len() < identity.len()) } else { None };
        out.push_str(&format!(
            "    WebFile {{ path: {path:?}, content_type: {content_type:?}, identity: {}, gzip: {} }},\n",
            representation(&identity_file, &identity),
            gzip.map_or("None".to_string(), |zipped| format!(
                "Some({})",
                representation(&write(&out_dir.join("gzip").join(format!("{path}.gz")), &zipped), &zipped)
            )),
        ));
    }
    out.push_str("];\n");
    std::fs::write(out_dir.join("web_files.rs"), out).expect("write web_files.rs");
}

/// Every file under `dir`, as (path relative to `root` with `/` separators, absolute path),
/// leaving out hidden files and directories (editor and OS litter).
fn collect(root: &Path, dir: &Path, files: &mut Vec<(String, PathBuf)>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            println!("cargo:rerun-if-changed={}", path.display());
            collect(root, &path, files);
        } else if let Ok(relative) = path.strip_prefix(root) {
            let name = relative.to_string_lossy().replace('\\', "/");
            if !name.split('/').any(|part| part.starts_with('.')) {
                files.push((name, path));
            }
        }
    }
}

/// The media type of a file by its extension, and whether gzip can shrink it (not so for
/// formats that are compressed already).
fn media(path: &str) -> (&'static str, bool) {
    match path.rsplit('.').next().unwrap_or("") {
        "html" => ("text/html; charset=utf-8", true),
        "js" | "mjs" => ("text/javascript; charset=utf-8", true),
        "css" => ("text/css; charset=utf-8", true),
        "json" => ("application/json", true),
        "svg" => ("image/svg+xml", true),
        "txt" => ("text/plain; charset=utf-8", true),
        "ico" => ("image/x-icon", true),
        "png" => ("image/png", false),
        "woff2" => ("font/woff2", false),
        _ => ("application/octet-stream", false),
    }
}

/// Writes `bytes` to `file` (under OUT_DIR), creating its directory; returns `file`.
fn write(file: &Path, bytes: &[u8]) -> PathBuf {
    std::fs::create_dir_all(file.parent().expect("a file under OUT_DIR")).expect("create a directory under OUT_DIR");
    std::fs::write(file, bytes).unwrap_or_else(|e| panic!("write {}: {e}", file.display()));
    file.to_path_buf()
}

/// The Rust expression of a `Representation` that embeds `file`, whose contents are `bytes`.
fn representation(file: &Path, bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    let tag: String = digest.iter().take(16).map(|byte| format!("{byte:02x}")).collect();
    format!("Representation {{ bytes: include_bytes!({:?}), etag: \"\\\"{tag}\\\"\" }}", file.display().to_string())
}

/// `bytes` gzipped at the best compression (deterministic: no name, no time in the header).
fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::best());
    encoder.write_all(bytes).expect("gzip into memory");
    encoder.finish().expect("gzip into memory")
}

/// The page at `path` with a `<link rel="modulepreload">` line, indented alike, before its first
/// module script for every module that its module scripts load, themselves included.
fn with_module_preloads(path: &str, page: &[u8], files: &BTreeMap<String, (PathBuf, Vec<u8>)>) -> Vec<u8> {
    let html = std::str::from_utf8(page).unwrap_or_else(|e| panic!("{path} is not UTF-8: {e}"));
    let scripts = module_scripts(html);
    let Some(&(first, _)) = scripts.first() else { return page.to_vec() };
    let mut graph = BTreeSet::new();
    let mut pending: Vec<String> = scripts
        .iter()
        .map(|(_, src)| resolve(path, src).unwrap_or_else(|| panic!("{path}: a module script outside web/: {src}")))
        .collect();
    while let Some(module) = pending.pop() {
        if !graph.insert(module.clone()) {
            continue;
        }
        let (_, source) =
            files.get(&module).unwrap_or_else(|| panic!("{path} loads {module}, which is not under web/"));
        let source = std::str::from_utf8(source).unwrap_or_else(|e| panic!("{module} is not UTF-8: {e}"));
        for specifier in imports(source) {
            let target =
                resolve(&module, specifier).unwrap_or_else(|| panic!("{module} imports {specifier}, outside web/"));
            pending.push(target);
        }
    }
    let line_start = html[..first].rfind('\n').map_or(0, |at| at + 1);
    let indent = &html[line_start..first];
    let links: String =
        graph.iter().map(|module| format!("<link rel=\"modulepreload\" href=\"/{module}\">\n{indent}")).collect();
    format!("{}{links}{}", &html[..first], &html[first..]).into_bytes()
}

/// Each `<script type="module" src="…">` of a page: (byte offset of the tag, its `src`).
fn module_scripts(html: &str) -> Vec<(usize, &str)> {
    html.match_indices("<script")
        .filter_map(|(at, _)| {
            let tag = &html[at..at + html[at..].find('>')?];
            let src = tag.split_once("src=\"")?.1.split('"').next()?;
            tag.contains("type=\"module\"").then_some((at, src))
        })
        .collect()
}

/// The specifiers a module imports that name a file of the app (`./`, `../` or `/`): static
/// `import … from`, `export … from`, side-effect `import '…'` and dynamic `import('…')` with a
/// string literal. (Bare specifiers cannot load in a browser without an import map; the app has
/// none, and a string like `'sent from '` in the code is not taken for one.)
fn imports(source: &str) -> Vec<&str> {
    let mut found = Vec::new();
    for keyword in ["from", "import"] {
        for (at, _) in source.match_indices(keyword) {
            let starts_word = source[..at]
                .chars()
                .next_back()
                .is_none_or(|c| !(c.is_alphanumeric() || c == '_' || c == '$' || c == '.'));
            if !starts_word {
                continue;
            }
            let mut rest = source[at + keyword.len()..].trim_start();
            if keyword == "import" {
                rest = rest.strip_prefix('(').map_or(rest, str::trim_start);
            }
            let Some(quote) = rest.chars().next().filter(|c| *c == '\'' || *c == '"') else { continue };
            let Some(specifier) = rest[1..].split(quote).next() else { continue };
            if specifier.starts_with("./") || specifier.starts_with("../") || specifier.starts_with('/') {
                found.push(specifier);
            }
        }
    }
    found
}

/// The file (relative to `web/`) that `specifier` names from the file at `from`; `None` if it
/// climbs out of `web/`.
fn resolve(from: &str, specifier: &str) -> Option<String> {
    let mut parts: Vec<&str> = if specifier.starts_with('/') {
        Vec::new()
    } else {
        from.split('/').collect::<Vec<_>>().split_last().map_or(Vec::new(), |(_, dir)| dir.to_vec())
    };
    for part in specifier.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            part => parts.push(part),
        }
    }
    Some(parts.join("/"))
}
