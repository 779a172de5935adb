//! The access log names the user each request acts for, however it was authenticated: by the
//! embedding application (a `Caller` in the request's extensions, `examples/axum_app.rs`
//! mounted at `/chat`), by Kanect's session cookie, or by a bearer token. A request that names
//! no user, or a token that is no session, is logged without one.
//!
//! The log is captured by a subscriber writing into a buffer, one for the whole test binary
//! (the servers' tasks run on the runtime's worker threads, which a thread-local subscriber
//! would not see); each test finds its own lines by the request ids it sent.

mod support;

#[allow(dead_code)] // its `main` is the example's
#[path = "../examples/axum_app.rs"]
mod axum_app;

use kanect::{Chat, MemoryStore};
use serde_json::json;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Instant;
use support::*;

/// What the servers of this test binary log (target `kanect_http`, level info).
#[derive(Clone, Default)]
struct Log(Arc<Mutex<Vec<u8>>>);

impl Log {
    /// The log, installed as the process's subscriber by the first test to ask.
    fn get() -> &'static Log {
        static LOG: OnceLock<Log> = OnceLock::new();
        LOG.get_or_init(|| {
            let log = Log::default();
            let writer = log.clone();
            tracing_subscriber::fmt()
                .with_ansi(false)
                .with_env_filter("kanect_http=info")
                .with_writer(move || writer.clone())
                .init();
            log
        })
    }

    /// The access line of the request with id `request_id`, waiting for it at most [`WAIT`].
    fn access(&self, request_id: &str) -> String {
        let quoted = format!("request_id=\"{request_id}\"");
        let started = Instant::now();
        loop {
            let text = String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned();
            let line = text.lines().find(|line| line.contains("kanect_http::access") && line.contains(&quoted));
            if let Some(line) = line {
                return line.to_owned();
            }
            assert!(started.elapsed() < WAIT, "no access line for request {request_id} in\n{text}");
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
    }

    /// The `user_id` of the access line of request `request_id`, if it has one.
    fn user_of(&self, request_id: &str) -> Option<String> {
        let line = self.access(request_id);
        let fields = line.split("request{").nth(1).and_then(|rest| rest.split('}').next()).expect("the request span");
        fields.split(' ').find_map(|field| field.strip_prefix("user_id=")).map(str::to_owned)
    }
}

impl std::io::Write for Log {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

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

/// The access log named no user for requests the embedding application authenticated: only
/// Kanect's own token check recorded it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_the_embedding_app_authenticated_name_its_user() {
    let log = Log::get();
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn session_cookie_and_bearer_token_requests_name_their_user() {
    let log = Log::get();
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
