//! The server binary's e-mail flags: a bad SMTP configuration (a URL that is not one, a sender
//! that is not an address, a server that does not answer, a CA file that is missing or not
//! PEM) stops the start with an error that names the flag and what is wrong, rather than
//! failing at the first mail; bad verification and digest values are refused by the flags'
//! parser. `--smtp-ca-file` makes a server whose certificate a private CA signed trusted, and
//! only with it.

mod support;

use support::binary::{exit_of, server_binary, start_process};
use support::smtp::{Security, SmtpServer, SMTP_PASSWORD, SMTP_USER};

#[test]
fn a_bad_smtp_configuration_stops_the_start_and_says_what_is_wrong() {
    let binary = server_binary();
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let unreachable = format!("smtp://127.0.0.1:{closed}?tls=none");
    let cases: [(&[&str], &str); 4] = [
        (&["--smtp-url", "http://mail.example.com"], "--smtp-url: bad SMTP URL: scheme \"http\""),
        (&["--smtp-url", "smtp://mail.example.com?tls=maybe"], "--smtp-url: bad SMTP URL: tls=\"maybe\""),
        (&["--smtp-url", &unreachable, "--mail-from", "not an address"], "bad sender address \"not an address\""),
        (&["--smtp-url", &unreachable], "does not answer as configured"),
    ];
    for (args, says) in cases {
        let (code, stderr) = exit_of(&binary, args, &[]);
        assert_ne!(code, Some(0), "{args:?}: {stderr}");
        assert!(stderr.contains(says), "{args:?}: {stderr}");
    }
    let (code, stderr) = exit_of(&binary, &["--email-verification", "sometimes"], &[]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("expected off, optional or required"), "{stderr}");
    let (code, stderr) = exit_of(&binary, &["--digest-after", "0"], &[]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("from 1 to 10080"), "{stderr}");
    let (code, stderr) = exit_of(&binary, &["--smtp-url", &unreachable, "--mail-log"], &[]);
    assert_eq!(code, Some(2), "one mailer or the other: {stderr}");
}

#[test]
fn a_ca_file_that_is_missing_or_not_pem_stops_the_start() {
    let binary = server_binary();
    let dir = tempfile::tempdir().expect("temp dir");
    let write = |name: &str, text: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, text).expect("write");
        path.to_str().expect("a UTF-8 path").to_string()
    };
    let missing = dir.path().join("missing.pem").to_str().unwrap().to_string();
    let text = write("text.pem", "not a certificate\n");
    let empty = write("empty.pem", "");
    let broken = write("broken.pem", "-----BEGIN CERTIFICATE-----\n!!not base64!!\n-----END CERTIFICATE-----\n");
    let not_der = write("not-der.pem", "-----BEGIN CERTIFICATE-----\naGVsbG8gd29ybGQ=\n-----END CERTIFICATE-----\n");
    // The CA file is read before anything connects: the SMTP server need not be there.
    let starttls = "smtp://127.0.0.1:1?tls=starttls";
    let cases: [(&str, &str, &str); 6] = [
        (starttls, &missing, "cannot be read"),
        (starttls, &text, "holds no PEM certificate"),
        (starttls, &empty, "holds no PEM certificate"),
        (starttls, &broken, "not PEM"),
        (starttls, &not_der, "not a usable CA certificate"),
        ("smtp://127.0.0.1:1?tls=none", &text, "given for a plain connection (tls=none)"),
    ];
    for (url, file, says) in cases {
        let (code, stderr) = exit_of(&binary, &["--smtp-url", url, "--smtp-ca-file", file], &[]);
        assert_ne!(code, Some(0), "{file}: {stderr}");
        assert!(stderr.contains(&format!("--smtp-ca-file: CA file {file}: {says}")), "{file}: {stderr}");
    }
    // From the environment too.
    let (code, stderr) = exit_of(&binary, &["--smtp-url", starttls], &[("KANECT_SMTP_CA_FILE", &missing)]);
    assert_ne!(code, Some(0), "{stderr}");
    assert!(stderr.contains(&format!("--smtp-ca-file: CA file {missing}: cannot be read")), "{stderr}");
    // Without an SMTP server to trust it for, the flag makes no sense.
    let (code, stderr) = exit_of(&binary, &["--smtp-ca-file", &text], &[]);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(stderr.contains("--smtp-url"), "{stderr}");
}

#[test]
#[cfg_attr(not(kanect_test_smtp), ignore = "set KANECT_TEST_SMTP (a python3 with aiosmtpd) to run")]
fn a_server_signed_by_a_private_ca_is_trusted_with_its_ca_file_and_only_with_it() {
    let binary = server_binary();
    let smtp = SmtpServer::start_with(Security::StartTls);
    let url = smtp.url();
    let (code, stderr) = exit_of(&binary, &["--smtp-url", &url], &[]);
    assert_ne!(code, Some(0), "{stderr}");
    assert!(stderr.contains("--smtp-url: does not answer as configured") && stderr.contains("smtp_tls"), "{stderr}");
    assert!(smtp.logins().is_empty(), "no credentials over an untrusted connection: {:?}", smtp.logins());

    let ca = smtp.ca_file();
    let server = start_process(&binary, ["--memory", "--smtp-url", &url, "--smtp-ca-file", ca.to_str().unwrap()], &[]);
    assert_eq!(server.terminate(), Some(0));
    let logins = smtp.logins();
    assert!(!logins.is_empty(), "the start-up check logged in");
    assert!(logins.iter().all(|login| *login == (true, SMTP_USER.into(), SMTP_PASSWORD.into())), "{logins:?}");
}
