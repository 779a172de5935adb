//! E-mail: what the server mails ([`features`]), verifying an address and asking for the link
//! again, changing the address, password reset by mailed link, and digests (the setting, and
//! the one-click unsubscribe of RFC 8058).
//!
//! Verification, reset and unsubscribe work without a session: the mailed token is the proof.
//! None of them reads a cookie, so they need no CSRF token. The unsubscribe link is a `GET`
//! that only sends the browser to the web app's page (mail scanners open links, and must not
//! unsubscribe anyone); the `POST` to the same URL, which mail clients send for their own
//! unsubscribe button (`List-Unsubscribe-Post`), does it.

use super::request::{no_content, ok, read_json, Query};
use crate::error::{ApiError, Body};
use crate::incoming::RequestBody;
use crate::state::App;
use crate::wire::ToWire;
use hyper::header::{HeaderValue, LOCATION};
use hyper::{Request, Response, StatusCode};
use kanect_core::{Caller, Verification};
use kanect_proto::rest;
use std::net::IpAddr;

/// `GET /email`.
pub(super) fn features(app: &App) -> Response<Body> {
    let verification = match app.chat.verification() {
        Verification::Off => rest::Verification::Off,
        Verification::Optional => rest::Verification::Optional,
        Verification::Required => rest::Verification::Required,
    };
    ok(&rest::MailFeatures { enabled: app.chat.mail_enabled(), verification })
}

/// `POST /email/verify`: answers with the account's record.
pub(crate) async fn verify(app: &App, request: Request<RequestBody>) -> Result<Response<Body>, ApiError> {
    let form: rest::Verify = read_json(request, app.config.max_body_bytes).await?;
    Ok(ok(&app.chat.verify_email(&form.token).await?.to_wire()))
}

/// `POST /email/verify/resend`.
pub(super) async fn resend(app: &App, caller: &Caller) -> Result<Response<Body>, ApiError> {
    app.chat.resend_verification(caller).await?;
    Ok(no_content())
}

/// `PUT /me/email`: answers with the account's record.
pub(crate) async fn change(
    app: &App,
    caller: &Caller,
    request: Request<RequestBody>,
) -> Result<Response<Body>, ApiError> {
    let form: rest::ChangeEmail = read_json(request, app.config.max_body_bytes).await?;
    let user = app.chat.change_email(caller, &form.current_password, form.email.as_deref()).await?;
    Ok(ok(&user.to_wire()))
}

/// `PUT /me/email/digests`: answers with the account's record.
pub(super) async fn digests(
    app: &App,
    caller: &Caller,
    request: Request<RequestBody>,
) -> Result<Response<Body>, ApiError> {
    let form: rest::Digests = read_json(request, app.config.max_body_bytes).await?;
    Ok(ok(&app.chat.set_digests(caller, form.on).await?.to_wire()))
}

/// `POST /auth/reset` from a client at `client`: `202 Accepted` whether or not the account
/// exists (see `kanect_core::Chat::request_password_reset`).
pub(super) async fn reset_request(
    app: &App,
    request: Request<RequestBody>,
    client: IpAddr,
) -> Result<Response<Body>, ApiError> {
    let form: rest::ResetRequest = read_json(request, app.config.max_body_bytes).await?;
    app.chat.request_password_reset(&form.account, Some(client)).await?;
    let mut response = no_content();
    *response.status_mut() = StatusCode::ACCEPTED;
    Ok(response)
}

/// `POST /auth/reset/confirm`.
pub(crate) async fn reset_confirm(app: &App, request: Request<RequestBody>) -> Result<Response<Body>, ApiError> {
    let form: rest::ResetConfirm = read_json(request, app.config.max_body_bytes).await?;
    app.chat.reset_password_with_token(&form.token, &form.password).await?;
    Ok(no_content())
}

/// `GET /email/unsubscribe?token=`: `303` to the web app's page for it, which asks to confirm.
pub(super) fn unsubscribe_page<B>(request: &Request<B>) -> Result<Response<Body>, ApiError> {
    let token = unsubscribe_token(request)?;
    let mut response = no_content();
    *response.status_mut() = StatusCode::SEE_OTHER;
    let location = HeaderValue::from_str(&format!("/#/unsubscribe/{token}"))
        .map_err(|_| ApiError::bad_input("malformed", "token", "not a token"))?;
    response.headers_mut().insert(LOCATION, location);
    Ok(response)
}

/// `POST /email/unsubscribe?token=`: digests off for the token's account. The body (a mail
/// client's `List-Unsubscribe=One-Click`, or none) is not read.
pub(super) async fn unsubscribe<B>(app: &App, request: &Request<B>) -> Result<Response<Body>, ApiError> {
    let token = unsubscribe_token(request)?;
    app.chat.unsubscribe_digests(&token).await?;
    Ok(no_content())
}

/// The `token` query parameter: present, and hex (so that it can go into a header).
fn unsubscribe_token<B>(request: &Request<B>) -> Result<String, ApiError> {
    let query = Query::of(request);
    let token = query.text("token").ok_or_else(|| ApiError::bad_input("missing", "token", "no token"))?;
    if token.is_empty() || token.len() > 128 || !token.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(ApiError::bad_input("invalid_token", "token", "not a token"));
    }
    Ok(token.to_owned())
}
