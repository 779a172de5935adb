//! Cookie, bearer, CSRF and Origin checks (`kanect-http/src/auth.rs`) on arbitrary headers.
//!
//! Properties: nothing panics; a bearer `Authorization` header wins over cookies and yields
//! its trimmed token; the session cookie that log-in sets is read back whatever other cookies
//! (in one `Cookie` header or several) surround it; the CSRF check accepts exactly the token
//! of the session (a missing, foreign or altered token is refused with `csrf_missing` /
//! `csrf_invalid`); the Origin check passes exactly requests without `Origin`, an allow-listed
//! origin, or `http(s)://` plus the request's own `Host`, and refuses all else with
//! `origin_forbidden`.

#![no_main]

use arbitrary::Arbitrary;
use http::header::{HeaderValue, AUTHORIZATION, COOKIE, HOST, ORIGIN};
use http::HeaderMap;
use kanect_http::fuzzing::{check_csrf, check_origin, csrf_token, presented_token, session_cookies};
use libfuzzer_sys::fuzz_target;

#[derive(Arbitrary, Debug)]
struct Input {
    /// The session token (real ones are hex; any text must still be handled).
    token: String,
    /// Other cookies, `name=value` pieces, sent before and after the session cookie.
    before: Vec<String>,
    after: Vec<String>,
    /// Send each cookie in a `Cookie` header of its own (as HTTP/2 clients may).
    split_headers: bool,
    /// An `Authorization` header.
    authorization: Option<String>,
    /// The `X-CSRF-Token` presented.
    csrf: Csrf,
    /// `Origin`, `Host` and the allow-list.
    origin: Option<String>,
    host: Option<String>,
    allowed: Vec<String>,
}

#[derive(Arbitrary, Debug)]
enum Csrf {
    Missing,
    Right,
    /// The right token with one byte changed (at this index, to this byte).
    Altered(usize, u8),
    OtherSession(String),
    Raw(Vec<u8>),
}

fn header(text: &str) -> Option<HeaderValue> {
    HeaderValue::from_str(text).ok()
}

fuzz_target!(|input: Input| {
    check_cookies_and_bearer(&input);
    check_csrf_token(&input);
    check_origin_rule(&input);
});

fn check_cookies_and_bearer(input: &Input) {
    let [set_session, _] = session_cookies(&input.token, &csrf_token(&input.token));
    // Tokens outside visible ASCII make a header `to_str` refuses: the cookie is unreadable.
    let Ok(set_session) = set_session.to_str() else { return };
    let session_pair = set_session.split(';').next().unwrap_or_default();
    let mut pairs: Vec<&str> = input.before.iter().map(String::as_str).collect();
    pairs.push(session_pair);
    pairs.extend(input.after.iter().map(String::as_str));
    let values: Option<Vec<HeaderValue>> = if input.split_headers {
        pairs.iter().map(|p| header(p)).collect()
    } else {
        header(&pairs.join("; ")).map(|v| vec![v])
    };
    let Some(values) = values else { return };
    let mut headers = HeaderMap::new();
    for value in values {
        headers.append(COOKIE, value);
    }
    // The token round-trips when it is a cookie value at all (real tokens are hex) and no
    // cookie before it claims the session cookie's name.
    let cookie_safe = !input.token.is_empty()
        && input.token.trim() == input.token
        && !input.token.contains(';')
        && header(&input.token).is_some();
    let shadowed = input
        .before
        .iter()
        .flat_map(|b| b.split(';'))
        .any(|p| p.trim().split_once('=').is_some_and(|(name, _)| name == "kanect_session"));
    let presented = presented_token(&headers);
    if cookie_safe && !shadowed {
        assert_eq!(presented, Some((input.token.clone(), true)), "cookie token");
    }
    if let Some(authorization) = input.authorization.as_deref().and_then(header) {
        headers.insert(AUTHORIZATION, authorization.clone());
        let (token, via_cookie) = presented_token(&headers).expect("an Authorization header presents a token");
        assert!(!via_cookie, "bearer wins over the cookie");
        let text = authorization.to_str().unwrap_or_default();
        if let Some(bare) = text.strip_prefix("Bearer ") {
            assert_eq!(token, bare.trim());
        }
    }
}

fn check_csrf_token(input: &Input) {
    let right = csrf_token(&input.token);
    assert_eq!(right.len(), 64, "hex HMAC-SHA256");
    let presented: Option<Vec<u8>> = match &input.csrf {
        Csrf::Missing => None,
        Csrf::Right => Some(right.clone().into_bytes()),
        Csrf::Altered(at, byte) => {
            let mut bytes = right.clone().into_bytes();
            let at = at % bytes.len();
            bytes[at] = *byte;
            Some(bytes)
        }
        Csrf::OtherSession(other) => Some(csrf_token(other).into_bytes()),
        Csrf::Raw(bytes) => Some(bytes.clone()),
    };
    let mut headers = HeaderMap::new();
    if let Some(bytes) = &presented {
        let Ok(value) = HeaderValue::from_bytes(bytes) else { return };
        headers.insert("x-csrf-token", value);
    }
    let result = check_csrf(&headers, &input.token);
    match presented {
        None => assert_eq!(result.unwrap_err().code, "csrf_missing"),
        Some(bytes) if bytes == right.as_bytes() => assert!(result.is_ok(), "the session's own token refused"),
        Some(_) => assert_eq!(result.unwrap_err().code, "csrf_invalid"),
    }
}

fn check_origin_rule(input: &Input) {
    let mut headers = HeaderMap::new();
    let origin = match input.origin.as_deref() {
        Some(text) => match header(text) {
            Some(value) => {
                headers.insert(ORIGIN, value);
                Some(text)
            }
            None => return,
        },
        None => None,
    };
    let host = input.host.as_deref().and_then(|h| header(h).map(|v| (h, v)));
    if let Some((_, value)) = &host {
        headers.insert(HOST, value.clone());
    }
    let result = check_origin(&headers, &input.allowed);
    let should_pass = match origin {
        None => true,
        // Origin and Host are ASCII (browsers send international names in punycode): other
        // bytes never match.
        Some(origin) if !origin.is_ascii() => false,
        Some(origin) => {
            input.allowed.iter().any(|a| a.eq_ignore_ascii_case(origin))
                || host.as_ref().filter(|(host, _)| host.is_ascii()).is_some_and(|(host, _)| {
                    // Browsers send the scheme in lower case; the host is compared as DNS does.
                    ["http://", "https://"]
                        .iter()
                        .any(|scheme| origin.strip_prefix(scheme).is_some_and(|rest| rest.eq_ignore_ascii_case(host)))
                })
        }
    };
    match result {
        Ok(()) => assert!(should_pass, "origin {origin:?} passed with host {host:?}"),
        Err(rejection) => {
            assert!(!should_pass, "origin {origin:?} refused with host {host:?}");
            assert_eq!(rejection.code, "origin_forbidden");
        }
    }
}
