//! Who is calling, and whether the request may act: the embedding application's user, bearer
//! tokens, the browser's cookie session, its CSRF token, and the Origin check on WebSocket
//! upgrades.
//!
//! An application that mounts Kanect may authenticate its users itself and hand the request a
//! [`Caller`] (from `Chat::act_as`) as an extension. Kanect's CSRF token is bound to Kanect's
//! own session, which such a request does not have; the application's session is most likely a
//! cookie, which a browser sends cross-site too. So such a request, when it changes state,
//! must pass the Origin check instead (a browser sends `Origin` on every cross-site `POST`,
//! `PUT`, `PATCH` and `DELETE`).
//!
//! The CSRF token is `hex(HMAC-SHA256(key = session token, "kanect-csrf-v1"))`: a keyed hash
//! whose key is the (HttpOnly, unreadable to scripts) session secret itself. It is bound to the
//! session, cannot be computed by another site, and needs no server-side storage or server key,
//! so it stays valid across restarts exactly as long as the session does.

use crate::error::ApiError;
use crate::state::App;
use hmac::{Hmac, KeyInit, Mac};
use hyper::header::{HeaderValue, AUTHORIZATION, COOKIE, HOST, ORIGIN};
use hyper::{HeaderMap, Method, Request, StatusCode};
use kanect_core::{Caller, Chat};
use sha2::Sha256;
use subtle::ConstantTimeEq;

/// The session cookie (HttpOnly).
pub(crate) const SESSION_COOKIE: &str = "kanect_session";
/// The CSRF cookie (readable by the web app's scripts).
pub(crate) const CSRF_COOKIE: &str = "kanect_csrf";
/// The header carrying the CSRF token.
pub(crate) const CSRF_HEADER: &str = "x-csrf-token";

/// The session token presented, header first, then cookie.
pub(crate) fn presented_token(headers: &HeaderMap) -> Option<(String, bool)> {
    if let Some(value) = headers.get(AUTHORIZATION) {
        // Bytes past ASCII are no token this server issued: an empty one is presented (and
        // refused), rather than the header being skipped for the cookie behind it.
        let value = value.to_str().unwrap_or("");
        let token = value.strip_prefix("Bearer ").or_else(|| value.strip_prefix("bearer ")).unwrap_or("");
        return Some((token.trim().to_string(), false));
    }
    cookie(headers, SESSION_COOKIE).map(|token| (token, true))
}

/// Who a request acts for: the embedding application's user if it gave one (checking the
/// Origin of a request that changes state), else the session of Kanect's token.
pub(crate) async fn authenticate<B>(app: &App, request: &Request<B>) -> Result<Caller, ApiError> {
    if let Some(caller) = request.extensions().get::<Caller>() {
        name_in_span(caller);
        if changes_state(request.method()) {
            check_origin(request.headers(), &app.config.allowed_origins)?;
        }
        return Ok(caller.clone());
    }
    authenticate_token(&app.chat, request.method(), request.headers()).await
}

/// Authenticates a request by Kanect's token and, for a cookie session changing state, checks
/// its CSRF token.
async fn authenticate_token(chat: &Chat, method: &Method, headers: &HeaderMap) -> Result<Caller, ApiError> {
    let (token, via_cookie) = presented_token(headers).ok_or_else(ApiError::unauthenticated)?;
    // The user agent is what the user's list of sessions shows (recorded at most once a minute).
    let user_agent = headers.get(hyper::header::USER_AGENT).and_then(|value| value.to_str().ok());
    let caller = chat.authenticate_from(&token, user_agent).await?;
    name_in_span(&caller);
    if via_cookie && changes_state(method) {
        check_csrf(headers, &token)?;
    }
    Ok(caller)
}

/// Names the caller's user in the request's span (see `traffic`) from here on, however it was
/// authenticated, and before the CSRF or Origin check: a refused request's log line says who
/// it came as.
fn name_in_span(caller: &Caller) {
    tracing::Span::current().record("user_id", tracing::field::display(caller.user()));
}

fn changes_state(method: &Method) -> bool {
    !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// Refuses a request whose `X-CSRF-Token` is not the CSRF token of `session_token`.
pub(crate) fn check_csrf(headers: &HeaderMap, session_token: &str) -> Result<(), ApiError> {
    let presented = headers.get(CSRF_HEADER).ok_or_else(|| {
        ApiError::new(StatusCode::FORBIDDEN, "csrf_missing", "cookie sessions must send the X-CSRF-Token header")
    })?;
    let expected = csrf_token(session_token);
    // In constant time: a timing difference would tell a guesser how many leading digits it has right.
    if !bool::from(presented.as_bytes().ct_eq(expected.as_bytes())) {
        return Err(ApiError::new(StatusCode::FORBIDDEN, "csrf_invalid", "the X-CSRF-Token header does not match"));
    }
    Ok(())
}

/// The CSRF token of a session (see the module docs).
pub(crate) fn csrf_token(session_token: &str) -> String {
    // HMAC takes a key of any length (a longer one is hashed first): this cannot fail.
    let mut mac = Hmac::<Sha256>::new_from_slice(session_token.as_bytes()).expect("HMAC accepts any key length");
    mac.update(b"kanect-csrf-v1");
    mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect()
}

/// A cookie's value from the request's `Cookie` headers.
fn cookie(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(COOKIE)
        .iter()
        // Pair by pair: other cookies on the same host may hold any bytes, and must not hide ours.
        .flat_map(|v| v.as_bytes().split(|&b| b == b';'))
        .filter_map(|pair| std::str::from_utf8(pair).ok())
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value.trim().to_string())
}

/// The two `Set-Cookie` values that start a browser session, for the service at `path` (`/`,
/// or where it is mounted).
pub(crate) fn session_cookies(
    token: &str,
    csrf: &str,
    max_age_secs: u64,
    secure: bool,
    path: &str,
) -> [HeaderValue; 2] {
    let secure = if secure { "; Secure" } else { "" };
    let session =
        format!("{SESSION_COOKIE}={token}; Path={path}; Max-Age={max_age_secs}; HttpOnly; SameSite=Strict{secure}");
    let csrf = format!("{CSRF_COOKIE}={csrf}; Path={path}; Max-Age={max_age_secs}; SameSite=Strict{secure}");
    // Hex tokens and fixed text: always valid header values.
    [header_value(session), header_value(csrf)]
}

/// The two `Set-Cookie` values that end a browser session (of the service at `path`).
pub(crate) fn clear_cookies(secure: bool, path: &str) -> [HeaderValue; 2] {
    let secure = if secure { "; Secure" } else { "" };
    [
        header_value(format!("{SESSION_COOKIE}=; Path={path}; Max-Age=0; HttpOnly; SameSite=Strict{secure}")),
        header_value(format!("{CSRF_COOKIE}=; Path={path}; Max-Age=0; SameSite=Strict{secure}")),
    ]
}

fn header_value(text: String) -> HeaderValue {
    HeaderValue::try_from(text).unwrap_or_else(|_| HeaderValue::from_static(""))
}

/// Refuses a cross-site WebSocket upgrade: an `Origin` must name the request's own host or be
/// allow-listed. Requests without `Origin` (not from a browser) pass.
pub(crate) fn check_origin(headers: &HeaderMap, allowed: &[String]) -> Result<(), ApiError> {
    let Some(origin) = headers.get(ORIGIN) else { return Ok(()) };
    let forbidden = || ApiError::new(StatusCode::FORBIDDEN, "origin_forbidden", "cross-origin WebSocket refused");
    let origin = origin.to_str().map_err(|_| forbidden())?;
    if allowed.iter().any(|a| a.eq_ignore_ascii_case(origin)) {
        return Ok(());
    }
    let host = headers.get(HOST).and_then(|h| h.to_str().ok()).ok_or_else(forbidden)?;
    let origin_host =
        origin.strip_prefix("http://").or_else(|| origin.strip_prefix("https://")).ok_or_else(forbidden)?;
    if origin_host.eq_ignore_ascii_case(host) {
        Ok(())
    } else {
        Err(forbidden())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The token is HMAC-SHA256 as RFC 2104 defines it (values from Python's `hmac`), so the
    /// tokens of sessions issued before a change of implementation stay valid; the second key
    /// is longer than SHA-256's block, which HMAC hashes first.
    #[test]
    fn csrf_token_is_hmac_sha256_of_the_session_token() {
        assert_eq!(csrf_token("abc"), "0fcb66dd98e0dca7bfcc88f5b460e12cee30a82ce7e3f878d86f526d39430c3e");
        assert_eq!(csrf_token(&"k".repeat(100)), "24db03d98700a33abebb66977abf8599efab24938513f1cb9a87be8c4913c059");
    }

    #[test]
    fn a_csrf_token_of_another_length_or_one_digit_off_is_refused() {
        let expected = csrf_token("a");
        let mut one_off = expected.clone().into_bytes();
        one_off[63] = if one_off[63] == b'0' { b'1' } else { b'0' };
        for presented in [&expected[..63], &format!("{expected}0"), std::str::from_utf8(&one_off).unwrap(), ""] {
            let mut headers = HeaderMap::new();
            headers.insert(CSRF_HEADER, HeaderValue::try_from(presented).unwrap());
            assert_eq!(check_csrf(&headers, "a").unwrap_err().code, "csrf_invalid", "{presented:?}");
        }
    }

    #[test]
    fn csrf_is_per_session_and_checked() {
        assert_ne!(csrf_token("a"), csrf_token("b"));
        let mut headers = HeaderMap::new();
        assert_eq!(check_csrf(&headers, "a").unwrap_err().code, "csrf_missing");
        headers.insert(CSRF_HEADER, HeaderValue::try_from(csrf_token("b")).unwrap());
        assert_eq!(check_csrf(&headers, "a").unwrap_err().code, "csrf_invalid");
        headers.insert(CSRF_HEADER, HeaderValue::try_from(csrf_token("a")).unwrap());
        assert!(check_csrf(&headers, "a").is_ok());
    }

    #[test]
    fn bearer_wins_over_cookie() {
        let mut headers = HeaderMap::new();
        headers.insert(COOKIE, HeaderValue::from_static("other=1; kanect_session=abc"));
        assert_eq!(presented_token(&headers), Some(("abc".to_string(), true)));
        headers.insert(AUTHORIZATION, HeaderValue::from_static("Bearer xyz"));
        assert_eq!(presented_token(&headers), Some(("xyz".to_string(), false)));
    }

    /// Found by the `auth` fuzz target: an `Authorization` header with bytes past ASCII was
    /// skipped, and the cookie session behind it used instead.
    #[test]
    fn an_unreadable_authorization_header_is_a_bad_bearer_not_a_fall_back_to_the_cookie() {
        let mut headers = HeaderMap::new();
        headers.insert(COOKIE, HeaderValue::from_static("kanect_session=abc"));
        headers.insert(AUTHORIZATION, HeaderValue::from_bytes("Bearer \u{bb}".as_bytes()).unwrap());
        assert_eq!(presented_token(&headers), Some((String::new(), false)));
    }

    /// Found by the `auth` fuzz target: one cookie with bytes past ASCII (another app's, on
    /// the same host) made the whole `Cookie` header unreadable, and the session with it.
    #[test]
    fn the_session_cookie_is_read_beside_cookies_past_ascii() {
        let mut headers = HeaderMap::new();
        let cookies = "theme=\u{27d}; kanect_session=abc; lang=fr\u{e9}".as_bytes();
        headers.insert(COOKIE, HeaderValue::from_bytes(cookies).unwrap());
        assert_eq!(presented_token(&headers), Some(("abc".to_string(), true)));
        headers.append(COOKIE, HeaderValue::from_bytes(b"x=\xff\xfe").unwrap());
        assert_eq!(presented_token(&headers), Some(("abc".to_string(), true)));
    }

    #[test]
    fn origin_must_match_host_or_allow_list() {
        let mut headers = HeaderMap::new();
        assert!(check_origin(&headers, &[]).is_ok());
        headers.insert(HOST, HeaderValue::from_static("127.0.0.1:8080"));
        headers.insert(ORIGIN, HeaderValue::from_static("http://127.0.0.1:8080"));
        assert!(check_origin(&headers, &[]).is_ok());
        headers.insert(ORIGIN, HeaderValue::from_static("https://evil.example"));
        assert_eq!(check_origin(&headers, &[]).unwrap_err().code, "origin_forbidden");
        assert!(check_origin(&headers, &["https://evil.example".to_string()]).is_ok());
        headers.insert(ORIGIN, HeaderValue::from_static("null"));
        assert!(check_origin(&headers, &[]).is_err());
    }
}
