//! Replies, reactions and mentions over REST, WebSocket and long-poll, on a real server.

mod support;

use serde_json::{json, Value};
use support::*;

/// `👍`, percent-encoded for a path.
const THUMBS_UP: &str = "%F0%9F%91%8D";

async fn poll_until(addr: std::net::SocketAddr, who: &Session, poll: &str, kind: &str) -> Value {
    let mut after = 0;
    for _ in 0..20 {
        let path = format!("/api/v1/poll/{poll}?after={after}&wait=5");
        let reply = request(addr, "GET", &path, Some(&who.token), None).await;
        assert_eq!(reply.status, 200, "{:?}", reply.json());
        let json = reply.json();
        after = json["next"].as_u64().unwrap();
        if let Some(event) = json["events"].as_array().unwrap().iter().find(|e| e["type"] == kind) {
            return event.clone();
        }
    }
    panic!("no {kind} over long-poll");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn replies_and_reactions_work_over_rest_websocket_and_long_poll() {
    let server = start_server().await;
    let addr = server.addr;
    let (alice, bob) = (signup(addr, "alice").await, signup(addr, "bob").await);
    let direct = open_direct(addr, &alice, &bob).await;
    let messages = format!("/api/v1/conversations/{direct}/messages");
    let first = request(addr, "POST", &messages, Some(&alice.token), Some(json!({"client_id":"c1","body":"lunch?"})))
        .await
        .json();
    let poll = request(addr, "POST", "/api/v1/poll", Some(&bob.token), None).await.json()["poll"].clone();
    let poll = poll.as_str().unwrap().to_string();
    let mut bob_ws = connect(addr, &bob.token).await;

    // A reply over REST: the stored message carries the preview; bob's socket gets it live.
    let body = json!({"client_id":"c2","body":"@bob at noon","reply_to":1});
    let reply = request(addr, "POST", &messages, Some(&alice.token), Some(body)).await;
    assert_eq!(reply.status, 200, "{:?}", reply.json());
    let reply = reply.json();
    assert_eq!(reply["reply_to"], 1);
    assert_eq!(reply["reply"], json!({"sender": alice.id, "text": "lunch?", "deleted": false}));
    assert_eq!(reply["mentions"], json!([bob.id]));
    let live = bob_ws.next_of("message").await;
    assert_eq!(live["message"]["reply"], reply["reply"]);

    // A reply over the socket.
    let ack =
        bob_ws.call(json!({"type":"send","conversation":direct,"client_id":"b1","body":"ok","reply_to":2}), "s1").await;
    assert_eq!((ack["type"].as_str(), ack["seq"].as_u64()), (Some("ack"), Some(3)));
    let refused =
        bob_ws.call(json!({"type":"send","conversation":direct,"client_id":"b2","body":"x","reply_to":9}), "s2").await;
    assert_eq!((refused["code"].as_str(), refused["field"].as_str()), (Some("out_of_range"), Some("reply_to")));

    // Reactions: PUT adds (again: the same), DELETE takes back; bob hears each change.
    let path = format!("/api/v1/messages/{}/reactions/{THUMBS_UP}", first["id"].as_str().unwrap());
    let added = request(addr, "PUT", &path, Some(&alice.token), None).await;
    assert_eq!(added.status, 200, "{:?}", added.json());
    assert_eq!(added.json()["reactions"], json!([{"emoji":"👍","users":[alice.id]}]));
    assert_eq!(
        request(addr, "PUT", &path, Some(&alice.token), None).await.json()["reactions"],
        added.json()["reactions"]
    );
    let event = bob_ws.next_of("reaction").await;
    assert_eq!((event["emoji"].as_str(), event["added"].as_bool()), (Some("👍"), Some(true)));
    assert_eq!(event["reactions"], added.json()["reactions"]);
    let over_poll = poll_until(addr, &bob, &poll, "reaction").await;
    assert_eq!(over_poll["reactions"], added.json()["reactions"]);

    // Over the socket: react and unreact.
    let id = first["id"].as_str().unwrap();
    let done = bob_ws.call(json!({"type":"react","id":id,"emoji":"🎉"}), "r1").await;
    assert_eq!(done["type"], "ack");
    let event = bob_ws.next_of("reaction").await;
    assert_eq!(event["reactions"], json!([{"emoji":"👍","users":[alice.id]},{"emoji":"🎉","users":[bob.id]}]));
    bob_ws.call(json!({"type":"unreact","id":id,"emoji":"🎉"}), "r2").await;
    let event = bob_ws.next_of("reaction").await;
    assert_eq!((event["added"].as_bool(), event["reactions"].as_array().unwrap().len()), (Some(false), 1));
    let removed = request(addr, "DELETE", &path, Some(&alice.token), None).await;
    assert_eq!(removed.json().get("reactions"), None, "absent when none");

    // History carries replies with previews and reactions.
    let page = request(addr, "GET", &messages, Some(&bob.token), None).await.json();
    assert_eq!(page["messages"][2]["reply"]["text"], "@bob at noon");

    // The conversation list counts bob's unread mention.
    let list = request(addr, "GET", "/api/v1/conversations", Some(&bob.token), None).await.json();
    let view = &list["conversations"][0];
    assert_eq!((view["unread"].as_u64(), view["unread_mentions"].as_u64()), (Some(2), Some(1)));
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn bad_reactions_get_stable_codes() {
    let server = start_server().await;
    let addr = server.addr;
    let (alice, bob, carol) = (signup(addr, "alice").await, signup(addr, "bob").await, signup(addr, "carol").await);
    let direct = open_direct(addr, &alice, &bob).await;
    let messages = format!("/api/v1/conversations/{direct}/messages");
    let sent =
        request(addr, "POST", &messages, Some(&alice.token), Some(json!({"client_id":"c1","body":"hi"}))).await.json();
    let id = sent["id"].as_str().unwrap();
    let at = |emoji: &str| format!("/api/v1/messages/{id}/reactions/{emoji}");
    for (emoji, status, code) in [
        ("ok", 400, "not_emoji"),
        ("%F0%9F%91%8D%F0%9F%91%8D", 400, "not_emoji"),
        ("%FF", 400, "malformed"),
        ("%3Cb%3E", 400, "not_emoji"),
    ] {
        let reply = request(addr, "PUT", &at(emoji), Some(&bob.token), None).await;
        assert_eq!((reply.status, reply.code()), (status, code.to_string()), "{emoji}");
    }
    let outsider = request(addr, "PUT", &at(THUMBS_UP), Some(&carol.token), None).await;
    assert_eq!((outsider.status, outsider.code()), (404, "message_not_found".to_string()));
    let unknown = format!("/api/v1/messages/{}/reactions/{THUMBS_UP}", uuid_like());
    assert_eq!(request(addr, "PUT", &unknown, Some(&bob.token), None).await.status, 404);
    // Up to the limit of different emoji, and past it.
    let emoji = [
        "😀", "😃", "😄", "😁", "😆", "😅", "🤣", "😂", "🙂", "🙃", "😉", "😊", "😇", "🥰", "😍", "🤩", "😘", "😗",
        "😚", "😙", "🤔",
    ];
    for e in &emoji[..20] {
        let encoded: String = percent_encoding::utf8_percent_encode(e, percent_encoding::NON_ALPHANUMERIC).collect();
        assert_eq!(request(addr, "PUT", &at(&encoded), Some(&bob.token), None).await.status, 200, "{e}");
    }
    let encoded: String =
        percent_encoding::utf8_percent_encode(emoji[20], percent_encoding::NON_ALPHANUMERIC).collect();
    let past = request(addr, "PUT", &at(&encoded), Some(&bob.token), None).await;
    assert_eq!((past.status, past.code()), (409, "too_many_reactions".to_string()));
    // A deleted message takes none.
    request(addr, "DELETE", &format!("/api/v1/messages/{id}"), Some(&alice.token), None).await;
    let deleted = request(addr, "PUT", &at(THUMBS_UP), Some(&bob.token), None).await;
    assert_eq!((deleted.status, deleted.code()), (400, "message_deleted".to_string()));
    server.shutdown().await.unwrap();
}

fn uuid_like() -> String {
    "0193a000-0000-7000-8000-000000000000".to_string()
}
