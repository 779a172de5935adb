//! Over real sockets: a send into a direct conversation whose other member was disabled or
//! deleted is `403 recipient_unavailable` (an `error` frame on the WebSocket) and stores
//! nothing; a disabled account cannot be added to a group or a new direct conversation.

mod support;

use serde_json::json;
use support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sends_to_a_disabled_or_deleted_account_are_refused_and_store_nothing() {
    let server = start_server().await;
    let addr = server.addr;
    let root = admin_session(&server).await;
    let (alice, bob, carol) = (signup(addr, "alice").await, signup(addr, "bob").await, signup(addr, "carol").await);
    let a = Some(alice.token.as_str());
    let (with_bob, with_carol) = (open_direct(addr, &alice, &bob).await, open_direct(addr, &alice, &carol).await);
    let r = Some(root.token.as_str());
    let path = format!("/api/v1/admin/users/{}/disabled", bob.id);
    assert_eq!(request(addr, "PUT", &path, r, Some(json!({"disabled": true}))).await.status, 200);
    let path = format!("/api/v1/admin/users/{}", carol.id);
    assert_eq!(request(addr, "DELETE", &path, r, None).await.status, 204);

    for direct in [&with_bob, &with_carol] {
        let path = format!("/api/v1/conversations/{direct}/messages");
        let sent = request(addr, "POST", &path, a, Some(json!({"client_id": "c1", "body": "hello?"}))).await;
        assert_eq!((sent.status, sent.code().as_str()), (403, "recipient_unavailable"));
        let history = request(addr, "GET", &path, a, None).await.json();
        assert_eq!(history["messages"], json!([]), "nothing stored");
    }
    let mut ws = connect(addr, &alice.token).await;
    let refused = ws.call(json!({"type":"send","conversation":with_bob,"client_id":"c2","body":"hello?"}), "s").await;
    assert_eq!((refused["type"].clone(), refused["code"].clone()), (json!("error"), json!("recipient_unavailable")));

    let reopened = request(addr, "POST", "/api/v1/conversations/direct", a, Some(json!({"user": bob.id}))).await;
    assert_eq!((reopened.status, reopened.code().as_str()), (403, "recipient_unavailable"));
    let group =
        request(addr, "POST", "/api/v1/conversations", a, Some(json!({"name": "g", "members": [bob.id]}))).await;
    assert_eq!((group.status, group.code().as_str()), (403, "recipient_unavailable"));
    server.shutdown().await.unwrap();
}
