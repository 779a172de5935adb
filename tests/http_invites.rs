//! Sign-up modes, invites and the admin's account forms over real sockets: each mode as a
//! client sees it (the public sign-up info, the refusals with their statuses and codes), every
//! bad invite (forged, revoked, expired, used up), sign-ups racing for an invite's last use,
//! who may make, list and revoke invites, accounts made and edited by an administrator, and
//! the audit entries all of it leaves.

mod support;

use kanect::backend::{InviteStore, UserStore};
use kanect::http::HttpConfig;
use kanect::{ChatConfig, InviteLimits, SignUpMode, Timestamp};
use serde_json::{json, Value};
use std::net::SocketAddr;
use std::time::Duration;
use support::*;

fn config(mode: SignUpMode, users_may_invite: bool) -> ChatConfig {
    ChatConfig {
        sign_up: mode,
        invites: InviteLimits { users_may_invite, ..InviteLimits::default() },
        rate_limits: kanect::RateLimits::UNLIMITED,
        // Racing sign-ups from one address all reach the store rather than its admission cap.
        login: kanect::LoginLimits { address_in_flight: 64, address_burst: 1000, ..kanect::LoginLimits::default() },
        ..chat_config()
    }
}

async fn server(mode: SignUpMode, users_may_invite: bool) -> TestServer {
    start_server_with(HttpConfig::default(), config(mode, users_may_invite)).await
}

async fn sign_up(addr: SocketAddr, username: &str, invite: Option<&str>) -> Reply {
    let mut body = json!({"username": username, "password": "correct horse battery"});
    if let Some(invite) = invite {
        body["invite"] = json!(invite);
    }
    request(addr, "POST", "/api/v1/auth/signup", None, Some(body)).await
}

/// Makes an invite as `who`; returns (id, token).
async fn make_invite(addr: SocketAddr, who: &Session, uses: u32) -> (String, String) {
    let body = json!({"uses": uses, "expires_in_secs": 3600});
    let reply = request(addr, "POST", "/api/v1/invites", Some(&who.token), Some(body)).await;
    assert_eq!(reply.status, 201, "{:?}", reply.json());
    let json = reply.json();
    (json["invite"]["id"].as_str().unwrap().to_string(), json["token"].as_str().unwrap().to_string())
}

async fn actions(addr: SocketAddr, admin: &Session) -> Vec<Value> {
    let log = request(addr, "GET", "/api/v1/admin/audit?limit=100", Some(&admin.token), None).await.json();
    log["entries"].as_array().unwrap().iter().rev().cloned().collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_sign_up_page_learns_the_mode_and_each_mode_answers_as_documented() {
    for (mode, name) in [(SignUpMode::Open, "open"), (SignUpMode::Invite, "invite"), (SignUpMode::Closed, "closed")] {
        let server = server(mode, mode == SignUpMode::Invite).await;
        let info = request(server.addr, "GET", "/api/v1/auth/signup", None, None).await;
        assert_eq!(info.status, 200);
        assert_eq!(info.json(), json!({"mode": name, "users_may_invite": mode == SignUpMode::Invite}));
        let plain = sign_up(server.addr, "alice", None).await;
        match mode {
            SignUpMode::Open => assert_eq!(plain.status, 201),
            SignUpMode::Invite => assert_eq!((plain.status, plain.code().as_str()), (403, "invite_required")),
            _ => assert_eq!((plain.status, plain.code().as_str()), (403, "sign_up_closed")),
        }
        server.shutdown().await.unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_invites_are_refused_with_their_codes_and_store_nothing() {
    let server = server(SignUpMode::Invite, false).await;
    let addr = server.addr;
    let root = admin_session(&server).await;

    let forged = "ab".repeat(32);
    for token in [forged.as_str(), "not-a-token"] {
        let refused = sign_up(addr, "alice", Some(token)).await;
        assert_eq!((refused.status, refused.code().as_str()), (404, "invite_invalid"), "{token}");
        let status = request(addr, "POST", "/api/v1/auth/invite", None, Some(json!({"invite": token}))).await;
        assert_eq!((status.status, status.code().as_str()), (404, "invite_invalid"));
    }

    let (revoked, revoked_token) = make_invite(addr, &root, 2).await;
    let gone = request(addr, "DELETE", &format!("/api/v1/invites/{revoked}"), Some(&root.token), None).await;
    assert_eq!(gone.status, 204);
    let refused = sign_up(addr, "alice", Some(&revoked_token)).await;
    assert_eq!((refused.status, refused.code().as_str()), (404, "invite_invalid"));
    let again = request(addr, "DELETE", &format!("/api/v1/invites/{revoked}"), Some(&root.token), None).await;
    assert_eq!((again.status, again.code().as_str()), (404, "invite_not_found"));

    let (expired, expired_token) = make_invite(addr, &root, 2).await;
    let mut record = server.store.invite(expired.parse().unwrap()).await.unwrap().unwrap();
    record.expires_at = Timestamp::now().minus(Duration::from_secs(1));
    server.store.insert_invite(&record).await.unwrap();
    let refused = sign_up(addr, "alice", Some(&expired_token)).await;
    assert_eq!((refused.status, refused.code().as_str()), (410, "invite_expired"));

    let (_, one_token) = make_invite(addr, &root, 1).await;
    let status = request(addr, "POST", "/api/v1/auth/invite", None, Some(json!({"invite": one_token}))).await;
    assert_eq!((status.status, status.json()["uses_left"].clone()), (200, json!(1)));
    let weak = json!({"username": "alice", "password": "short", "invite": one_token});
    let refused = request(addr, "POST", "/api/v1/auth/signup", None, Some(weak)).await;
    assert_eq!((refused.status, refused.code().as_str()), (400, "too_short"), "validation first, no use taken");
    assert_eq!(sign_up(addr, "alice", Some(&one_token)).await.status, 201);
    let refused = sign_up(addr, "bob", Some(&one_token)).await;
    assert_eq!((refused.status, refused.code().as_str()), (410, "invite_used_up"));
    let status = request(addr, "POST", "/api/v1/auth/invite", None, Some(json!({"invite": one_token}))).await;
    assert_eq!((status.status, status.code().as_str()), (410, "invite_used_up"));
    assert!(server.store.user_by_username("bob").await.unwrap().is_none());
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn sign_ups_racing_for_the_last_use_make_one_account() {
    let server = server(SignUpMode::Invite, false).await;
    let addr = server.addr;
    let root = admin_session(&server).await;
    let (_, token) = make_invite(addr, &root, 1).await;
    let racers: Vec<_> = (0..12)
        .map(|i| {
            let token = token.clone();
            tokio::spawn(async move { sign_up(addr, &format!("racer{i}"), Some(&token)).await })
        })
        .collect();
    let mut statuses = Vec::new();
    for racer in racers {
        let reply = racer.await.unwrap();
        if reply.status != 201 {
            assert_eq!((reply.status, reply.code().as_str()), (410, "invite_used_up"));
        }
        statuses.push(reply.status);
    }
    assert_eq!(statuses.iter().filter(|&&s| s == 201).count(), 1, "{statuses:?}");
    let users = request(addr, "GET", "/api/v1/admin/users?search=racer", Some(&root.token), None).await.json();
    assert_eq!(users["users"].as_array().unwrap().len(), 1);
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_invite_where_allowed_and_see_only_their_own() {
    let closed = server(SignUpMode::Invite, false).await;
    let root = admin_session(&closed).await;
    let (_, token) = make_invite(closed.addr, &root, 1).await;
    let ann = sign_up(closed.addr, "ann", Some(&token)).await.json();
    let ann_token = ann["token"].as_str().unwrap();
    let body = json!({"uses": 1, "expires_in_secs": 3600});
    let refused = request(closed.addr, "POST", "/api/v1/invites", Some(ann_token), Some(body)).await;
    assert_eq!((refused.status, refused.code().as_str()), (403, "admin_only"));
    closed.shutdown().await.unwrap();

    let server = server(SignUpMode::Invite, true).await;
    let addr = server.addr;
    let root = admin_session(&server).await;
    let (root_invite, token) = make_invite(addr, &root, 5).await;
    let ann = session_of(sign_up(addr, "ann", Some(&token)).await, "ann");
    let ben = session_of(sign_up(addr, "ben", Some(&token)).await, "ben");
    let (anns, _) = make_invite(addr, &ann, 2).await;

    for (body, field) in [
        (json!({"uses": 0, "expires_in_secs": 3600}), "uses"),
        (json!({"uses": 1001, "expires_in_secs": 3600}), "uses"),
        (json!({"uses": 1, "expires_in_secs": 59}), "expires_in"),
        (json!({"uses": 1, "expires_in_secs": 30 * 86400 + 1}), "expires_in"),
    ] {
        let reply = request(addr, "POST", "/api/v1/invites", Some(&ann.token), Some(body)).await;
        assert_eq!((reply.status, reply.code().as_str()), (400, "out_of_range"));
        assert_eq!(reply.json()["error"]["field"], field);
    }
    let edge = json!({"uses": 1000, "expires_in_secs": 30 * 86400});
    assert_eq!(request(addr, "POST", "/api/v1/invites", Some(&ann.token), Some(edge)).await.status, 201);
    let extra = json!({"uses": 1, "expires_in_secs": 3600, "admin": true});
    let reply = request(addr, "POST", "/api/v1/invites", Some(&ann.token), Some(extra)).await;
    assert_eq!((reply.status, reply.code().as_str()), (400, "unknown_field"));

    let mine = request(addr, "GET", "/api/v1/invites", Some(&ann.token), None).await.json();
    assert_eq!(mine["invites"].as_array().unwrap().len(), 2);
    assert!(mine["invites"].as_array().unwrap().iter().all(|i| i["created_by"] == json!(ann.id)));
    assert!(mine["invites"][0].get("token").is_none() && mine["invites"][0].get("token_hash").is_none());
    let all = request(addr, "GET", "/api/v1/admin/invites", Some(&root.token), None).await.json();
    assert_eq!(all["invites"].as_array().unwrap().len(), 3);

    let foreign = request(addr, "DELETE", &format!("/api/v1/invites/{anns}"), Some(&ben.token), None).await;
    assert_eq!((foreign.status, foreign.code().as_str()), (404, "invite_not_found"));
    let roots = request(addr, "DELETE", &format!("/api/v1/invites/{root_invite}"), Some(&ann.token), None).await;
    assert_eq!((roots.status, roots.code().as_str()), (404, "invite_not_found"));
    assert_eq!(request(addr, "DELETE", &format!("/api/v1/invites/{anns}"), Some(&ann.token), None).await.status, 204);

    let log = actions(addr, &root).await;
    let codes: Vec<&str> = log.iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert_eq!(codes, ["invite.create", "invite.use", "invite.use", "invite.create", "invite.create", "invite.revoke"]);
    assert_eq!(log[5]["actor"], json!(ann.id));
    assert_eq!(log[5]["target"], json!(anns));
    server.shutdown().await.unwrap();
}

fn session_of(reply: Reply, username: &str) -> Session {
    assert_eq!(reply.status, 201, "{:?}", reply.json());
    let json = reply.json();
    Session {
        token: json["token"].as_str().unwrap().to_string(),
        csrf: json["csrf_token"].as_str().unwrap().to_string(),
        id: json["user"]["id"].as_str().unwrap().to_string(),
        username: username.to_string(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admins_create_and_edit_accounts_in_a_closed_server() {
    let server = server(SignUpMode::Closed, false).await;
    let addr = server.addr;
    let root = admin_session(&server).await;
    let body = json!({"username": "dora", "password": "a long password", "email": "d@example.com",
                      "display_name": "Dora", "role": "admin"});
    let made = request(addr, "POST", "/api/v1/admin/users", Some(&root.token), Some(body.clone())).await;
    assert_eq!(made.status, 201, "{:?}", made.json());
    let dora = made.json();
    assert_eq!((dora["role"].clone(), dora["email"].clone()), (json!("admin"), json!("d@example.com")));
    let taken = request(addr, "POST", "/api/v1/admin/users", Some(&root.token), Some(body)).await;
    assert_eq!((taken.status, taken.code().as_str()), (409, "username_taken"));
    let weak = json!({"username": "eve", "password": "short"});
    let refused = request(addr, "POST", "/api/v1/admin/users", Some(&root.token), Some(weak)).await;
    assert_eq!(
        (refused.status, refused.code().as_str(), refused.json()["error"]["field"].clone()),
        (400, "too_short", json!("password"))
    );
    // The new account logs in, and may administer.
    let login = json!({"username": "dora", "password": "a long password"});
    let dora_login = request(addr, "POST", "/api/v1/auth/login", None, Some(login)).await;
    assert_eq!(dora_login.status, 200);
    let dora_token = dora_login.json()["token"].as_str().unwrap().to_string();
    assert_eq!(request(addr, "GET", "/api/v1/admin/stats", Some(&dora_token), None).await.status, 200);

    let id = dora["id"].as_str().unwrap();
    let path = format!("/api/v1/admin/users/{id}");
    let mut ws = connect(addr, &root.token).await;
    let edit = json!({"display_name": "Dora D.", "email": "dora@example.org"});
    let edited = request(addr, "PATCH", &path, Some(&root.token), Some(edit)).await;
    assert_eq!(edited.status, 200, "{:?}", edited.json());
    assert_eq!(
        (edited.json()["display_name"].clone(), edited.json()["email"].clone()),
        (json!("Dora D."), json!("dora@example.org"))
    );
    let frame = ws.next_of("user").await;
    assert_eq!(frame["user"]["display_name"], "Dora D.");
    assert!(frame["user"].get("email").is_none_or(Value::is_null), "others are not shown the e-mail");
    let bad = request(addr, "PATCH", &path, Some(&root.token), Some(json!({"email": "nope"}))).await;
    assert_eq!(
        (bad.status, bad.code().as_str(), bad.json()["error"]["field"].clone()),
        (400, "malformed", json!("email"))
    );
    let cleared = request(addr, "PATCH", &path, Some(&root.token), Some(json!({"email": ""}))).await.json();
    assert_eq!((cleared["email"].clone(), cleared["display_name"].clone()), (Value::Null, json!("Dora D.")));
    let ghost = "/api/v1/admin/users/0193a000-0000-7000-8000-000000000000";
    let missing = request(addr, "PATCH", ghost, Some(&root.token), Some(json!({"display_name": "X"}))).await;
    assert_eq!((missing.status, missing.code().as_str()), (404, "user_not_found"));

    let log = actions(addr, &root).await;
    let entries: Vec<(&str, Option<&str>)> =
        log.iter().map(|e| (e["action"].as_str().unwrap(), e["detail"].as_str())).collect();
    assert_eq!(
        entries,
        [("user.create", Some("dora")), ("user.edit", Some("display_name,email")), ("user.edit", Some("email"))]
    );
    assert!(log.iter().all(|e| e["actor"] == json!(root.id)));
    server.shutdown().await.unwrap();
}
