//! The top of request handling on the client port: `/health`, `/api/v1/...` and the static
//! web app; and the conversion of every handler error into its response. (`/metrics` is not
//! here: it has a listener of its own, see [`crate::Server`].)

use crate::api::request::ReadDeadline;
use crate::error::{json_response, ApiError, Body};
use crate::server::ConnectionGuard;
use crate::state::App;
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use std::convert::Infallible;
use std::sync::Arc;

/// Serves one request. Never fails: errors are responses.
pub(crate) async fn handle(
    app: App,
    mut request: Request<Incoming>,
    connection: Arc<ConnectionGuard>,
) -> Result<Response<Body>, Infallible> {
    request.extensions_mut().insert(ReadDeadline::after(app.config.body_read_timeout));
    let path = request.uri().path().to_string();
    let segments: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    let result = match (request.method(), segments.as_slice()) {
        (&Method::GET, ["health"]) => Ok(health(&app)),
        (_, ["api", "v1", rest @ ..]) => crate::api::route(&app, request, rest, connection).await,
        (_, ["api", ..]) => Err(ApiError::not_found()),
        (method, _) => crate::static_files::serve(method, path.trim_start_matches('/')),
    };
    Ok(result.unwrap_or_else(ApiError::into_response))
}

fn health(app: &App) -> Response<Body> {
    if app.shutting_down() {
        json_response(StatusCode::SERVICE_UNAVAILABLE, &serde_json::json!({"status": "shutting_down"}))
    } else {
        json_response(StatusCode::OK, &serde_json::json!({"status": "ok"}))
    }
}
