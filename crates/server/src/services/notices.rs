//! An organisation tells all its subscribers something: a personal data breach (GDPR
//! Art. 34) or an event. Each subscriber gets a notification and a mail, and one webhook
//! event goes out (docs/webhooks.md, "Notices").

use accord_domain::access::OrgAction;
use accord_domain::identity::{parse_profile_text, Email, User};
use accord_domain::webhook::{EventType, Notification};
use accord_domain::{Error, OrganizationId, Result, UserId};
use accord_store::Mode;
use serde_json::json;

use super::mail::{Letter, OutgoingMail};
use super::{Actor, Services};
use crate::i18n::Texts;

/// The longest text of a notice's field.
const NOTICE_TEXT_MAX: usize = 2000;
/// Subscribers read per statement while notifying them.
const SUBSCRIBER_PAGE: i64 = 1000;

/// What a breach notice says (the v2.1.2 document's fields).
pub struct BreachNotice<'a> {
    pub headline: &'a str,
    pub users_count: Option<i64>,
    pub dpo_email: &'a str,
    pub consequence: &'a str,
    pub measures: &'a str,
}

impl Services {
    /// `POST /v1/organizations/{orgID}/notify-data-breach` (Admin, Dpo): the number told.
    pub async fn notify_data_breach(
        &self,
        actor: &Actor,
        org: OrganizationId,
        notice: &BreachNotice<'_>,
    ) -> Result<usize> {
        let text = |field: &str, raw: &str| -> Result<String> {
            let v = parse_profile_text(field, raw, NOTICE_TEXT_MAX)?;
            if v.is_empty() {
                return Err(Error::invalid(format!("{field} is required")));
            }
            Ok(v)
        };
        let headline = text("headline", notice.headline)?;
        let consequence = text("consequence", notice.consequence)?;
        let measures = text("measures", notice.measures)?;
        let dpo = Email::parse(notice.dpo_email)
            .map_err(|_| Error::invalid("dpoemail is not an email address"))?;
        if notice.users_count.is_some_and(|n| n < 0) {
            return Err(Error::invalid("userscount must not be negative"));
        }
        let subject = format!("Personal data breach: {headline}");
        let body = format!(
            "{headline}\n\nWhat it means for you: {consequence}\n\nWhat is being done, and what \
             you can do: {measures}\n\nQuestions: {}\n",
            dpo.as_str()
        );
        let data = json!({
            "headline": headline,
            "usersCount": notice.users_count,
            "dpoEmail": dpo.as_str(),
            "consequence": consequence,
            "measures": measures,
        });
        self.notify_subscribers(actor, org, EventType::OrgDataBreach, &subject, &body, data)
            .await
    }

    /// `POST /v1/organizations/{orgID}/notify-events` (Admin, Dpo): the number told.
    pub async fn notify_event(
        &self,
        actor: &Actor,
        org: OrganizationId,
        details: &str,
    ) -> Result<usize> {
        let details = parse_profile_text("details", details, NOTICE_TEXT_MAX)?;
        if details.is_empty() {
            return Err(Error::invalid("details is required"));
        }
        let data = json!({ "details": details });
        self.notify_subscribers(actor, org, EventType::OrgEvent, &details, &details, data)
            .await
    }

    async fn notify_subscribers(
        &self,
        actor: &Actor,
        org: OrganizationId,
        event: EventType,
        title: &str,
        body: &str,
        data: serde_json::Value,
    ) -> Result<usize> {
        let now = self.clock.now();
        let mut tx = self.store.begin(Mode::Write).await?;
        let (org, standing, me) = self.standing_in(tx.as_mut(), actor, org).await?;
        if !standing.may(OrgAction::NotifySubscribers) {
            return Err(Error::Forbidden(
                "only the organisation's Admin and Dpo notify its subscribers".into(),
            ));
        }
        let message = format!("{}: {title}", org.name);
        let mut told: Vec<User> = vec![];
        let mut after: Option<UserId> = None;
        loop {
            let page = tx.subscribers(org.id, after, SUBSCRIBER_PAGE).await?;
            after = page.last().map(|u| u.id);
            for u in &page {
                tx.insert_notification(&Notification::message(
                    u.id,
                    org.id,
                    event.as_str(),
                    message.clone(),
                    now,
                ))
                .await?;
            }
            let full = page.len() as i64 == SUBSCRIBER_PAGE;
            told.extend(page);
            if !full {
                break;
            }
        }
        // A few mailings of a kind per organisation and window: an Admin cannot flood every
        // subscriber's mailbox through us; past them, the notifications alone.
        let mail = self
            .mail_allowed(
                tx.as_mut(),
                &format!("notice:{}:{}", event.as_str(), org.id),
                now,
            )
            .await?;
        let mut data = data;
        data["organisationID"] = json!(org.id.to_string());
        data["notifiedUsers"] = json!(told.len());
        super::events::emit(tx.as_mut(), org.id, event, data, now).await?;
        self.log_action(
            tx.as_mut(),
            org.id,
            "notice",
            &me.user_id.to_string(),
            &format!("notified {} subscribers: {title}", told.len()),
        )
        .await?;
        tx.commit().await?;
        self.work.notify_one();
        // Mails go out in the background, one after another: a large organisation must
        // not hold the request, nor flood the relay.
        let mails: Vec<OutgoingMail> = told
            .iter()
            // Proven addresses only: an unproven one may be someone else's.
            .filter(|u| mail && u.email_verified_at.is_some())
            .filter_map(|u| u.email.as_ref().map(|to| (to, u.language)))
            .map(|(to, language)| {
                let t = Texts::of(language);
                let l = Letter::titled(t, format!("{}: {title}", org.name));
                let from = t.with("mail-notice-from", "organisation", org.name.clone());
                // The organisation's own words, paragraph by paragraph, untranslated.
                body.split("\n\n")
                    .map(str::trim)
                    .filter(|p| !p.is_empty())
                    .fold(l.say(from), |l, p| l.say(p.to_owned()))
                    .to(to.as_str(), vec![])
            })
            .collect();
        let mailer = std::sync::Arc::clone(&self.mailer);
        tokio::spawn(async move {
            for mail in mails {
                if let Err(e) = mailer.send(mail).await {
                    tracing::error!(error = ?e, "notice mail failed");
                }
            }
        });
        Ok(told.len())
    }
}
