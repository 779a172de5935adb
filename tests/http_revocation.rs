//! Every way a session ends — log-out, log-out everywhere, disabled account, password reset,
//! deleted account, and the user's own: ending it from another device's list of sessions,
//! changing the password with "end my other sessions", deleting their account — ends every socket and poll session of it at once: also a socket that
//! connected with `?resume=1` and never sent its `resume` (its events are held back, but the
//! end is not), and a poll session nobody is polling.

mod support;

use serde_json::{json, Value};
use std::time::Duration;
use support::*;

/// How long "at once" may take on a loaded test machine.
const AT_ONCE: Duration = Duration::from_secs(5);

/// The revocations, each as the request that makes it.
const REVOCATIONS: [&str; 8] =
    ["logout", "logout-all", "disable", "password-reset", "delete", "end-session", "password-change", "delete-self"];

/// Logs `bob` in again: another device of his, which makes the change.
async fn other_device(server: &TestServer) -> String {
    let body = json!({"username": "bob", "password": "correct horse battery"});
    let login = request(server.addr, "POST", "/api/v1/auth/login", None, Some(body)).await;
    login.json()["token"].as_str().expect("token").to_string()
}

async fn revoke(server: &TestServer, admin: &Session, bob: &Session, how: &str) {
    let addr = server.addr;
    let (method, path, token, body): (&str, String, &str, Option<Value>) = match how {
        "logout" => ("POST", "/api/v1/auth/logout".into(), &bob.token, None),
        "logout-all" => ("POST", "/api/v1/auth/logout-all".into(), &bob.token, None),
        "disable" => {
            ("PUT", format!("/api/v1/admin/users/{}/disabled", bob.id), &admin.token, Some(json!({"disabled": true})))
        }
        "password-reset" => (
            "POST",
            format!("/api/v1/admin/users/{}/password", bob.id),
            &admin.token,
            Some(json!({"password": "a brand new secret"})),
        ),
        "delete" => ("DELETE", format!("/api/v1/admin/users/{}", bob.id), &admin.token, None),
        "delete-self" => {
            ("POST", "/api/v1/me/delete".into(), &bob.token, Some(json!({"password": "correct horse battery"})))
        }
        "end-session" => {
            let other = other_device(server).await;
            let listed = request(addr, "GET", "/api/v1/me/sessions", Some(&other), None).await.json();
            let sessions = listed["sessions"].as_array().expect("sessions").clone();
            let held = sessions.iter().find(|s| s["current"] == false).expect("the held session");
            let path = format!("/api/v1/me/sessions/{}", held["id"].as_str().unwrap());
            let reply = request(addr, "DELETE", &path, Some(&other), None).await;
            assert_eq!(reply.status, 204, "{how}");
            return;
        }
        "password-change" => {
            let other = other_device(server).await;
            let body = json!({
                "current_password": "correct horse battery",
                "new_password": "a brand new secret",
                "end_other_sessions": true,
            });
            let reply = request(addr, "POST", "/api/v1/me/password", Some(&other), Some(body)).await;
            assert_eq!(reply.status, 200, "{how}: {:?}", reply.json());
            return;
        }
        other => panic!("unknown revocation {other}"),
    };
    let reply = request(addr, method, &path, Some(token), body).await;
    assert!(reply.status < 300, "{how}: {} {:?}", reply.status, String::from_utf8_lossy(&reply.body));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_session_ends_its_held_socket_and_its_poll_session_at_once() {
    for how in REVOCATIONS {
        let server = start_server().await;
        let addr = server.addr;
        let admin = admin_session(&server).await;
        let (alice, bob) = (signup(addr, "alice").await, signup(addr, "bob").await);
        let direct = open_direct(addr, &alice, &bob).await;
        // A socket that will resume but has not yet: its events are held back.
        let mut held = connect_resuming(addr, &bob.token).await;
        let poll = request(addr, "POST", "/api/v1/poll", Some(&bob.token), None).await;
        assert_eq!(poll.status, 201, "{how}");
        assert_eq!(server.chat.connected_devices(), 2, "{how}: the socket and the poll session");

        revoke(&server, &admin, &bob, how).await;

        assert_eq!(held.next_of("session_ended").await["type"], "session_ended", "{how}");
        assert_eq!(held.closed_within(AT_ONCE).await, Some(Some(1000)), "{how}: closed normally");
        // Neither the socket nor the poll session holds a device any more.
        let deadline = tokio::time::Instant::now() + AT_ONCE;
        while server.chat.connected_devices() > 0 {
            assert!(tokio::time::Instant::now() < deadline, "{how}: devices left: {}", server.chat.connected_devices());
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        // And the session can no longer write anywhere.
        let sent = request(
            addr,
            "POST",
            &format!("/api/v1/conversations/{direct}/messages"),
            Some(&bob.token),
            Some(json!({"client_id": "late", "body": "still here?"})),
        )
        .await;
        assert!(sent.status == 401 || sent.status == 403, "{how}: {}", sent.status);
        server.shutdown().await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_held_socket_of_another_session_keeps_working() {
    let server = start_server().await;
    let addr = server.addr;
    let (alice, bob) = (signup(addr, "alice").await, signup(addr, "bob").await);
    let direct = open_direct(addr, &alice, &bob).await;
    let other = request(
        addr,
        "POST",
        "/api/v1/auth/login",
        None,
        Some(json!({"username": "bob", "password": "correct horse battery"})),
    )
    .await;
    let other_token = other.json()["token"].as_str().unwrap().to_string();
    let mut kept = connect_resuming(addr, &other_token).await;
    let mut ended = connect_resuming(addr, &bob.token).await;
    request(addr, "POST", "/api/v1/auth/logout", Some(&bob.token), None).await;
    assert_eq!(ended.closed_within(AT_ONCE).await, Some(Some(1000)));
    let ack = kept.call(json!({"type":"resume","cursors":[{"conversation":direct,"seq":0}]}), "r").await;
    assert_eq!(ack["type"], "ack");
    let sent = kept.call(json!({"type":"send","conversation":direct,"client_id":"c1","body":"hi"}), "s").await;
    assert_eq!(sent["seq"], 1);
    server.shutdown().await.unwrap();
}
