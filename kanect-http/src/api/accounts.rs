//! Sign-up, log-in and log-out (with the browser's cookies), the caller's own record, and the
//! user list with presence.

use super::request::{next_cursor, no_content, ok, read_json, Query};
use crate::auth;
use crate::error::{json_response, ApiError, Body};
use crate::incoming::RequestBody;
use crate::state::App;
use crate::wire::ToWire;
use hyper::header::SET_COOKIE;
use hyper::{Request, Response, StatusCode};
use kanect_core::{Caller, Login, Registration, Timestamp, UserId};
use kanect_proto::rest;
use kanect_proto::rest::{LogIn, SignUp};
use std::net::IpAddr;

/// `POST /auth/signup`: registers (within the sign-ups allowed from `client`, the request's
/// address) and logs in, without checking the password it just hashed again: see
/// [`kanect_core::Chat::sign_up`].
pub(crate) async fn signup(
    app: &App,
    request: Request<RequestBody>,
    client: IpAddr,
) -> Result<Response<Body>, ApiError> {
    let form: SignUp = read_json(request, app.config.max_body_bytes).await?;
    let registration = Registration {
        username: form.username,
        password: form.password,
        email: form.email,
        display_name: form.display_name,
        invite: form.invite,
    };
    let login = app.chat.sign_up(registration, client).await?;
    Ok(login_response(app, StatusCode::CREATED, login))
}

/// `POST /auth/login` from a client at `client` (see [`crate::client`]), which the engine's
/// per-address slow-downs and budget are keyed by.
pub(crate) async fn login(
    app: &App,
    request: Request<RequestBody>,
    client: IpAddr,
) -> Result<Response<Body>, ApiError> {
    let form: LogIn = read_json(request, app.config.max_body_bytes).await?;
    let login = app.chat.login_from(&form.username, &form.password, client).await?;
    Ok(login_response(app, StatusCode::OK, login))
}

fn login_response(app: &App, status: StatusCode, login: Login) -> Response<Body> {
    let token = login.token.as_str();
    let csrf = auth::csrf_token(token);
    let body = rest::LoggedIn {
        token: token.to_owned(),
        csrf_token: csrf.clone(),
        expires_at: login.expires_at.to_wire(),
        user: login.user.to_wire(),
    };
    let mut response = json_response(status, &body);
    let max_age = login.expires_at.0.saturating_sub(Timestamp::now().0) / 1000;
    for cookie in auth::session_cookies(token, &csrf, max_age, app.config.secure_cookies, app.cookie_path()) {
        response.headers_mut().append(SET_COOKIE, cookie);
    }
    response
}

pub(super) fn clearing_cookies(app: &App, mut response: Response<Body>) -> Response<Body> {
    for cookie in auth::clear_cookies(app.config.secure_cookies, app.cookie_path()) {
        response.headers_mut().append(SET_COOKIE, cookie);
    }
    response
}

/// `POST /auth/logout`.
pub(super) async fn logout(app: &App, caller: &Caller) -> Result<Response<Body>, ApiError> {
    app.chat.logout(caller).await?;
    Ok(clearing_cookies(app, no_content()))
}

/// `POST /auth/logout-all`.
pub(super) async fn logout_all(app: &App, caller: &Caller) -> Result<Response<Body>, ApiError> {
    let sessions = app.chat.logout_everywhere(caller).await?;
    Ok(clearing_cookies(app, ok(&rest::LoggedOut { sessions })))
}

/// `GET /me`.
pub(super) async fn me(app: &App, caller: &Caller) -> Result<Response<Body>, ApiError> {
    Ok(ok(&app.chat.me(caller).await?.to_wire()))
}

/// `GET /users?search=&after=&limit=`.
pub(super) async fn users<B>(app: &App, caller: &Caller, request: &Request<B>) -> Result<Response<Body>, ApiError> {
    let query = Query::of(request);
    let limit = query.limit()?;
    let users = app.chat.users(caller, query.text("search"), query.text("after"), limit).await?;
    let next = next_cursor(&users, limit, |u| u.user.username.clone());
    Ok(ok(&rest::UserPage { users: users.iter().map(ToWire::to_wire).collect(), next }))
}

/// `GET /users/{id}`.
pub(super) async fn user(app: &App, caller: &Caller, id: &str) -> Result<Response<Body>, ApiError> {
    let id: UserId = super::request::path_id(id)?;
    Ok(ok(&app.chat.user(caller, id).await?.to_wire()))
}
