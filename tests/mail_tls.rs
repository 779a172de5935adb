//! `SmtpMailer` over TLS against a real SMTP server (aiosmtpd, see `support::smtp`) that
//! requires a login: STARTTLS (required by both sides) and TLS from the first byte, the
//! server's certificate signed by a CA the test makes and the mailer trusts through its CA
//! file. Mail is delivered and the login reaches the server; a wrong password, an untrusted
//! certificate and a server without STARTTLS each fail with their own [`Failure`] (the stable
//! code the engine's log line carries), and none of them lets a mail or a password go out in
//! plain.
//!
//! Reported as ignored without `KANECT_TEST_SMTP` (see `build.rs`).

mod support;

use kanect::mail::{Failure, SetupError, SmtpConfig, SmtpError, SmtpMailer};
use kanect::{Mail, MailError, Mailer};
use std::path::PathBuf;
use support::smtp::{Security, SmtpServer, SMTP_PASSWORD, SMTP_USER};

const TO: &str = "alice@example.com";

fn mail(subject: &str) -> Mail {
    Mail { to: TO.into(), subject: subject.into(), text: "Hello over TLS.\n".into(), headers: Vec::new() }
}

fn mailer(url: &str, ca_file: Option<PathBuf>) -> SmtpMailer {
    let config = SmtpConfig { url: url.parse().expect("a URL"), from: "Kanect <kanect@example.com>".into(), ca_file };
    SmtpMailer::new(config).expect("a mailer")
}

/// The failure in a setup check's error.
fn check_failure(error: &SetupError) -> Failure {
    match error {
        SetupError::Connect(error) => error.failure(),
        other => panic!("not a connection failure: {other}"),
    }
}

/// The failure in a send's error (what the engine logs as `a mail was not sent`).
fn send_failure(error: &MailError) -> Failure {
    error.0.downcast_ref::<SmtpError>().unwrap_or_else(|| panic!("not an SmtpError: {error}")).failure()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(not(kanect_test_smtp), ignore = "set KANECT_TEST_SMTP (a python3 with aiosmtpd) to run")]
async fn mail_goes_out_over_starttls_and_over_tls_with_the_login_the_server_checks() {
    for security in [Security::StartTls, Security::Smtps] {
        let smtp = SmtpServer::start_with(security);
        let mailer = mailer(&smtp.url(), Some(smtp.ca_file()));
        mailer.check().await.unwrap_or_else(|error| panic!("{security:?}: {error}"));
        mailer.send(mail(&format!("over {security:?}"))).await.unwrap_or_else(|error| panic!("{security:?}: {error}"));
        let delivered = smtp.wait_for(TO, 1).await;
        assert_eq!(delivered.header("Subject"), Some(format!("over {security:?}").as_str()));
        assert!(delivered.body.contains("Hello over TLS."), "{}", delivered.body);
        let logins = smtp.logins();
        assert!(logins.len() >= 2, "{security:?}: the check and the send logged in: {logins:?}");
        let expected = (true, SMTP_USER.to_string(), SMTP_PASSWORD.to_string());
        assert!(logins.iter().all(|login| *login == expected), "{security:?}: {logins:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(not(kanect_test_smtp), ignore = "set KANECT_TEST_SMTP (a python3 with aiosmtpd) to run")]
async fn a_wrong_password_is_refused_as_smtp_auth_and_no_mail_goes_out() {
    for security in [Security::StartTls, Security::Smtps] {
        let smtp = SmtpServer::start_with(security);
        let mailer = mailer(&smtp.url_as(SMTP_USER, "not the password"), Some(smtp.ca_file()));
        let error = mailer.check().await.unwrap_err();
        assert_eq!(check_failure(&error), Failure::Credentials, "{security:?}: {error}");
        assert!(error.to_string().contains("smtp_auth"), "{error}");
        let error = mailer.send(mail("refused")).await.unwrap_err();
        assert_eq!(send_failure(&error), Failure::Credentials, "{security:?}: {error}");
        assert!(error.to_string().contains("smtp_auth"), "the code is in what the engine logs: {error}");
        assert!(error.to_string().contains(&format!("127.0.0.1:{}", smtp.port)), "{error}");
        let logins = smtp.logins();
        assert!(!logins.is_empty(), "{security:?}: the login reached the server");
        let expected = (false, SMTP_USER.to_string(), "not the password".to_string());
        assert!(logins.iter().all(|login| *login == expected), "{security:?}: {logins:?}");
        assert!(smtp.mails_to(TO).is_empty(), "{security:?}: nothing delivered without a login");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(not(kanect_test_smtp), ignore = "set KANECT_TEST_SMTP (a python3 with aiosmtpd) to run")]
async fn an_untrusted_certificate_is_refused_and_nothing_goes_in_plain() {
    for security in [Security::StartTls, Security::Smtps] {
        let smtp = SmtpServer::start_with(security);
        // The public CAs only: the test CA is not among them.
        let mailer = mailer(&smtp.url(), None);
        let error = mailer.check().await.unwrap_err();
        assert_eq!(check_failure(&error), Failure::Tls, "{security:?}: {error}");
        assert!(error.to_string().contains("smtp_tls"), "{error}");
        let error = mailer.send(mail("untrusted")).await.unwrap_err();
        assert_eq!(send_failure(&error), Failure::Tls, "{security:?}: {error}");
        // Another server's CA is no better.
        let other = SmtpServer::start_with(security);
        let error = self::mailer(&smtp.url(), Some(other.ca_file())).send(mail("other CA")).await.unwrap_err();
        assert_eq!(send_failure(&error), Failure::Tls, "{security:?}: {error}");
        assert!(smtp.logins().is_empty(), "{security:?}: no password went out: {:?}", smtp.logins());
        assert!(smtp.mails_to(TO).is_empty(), "{security:?}: no mail went out");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[cfg_attr(not(kanect_test_smtp), ignore = "set KANECT_TEST_SMTP (a python3 with aiosmtpd) to run")]
async fn starttls_required_by_a_server_that_does_not_offer_it_is_refused() {
    // A plain server, which would take the mail from anyone: STARTTLS is what stops it.
    let smtp = SmtpServer::start_with(Security::Plain);
    let url = format!("smtp://{}:secret@127.0.0.1:{}?tls=starttls", "kanect", smtp.port);
    let mailer = mailer(&url, None);
    let error = mailer.check().await.unwrap_err();
    assert_eq!(check_failure(&error), Failure::NoStartTls, "{error}");
    assert!(error.to_string().contains("smtp_no_starttls"), "{error}");
    let error = mailer.send(mail("in plain?")).await.unwrap_err();
    assert_eq!(send_failure(&error), Failure::NoStartTls, "{error}");
    assert!(smtp.mails_to(TO).is_empty(), "no mail went out in plain");
    // The same server takes it when plain is what the URL says.
    self::mailer(&smtp.url(), None).send(mail("plain on purpose")).await.expect("plain, as configured");
    smtp.wait_for(TO, 1).await;
}
