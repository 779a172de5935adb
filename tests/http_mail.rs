//! E-mail over real sockets against a real SMTP server (aiosmtpd, see `support::smtp`): the
//! server mails through `SmtpMailer`, the tests read the delivered mails back and follow their
//! links. Verification (required), change of address, password reset, digests and their
//! unsubscribe; and the attacks on each: tokens forged, reused, expired, of another purpose,
//! of a deleted account; floods of requests.
//!
//! Reported as ignored without `KANECT_TEST_SMTP` (see `build.rs`).

mod support;

use kanect::mail::SmtpMailer;
use kanect::{ChatConfig, MailConfig, Rate, RateLimits, Verification};
use serde_json::json;
use std::sync::Arc;
use std::time::Duration;
use support::smtp::SmtpServer;
use support::*;

const PASSWORD: &str = "correct horse battery";

/// A server mailing through `smtp`, with `mail` settings and the default limits (but sign-ups).
async fn mailing_server(smtp: &SmtpServer, mail: MailConfig, rate_limits: RateLimits) -> TestServer {
    let mailer = SmtpMailer::from_url(&smtp.url(), "Kanect <kanect@example.com>").expect("mailer");
    mailer.check().await.expect("aiosmtpd answers");
    let config =
        ChatConfig { mail, rate_limits: RateLimits { sign_ups_per_address: None, ..rate_limits }, ..chat_config() };
    start_server_mailing(config, Arc::new(mailer)).await
}

/// A server mailing through `smtp` with `verification`, its links under `http://chat.test`.
async fn verifying_server(smtp: &SmtpServer, verification: Verification) -> TestServer {
    let mail = MailConfig { verification, public_url: "http://chat.test".into(), ..Default::default() };
    mailing_server(smtp, mail, RateLimits::default()).await
}

async fn signup_with_email(addr: std::net::SocketAddr, username: &str, email: &str) -> Session {
    let body = json!({"username": username, "password": PASSWORD, "email": email});
    let reply = request(addr, "POST", "/api/v1/auth/signup", None, Some(body)).await;
    assert_eq!(reply.status, 201, "{:?}", reply.json());
    let json = reply.json();
    Session {
        token: json["token"].as_str().unwrap().into(),
        csrf: json["csrf_token"].as_str().unwrap().into(),
        id: json["user"]["id"].as_str().unwrap().into(),
        username: username.into(),
    }
}

async fn verify(addr: std::net::SocketAddr, token: &str) -> Reply {
    request(addr, "POST", "/api/v1/email/verify", None, Some(json!({"token": token}))).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(not(kanect_test_smtp), ignore = "set KANECT_TEST_SMTP (a python3 with aiosmtpd) to run")]
async fn required_verification_mails_a_single_use_link_and_holds_chatting_until_it_is_opened() {
    let smtp = SmtpServer::start();
    let server = verifying_server(&smtp, Verification::Required).await;
    let addr = server.addr;
    let features = request(addr, "GET", "/api/v1/email", None, None).await;
    assert_eq!(features.json(), json!({"enabled": true, "verification": "required"}));

    let alice = signup_with_email(addr, "alice", "alice@example.com").await;
    let bob = signup_with_email(addr, "bob", "bob@example.com").await;
    let mail = smtp.wait_for("alice@example.com", 1).await;
    assert!(mail.header("Subject").unwrap().contains("Confirm your e-mail address"), "{:?}", mail.headers);
    assert!(mail.header("From").unwrap().contains("kanect@example.com"));
    assert!(mail.body.contains("http://chat.test/#/verify/"), "{}", mail.body);
    let token = mail.token_after("/#/verify/");

    // Unverified: logged in, reads, but may not start a conversation or send.
    let me = request(addr, "GET", "/api/v1/me", Some(&alice.token), None).await;
    assert_eq!(me.json()["email_verified"], json!(null), "absent means false");
    let direct =
        request(addr, "POST", "/api/v1/conversations/direct", Some(&alice.token), Some(json!({"user": bob.id}))).await;
    assert_eq!((direct.status, direct.code()), (403, "email_unverified".into()));
    let group =
        request(addr, "POST", "/api/v1/conversations", Some(&alice.token), Some(json!({"name": "g", "members": []})))
            .await;
    assert_eq!((group.status, group.code()), (403, "email_unverified".into()));

    // Forged, malformed, of another purpose: refused, and the real one still works.
    let forged = verify(addr, &"ab".repeat(32)).await;
    assert_eq!((forged.status, forged.code()), (400, "invalid_token".into()));
    assert_eq!(verify(addr, "not-a-token").await.code(), "invalid_token");
    let as_reset = request(
        addr,
        "POST",
        "/api/v1/auth/reset/confirm",
        None,
        Some(json!({"token": token, "password": "a new long password"})),
    )
    .await;
    assert_eq!(as_reset.code(), "invalid_token", "a verification token resets no password");
    let verified = verify(addr, &token).await;
    assert_eq!(verified.status, 200, "{:?}", verified.json());
    assert_eq!(verified.json()["email_verified"], json!(true));
    let again = verify(addr, &token).await;
    assert_eq!((again.status, again.code()), (400, "invalid_token".into()), "single use");

    // Verified: alice chats (bob, unverified, cannot answer yet).
    let conversation = open_direct(addr, &alice, &bob).await;
    let sent = request(
        addr,
        "POST",
        &format!("/api/v1/conversations/{conversation}/messages"),
        Some(&alice.token),
        Some(json!({"client_id": "c1", "body": "hi"})),
    )
    .await;
    assert_eq!(sent.status, 200, "{:?}", sent.json());
    let answer = request(
        addr,
        "POST",
        &format!("/api/v1/conversations/{conversation}/messages"),
        Some(&bob.token),
        Some(json!({"client_id": "c1", "body": "hi"})),
    )
    .await;
    assert_eq!(answer.code(), "email_unverified");

    // Bob asks for the mail again, within the limit (3 an hour): each new link replaces the last.
    let first = smtp.wait_for("bob@example.com", 1).await.token_after("/#/verify/");
    for n in 2..=4 {
        let resend = request(addr, "POST", "/api/v1/email/verify/resend", Some(&bob.token), None).await;
        assert_eq!(resend.status, 204, "{:?}", resend.json());
        smtp.wait_for("bob@example.com", n).await;
    }
    let flood = request(addr, "POST", "/api/v1/email/verify/resend", Some(&bob.token), None).await;
    assert_eq!((flood.status, flood.code()), (429, "rate_limited".into()));
    assert!(flood.header("Retry-After").is_some());
    assert_eq!(verify(addr, &first).await.code(), "invalid_token", "replaced by a newer mail");

    // A change of address: the current password first.
    let path = "/api/v1/me/email";
    let wrong = request(
        addr,
        "PUT",
        path,
        Some(&bob.token),
        Some(json!({"current_password": "not my password", "email": "robert@example.com"})),
    )
    .await;
    assert_eq!((wrong.status, wrong.code()), (403, "wrong_password".into()));
    let malformed =
        request(addr, "PUT", path, Some(&bob.token), Some(json!({"current_password": PASSWORD, "email": "robert"})))
            .await;
    assert_eq!((malformed.status, malformed.json()["error"]["field"].clone()), (400, json!("email")));
    let old_link = smtp.wait_for("bob@example.com", 4).await.token_after("/#/verify/");
    let changed = request(
        addr,
        "PUT",
        path,
        Some(&bob.token),
        Some(json!({"current_password": PASSWORD, "email": "robert@example.com"})),
    )
    .await;
    assert_eq!(changed.status, 200, "{:?}", changed.json());
    assert_eq!(changed.json()["email"], json!("robert@example.com"));
    assert_eq!(verify(addr, &old_link).await.code(), "invalid_token", "a link to the old address verifies nothing");
    let new_link = smtp.wait_for("robert@example.com", 1).await.token_after("/#/verify/");
    assert_eq!(verify(addr, &new_link).await.json()["email_verified"], json!(true));
    let answer = request(
        addr,
        "POST",
        &format!("/api/v1/conversations/{conversation}/messages"),
        Some(&bob.token),
        Some(json!({"client_id": "c2", "body": "hello"})),
    )
    .await;
    assert_eq!(answer.status, 200, "{:?}", answer.json());

    // Alice changes hers: unverified again, and held again.
    let moved = request(
        addr,
        "PUT",
        path,
        Some(&alice.token),
        Some(json!({"current_password": PASSWORD, "email": "a@example.org"})),
    )
    .await;
    assert_eq!(moved.json()["email_verified"], json!(null));
    let held = request(
        addr,
        "POST",
        &format!("/api/v1/conversations/{conversation}/messages"),
        Some(&alice.token),
        Some(json!({"client_id": "c3", "body": "?"})),
    )
    .await;
    assert_eq!(held.code(), "email_unverified");
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(not(kanect_test_smtp), ignore = "set KANECT_TEST_SMTP (a python3 with aiosmtpd) to run")]
async fn password_reset_answers_alike_for_anyone_and_its_link_sets_a_password_once_and_ends_every_session() {
    let smtp = SmtpServer::start();
    let server = mailing_server(&smtp, MailConfig::default(), RateLimits::default()).await;
    let addr = server.addr;
    let carol = signup_with_email(addr, "carol", "carol@example.com").await;
    let ask = |account: &str| request(addr, "POST", "/api/v1/auth/reset", None, Some(json!({"account": account})));

    // The same answer for an address that exists and one that does not.
    let known = ask("Carol@Example.com").await;
    let unknown = ask("nobody@example.com").await;
    assert_eq!((known.status, known.body.len()), (202, 0));
    assert_eq!((unknown.status, unknown.body.len()), (202, 0));
    let mail = smtp.wait_for("carol@example.com", 1).await;
    assert!(mail.header("Subject").unwrap().contains("Reset your"), "{:?}", mail.headers);
    assert!(mail.body.contains("\"carol\""), "{}", mail.body);
    let token = mail.token_after("/#/reset/");
    assert!(smtp.mails_to("nobody@example.com").is_empty());

    let confirm = |token: String, password: &str| {
        request(addr, "POST", "/api/v1/auth/reset/confirm", None, Some(json!({"token": token, "password": password})))
    };
    let weak = confirm(token.clone(), "short").await;
    assert_eq!((weak.status, weak.json()["error"]["field"].clone()), (400, json!("password")));
    let forged = confirm("0".repeat(64), "a brand new password").await;
    assert_eq!((forged.status, forged.code()), (400, "invalid_token".into()));
    assert_eq!(verify(addr, &token).await.code(), "invalid_token", "a reset token verifies nothing");
    let mut socket = connect(addr, &carol.token).await;
    let done = confirm(token.clone(), "a brand new password").await;
    assert_eq!(done.status, 204, "{:?}", done.json());
    assert_eq!(socket.next_of("session_ended").await["reason"], json!("password_reset"));
    let me = request(addr, "GET", "/api/v1/me", Some(&carol.token), None).await;
    assert_eq!(me.status, 401, "every session of the account ended");
    let reused = confirm(token, "yet another password").await;
    assert_eq!(reused.code(), "invalid_token", "single use");
    let old =
        request(addr, "POST", "/api/v1/auth/login", None, Some(json!({"username": "carol", "password": PASSWORD})))
            .await;
    assert_eq!(old.status, 401);
    let login = request(
        addr,
        "POST",
        "/api/v1/auth/login",
        None,
        Some(json!({"username": "carol", "password": "a brand new password"})),
    )
    .await;
    assert_eq!(login.status, 200);
    assert_eq!(login.json()["user"]["email_verified"], json!(true), "the mail was read at the address");

    // By username too; a newer link replaces an older one.
    assert_eq!(ask("carol").await.status, 202);
    let older = smtp.wait_for("carol@example.com", 2).await.token_after("/#/reset/");
    assert_eq!(ask("carol@example.com").await.status, 202);
    let newer = smtp.wait_for("carol@example.com", 3).await.token_after("/#/reset/");
    assert_eq!(confirm(older, "the older link's password").await.code(), "invalid_token");

    // A deleted account's link works no more.
    let admin = admin_session(&server).await;
    let deleted = request(addr, "DELETE", &format!("/api/v1/admin/users/{}", carol.id), Some(&admin.token), None).await;
    assert!(deleted.status < 300, "{:?}", deleted.json());
    assert_eq!(confirm(newer, "a password for nobody").await.code(), "invalid_token");
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(not(kanect_test_smtp), ignore = "set KANECT_TEST_SMTP (a python3 with aiosmtpd) to run")]
async fn reset_requests_are_limited_per_account_named_and_per_client_and_links_expire() {
    let smtp = SmtpServer::start();
    let mail = MailConfig { reset_ttl: Duration::from_millis(300), ..Default::default() };
    let limits = RateLimits { resets_per_client: Rate::new(5, Duration::from_secs(3600)), ..RateLimits::default() };
    let server = mailing_server(&smtp, mail, limits).await;
    let addr = server.addr;
    signup_with_email(addr, "dave", "dave@example.com").await;
    let ask = |account: &str| request(addr, "POST", "/api/v1/auth/reset", None, Some(json!({"account": account})));

    // 3 an hour for one address, whether or not it exists: the 4th is refused alike.
    for _ in 0..3 {
        assert_eq!(ask("dave@example.com").await.status, 202);
    }
    let flood = ask("DAVE@example.com").await;
    assert_eq!((flood.status, flood.code()), (429, "rate_limited".into()));
    assert!(flood.header("Retry-After").is_some());
    // Every request counts for its client, the refused one too: this is its 5th.
    assert_eq!(ask("ghost@example.com").await.status, 202);
    let client_flood = ask("ghost2@example.com").await;
    assert_eq!(client_flood.code(), "rate_limited", "5 an hour from one client, over every address");
    smtp.wait_for("dave@example.com", 3).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mails = smtp.mails_to("dave@example.com");
    assert_eq!(mails.len(), 3, "the refused request mailed nothing");

    // Expired: refused by its own code. (The three requests raced to the mailer: whichever
    // token was issued last is the one still stored, the others were replaced.)
    tokio::time::sleep(Duration::from_millis(400)).await;
    let mut codes = Vec::new();
    for mail in &mails {
        let token = mail.token_after("/#/reset/");
        let body = json!({"token": token, "password": "too late now, sadly"});
        let reply = request(addr, "POST", "/api/v1/auth/reset/confirm", None, Some(body)).await;
        assert_eq!(reply.status, 400);
        codes.push(reply.code());
    }
    codes.sort();
    assert_eq!(codes, ["invalid_token", "invalid_token", "token_expired"]);

    // Input limits: empty, and over an address's longest.
    assert_eq!(ask("  ").await.code(), "empty");
    let long = format!("{}@example.com", "x".repeat(243));
    assert_eq!(long.len(), 255);
    assert_eq!(ask(&long).await.code(), "too_long");
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(not(kanect_test_smtp), ignore = "set KANECT_TEST_SMTP (a python3 with aiosmtpd) to run")]
async fn an_offline_user_gets_one_digest_per_new_batch_and_unsubscribes_in_one_click() {
    let smtp = SmtpServer::start();
    let mail = MailConfig {
        digest_after: Some(Duration::from_secs(1)),
        public_url: "http://chat.test".into(),
        ..Default::default()
    };
    let server = mailing_server(&smtp, mail, RateLimits::default()).await;
    let addr = server.addr;
    let erin = signup_with_email(addr, "erin", "erin@example.com").await;
    let frank = signup_with_email(addr, "frank", "frank@example.com").await;
    let conversation = open_direct(addr, &frank, &erin).await;
    // A group erin muted: its messages stay out of her digests (the notification settings' rule).
    let group = request(
        addr,
        "POST",
        "/api/v1/conversations",
        Some(&frank.token),
        Some(json!({"name": "noisy", "members": [erin.id]})),
    )
    .await;
    let group = group.json()["id"].as_str().expect("group id").to_string();
    let erin_caller = server.chat.act_as(erin.id.parse().unwrap()).await.unwrap();
    let muted = kanect::NotificationLevel::Muted;
    server.chat.set_notification_level(&erin_caller, group.parse().unwrap(), muted, None).await.unwrap();
    // Erin was online and left: her last-seen is set.
    let socket = connect(addr, &erin.token).await;
    drop(socket);
    let left = tokio::time::Instant::now();
    loop {
        let me = request(addr, "GET", "/api/v1/me", Some(&erin.token), None).await;
        if !me.json()["last_seen"].is_null() {
            break;
        }
        assert!(left.elapsed() < WAIT, "erin's last-seen is recorded");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let messages = format!("/api/v1/conversations/{conversation}/messages");
    let send = |n: u32| {
        let body = json!({"client_id": format!("m{n}"), "body": "are you there?"});
        request(addr, "POST", &messages, Some(&frank.token), Some(body))
    };
    tokio::time::sleep(Duration::from_millis(20)).await;
    for n in 0..2 {
        assert_eq!(send(n).await.status, 200);
    }
    let noise = json!({"client_id": "noise", "body": "in the muted group"});
    let noise =
        request(addr, "POST", &format!("/api/v1/conversations/{group}/messages"), Some(&frank.token), Some(noise))
            .await;
    assert_eq!(noise.status, 200);
    let digest = smtp.wait_for("erin@example.com", 1).await;
    assert!(digest.header("Subject").unwrap().contains("unread messages"), "{:?}", digest.headers);
    assert!(digest.body.contains("2 new messages in frank"), "{}", digest.body);
    assert!(!digest.body.contains("noisy"), "a muted conversation is left out: {}", digest.body);
    let unsubscribe = digest.header("List-Unsubscribe").expect("RFC 8058 header").to_string();
    assert_eq!(digest.header("List-Unsubscribe-Post"), Some("List-Unsubscribe=One-Click"));
    assert!(unsubscribe.starts_with("<http://chat.test/api/v1/email/unsubscribe?token="), "{unsubscribe}");
    assert!(smtp.mails_to("frank@example.com").is_empty(), "frank is online... or never was: no digest");

    // Nothing new: no second digest. Something new: one more.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(smtp.mails_to("erin@example.com").len(), 1, "one digest, not one per pass");
    assert_eq!(send(2).await.status, 200);
    let second = smtp.wait_for("erin@example.com", 2).await;
    assert!(second.body.contains("1 new message in frank"), "{}", second.body);

    // The one-click unsubscribe, as a mail client does it: POST to the header's URL. The newest
    // digest's link is the one that works.
    let path_of = |header: &str| header.trim_start_matches("<http://chat.test").trim_end_matches('>').to_string();
    let path = path_of(second.header("List-Unsubscribe").unwrap());
    let token = second.token_after("token=");
    let replaced = request(addr, "POST", &path_of(&unsubscribe), None, None).await;
    assert_eq!(replaced.code(), "invalid_token");
    let page = request(addr, "GET", &path, None, None).await;
    assert_eq!((page.status, page.header("Location")), (303, Some(format!("/#/unsubscribe/{token}").as_str())));
    let forged = request(addr, "POST", "/api/v1/email/unsubscribe?token=00", None, None).await;
    assert_eq!((forged.status, forged.code()), (400, "invalid_token".into()));
    let headers = [("Content-Type", "application/x-www-form-urlencoded")];
    let done = raw_request(addr, "POST", &path, &headers, b"List-Unsubscribe=One-Click").await;
    assert_eq!(done.status, 204, "{:?}", done.json());
    let me = request(addr, "GET", "/api/v1/me", Some(&erin.token), None).await;
    assert_eq!(me.json()["digests_off"], json!(true));
    assert_eq!(send(3).await.status, 200);
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert_eq!(smtp.mails_to("erin@example.com").len(), 2, "unsubscribed: no more digests");

    // Back on, from the settings.
    let on = request(addr, "PUT", "/api/v1/me/email/digests", Some(&erin.token), Some(json!({"on": true}))).await;
    assert_eq!((on.status, on.json()["digests_off"].clone()), (200, json!(null)));
    let third = smtp.wait_for("erin@example.com", 3).await;
    assert!(third.body.contains("1 new message in frank"), "only what came after the last digest: {}", third.body);
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn without_a_mailer_the_server_says_so_and_refuses_resets() {
    let server = start_server().await;
    let features = request(server.addr, "GET", "/api/v1/email", None, None).await;
    assert_eq!(features.json(), json!({"enabled": false, "verification": "off"}));
    let reset = request(server.addr, "POST", "/api/v1/auth/reset", None, Some(json!({"account": "anyone"}))).await;
    assert_eq!((reset.status, reset.code()), (501, "mail_disabled".into()));
    let alice = signup(server.addr, "alice").await;
    let resend = request(server.addr, "POST", "/api/v1/email/verify/resend", Some(&alice.token), None).await;
    assert_eq!(resend.code(), "mail_disabled");
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(not(kanect_test_smtp), ignore = "set KANECT_TEST_SMTP (a python3 with aiosmtpd) to run")]
async fn an_address_an_administrator_sets_is_mailed_a_link_that_verifies_it() {
    let smtp = SmtpServer::start();
    let server = verifying_server(&smtp, Verification::Optional).await;
    let addr = server.addr;
    let admin = admin_session(&server).await;
    let alice = signup_with_email(addr, "alice", "alice@example.com").await;
    let token = smtp.wait_for("alice@example.com", 1).await.token_after("/#/verify/");
    assert_eq!(verify(addr, &token).await.json()["email_verified"], json!(true));
    let path = format!("/api/v1/admin/users/{}", alice.id);

    // The address she has, given again with a new name: still verified, nothing mailed.
    let same = json!({"display_name": "Alice A.", "email": "alice@example.com"});
    let edited = request(addr, "PATCH", &path, Some(&admin.token), Some(same)).await;
    assert_eq!(edited.status, 200, "{:?}", edited.json());
    assert_eq!(edited.json()["email_verified"], json!(true), "{:?}", edited.json());

    // A new address: unverified in the answer, and a link goes to it.
    let new = json!({"email": "alice@example.org"});
    let edited = request(addr, "PATCH", &path, Some(&admin.token), Some(new)).await;
    assert_eq!(edited.status, 200, "{:?}", edited.json());
    assert_eq!(
        (edited.json()["email"].clone(), edited.json()["email_verified"].clone()),
        (json!("alice@example.org"), json!(null))
    );
    let mail = smtp.wait_for("alice@example.org", 1).await;
    assert!(mail.header("Subject").unwrap().contains("Confirm your e-mail address"), "{:?}", mail.headers);
    let verified = verify(addr, &mail.token_after("/#/verify/")).await;
    assert_eq!(verified.status, 200, "{:?}", verified.json());
    let me = request(addr, "GET", "/api/v1/me", Some(&alice.token), None).await.json();
    assert_eq!((me["email"].clone(), me["email_verified"].clone()), (json!("alice@example.org"), json!(true)));

    let audit = request(addr, "GET", "/api/v1/admin/audit", Some(&admin.token), None).await.json();
    let edits: Vec<&serde_json::Value> =
        audit["entries"].as_array().expect("entries").iter().filter(|e| e["action"] == "user.edit").collect();
    let details: Vec<&str> = edits.iter().map(|e| e["detail"].as_str().unwrap_or_default()).collect();
    assert_eq!(details, ["email", "display_name"], "newest first; the same address is no change");
    assert_eq!(smtp.mails_to("alice@example.com").len(), 1, "the unchanged address was mailed nothing");
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn without_a_mailer_an_address_an_administrator_sets_stays_unverified() {
    let server = start_server().await;
    let admin = admin_session(&server).await;
    let bob = signup(server.addr, "bob").await;
    let path = format!("/api/v1/admin/users/{}", bob.id);
    let edited =
        request(server.addr, "PATCH", &path, Some(&admin.token), Some(json!({"email": "bob@example.com"}))).await;
    assert_eq!(edited.status, 200, "{:?}", edited.json());
    assert_eq!(
        (edited.json()["email"].clone(), edited.json()["email_verified"].clone()),
        (json!("bob@example.com"), json!(null))
    );
    let me = request(server.addr, "GET", "/api/v1/me", Some(&bob.token), None).await.json();
    assert_eq!((me["email"].clone(), me["email_verified"].clone()), (json!("bob@example.com"), json!(null)));
    server.shutdown().await.unwrap();
}
