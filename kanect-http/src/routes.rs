//! The top of request handling: `/health`, `/metrics`, `/api/v1/...` and the static web app;
//! and the conversion of every handler error into its response.

use crate::error::{json_response, ApiError, Body};
use crate::server::ConnectionGuard;
use crate::state::App;
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use kanect_core::StoreHealth;
use std::convert::Infallible;
use std::sync::Arc;

/// Serves one request. Never fails: errors are responses.
pub(crate) async fn handle(
    app: App,
    request: Request<Incoming>,
    connection: Arc<ConnectionGuard>,
) -> Result<Response<Body>, Infallible> {
    let path = request.uri().path().to_string();
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let result = match (request.method(), segments.as_slice()) {
        (&Method::GET, ["health"]) => Ok(health(&app).await),
        (&Method::GET, ["metrics"]) => Ok(crate::metrics::response(&app)),
        (_, ["api", "v1", rest @ ..]) => crate::api::route(&app, request, rest, connection).await,
        (_, ["api", ..]) => Err(ApiError::not_found()),
        (method, _) => crate::static_files::serve(method, path.trim_start_matches('/')),
    };
    Ok(result.unwrap_or_else(ApiError::into_response))
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
fn health_reply(store: Option<StoreHealth>) -> (StatusCode, serde_json::Value) {
    match store {
        None => (StatusCode::SERVICE_UNAVAILABLE, serde_json::json!({"status": "shutting_down"})),
        Some(StoreHealth::Ok) => (StatusCode::OK, serde_json::json!({"status": "ok", "store": "ok"})),
        Some(store) => {
            (StatusCode::SERVICE_UNAVAILABLE, serde_json::json!({"status": "store_unavailable", "store": store.code()}))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn health_is_503_with_a_stable_status_unless_the_store_is_ok() {
        assert_eq!(health_reply(Some(StoreHealth::Ok)), (StatusCode::OK, json!({"status": "ok", "store": "ok"})));
        let unavailable = StatusCode::SERVICE_UNAVAILABLE;
        let failed = json!({"status": "store_unavailable", "store": "failed"});
        assert_eq!(health_reply(Some(StoreHealth::Failed)), (unavailable, failed));
        let recovering = json!({"status": "store_unavailable", "store": "recovering"});
        assert_eq!(health_reply(Some(StoreHealth::Recovering)), (unavailable, recovering));
        assert_eq!(health_reply(None), (unavailable, json!({"status": "shutting_down"})));
    }
}
