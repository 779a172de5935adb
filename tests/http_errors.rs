//! Bad input and unauthorised access over real sockets: every case gets its status and stable
//! code, and a socket keeps working after an error frame.

mod support;

use kanect::http::HttpConfig;
use kanect::{ChatConfig, RateLimits};
use serde_json::{json, Value};
use std::time::Duration;
use support::*;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_frames_get_error_codes_and_the_socket_keeps_working() {
    let server = start_server().await;
    let addr = server.addr;
    let (alice, bob, carol) = (signup(addr, "alice").await, signup(addr, "bob").await, signup(addr, "carol").await);
    let direct = open_direct(addr, &alice, &bob).await;
    let others = open_direct(addr, &bob, &carol).await;
    let mut ws = connect(addr, &alice.token).await;
    let unknown = "0193a000-0000-7000-8000-000000000000";

    let cases: Vec<(String, &str, Option<&str>)> = vec![
        ("this is not json".into(), "invalid_json", None),
        (json!({"type":"shout"}).to_string(), "unknown_type", Some("type")),
        (json!({"type":"send","conversation":direct,"body":"x"}).to_string(), "missing_field", Some("client_id")),
        (json!({"type":"read","conversation":direct,"seq":"one"}).to_string(), "wrong_type", None),
        (json!({"type":"ping","colour":"red"}).to_string(), "unknown_field", Some("colour")),
        (json!({"type":"ping","v":9}).to_string(), "unsupported_version", Some("v")),
        (
            json!({"type":"send","conversation":direct,"client_id":"c","body":"x".repeat(4001)}).to_string(),
            "too_long",
            Some("body"),
        ),
        (json!({"type":"send","conversation":direct,"client_id":"c","body":""}).to_string(), "empty", Some("body")),
        (
            json!({"type":"send","conversation":unknown,"client_id":"c","body":"x"}).to_string(),
            "conversation_not_found",
            None,
        ),
        (
            json!({"type":"send","conversation":others,"client_id":"c","body":"x"}).to_string(),
            "conversation_not_found",
            None,
        ),
        (json!({"type":"read","conversation":direct,"seq":99}).to_string(), "out_of_range", Some("read")),
        (json!({"type":"ping","pad":"x".repeat(40 * 1024)}).to_string(), "frame_too_large", None),
    ];
    for (i, (frame, code, field)) in cases.into_iter().enumerate() {
        ws.send_text(frame).await;
        let error = ws.next_of("error").await;
        assert_eq!(error["code"], code, "case {i}: {error}");
        assert_eq!(error["field"], field.map_or(Value::Null, |f| json!(f)), "case {i}: {error}");
        // ... and the socket still works.
        assert_eq!(ws.call(json!({"type":"ping"}), &format!("p{i}")).await["type"], "pong");
    }
    // The ref of a refused command is echoed.
    let refused = ws.call(json!({"type":"typing","conversation":others}), "mine").await;
    assert_eq!((refused["type"].clone(), refused["code"].clone()), (json!("error"), json!("conversation_not_found")));
    ws.socket.send(tokio_tungstenite::tungstenite::Message::Binary(vec![1, 2, 3].into())).await.unwrap();
    assert_eq!(ws.next_of("error").await["code"], "wrong_type");
    let ok = ws.call(json!({"type":"send","conversation":direct,"client_id":"fine","body":"still here"}), "s").await;
    assert_eq!(ok["seq"], 1);

    // Over the transport limit: an error frame, then close 1009.
    ws.send_text(json!({"type":"ping","pad":"x".repeat(100 * 1024)}).to_string()).await;
    assert_eq!(ws.next_of("error").await["code"], "frame_too_large");
    assert_eq!(ws.closed_within(WAIT).await, Some(Some(1009)));
    server.shutdown().await.unwrap();
}

use futures_util::{SinkExt, StreamExt};

/// method, path, body, expected status, code and field.
type Case<'a> = (&'a str, String, Option<Value>, u16, &'a str, Option<&'a str>);

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_rest_input_gets_its_status_and_code() {
    let server = start_server().await;
    let addr = server.addr;
    let (alice, bob, carol) = (signup(addr, "alice").await, signup(addr, "bob").await, signup(addr, "carol").await);
    let direct = open_direct(addr, &alice, &bob).await;
    let others = open_direct(addr, &bob, &carol).await;
    let send_path = format!("/api/v1/conversations/{direct}/messages");
    let token = Some(alice.token.as_str());
    let auth = format!("Bearer {}", alice.token);
    let headers = [("Authorization", auth.as_str()), ("Content-Type", "application/json")];

    let big = vec![b'x'; 70 * 1024];
    let reply = raw_request(addr, "POST", &send_path, &headers, &big).await;
    assert_eq!((reply.status, reply.code().as_str()), (413, "body_too_large"));
    let reply = raw_request(addr, "POST", &send_path, &headers, b"{not json").await;
    assert_eq!((reply.status, reply.code().as_str()), (400, "invalid_json"));

    let cases: Vec<Case> = vec![
        ("POST", send_path.clone(), Some(json!({"body":"x"})), 400, "missing_field", Some("client_id")),
        (
            "POST",
            send_path.clone(),
            Some(json!({"client_id":"1","body":"x","extra":1})),
            400,
            "unknown_field",
            Some("extra"),
        ),
        ("POST", send_path.clone(), Some(json!({"client_id":1,"body":"x"})), 400, "wrong_type", None),
        (
            "POST",
            send_path.clone(),
            Some(json!({"client_id":"1","body":"x".repeat(4001)})),
            400,
            "too_long",
            Some("body"),
        ),
        (
            "POST",
            format!("/api/v1/conversations/{others}/messages"),
            Some(json!({"client_id":"1","body":"x"})),
            404,
            "conversation_not_found",
            None,
        ),
        (
            "POST",
            "/api/v1/conversations/0193a000-0000-7000-8000-000000000000/messages".into(),
            Some(json!({"client_id":"1","body":"x"})),
            404,
            "conversation_not_found",
            None,
        ),
        ("GET", "/api/v1/conversations/nope".into(), None, 400, "malformed", Some("id")),
        ("GET", format!("{send_path}?limit=0"), None, 400, "out_of_range", Some("limit")),
        ("GET", format!("{send_path}?limit=many"), None, 400, "wrong_type", Some("limit")),
        ("GET", "/api/v1/nowhere".into(), None, 404, "not_found", None),
        (
            "POST",
            "/api/v1/conversations/direct".into(),
            Some(json!({"user": alice.id})),
            409,
            "self_conversation",
            None,
        ),
    ];
    for (method, path, body, status, code, field) in cases {
        let reply = request(addr, method, &path, token, body).await;
        assert_eq!((reply.status, reply.code().as_str()), (status, code), "{method} {path}: {:?}", reply.json());
        assert_eq!(reply.json()["error"]["field"], field.map_or(Value::Null, |f| json!(f)), "{method} {path}");
        assert!(reply.json()["error"]["message"].is_string());
    }

    let taken = request(
        addr,
        "POST",
        "/api/v1/auth/signup",
        None,
        Some(json!({"username":"alice","password":"another long one"})),
    )
    .await;
    assert_eq!((taken.status, taken.code().as_str()), (409, "username_taken"));
    // Common passwords (Django's list) and runs with one odd character.
    for password in ["password", "12345670", "qwerty12", "abcdefgh", "Password!"] {
        let body = json!({"username": "dave", "password": password});
        let weak = request(addr, "POST", "/api/v1/auth/signup", None, Some(body)).await;
        assert_eq!(
            (weak.status, weak.code().as_str(), weak.json()["error"]["field"].clone()),
            (400, "too_weak", json!("password")),
            "{password}"
        );
    }
    let wrong = request(
        addr,
        "POST",
        "/api/v1/auth/login",
        None,
        Some(json!({"username":"alice","password":"wrong password"})),
    )
    .await;
    assert_eq!((wrong.status, wrong.code().as_str()), (401, "bad_credentials"));
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_endpoint_refuses_the_unauthenticated_and_admin_ones_the_non_admin() {
    let server = start_server().await;
    let addr = server.addr;
    let alice = signup(addr, "alice").await;
    let id = "0193a000-0000-7000-8000-000000000000";
    let endpoints = [
        ("POST", "/api/v1/auth/logout".to_string()),
        ("POST", "/api/v1/auth/logout-all".into()),
        ("GET", "/api/v1/me".into()),
        ("GET", "/api/v1/users".into()),
        ("GET", format!("/api/v1/users/{id}")),
        ("GET", "/api/v1/conversations".into()),
        ("POST", "/api/v1/conversations".into()),
        ("POST", "/api/v1/conversations/direct".into()),
        ("GET", format!("/api/v1/conversations/{id}")),
        ("PATCH", format!("/api/v1/conversations/{id}")),
        ("POST", format!("/api/v1/conversations/{id}/members")),
        ("DELETE", format!("/api/v1/conversations/{id}/members/{id}")),
        ("POST", format!("/api/v1/conversations/{id}/leave")),
        ("GET", format!("/api/v1/conversations/{id}/messages")),
        ("POST", format!("/api/v1/conversations/{id}/messages")),
        ("POST", format!("/api/v1/conversations/{id}/receipts")),
        ("POST", format!("/api/v1/conversations/{id}/typing")),
        ("PATCH", format!("/api/v1/messages/{id}")),
        ("DELETE", format!("/api/v1/messages/{id}")),
        ("POST", "/api/v1/poll".into()),
        ("GET", format!("/api/v1/poll/{id}")),
        ("DELETE", format!("/api/v1/poll/{id}")),
        ("GET", "/api/v1/invites".into()),
        ("POST", "/api/v1/invites".into()),
        ("DELETE", format!("/api/v1/invites/{id}")),
    ];
    let admin = [
        ("GET", "/api/v1/admin/users".to_string(), None),
        ("GET", format!("/api/v1/admin/users/{id}"), None),
        ("PUT", format!("/api/v1/admin/users/{id}/disabled"), Some(json!({"disabled":true}))),
        ("PUT", format!("/api/v1/admin/users/{id}/role"), Some(json!({"role":"admin"}))),
        ("POST", format!("/api/v1/admin/users/{id}/password"), Some(json!({"password":"a new long one"}))),
        ("DELETE", format!("/api/v1/admin/users/{id}"), None),
        ("GET", "/api/v1/admin/conversations".into(), None),
        ("GET", format!("/api/v1/admin/conversations/{id}/messages"), None),
        ("DELETE", format!("/api/v1/admin/messages/{id}"), None),
        ("GET", "/api/v1/admin/stats".into(), None),
        ("GET", "/api/v1/admin/audit".into(), None),
        ("GET", "/api/v1/admin/invites".into(), None),
        ("POST", "/api/v1/admin/users".into(), Some(json!({"username":"made","password":"a new long one"}))),
        ("PATCH", format!("/api/v1/admin/users/{id}"), Some(json!({"display_name":"X"}))),
    ];
    let all = endpoints.iter().map(|(m, p)| (*m, p.clone(), None)).chain(admin.iter().cloned());
    for (method, path, body) in all {
        let none = request(addr, method, &path, None, body.clone()).await;
        assert_eq!((none.status, none.code().as_str()), (401, "unauthenticated"), "{method} {path}");
        let bad = request(addr, method, &path, Some(&"0".repeat(64)), body.clone()).await;
        assert_eq!((bad.status, bad.code().as_str()), (401, "invalid_session"), "{method} {path}");
    }
    for (method, path, body) in admin.iter().cloned() {
        let user = request(addr, method, &path, Some(&alice.token), body).await;
        assert_eq!((user.status, user.code().as_str()), (403, "admin_only"), "{method} {path}");
    }
    assert_eq!(try_connect(addr, "", &[]).await.err(), Some(401));
    assert_eq!(try_connect(addr, &"0".repeat(64), &[]).await.err(), Some(401));

    // An administrator gets through, and the engine's rules still apply.
    let root = admin_session(&server).await.token;
    let stats = request(addr, "GET", "/api/v1/admin/stats", Some(&root), None).await;
    assert_eq!((stats.status, stats.json()["users"].clone()), (200, json!(2)));
    let disable = request(
        addr,
        "PUT",
        &format!("/api/v1/admin/users/{}/disabled", alice.id),
        Some(&root),
        Some(json!({"disabled":true})),
    )
    .await;
    assert_eq!(disable.status, 200);
    let me = request(addr, "GET", "/api/v1/me", Some(&alice.token), None).await;
    assert_eq!(me.status, 401, "disabling ended the sessions");
    let audit = request(addr, "GET", "/api/v1/admin/audit", Some(&root), None).await;
    assert_eq!(audit.json()["entries"][0]["action"], "user.disable");
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cookie_sessions_need_the_csrf_token_to_change_state() {
    let server = start_server().await;
    let addr = server.addr;
    let (alice, bob) = (signup(addr, "alice").await, signup(addr, "bob").await);
    let login = request(
        addr,
        "POST",
        "/api/v1/auth/login",
        None,
        Some(json!({"username":"alice","password":"correct horse battery"})),
    )
    .await;
    let cookies = login.headers_named("set-cookie");
    assert!(cookies
        .iter()
        .any(|c| c.starts_with("kanect_session=") && c.contains("HttpOnly") && c.contains("SameSite=Strict")));
    assert!(cookies.iter().any(|c| c.starts_with("kanect_csrf=") && !c.contains("HttpOnly")));
    let token = login.json()["token"].as_str().unwrap().to_string();
    let csrf = login.json()["csrf_token"].as_str().unwrap().to_string();
    assert_ne!(csrf, alice.csrf, "per session");
    let cookie = format!("kanect_session={token}; kanect_csrf={csrf}");
    let body = json!({"user": bob.id}).to_string();
    let path = "/api/v1/conversations/direct";

    let reply = raw_request(addr, "GET", "/api/v1/me", &[("Cookie", &cookie)], b"").await;
    assert_eq!(reply.status, 200, "reads need no CSRF token");
    let reply = raw_request(addr, "POST", path, &[("Cookie", &cookie)], body.as_bytes()).await;
    assert_eq!((reply.status, reply.code().as_str()), (403, "csrf_missing"));
    let reply =
        raw_request(addr, "POST", path, &[("Cookie", &cookie), ("X-CSRF-Token", &alice.csrf)], body.as_bytes()).await;
    assert_eq!((reply.status, reply.code().as_str()), (403, "csrf_invalid"));
    let reply = raw_request(addr, "POST", path, &[("Cookie", &cookie), ("X-CSRF-Token", &csrf)], body.as_bytes()).await;
    assert_eq!(reply.status, 200);
    let logout =
        raw_request(addr, "POST", "/api/v1/auth/logout", &[("Cookie", &cookie), ("X-CSRF-Token", &csrf)], b"").await;
    assert_eq!(logout.status, 204);
    assert!(logout.headers_named("set-cookie").iter().all(|c| c.contains("Max-Age=0")));
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websocket_upgrades_check_origin_and_the_per_user_limit() {
    let chat_config = ChatConfig { max_devices_per_user: 2, ..chat_config() };
    let config = HttpConfig { allowed_origins: vec!["https://app.example".into()], ..HttpConfig::default() };
    let server = start_server_with(config, chat_config).await;
    let addr = server.addr;
    let alice = signup(addr, "alice").await;
    let same = format!("http://{addr}");
    assert_eq!(try_connect(addr, &alice.token, &[("origin", "https://evil.example")]).await.err(), Some(403));
    let _a = try_connect(addr, &alice.token, &[("origin", &same)]).await.expect("own origin");
    let _b = try_connect(addr, &alice.token, &[("origin", "https://app.example")]).await.expect("allow-listed");
    assert_eq!(try_connect(addr, &alice.token, &[]).await.err(), Some(429), "third device");
    let poll = request(addr, "POST", "/api/v1/poll", Some(&alice.token), None).await;
    assert_eq!((poll.status, poll.code().as_str()), (429, "too_many_connections"));
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_headers_and_silent_peers_are_disconnected() {
    let config = HttpConfig {
        header_read_timeout: Duration::from_millis(300),
        ws_ping_interval: Duration::from_millis(100),
        ws_idle_timeout: Duration::from_millis(500),
        ..HttpConfig::default()
    };
    let server = start_server_with(config, chat_config()).await;
    let addr = server.addr;

    // Headers that never finish: the server hangs up.
    let mut slow = tokio::net::TcpStream::connect(addr).await.unwrap();
    slow.write_all(b"GET /health HTTP/1.1\r\nHost: x\r\n").await.unwrap();
    let mut rest = Vec::new();
    let ended = tokio::time::timeout(WAIT, slow.read_to_end(&mut rest)).await;
    assert!(ended.is_ok(), "connection closed by the server");
    assert!(!String::from_utf8_lossy(&rest).contains("200 OK"));

    // A socket that answers pings (tungstenite does, while it is read) stays open; one that
    // goes silent (is not read, so sends no pongs) is closed.
    let alice = signup(addr, "alice").await;
    let mut live = connect(addr, &alice.token).await;
    let mut silent = try_connect(addr, &alice.token, &[]).await.unwrap();
    assert_eq!(live.closed_within(Duration::from_millis(1500)).await, None);
    assert_eq!(live.call(json!({"type":"ping"}), "still").await["type"], "pong");
    assert!(silent.closed_within(WAIT).await.is_some());
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_metrics_and_the_web_app() {
    let server = start_server_with_metrics(HttpConfig::default(), chat_config()).await;
    let addr = server.addr;
    let (alice, bob) = (signup(addr, "alice").await, signup(addr, "bob").await);
    let direct = open_direct(addr, &alice, &bob).await;
    let _ws = connect(addr, &bob.token).await;
    request(
        addr,
        "POST",
        &format!("/api/v1/conversations/{direct}/messages"),
        Some(&alice.token),
        Some(json!({"client_id":"1","body":"x"})),
    )
    .await;

    let wrong = json!({"username":"alice","password":"not alice's password"});
    assert_eq!(request(addr, "POST", "/api/v1/auth/login", None, Some(wrong)).await.status, 401);

    let health = request(addr, "GET", "/health", None, None).await;
    assert_eq!((health.status, health.json()["status"].clone()), (200, json!("ok")));
    // The metrics page is on its own listener only, not on the client port.
    let public = request(addr, "GET", "/metrics", None, None).await;
    assert_eq!((public.status, public.code().as_str()), (404, "not_found"));
    let metrics_addr = server.metrics.expect("a metrics listener");
    assert_eq!(request(metrics_addr, "GET", "/health", None, None).await.status, 404);
    let metrics = request(metrics_addr, "GET", "/metrics", None, None).await;
    assert_eq!(metrics.header("content-type"), Some("text/plain; version=0.0.4"));
    let text = String::from_utf8(metrics.body).unwrap();
    // The recorder is the process's: other tests of this binary add to the same series, so
    // each is at least what this test did.
    let at_least = |series: &str, least: f64| {
        let value = metric(&text, series).unwrap_or_else(|| panic!("no {series} in\n{text}"));
        assert!(value >= least, "{series} is {value}, under {least}");
    };
    at_least("kanect_ws_connections_open", 1.0);
    at_least("kanect_devices_connected", 1.0);
    at_least("kanect_messages_sent_total", 1.0);
    at_least("kanect_fanout_seconds_count", 1.0);
    at_least("kanect_store_append_seconds_bucket{le=\"+Inf\"}", 1.0);
    at_least("kanect_ws_connections_total", 1.0);
    let sends =
        "kanect_http_requests_total{method=\"POST\",route=\"/api/v1/conversations/{id}/messages\",status=\"200\"}";
    at_least(sends, 1.0);
    at_least("kanect_login_failures_total{reason=\"bad_credentials\"}", 1.0);
    at_least("process_resident_memory_bytes", 1024.0 * 1024.0);
    at_least("process_open_fds", 3.0);
    at_least("process_cpu_seconds_total", 0.0);
    at_least(&format!("kanect_build_info{{version=\"{}\"}}", env!("CARGO_PKG_VERSION")), 1.0);
    let index = request(addr, "GET", "/", None, None).await;
    assert_eq!(index.status, 200);
    assert!(index.header("content-type").unwrap().starts_with("text/html"));
    assert_eq!(request(addr, "GET", "/no-such-file.js", None, None).await.status, 404);
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_connection_limit_holds_new_connections_until_a_slot_frees() {
    let config = HttpConfig { max_connections: 1, ..HttpConfig::default() };
    let server = start_server_with(config, chat_config()).await;
    let addr = server.addr;
    // One idle connection takes the only slot ...
    let holder = tokio::net::TcpStream::connect(addr).await.unwrap();
    tokio::time::sleep(Duration::from_millis(100)).await;
    // ... so the next one is not served while it lasts ...
    let waiting = tokio::spawn(async move { request(addr, "GET", "/health", None, None).await });
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(!waiting.is_finished(), "served beyond the limit");
    // ... and is served as soon as the slot frees.
    drop(holder);
    let reply = tokio::time::timeout(WAIT, waiting).await.expect("served once the slot freed").unwrap();
    assert_eq!(reply.status, 200);
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_poll_session_expires() {
    let config = HttpConfig { poll_idle: Duration::from_millis(200), ..HttpConfig::default() };
    let server = start_server_with(config, chat_config()).await;
    let alice = signup(server.addr, "alice").await;
    let created = request(server.addr, "POST", "/api/v1/poll", Some(&alice.token), None).await;
    let poll = created.json()["poll"].as_str().unwrap().to_string();
    assert_eq!(server.chat.connected_devices(), 1);
    let path = format!("/api/v1/poll/{poll}?wait=0");
    for _ in 0..100 {
        if server.chat.connected_devices() == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(server.chat.connected_devices(), 0, "the swept session's device left");
    let gone = request(server.addr, "GET", &path, Some(&alice.token), None).await;
    assert_eq!((gone.status, gone.code().as_str()), (404, "poll_not_found"));
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_peer_that_stops_reading_is_dropped() {
    let config = HttpConfig {
        ws_ping_interval: Duration::from_millis(100),
        ws_idle_timeout: Duration::from_millis(500),
        ..HttpConfig::default()
    };
    // Alice sends far faster than people do, to fill Bob's window.
    let unlimited = ChatConfig { rate_limits: RateLimits::UNLIMITED, ..chat_config() };
    let server = start_server_with(config, unlimited).await;
    let addr = server.addr;
    let (alice, bob) = (signup(addr, "alice").await, signup(addr, "bob").await);
    let direct = open_direct(addr, &alice, &bob).await;
    let _stuck = try_connect(addr, &bob.token, &[]).await.unwrap(); // never read
    let mut alice_ws = connect(addr, &alice.token).await;
    let body = "x".repeat(3900);
    for n in 0..400 {
        alice_ws.send(json!({"type":"send","conversation":direct,"client_id":n.to_string(),"body":body})).await;
    }
    let mut acked = 0;
    while acked < 400 {
        if alice_ws.next().await["type"] == "ack" {
            acked += 1;
        }
    }
    // Alice's own socket is read (which answers the server's pings) and stays; Bob's writes
    // back up, or his pings go unanswered, and his socket is dropped. (Alice must go on
    // reading: with loopback buffers large enough to take Bob's backlog, both sockets
    // otherwise reached the idle timeout together.)
    let mut bob_gone = false;
    for _ in 0..100 {
        if server.chat.connected_devices() == 1 {
            bob_gone = true;
            break;
        }
        let _ = tokio::time::timeout(Duration::from_millis(100), alice_ws.socket.next()).await;
    }
    assert!(bob_gone, "the stuck socket was dropped ({} devices)", server.chat.connected_devices());
    server.shutdown().await.unwrap();
}

/// serde's derived `Deserialize` also takes a struct as an array of its fields in order: every
/// REST body (and the cursor objects inside one) must be a JSON object, and an array in its
/// place is `400 wrong_type` — it never signs up, logs in, sends or changes anything.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_json_array_in_place_of_a_request_object_is_refused() {
    let server = start_server().await;
    let addr = server.addr;
    let root = admin_session(&server).await;
    let (alice, bob) = (signup(addr, "alice").await, signup(addr, "bob").await);
    let direct = open_direct(addr, &alice, &bob).await;
    let group = request(addr, "POST", "/api/v1/conversations", Some(&alice.token), Some(json!({"name": "g"}))).await;
    let group = group.json()["id"].as_str().unwrap().to_string();
    let sent = request(
        addr,
        "POST",
        &format!("/api/v1/conversations/{direct}/messages"),
        Some(&alice.token),
        Some(json!({"client_id": "1", "body": "x"})),
    )
    .await;
    let message = sent.json()["id"].as_str().unwrap().to_string();
    let password = "another long password";
    let cases: Vec<(&str, String, &str, Value)> = vec![
        ("POST", "/api/v1/auth/signup".into(), "", json!(["carol", password, null, null])),
        ("POST", "/api/v1/auth/login".into(), "", json!(["alice", "correct horse battery"])),
        ("POST", "/api/v1/conversations".into(), &alice.token, json!(["h", []])),
        ("POST", "/api/v1/conversations/direct".into(), &alice.token, json!([bob.id])),
        ("PATCH", format!("/api/v1/conversations/{group}"), &alice.token, json!(["renamed"])),
        ("POST", format!("/api/v1/conversations/{group}/members"), &alice.token, json!([bob.id])),
        ("POST", format!("/api/v1/conversations/{direct}/messages"), &alice.token, json!(["2", "y"])),
        ("POST", format!("/api/v1/conversations/{direct}/receipts"), &bob.token, json!(["read", 1])),
        ("PATCH", format!("/api/v1/messages/{message}"), &alice.token, json!(["edited"])),
        ("POST", "/api/v1/poll".into(), &alice.token, json!([[], []])),
        ("POST", "/api/v1/poll".into(), &alice.token, json!({"cursors": [[direct, 0]]})),
        ("PUT", format!("/api/v1/admin/users/{}/disabled", bob.id), &root.token, json!([true])),
        ("PUT", format!("/api/v1/admin/users/{}/role", bob.id), &root.token, json!(["admin"])),
        ("POST", format!("/api/v1/admin/users/{}/password", bob.id), &root.token, json!([password])),
    ];
    for (method, path, token, body) in cases {
        let token = Some(token).filter(|t| !t.is_empty());
        let reply = request(addr, method, &path, token, Some(body.clone())).await;
        assert_eq!((reply.status, reply.code().as_str()), (400, "wrong_type"), "{method} {path} {body}");
    }
    // A socket's resume frame carries the same cursor objects.
    let mut ws = connect(addr, &alice.token).await;
    let error = ws.call(json!({"type": "resume", "cursors": [[direct, 0]]}), "r").await;
    assert_eq!((error["type"].as_str(), error["code"].as_str()), (Some("error"), Some("wrong_type")));
    server.shutdown().await.unwrap();
}

/// Every API response and `/health`, errors included, tells browsers not to guess its type
/// and not to keep it: API answers carry private data (messages, sessions). The web app's
/// files keep their own caching (`no-cache`: revalidate).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_responses_are_nosniff_and_no_store() {
    let server = start_server().await;
    let addr = server.addr;
    let signup_reply = request(
        addr,
        "POST",
        "/api/v1/auth/signup",
        None,
        Some(json!({"username": "alice", "password": "correct horse battery"})),
    )
    .await;
    let token = signup_reply.json()["token"].as_str().unwrap().to_string();
    let auth = format!("Bearer {token}");
    let replies = [
        ("signup", signup_reply),
        ("me", request(addr, "GET", "/api/v1/me", Some(&token), None).await),
        ("unauthenticated", request(addr, "GET", "/api/v1/me", None, None).await),
        ("no route", request(addr, "GET", "/api/nowhere", None, None).await),
        ("bad json", raw_request(addr, "POST", "/api/v1/poll", &[("Authorization", &auth)], b"{").await),
        ("health", request(addr, "GET", "/health", None, None).await),
        ("logout", request(addr, "POST", "/api/v1/auth/logout", Some(&token), None).await),
    ];
    for (what, reply) in replies {
        assert_eq!(reply.header("x-content-type-options"), Some("nosniff"), "{what}: {reply:?}");
        assert_eq!(reply.header("cache-control"), Some("no-store"), "{what}: {reply:?}");
    }
    let index = request(addr, "GET", "/", None, None).await;
    assert_eq!(
        (index.header("cache-control"), index.header("x-content-type-options")),
        (Some("no-cache"), Some("nosniff"))
    );
    server.shutdown().await.unwrap();
}
