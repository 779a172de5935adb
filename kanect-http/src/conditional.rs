//! Conditional requests (RFC 9110 §13): a client that holds a copy sends its `ETag` back in
//! `If-None-Match`, and gets a bodiless `304 Not Modified` while that copy is still current. Used
//! by every response that has a validator: the web app's files, attachments, avatars.

use crate::error::Body;
use http_body_util::{BodyExt, Empty};
use hyper::header::{HeaderMap, IF_NONE_MATCH};
use hyper::{Response, StatusCode};

/// Whether `If-None-Match` names `etag` or is `*` — i.e. whether the client's copy is current and
/// a `304` is the answer. The comparison is the weak one that RFC 9110 §13.1.2 asks for here: a
/// `W/"…"` tag matches its strong form. Several header lines and comma lists are all read.
pub(crate) fn none_match(headers: &HeaderMap, etag: &str) -> bool {
    headers
        .get_all(IF_NONE_MATCH)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(|tag| tag.trim().trim_start_matches("W/"))
        .any(|tag| tag == etag || tag == "*")
}

/// A `304 Not Modified`, with no body; the caller adds the headers a `200` would have carried
/// that describe the cached copy (`ETag`, `Cache-Control`, `Vary`), as RFC 9110 §15.4.5 asks.
pub(crate) fn not_modified() -> Response<Body> {
    let mut response = Response::new(Empty::new().map_err(|never| match never {}).boxed_unsync());
    *response.status_mut() = StatusCode::NOT_MODIFIED;
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use hyper::header::HeaderValue;

    #[test]
    fn if_none_match_takes_lists_weak_tags_and_a_star() {
        let mut headers = HeaderMap::new();
        headers.insert(IF_NONE_MATCH, HeaderValue::from_static("\"other\", W/\"abc\""));
        assert!(none_match(&headers, "\"abc\""));
        assert!(!none_match(&headers, "\"abd\""));
        headers.insert(IF_NONE_MATCH, HeaderValue::from_static("*"));
        assert!(none_match(&headers, "\"x\""));
        assert!(!none_match(&HeaderMap::new(), "\"x\""));
        headers.insert(IF_NONE_MATCH, HeaderValue::from_static("\"a\""));
        headers.append(IF_NONE_MATCH, HeaderValue::from_static("\"b\""));
        assert!(none_match(&headers, "\"b\""), "a second header line counts too");
    }
}
