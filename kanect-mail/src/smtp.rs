//! [`SmtpMailer`]: mails handed to an SMTP server through lettre, configured by one URL.
//!
//! The URL is `SCHEME://[USER[:PASSWORD]@]HOST[:PORT][?tls=MODE]`:
//!
//! | URL | connection | default port |
//! |---|---|---|
//! | `smtp://host?tls=starttls` (the default for `smtp://`) | plain, then STARTTLS, required | 587 |
//! | `smtps://host`, or `smtp://host?tls=tls` | TLS from the first byte | 465 |
//! | `smtp://host?tls=none` | plain: a local relay, a test server | 25 |
//!
//! User and password are percent-decoded (`%40` for an `@` in a user name). Credentials are
//! only sent over TLS unless `tls=none` says plain is meant. Every mistake in the URL, the
//! sender's address or the CA file is a [`SetupError`] when the mailer is made, and
//! [`SmtpMailer::check`] connects once, so that a server started with a bad configuration says
//! so at once rather than at its first mail.
//!
//! **Certificates.** The server's certificate must chain to a root of the webpki set (the
//! public CAs) or to one of the certificates in [`SmtpConfig::ca_file`], for a server whose
//! certificate a private CA signed; and it must name the URL's host. A certificate that does
//! not is refused ([`Failure::Tls`]): there is no switch to accept any certificate, and a
//! failed STARTTLS or TLS is never retried in plain. A CA file with `tls=none` is refused too:
//! it would check nothing, and the operator who gave one meant TLS.

use crate::failure::SmtpError;
use async_trait::async_trait;
use kanect_core::{Mail, MailError, Mailer};
use lettre::message::header::{ContentType, HeaderName, HeaderValue};
use lettre::message::Mailbox;
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Certificate, Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::CertificateDer;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// How long one SMTP exchange may take before the mail fails.
const TIMEOUT: Duration = Duration::from_secs(30);

/// How the connection to the SMTP server is protected.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TlsMode {
    /// Plain first, then STARTTLS, which the server must offer.
    StartTls,
    /// TLS from the first byte (`smtps`).
    Tls,
    /// No TLS at all: for a relay on the same machine or a test server.
    None,
}

/// A parsed SMTP URL (see the module docs). The password is not shown by `Debug`.
#[derive(Clone, PartialEq, Eq)]
pub struct SmtpUrl {
    /// The server's host name or address.
    pub host: String,
    /// The port.
    pub port: u16,
    /// How the connection is protected.
    pub tls: TlsMode,
    /// User name and password, if the server wants them.
    pub credentials: Option<(String, String)>,
}

impl std::fmt::Debug for SmtpUrl {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpUrl")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("tls", &self.tls)
            .field("user", &self.credentials.as_ref().map(|(user, _)| user))
            .finish()
    }
}

/// Why a mailer could not be set up: each names what to fix.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SetupError {
    /// The SMTP URL is not one (see the module docs for its form).
    #[error("bad SMTP URL: {0}")]
    Url(String),
    /// The sender's address does not parse (`Name <address>` or `address`).
    #[error("bad sender address {0:?}: {1}")]
    From(String, String),
    /// The CA file (path, what is wrong): it cannot be read, holds no PEM certificate, holds
    /// one that is not a certificate, or was given for a plain connection.
    #[error("CA file {path}: {1}", path = .0.display())]
    CaFile(PathBuf, String),
    /// The server could not be reached or refused the connection, TLS or the credentials:
    /// [`SmtpError::failure`] says which.
    #[error("does not answer as configured: {0}")]
    Connect(SmtpError),
}

impl std::str::FromStr for SmtpUrl {
    type Err = SetupError;

    fn from_str(text: &str) -> Result<SmtpUrl, SetupError> {
        let bad = |why: &str| SetupError::Url(why.to_string());
        let url = url::Url::parse(text).map_err(|error| bad(&error.to_string()))?;
        let mut tls = match url.scheme() {
            "smtp" => TlsMode::StartTls,
            "smtps" => TlsMode::Tls,
            other => return Err(bad(&format!("scheme {other:?}: use smtp:// or smtps://"))),
        };
        for (key, value) in url.query_pairs() {
            match (key.as_ref(), value.as_ref()) {
                ("tls", "starttls") if url.scheme() == "smtp" => tls = TlsMode::StartTls,
                ("tls", "tls") => tls = TlsMode::Tls,
                ("tls", "none") if url.scheme() == "smtp" => tls = TlsMode::None,
                ("tls", other) => {
                    return Err(bad(&format!(
                        "tls={other:?}: use starttls, tls or none (none and starttls with smtp://)"
                    )))
                }
                (other, _) => return Err(bad(&format!("unknown parameter {other:?}: only tls= is known"))),
            }
        }
        let host = url.host_str().filter(|host| !host.is_empty()).ok_or_else(|| bad("no host"))?;
        // An IPv6 literal comes bracketed; the transport wants it bare.
        let host = host.trim_start_matches('[').trim_end_matches(']').to_string();
        let port = url.port().unwrap_or(match tls {
            TlsMode::StartTls => 587,
            TlsMode::Tls => 465,
            TlsMode::None => 25,
        });
        let decode = |text: &str| percent_encoding::percent_decode_str(text).decode_utf8_lossy().into_owned();
        let credentials = match (url.username(), url.password()) {
            ("", None) => None,
            ("", Some(_)) => return Err(bad("a password without a user name")),
            (user, password) => Some((decode(user), decode(password.unwrap_or_default()))),
        };
        Ok(SmtpUrl { host, port, tls, credentials })
    }
}

/// What an [`SmtpMailer`] is made from (see the module docs).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SmtpConfig {
    /// The server, how to reach it and the credentials.
    pub url: SmtpUrl,
    /// The sender of every mail: `Kanect <chat@example.com>` or `chat@example.com`.
    pub from: String,
    /// A PEM file of certificates to trust besides the public CAs: the private CA that signed
    /// the SMTP server's certificate (or that certificate itself, if self-signed as a CA).
    pub ca_file: Option<PathBuf>,
}

/// Hands mails to an SMTP server (see the module docs). Cheap to clone: clones share the
/// connection pool.
#[derive(Clone)]
pub struct SmtpMailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    /// `host:port`, for errors and logs.
    server: String,
}

impl std::fmt::Debug for SmtpMailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpMailer").field("server", &self.server).field("from", &self.from.to_string()).finish()
    }
}

impl SmtpMailer {
    /// A mailer for the server at `url` (see the module docs) that sends as `from`
    /// (`Kanect <chat@example.com>` or `chat@example.com`), trusting the public CAs. Connects
    /// to nothing yet.
    ///
    /// # Errors
    /// [`SetupError::Url`], [`SetupError::From`].
    pub fn from_url(url: &str, from: &str) -> Result<SmtpMailer, SetupError> {
        SmtpMailer::new(SmtpConfig { url: url.parse()?, from: from.to_string(), ca_file: None })
    }

    /// A mailer made from `config`; reads its CA file, if any. Connects to nothing yet.
    ///
    /// # Errors
    /// [`SetupError::From`]; [`SetupError::CaFile`] for a CA file that cannot be read, holds
    /// no PEM certificate or one that is not a certificate, or comes with `tls=none`;
    /// [`SetupError::Url`] if TLS cannot be set up for the host.
    pub fn new(config: SmtpConfig) -> Result<SmtpMailer, SetupError> {
        let SmtpConfig { url, from, ca_file } = config;
        let from: Mailbox = from.parse().map_err(|error| SetupError::From(from.clone(), format!("{error}")))?;
        let roots = ca_file.as_deref().map(|path| read_ca_file(path, url.tls)).transpose()?.unwrap_or_default();
        let tls = match url.tls {
            TlsMode::None => Tls::None,
            TlsMode::StartTls | TlsMode::Tls => {
                let parameters = roots
                    .into_iter()
                    .fold(TlsParameters::builder(url.host.clone()), |builder, root| builder.add_root_certificate(root))
                    .build()
                    .map_err(|error| match &ca_file {
                        // The host was fine without it: what failed is a root from the file.
                        Some(path) => SetupError::CaFile(path.clone(), format!("not a usable CA certificate: {error}")),
                        None => SetupError::Url(format!("TLS for {}: {error}", url.host)),
                    })?;
                if url.tls == TlsMode::Tls {
                    Tls::Wrapper(parameters)
                } else {
                    Tls::Required(parameters)
                }
            }
        };
        let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(url.host.clone())
            .port(url.port)
            .tls(tls)
            .timeout(Some(TIMEOUT));
        if let Some((user, password)) = url.credentials.clone() {
            builder = builder.credentials(Credentials::new(user, password));
        }
        Ok(SmtpMailer { transport: builder.build(), from, server: format!("{}:{}", url.host, url.port) })
    }

    /// Connects once (TLS and authentication included) and says whether the server takes
    /// mail as configured: for a clear error at start.
    ///
    /// # Errors
    /// [`SetupError::Connect`] naming the server and what failed ([`SmtpError::failure`]).
    pub async fn check(&self) -> Result<(), SetupError> {
        match self.transport.test_connection().await {
            Ok(true) => Ok(()),
            Ok(false) => Err(SetupError::Connect(SmtpError::refused(&self.server, "it did not answer NOOP"))),
            Err(error) => Err(SetupError::Connect(SmtpError::new(&self.server, &error))),
        }
    }

    /// The lettre message for `mail`: plain text, UTF-8, with its extra headers.
    fn message(&self, mail: Mail) -> Result<Message, MailError> {
        let to: Mailbox = mail.to.parse().map_err(MailError::new)?;
        let mut builder =
            Message::builder().from(self.from.clone()).to(to).subject(mail.subject).header(ContentType::TEXT_PLAIN);
        for (name, value) in mail.headers {
            let name = HeaderName::new_from_ascii(name).map_err(MailError::new)?;
            builder = builder.raw_header(HeaderValue::new(name, value));
        }
        builder.body(mail.text).map_err(MailError::new)
    }
}

#[async_trait]
impl Mailer for SmtpMailer {
    async fn send(&self, mail: Mail) -> Result<(), MailError> {
        let message = self.message(mail)?;
        self.transport
            .send(message)
            .await
            .map(drop)
            .map_err(|error| MailError::new(SmtpError::new(&self.server, &error)))
    }
}

/// The certificates in the PEM file at `path`, for a connection protected by `tls`.
///
/// # Errors
/// [`SetupError::CaFile`]: unreadable, no certificate in it, a broken PEM block, or `tls=none`.
fn read_ca_file(path: &Path, tls: TlsMode) -> Result<Vec<Certificate>, SetupError> {
    let bad = |why: String| SetupError::CaFile(path.to_path_buf(), why);
    if tls == TlsMode::None {
        return Err(bad("given for a plain connection (tls=none), where it would check nothing".into()));
    }
    let pem = std::fs::read(path).map_err(|error| bad(format!("cannot be read: {error}")))?;
    let certificates = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|error| bad(format!("not PEM: {error}")))?;
    if certificates.is_empty() {
        return Err(bad("holds no PEM certificate (-----BEGIN CERTIFICATE-----)".into()));
    }
    certificates
        .into_iter()
        .map(|der| Certificate::from_der(der.to_vec()).map_err(|error| bad(format!("not a certificate: {error}"))))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Failure;

    #[test]
    fn urls_parse_with_their_defaults() {
        let url: SmtpUrl = "smtp://me%40example.com:p%3Ass@mail.example.com?tls=starttls".parse().unwrap();
        assert_eq!(url.host, "mail.example.com");
        assert_eq!((url.port, url.tls), (587, TlsMode::StartTls));
        assert_eq!(url.credentials, Some(("me@example.com".into(), "p:ss".into())));
        assert!(!format!("{url:?}").contains("p:ss"), "Debug hides the password");
        let url: SmtpUrl = "smtps://mail.example.com".parse().unwrap();
        assert_eq!((url.port, url.tls, url.credentials), (465, TlsMode::Tls, None));
        let url: SmtpUrl = "smtp://127.0.0.1:2525?tls=none".parse().unwrap();
        assert_eq!((url.host.as_str(), url.port, url.tls), ("127.0.0.1", 2525, TlsMode::None));
        let url: SmtpUrl = "smtp://[::1]:25?tls=none".parse().unwrap();
        assert_eq!(url.host, "::1");
    }

    #[test]
    fn bad_urls_and_senders_say_what_is_wrong() {
        for (bad, says) in [
            ("http://mail.example.com", "scheme"),
            ("smtp://mail.example.com?tls=maybe", "tls="),
            ("smtps://mail.example.com?tls=none", "tls="),
            ("smtp://mail.example.com?port=25", "unknown parameter"),
            ("smtp://:secret@mail.example.com", "password without"),
            ("mail.example.com", "URL"),
        ] {
            let error = bad.parse::<SmtpUrl>().unwrap_err();
            assert!(error.to_string().contains(says), "{bad}: {error}");
        }
        let error = SmtpMailer::from_url("smtp://127.0.0.1?tls=none", "not an address").unwrap_err();
        assert!(matches!(error, SetupError::From(..)), "{error}");
    }

    #[tokio::test]
    async fn a_server_that_is_not_there_fails_the_check_by_name() {
        let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
        let mailer = SmtpMailer::from_url(&format!("smtp://127.0.0.1:{port}?tls=none"), "chat@example.com").unwrap();
        let error = mailer.check().await.unwrap_err();
        let SetupError::Connect(failure) = &error else { panic!("{error}") };
        assert_eq!(failure.failure(), Failure::Unreachable, "{error}");
        assert!(error.to_string().contains("smtp_unreachable"), "{error}");
        assert!(error.to_string().contains(&format!("127.0.0.1:{port}")), "{error}");
    }
}
