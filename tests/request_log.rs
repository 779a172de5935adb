//! The access log names the user each request acts for when Kanect authenticated it: by its
//! session cookie (also when the CSRF check then refuses the request) or by a bearer token. A
//! token that is no session, or none, is logged without a user. (A user the embedding
//! application authenticated: `tests/axum_mount.rs`.)

mod support;

use support::log::Log;
use support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn session_cookie_and_bearer_token_requests_name_their_user() {
    let log = Log::capture();
    let server = start_server().await;
    let alice = signup(server.addr, "alice").await;
    let session = format!("kanect_session={}", alice.token);
    let bearer = format!("Bearer {}", alice.token);

    let headers = [("Cookie", session.as_str()), ("X-Request-Id", "cookie")];
    assert_eq!(raw_request(server.addr, "GET", "/api/v1/me", &headers, b"").await.status, 200);
    assert_eq!(log.user_of("cookie").as_deref(), Some(alice.id.as_str()));
    // A cookie session changing state without its CSRF token is refused, and names who tried.
    let headers = [("Cookie", session.as_str()), ("X-Request-Id", "cookie-no-csrf")];
    let refused = raw_request(server.addr, "POST", "/api/v1/auth/logout", &headers, b"").await;
    assert_eq!((refused.status, refused.code()), (403, "csrf_missing".to_owned()));
    assert_eq!(log.user_of("cookie-no-csrf").as_deref(), Some(alice.id.as_str()));

    let headers = [("Authorization", bearer.as_str()), ("X-Request-Id", "bearer")];
    assert_eq!(raw_request(server.addr, "GET", "/api/v1/me", &headers, b"").await.status, 200);
    assert_eq!(log.user_of("bearer").as_deref(), Some(alice.id.as_str()));

    // A token that is no session, and no token at all: no user.
    let headers = [("Authorization", "Bearer not-a-session"), ("X-Request-Id", "bearer-bad")];
    assert_eq!(raw_request(server.addr, "GET", "/api/v1/me", &headers, b"").await.status, 401);
    assert_eq!(log.user_of("bearer-bad"), None);
    let headers = [("X-Request-Id", "no-token")];
    assert_eq!(raw_request(server.addr, "GET", "/api/v1/me", &headers, b"").await.status, 401);
    assert_eq!(log.user_of("no-token"), None);
}
