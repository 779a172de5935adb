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
//!   route of the dispatch tables (`routes`, `api::route`, `api::admin::route`; a path that is
//!   none of them is `unmatched`), the web app's files are `static`. The tables are `match`es
//!   on slice patterns, which read best as they are, so the list is not derived from them: a
//!   test reads their arms from the source and requires the same routes here, and requests
//!   each route through the service to check its label.
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
/// (`conversations/direct` before `conversations/{id}`), each `{...}` named as the dispatch
/// table's binding. The tests hold it to the dispatch tables (see the module docs).
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

    /// Every route the dispatch tables serve, as (method, template), read from their source:
    /// `routes.rs` at the root, `api/mod.rs` under `/api/v1`, `api/admin.rs` under
    /// `/api/v1/admin`. An arm's slice pattern is its path: a literal is a segment, a binding
    /// (`id`, `user`, `emoji`) a `{binding}`; a pattern with `..` hands the rest to another
    /// table. `_` as the method is any method. (An arm written over several lines is not read;
    /// its template in [`ROUTES`] then fails the test, which says so.)
    fn served_routes() -> Vec<(Method, String)> {
        let tables = [
            ("", include_str!("routes.rs")),
            ("/api/v1", include_str!("api/mod.rs")),
            ("/api/v1/admin", include_str!("api/admin.rs")),
        ];
        let mut routes = Vec::new();
        for (prefix, source) in tables {
            for line in source.lines() {
                let Some(arm) = line.trim_start().strip_prefix('(') else { continue };
                let arm = arm.strip_prefix('&').unwrap_or(arm);
                let Some((method, rest)) = arm.split_once(", [") else { continue };
                let method = match method.strip_prefix("Method::") {
                    Some(name) => Method::from_bytes(name.as_bytes()).expect("a method"),
                    None if method == "_" => Method::GET,
                    None => continue,
                };
                let Some((pattern, _)) = rest.split_once("])") else { continue };
                if pattern.contains("..") {
                    continue;
                }
                let path: String = pattern
                    .split(", ")
                    .map(|segment| match segment.strip_prefix('"') {
                        Some(literal) => format!("/{}", literal.trim_end_matches('"')),
                        None => format!("/{{{segment}}}"),
                    })
                    .collect();
                routes.push((method, format!("{prefix}{path}")));
            }
        }
        routes
    }

    /// `template` with a new random value in each `{...}` segment.
    fn concrete(template: &str) -> String {
        let segments = template.split('/').map(|segment| match segment.starts_with('{') {
            true => format!("{:032x}", rand::random::<u128>()),
            false => segment.to_owned(),
        });
        segments.collect::<Vec<_>>().join("/")
    }

    /// A recorder that keeps the method and route labels of every request counted.
    #[derive(Default)]
    struct Labels(std::sync::Mutex<Vec<(String, String)>>);

    impl Labels {
        fn take(&self) -> Vec<(String, String)> {
            std::mem::take(&mut self.0.lock().unwrap())
        }
    }

    impl metrics::Recorder for Labels {
        fn describe_counter(&self, _: metrics::KeyName, _: Option<Unit>, _: metrics::SharedString) {}
        fn describe_gauge(&self, _: metrics::KeyName, _: Option<Unit>, _: metrics::SharedString) {}
        fn describe_histogram(&self, _: metrics::KeyName, _: Option<Unit>, _: metrics::SharedString) {}

        fn register_counter(&self, key: &metrics::Key, _: &metrics::Metadata<'_>) -> Counter {
            if key.name() == "kanect_http_requests_total" {
                let label =
                    |name: &str| key.labels().find(|label| label.key() == name).map(|label| label.value().to_owned());
                let labels = (label("method").expect("a method label"), label("route").expect("a route label"));
                self.0.lock().unwrap().push(labels);
            }
            Counter::noop()
        }

        fn register_gauge(&self, _: &metrics::Key, _: &metrics::Metadata<'_>) -> metrics::Gauge {
            metrics::Gauge::noop()
        }

        fn register_histogram(&self, _: &metrics::Key, _: &metrics::Metadata<'_>) -> Histogram {
            Histogram::noop()
        }
    }

    /// [`ROUTES`] is exactly the routes the dispatch tables serve: a route added to a table and
    /// not here would be labelled `unmatched` (or by a wrong template), one removed would leave
    /// a template no request gets.
    #[test]
    fn the_templates_are_the_routes_the_dispatch_tables_serve() {
        let served: std::collections::BTreeSet<String> =
            served_routes().into_iter().map(|(_, template)| template).collect();
        let listed: std::collections::BTreeSet<String> = ROUTES.iter().map(|&route| route.to_owned()).collect();
        assert_eq!(ROUTES.len(), listed.len(), "a template listed twice");
        let unlisted: Vec<_> = served.difference(&listed).collect();
        let unserved: Vec<_> = listed.difference(&served).collect();
        assert!(
            unlisted.is_empty() && unserved.is_empty(),
            "served, not in ROUTES: {unlisted:?}; in ROUTES, not served (or an arm over several lines): {unserved:?}"
        );
    }

    /// Every route the dispatch tables serve, requested through the service with two different
    /// ids in each `{...}`, is counted under its template and method; paths that are no route
    /// are counted as `unmatched` (under the API, or outside the service's mount) or `static`,
    /// so whatever clients send, the labels are the templates and those two.
    #[test]
    fn every_request_is_labelled_with_its_routes_template_or_one_label_for_the_rest() {
        use http_body_util::Full;
        use tower_service::Service;

        let labels = Labels::default();
        let _local = metrics::set_default_local_recorder(&labels);
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        runtime.block_on(async {
            let chat = kanect_core::Chat::builder(kanect_core::MemoryStore::new()).build().await.unwrap();
            let mut root = crate::KanectService::builder(chat.clone(), crate::HttpConfig::default()).build();
            let mut mounted =
                crate::KanectService::builder(chat, crate::HttpConfig::default()).mounted_at("/chat").build();
            let label = async |service: &mut crate::KanectService, method: &Method, path: &str| {
                let request = hyper::Request::builder().method(method).uri(path).body(Full::new(bytes::Bytes::new()));
                service.call(request.unwrap()).await.unwrap();
                let counted = labels.take();
                assert_eq!(counted.len(), 1, "{method} {path}: {counted:?}");
                counted.into_iter().next().unwrap()
            };

            let served = served_routes();
            assert!(served.len() >= ROUTES.len(), "{served:?}");
            for (method, template) in &served {
                for _ in 0..2 {
                    let expected = (method.as_str().to_owned(), template.clone());
                    assert_eq!(label(&mut root, method, &concrete(template)).await, expected);
                    let under_mount = format!("/chat{}", concrete(template));
                    assert_eq!(label(&mut mounted, method, &under_mount).await, expected);
                }
            }

            let id = || format!("{:032x}", rand::random::<u128>());
            let unmatched = [
                format!("/api/v1/conversations/{}/messages/{}", id(), id()),
                format!("/api/v1/{}", id()),
                format!("/api/v1/admin/users/{}/{}", id(), id()),
                format!("/api/v2/conversations/{}", id()),
                "/api".to_owned(),
            ];
            for path in &unmatched {
                assert_eq!(label(&mut root, &Method::GET, path).await.1, "unmatched", "{path}");
                assert_eq!(label(&mut mounted, &Method::GET, &format!("/chat{path}")).await.1, "unmatched", "{path}");
            }
            let outside = format!("/elsewhere/api/v1/conversations/{}", id());
            assert_eq!(label(&mut mounted, &Method::GET, &outside).await.1, "unmatched");
            for path in ["/".to_owned(), "/app.js".to_owned(), format!("/{}/{}", id(), id())] {
                assert_eq!(label(&mut root, &Method::GET, &path).await.1, "static", "{path}");
            }
            // A method of no route is labelled by its path, and `other` beyond the standard ones.
            let path = format!("/api/v1/messages/{}", id());
            let purge = Method::from_bytes(b"PURGE").unwrap();
            assert_eq!(label(&mut root, &purge, &path).await, ("other".to_owned(), "/api/v1/messages/{id}".to_owned()));
        });
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
