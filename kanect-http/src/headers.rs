//! The headers every response of Kanect's carries, whichever listener and handler made it: the
//! client port's routes, the refusal of an address at its cap, and the metrics page. A module of
//! its own so that each of them takes it from below rather than from one another.

use crate::error::Body;
use hyper::header::{HeaderValue, CACHE_CONTROL, X_CONTENT_TYPE_OPTIONS};
use hyper::Response;

/// Adds `X-Content-Type-Options: nosniff` (a browser must not guess another type than the one
/// given, e.g. run a JSON body as a script) and, unless the response set its own caching (the
/// web app's files are `no-cache`), `Cache-Control: no-store` — API answers and errors hold
/// private data (messages, sessions, tokens) that no browser or shared cache may keep.
pub(crate) fn with_common_headers(mut response: Response<Body>) -> Response<Body> {
    let headers = response.headers_mut();
    headers.insert(X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.entry(CACHE_CONTROL).or_insert(HeaderValue::from_static("no-store"));
    response
}
