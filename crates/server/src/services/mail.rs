//! Outgoing mail: SMTP through lettre, or — with no SMTP configured — the log, with every
//! secret in the message replaced by `<redacted>`.

use std::fmt;
use std::time::Duration;

use accord_domain::{Error, Result};
use async_trait::async_trait;
use lettre::message::header::ContentType;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

pub struct OutgoingMail {
    pub to: String,
    pub subject: String,
    pub body: String,
    /// Strings in `body` that must never be logged (tokens, links carrying them).
    pub secrets: Vec<String>,
}

impl OutgoingMail {
    pub fn redacted_body(&self) -> String {
        self.secrets.iter().fold(self.body.clone(), |b, s| {
            b.replace(s.as_str(), "<redacted>")
        })
    }
}

impl fmt::Debug for OutgoingMail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OutgoingMail")
            .field("subject", &self.subject)
            .finish_non_exhaustive()
    }
}

#[async_trait]
pub trait Mailer: Send + Sync + 'static {
    async fn send(&self, mail: OutgoingMail) -> Result<()>;
}

pub struct SmtpMailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: lettre::message::Mailbox,
}

impl SmtpMailer {
    pub fn new(url: &str, from: &str) -> Result<Self> {
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
            .map_err(|e| Error::invalid(format!("SMTP URL: {e}")))?
            .timeout(Some(Duration::from_secs(15)))
            .build();
        let from = from
            .parse()
            .map_err(|e| Error::invalid(format!("mail sender: {e}")))?;
        Ok(Self { transport, from })
    }
}

#[async_trait]
impl Mailer for SmtpMailer {
    async fn send(&self, mail: OutgoingMail) -> Result<()> {
        let to = mail
            .to
            .parse()
            .map_err(|e| Error::invalid(format!("mail recipient: {e}")))?;
        let message = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(mail.subject.clone())
            .header(ContentType::TEXT_PLAIN)
            .body(mail.body.clone())
            .map_err(|e| Error::internal(format!("mail: {e}")))?;
        self.transport
            .send(message)
            .await
            .map(|_| ())
            .map_err(|e| Error::internal(format!("smtp: {e}")))
    }
}

/// Without SMTP: the mail goes to the log at INFO, its secrets redacted and the recipient
/// masked (personal data).
pub struct LogMailer;

#[async_trait]
impl Mailer for LogMailer {
    async fn send(&self, mail: OutgoingMail) -> Result<()> {
        tracing::info!(
            to = ?mask_email(&mail.to),
            subject = ?mail.subject,
            body = ?mail.redacted_body(),
            "mail not sent: no SMTP server configured (ACCORD_SMTP_URL)"
        );
        Ok(())
    }
}

/// `alice@example.com` → `a***@example.com`
pub fn mask_email(email: &str) -> String {
    match email.split_once('@') {
        Some((local, domain)) => format!("{}***@{domain}", local.chars().next().unwrap_or('*')),
        None => "***".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redaction_removes_every_secret() {
        let m = OutgoingMail {
            to: "alice@example.com".into(),
            subject: "Reset".into(),
            body: "token abc123, link https://x/?t=abc123".into(),
            secrets: vec!["abc123".into()],
        };
        assert!(!m.redacted_body().contains("abc123"));
        assert!(!format!("{m:?}").contains("abc123"));
        assert_eq!(mask_email("alice@example.com"), "a***@example.com");
    }
}
