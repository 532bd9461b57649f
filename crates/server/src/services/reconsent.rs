//! Asking again (docs/consents.md, "Outdated consents"): a new version of a consent-based
//! purpose queues a job; the background worker walks the purpose's consents in user order,
//! a page per unit of work (resumable on any node), and asks each person who holds a
//! consent given under an older version to answer the new one: a notification, a
//! `consent.reconsent_required` event, and a mail where the job may mail. Their answer is an
//! ordinary consent change, under the new version.

use accord_domain::organization::{Organization, Purpose};
use accord_domain::purpose_version::OutdatedConsent;
use accord_domain::webhook::{EventType, Notification};
use accord_domain::{NotificationId, Result};
use accord_store::{HoldersQuery, Holding, Mode, ReconsentJob};
use serde_json::json;

use super::mail::{Letter, OutgoingMail};
use super::Services;
use crate::i18n::Texts;

/// People asked per unit of work.
const ASK_PAGE: i64 = 100;

impl Services {
    /// Works through every queued job, a page at a time; called by the background worker.
    pub(crate) async fn ask_again(&self) -> Result<()> {
        while self.ask_again_page().await? {}
        Ok(())
    }

    /// Asks one page of the oldest queued job; `false` when nothing is queued.
    async fn ask_again_page(&self) -> Result<bool> {
        let now = self.clock.now();
        let mut tx = self.store.begin(Mode::Write).await?;
        let Some(job) = tx.claim_reconsent_job().await? else {
            tx.commit().await?;
            return Ok(false);
        };
        let org = tx.organization_by_id(job.organization_id).await?;
        let purpose = tx
            .purposes_of(job.organization_id)
            .await?
            .into_iter()
            .find(|p| p.id == job.purpose_id);
        // Deleted, no longer resting on consent, or reworded again (the newer version's
        // job asks): nothing left to ask for this version.
        let (Some(org), Some(purpose)) = (
            org,
            purpose.filter(|p| !p.lawful_basis.is_lawful_usage() && p.version == job.version),
        ) else {
            tx.advance_reconsent_job(job.purpose_id, job.version, None)
                .await?;
            tx.commit().await?;
            return Ok(true);
        };
        // Lapsed consents too: answering brings them back.
        let query = HoldersQuery {
            purpose: purpose.id,
            attribute: None,
            holding: Holding {
                now,
                lapsed_before: None,
            },
            given_below: Some(job.version),
            after: job.after_user,
            limit: ASK_PAGE,
        };
        let people = tx.consented_users(org.id, &query).await?;
        let attributes: Vec<_> = tx
            .templates_of(org.id)
            .await?
            .into_iter()
            .filter(|t| t.purpose_ids.contains(&purpose.id))
            .map(|t| t.id)
            .collect();
        let message = format!(
            "{} has changed what it asks your consent for: {}. Please read it and answer again.",
            org.name, purpose.name
        );
        let event = EventType::ConsentReconsentRequired;
        let listened = tx
            .webhooks_of(org.id)
            .await?
            .iter()
            .any(|w| !w.disabled && w.events.contains(&event));
        for person in &people {
            tx.insert_notification(&Notification {
                id: NotificationId::new(),
                user_id: person.id,
                organization_id: org.id,
                kind: event.as_str().to_owned(),
                purpose_id: Some(purpose.id),
                attribute_ids: attributes.clone(),
                message: message.clone(),
                created_at: now,
                read_at: None,
            })
            .await?;
            if listened {
                let data = json!({
                    "organisationID": org.id.to_string(),
                    "purposeID": purpose.id.to_string(),
                    "userID": person.id.to_string(),
                    "purposeVersion": job.version,
                });
                super::events::emit(tx.as_mut(), org.id, event, data, now).await?;
            }
        }
        let next = (people.len() as i64 == ASK_PAGE)
            .then(|| people.last().map(|p| p.id))
            .flatten();
        tx.advance_reconsent_job(purpose.id, job.version, next)
            .await?;
        tx.commit().await?;
        self.work.notify_one();
        if job.mail {
            let mails: Vec<OutgoingMail> = people
                .iter()
                // Proven addresses only: an unproven one may be someone else's.
                .filter(|u| u.email_verified_at.is_some())
                .filter_map(|u| {
                    let to = u.email.as_ref()?;
                    Some(
                        letter(Texts::of(u.language), &org, &purpose, &job).to(to.as_str(), vec![]),
                    )
                })
                .collect();
            let mailer = std::sync::Arc::clone(&self.mailer);
            tokio::spawn(async move {
                for mail in mails {
                    if let Err(e) = mailer.send(mail).await {
                        tracing::error!(error = ?e, "re-consent mail failed");
                    }
                }
            });
        }
        Ok(true)
    }
}

/// The mail asking one person again, in their language.
fn letter(t: Texts, org: &Organization, purpose: &Purpose, job: &ReconsentJob) -> Letter {
    let names = [
        ("organisation", org.name.clone().into()),
        ("what", purpose.name.clone().into()),
    ];
    let subject = t.with_args("mail-reconsent-subject", &names);
    let letter = Letter::titled(t, subject)
        .say(t.with_args("mail-reconsent-changed", &names))
        .say(t.with_args("mail-reconsent-version", &[("version", job.version.into())]));
    let letter = match purpose.outdated_consent {
        OutdatedConsent::Stands => letter.say(t.get("mail-reconsent-stands")),
        OutdatedConsent::Lapses { grace_days } => {
            letter.say(t.with_args("mail-reconsent-lapses", &[("days", grace_days.into())]))
        }
    };
    letter.close(t.with_args("mail-reconsent-closing", &names))
}
