//! Racing requests for a mailed link, at the engine, with real mail (aiosmtpd, see
//! `support::smtp`): two password-reset requests (or two verification mails) for one account
//! at once leave exactly one working link, the other mail's link is dead.
//!
//! The race is made certain, not hoped for: the store is wrapped in a [`Gated`] one that holds
//! each of the two requests after its first account-token write until both have made theirs.
//! An engine that deletes the older token and then stores the new one in two steps (as it once
//! did) so has both deletions done before either store, and leaves two working links; these
//! tests failed on it.
//!
//! Reported as ignored without `KANECT_TEST_SMTP` (see `build.rs`).

mod support;

use kanect::backend::{AccountTokenStore, StoreResult};
use kanect::mail::SmtpMailer;
use kanect::{AccountToken, Chat, ChatConfig, MailConfig, MemoryStore, RateLimits, Registration, TokenHash};
use kanect::{TokenPurpose, UserId, Verification};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use support::smtp::SmtpServer;
use support::*;
use tokio::sync::Barrier;

const PASSWORD: &str = "correct horse battery";

/// A memory store whose next `held` account-token writes each wait, once done, until all of
/// them are, and which notes what each put of a token answered.
struct Gated {
    inner: MemoryStore,
    /// How many account-token writes still wait at the barrier.
    held: AtomicUsize,
    /// Where they wait.
    barrier: Barrier,
    /// Each put's answer (stored or not), in order: a request whose token was not stored (a
    /// newer one was) mails nothing, so this says how many mails to wait for.
    puts: Mutex<Vec<bool>>,
}

impl Gated {
    fn new(held: usize) -> Gated {
        Gated {
            inner: MemoryStore::new(),
            held: AtomicUsize::new(0),
            barrier: Barrier::new(held),
            puts: Mutex::default(),
        }
    }

    /// Holds the next `n` account-token writes (the barrier's size), once done, until all are.
    fn arm(&self, n: usize) {
        self.held.store(n, Ordering::SeqCst);
    }

    /// Waits at the barrier if it is armed.
    async fn gate(&self) {
        let take = |held: usize| held.checked_sub(1);
        if self.held.fetch_update(Ordering::SeqCst, Ordering::SeqCst, take).is_ok() {
            tokio::time::timeout(WAIT, self.barrier.wait()).await.expect("both requests write a token");
        }
    }

    /// How many puts have answered so far.
    fn puts_so_far(&self) -> usize {
        self.puts.lock().unwrap().len()
    }

    /// Waits until `n` puts after the first `before` have answered; returns how many of those
    /// stored their token.
    async fn stored_of_next(&self, before: usize, n: usize) -> usize {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let puts = self.puts.lock().unwrap().clone();
            if puts.len() >= before + n {
                return puts[before..before + n].iter().filter(|stored| **stored).count();
            }
            assert!(tokio::time::Instant::now() < deadline, "{} puts, not {}", puts.len(), before + n);
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
}

#[kanect_core::testing::async_trait]
impl AccountTokenStore for Gated {
    async fn put_account_token(&self, token: &AccountToken) -> StoreResult<bool> {
        let stored = self.inner.put_account_token(token).await?;
        self.puts.lock().unwrap().push(stored);
        self.gate().await;
        Ok(stored)
    }

    async fn take_account_token(&self, purpose: TokenPurpose, hash: &TokenHash) -> StoreResult<Option<AccountToken>> {
        self.inner.take_account_token(purpose, hash).await
    }

    async fn delete_account_tokens_of(&self, user: UserId, purpose: Option<TokenPurpose>) -> StoreResult<u64> {
        let deleted = self.inner.delete_account_tokens_of(user, purpose).await?;
        self.gate().await;
        Ok(deleted)
    }

    async fn account_tokens(&self, after: Option<TokenHash>, limit: usize) -> StoreResult<Vec<AccountToken>> {
        self.inner.account_tokens(after, limit).await
    }
}

kanect_core::delegate_store!(
    impl UserStore, SessionStore, LoginAttemptStore, ConversationStore, MessageStore, AttachmentStore, AdminStore,
        InviteStore, NotificationStore, SecretStore, Store for Gated => inner
);

/// An engine on a [`Gated`] store, mailing through `smtp` with `verification`, with an account
/// `dana` at `dana@example.com`.
async fn engine(smtp: &SmtpServer, verification: Verification) -> (Chat, Arc<Gated>) {
    let mailer = SmtpMailer::from_url(&smtp.url(), "Kanect <kanect@example.com>").expect("mailer");
    mailer.check().await.expect("aiosmtpd answers");
    let store = Arc::new(Gated::new(2));
    let config = ChatConfig {
        mail: MailConfig { verification, ..Default::default() },
        rate_limits: RateLimits::UNLIMITED,
        ..chat_config()
    };
    let chat = Chat::builder_shared(store.clone()).mailer_shared(Arc::new(mailer)).config(config).build().await;
    let chat = chat.expect("chat");
    let registration = Registration { email: Some("dana@example.com".into()), ..Registration::new("dana", PASSWORD) };
    chat.register(registration).await.expect("dana");
    (chat, store)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(not(kanect_test_smtp), ignore = "set KANECT_TEST_SMTP (a python3 with aiosmtpd) to run")]
async fn racing_reset_requests_leave_one_working_link_and_a_newer_mail_retires_the_older() {
    let smtp = SmtpServer::start();
    let (chat, store) = engine(&smtp, Verification::Off).await;
    store.arm(2);
    let before = store.puts_so_far();
    let (first, second) =
        tokio::join!(chat.request_password_reset("dana", None), chat.request_password_reset("DANA@example.com", None));
    first.unwrap();
    second.unwrap();
    // Two mails if both tokens were stored (the same millisecond, the last one wins), one if
    // the later one was stored first (the earlier then mails nothing).
    let mailed = store.stored_of_next(before, 2).await;
    let mut tokens = Vec::new();
    for n in 1..=mailed {
        tokens.push(smtp.wait_for("dana@example.com", n).await.token_after("/#/reset/"));
    }
    let mut working = 0;
    for (n, token) in tokens.iter().enumerate() {
        match chat.reset_password_with_token(token, &format!("a new password number {n}")).await {
            Ok(user) => {
                assert_eq!(user.username, "dana");
                working += 1;
            }
            Err(error) => assert_eq!(error.code(), "invalid_token", "{error:?}"),
        }
    }
    assert_eq!(working, 1, "exactly one of the two racing links works");

    // In turn: the older link stops working once the newer one is mailed; a refused password
    // leaves the newer one working.
    chat.request_password_reset("dana", None).await.unwrap();
    let older = smtp.wait_for("dana@example.com", mailed + 1).await.token_after("/#/reset/");
    chat.request_password_reset("dana", None).await.unwrap();
    let newer = smtp.wait_for("dana@example.com", mailed + 2).await.token_after("/#/reset/");
    let refused = chat.reset_password_with_token(&newer, "short").await.unwrap_err();
    assert_eq!(refused.code(), "too_short", "{refused:?}");
    let dead = chat.reset_password_with_token(&older, "the older link's password").await.unwrap_err();
    assert_eq!(dead.code(), "invalid_token", "{dead:?}");
    chat.reset_password_with_token(&newer, "the newer link's password").await.expect("the newer link works");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(not(kanect_test_smtp), ignore = "set KANECT_TEST_SMTP (a python3 with aiosmtpd) to run")]
async fn racing_verification_mails_leave_one_working_link() {
    let smtp = SmtpServer::start();
    let (chat, store) = engine(&smtp, Verification::Optional).await;
    let at_sign_up = smtp.wait_for("dana@example.com", 1).await.token_after("/#/verify/");
    let login = chat.login("dana", PASSWORD).await.unwrap();
    let caller = chat.authenticate(login.token.as_str()).await.unwrap();
    store.arm(2);
    let before = store.puts_so_far();
    let (first, second) = tokio::join!(chat.resend_verification(&caller), chat.resend_verification(&caller));
    first.unwrap();
    second.unwrap();
    let mailed = store.stored_of_next(before, 2).await;
    let mut tokens = vec![at_sign_up];
    for n in 2..=1 + mailed {
        tokens.push(smtp.wait_for("dana@example.com", n).await.token_after("/#/verify/"));
    }
    let mut working = 0;
    for token in &tokens {
        match chat.verify_email(token).await {
            Ok(user) => {
                assert!(user.email_verified);
                working += 1;
            }
            Err(error) => assert_eq!(error.code(), "invalid_token", "{error:?}"),
        }
    }
    assert_eq!(working, 1, "of the sign-up's link and the two racing ones, exactly one works");
}
