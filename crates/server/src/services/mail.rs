//! Outgoing mail: SMTP through lettre, or — with no SMTP configured — the log, with every
//! secret in the message replaced by `<redacted>`.

use std::fmt;
use std::time::Duration;

use accord_domain::{Error, Result};
use askama::Template;
use async_trait::async_trait;
use lettre::message::MultiPart;

use crate::i18n::{Lang, Texts};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

pub struct OutgoingMail {
    pub to: String,
    pub subject: String,
    /// The text alternative.
    pub body: String,
    /// The HTML alternative, written from the same letter.
    pub html: String,
    /// Strings in `body` that must never be logged (tokens, links carrying them).
    pub secrets: Vec<String>,
}

/// What a mail says, in its reader's language. A letter is written twice, as text and as
/// HTML, by the templates `templates/mail/letter.txt` and `letter.html`, from the same
/// catalog messages (`locales/<lang>/mail.ftl`).
pub struct Letter {
    pub t: Texts,
    pub subject: String,
    pub paragraphs: Vec<String>,
    /// The link the mail is about: a button in HTML, the address in text.
    pub action: Option<Action>,
    /// For an application rather than a browser: what to do with the code, and the code.
    pub code: Option<(String, String)>,
    pub closing: Vec<String>,
}

pub struct Action {
    pub label: String,
    pub url: String,
}

#[derive(Template)]
#[template(path = "mail/letter.txt")]
struct TextLetter<'a> {
    l: &'a Letter,
    t: Texts,
}

#[derive(Template)]
#[template(path = "mail/letter.html")]
struct HtmlLetter<'a> {
    l: &'a Letter,
    t: Texts,
}

impl Letter {
    /// A letter in `lang` (English when the person never chose) whose subject is the
    /// message `subject`.
    pub fn new(lang: Option<Lang>, subject: &str) -> Self {
        let t = Texts::of(lang);
        Self::titled(t, t.get(subject))
    }

    /// A letter with a subject of its own.
    pub fn titled(t: Texts, subject: String) -> Self {
        Self {
            subject,
            t,
            paragraphs: vec![],
            action: None,
            code: None,
            closing: vec![],
        }
    }

    pub fn say(mut self, paragraph: String) -> Self {
        self.paragraphs.push(paragraph);
        self
    }

    /// The link the mail is about, with its button's message.
    pub fn act(mut self, label: &str, url: &str) -> Self {
        self.action = Some(Action {
            label: self.t.get(label),
            url: url.to_owned(),
        });
        self
    }

    /// A code for an application, after the message that says what to do with it.
    pub fn code(mut self, what: &str, code: &str) -> Self {
        self.code = Some((self.t.get(what), code.to_owned()));
        self
    }

    pub fn close(mut self, paragraph: String) -> Self {
        self.closing.push(paragraph);
        self
    }

    /// The mail to `to`; `secrets` never reach a log.
    pub fn to(self, to: &str, secrets: Vec<String>) -> OutgoingMail {
        let t = self.t;
        // The templates only format strings: they cannot fail but on a formatter error.
        let body = TextLetter { l: &self, t }
            .render()
            .unwrap_or_else(|_| self.paragraphs.join("\n\n"));
        let html = HtmlLetter { l: &self, t }.render().unwrap_or_default();
        OutgoingMail {
            to: to.to_owned(),
            subject: self.subject,
            body,
            html,
            secrets,
        }
    }
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
            .multipart(MultiPart::alternative_plain_html(
                mail.body.clone(),
                mail.html.clone(),
            ))
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
            html: String::new(),
            secrets: vec!["abc123".into()],
        };
        assert!(!m.redacted_body().contains("abc123"));
        assert!(!format!("{m:?}").contains("abc123"));
        assert_eq!(mask_email("alice@example.com"), "a***@example.com");
    }
}
