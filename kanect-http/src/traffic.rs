//! What an operator sees of the traffic on the client port: a request id per request, a
//! bounded route label, a span per request (the access log) and the HTTP and WebSocket
//! metrics.
//!
//! - **Request id**: a client's or proxy's `X-Request-Id` is kept if it is sane (1 to 64 of
//!   `[A-Za-z0-9_-]`), else one is made (128 random bits, hex); it is echoed in the response's
//!   `X-Request-Id` and in every log line of the request, so one id follows a request from the
//!   proxy's log to Kanect's.
//! - **Route label**: the route's template (`/api/v1/conversations/{id}/messages`), never the
//!   raw path, so that metric labels stay few whatever clients send: [`ROUTES`] lists every
//!   template of `api::route` (keep the two in step; a path that is none of them is
//!   `unmatched`), the web app's files are `static`.
//! - **Access log**: each request runs in a `request` span (request id, method, route, and the
//!   user id once authenticated) and ends with one `info` event of target `kanect_http::access`
//!   carrying the status and duration. With `--log-format json` that is one line a machine reads.
//! - **Metrics**: `kanect_http_requests_total{method,route,status}` and
//!   `kanect_http_request_duration_seconds{method,route}`, looked up per request (a request
//!   costs far more than that lookup); the WebSocket's are handles registered once
//!   ([`Traffic`]), as a socket's frames are the hot path.

use hyper::header::{HeaderName, HeaderValue};
use hyper::{HeaderMap, Method};
use metrics::{counter, describe_counter, describe_histogram, histogram, Counter, Histogram, Unit};
use std::time::Duration;

/// The request id's header.
pub(crate) const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The longest request id taken from a client.
const MAX_REQUEST_ID: usize = 64;

/// Every route template of the REST API, literals before the templates they would also match
/// (`conversations/direct` before `conversations/{id}`).
pub(crate) const ROUTES: &[&str] = &[
    "/health",
    "/api/v1/admin/audit",
    "/api/v1/admin/conversations",
    "/api/v1/admin/conversations/{id}/messages",
    "/api/v1/admin/export",
    "/api/v1/admin/invites",
    "/api/v1/admin/messages/{id}",
    "/api/v1/admin/stats",
    "/api/v1/admin/users",
    "/api/v1/admin/users/{id}",
    "/api/v1/admin/users/{id}/disabled",
    "/api/v1/admin/users/{id}/password",
    "/api/v1/admin/users/{id}/role",
    "/api/v1/attachments",
    "/api/v1/attachments/{id}",
    "/api/v1/attachments/{id}/thumbnail",
    "/api/v1/auth/invite",
    "/api/v1/auth/login",
    "/api/v1/auth/logout",
    "/api/v1/auth/logout-all",
    "/api/v1/auth/reset",
    "/api/v1/auth/reset/confirm",
    "/api/v1/auth/signup",
    "/api/v1/conversations",
    "/api/v1/conversations/direct",
    "/api/v1/conversations/{id}",
    "/api/v1/conversations/{id}/leave",
    "/api/v1/conversations/{id}/members",
    "/api/v1/conversations/{id}/members/{user}",
    "/api/v1/conversations/{id}/messages",
    "/api/v1/conversations/{id}/notifications",
    "/api/v1/conversations/{id}/receipts",
    "/api/v1/conversations/{id}/typing",
    "/api/v1/email",
    "/api/v1/email/unsubscribe",
    "/api/v1/email/verify",
    "/api/v1/email/verify/resend",
    "/api/v1/invites",
    "/api/v1/invites/{id}",
    "/api/v1/me",
    "/api/v1/me/avatar",
    "/api/v1/me/delete",
    "/api/v1/me/email",
    "/api/v1/me/email/digests",
    "/api/v1/me/export",
    "/api/v1/me/password",
    "/api/v1/me/sessions",
    "/api/v1/me/sessions/{id}",
    "/api/v1/messages/{id}",
    "/api/v1/messages/{id}/reactions/{emoji}",
    "/api/v1/notifications",
    "/api/v1/notifications/do-not-disturb",
    "/api/v1/poll",
    "/api/v1/poll/{id}",
    "/api/v1/push/key",
    "/api/v1/push/subscriptions",
    "/api/v1/search/messages",
    "/api/v1/users",
    "/api/v1/users/{id}",
    "/api/v1/users/{id}/avatar",
    "/api/v1/ws",
];

/// The WebSocket metrics: handles registered once, when the server starts.
pub(crate) struct Traffic {
    /// WebSockets opened (`kanect_ws_connections_total`).
    pub(crate) ws_opened: Counter,
    /// Frames read from clients (`kanect_ws_frames_received_total`).
    pub(crate) ws_frames_received: Counter,
    /// Time to apply a client's engine command, such as a send (`kanect_ws_command_seconds`).
    pub(crate) ws_command: Histogram,
}

impl Traffic {
    /// Registers the WebSocket metrics with the recorder installed now, and describes the HTTP
    /// ones.
    pub(crate) fn register() -> Self {
        describe_counter!("kanect_http_requests_total", "HTTP requests answered, by method, route and status.");
        describe_histogram!(
            "kanect_http_request_duration_seconds",
            Unit::Seconds,
            "Time to answer an HTTP request (to its response head), by method and route."
        );
        describe_counter!("kanect_ws_connections_total", "WebSockets opened.");
        describe_counter!("kanect_ws_frames_received_total", "WebSocket frames read from clients.");
        describe_histogram!("kanect_ws_command_seconds", Unit::Seconds, "Time to apply a WebSocket command.");
        Traffic {
            ws_opened: counter!("kanect_ws_connections_total"),
            ws_frames_received: counter!("kanect_ws_frames_received_total"),
            ws_command: histogram!("kanect_ws_command_seconds"),
        }
    }
}

/// The request's id: its `X-Request-Id` if sane, else a new one.
pub(crate) fn request_id(headers: &HeaderMap) -> HeaderValue {
    let given = headers.get(&REQUEST_ID).filter(|value| {
        let bytes = value.as_bytes();
        (1..=MAX_REQUEST_ID).contains(&bytes.len())
            && bytes.iter().all(|b| b.is_ascii_alphanumeric() || *b == b'-' || *b == b'_')
    });
    match given {
        Some(value) => value.clone(),
        None => HeaderValue::from_str(&format!("{:032x}", rand::random::<u128>())).expect("hex is a header value"),
    }
}

/// The route label of `path`: its template in [`ROUTES`], `static` for the web app's files, or
/// `unmatched`.
pub(crate) fn route(path: &str) -> &'static str {
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    if segments.first() != Some(&"api") && segments.as_slice() != ["health"] {
        return "static";
    }
    ROUTES
        .iter()
        .find(|template| {
            let parts: Vec<&str> = template.trim_start_matches('/').split('/').collect();
            parts.len() == segments.len()
                && parts.iter().zip(&segments).all(|(part, segment)| part.starts_with('{') || part == segment)
        })
        .copied()
        .unwrap_or("unmatched")
}

/// The method label: the standard ones, else `other`.
pub(crate) fn method(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

/// Records an answered request in the HTTP metrics.
pub(crate) fn record(method: &'static str, route: &'static str, status: u16, elapsed: Duration) {
    counter!("kanect_http_requests_total", "method" => method, "route" => route, "status" => status.to_string())
        .increment(1);
    histogram!("kanect_http_request_duration_seconds", "method" => method, "route" => route).record(elapsed);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_are_templates_and_unknown_paths_one_label() {
        let id = "0193a5f0-7b1c-7000-8000-000000000000";
        assert_eq!(route(&format!("/api/v1/conversations/{id}/messages")), "/api/v1/conversations/{id}/messages");
        assert_eq!(route("/api/v1/conversations/direct"), "/api/v1/conversations/direct");
        assert_eq!(route(&format!("/api/v1/conversations/{id}")), "/api/v1/conversations/{id}");
        assert_eq!(route("/api/v1/admin/users"), "/api/v1/admin/users");
        assert_eq!(route("/health"), "/health");
        assert_eq!(route("/api/v1/no/such/thing/at/all"), "unmatched");
        assert_eq!(route("/api/nope"), "unmatched");
        assert_eq!(route("/app.js"), "static");
        assert_eq!(route("/"), "static");
    }

    #[test]
    fn a_sane_request_id_is_kept_up_to_64_characters_else_one_is_made() {
        let id = |value: &str| {
            let mut headers = HeaderMap::new();
            headers.insert(REQUEST_ID, HeaderValue::from_str(value).unwrap());
            request_id(&headers).to_str().unwrap().to_string()
        };
        assert_eq!(id("abc-DEF_123"), "abc-DEF_123");
        let longest = "a".repeat(MAX_REQUEST_ID);
        assert_eq!(id(&longest), longest);
        for refused in ["a".repeat(MAX_REQUEST_ID + 1), "has space".into(), "semi;colon".into(), String::new()] {
            let made = id(&refused);
            assert_ne!(made, refused);
            assert!(made.len() == 32 && made.bytes().all(|b| b.is_ascii_hexdigit()), "{made}");
        }
        assert_eq!(request_id(&HeaderMap::new()).len(), 32);
    }
}
