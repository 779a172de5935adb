//! The embedded web app: every file under `kanect-http/web/` is compiled into the binary (see
//! `build.rs`) and served from `/`, so the server works offline and needs no install step.
//! (`X-Content-Type-Options: nosniff`, which every response carries, is added by `routes`.)

use crate::error::{ApiError, Body};
use hyper::header::{HeaderValue, CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE};
use hyper::{Method, Response, StatusCode};

include!(concat!(env!("OUT_DIR"), "/web_files.rs"));

/// Serves `path` (already stripped of its leading `/`; empty means `index.html`).
pub(crate) fn serve(method: &Method, path: &str) -> Result<Response<Body>, ApiError> {
    if *method != Method::GET && *method != Method::HEAD {
        return Err(ApiError::not_found());
    }
    let path = if path.is_empty() || path.ends_with('/') { format!("{path}index.html") } else { path.to_string() };
    let Some((_, bytes)) = WEB_FILES.iter().find(|(name, _)| *name == path) else {
        return Err(ApiError::not_found());
    };
    let body = if *method == Method::HEAD { Body::default() } else { crate::error::whole(*bytes) };
    let mut response = Response::new(body);
    *response.status_mut() = StatusCode::OK;
    let headers = response.headers_mut();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(content_type(&path)));
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    headers.insert(
        CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(
            "default-src 'self'; connect-src 'self'; img-src 'self' data:; style-src 'self'; frame-ancestors 'none'",
        ),
    );
    Ok(response)
}

fn content_type(path: &str) -> &'static str {
    match path.rsplit('.').next().unwrap_or("") {
        "html" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "json" => "application/json",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "ico" => "image/x-icon",
        "woff2" => "font/woff2",
        "txt" => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn serves_index_and_refuses_the_rest() {
        let response = serve(&Method::GET, "").unwrap();
        assert_eq!(response.headers()[CONTENT_TYPE], "text/html; charset=utf-8");
        assert_eq!(serve(&Method::GET, "../Cargo.toml").unwrap_err().code, "not_found");
        assert_eq!(serve(&Method::POST, "").unwrap_err().code, "not_found");
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
