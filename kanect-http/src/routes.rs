//! The top of request handling on the client port: `/health`, `/api/v1/...` and the static
//! web app; and the conversion of every handler error into its response. (`/metrics` is not
//! here: it has a listener of its own, see [`crate::Server`].)

use crate::api::request::ReadDeadline;
use crate::config::HttpConfig;
use crate::error::{json_response, ApiError, Body};
use crate::headers::with_common_headers;
use crate::incoming::Connection;
use crate::incoming::RequestBody;
use crate::state::App;
use crate::traffic;
use hyper::{Method, Request, Response, StatusCode};
use kanect_core::StoreHealth;
use kanect_proto::rest::{Health, HealthStatus};
use std::convert::Infallible;
use std::time::Instant;
use tracing::Instrument;

/// Serves one request in its `request` span, and logs and counts it (see `traffic`). Never
/// fails: errors are responses.
pub(crate) async fn handle(
    app: App,
    request: Request<RequestBody>,
    connection: Connection,
) -> Result<Response<Body>, Infallible> {
    let started = Instant::now();
    let id = traffic::request_id(request.headers());
    let path = under_mount(&app.mount, request.uri().path()).map(str::to_owned);
    let method = traffic::method(request.method());
    let route = path.as_deref().map_or("unmatched", traffic::route);
    let request_id = id.to_str().unwrap_or_default();
    let span = tracing::info_span!("request", request_id, method, route, user_id = tracing::field::Empty);
    let mut response = answer(app, request, path, connection).instrument(span.clone()).await;
    let status = response.status().as_u16();
    let elapsed = started.elapsed();
    span.in_scope(
        || tracing::info!(target: "kanect_http::access", status, duration_ms = elapsed.as_secs_f64() * 1e3, "request"),
    );
    traffic::record(method, route, status, elapsed);
    response.headers_mut().insert(traffic::REQUEST_ID, id);
    Ok(response)
}

/// Answers one request; `path` is its path under the mount (None: outside it).
async fn answer(
    app: App,
    mut request: Request<RequestBody>,
    path: Option<String>,
    connection: Connection,
) -> Response<Body> {
    request.extensions_mut().insert(ReadDeadline::after(app.config.body_read_timeout));
    if let Err(refused) = check_head(&app.config, &request) {
        return with_common_headers(refused.into_response());
    }
    let Some(path) = path else {
        return with_common_headers(ApiError::not_found().into_response());
    };
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let result = match (request.method(), segments.as_slice()) {
        (&Method::GET, ["health"]) => Ok(health(&app).await),
        (_, ["api", "v1", rest @ ..]) => crate::api::route(&app, request, rest, connection).await,
        (_, ["api", ..]) => Err(ApiError::not_found()),
        // The web app links to absolute paths: it is served at the root only.
        (method, _) if app.mount.is_empty() => {
            crate::static_files::serve(method, path.trim_start_matches('/'), request.headers())
        }
        _ => Err(ApiError::not_found()),
    };
    with_common_headers(result.unwrap_or_else(ApiError::into_response))
}

/// `path` as the service sees it when mounted at `mount` (`/chat/api/v1/me` → `/api/v1/me`),
/// or None when it is outside `mount`. The root's mount is empty.
fn under_mount<'a>(mount: &str, path: &'a str) -> Option<&'a str> {
    match path.strip_prefix(mount)? {
        "" => Some("/"),
        rest if rest.starts_with('/') => Some(rest),
        // `/chatter` is not under `/chat`.
        _ => None,
    }
}

/// Kanect's limits on the request head: the target's length, the number of header lines and
/// their bytes. (hyper's parser has its own limits, set above these in `connection`, so that a
/// request past ours is parsed and gets this JSON answer.)
fn check_head<B>(config: &HttpConfig, request: &Request<B>) -> Result<(), ApiError> {
    let uri = request.uri();
    let uri_bytes = uri.scheme_str().map_or(0, |scheme| scheme.len() + "://".len())
        + uri.authority().map_or(0, |authority| authority.as_str().len())
        + uri.path_and_query().map_or(0, |target| target.as_str().len());
    if uri_bytes > config.max_uri_bytes {
        let message = format!("the request target is over {} bytes", config.max_uri_bytes);
        return Err(ApiError::new(StatusCode::URI_TOO_LONG, "uri_too_long", message));
    }
    let headers = request.headers();
    if headers.len() > config.max_headers {
        let message = format!("more than {} header lines", config.max_headers);
        return Err(ApiError::new(StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE, "too_many_headers", message));
    }
    let header_bytes: usize = headers.iter().map(|(name, value)| name.as_str().len() + value.len()).sum();
    if header_bytes > config.max_header_bytes {
        let message = format!("headers over {} bytes", config.max_header_bytes);
        return Err(ApiError::new(StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE, "headers_too_large", message));
    }
    Ok(())
}

/// `GET /health`: whether this server should get traffic (see PROTOCOL.md, "Operations
/// endpoints"). The store's own check is cheap and bounded in time (`Store::health`).
async fn health(app: &App) -> Response<Body> {
    let store = match app.shutting_down() {
        true => None,
        false => Some(app.chat.health().await),
    };
    let (status, body) = health_reply(store);
    json_response(status, &body)
}

/// The answer to `GET /health`, given the store's health; None while shutting down (the store
/// is not asked then: the server is going away whatever it says).
fn health_reply(store: Option<StoreHealth>) -> (StatusCode, Health) {
    let Some(store) = store else {
        return (StatusCode::SERVICE_UNAVAILABLE, Health { status: HealthStatus::ShuttingDown, store: None });
    };
    let (code, status) = match store.is_ok() {
        true => (StatusCode::OK, HealthStatus::Ok),
        false => (StatusCode::SERVICE_UNAVAILABLE, HealthStatus::StoreUnavailable),
    };
    (code, Health { status, store: Some(store.code().to_owned()) })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// The reply as the wire carries it: its status and its JSON body.
    fn reply(store: Option<StoreHealth>) -> (StatusCode, serde_json::Value) {
        let (status, body) = health_reply(store);
        (status, serde_json::to_value(body).unwrap())
    }

    #[test]
    fn a_mounted_service_sees_paths_under_its_prefix_only() {
        assert_eq!(under_mount("", "/api/v1/me"), Some("/api/v1/me"));
        assert_eq!(under_mount("/chat", "/chat/api/v1/me"), Some("/api/v1/me"));
        assert_eq!(under_mount("/chat", "/chat"), Some("/"));
        assert_eq!(under_mount("/chat", "/chat/"), Some("/"));
        assert_eq!(under_mount("/chat", "/chatter/api/v1/me"), None);
        assert_eq!(under_mount("/chat", "/api/v1/me"), None);
    }

    #[test]
    fn health_is_503_with_a_stable_status_unless_the_store_is_ok() {
        assert_eq!(reply(Some(StoreHealth::Ok)), (StatusCode::OK, json!({"status": "ok", "store": "ok"})));
        let unavailable = StatusCode::SERVICE_UNAVAILABLE;
        let failed = json!({"status": "store_unavailable", "store": "failed"});
        assert_eq!(reply(Some(StoreHealth::Failed)), (unavailable, failed));
        let recovering = json!({"status": "store_unavailable", "store": "recovering"});
        assert_eq!(reply(Some(StoreHealth::Recovering)), (unavailable, recovering));
        assert_eq!(reply(None), (unavailable, json!({"status": "shutting_down"})));
    }
}
