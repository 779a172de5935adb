//! Reading requests: JSON bodies under a size and a time limit, query parameters, ids in
//! paths; and the small response helpers handlers share.
//!
//! The time limit travels with the request as a [`ReadDeadline`] extension, set when its
//! headers have been read, so every body read — whichever handler does it — stops at the same
//! point: a client that declares a body and then trickles it, or sends nothing, cannot hold its
//! connection (and a handler) for longer than `HttpConfig::body_read_timeout`.

use crate::error::{json_response, ApiError, Body};
use crate::incoming::RequestBody;
use bytes::Bytes;
use http_body_util::{BodyExt, Limited};
use hyper::header::CONTENT_LENGTH;
use hyper::{Request, Response, StatusCode};
use kanect_core::{HistoryPage, Seq};
use serde::de::{DeserializeOwned, IgnoredAny};
use std::collections::HashMap;
use std::str::FromStr;
use std::time::Duration;
use tokio::time::Instant;

/// Default page size when `limit` is absent.
pub(crate) const DEFAULT_LIMIT: usize = 50;

/// When a request's body must have arrived: a request extension set by `routes::handle` as
/// soon as the headers are read.
#[derive(Clone, Copy, Debug)]
pub(crate) struct ReadDeadline {
    at: Instant,
    /// The configured time, for the error message.
    limit: Duration,
}

impl ReadDeadline {
    /// `limit` from now.
    pub(crate) fn after(limit: Duration) -> Self {
        ReadDeadline { at: Instant::now() + limit, limit }
    }
}

/// Reads the whole body, refusing more than `limit` bytes with `413 body_too_large`, and a body
/// that has not arrived by the request's [`ReadDeadline`] with `408 request_timeout` (which
/// closes the connection).
pub(crate) async fn read_body(request: Request<RequestBody>, limit: usize) -> Result<Bytes, ApiError> {
    let declared = request.headers().get(CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if declared.is_some_and(|length| length > limit as u64) {
        return Err(ApiError::body_too_large(limit));
    }
    // Every request gets one in `routes::handle`; the default is the safe side of a missing one.
    let deadline = request.extensions().get::<ReadDeadline>().copied();
    let deadline = deadline.unwrap_or_else(|| ReadDeadline::after(crate::HttpConfig::default().body_read_timeout));
    let read = Limited::new(request.into_body(), limit).collect();
    let Ok(read) = tokio::time::timeout_at(deadline.at, read).await else {
        return Err(ApiError::request_timeout(deadline.limit));
    };
    match read {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(error) if error.is::<http_body_util::LengthLimitError>() => Err(ApiError::body_too_large(limit)),
        Err(error) => {
            Err(ApiError::new(StatusCode::BAD_REQUEST, "invalid_body", format!("could not read the body: {error}")))
        }
    }
}

/// Parses a JSON body into `T` (which should deny unknown fields).
pub(crate) async fn read_json<T: DeserializeOwned>(request: Request<RequestBody>, limit: usize) -> Result<T, ApiError> {
    parse_json(&read_body(request, limit).await?)
}

/// Like [`read_json`], but an empty body means `T::default()`.
pub(crate) async fn read_optional_json<T: DeserializeOwned + Default>(
    request: Request<RequestBody>,
    limit: usize,
) -> Result<T, ApiError> {
    parse_optional_json(&read_body(request, limit).await?)
}

/// The body step of [`read_json`]: the JSON object in `bytes` as a `T`.
pub(crate) fn parse_json<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    // serde reads a struct from an array of its fields as well; a body is an object only.
    if bytes.iter().find(|b| !matches!(b, b' ' | b'\t' | b'\n' | b'\r')) == Some(&b'[') {
        return Err(ApiError::new(
            StatusCode::BAD_REQUEST,
            "wrong_type",
            "a request body is a JSON object, not an array",
        ));
    }
    serde_json::from_slice(bytes).map_err(|error| {
        // serde_json reports a value that cannot start an enum (a number, `true`, ...) as a
        // syntax error: when the body is valid JSON after all, the value is of the wrong type.
        if error.is_syntax() && serde_json::from_slice::<IgnoredAny>(bytes).is_ok() {
            return ApiError::new(StatusCode::BAD_REQUEST, "wrong_type", format!("a value of the wrong type: {error}"));
        }
        ApiError::from_json(&error)
    })
}

/// The body step of [`read_optional_json`].
pub(crate) fn parse_optional_json<T: DeserializeOwned + Default>(bytes: &[u8]) -> Result<T, ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    parse_json(bytes)
}

/// An id from a path segment.
pub(crate) fn path_id<T: FromStr>(segment: &str) -> Result<T, ApiError> {
    segment.parse().map_err(|_| ApiError::bad_input("malformed", "id", format!("{segment:?} is not an id")))
}

/// A path segment percent-decoded (an emoji in `/messages/{id}/reactions/{emoji}`).
///
/// # Errors
/// `400 malformed` (field `field`) if the decoded bytes are not UTF-8.
pub(crate) fn path_text(segment: &str, field: &'static str) -> Result<String, ApiError> {
    let decoded = percent_encoding::percent_decode_str(segment).decode_utf8();
    decoded
        .map(|text| text.into_owned())
        .map_err(|_| ApiError::bad_input("malformed", field, format!("{segment:?} is not percent-encoded UTF-8")))
}

/// Query parameters, decoded.
pub(crate) struct Query(HashMap<String, String>);

impl Query {
    /// The request's query parameters (the last of repeated names wins).
    pub(crate) fn of<B>(request: &Request<B>) -> Self {
        let query = request.uri().query().unwrap_or("");
        Query(form_urlencoded::parse(query.as_bytes()).into_owned().collect())
    }

    /// A text parameter.
    pub(crate) fn text(&self, name: &str) -> Option<&str> {
        self.0.get(name).map(String::as_str)
    }

    /// A parameter parsed into `T`; `wrong_type` naming it if it does not parse.
    pub(crate) fn parsed<T: FromStr>(&self, name: &str) -> Result<Option<T>, ApiError> {
        self.text(name)
            .map(|text| {
                text.parse().map_err(|_| ApiError::bad_input("wrong_type", name, format!("bad value for {name}")))
            })
            .transpose()
    }

    /// The page size: `limit`, default [`DEFAULT_LIMIT`] (the engine checks the range).
    pub(crate) fn limit(&self) -> Result<usize, ApiError> {
        Ok(self.parsed("limit")?.unwrap_or(DEFAULT_LIMIT))
    }

    /// Which history page: `before=<seq>`, `after=<seq>`, or the latest.
    pub(crate) fn history_page(&self) -> Result<HistoryPage, ApiError> {
        match (self.parsed::<u64>("before")?, self.parsed::<u64>("after")?) {
            (Some(_), Some(_)) => Err(ApiError::bad_input("invalid_value", "before", "give before or after, not both")),
            (Some(before), None) => Ok(HistoryPage::Before(Seq(before))),
            (None, Some(after)) => Ok(HistoryPage::After(Seq(after))),
            (None, None) => Ok(HistoryPage::Latest),
        }
    }
}

/// `200` with a JSON body.
pub(crate) fn ok(value: &impl serde::Serialize) -> Response<Body> {
    json_response(StatusCode::OK, value)
}

/// `204 No Content`.
pub(crate) fn no_content() -> Response<Body> {
    let mut response = Response::new(Body::default());
    *response.status_mut() = StatusCode::NO_CONTENT;
    response
}

/// The cursor for the next page of a list ordered by `key`: `None` when the page is short.
pub(crate) fn next_cursor<T, K>(items: &[T], limit: usize, key: impl Fn(&T) -> K) -> Option<K> {
    if items.len() < limit {
        return None;
    }
    items.last().map(key)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Deserialize;

    #[derive(Deserialize, Debug, Default)]
    #[serde(deny_unknown_fields)]
    struct LogIn {
        username: String,
        #[serde(default)]
        password: String,
    }

    /// Found by the `rest_body` fuzz target: serde reads a struct from an array of its fields
    /// too, so `["alice","pw"]` logged in, and `[]` opened a poll.
    #[test]
    fn a_body_is_an_object_not_an_array_of_fields() {
        let login: LogIn = parse_json(br#" {"username":"alice","password":"pw"}"#).unwrap();
        assert_eq!((login.username.as_str(), login.password.as_str()), ("alice", "pw"));
        for array in [&br#"["alice","pw"]"#[..], b" \r\n\t[\"alice\"]", b"[]"] {
            assert_eq!(parse_json::<LogIn>(array).unwrap_err().code, "wrong_type");
            assert_eq!(parse_optional_json::<LogIn>(array).unwrap_err().code, "wrong_type");
        }
        assert_eq!(parse_optional_json::<LogIn>(b" ").unwrap().username, "");
    }

    /// Found by the `rest_body` fuzz target: serde_json reports a number where an enum is
    /// expected as a syntax error, so `{"kind":3}` was `invalid_json`.
    #[test]
    fn valid_json_of_the_wrong_kind_is_wrong_type_not_invalid_json() {
        use kanect_proto::rest::Mark;
        for body in [&br#"{"kind":3}"#[..], br#"{"kind":true}"#, br#"{"kind":null}"#, br#"{"kind":[]}"#] {
            assert_eq!(parse_json::<Mark>(body).unwrap_err().code, "wrong_type", "{}", String::from_utf8_lossy(body));
        }
        for broken in [&br#"{"kind":}"#[..], br#"{"kind":3"#, b"{"] {
            assert_eq!(parse_json::<Mark>(broken).unwrap_err().code, "invalid_json");
        }
    }
}
