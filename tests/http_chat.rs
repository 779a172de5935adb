//! End-to-end chat over real sockets: WebSocket between two users, a third following over
//! long-poll, one user on two devices, reconnect with resume, graceful shutdown, and a socket
//! adding users to the presence it follows.

mod support;

use kanect::proto::{
    Ack, ClientFrame, Command, ConversationId, Mark, PollCreated, PollEvents, SendMessage, Seq, ServerFrame, Typing,
};
use serde_json::json;
use support::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_users_chat_over_websocket() {
    let server = start_server().await;
    let addr = server.addr;
    let (alice, bob) = (signup(addr, "alice").await, signup(addr, "bob").await);
    let direct = open_direct(addr, &alice, &bob).await;
    let mut alice_ws = connect(addr, &alice.token).await;
    let mut bob_ws = connect(addr, &bob.token).await;

    let conversation: ConversationId = direct.parse().unwrap();
    let send = |client_id: &str, body: &str| {
        ClientFrame::new(Command::Send(SendMessage {
            conversation,
            client_id: client_id.into(),
            body: body.into(),
            attachments: vec![],
            reply_to: None,
        }))
    };
    let ack = alice_ws.call_frame(send("c1", "hi bob"), "r1").await;
    let ServerFrame::Ack(Ack::Sent { client_id, id, conversation: acked_in, seq, .. }) = ack.clone() else {
        panic!("a send's ack, not {ack:?}");
    };
    assert_eq!((client_id.as_str(), seq, acked_in), ("c1", Seq(1), conversation));

    let message = bob_ws.next_of("message").await;
    assert_eq!(message_of(&message), ("hi bob".to_string(), 1));
    assert_eq!(message["message"]["sender"], alice.id.as_str());
    assert_eq!(message["message"]["id"], id.to_string());
    // The sender's own socket gets the message too.
    assert_eq!(message_of(&alice_ws.next_of("message").await), ("hi bob".to_string(), 1));

    // A resend with the same client id is acked with the original and stores nothing.
    let again = alice_ws.call_frame(send("c1", "hi bob"), "r2").await;
    assert!(matches!(again, ServerFrame::Ack(Ack::Sent { id: again, seq: Seq(1), .. }) if again == id), "{again:?}");

    alice_ws.send_frame(&ClientFrame::new(Command::Typing(Typing { conversation }))).await;
    let typing = bob_ws.next_of("typing").await;
    assert_eq!(typing["user"], alice.id.as_str());
    assert_eq!(typing["conversation"], direct.as_str());

    let read = bob_ws.call_frame(ClientFrame::new(Command::Read(Mark { conversation, seq: Seq(1) })), "r3").await;
    assert_eq!(read, ServerFrame::Ack(Ack::Done { reference: Some("r3".into()) }));
    let receipt = alice_ws.next_of("receipt").await;
    assert_eq!((receipt["user"].clone(), receipt["read"].clone()), (json!(bob.id), json!(1)));

    // Bob replies; history over REST shows both in order.
    bob_ws.call(json!({"type":"send","conversation":direct,"client_id":"b1","body":"hi alice"}), "r4").await;
    assert_eq!(message_of(&alice_ws.next_of("message").await), ("hi alice".to_string(), 2));
    let history =
        request(addr, "GET", &format!("/api/v1/conversations/{direct}/messages"), Some(&alice.token), None).await;
    let bodies: Vec<_> = history.json()["messages"].as_array().unwrap().iter().map(|m| m["body"].clone()).collect();
    assert_eq!(bodies, vec![json!("hi bob"), json!("hi alice")]);
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_third_user_follows_over_long_poll() {
    let server = start_server().await;
    let addr = server.addr;
    let (alice, bob, carol) = (signup(addr, "alice").await, signup(addr, "bob").await, signup(addr, "carol").await);
    let group = request(
        addr,
        "POST",
        "/api/v1/conversations",
        Some(&alice.token),
        Some(json!({"name":"lunch","members":[bob.id, carol.id]})),
    )
    .await;
    assert_eq!(group.status, 201);
    let group = group.json()["id"].as_str().unwrap().to_string();

    let created = request(addr, "POST", "/api/v1/poll", Some(&carol.token), None).await;
    assert_eq!(created.status, 201, "{:?}", created.json());
    let poll = created.body_as::<PollCreated>().poll;

    let mut alice_ws = connect(addr, &alice.token).await;
    alice_ws.call(json!({"type":"send","conversation":group,"client_id":"1","body":"first"}), "s1").await;

    let first = poll_until_message(addr, &carol, &poll, 0).await;
    // Seq 1 is the group's "created" system line.
    assert_eq!(message_of(&first.0), ("first".to_string(), 2));

    // A poll that is already waiting returns as soon as a message arrives.
    let carol2 = carol.clone();
    let poll2 = poll.clone();
    let waiting = tokio::spawn(async move { poll_until_message(addr, &carol2, &poll2, first.1).await });
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    alice_ws.call(json!({"type":"send","conversation":group,"client_id":"2","body":"second"}), "s2").await;
    let (second, next) = waiting.await.unwrap();
    assert_eq!(message_of(&second), ("second".to_string(), 3));

    // A lost response is asked for again with the same `after`: the same events come back.
    let again =
        request(addr, "GET", &format!("/api/v1/poll/{poll}?after={}&wait=0", first.1), Some(&carol.token), None).await;
    let events = again.json()["events"].as_array().unwrap().clone();
    assert!(events.iter().any(|e| e["type"] == "message" && e["message"]["body"] == "second"), "{events:?}");
    assert_eq!(again.json()["next"], next);

    // Someone else's token cannot read Carol's session.
    let foreign = request(addr, "GET", &format!("/api/v1/poll/{poll}?wait=0"), Some(&bob.token), None).await;
    assert_eq!((foreign.status, foreign.code().as_str()), (404, "poll_not_found"));
    let closed = request(addr, "DELETE", &format!("/api/v1/poll/{poll}"), Some(&carol.token), None).await;
    assert_eq!(closed.status, 204);
    server.shutdown().await.unwrap();
}

/// Polls until a message frame arrives; returns it and the `next` cursor.
async fn poll_until_message(
    addr: std::net::SocketAddr,
    who: &Session,
    poll: &str,
    mut after: u64,
) -> (serde_json::Value, u64) {
    for _ in 0..20 {
        let reply =
            request(addr, "GET", &format!("/api/v1/poll/{poll}?after={after}&wait=5"), Some(&who.token), None).await;
        assert_eq!(reply.status, 200, "{:?}", reply.json());
        reply.body_as::<PollEvents>();
        let json = reply.json();
        after = json["next"].as_u64().unwrap();
        if let Some(message) = json["events"].as_array().unwrap().iter().find(|e| e["type"] == "message") {
            return (message.clone(), after);
        }
    }
    panic!("no message over long-poll");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_user_with_two_devices_gets_everything_on_both() {
    let server = start_server().await;
    let addr = server.addr;
    let (alice, bob) = (signup(addr, "alice").await, signup(addr, "bob").await);
    let direct = open_direct(addr, &alice, &bob).await;
    let mut phone = connect(addr, &alice.token).await;
    let mut laptop = connect(addr, &alice.token).await;

    let sent = request(
        addr,
        "POST",
        &format!("/api/v1/conversations/{direct}/messages"),
        Some(&bob.token),
        Some(json!({"client_id":"b1","body":"to both"})),
    )
    .await;
    assert_eq!(sent.status, 200, "{:?}", sent.json());
    assert_eq!(message_of(&phone.next_of("message").await), ("to both".to_string(), 1));
    assert_eq!(message_of(&laptop.next_of("message").await), ("to both".to_string(), 1));

    // What one device sends, the other sees.
    phone.call(json!({"type":"send","conversation":direct,"client_id":"a1","body":"from phone"}), "p").await;
    assert_eq!(message_of(&laptop.next_of("message").await), ("from phone".to_string(), 2));
    let edited = phone.call(json!({"type":"edit","id":sent.json()["id"],"body":"nope"}), "e").await;
    assert_eq!(edited["code"], "not_sender");
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reconnect_and_resume_gets_every_missed_message_exactly_once() {
    let server = start_server().await;
    let addr = server.addr;
    let (alice, bob) = (signup(addr, "alice").await, signup(addr, "bob").await);
    let direct = open_direct(addr, &alice, &bob).await;
    let send = |n: u64| {
        let (token, direct) = (alice.token.clone(), direct.clone());
        async move {
            let path = format!("/api/v1/conversations/{direct}/messages");
            let reply = request(
                addr,
                "POST",
                &path,
                Some(&token),
                Some(json!({"client_id": n.to_string(), "body": format!("m{n}")})),
            )
            .await;
            assert_eq!(reply.json()["seq"], n);
        }
    };

    let mut bob_ws = connect(addr, &bob.token).await;
    send(1).await;
    assert_eq!(message_of(&bob_ws.next_of("message").await).1, 1);
    drop(bob_ws); // the connection drops

    for n in 2..=6 {
        send(n).await;
    }
    let mut bob_ws = connect_resuming(addr, &bob.token).await;
    // A live message racing the resume must come after the missed ones, and not twice.
    send(7).await;
    bob_ws.send(json!({"type":"resume","cursors":[{"conversation":direct,"seq":1}],"ref":"resume"})).await;
    send(8).await;

    let mut seqs = Vec::new();
    let mut acked = false;
    while seqs.len() < 7 || !acked {
        let frame = bob_ws.next().await;
        match frame["type"].as_str() {
            Some("message") => seqs.push(message_of(&frame).1),
            Some("ack") => acked = true,
            _ => {}
        }
    }
    // Nothing more is pending: a ping's pong comes before any further message.
    let pong = bob_ws.call(json!({"type":"ping"}), "after").await;
    assert_eq!(pong["type"], "pong");
    assert_eq!(seqs, vec![2, 3, 4, 5, 6, 7, 8]);
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resume_with_repeated_or_unusable_cursors_sends_each_missed_message_once() {
    let server = start_server().await;
    let addr = server.addr;
    let (alice, bob, carol) = (signup(addr, "alice").await, signup(addr, "bob").await, signup(addr, "carol").await);
    let direct = open_direct(addr, &alice, &bob).await;
    let theirs = open_direct(addr, &alice, &carol).await;
    for n in 1..=3 {
        let body = json!({"client_id": n.to_string(), "body": format!("m{n}")});
        request(addr, "POST", &format!("/api/v1/conversations/{direct}/messages"), Some(&alice.token), Some(body))
            .await;
    }
    // The same cursor a hundred times, one for a conversation Bob is not in, one past the end.
    let mut cursors = vec![json!({"conversation": direct, "seq": 0}); 100];
    cursors.push(json!({"conversation": theirs, "seq": 0}));
    cursors.push(json!({"conversation": direct, "seq": 99}));

    let mut ws = connect_resuming(addr, &bob.token).await;
    ws.send(json!({"type":"resume","cursors":cursors,"ref":"r"})).await;
    let (mut seqs, mut ack) = (Vec::new(), None);
    while seqs.len() < 3 || ack.is_none() {
        let frame = ws.next().await;
        match frame["type"].as_str() {
            Some("message") => seqs.push(message_of(&frame).1),
            Some("ack") => ack = Some(frame),
            _ => {}
        }
    }
    assert_eq!(seqs, vec![1, 2, 3]);
    // Repeated cursors count once, from the lowest seq; the foreign one is skipped and said so.
    assert_eq!(
        ack.map(|ack| ack["skipped"].clone()),
        Some(json!([{"conversation": theirs, "code": "conversation_not_found"}]))
    );
    assert_eq!(ws.call(json!({"type":"ping"}), "p").await["type"], "pong", "nothing else pending");

    // Long-poll: the same, in the poll session's first events.
    let created = request(addr, "POST", "/api/v1/poll", Some(&bob.token), Some(json!({"cursors": cursors}))).await;
    assert_eq!(created.status, 201);
    assert_eq!(created.json()["skipped"], json!([{"conversation": theirs, "code": "conversation_not_found"}]));
    let id = created.json()["poll"].as_str().unwrap().to_string();
    let polled = request(addr, "GET", &format!("/api/v1/poll/{id}?after=0&wait=0"), Some(&bob.token), None).await;
    let events = polled.json()["events"].as_array().unwrap().clone();
    let seqs: Vec<u64> = events.iter().filter(|e| e["type"] == "message").map(|e| message_of(e).1).collect();
    assert_eq!(seqs, vec![1, 2, 3]);
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shutdown_closes_sockets_with_going_away_and_returns() {
    let server = start_server().await;
    let alice = signup(server.addr, "alice").await;
    let mut ws = connect(server.addr, &alice.token).await;
    let addr = server.addr;
    let stop = tokio::spawn(server.shutdown());
    assert_eq!(ws.closed_within(WAIT).await, Some(Some(1001)));
    stop.await.unwrap().unwrap();
    assert!(tokio::net::TcpStream::connect(addr).await.is_err(), "no longer accepting");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logout_ends_the_session_on_its_sockets() {
    let server = start_server().await;
    let alice = signup(server.addr, "alice").await;
    let mut ws = connect(server.addr, &alice.token).await;
    let reply = request(server.addr, "POST", "/api/v1/auth/logout", Some(&alice.token), None).await;
    assert_eq!(reply.status, 204);
    assert_eq!(ws.next_of("session_ended").await["reason"], "logged_out");
    assert_eq!(ws.closed_within(WAIT).await, Some(Some(1000)));
    let me = request(server.addr, "GET", "/api/v1/me", Some(&alice.token), None).await;
    assert_eq!((me.status, me.code().as_str()), (401, "invalid_session"));
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_socket_adds_users_to_its_watch_without_resending_the_list() {
    let server = start_server().await;
    let addr = server.addr;
    let (alice, bob, carol) = (signup(addr, "alice").await, signup(addr, "bob").await, signup(addr, "carol").await);
    let mut alice_ws = connect(addr, &alice.token).await;
    let ack = alice_ws.call(json!({"type":"watch","users":[bob.id]}), "w1").await;
    assert_eq!(ack["type"], "ack", "{ack}");
    let ack = alice_ws.call(json!({"type":"watch","users":[carol.id],"add":true}), "w2").await;
    assert_eq!(ack["type"], "ack", "{ack}");
    let refused = alice_ws.call(json!({"type":"watch","users":["not-a-uuid"],"add":true}), "w3").await;
    assert_eq!((refused["type"].as_str(), refused["code"].as_str()), (Some("error"), Some("invalid_value")));

    let mut online = Vec::new();
    let _bob_ws = connect(addr, &bob.token).await;
    let _carol_ws = connect(addr, &carol.token).await;
    while online.len() < 2 {
        let presence = alice_ws.next_of("presence").await;
        assert_eq!(presence["online"], true, "{presence}");
        online.push(presence["user"].as_str().unwrap().to_string());
    }
    online.sort();
    let mut expected = vec![bob.id.clone(), carol.id.clone()];
    expected.sort();
    assert_eq!(online, expected, "the first list and the added user are both followed");
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_watch_list_fits_in_two_frames_and_no_more_is_added() {
    let server = start_server().await;
    let alice = signup(server.addr, "alice").await;
    let mut alice_ws = connect(server.addr, &alice.token).await;
    let ids = |n: usize| (0..n).map(|_| kanect::UserId::new().to_string()).collect::<Vec<_>>();
    // 1000 ids in one frame pass the 32 KiB frame limit: refused whole (with no ref to match).
    alice_ws.send(json!({"type":"watch","users":ids(1000),"ref":"big"})).await;
    let refused = alice_ws.next_of("error").await;
    assert_eq!(refused["code"], "frame_too_large", "{refused}");
    // As the web app sends them: 500 replacing, then 500 added.
    let ack = alice_ws.call(json!({"type":"watch","users":ids(500)}), "w1").await;
    assert_eq!(ack["type"], "ack", "{ack}");
    let ack = alice_ws.call(json!({"type":"watch","users":ids(500),"add":true}), "w2").await;
    assert_eq!(ack["type"], "ack", "{ack}");
    let full = alice_ws.call(json!({"type":"watch","users":ids(1),"add":true}), "w3").await;
    assert_eq!((full["type"].as_str(), full["code"].as_str()), (Some("error"), Some("too_long")), "{full}");
    server.shutdown().await.unwrap();
}
