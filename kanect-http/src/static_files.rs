//! The embedded web app: every file under `kanect-http/web/` is compiled into the binary (see
//! `build.rs`) and served from `/`, so the server works offline and needs no install step.
//! (`X-Content-Type-Options: nosniff`, which every response carries, is added by `routes`.)
//!
//! # Caching
//! Every file is `Cache-Control: no-cache` with a strong `ETag` made at build time from its
//! bytes: a browser keeps its copy but asks at each use, and while the file is unchanged the
//! answer is a bodiless `304`. No file is cached blind (`max-age`, `immutable`): the modules
//! import one another by fixed names, so a new build with an old module still cached would
//! mix versions; content-addressed names would lift that, at the price of rewriting every
//! import at build time. A reload costs one small round of `304`s, in parallel thanks to the
//! page's `modulepreload` links (see `build.rs`).
//!
//! # Compression
//! Text files are also embedded gzipped, sent so when `Accept-Encoding` prefers it (see
//! [`crate::encoding`]), with `Content-Encoding: gzip`; such a file's answers all carry
//! `Vary: Accept-Encoding`, and each coding has its own `ETag` (they are different bytes).

use crate::conditional::{none_match, not_modified};
use crate::encoding::prefers_gzip;
use crate::error::{ApiError, Body};
use hyper::header::{
    HeaderMap, HeaderValue, CACHE_CONTROL, CONTENT_ENCODING, CONTENT_LENGTH, CONTENT_SECURITY_POLICY, CONTENT_TYPE,
    ETAG, VARY,
};
use hyper::{Method, Response};

/// One file of the web app, as `build.rs` embeds it.
struct WebFile {
    /// Its path under `web/`, which is its URL path without the leading `/`.
    path: &'static str,
    /// Its media type (by extension).
    content_type: &'static str,
    /// The file as it is (for a page, with the module preloads added).
    identity: Representation,
    /// The file gzipped, for text formats where that is smaller.
    gzip: Option<Representation>,
}

/// One coding of a file: its bytes and their strong `ETag`.
struct Representation {
    bytes: &'static [u8],
    /// Quoted, as the header carries it: `"` + 32 hex digits of the bytes' SHA-256 + `"`.
    etag: &'static str,
}

include!(concat!(env!("OUT_DIR"), "/web_files.rs"));

/// Serves `path` (already stripped of its leading `/`; empty means `index.html`) to a `GET` or
/// `HEAD` with these request `headers`: the whole file, a `304` when `If-None-Match` holds the
/// current `ETag` of the coding chosen, and for `HEAD` the same headers without the body.
pub(crate) fn serve(method: &Method, path: &str, headers: &HeaderMap) -> Result<Response<Body>, ApiError> {
    if *method != Method::GET && *method != Method::HEAD {
        return Err(ApiError::not_found());
    }
    let path = if path.is_empty() || path.ends_with('/') { format!("{path}index.html") } else { path.to_string() };
    let Some(file) = WEB_FILES.iter().find(|file| file.path == path) else {
        return Err(ApiError::not_found());
    };
    let gzip = file.gzip.as_ref().filter(|_| prefers_gzip(headers));
    let chosen = gzip.unwrap_or(&file.identity);
    let mut response = if none_match(headers, chosen.etag) {
        not_modified()
    } else {
        let body = if *method == Method::HEAD { Body::default() } else { crate::error::whole(chosen.bytes) };
        let mut response = Response::new(body);
        let headers = response.headers_mut();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static(file.content_type));
        headers.insert(CONTENT_LENGTH, HeaderValue::from(chosen.bytes.len()));
        if gzip.is_some() {
            headers.insert(CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        }
        headers.insert(
            CONTENT_SECURITY_POLICY,
            HeaderValue::from_static(
                "default-src 'self'; connect-src 'self'; img-src 'self' data:; style-src 'self'; frame-ancestors 'none'",
            ),
        );
        response
    };
    let headers = response.headers_mut();
    headers.insert(ETAG, HeaderValue::from_static(chosen.etag));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    if file.gzip.is_some() {
        headers.insert(VARY, HeaderValue::from_static("Accept-Encoding"));
    }
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;
    use hyper::body::Body as _;
    use hyper::header::{ACCEPT_ENCODING, IF_NONE_MATCH};
    use hyper::StatusCode;
    use std::io::Read;

    fn get(path: &str, headers: &[(hyper::header::HeaderName, &str)]) -> Response<Body> {
        request(&Method::GET, path, headers)
    }

    fn request(method: &Method, path: &str, headers: &[(hyper::header::HeaderName, &str)]) -> Response<Body> {
        let mut map = HeaderMap::new();
        for (name, value) in headers {
            map.append(name, HeaderValue::from_str(value).unwrap());
        }
        serve(method, path, &map).unwrap()
    }

    async fn body(response: Response<Body>) -> Vec<u8> {
        response.into_body().collect().await.unwrap().to_bytes().to_vec()
    }

    fn header(response: &Response<Body>, name: hyper::header::HeaderName) -> Option<&str> {
        response.headers().get(name).map(|value| value.to_str().unwrap())
    }

    #[test]
    fn serves_index_and_refuses_the_rest() {
        let response = get("", &[]);
        assert_eq!(response.headers()[CONTENT_TYPE], "text/html; charset=utf-8");
        let empty = HeaderMap::new();
        assert_eq!(serve(&Method::GET, "../Cargo.toml", &empty).unwrap_err().code, "not_found");
        assert_eq!(serve(&Method::POST, "", &empty).unwrap_err().code, "not_found");
    }

    #[tokio::test]
    async fn a_current_etag_gets_a_bodiless_304_in_any_of_its_forms() {
        let first = get("app.js", &[]);
        assert_eq!(first.status(), StatusCode::OK);
        let etag = header(&first, ETAG).unwrap().to_string();
        assert!(etag.len() == 34 && etag.starts_with('"') && etag.ends_with('"'), "{etag}");
        assert_eq!(header(&first, CACHE_CONTROL), Some("no-cache"));
        let weak = format!("W/{etag}");
        let listed = format!("\"0123\", {etag}");
        for sent in [etag.as_str(), weak.as_str(), listed.as_str(), "*"] {
            let again = get("app.js", &[(IF_NONE_MATCH, sent)]);
            assert_eq!(again.status(), StatusCode::NOT_MODIFIED, "{sent}");
            assert_eq!(header(&again, ETAG), Some(etag.as_str()));
            assert_eq!(header(&again, CACHE_CONTROL), Some("no-cache"));
            assert_eq!(header(&again, VARY), Some("Accept-Encoding"));
            assert_eq!(header(&again, CONTENT_LENGTH), None);
            assert!(body(again).await.is_empty());
        }
        let stale = get("app.js", &[(IF_NONE_MATCH, "\"0123\"")]);
        assert_eq!(stale.status(), StatusCode::OK);
        assert_eq!(body(stale).await, body(first).await);
        let other = header(&get("style.css", &[]), ETAG).unwrap().to_string();
        assert_ne!(other, etag, "each file has its own tag");
        assert_eq!(get("style.css", &[(IF_NONE_MATCH, &etag)]).status(), StatusCode::OK);
    }

    #[tokio::test]
    async fn gzip_when_asked_decodes_to_the_file_and_has_its_own_etag() {
        let plain = get("views/chat.js", &[]);
        let zipped = get("views/chat.js", &[(ACCEPT_ENCODING, "gzip, deflate, br")]);
        assert_eq!(header(&plain, CONTENT_ENCODING), None);
        assert_eq!(header(&zipped, CONTENT_ENCODING), Some("gzip"));
        for response in [&plain, &zipped] {
            assert_eq!(header(response, VARY), Some("Accept-Encoding"));
            assert_eq!(header(response, CONTENT_TYPE), Some("text/javascript; charset=utf-8"));
        }
        let (plain_tag, zipped_tag) =
            (header(&plain, ETAG).unwrap().to_string(), header(&zipped, ETAG).unwrap().to_string());
        assert_ne!(plain_tag, zipped_tag);
        let length: usize = header(&zipped, CONTENT_LENGTH).unwrap().parse().unwrap();
        let (plain, zipped) = (body(plain).await, body(zipped).await);
        assert_eq!(zipped.len(), length);
        assert!(zipped.len() < plain.len() / 2, "{} of {}", zipped.len(), plain.len());
        let mut decoded = Vec::new();
        flate2::read::GzDecoder::new(zipped.as_slice()).read_to_end(&mut decoded).unwrap();
        assert_eq!(decoded, plain);
        assert_eq!(plain, include_bytes!("../web/views/chat.js"));
        // The client's copy is the other coding's: it is not current for this one.
        let crossed = get("views/chat.js", &[(ACCEPT_ENCODING, "gzip"), (IF_NONE_MATCH, &plain_tag)]);
        assert_eq!(crossed.status(), StatusCode::OK);
        assert_eq!(header(&crossed, ETAG), Some(zipped_tag.as_str()));
        let current = get("views/chat.js", &[(ACCEPT_ENCODING, "gzip"), (IF_NONE_MATCH, &zipped_tag)]);
        assert_eq!(current.status(), StatusCode::NOT_MODIFIED);
        assert_eq!(get("views/chat.js", &[(ACCEPT_ENCODING, "gzip;q=0")]).headers().get(CONTENT_ENCODING), None);
    }

    #[tokio::test]
    async fn head_has_the_headers_of_get_and_no_body() {
        for accept in ["identity", "gzip"] {
            let got = get("style.css", &[(ACCEPT_ENCODING, accept)]);
            let head = request(&Method::HEAD, "style.css", &[(ACCEPT_ENCODING, accept)]);
            assert_eq!(head.status(), StatusCode::OK);
            for name in
                [CONTENT_TYPE, CONTENT_LENGTH, CONTENT_ENCODING, ETAG, CACHE_CONTROL, VARY, CONTENT_SECURITY_POLICY]
            {
                assert_eq!(header(&head, name.clone()), header(&got, name.clone()), "{accept}: {name}");
            }
            assert_eq!(head.body().size_hint().exact(), Some(0));
            assert!(body(head).await.is_empty());
        }
    }

    /// Every text file has a gzip copy, smaller; a file with none is sent without `Vary`.
    #[test]
    fn text_files_are_gzipped_and_only_those_vary() {
        for file in WEB_FILES {
            let text = file.content_type.starts_with("text/") || file.content_type == "image/svg+xml";
            if let Some(gzip) = &file.gzip {
                assert!(gzip.bytes.len() < file.identity.bytes.len(), "{}", file.path);
                assert_ne!(gzip.etag, file.identity.etag, "{}", file.path);
            } else {
                assert!(!text, "{} is text and has no gzip copy", file.path);
                assert_eq!(header(&get(file.path, &[]), VARY), None, "{}", file.path);
            }
        }
    }

    /// The page preloads every module of the app (all but the service worker, which is no
    /// module of the page): a module that `build.rs` failed to find from the imports, or one
    /// that nothing imports any more, fails here. And it names nothing that is not a file.
    #[tokio::test]
    async fn the_page_preloads_every_module() {
        let page = String::from_utf8(body(get("", &[])).await).unwrap();
        let preloaded: Vec<&str> = page
            .split("<link rel=\"modulepreload\" href=\"/")
            .skip(1)
            .map(|rest| rest.split('"').next().unwrap())
            .collect();
        let modules: Vec<&str> =
            WEB_FILES.iter().map(|file| file.path).filter(|path| path.ends_with(".js") && *path != "sw.js").collect();
        assert!(modules.contains(&"views/chat.js"));
        assert_eq!(preloaded, modules, "preloaded (left) against the modules under web/ (right)");
        let first_link = page.find("<link rel=\"modulepreload\"").unwrap();
        assert!(first_link < page.find("<script type=\"module\"").unwrap(), "the preloads come before the script");
    }

    /// A block left open (a merge once dropped a media query's closing brace) does not fail
    /// to parse: it pulls every rule after it under its condition, silently. Comments aside,
    /// every brace of the style sheet closes, and never below the top level.
    #[test]
    fn every_block_of_the_style_sheet_closes() {
        let css = include_str!("../web/style.css");
        let (mut depth, mut line, mut rest) = (0usize, 1, css);
        while let Some(c) = rest.chars().next() {
            if let Some(after) = rest.strip_prefix("/*") {
                let end = after.find("*/").expect("an unclosed comment");
                line += after[..end].matches('\n').count();
                rest = &after[end + 2..];
                continue;
            }
            match c {
                '{' => depth += 1,
                '}' => depth = depth.checked_sub(1).unwrap_or_else(|| panic!("a '}}' with nothing open, line {line}")),
                '\n' => line += 1,
                _ => {}
            }
            rest = &rest[c.len_utf8()..];
        }
        assert_eq!(depth, 0, "blocks left open at the end of style.css");
    }
}
