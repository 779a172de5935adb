//! Web Push end to end: a server pushes to a local stand-in for a push service, which checks
//! each push as a push service does (the VAPID token's ES256 signature with the server's
//! public key, its audience and expiry) and decrypts the payload with the subscription's
//! private key and auth secret, made here as a browser makes them. Then the rules: a push
//! service's 410 removes the subscription; a member reading the conversation, a muted
//! conversation, mentions-only without a mention, and the do-not-disturb each mean no push;
//! and the refusals of bad keys and of endpoints the server must not call.

mod support;

use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes128Gcm, Nonce};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use bytes::Bytes;
use hkdf::Hkdf;
use http_body_util::{BodyExt, Full};
use hyper::{Request, Response, StatusCode};
use kanect::backend::NotificationStore;
use kanect::push::WebPushConfig;
use kanect::ChatConfig;
use p256::ecdsa::signature::Verifier;
use p256::ecdsa::{Signature, VerifyingKey};
use p256::elliptic_curve::sec1::ToSec1Point;
use p256::elliptic_curve::Generate;
use p256::{PublicKey, SecretKey};
use serde_json::{json, Value};
use sha2::Sha256;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use support::*;
use tokio::sync::mpsc;

/// One push as the stand-in received it.
#[derive(Debug)]
struct Push {
    path: String,
    headers: HashMap<String, String>,
    body: Vec<u8>,
}

/// A push service on 127.0.0.1: hands every request it gets to the test, and answers with
/// `status` (201 Created, as push services do, unless a test changes it).
struct PushService {
    addr: SocketAddr,
    status: Arc<AtomicU16>,
    received: mpsc::UnboundedReceiver<Push>,
}

async fn push_service() -> PushService {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let status = Arc::new(AtomicU16::new(201));
    let (sender, received) = mpsc::unbounded_channel();
    let answer = status.clone();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else { return };
            let (sender, answer) = (sender.clone(), answer.clone());
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |request: Request<hyper::body::Incoming>| {
                    let (sender, answer) = (sender.clone(), answer.clone());
                    async move {
                        let path = request.uri().path().to_string();
                        let headers = request
                            .headers()
                            .iter()
                            .map(|(name, value)| (name.to_string(), value.to_str().unwrap_or("").to_string()))
                            .collect();
                        let body = request.into_body().collect().await.unwrap().to_bytes().to_vec();
                        let _ = sender.send(Push { path, headers, body });
                        let status = StatusCode::from_u16(answer.load(Ordering::SeqCst)).unwrap();
                        Ok::<_, std::convert::Infallible>(
                            Response::builder().status(status).body(Full::new(Bytes::new())).unwrap(),
                        )
                    }
                });
                let io = hyper_util::rt::TokioIo::new(stream);
                let _ = hyper::server::conn::http1::Builder::new().serve_connection(io, service).await;
            });
        }
    });
    PushService { addr, status, received }
}

impl PushService {
    async fn next(&mut self) -> Push {
        tokio::time::timeout(WAIT, self.received.recv()).await.expect("a push within the wait").unwrap()
    }

    /// Fails if a push comes within `within`.
    async fn none_within(&mut self, within: Duration) {
        if let Ok(Some(push)) = tokio::time::timeout(within, self.received.recv()).await {
            panic!("an unexpected push: {push:?}");
        }
    }
}

/// A browser's side of a subscription: its key pair and auth secret.
struct Browser {
    secret: SecretKey,
    auth: [u8; 16],
}

impl Browser {
    fn new() -> Self {
        let mut auth = [0u8; 16];
        rand::fill(&mut auth);
        Browser { secret: SecretKey::generate(), auth }
    }

    fn keys(&self) -> Value {
        let public = self.secret.public_key().to_sec1_point(false);
        json!({"p256dh": URL_SAFE_NO_PAD.encode(public.as_bytes()), "auth": URL_SAFE_NO_PAD.encode(self.auth)})
    }

    /// Decrypts a push's body as RFC 8291 and RFC 8188 say a browser does.
    fn decrypt(&self, body: &[u8]) -> Value {
        let (salt, rest) = body.split_at(16);
        let record_size = u32::from_be_bytes(rest[..4].try_into().unwrap());
        assert!(record_size >= 18, "record size {record_size}");
        let key_length = usize::from(rest[4]);
        let (sender_key, ciphertext) = rest[5..].split_at(key_length);
        let sender = PublicKey::from_sec1_bytes(sender_key).unwrap();
        let shared = p256::ecdh::diffie_hellman(self.secret.to_nonzero_scalar(), sender.as_affine());
        let mut info = b"WebPush: info\0".to_vec();
        info.extend_from_slice(self.secret.public_key().to_sec1_point(false).as_bytes());
        info.extend_from_slice(sender_key);
        let mut ikm = [0u8; 32];
        Hkdf::<Sha256>::new(Some(&self.auth), shared.raw_secret_bytes()).expand(&info, &mut ikm).unwrap();
        let prk = Hkdf::<Sha256>::new(Some(salt), &ikm);
        let (mut cek, mut nonce) = ([0u8; 16], [0u8; 12]);
        prk.expand(b"Content-Encoding: aes128gcm\0", &mut cek).unwrap();
        prk.expand(b"Content-Encoding: nonce\0", &mut nonce).unwrap();
        let mut plain = Aes128Gcm::new(&cek.into()).decrypt(&Nonce::from(nonce), ciphertext).expect("decrypts");
        // The last record ends with the 0x02 delimiter, then optional zero padding.
        while plain.last() == Some(&0) {
            plain.pop();
        }
        assert_eq!(plain.pop(), Some(2), "the last record's delimiter");
        serde_json::from_slice(&plain).unwrap()
    }
}

/// Checks a push's VAPID `Authorization` as a push service does; returns its claims.
fn check_vapid(push: &Push, server_key: &str, origin: &str) -> Value {
    let header = &push.headers["authorization"];
    let (token, key) = header.strip_prefix("vapid t=").unwrap().split_once(", k=").unwrap();
    assert_eq!(key, server_key, "signed with the server's key");
    let (signed, signature) = token.rsplit_once('.').unwrap();
    let (jwt_header, claims) = signed.split_once('.').unwrap();
    let jwt_header: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(jwt_header).unwrap()).unwrap();
    assert_eq!(jwt_header["alg"], "ES256");
    let verifying = VerifyingKey::from_sec1_bytes(&URL_SAFE_NO_PAD.decode(key).unwrap()).unwrap();
    let signature = Signature::from_slice(&URL_SAFE_NO_PAD.decode(signature).unwrap()).unwrap();
    verifying.verify(signed.as_bytes(), &signature).expect("a valid ES256 signature");
    let claims: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(claims).unwrap()).unwrap();
    assert_eq!(claims["aud"], origin);
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs();
    let exp = claims["exp"].as_u64().unwrap();
    assert!(exp > now && exp <= now + 24 * 3600, "exp {exp} within 24 hours of {now}");
    assert!(claims["sub"].as_str().unwrap().starts_with("mailto:"));
    assert_eq!(push.headers["content-encoding"], "aes128gcm");
    assert!(push.headers["ttl"].parse::<u64>().unwrap() > 0);
    claims
}

/// A push waits this long: long enough for the test's read receipt to land within it on a
/// loaded machine.
const GRACE: Duration = Duration::from_millis(1500);

/// Longer than [`GRACE`] and a push's own time: a push that was coming has come by then.
const QUIET: Duration = Duration::from_millis(2500);

fn config() -> ChatConfig {
    ChatConfig { push_grace: GRACE, ..chat_config() }
}

/// Sends `body` from `from` into `conversation` over REST; returns its seq.
async fn send(addr: SocketAddr, from: &Session, conversation: &str, client_id: &str, body: &str) -> u64 {
    let path = format!("/api/v1/conversations/{conversation}/messages");
    let reply =
        request(addr, "POST", &path, Some(&from.token), Some(json!({"client_id": client_id, "body": body}))).await;
    assert!(reply.status == 200 || reply.status == 201, "{:?}", reply.json());
    reply.json()["seq"].as_u64().unwrap()
}

#[tokio::test]
async fn pushes_are_signed_encrypted_and_sent_only_when_they_should_be() {
    let mut service = push_service().await;
    let server =
        start_server_with_push(config(), WebPushConfig::new("mailto:ops@example.com").allow_private_endpoints(true))
            .await;
    let addr = server.addr;
    let (alice, bob) = (signup(addr, "alice").await, signup(addr, "bob").await);
    let conversation = open_direct(addr, &alice, &bob).await;

    let key = request(addr, "GET", "/api/v1/push/key", Some(&bob.token), None).await;
    assert_eq!(key.status, 200);
    let server_key = key.json()["public_key"].as_str().unwrap().to_string();
    assert_eq!(URL_SAFE_NO_PAD.decode(&server_key).unwrap().len(), 65);

    let browser = Browser::new();
    let endpoint = format!("http://{}/push/bob-phone", service.addr);
    let subscription = json!({"endpoint": endpoint, "expirationTime": null, "keys": browser.keys()});
    let reply = request(addr, "POST", "/api/v1/push/subscriptions", Some(&bob.token), Some(subscription.clone())).await;
    assert_eq!(reply.status, 204, "{:?}", reply.json());

    // A message: pushed, signed, and readable by the browser only.
    send(addr, &alice, &conversation, "m1", "hello bob").await;
    let push = service.next().await;
    assert_eq!(push.path, "/push/bob-phone");
    check_vapid(&push, &server_key, &format!("http://{}", service.addr));
    let notice = browser.decrypt(&push.body);
    assert_eq!(notice["conversation"], conversation.as_str());
    assert_eq!(notice["sender"], alice.id.as_str());
    assert_eq!(notice["sender_name"], "alice");
    assert_eq!(notice["preview"], "hello bob");
    assert_eq!(notice["group"], Value::Null);
    service.none_within(Duration::from_millis(500)).await; // one push, to bob only

    // Reading on another device: bob's read receipt reaches the message within the grace.
    let seq = send(addr, &alice, &conversation, "m2", "you are reading this").await;
    let receipts = format!("/api/v1/conversations/{conversation}/receipts");
    let read = request(addr, "POST", &receipts, Some(&bob.token), Some(json!({"kind": "read", "seq": seq}))).await;
    assert_eq!(read.status, 200, "{:?}", read.json());
    service.none_within(QUIET).await;

    // Muted: nothing; mentions only: only a mention; do-not-disturb: nothing.
    let level = format!("/api/v1/conversations/{conversation}/notifications");
    let set = |body: Value| request(addr, "PUT", &level, Some(&bob.token), Some(body));
    assert_eq!(set(json!({"level": "muted"})).await.status, 200);
    send(addr, &alice, &conversation, "m3", "muted away").await;
    service.none_within(QUIET).await;
    assert_eq!(set(json!({"level": "mentions"})).await.status, 200);
    send(addr, &alice, &conversation, "m4", "no mention here").await;
    service.none_within(QUIET).await;
    send(addr, &alice, &conversation, "m5", "ping @bob").await;
    assert_eq!(browser.decrypt(&service.next().await.body)["preview"], "ping @bob");
    assert_eq!(set(json!({"level": "all"})).await.status, 200);
    let dnd = |on: bool| {
        request(addr, "PUT", "/api/v1/notifications/do-not-disturb", Some(&bob.token), Some(json!({"on": on})))
    };
    assert_eq!(dnd(true).await.status, 200);
    send(addr, &alice, &conversation, "m6", "shh").await;
    service.none_within(QUIET).await;
    assert_eq!(dnd(false).await.status, 200);
    send(addr, &alice, &conversation, "m7", "awake").await;
    assert_eq!(browser.decrypt(&service.next().await.body)["preview"], "awake");

    // The push service says the subscription is gone: it is removed, and not pushed to again.
    service.status.store(410, Ordering::SeqCst);
    send(addr, &alice, &conversation, "m8", "anyone there?").await;
    service.next().await;
    let bob_id: kanect::UserId = bob.id.parse().unwrap();
    let deadline = tokio::time::Instant::now() + WAIT;
    while !server.store.push_subscriptions_of(bob_id).await.unwrap().is_empty() {
        assert!(tokio::time::Instant::now() < deadline, "the subscription was not removed");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    send(addr, &alice, &conversation, "m9", "gone").await;
    service.none_within(QUIET).await;

    // Logged out: the session's subscription is not used, and goes.
    service.status.store(201, Ordering::SeqCst);
    let reply = request(addr, "POST", "/api/v1/push/subscriptions", Some(&bob.token), Some(subscription)).await;
    assert_eq!(reply.status, 204);
    assert_eq!(request(addr, "POST", "/api/v1/auth/logout", Some(&bob.token), None).await.status, 204);
    send(addr, &alice, &conversation, "m10", "after logout").await;
    service.none_within(QUIET).await;
    assert!(server.store.push_subscriptions_of(bob_id).await.unwrap().is_empty());
}

#[tokio::test]
async fn bad_keys_and_endpoints_the_server_must_not_call_are_refused() {
    let server = start_server_with_push(config(), WebPushConfig::new("mailto:ops@example.com")).await;
    let bob = signup(server.addr, "bob").await;
    let browser = Browser::new();
    let subscribe = |endpoint: &str, keys: Value| {
        let body = json!({"endpoint": endpoint, "keys": keys});
        request(server.addr, "POST", "/api/v1/push/subscriptions", Some(&bob.token), Some(body))
    };
    let good = browser.keys();
    for endpoint in [
        "http://push.example.com/plain-http",
        "https://127.0.0.1/loopback",
        "https://[::1]/loopback",
        "https://10.1.2.3/private",
        "https://192.168.0.10/private",
        "https://169.254.169.254/link-local",
        "https://0.0.0.0/unspecified",
        "https://localhost:8443/resolves-to-loopback",
        "not a url",
    ] {
        let reply = subscribe(endpoint, good.clone()).await;
        assert_eq!((reply.status, reply.code()), (400, "bad_push_endpoint".to_string()), "{endpoint}");
    }
    let public = "https://8.8.8.8/push/x";
    let point = URL_SAFE_NO_PAD.decode(good["p256dh"].as_str().unwrap()).unwrap();
    let mut off_curve = point.clone();
    off_curve[64] ^= 1;
    for keys in [
        json!({"p256dh": "not*base64", "auth": good["auth"]}),
        json!({"p256dh": URL_SAFE_NO_PAD.encode(&point[..64]), "auth": good["auth"]}),
        json!({"p256dh": URL_SAFE_NO_PAD.encode(off_curve), "auth": good["auth"]}),
        json!({"p256dh": good["p256dh"], "auth": URL_SAFE_NO_PAD.encode([1u8; 8])}),
    ] {
        let reply = subscribe(public, keys.clone()).await;
        assert_eq!((reply.status, reply.code()), (400, "bad_push_keys".to_string()), "{keys}");
    }
    let bob_id: kanect::UserId = bob.id.parse().unwrap();
    assert!(server.store.push_subscriptions_of(bob_id).await.unwrap().is_empty(), "nothing stored");
    let unknown = subscribe(public, json!({"p256dh": good["p256dh"], "auth": good["auth"], "extra": 1})).await;
    assert_eq!((unknown.status, unknown.code()), (400, "unknown_field".to_string()));
}

#[tokio::test]
async fn a_server_without_push_says_so() {
    let server = start_server().await;
    let bob = signup(server.addr, "bob").await;
    let reply = request(server.addr, "GET", "/api/v1/push/key", Some(&bob.token), None).await;
    assert_eq!((reply.status, reply.code()), (501, "push_disabled".to_string()));
}
