//! Consent requests and the notifications they leave an individual.
//!
//! | operation | who may |
//! |---|---|
//! | request consent for attributes of a purpose | the organisation's Admin |
//! | read, mark read | the individual, their own |

use accord_domain::access::OrgAction;
use accord_domain::webhook::{EventType, Notification};
use accord_domain::{AttributeId, Error, NotificationId, OrganizationId, PurposeId, Result};
use accord_store::Mode;
use serde_json::json;

use super::{Actor, Services};

pub struct NotificationPage {
    pub notifications: Vec<Notification>,
    pub next_start: Option<String>,
}

impl Services {
    /// Asks every subscriber for whom one of the attributes reads Disallow to consent: a
    /// notification each (and a push, where they have a device), one `consent.requested`
    /// event. Answers how many were asked.
    pub async fn request_consent(
        &self,
        actor: &Actor,
        org: OrganizationId,
        purpose: &str,
        attributes: &[String],
    ) -> Result<usize> {
        let now = self.clock.now();
        let mut tx = self.store.begin(Mode::Write).await?;
        let (org, standing, me) = self.standing_in(tx.as_mut(), actor, org).await?;
        if !standing.may(OrgAction::Configure) {
            return Err(Error::Forbidden(
                "only the organisation's Admin requests consent".into(),
            ));
        }
        let purpose: PurposeId = purpose.parse()?;
        let purpose = tx
            .purposes_of(org.id)
            .await?
            .into_iter()
            .find(|p| p.id == purpose)
            .ok_or_else(|| Error::not_found("purpose not found"))?;
        if purpose.lawful_basis.is_lawful_usage() {
            return Err(Error::invalid(
                "this purpose's lawful basis is not consent: there is nothing to ask for",
            ));
        }
        let templates = tx.templates_of(org.id).await?;
        let mut ids: Vec<AttributeId> = vec![];
        // None named (the spec marks the list optional): every attribute of the purpose.
        if attributes.is_empty() {
            ids = templates
                .iter()
                .filter(|t| t.purpose_ids.contains(&purpose.id))
                .map(|t| t.id)
                .collect();
            if ids.is_empty() {
                return Err(Error::invalid(
                    "this purpose has no attributes to ask about",
                ));
            }
        }
        for raw in attributes {
            let t = templates
                .iter()
                .find(|t| raw.parse().ok() == Some(t.id) && t.purpose_ids.contains(&purpose.id))
                .ok_or_else(|| {
                    Error::invalid(format!(
                        "attributeids: {raw:?} is no attribute of this purpose"
                    ))
                })?;
            if !ids.contains(&t.id) {
                ids.push(t.id);
            }
        }
        let names: Vec<&str> = templates
            .iter()
            .filter(|t| ids.contains(&t.id))
            .map(|t| t.consent.as_str())
            .collect();
        let message = format!(
            "{} asks for your consent to use {} for {}",
            org.name,
            names.join(", "),
            purpose.name
        );
        let users = tx
            .users_lacking_consent(
                org.id,
                purpose.id,
                &ids,
                super::consents::holding(&purpose, now),
            )
            .await?;
        for u in &users {
            tx.insert_notification(&Notification {
                id: NotificationId::new(),
                user_id: u.id,
                organization_id: org.id,
                kind: EventType::ConsentRequested.as_str().to_owned(),
                purpose_id: Some(purpose.id),
                attribute_ids: ids.clone(),
                message: message.clone(),
                created_at: now,
                read_at: None,
            })
            .await?;
        }
        let data = json!({
            "organisationID": org.id.to_string(),
            "purposeID": purpose.id.to_string(),
            "attributeIDs": ids.iter().map(ToString::to_string).collect::<Vec<_>>(),
            "notifiedUsers": users.len(),
        });
        super::events::emit(tx.as_mut(), org.id, EventType::ConsentRequested, data, now).await?;
        self.log_action(
            tx.as_mut(),
            org.id,
            "configuration",
            &me.user_id.to_string(),
            &format!(
                "requested consent for {} from {} users",
                names.join(", "),
                users.len()
            ),
        )
        .await?;
        tx.commit().await?;
        self.work.notify_one();
        // Pushes go out in the background: a large organisation must not hold the request.
        let devices: Vec<(String, i64)> = users
            .iter()
            .filter(|u| !u.client_token.is_empty())
            .map(|u| (u.client_token.clone(), u.client_type))
            .collect();
        let push = std::sync::Arc::clone(&self.push);
        tokio::spawn(async move {
            for (token, kind) in devices {
                if let Err(e) = push.push(&token, kind, "Consent requested", &message).await {
                    tracing::warn!(error = ?e, "push notification failed");
                }
            }
        });
        Ok(users.len())
    }

    /// The caller's notifications, newest first.
    pub async fn my_notifications(
        &self,
        actor: &Actor,
        limit: Option<i64>,
        start: Option<&str>,
    ) -> Result<NotificationPage> {
        let me = actor.user()?;
        let limit = super::paging::page_limit(limit)?;
        let mut tx = self.store.begin(Mode::Read).await?;
        let mut list = tx
            .notifications_of(me.user_id, start.filter(|s| !s.is_empty()), limit + 1)
            .await?;
        tx.commit().await?;
        let more = list.len() as i64 > limit;
        list.truncate(limit as usize);
        let next_start = if more {
            list.last().map(|n| n.id.to_string())
        } else {
            None
        };
        Ok(NotificationPage {
            notifications: list,
            next_start,
        })
    }

    /// Marks one of the caller's notifications read (404 for anyone else's).
    pub async fn mark_notification_read(
        &self,
        actor: &Actor,
        id: NotificationId,
    ) -> Result<Notification> {
        let me = actor.user()?;
        let mut tx = self.store.begin(Mode::Write).await?;
        if !tx
            .mark_notification_read(me.user_id, id, self.clock.now())
            .await?
        {
            return Err(Error::not_found("notification not found"));
        }
        let found = tx.notification_by_id(me.user_id, id).await?;
        tx.commit().await?;
        found.ok_or_else(|| Error::not_found("notification not found"))
    }
}
