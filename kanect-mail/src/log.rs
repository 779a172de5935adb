//! [`LogMailer`]: mails written to the log instead of sent, for development.

use async_trait::async_trait;
use kanect_core::{Mail, MailError, Mailer};

/// Logs every mail (recipient, subject, headers and text) at `info` level under the target
/// `kanect_mail`, and sends nothing. For development: the server runs with every e-mail
/// feature, and the links are in its output. Never in production: the log then holds
/// password-reset links.
#[derive(Clone, Copy, Debug, Default)]
pub struct LogMailer;

#[async_trait]
impl Mailer for LogMailer {
    async fn send(&self, mail: Mail) -> Result<(), MailError> {
        let headers: Vec<String> = mail.headers.iter().map(|(name, value)| format!("{name}: {value}")).collect();
        tracing::info!(
            target: "kanect_mail",
            to = %mail.to,
            subject = %mail.subject,
            headers = ?headers,
            "mail (not sent: --mail-log)\n{}",
            mail.text
        );
        Ok(())
    }
}
