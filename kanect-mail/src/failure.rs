//! [`SmtpError`]: why an SMTP server did not take a connection or a mail, as a [`Failure`] kind
//! with a stable code, for the start-up check and for every mail.
//!
//! lettre's errors say *where* an exchange failed (a reply code, TLS, the network, its own
//! client), not what an operator should fix; this module sorts them into the few things that
//! are fixed differently (the address, the certificate or CA file, the `tls=` mode, the
//! credentials, the server's policy). The code (`smtp_auth`, ...) is what logs and alerts
//! match: it stays when lettre's wording changes. The engine sends mails off the request path,
//! so the code surfaces in its log line (`a mail was not sent`), never in an HTTP answer.

use lettre::transport::smtp::Error as LettreError;

/// What went wrong with an SMTP server, by what fixes it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Failure {
    /// Nothing answered at the address, the connection broke, or it timed out.
    Unreachable,
    /// The TLS handshake failed: most often a certificate not signed by a trusted authority
    /// (give its CA with `--smtp-ca-file`) or issued for another name. Never retried in plain.
    Tls,
    /// STARTTLS was required (`tls=starttls`, the default) and the server does not offer it.
    /// Kanect does not go on in plain: use `tls=tls` or `tls=none` if that is what is meant.
    NoStartTls,
    /// The server refused the user name and password, wants credentials that were not given,
    /// or offers no login mechanism Kanect speaks (PLAIN, LOGIN).
    Credentials,
    /// The server answered with a refusal of its own (a recipient, a sender, a policy), or
    /// with something that is not SMTP.
    Refused,
}

impl Failure {
    /// The stable code: `smtp_unreachable`, `smtp_tls`, `smtp_no_starttls`, `smtp_auth`,
    /// `smtp_refused`.
    pub fn code(self) -> &'static str {
        match self {
            Failure::Unreachable => "smtp_unreachable",
            Failure::Tls => "smtp_tls",
            Failure::NoStartTls => "smtp_no_starttls",
            Failure::Credentials => "smtp_auth",
            Failure::Refused => "smtp_refused",
        }
    }

    /// Sorts a lettre error.
    fn of(error: &LettreError) -> Failure {
        if error.is_tls() || refused_by_rustls(error) {
            return Failure::Tls;
        }
        if error.is_timeout() {
            return Failure::Unreachable;
        }
        if let Some(code) = error.status() {
            // 530 authentication required, 534/538 mechanism too weak or needs TLS, 535
            // credentials invalid, 454 temporary authentication failure (RFC 4954).
            return match u16::from(code) {
                530 | 534 | 535 | 538 | 454 => Failure::Credentials,
                _ => Failure::Refused,
            };
        }
        if error.is_client() {
            // lettre says these two only in words; the real-server tests pin them
            // (tests/mail_tls.rs), so a change of wording fails there, not in production.
            let text = error.to_string();
            if text.contains("STARTTLS is not supported") {
                return Failure::NoStartTls;
            }
            if text.contains("No compatible authentication mechanism") {
                return Failure::Credentials;
            }
            return Failure::Refused;
        }
        if error.is_response() {
            return Failure::Refused;
        }
        Failure::Unreachable // connection and network errors, a shut-down transport
    }
}

/// Whether rustls failed the handshake under `error`: lettre reports a refused certificate as
/// a connection error around the `io::Error` tokio-rustls makes of rustls's. An `io::Error`
/// hides the error it wraps from `source()`, so each is opened with `get_ref`.
fn refused_by_rustls(error: &LettreError) -> bool {
    let mut next: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(error);
    while let Some(error) = next {
        let inner = error.downcast_ref::<std::io::Error>().and_then(std::io::Error::get_ref);
        if error.is::<rustls::Error>() || inner.is_some_and(|inner| inner.is::<rustls::Error>()) {
            return true;
        }
        next = inner.map(|inner| inner as &(dyn std::error::Error + 'static)).or_else(|| error.source());
    }
    false
}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let what = match self {
            Failure::Unreachable => "not reachable",
            Failure::Tls => "TLS failed (is its certificate trusted? see --smtp-ca-file)",
            Failure::NoStartTls => "STARTTLS is required and the server does not offer it",
            Failure::Credentials => "the credentials were not accepted",
            Failure::Refused => "the server refused",
        };
        write!(f, "{} ({what})", self.code())
    }
}

/// An SMTP server did not take a connection or a mail: the [`Failure`] to match, the server
/// (`host:port`) and what it or lettre said.
#[derive(Debug, thiserror::Error)]
#[error("SMTP server {server}: {failure}: {detail}")]
pub struct SmtpError {
    failure: Failure,
    server: String,
    detail: String,
}

impl SmtpError {
    /// The error of `server` for lettre's `error`.
    pub(crate) fn new(server: &str, error: &LettreError) -> SmtpError {
        SmtpError { failure: Failure::of(error), server: server.to_string(), detail: error.to_string() }
    }

    /// A failure lettre did not report as an error (the server did not answer NOOP).
    pub(crate) fn refused(server: &str, detail: &str) -> SmtpError {
        SmtpError { failure: Failure::Refused, server: server.to_string(), detail: detail.to_string() }
    }

    /// What went wrong.
    pub fn failure(&self) -> Failure {
        self.failure
    }

    /// The server, `host:port`.
    pub fn server(&self) -> &str {
        &self.server
    }
}
