//! E-mail: the [`Mailer`] trait the engine sends through, the [`Mail`] it hands over, and the
//! settings of what it sends ([`MailConfig`]).
//!
//! The core does no I/O of its own, so it only says what a mail is; the `kanect-mail` crate
//! delivers it (SMTP through lettre, or a logging mailer for development). An engine without a
//! mailer ([`ChatBuilder::mailer`](crate::ChatBuilder::mailer) never called) runs without
//! e-mail: verification is off whatever [`MailConfig::verification`] says, and password
//! resets are refused with `mail_disabled`.
//!
//! Mails go out off the request path (a spawned task): a reset request answers at once and in
//! the same time whether or not the address belongs to anyone, and a slow SMTP server holds no
//! request. A mail that fails is logged, not retried: every mail here can be asked for again.

use std::time::Duration;

/// One mail to one recipient: plain text, with the headers Kanect needs.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mail {
    /// The recipient's address (validated when it was stored).
    pub to: String,
    /// One line.
    pub subject: String,
    /// The body, plain text (links written out whole, so that every client shows them).
    pub text: String,
    /// Extra headers (name, value), e.g. `List-Unsubscribe` and `List-Unsubscribe-Post` on a
    /// digest (RFC 8058).
    pub headers: Vec<(String, String)>,
}

/// Why a mail was not handed over.
#[derive(Debug, thiserror::Error)]
#[error("mail not sent: {0}")]
pub struct MailError(#[source] pub Box<dyn std::error::Error + Send + Sync>);

impl MailError {
    /// Wraps any delivery error.
    pub fn new(error: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        MailError(error.into())
    }
}

/// Hands mails to whatever delivers them. Implemented in `kanect-mail` (SMTP, log).
#[async_trait::async_trait]
pub trait Mailer: Send + Sync + 'static {
    /// Delivers `mail` (to the next hop: an SMTP server's acceptance is success).
    ///
    /// # Errors
    /// [`MailError`] if it was not accepted; the engine logs it.
    async fn send(&self, mail: Mail) -> Result<(), MailError>;
}

/// Whether a sign-up's address must be verified (`ChatConfig::mail`'s `verification`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Verification {
    /// No verification mail is sent; addresses stay unverified.
    #[default]
    Off,
    /// A verification mail is sent; an unverified account may do everything.
    Optional,
    /// A verification mail is sent; an account with an unverified (or no) address may log in
    /// but not chat: sends, groups and direct conversations are refused with
    /// `email_unverified` until it verifies.
    Required,
}

impl std::str::FromStr for Verification {
    type Err = crate::Error;

    /// `off`, `optional` or `required`.
    ///
    /// # Errors
    /// `malformed` (field `verification`) for anything else.
    fn from_str(text: &str) -> crate::Result<Self> {
        match text {
            "off" => Ok(Verification::Off),
            "optional" => Ok(Verification::Optional),
            "required" => Ok(Verification::Required),
            _ => Err(crate::Error::invalid("verification", crate::Invalid::Malformed)),
        }
    }
}

/// What the engine mails, and the links in them (`ChatConfig::mail`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MailConfig {
    /// Whether sign-up addresses are verified. Default [`Verification::Off`]. Without a mailer,
    /// always off.
    pub verification: Verification,
    /// Where people open the web app, for links in mails: `{public_url}/#/verify/<token>`,
    /// `{public_url}/#/reset/<token>`, `{public_url}/api/v1/email/unsubscribe?token=...`.
    /// Default `http://127.0.0.1:8080`.
    pub public_url: String,
    /// The product's name in subjects and greetings. Default `Kanect`.
    pub site_name: String,
    /// How long a verification link works. Default 48 hours.
    pub verify_ttl: Duration,
    /// How long a password-reset link works. Default 1 hour.
    pub reset_ttl: Duration,
    /// How long a user must have been offline, with unread messages sent since, before they get
    /// a missed-message digest; None: no digests. Default 15 minutes.
    pub digest_after: Option<Duration>,
}

impl Default for MailConfig {
    fn default() -> Self {
        MailConfig {
            verification: Verification::Off,
            public_url: "http://127.0.0.1:8080".into(),
            site_name: "Kanect".into(),
            verify_ttl: Duration::from_secs(48 * 3600),
            reset_ttl: Duration::from_secs(3600),
            digest_after: Some(Duration::from_secs(15 * 60)),
        }
    }
}

impl MailConfig {
    /// `path` under the public URL (without doubling the slash).
    pub(crate) fn link(&self, path: &str) -> String {
        format!("{}/{}", self.public_url.trim_end_matches('/'), path.trim_start_matches('/'))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_and_modes() {
        let config = MailConfig { public_url: "https://chat.example/".into(), ..Default::default() };
        assert_eq!(config.link("/#/verify/abc"), "https://chat.example/#/verify/abc");
        assert_eq!("required".parse::<Verification>().unwrap(), Verification::Required);
        assert_eq!("sometimes".parse::<Verification>().unwrap_err().code(), "malformed");
    }
}
