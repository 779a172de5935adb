//! The admin API's effects as a client sees them over real sockets: a disabled account loses
//! its live WebSocket at once and cannot log in, an administrator's message delete reaches
//! every member's socket, and each administrative action leaves an audit entry (actor,
//! action, target, detail) readable, newest first and paged, through the audit endpoint. The
//! user list pages by username, with and without a search, and its changes (sign-ups,
//! disabling, deletion) reach every socket and poll as `user` / `user_deleted` frames.
//! (The 401/403 checks on every admin endpoint live in `http_errors.rs`.)

mod support;

use serde_json::{json, Value};
use std::net::SocketAddr;
use std::time::Duration;
use support::*;

async fn login(addr: SocketAddr, username: &str) -> Reply {
    let body = json!({"username": username, "password": "correct horse battery"});
    request(addr, "POST", "/api/v1/auth/login", None, Some(body)).await
}

async fn set_disabled(addr: SocketAddr, admin: &Session, user: &str, disabled: bool) -> Reply {
    let path = format!("/api/v1/admin/users/{user}/disabled");
    request(addr, "PUT", &path, Some(&admin.token), Some(json!({"disabled": disabled}))).await
}

/// Sends a message over REST and returns it.
async fn say(addr: SocketAddr, who: &Session, conversation: &str, client_id: &str, body: &str) -> Value {
    let path = format!("/api/v1/conversations/{conversation}/messages");
    let reply =
        request(addr, "POST", &path, Some(&who.token), Some(json!({"client_id": client_id, "body": body}))).await;
    assert_eq!(reply.status, 200, "{:?}", reply.json());
    reply.json()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disabling_a_user_ends_their_socket_within_a_second_and_refuses_their_log_in_until_enabled() {
    let server = start_server().await;
    let addr = server.addr;
    let root = admin_session(&server).await;
    let alice = signup(addr, "alice").await;
    let mut ws = connect(addr, &alice.token).await;

    let disabled = set_disabled(addr, &root, &alice.id, true).await;
    assert_eq!((disabled.status, disabled.json()["disabled"].clone()), (200, json!(true)));
    // The socket hears why, then closes: both within one second of the admin's answer.
    let second = Duration::from_secs(1);
    let deadline = tokio::time::Instant::now() + second;
    let ended = tokio::time::timeout_at(deadline, ws.next_of("session_ended")).await.expect("session_ended within 1 s");
    assert_eq!(ended["reason"], "account_disabled");
    let closed = ws.closed_within(deadline.saturating_duration_since(tokio::time::Instant::now())).await;
    assert_eq!(closed, Some(Some(1000)), "closed with 1000 within 1 s");

    // The old token is dead, a new log-in is refused with a stable code, and so is a new socket.
    assert_eq!(request(addr, "GET", "/api/v1/me", Some(&alice.token), None).await.status, 401);
    let refused = login(addr, "alice").await;
    assert_eq!((refused.status, refused.code().as_str()), (403, "account_disabled"));
    assert_eq!(try_connect(addr, &alice.token, &[]).await.err(), Some(401));

    // Enabled again: log-in works and the new session gets a working socket.
    let enabled = set_disabled(addr, &root, &alice.id, false).await;
    assert_eq!((enabled.status, enabled.json()["disabled"].clone()), (200, json!(false)));
    let again = login(addr, "alice").await;
    assert_eq!(again.status, 200, "{:?}", again.json());
    let token = again.json()["token"].as_str().expect("token").to_string();
    let mut ws = connect(addr, &token).await;
    assert_eq!(ws.call(json!({"type": "ping"}), "p").await["type"], "pong");
    server.shutdown().await.expect("shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_admin_message_delete_reaches_every_member_socket_and_history() {
    let server = start_server().await;
    let addr = server.addr;
    let root = admin_session(&server).await;
    let (alice, bob, carol) = (signup(addr, "alice").await, signup(addr, "bob").await, signup(addr, "carol").await);
    let body = json!({"name": "Book club", "members": [bob.id, carol.id]});
    let group = request(addr, "POST", "/api/v1/conversations", Some(&alice.token), Some(body)).await.json();
    let group = group["id"].as_str().expect("group id").to_string();
    let kept = say(addr, &alice, &group, "1", "welcome").await;
    let rude = say(addr, &bob, &group, "2", "something rude").await;
    let mut sockets = Vec::new();
    for member in [&alice, &bob, &carol] {
        sockets.push(connect(addr, &member.token).await);
    }
    // The administrator is not a member: its own socket must not hear about the group.
    let mut root_ws = connect(addr, &root.token).await;

    let id = rude["id"].as_str().expect("message id");
    let erased = request(addr, "DELETE", &format!("/api/v1/admin/messages/{id}"), Some(&root.token), None).await;
    assert_eq!((erased.status, erased.json()["deleted"].clone()), (200, json!(true)));
    for ws in &mut sockets {
        let frame = ws.next_of("delete").await;
        assert_eq!((frame["id"].as_str(), frame["conversation"].as_str()), (Some(id), Some(group.as_str())));
        assert_eq!(frame["seq"], rude["seq"]);
    }
    assert_eq!(root_ws.call(json!({"type": "ping"}), "p").await["type"], "pong", "no delete frame before the pong");

    // Members' history shows the hole; the other message is untouched; a second delete is refused.
    let path = format!("/api/v1/conversations/{group}/messages");
    let history = request(addr, "GET", &path, Some(&carol.token), None).await.json();
    let messages = history["messages"].as_array().expect("messages");
    let by_id = |m: &&Value| m["id"] == rude["id"];
    assert_eq!(messages.iter().find(by_id).map(|m| m["deleted"].clone()), Some(json!(true)));
    assert!(!messages.iter().any(|m| m["body"] == "something rude"), "the body is gone: {messages:?}");
    assert!(messages.iter().any(|m| m["id"] == kept["id"] && m["body"] == "welcome"));
    let twice = request(addr, "DELETE", &format!("/api/v1/admin/messages/{id}"), Some(&root.token), None).await;
    assert_eq!((twice.status, twice.code().as_str()), (400, "message_deleted"));
    server.shutdown().await.expect("shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_admin_action_is_audited_newest_first_and_paged() {
    let server = start_server().await;
    let addr = server.addr;
    let root = admin_session(&server).await;
    let (alice, bob) = (signup(addr, "alice").await, signup(addr, "bob").await);
    let direct = open_direct(addr, &alice, &bob).await;
    let sent = say(addr, &alice, &direct, "1", "spam").await;
    let message = sent["id"].as_str().expect("message id").to_string();
    let r = Some(root.token.as_str());

    assert_eq!(set_disabled(addr, &root, &bob.id, true).await.status, 200);
    assert_eq!(set_disabled(addr, &root, &bob.id, false).await.status, 200);
    let role = format!("/api/v1/admin/users/{}/role", bob.id);
    assert_eq!(request(addr, "PUT", &role, r, Some(json!({"role": "admin"}))).await.status, 200);
    let password = format!("/api/v1/admin/users/{}/password", alice.id);
    assert_eq!(request(addr, "POST", &password, r, Some(json!({"password": "a brand new secret"}))).await.status, 204);
    assert_eq!(request(addr, "DELETE", &format!("/api/v1/admin/messages/{message}"), r, None).await.status, 200);
    assert_eq!(request(addr, "DELETE", &format!("/api/v1/admin/users/{}", alice.id), r, None).await.status, 204);
    // Refused actions change nothing and are not audited.
    let myself = format!("/api/v1/admin/users/{}/disabled", root.id);
    assert_eq!(request(addr, "PUT", &myself, r, Some(json!({"disabled": true}))).await.code(), "self_action");
    let bad = request(addr, "POST", &password, r, Some(json!({"password": "x"}))).await;
    assert_eq!(bad.code(), "user_not_found", "alice is gone");

    let expected = [
        ("user.delete", alice.id.as_str(), Some("alice")),
        ("message.delete", message.as_str(), Some(direct.as_str())),
        ("user.password_reset", alice.id.as_str(), None),
        ("user.role", bob.id.as_str(), Some("admin")),
        ("user.enable", bob.id.as_str(), None),
        ("user.disable", bob.id.as_str(), None),
    ];
    let all = request(addr, "GET", "/api/v1/admin/audit", r, None).await.json();
    let entries = all["entries"].as_array().expect("entries");
    let seen: Vec<(&str, &str, Option<&str>)> = entries
        .iter()
        .map(|e| (e["action"].as_str().unwrap_or(""), e["target"].as_str().unwrap_or(""), e["detail"].as_str()))
        .collect();
    assert_eq!(seen, expected);
    assert!(entries.iter().all(|e| e["actor"] == root.id.as_str() && e["at"].as_u64().is_some_and(|at| at > 0)));
    let times: Vec<u64> = entries.iter().filter_map(|e| e["at"].as_u64()).collect();
    assert!(times.windows(2).all(|w| w[0] >= w[1]), "newest first: {times:?}");

    // Paged by `before`: two pages of four and two, then nothing more.
    let first = request(addr, "GET", "/api/v1/admin/audit?limit=4", r, None).await.json();
    assert_eq!(first["entries"].as_array().map(Vec::len), Some(4));
    let cursor = first["next"].as_str().expect("a next cursor").to_string();
    assert_eq!(cursor, entries[3]["id"].as_str().expect("id"));
    let second = request(addr, "GET", &format!("/api/v1/admin/audit?limit=4&before={cursor}"), r, None).await.json();
    let rest: Vec<&str> =
        second["entries"].as_array().expect("entries").iter().filter_map(|e| e["action"].as_str()).collect();
    assert_eq!(rest, ["user.enable", "user.disable"]);
    assert_eq!(second["next"], Value::Null);
    server.shutdown().await.expect("shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_user_list_pages_by_username_with_and_without_a_search() {
    let server = start_server().await;
    let addr = server.addr;
    let root = admin_session(&server).await;
    for name in ["kim", "ada", "lee", "bea", "max", "cal", "dee"] {
        signup(addr, name).await;
    }
    let r = Some(root.token.as_str());
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..10 {
        let after = cursor.as_deref().map(|c| format!("&after={c}")).unwrap_or_default();
        let page = request(addr, "GET", &format!("/api/v1/admin/users?limit=3{after}"), r, None).await.json();
        let users = page["users"].as_array().expect("users");
        assert!(users.len() <= 3);
        seen.extend(users.iter().filter_map(|u| u["username"].as_str().map(String::from)));
        cursor = page["next"].as_str().map(String::from);
        if cursor.is_none() {
            break;
        }
    }
    assert_eq!(seen, ["ada", "bea", "cal", "dee", "kim", "lee", "max", "root"], "each once, by username");

    // A search pages the same way and only returns matches (username or display name).
    let first = request(addr, "GET", "/api/v1/admin/users?limit=1&search=e", r, None).await.json();
    assert_eq!(first["users"][0]["username"], "bea");
    let next = first["next"].as_str().expect("more matches");
    let rest =
        request(addr, "GET", &format!("/api/v1/admin/users?limit=10&search=e&after={next}"), r, None).await.json();
    let names: Vec<&str> =
        rest["users"].as_array().expect("users").iter().filter_map(|u| u["username"].as_str()).collect();
    assert_eq!(names, ["dee", "lee"]);
    assert_eq!(rest["next"], Value::Null);
    server.shutdown().await.expect("shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn directory_changes_reach_every_socket_and_poll_without_the_email() {
    let server = start_server().await;
    let addr = server.addr;
    let admin = admin_session(&server).await;
    let alice = signup(addr, "alice").await;
    let mut alice_ws = connect(addr, &alice.token).await;
    let created = request(addr, "POST", "/api/v1/poll", Some(&alice.token), None).await;
    assert_eq!(created.status, 201, "{:?}", created.json());
    let poll = created.json()["poll"].as_str().unwrap().to_string();

    let body = json!({"username": "bob", "password": "correct horse battery", "email": "bob@example.com"});
    let reply = request(addr, "POST", "/api/v1/auth/signup", None, Some(body)).await;
    assert_eq!(reply.status, 201, "{:?}", reply.json());
    let bob = reply.json()["user"].clone();
    let announced = alice_ws.next_of("user").await;
    assert_eq!(announced["user"]["id"], bob["id"]);
    assert_eq!(announced["user"]["username"], "bob");
    assert_eq!(announced["user"]["disabled"], false);
    assert!(announced["user"].get("email").is_none(), "others never see the email: {announced}");
    let polled = request(addr, "GET", &format!("/api/v1/poll/{poll}?after=0&wait=5"), Some(&alice.token), None).await;
    let events = polled.json()["events"].as_array().unwrap().clone();
    let polled = events.iter().find(|e| e["type"] == "user" && e["user"]["id"] == bob["id"]);
    assert_eq!(polled, Some(&announced), "the same frame over long-poll: {events:?}");

    let bob_id = bob["id"].as_str().unwrap().to_string();
    assert_eq!(set_disabled(addr, &admin, &bob_id, true).await.status, 200);
    let disabled = alice_ws.next_of("user").await;
    assert_eq!((&disabled["user"]["id"], &disabled["user"]["disabled"]), (&json!(bob_id), &json!(true)));

    // A refused change sends nothing: the next directory frame is the deletion.
    let path = format!("/api/v1/admin/users/{bob_id}/role");
    let refused = request(addr, "PUT", &path, Some(&alice.token), Some(json!({"role": "admin"}))).await;
    assert_eq!((refused.status, refused.code().as_str()), (403, "admin_only"));
    let deleted = request(addr, "DELETE", &format!("/api/v1/admin/users/{bob_id}"), Some(&admin.token), None).await;
    assert_eq!(deleted.status, 204);
    let frame = alice_ws.next().await;
    assert_eq!(frame, json!({"v": 1, "type": "user_deleted", "user": bob_id}));
    server.shutdown().await.unwrap();
}
