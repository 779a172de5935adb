//! Kanect mounted in an axum application (`examples/axum_app.rs`) at `/chat`: the app's own
//! routes beside it, the app's log-in deciding who the user is in Kanect (and in its access
//! log), a WebSocket upgrade through axum, and what is refused — no user, a cross-site request,
//! paths outside the mount.

mod support;

#[allow(dead_code)] // its `main` is the example's
#[path = "../examples/axum_app.rs"]
mod axum_app;

use kanect::{Chat, MemoryStore};
use serde_json::json;
use std::net::SocketAddr;
use support::log::Log;
use support::*;

/// Starts the example app on port 0, with users alice and bob; returns its address.
async fn start_app() -> SocketAddr {
    let chat = Chat::builder(MemoryStore::new()).config(chat_config()).build().await.expect("chat");
    let app = axum_app::app(chat, &[("alice", "alice-secret"), ("bob", "bob-secret")]).await.expect("app");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>()).await.expect("serve")
    });
    addr
}

/// Logs `name` in through the app's own `/login`; returns the app's cookie (`name=value`).
async fn app_login(addr: SocketAddr, name: &str) -> String {
    let body = format!("username={name}&password={name}-secret");
    let headers = [("Content-Type", "application/x-www-form-urlencoded")];
    let reply = raw_request(addr, "POST", "/login", &headers, body.as_bytes()).await;
    assert_eq!(reply.status, 200, "{}", String::from_utf8_lossy(&reply.body));
    let cookie = reply.header("set-cookie").expect("the app's cookie");
    cookie.split(';').next().expect("name=value").to_owned()
}

/// A JSON request carrying the app's cookie and `extra` headers.
async fn as_app_user(addr: SocketAddr, method: &str, path: &str, cookie: &str, extra: &[(&str, &str)]) -> Reply {
    as_app_user_with(addr, method, path, cookie, extra, None).await
}

async fn as_app_user_with(
    addr: SocketAddr,
    method: &str,
    path: &str,
    cookie: &str,
    extra: &[(&str, &str)],
    body: Option<serde_json::Value>,
) -> Reply {
    let mut headers = vec![("Content-Type", "application/json"), ("Cookie", cookie)];
    headers.extend_from_slice(extra);
    let body = body.map(|body| body.to_string()).unwrap_or_default();
    raw_request(addr, method, path, &headers, body.as_bytes()).await
}

/// Opens a WebSocket at `/chat/api/v1/ws` with `headers` (the app's cookie, an Origin).
async fn open_socket(addr: SocketAddr, headers: &[(&str, &str)]) -> Result<Ws, u16> {
    try_connect_to(addr, "/chat/api/v1/ws", "", headers).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn app_users_chat_through_kanect_mounted_at_chat_over_rest_and_a_websocket() {
    let addr = start_app().await;
    let (alice, bob) = (app_login(addr, "alice").await, app_login(addr, "bob").await);

    // The app's own route, beside Kanect, knows its own session.
    let home = raw_request(addr, "GET", "/", &[("Cookie", &alice)], b"").await;
    assert_eq!((home.status, String::from_utf8_lossy(&home.body).starts_with("Welcome")), (200, true));

    // Kanect, under /chat, acts as the user the app logged in: no Kanect token, no CSRF token.
    let me = as_app_user(addr, "GET", "/chat/api/v1/me", &alice, &[]).await;
    assert_eq!((me.status, me.json()["username"].clone()), (200, json!("alice")));
    let bob_id = as_app_user(addr, "GET", "/chat/api/v1/me", &bob, &[]).await.json()["id"].clone();

    // Bob listens on a WebSocket upgraded through axum.
    let mut bob_socket = open_socket(addr, &[("cookie", &bob)]).await.expect("bob's socket opens");
    assert_eq!(bob_socket.next_of("hello").await["user"], bob_id);

    let direct =
        as_app_user_with(addr, "POST", "/chat/api/v1/conversations/direct", &alice, &[], Some(json!({"user": bob_id})));
    let direct = direct.await;
    assert_eq!(direct.status, 200, "{:?}", direct.json());
    let messages = format!("/chat/api/v1/conversations/{}/messages", direct.json()["id"].as_str().expect("id"));
    // A browser on the app's own page sends its own Origin: that passes.
    let own_origin = format!("http://{addr}");
    let body = Some(json!({"client_id": "c1", "body": "lunch?"}));
    let sent = as_app_user_with(addr, "POST", &messages, &alice, &[("Origin", &own_origin)], body).await;
    assert!(sent.status == 200 || sent.status == 201, "{:?}", sent.json());

    let message = bob_socket.next_of("message").await;
    assert_eq!(message["message"]["body"], "lunch?");
    assert_eq!(message["message"]["sender"], me.json()["id"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_without_the_apps_session_get_401_from_kanect() {
    let addr = start_app().await;
    let reply = raw_request(addr, "GET", "/chat/api/v1/me", &[], b"").await;
    assert_eq!((reply.status, reply.code()), (401, "unauthenticated".to_owned()));
    // An app cookie that names no session is no user either.
    let reply = as_app_user(addr, "GET", "/chat/api/v1/conversations", "app_session=forged", &[]).await;
    assert_eq!((reply.status, reply.code()), (401, "unauthenticated".to_owned()));
    assert_eq!(open_socket(addr, &[]).await.err(), Some(401));
}

/// The app's session is a cookie, which a browser sends with a cross-site request too, and
/// Kanect's CSRF token does not apply to it: a cross-site request that changes state, or opens
/// a socket, is refused by its `Origin` — and changes nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cross_site_request_of_an_app_user_is_refused_by_its_origin() {
    let addr = start_app().await;
    let (alice, bob) = (app_login(addr, "alice").await, app_login(addr, "bob").await);
    let bob_id = as_app_user(addr, "GET", "/chat/api/v1/me", &bob, &[]).await.json()["id"].clone();
    let evil = [("Origin", "https://evil.example")];

    let body = Some(json!({"user": bob_id}));
    let refused = as_app_user_with(addr, "POST", "/chat/api/v1/conversations/direct", &alice, &evil, body).await;
    assert_eq!((refused.status, refused.code()), (403, "origin_forbidden".to_owned()));
    let conversations = as_app_user(addr, "GET", "/chat/api/v1/conversations", &alice, &[]).await;
    assert_eq!(conversations.status, 200);
    assert_eq!(conversations.json()["conversations"], json!([]), "{:?}", conversations.json());

    assert_eq!(open_socket(addr, &[("cookie", &alice), ("origin", "https://evil.example")]).await.err(), Some(403));
    // Reading needs no Origin check: a cross-site page cannot read the answer (no CORS).
    assert_eq!(as_app_user(addr, "GET", "/chat/api/v1/me", &alice, &evil).await.status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_mounted_service_serves_the_api_and_health_under_its_prefix_and_not_the_web_app() {
    let addr = start_app().await;
    let health = raw_request(addr, "GET", "/chat/health", &[], b"").await;
    assert_eq!((health.status, health.json()["status"].clone()), (200, json!("ok")));
    // The web app links to absolute paths: it is served at the root only.
    for path in ["/chat", "/chat/", "/chat/index.html", "/chat/app.js"] {
        assert_eq!(raw_request(addr, "GET", path, &[], b"").await.status, 404, "{path}");
    }
    // Kanect's own accounts still work under the prefix, with cookies for its path.
    let body = json!({"username": "carol", "password": "correct horse battery"});
    let signup = as_app_user_with(addr, "POST", "/chat/api/v1/auth/signup", "", &[], Some(body)).await;
    assert_eq!(signup.status, 201, "{:?}", signup.json());
    let cookies = signup.headers_named("set-cookie");
    assert_eq!(cookies.len(), 2);
    assert!(cookies.iter().all(|cookie| cookie.contains("; Path=/chat;")), "{cookies:?}");
}

/// A service mounted at the root of another server (here axum's fallback) is the whole server
/// API, Kanect's own log-in included; its `shutdown` closes sockets with `1001` and makes
/// `/health` say so, while the embedding server keeps running.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_service_at_the_root_serves_kanects_own_sessions_and_shuts_its_sockets_down() {
    let chat = Chat::builder(MemoryStore::new()).config(chat_config()).build().await.expect("chat");
    let kanect = kanect::http::KanectService::builder(chat, kanect::http::HttpConfig::default()).build();
    let app = axum::Router::new().fallback_service(kanect.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move { axum::serve(listener, app).await.expect("serve") });

    let alice = signup(addr, "alice").await;
    let mut socket = connect(addr, &alice.token).await;
    assert_eq!(raw_request(addr, "GET", "/", &[], b"").await.status, 200, "the web app, at the root");

    kanect.shutdown().await.expect("flushed");
    assert_eq!(socket.closed_within(WAIT).await, Some(Some(1001)));
    let health = raw_request(addr, "GET", "/health", &[], b"").await;
    assert_eq!((health.status, health.json()["status"].clone()), (503, json!("shutting_down")));
}

/// The access log names the app's user (it named none: only Kanect's own token check recorded
/// it), also on a request its Origin refuses and on the WebSocket's upgrade.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_the_embedding_app_authenticated_name_its_user() {
    let log = Log::capture();
    let addr = start_app().await;
    let alice = app_login(addr, "alice").await;
    let bob = app_login(addr, "bob").await;
    let json = ("Content-Type", "application/json");

    let me = raw_request(addr, "GET", "/chat/api/v1/me", &[("Cookie", &alice), ("X-Request-Id", "app-me")], b"").await;
    assert_eq!(me.status, 200, "{:?}", me.json());
    let alice_id = me.json()["id"].as_str().expect("alice's id").to_owned();
    assert_eq!(log.user_of("app-me").as_deref(), Some(alice_id.as_str()));

    // A request that changes state, and one refused by its Origin (the log says who tried).
    let bob_id = raw_request(addr, "GET", "/chat/api/v1/me", &[("Cookie", &bob)], b"").await.json()["id"].clone();
    let body = json!({"user": bob_id}).to_string();
    let headers = [("Cookie", alice.as_str()), json, ("X-Request-Id", "app-direct")];
    let direct = raw_request(addr, "POST", "/chat/api/v1/conversations/direct", &headers, body.as_bytes()).await;
    assert_eq!(direct.status, 200, "{:?}", direct.json());
    assert_eq!(log.user_of("app-direct").as_deref(), Some(alice_id.as_str()));
    let headers = [("Cookie", alice.as_str()), json, ("Origin", "https://evil.example"), ("X-Request-Id", "app-evil")];
    let refused = raw_request(addr, "POST", "/chat/api/v1/conversations/direct", &headers, body.as_bytes()).await;
    assert_eq!((refused.status, refused.code()), (403, "origin_forbidden".to_owned()));
    assert_eq!(log.user_of("app-evil").as_deref(), Some(alice_id.as_str()));

    // The WebSocket's upgrade request.
    let socket = try_connect_to(addr, "/chat/api/v1/ws", "", &[("cookie", &alice), ("x-request-id", "app-ws")]).await;
    assert!(socket.is_ok(), "the app user's socket opens");
    assert_eq!(log.user_of("app-ws").as_deref(), Some(alice_id.as_str()));

    // No app session: no user.
    let anonymous = raw_request(addr, "GET", "/chat/api/v1/me", &[("X-Request-Id", "app-anonymous")], b"").await;
    assert_eq!(anonymous.status, 401);
    assert_eq!(log.user_of("app-anonymous"), None);
}
