//! The one place where failures become HTTP statuses, JSON error bodies and socket error
//! frames.
//!
//! Engine errors keep their stable code ([`kanect_core::Error::code`]); adapter errors (bad
//! JSON, missing CSRF token, ...) get codes of their own, listed in `PROTOCOL.md`. Internal
//! failures are logged here with their source and reach the client only as `unavailable`. The
//! body and the frame are `kanect-proto`'s ([`ErrorBody`], [`ErrorFrame`]), and so is the
//! reading of a malformed JSON input ([`InputError`]).

use bytes::Bytes;
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::{BodyExt, Full};
use hyper::header::{HeaderValue, CONNECTION, CONTENT_TYPE, RETRY_AFTER};
use hyper::{Response, StatusCode};
use kanect_core::{AuthFailure, Denied, Error, InviteRefused, Limit};
use kanect_proto::{ErrorBody, ErrorDetail, ErrorFrame, InputError, Reference, ServerFrame};
use std::time::Duration;

/// The body of every response [`crate::KanectService`] gives: a whole body (JSON, a file) or,
/// for the exports, a stream, behind one type.
pub type Body = UnsyncBoxBody<Bytes, BoxError>;

/// Why a body could not be read, or a streamed response body was cut off.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// A refused request: what the client is told.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ApiError {
    pub(crate) status: StatusCode,
    pub(crate) code: &'static str,
    pub(crate) message: String,
    pub(crate) field: Option<String>,
    retry_after: Option<Duration>,
    /// The connection is closed after this response (`Connection: close`): the request was not
    /// read whole, so nothing after it on the connection can be trusted to start a request.
    closes: bool,
}

impl ApiError {
    pub(crate) fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError { status, code, message: message.into(), field: None, retry_after: None, closes: false }
    }

    /// This response closes the connection.
    pub(crate) fn closing(mut self) -> Self {
        self.closes = true;
        self
    }

    pub(crate) fn with_field(mut self, field: impl Into<String>) -> Self {
        self.field = Some(field.into());
        self
    }

    pub(crate) fn unauthenticated() -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "unauthenticated", "log in first: no session token or cookie")
    }

    pub(crate) fn not_found() -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", "no such endpoint")
    }

    pub(crate) fn body_too_large(limit: usize) -> Self {
        Self::new(StatusCode::PAYLOAD_TOO_LARGE, "body_too_large", format!("request body over {limit} bytes"))
    }

    /// The request's body did not arrive within `limit` of its headers.
    pub(crate) fn request_timeout(limit: Duration) -> Self {
        let message = format!("the request body did not arrive within {} ms", limit.as_millis());
        Self::new(StatusCode::REQUEST_TIMEOUT, "request_timeout", message).closing()
    }

    /// A malformed request input outside the JSON body (query parameter, path segment).
    pub(crate) fn bad_input(code: &'static str, field: &str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message).with_field(field)
    }

    /// Classifies a serde_json failure: syntax, or which field is missing, unknown or mistyped
    /// ([`InputError::from_json`]).
    pub(crate) fn from_json(error: &serde_json::Error) -> Self {
        InputError::from_json(error).into()
    }

    /// The JSON error body, `{"error":{"code","message","field"}}`.
    pub(crate) fn body(&self) -> ErrorBody {
        ErrorBody {
            error: ErrorDetail { code: self.code.to_owned(), message: self.message.clone(), field: self.field.clone() },
        }
    }

    /// The socket form: an `error` frame echoing the command's `ref`. A frame has no headers,
    /// so a refusal that says when to retry carries it as `retry_after_ms`, rounded up.
    pub(crate) fn frame(&self, reference: Option<Reference>) -> ServerFrame {
        ServerFrame::Error(ErrorFrame {
            reference,
            code: self.code.to_owned(),
            message: self.message.clone(),
            field: self.field.clone(),
            retry_after_ms: self.retry_after.map(|retry| retry.as_micros().div_ceil(1000) as u64),
        })
    }

    /// The HTTP response; `Retry-After` in whole seconds, rounded up (at least 1), so a client
    /// that waits as told is let through.
    pub(crate) fn into_response(self) -> Response<Body> {
        let mut response = json_response(self.status, &self.body());
        if let Some(retry) = self.retry_after {
            let seconds = (retry.as_secs() + u64::from(retry.subsec_nanos() > 0)).max(1);
            response.headers_mut().insert(RETRY_AFTER, HeaderValue::from(seconds));
        }
        if self.closes {
            response.headers_mut().insert(CONNECTION, HeaderValue::from_static("close"));
        }
        response
    }
}

impl From<Error> for ApiError {
    fn from(error: Error) -> Self {
        let status = match &error {
            Error::NotFound(_) => StatusCode::NOT_FOUND,
            Error::Unauthorized(AuthFailure::AccountDisabled) => StatusCode::FORBIDDEN,
            // A mailed link's token: a bad link, not a missing log-in (a client must not take
            // it for a session that ended).
            Error::Unauthorized(AuthFailure::InvalidToken | AuthFailure::TokenExpired) => StatusCode::BAD_REQUEST,
            Error::Unauthorized(_) => StatusCode::UNAUTHORIZED,
            // A feature this server was built without, as `export_unavailable`.
            Error::Forbidden(Denied::SearchDisabled | Denied::PushDisabled | Denied::MailDisabled) => {
                StatusCode::NOT_IMPLEMENTED
            }
            Error::Forbidden(_) => StatusCode::FORBIDDEN,
            Error::Invalid { .. } => StatusCode::BAD_REQUEST,
            Error::Conflict(_) => StatusCode::CONFLICT,
            // Unknown (forged, revoked): as any id that names nothing; expired or used up: gone
            // for good.
            Error::Invite(InviteRefused::Unknown) => StatusCode::NOT_FOUND,
            Error::Invite(_) => StatusCode::GONE,
            Error::Limited { limit: Limit::AttachmentSize | Limit::AttachmentQuota | Limit::AvatarSize, .. } => {
                StatusCode::PAYLOAD_TOO_LARGE
            }
            Error::Limited { .. } => StatusCode::TOO_MANY_REQUESTS,
            Error::Unavailable(source) => {
                tracing::error!(error = %source, source = ?std::error::Error::source(source), "store or bus failure");
                StatusCode::SERVICE_UNAVAILABLE
            }
            other => {
                tracing::error!(error = %other, "unclassified engine error");
                StatusCode::INTERNAL_SERVER_ERROR
            }
        };
        let field = match &error {
            Error::Invalid { field, .. } => Some(field.to_string()),
            _ => None,
        };
        let retry_after = match &error {
            Error::Limited { retry_after, .. } => *retry_after,
            _ => None,
        };
        ApiError { status, code: error.code(), message: error.to_string(), field, retry_after, closes: false }
    }
}

impl From<InputError> for ApiError {
    /// A malformed JSON input: `400` with the input error's code and field.
    fn from(error: InputError) -> Self {
        let (kind, field, message) = error.into_parts();
        ApiError { field, ..Self::new(StatusCode::BAD_REQUEST, kind.code(), message) }
    }
}

/// A body of `bytes`, all there already.
pub(crate) fn whole(bytes: impl Into<Bytes>) -> Body {
    Full::new(bytes.into()).map_err(|never| match never {}).boxed_unsync()
}

/// A JSON response with `status`.
pub(crate) fn json_response(status: StatusCode, value: &impl serde::Serialize) -> Response<Body> {
    let bytes = serde_json::to_vec(value).unwrap_or_default();
    raw_json_response(status, bytes)
}

/// A response whose body is already-encoded JSON.
pub(crate) fn raw_json_response(status: StatusCode, bytes: impl Into<Bytes>) -> Response<Body> {
    let mut response = Response::new(whole(bytes));
    *response.status_mut() = status;
    response.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;
    use kanect_core::{Denied, Invalid, Limit, StoreError};
    use serde_json::{json, Value};

    #[test]
    fn engine_errors_map_to_status_and_code() {
        let e = ApiError::from(Error::Forbidden(Denied::NotMember));
        assert_eq!((e.status, e.code), (StatusCode::FORBIDDEN, "not_member"));
        let e = ApiError::from(Error::invalid("body", Invalid::TooLong));
        assert_eq!((e.status, e.code, e.field.as_deref()), (StatusCode::BAD_REQUEST, "too_long", Some("body")));
        let e =
            ApiError::from(Error::Limited { limit: Limit::LoginAttempts, retry_after: Some(Duration::from_secs(9)) });
        let response = e.into_response();
        assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(response.headers()[RETRY_AFTER], "9");
    }

    #[test]
    fn retry_after_rounds_up_in_headers_and_frames() {
        let limited = |retry_after| ApiError::from(Error::Limited { limit: Limit::Sends, retry_after });
        let e = limited(Some(Duration::from_millis(1500)));
        let frame: Value = serde_json::to_value(e.frame(None)).unwrap();
        assert_eq!((frame["code"].clone(), frame["retry_after_ms"].clone()), (json!("rate_limited"), json!(1500)));
        assert_eq!(e.into_response().headers()[RETRY_AFTER], "2");
        let e = limited(Some(Duration::from_micros(200_001)));
        let frame: Value = serde_json::to_value(e.frame(None)).unwrap();
        assert_eq!(frame["retry_after_ms"], 201);
        assert_eq!(e.into_response().headers()[RETRY_AFTER], "1");
        let e = limited(None);
        let frame: Value = serde_json::to_value(e.frame(None)).unwrap();
        assert!(frame.get("retry_after_ms").is_none());
        assert!(e.into_response().headers().get(RETRY_AFTER).is_none());
    }

    #[test]
    fn internals_are_hidden() {
        let io = std::io::Error::other("disk on fire at /secret/path");
        let e = ApiError::from(Error::from(StoreError::backend(io)));
        assert_eq!((e.status, e.code), (StatusCode::SERVICE_UNAVAILABLE, "unavailable"));
        assert!(!serde_json::to_string(&e.body()).unwrap().contains("secret"));
    }

    /// The classification itself is `kanect-proto`'s (`InputError::from_json`, tested there):
    /// here, that a refused body keeps its code and field and is a `400`.
    #[test]
    fn json_errors_are_bad_requests_naming_the_field() {
        #[derive(serde::Deserialize, Debug)]
        #[serde(deny_unknown_fields)]
        #[allow(dead_code)]
        struct Body {
            body: String,
        }
        let error = serde_json::from_str::<Body>(r#"{"body":"x","extra":1}"#).unwrap_err();
        let e = ApiError::from_json(&error);
        assert_eq!((e.status, e.code, e.field.as_deref()), (StatusCode::BAD_REQUEST, "unknown_field", Some("extra")));
    }

    #[test]
    fn frames_echo_the_ref() {
        let e = ApiError::from(Error::Forbidden(Denied::NotMember));
        let frame: Value = serde_json::to_value(e.frame(Some("r1".into()))).unwrap();
        assert_eq!(frame["type"], "error");
        assert_eq!(frame["ref"], "r1");
        assert_eq!(frame["code"], "not_member");
    }
}
