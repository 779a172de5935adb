//! To someone not in it, a conversation that exists looks exactly like one that does not, on
//! every endpoint and command that names a conversation: the same status, code and message. A
//! direct conversation's id is computable from two user ids, so any difference would tell an
//! outsider who has talked to whom.

mod support;

use kanect::{ConversationId, UserId};
use serde_json::{json, Value};
use support::*;

/// What `caller` is told, over REST, the WebSocket and long-poll, about conversation `id`.
async fn outsider_view(addr: std::net::SocketAddr, caller: &Session, ws: &mut Ws, id: &str) -> Vec<Value> {
    let token = Some(caller.token.as_str());
    let someone = "0193a000-0000-7000-8000-000000000001";
    let base = format!("/api/v1/conversations/{id}");
    let rest: Vec<(&str, String, Option<Value>)> = vec![
        ("GET", base.clone(), None),
        ("PATCH", base.clone(), Some(json!({"name": "mine"}))),
        ("GET", format!("{base}/messages"), None),
        ("POST", format!("{base}/messages"), Some(json!({"client_id": "c", "body": "hi"}))),
        ("POST", format!("{base}/receipts"), Some(json!({"kind": "read", "seq": 1}))),
        ("POST", format!("{base}/typing"), None),
        ("POST", format!("{base}/members"), Some(json!({"user": someone}))),
        ("DELETE", format!("{base}/members/{someone}"), None),
        ("POST", format!("{base}/leave"), None),
        ("POST", "/api/v1/poll".to_string(), Some(json!({"cursors": [{"conversation": id, "seq": 0}]}))),
    ];
    let mut seen = Vec::new();
    for (method, path, body) in rest {
        let reply = request(addr, method, &path, token, body).await;
        let mut body = reply.json();
        if let Some(fields) = body.as_object_mut() {
            fields.remove("poll"); // a new poll session's random id
        }
        seen.push(json!({"request": format!("{method} {path}"), "status": reply.status, "body": body}));
    }
    let frames = [
        json!({"type": "send", "conversation": id, "client_id": "c", "body": "hi"}),
        json!({"type": "typing", "conversation": id}),
        json!({"type": "read", "conversation": id, "seq": 1}),
        json!({"type": "delivered", "conversation": id, "seq": 1}),
        json!({"type": "resume", "cursors": [{"conversation": id, "seq": 0}]}),
    ];
    for (n, frame) in frames.into_iter().enumerate() {
        let mut reply = ws.call(frame, &format!("f{n}")).await;
        reply["ref"] = Value::Null;
        seen.push(reply);
    }
    // The paths name the id; what matters is that nothing else differs.
    serde_json::from_str(&serde_json::to_string(&seen).unwrap().replace(id, "ID")).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_outsider_cannot_tell_a_conversation_that_exists_from_one_that_does_not() {
    let server = start_server().await;
    let addr = server.addr;
    let (alice, bob, carol) = (signup(addr, "alice").await, signup(addr, "bob").await, signup(addr, "carol").await);
    let eve = signup(addr, "eve").await;
    let a = Some(alice.token.as_str());
    // Alice has talked to Bob, not to Carol; and she has a group with Bob.
    let talked = open_direct(addr, &alice, &bob).await;
    let path = format!("/api/v1/conversations/{talked}/messages");
    let sent = request(addr, "POST", &path, a, Some(json!({"client_id":"1","body":"hi"}))).await;
    assert_eq!(sent.status, 200);
    let user = |session: &Session| session.id.parse::<UserId>().unwrap();
    let never = ConversationId::direct(user(&alice), user(&carol)).to_string();
    assert_eq!(ConversationId::direct(user(&alice), user(&bob)).to_string(), talked, "ids are computable");
    let group = request(addr, "POST", "/api/v1/conversations", a, Some(json!({"name":"secret","members":[bob.id]})));
    let group = group.await.json()["id"].as_str().unwrap().to_string();
    let nothing = ConversationId::new().to_string();

    let mut ws = connect(addr, &eve.token).await;
    let expected = outsider_view(addr, &eve, &mut ws, &nothing).await;
    for seen in expected.iter().take(9) {
        assert_eq!(
            (seen["status"].clone(), seen["body"]["error"]["code"].clone()),
            (json!(404), json!("conversation_not_found")),
            "{seen}"
        );
    }
    // A poll session or a resume skips the cursor, saying why as the others do.
    let skipped = json!([{"conversation": "ID", "code": "conversation_not_found"}]);
    assert_eq!((expected[9]["status"].clone(), expected[9]["body"]["skipped"].clone()), (json!(201), skipped.clone()));
    assert_eq!((expected[14]["type"].clone(), expected[14]["skipped"].clone()), (json!("ack"), skipped));
    for frame in expected.iter().skip(10).take(4) {
        assert_eq!(
            (frame["type"].clone(), frame["code"].clone()),
            (json!("error"), json!("conversation_not_found")),
            "{frame}"
        );
    }
    for (what, id) in [("never talked", &never), ("talked", &talked), ("a group", &group)] {
        assert_eq!(outsider_view(addr, &eve, &mut ws, id).await, expected, "{what}");
    }
    server.shutdown().await.unwrap();
}
