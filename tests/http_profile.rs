//! Self-service accounts over HTTP: profile (name, status), avatars (upload, serving with
//! caching headers, removal, and every refusal: not an image, a decompression bomb, too
//! large), password change (wrong current password, slow-downs, ending the other sessions),
//! sessions (listed with the current one marked and the user agent, ended; someone else's is
//! not found), and deleting one's own account.

mod support;

use serde_json::{json, Value};
use support::*;

const PASSWORD: &str = "correct horse battery";

fn png(width: u32, height: u32) -> Vec<u8> {
    let image = image::RgbImage::from_pixel(width, height, image::Rgb([20, 160, 90]));
    let mut out = std::io::Cursor::new(Vec::new());
    image.write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
}

/// A PNG of a few dozen bytes whose header claims 100,000 × 100,000 pixels (40 GB decoded).
fn png_bomb() -> Vec<u8> {
    fn crc32(bytes: &[u8]) -> u32 {
        let mut crc = !0u32;
        for &byte in bytes {
            crc ^= u32::from(byte);
            for _ in 0..8 {
                crc = if crc & 1 == 1 { (crc >> 1) ^ 0xEDB8_8320 } else { crc >> 1 };
            }
        }
        !crc
    }
    fn chunk(kind: &[u8; 4], data: &[u8]) -> Vec<u8> {
        let mut chunk = (data.len() as u32).to_be_bytes().to_vec();
        chunk.extend_from_slice(kind);
        chunk.extend_from_slice(data);
        chunk.extend_from_slice(&crc32(&chunk[4..]).to_be_bytes());
        chunk
    }
    let mut ihdr = 100_000u32.to_be_bytes().to_vec();
    ihdr.extend_from_slice(&100_000u32.to_be_bytes());
    ihdr.extend_from_slice(&[8, 6, 0, 0, 0]);
    [
        &b"\x89PNG\r\n\x1A\n"[..],
        &chunk(b"IHDR", &ihdr),
        &chunk(b"IDAT", &[0x78, 0x9C, 0x03, 0x00]),
        &chunk(b"IEND", &[]),
    ]
    .concat()
}

async fn put_avatar(addr: std::net::SocketAddr, token: &str, bytes: &[u8]) -> Reply {
    let auth = format!("Bearer {token}");
    raw_request(addr, "PUT", "/api/v1/me/avatar", &[("Authorization", &auth), ("Content-Type", "image/png")], bytes)
        .await
}

async fn login(addr: std::net::SocketAddr, username: &str, password: &str, agent: &str) -> Reply {
    let body = json!({"username": username, "password": password}).to_string();
    let headers = [("Content-Type", "application/json"), ("User-Agent", agent)];
    raw_request(addr, "POST", "/api/v1/auth/login", &headers, body.as_bytes()).await
}

async fn get_as(addr: std::net::SocketAddr, path: &str, token: &str, agent: &str) -> Reply {
    let auth = format!("Bearer {token}");
    raw_request(addr, "GET", path, &[("Authorization", &auth), ("User-Agent", agent)], b"").await
}

#[tokio::test]
async fn name_and_status_change_and_other_devices_hear_of_it() {
    let server = start_server().await;
    let addr = server.addr;
    let (alice, bob) = (signup(addr, "alice").await, signup(addr, "bob").await);
    let mut bobs_socket = connect(addr, &bob.token).await;

    let body = json!({"display_name": "Alice Liddell", "status": "🐇 late"});
    let reply = request(addr, "PATCH", "/api/v1/me", Some(&alice.token), Some(body)).await;
    assert_eq!(reply.status, 200, "{:?}", reply.json());
    assert_eq!(
        (reply.json()["display_name"].clone(), reply.json()["status"].clone()),
        (json!("Alice Liddell"), json!("🐇 late"))
    );
    let heard = bobs_socket.next_of("user").await;
    assert_eq!(heard["user"]["status"], "🐇 late");
    assert!(heard["user"].get("email").is_none(), "others never see the address");

    // A field left out stays; an empty one clears.
    let reply = request(addr, "PATCH", "/api/v1/me", Some(&alice.token), Some(json!({"status": ""}))).await;
    assert_eq!(reply.json()["display_name"], "Alice Liddell");
    assert!(reply.json().get("status").is_none());
    let seen = request(addr, "GET", &format!("/api/v1/users/{}", alice.id), Some(&bob.token), None).await;
    assert_eq!(seen.json()["display_name"], "Alice Liddell");
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_status_holds_100_characters_and_not_one_more() {
    let server = start_server().await;
    let alice = signup(server.addr, "alice").await;
    let at_limit = "ü".repeat(100);
    let reply =
        request(server.addr, "PATCH", "/api/v1/me", Some(&alice.token), Some(json!({"status": at_limit}))).await;
    assert_eq!(reply.status, 200);
    let past = "ü".repeat(101);
    let reply = request(server.addr, "PATCH", "/api/v1/me", Some(&alice.token), Some(json!({"status": past}))).await;
    assert_eq!((reply.status, reply.code()), (400, "too_long".into()));
    assert_eq!(reply.json()["error"]["field"], "status");
    // Nothing was changed by the refused request, the name neither.
    let body = json!({"status": "x".repeat(101), "display_name": "Not Kept"});
    let reply = request(server.addr, "PATCH", "/api/v1/me", Some(&alice.token), Some(body)).await;
    assert_eq!(reply.status, 400);
    let me = request(server.addr, "GET", "/api/v1/me", Some(&alice.token), None).await.json();
    assert_eq!(
        (me["status"].as_str(), me.get("display_name").and_then(Value::as_str)),
        (Some(at_limit.as_str()), None)
    );
    let reply = request(server.addr, "PATCH", "/api/v1/me", Some(&alice.token), Some(json!({"email": "x@y.z"}))).await;
    assert_eq!((reply.status, reply.code()), (400, "unknown_field".into()), "the address is not changed here");
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn an_avatar_is_cropped_served_with_caching_headers_replaced_and_removed() {
    let server = start_server().await;
    let addr = server.addr;
    let (alice, bob) = (signup(addr, "alice").await, signup(addr, "bob").await);
    let mut bobs_socket = connect(addr, &bob.token).await;

    let reply = put_avatar(addr, &alice.token, &png(600, 400)).await;
    assert_eq!(reply.status, 200, "{:?}", reply.json());
    let version = reply.json()["avatar"].as_str().expect("a version").to_string();
    assert_eq!(bobs_socket.next_of("user").await["user"]["avatar"], version.as_str());

    let path = format!("/api/v1/users/{}/avatar?v={version}", alice.id);
    let served = request(addr, "GET", &path, Some(&bob.token), None).await;
    assert_eq!(served.status, 200);
    assert_eq!(served.header("content-type"), Some("image/jpeg"));
    assert_eq!(served.header("cache-control"), Some("private, max-age=31536000, immutable"));
    let etag = served.header("etag").unwrap().to_string();
    let picture = image::load_from_memory(&served.body).unwrap();
    assert_eq!((picture.width(), picture.height()), (256, 256), "square, at the avatar edge");
    // Revalidation by ETag without a version.
    let auth = format!("Bearer {}", bob.token);
    let plain = format!("/api/v1/users/{}/avatar", alice.id);
    let again = raw_request(addr, "GET", &plain, &[("Authorization", &auth), ("If-None-Match", &etag)], b"").await;
    assert_eq!(again.status, 304);
    assert_eq!(again.header("cache-control"), Some("private, no-cache"));

    // A new picture is a new version; the old URL is gone, and so are its bytes.
    let newer = put_avatar(addr, &alice.token, &png(50, 80)).await.json()["avatar"].as_str().unwrap().to_string();
    assert_ne!(newer, version);
    let stale = request(addr, "GET", &path, Some(&bob.token), None).await;
    assert_eq!((stale.status, stale.code()), (404, "avatar_not_found".into()));
    assert_eq!(server.blobs.len(), 1, "only the current picture is kept");

    let removed = request(addr, "DELETE", "/api/v1/me/avatar", Some(&alice.token), None).await;
    assert_eq!(removed.status, 200);
    assert!(removed.json().get("avatar").is_none());
    let none = request(addr, "GET", &plain, Some(&bob.token), None).await;
    assert_eq!((none.status, none.code()), (404, "avatar_not_found".into()));
    assert_eq!(server.blobs.len(), 0);
    // Signed-in users only.
    let outsider = request(addr, "GET", &plain, None, None).await;
    assert_eq!(outsider.status, 401);
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn what_is_not_an_image_a_bomb_or_too_large_is_refused_and_nothing_kept() {
    let server = start_server().await;
    let addr = server.addr;
    let alice = signup(addr, "alice").await;
    let svg = br#"<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>"#;
    for (what, bytes, status, code) in [
        ("text", &b"just some text"[..], 400, "not_an_image"),
        ("svg", &svg[..], 400, "not_an_image"),
        ("truncated png", &png(40, 40)[..30], 400, "not_an_image"),
        ("bomb", &png_bomb()[..], 400, "image_too_large"),
    ] {
        let reply = put_avatar(addr, &alice.token, bytes).await;
        assert_eq!((reply.status, reply.code()), (status, code.into()), "{what}");
    }
    // The limit: 5 MiB is read (and then refused as no image); one byte more is too large.
    let at_limit = vec![0u8; kanect::validate::AVATAR_MAX_BYTES];
    let reply = put_avatar(addr, &alice.token, &at_limit).await;
    assert_eq!(reply.code(), "not_an_image");
    let past = vec![0u8; kanect::validate::AVATAR_MAX_BYTES + 1];
    let reply = put_avatar(addr, &alice.token, &past).await;
    assert_eq!((reply.status, reply.code()), (413, "avatar_too_large".into()));
    assert_eq!(server.blobs.len(), 0);
    let me = request(addr, "GET", "/api/v1/me", Some(&alice.token), None).await.json();
    assert!(me.get("avatar").is_none());
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_password_change_needs_the_current_one_and_can_end_the_other_sessions() {
    let server = start_server().await;
    let addr = server.addr;
    let alice = signup(addr, "alice").await;
    let phone = login(addr, "alice", PASSWORD, "Phone/1").await.json()["token"].as_str().unwrap().to_string();
    let mut phone_socket = connect(addr, &phone).await;

    let wrong = json!({"current_password": "not my password", "new_password": "a fresh passphrase"});
    let reply = request(addr, "POST", "/api/v1/me/password", Some(&alice.token), Some(wrong)).await;
    assert_eq!((reply.status, reply.code()), (403, "wrong_password".into()));
    let weak = json!({"current_password": PASSWORD, "new_password": "password"});
    let reply = request(addr, "POST", "/api/v1/me/password", Some(&alice.token), Some(weak)).await;
    assert_eq!((reply.status, reply.code()), (400, "too_weak".into()));

    let change =
        json!({"current_password": PASSWORD, "new_password": "a fresh passphrase", "end_other_sessions": true});
    let reply = request(addr, "POST", "/api/v1/me/password", Some(&alice.token), Some(change)).await;
    assert_eq!(reply.status, 200, "{:?}", reply.json());
    assert_eq!(reply.json()["ended_sessions"], 1);
    assert_eq!(phone_socket.next_of("session_ended").await["type"], "session_ended");
    assert_eq!(request(addr, "GET", "/api/v1/me", Some(&phone), None).await.status, 401);
    assert_eq!(request(addr, "GET", "/api/v1/me", Some(&alice.token), None).await.status, 200, "this one stays");
    assert_eq!(login(addr, "alice", PASSWORD, "x").await.status, 401);
    assert_eq!(login(addr, "alice", "a fresh passphrase", "x").await.status, 200);
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn wrong_current_passwords_are_slowed_down_as_log_ins_are() {
    let server = start_server().await;
    let addr = server.addr;
    let alice = signup(addr, "alice").await;
    let mut codes = Vec::new();
    for _ in 0..12 {
        let wrong = json!({"current_password": "guess", "new_password": "a fresh passphrase"});
        let reply = request(addr, "POST", "/api/v1/me/password", Some(&alice.token), Some(wrong)).await;
        codes.push(reply.code());
        if reply.code() == "too_many_attempts" {
            assert!(reply.header("retry-after").is_some());
            break;
        }
    }
    assert_eq!(codes.last().map(String::as_str), Some("too_many_attempts"), "{codes:?}");
    // And the slow-down is the log-in's: the right password at the form waits too.
    assert_eq!(login(addr, "alice", PASSWORD, "x").await.code(), "too_many_attempts");
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn sessions_are_listed_marked_and_ended_but_not_someone_elses() {
    let server = start_server().await;
    let addr = server.addr;
    let (_alice, bob) = (signup(addr, "alice").await, signup(addr, "bob").await);
    let laptop =
        login(addr, "alice", PASSWORD, "Laptop Firefox/130").await.json()["token"].as_str().unwrap().to_string();
    let phone = login(addr, "alice", PASSWORD, "Phone Safari/18").await.json()["token"].as_str().unwrap().to_string();
    get_as(addr, "/api/v1/me", &phone, "Phone Safari/18").await;

    let listed = get_as(addr, "/api/v1/me/sessions", &laptop, "Laptop Firefox/130").await;
    assert_eq!(listed.status, 200);
    let sessions = listed.json()["sessions"].as_array().unwrap().clone();
    assert_eq!(sessions.len(), 3, "the sign-up's, the laptop's and the phone's");
    let current: Vec<_> = sessions.iter().filter(|s| s["current"] == true).collect();
    assert_eq!(current.len(), 1);
    assert_eq!(current[0]["user_agent"], "Laptop Firefox/130");
    let phone_id = sessions.iter().find(|s| s["user_agent"] == "Phone Safari/18").expect("the phone")["id"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(phone_id.len(), 32);
    assert!(sessions.iter().all(|s| s["created_at"].is_u64() && s["last_used"].is_u64()));

    // Bob cannot end it: not found, as any unknown id.
    let path = format!("/api/v1/me/sessions/{phone_id}");
    let foreign = request(addr, "DELETE", &path, Some(&bob.token), None).await;
    assert_eq!((foreign.status, foreign.code()), (404, "session_not_found".into()));
    let unknown = request(addr, "DELETE", "/api/v1/me/sessions/nonsense", Some(&laptop), None).await;
    assert_eq!(unknown.code(), "session_not_found");
    assert_eq!(request(addr, "GET", "/api/v1/me", Some(&phone), None).await.status, 200);

    let mut phone_socket = connect(addr, &phone).await;
    let ended = request(addr, "DELETE", &path, Some(&laptop), None).await;
    assert_eq!(ended.status, 204);
    assert_eq!(phone_socket.next_of("session_ended").await["type"], "session_ended");
    assert_eq!(request(addr, "GET", "/api/v1/me", Some(&phone), None).await.status, 401);
    let left = get_as(addr, "/api/v1/me/sessions", &laptop, "x").await.json()["sessions"].as_array().unwrap().len();
    assert_eq!(left, 2);
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn deleting_my_account_needs_my_password_and_follows_the_admin_rule() {
    let server = start_server().await;
    let addr = server.addr;
    let (alice, bob, carol) = (signup(addr, "alice").await, signup(addr, "bob").await, signup(addr, "carol").await);
    let direct = open_direct(addr, &alice, &bob).await;
    let body = json!({"client_id": "c1", "body": "remember me"});
    request(addr, "POST", &format!("/api/v1/conversations/{direct}/messages"), Some(&alice.token), Some(body)).await;
    let group = request(
        addr,
        "POST",
        "/api/v1/conversations",
        Some(&alice.token),
        Some(json!({"name": "Team", "members": [bob.id, carol.id]})),
    )
    .await
    .json()["id"]
        .as_str()
        .unwrap()
        .to_string();
    put_avatar(addr, &alice.token, &png(30, 30)).await;
    let mut bobs_socket = connect(addr, &bob.token).await;

    let wrong = request(addr, "POST", "/api/v1/me/delete", Some(&alice.token), Some(json!({"password": "nope"}))).await;
    assert_eq!((wrong.status, wrong.code()), (403, "wrong_password".into()));
    assert_eq!(request(addr, "GET", "/api/v1/me", Some(&alice.token), None).await.status, 200, "still there");

    let deleted =
        request(addr, "POST", "/api/v1/me/delete", Some(&alice.token), Some(json!({"password": PASSWORD}))).await;
    assert_eq!(deleted.status, 204);
    assert_eq!(bobs_socket.next_of("user_deleted").await["user"], alice.id.as_str());
    assert_eq!(request(addr, "GET", "/api/v1/me", Some(&alice.token), None).await.status, 401);
    assert_eq!(login(addr, "alice", PASSWORD, "x").await.status, 401);
    // Her message stays in Bob's history; she left the group (ownership passed on); her
    // picture is gone.
    let history =
        request(addr, "GET", &format!("/api/v1/conversations/{direct}/messages"), Some(&bob.token), None).await;
    assert_eq!(history.json()["messages"][0]["body"], "remember me");
    let team = request(addr, "GET", &format!("/api/v1/conversations/{group}"), Some(&bob.token), None).await.json();
    assert!(!team["members"].as_array().unwrap().iter().any(|m| m == alice.id.as_str()));
    assert_ne!(team["owner"], alice.id.as_str());
    assert_eq!(server.blobs.len(), 0);
    // An administrator cannot delete themselves (as in the admin API).
    let admin = admin_session(&server).await;
    let body = json!({"password": "the admin password"});
    let refused = request(addr, "POST", "/api/v1/me/delete", Some(&admin.token), Some(body)).await;
    assert_eq!((refused.status, refused.code()), (403, "self_action".into()));
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn my_export_holds_my_profile_conversations_and_only_my_messages_over_many_pages() {
    let config = kanect::ChatConfig { rate_limits: kanect::RateLimits::UNLIMITED, ..chat_config() };
    let server = start_server_with(kanect::http::HttpConfig::default(), config).await;
    let addr = server.addr;
    let (alice, bob, carol) = (signup(addr, "alice").await, signup(addr, "bob").await, signup(addr, "carol").await);
    let direct: kanect::ConversationId = open_direct(addr, &alice, &bob).await.parse().unwrap();
    let (as_alice, as_bob) = (
        server.chat.act_as(alice.id.parse().unwrap()).await.unwrap(),
        server.chat.act_as(bob.id.parse().unwrap()).await.unwrap(),
    );
    // More than a page (200) of hers, among his; one of hers deleted.
    for i in 0..230 {
        server.chat.send(&as_alice, direct, &format!("a{i}"), &format!("from alice {i}")).await.unwrap();
        if i % 3 == 0 {
            server.chat.send(&as_bob, direct, &format!("b{i}"), "from bob").await.unwrap();
        }
    }
    let gone = server.chat.send(&as_alice, direct, "gone", "deleted later").await.unwrap();
    server.chat.delete(&as_alice, gone.id).await.unwrap();
    // A conversation of Bob's and Carol's she is not in.
    let theirs: kanect::ConversationId = open_direct(addr, &bob, &carol).await.parse().unwrap();
    server.chat.send(&as_bob, theirs, "x", "private").await.unwrap();

    let reply = request(addr, "GET", "/api/v1/me/export", Some(&alice.token), None).await;
    assert_eq!(reply.status, 200);
    assert!(reply.header("content-disposition").unwrap().starts_with("attachment"));
    let body =
        if reply.header("transfer-encoding") == Some("chunked") { dechunk(&reply.body) } else { reply.body.clone() };
    let export: Value = serde_json::from_slice(&body).expect("one JSON document");
    assert_eq!((export["format"].as_str(), export["version"].as_u64()), (Some("kanect-my-data"), Some(1)));
    assert_eq!(export["profile"]["username"], "alice");
    assert_eq!(export["profile"]["email"], json!(null), "signed up without one");
    let conversations = export["conversations"].as_array().unwrap();
    assert_eq!(conversations.len(), 1, "only hers");
    assert_eq!(conversations[0]["conversation"]["members"].as_array().unwrap().len(), 2);
    let messages = conversations[0]["messages"].as_array().unwrap();
    assert_eq!(messages.len(), 230, "every one of hers, none of his, not the deleted one");
    assert!(messages.iter().all(|m| m["sender"] == alice.id.as_str()));
    let seqs: Vec<u64> = messages.iter().map(|m| m["seq"].as_u64().unwrap()).collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "in order");
    assert!(!String::from_utf8_lossy(&body).contains("private"));
    server.shutdown().await.unwrap();
}

/// The body of a chunked HTTP/1.1 response.
fn dechunk(mut raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let line = raw.windows(2).position(|w| w == b"\r\n").expect("chunk size line");
        let size = usize::from_str_radix(std::str::from_utf8(&raw[..line]).unwrap().trim(), 16).unwrap();
        raw = &raw[line + 2..];
        if size == 0 {
            return out;
        }
        out.extend_from_slice(&raw[..size]);
        raw = &raw[size + 2..];
    }
}
