//! The REST API end to end: users with presence and paging, groups and their management,
//! messages (send, edit, delete, history pages, receipts) and the admin API.

mod support;

use serde_json::{json, Value};
use support::*;

fn ids(list: &Value, key: &str) -> Vec<String> {
    list.as_array().unwrap().iter().map(|v| v[key].as_str().unwrap_or("").to_string()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_are_listed_with_presence_search_and_pages() {
    let server = start_server().await;
    let addr = server.addr;
    let mut sessions = Vec::new();
    for name in ["amy", "ann", "bob", "cat", "dan"] {
        sessions.push(signup(addr, name).await);
    }
    let _online = connect(addr, &sessions[2].token).await; // bob
    let token = Some(sessions[0].token.as_str());

    let page = request(addr, "GET", "/api/v1/users?limit=2", token, None).await.json();
    assert_eq!(ids(&page["users"], "username"), ["amy", "ann"]);
    assert_eq!(page["next"], "ann");
    let page = request(addr, "GET", "/api/v1/users?limit=2&after=ann", token, None).await.json();
    assert_eq!(ids(&page["users"], "username"), ["bob", "cat"]);
    assert_eq!(page["users"][0]["presence"]["online"], true);
    assert_eq!(page["users"][1]["presence"]["online"], false);
    assert!(page["users"][0].get("email").is_none());
    let last = request(addr, "GET", "/api/v1/users?limit=2&after=cat", token, None).await.json();
    assert_eq!((ids(&last["users"], "username"), last["next"].clone()), (vec!["dan".to_string()], Value::Null));
    let found = request(addr, "GET", "/api/v1/users?search=A", token, None).await.json();
    assert_eq!(ids(&found["users"], "username"), ["amy", "ann", "cat", "dan"]);

    let one = request(addr, "GET", &format!("/api/v1/users/{}", sessions[2].id), token, None).await;
    assert_eq!((one.json()["username"].clone(), one.json()["presence"]["online"].clone()), (json!("bob"), json!(true)));
    let me = request(addr, "GET", "/api/v1/me", token, None).await;
    assert_eq!(me.json()["username"], "amy");
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn groups_are_created_managed_and_left() {
    let server = start_server().await;
    let addr = server.addr;
    let (alice, bob, carol) = (signup(addr, "alice").await, signup(addr, "bob").await, signup(addr, "carol").await);
    let (a, b) = (Some(alice.token.as_str()), Some(bob.token.as_str()));
    let mut carol_ws = connect(addr, &carol.token).await;

    let group =
        request(addr, "POST", "/api/v1/conversations", a, Some(json!({"name":"team","members":[bob.id]}))).await;
    assert_eq!(group.status, 201);
    let id = group.json()["id"].as_str().unwrap().to_string();
    assert_eq!(group.json()["owner"], alice.id.as_str());

    let renamed = request(addr, "PATCH", &format!("/api/v1/conversations/{id}"), b, Some(json!({"name":"mine"}))).await;
    assert_eq!((renamed.status, renamed.code().as_str()), (403, "not_owner"));
    let renamed = request(addr, "PATCH", &format!("/api/v1/conversations/{id}"), a, Some(json!({"name":"crew"}))).await;
    assert_eq!(renamed.json()["name"], "crew");

    let path = format!("/api/v1/conversations/{id}/members");
    let added = request(addr, "POST", &path, a, Some(json!({"user": carol.id}))).await;
    assert_eq!(added.json()["members"].as_array().unwrap().len(), 3);
    assert_eq!(carol_ws.next_of("conversation").await["conversation"]["id"], id.as_str());
    let again = request(addr, "POST", &path, a, Some(json!({"user": carol.id}))).await;
    assert_eq!((again.status, again.code().as_str()), (409, "already_member"));

    let removed = request(addr, "DELETE", &format!("{path}/{}", carol.id), a, None).await;
    assert_eq!(removed.json()["members"].as_array().unwrap().len(), 2);
    let event = carol_ws.next_of("conversation").await;
    assert!(!event["conversation"]["members"].as_array().unwrap().contains(&json!(carol.id)), "told she is out");

    let left = request(addr, "POST", &format!("/api/v1/conversations/{id}/leave"), a, None).await;
    assert_eq!(left.json()["owner"], bob.id.as_str(), "ownership passed on");
    let view = request(addr, "GET", &format!("/api/v1/conversations/{id}"), a, None).await;
    assert_eq!((view.status, view.code().as_str()), (404, "conversation_not_found"), "she left: as to an outsider");
    let list = request(addr, "GET", "/api/v1/conversations", b, None).await.json();
    assert_eq!(ids(&list["conversations"], "id"), [id]);
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_are_sent_edited_deleted_paged_and_marked_over_rest() {
    let server = start_server().await;
    let addr = server.addr;
    let (alice, bob) = (signup(addr, "alice").await, signup(addr, "bob").await);
    let (a, b) = (Some(alice.token.as_str()), Some(bob.token.as_str()));
    let direct = open_direct(addr, &alice, &bob).await;
    let mut bob_ws = connect(addr, &bob.token).await;
    let path = format!("/api/v1/conversations/{direct}/messages");
    let mut sent = Vec::new();
    for n in 1..=5 {
        let reply =
            request(addr, "POST", &path, a, Some(json!({"client_id": n.to_string(), "body": format!("m{n}")}))).await;
        sent.push(reply.json());
    }
    let page = |query: &'static str| {
        let path = format!("{path}{query}");
        async move {
            let reply = request(addr, "GET", &path, a, None).await;
            reply.json()["messages"].as_array().unwrap().iter().map(|m| m["seq"].as_u64().unwrap()).collect::<Vec<_>>()
        }
    };
    assert_eq!(page("?limit=2").await, [4, 5]);
    assert_eq!(page("?before=4&limit=2").await, [2, 3]);
    assert_eq!(page("?after=3").await, [4, 5]);

    let id = sent[0]["id"].as_str().unwrap();
    let edited = request(addr, "PATCH", &format!("/api/v1/messages/{id}"), a, Some(json!({"body":"m1!"}))).await;
    assert_eq!((edited.json()["body"].clone(), edited.json()["edited_at"].is_number()), (json!("m1!"), true));
    assert_eq!(bob_ws.next_of("edit").await["message"]["body"], "m1!");
    let by_bob = request(addr, "DELETE", &format!("/api/v1/messages/{id}"), b, None).await;
    assert_eq!((by_bob.status, by_bob.code().as_str()), (403, "not_sender"));
    let deleted = request(addr, "DELETE", &format!("/api/v1/messages/{id}"), a, None).await;
    assert_eq!((deleted.json()["deleted"].clone(), deleted.json()["body"].clone()), (json!(true), json!("")));
    assert_eq!(bob_ws.next_of("delete").await["seq"], 1);

    let receipts = format!("/api/v1/conversations/{direct}/receipts");
    let read = request(addr, "POST", &receipts, b, Some(json!({"kind":"read","seq":3}))).await;
    assert_eq!(read.json()["receipt"]["read"], 3);
    let same = request(addr, "POST", &receipts, b, Some(json!({"kind":"read","seq":2}))).await;
    assert_eq!(same.json()["receipt"], Value::Null, "marks only move forward");
    let view = request(addr, "GET", &format!("/api/v1/conversations/{direct}"), b, None).await.json();
    assert_eq!((view["unread"].clone(), view["last_seq"].clone()), (json!(2), json!(5)));
    let typing = request(addr, "POST", &format!("/api/v1/conversations/{direct}/typing"), a, None).await;
    assert_eq!(typing.status, 204);
    assert_eq!(bob_ws.next_of("typing").await["user"], alice.id.as_str());
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_admin_api_maps_onto_the_engine() {
    let server = start_server().await;
    let addr = server.addr;
    let (alice, bob) = (signup(addr, "alice").await, signup(addr, "bob").await);
    let direct = open_direct(addr, &alice, &bob).await;
    let sent = request(
        addr,
        "POST",
        &format!("/api/v1/conversations/{direct}/messages"),
        Some(&alice.token),
        Some(json!({"client_id":"1","body":"rude"})),
    )
    .await
    .json();
    let admin = admin_session(&server).await;
    let root = admin.token.clone();
    let r = Some(root.as_str());

    let users = request(addr, "GET", "/api/v1/admin/users?search=li", r, None).await.json();
    assert_eq!(ids(&users["users"], "username"), ["alice"]);
    assert_eq!(users["users"][0]["conversations"], 1);
    let one = request(addr, "GET", &format!("/api/v1/admin/users/{}", bob.id), r, None).await.json();
    assert_eq!(one["username"], "bob");

    let conversations = request(addr, "GET", "/api/v1/admin/conversations", r, None).await.json();
    assert_eq!(ids(&conversations["conversations"], "id"), std::slice::from_ref(&direct));
    let history = request(addr, "GET", &format!("/api/v1/admin/conversations/{direct}/messages"), r, None).await.json();
    assert_eq!(history["messages"][0]["body"], "rude");
    let id = sent["id"].as_str().unwrap();
    let erased = request(addr, "DELETE", &format!("/api/v1/admin/messages/{id}"), r, None).await;
    assert_eq!(erased.json()["deleted"], true);

    let role =
        request(addr, "PUT", &format!("/api/v1/admin/users/{}/role", bob.id), r, Some(json!({"role":"admin"}))).await;
    assert_eq!(role.json()["role"], "admin");
    let myself =
        request(addr, "PUT", &format!("/api/v1/admin/users/{}/role", admin.id), r, Some(json!({"role":"user"}))).await;
    assert_eq!((myself.status, myself.code().as_str()), (403, "self_action"));
    let reset = request(
        addr,
        "POST",
        &format!("/api/v1/admin/users/{}/password", alice.id),
        r,
        Some(json!({"password":"a brand new secret"})),
    )
    .await;
    assert_eq!(reset.status, 204);
    assert_eq!(request(addr, "GET", "/api/v1/me", Some(&alice.token), None).await.status, 401, "sessions ended");
    let relogin = request(
        addr,
        "POST",
        "/api/v1/auth/login",
        None,
        Some(json!({"username":"alice","password":"a brand new secret"})),
    )
    .await;
    assert_eq!(relogin.status, 200);
    let gone = request(addr, "DELETE", &format!("/api/v1/admin/users/{}", alice.id), r, None).await;
    assert_eq!(gone.status, 204);
    let stats = request(addr, "GET", "/api/v1/admin/stats", r, None).await.json();
    assert_eq!((stats["users"].clone(), stats["messages"].clone()), (json!(2), json!(1)));
    let audit = request(addr, "GET", "/api/v1/admin/audit?limit=10", r, None).await.json();
    let actions: Vec<String> = ids(&audit["entries"], "action");
    assert_eq!(actions, ["user.delete", "user.password_reset", "user.role", "message.delete"]);
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_conversation_list_comes_in_pages() {
    let server = start_server().await;
    let addr = server.addr;
    let (alice, bob) = (signup(addr, "alice").await, signup(addr, "bob").await);
    let a = Some(alice.token.as_str());
    let mut made = Vec::new();
    for name in ["one", "two", "three", "four", "five"] {
        let group = request(addr, "POST", "/api/v1/conversations", a, Some(json!({"name": name}))).await;
        made.push(group.json()["id"].as_str().unwrap().to_string());
    }
    let direct = open_direct(addr, &alice, &bob).await;
    // Listed once it has a message (an empty direct conversation is in no list).
    let said = json!({"client_id": "c1", "body": "hi"});
    let path = format!("/api/v1/conversations/{direct}/messages");
    assert_eq!(request(addr, "POST", &path, a, Some(said)).await.status, 200);
    made.push(direct);
    let mut listed = Vec::new();
    let mut path = "/api/v1/conversations?limit=4".to_string();
    for _ in 0..10 {
        let page = request(addr, "GET", &path, a, None).await;
        assert_eq!(page.status, 200);
        let page = page.json();
        listed.extend(ids(&page["conversations"], "id"));
        match page["next"].as_str() {
            Some(next) => path = format!("/api/v1/conversations?limit=4&after={next}"),
            None => break,
        }
    }
    assert_eq!(listed.len(), 6, "{listed:?}");
    listed.sort();
    made.sort();
    assert_eq!(listed, made);
    // Without `limit`: 50 at most, and no next page here.
    let all = request(addr, "GET", "/api/v1/conversations", a, None).await.json();
    assert_eq!((all["conversations"].as_array().unwrap().len(), all["next"].clone()), (6, Value::Null));

    for (query, code) in [("?after=yesterday", "malformed"), ("?limit=0", "out_of_range"), ("?limit=x", "wrong_type")] {
        let reply = request(addr, "GET", &format!("/api/v1/conversations{query}"), a, None).await;
        assert_eq!((reply.status, reply.code()), (400, code.to_string()), "{query}");
    }
    server.shutdown().await.unwrap();
}
