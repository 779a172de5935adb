//! The server's e-mail flags: which mailer (SMTP, the log, or none), the sender, the links'
//! base URL, verification and digests; and, without a mailer, the notice of what that turns
//! off.

use clap::Args;
use kanect::mail::{SetupError, SmtpConfig, SmtpMailer};
use kanect::{ChatBuilder, MailConfig, Verification};
use std::path::PathBuf;
use std::time::Duration;

/// E-mail: verification links, password resets and missed-message digests.
#[derive(Args, Debug)]
pub(crate) struct MailFlags {
    /// Mail through this SMTP server: smtp://USER:PASSWORD@HOST:587?tls=starttls (STARTTLS, the
    /// default), smtps://HOST (TLS, port 465) or smtp://HOST:25?tls=none (plain: a local relay).
    /// Checked at start: a server that does not answer as configured stops the start.
    #[arg(long, global = true, env = "KANECT_SMTP_URL", hide_env_values = true)]
    smtp_url: Option<String>,
    /// A PEM file of CA certificates to trust for the SMTP server's certificate besides the
    /// public CAs: for a server whose certificate a private CA signed.
    #[arg(long, global = true, env = "KANECT_SMTP_CA_FILE", value_name = "PATH")]
    pub(crate) smtp_ca_file: Option<PathBuf>,
    /// The sender of every mail: `Name <address>` or `address`.
    #[arg(long, global = true, env = "KANECT_MAIL_FROM", default_value = "Kanect <kanect@localhost>")]
    mail_from: String,
    /// Write mails to the log instead of sending them (development: the links are in the log).
    #[arg(long, global = true, env = "KANECT_MAIL_LOG")]
    mail_log: bool,
    /// Where people open the web app, for the links in mails.
    #[arg(long, global = true, env = "KANECT_PUBLIC_URL", default_value = "http://127.0.0.1:8080")]
    public_url: String,
    /// Whether sign-up addresses are verified: off, optional (a link is mailed), or required
    /// (an unverified account may log in but not chat). Needs a mailer.
    #[arg(long, global = true, env = "KANECT_EMAIL_VERIFICATION", default_value = "off", value_parser = verification)]
    email_verification: Verification,
    /// Mail a digest to a user offline this many minutes with unread messages (1 to 10080), or
    /// `off`. Needs a mailer.
    #[arg(long, global = true, env = "KANECT_DIGEST_AFTER", value_name = "MINUTES", default_value = "15", value_parser = digest_after)]
    digest_after: DigestAfter,
}

/// `--digest-after`: minutes, or off.
#[derive(Clone, Copy, Debug)]
pub(crate) struct DigestAfter(Option<Duration>);

fn digest_after(text: &str) -> Result<DigestAfter, String> {
    if text.trim().eq_ignore_ascii_case("off") {
        return Ok(DigestAfter(None));
    }
    match text.trim().parse::<u64>() {
        Ok(minutes @ 1..=10_080) => Ok(DigestAfter(Some(Duration::from_secs(minutes * 60)))),
        _ => Err("expected a whole number of minutes from 1 to 10080 (a week), or off".into()),
    }
}

fn verification(text: &str) -> Result<Verification, String> {
    text.parse().map_err(|_| "expected off, optional or required".to_string())
}

impl MailFlags {
    /// What the engine mails, from the flags.
    pub(crate) fn config(&self) -> MailConfig {
        MailConfig {
            verification: self.email_verification,
            public_url: self.public_url.clone(),
            digest_after: self.digest_after.0,
            ..MailConfig::default()
        }
    }

    /// Gives `builder` the mailer the flags name (the SMTP server checked first), or says what
    /// running without one turns off.
    ///
    /// # Errors
    /// A bad SMTP URL, sender or CA file, or an SMTP server that does not answer as configured
    /// (each named by its flag).
    pub(crate) async fn mailer(&self, builder: ChatBuilder) -> Result<ChatBuilder, crate::AnyError> {
        if self.mail_log {
            tracing::warn!("--mail-log: mails are written to the log, not sent");
            return Ok(builder.mailer(kanect::mail::LogMailer));
        }
        let Some(url) = &self.smtp_url else {
            let mut off = vec!["password reset by e-mail", "missed-message digests"];
            if self.email_verification != Verification::Off {
                off.insert(0, "e-mail verification (--email-verification is ignored)");
            }
            tracing::warn!("no mailer (--smtp-url or --mail-log): {} are off", off.join(", "));
            return Ok(builder);
        };
        let config = SmtpConfig {
            url: url.parse().map_err(|e| format!("--smtp-url: {e}"))?,
            from: self.mail_from.clone(),
            ca_file: self.smtp_ca_file.clone(),
        };
        let mailer = SmtpMailer::new(config).map_err(|e| match e {
            SetupError::CaFile(..) => format!("--smtp-ca-file: {e}"),
            SetupError::From(..) => format!("--mail-from: {e}"),
            _ => format!("--smtp-url: {e}"),
        })?;
        mailer.check().await.map_err(|e| format!("--smtp-url: {e}"))?;
        tracing::info!(?mailer, "mail: SMTP");
        Ok(builder.mailer(mailer))
    }
}
