//! An organisation's offers to a person: a subscription, or a role. An organisation
//! provisions the people it onboards itself (anonymous users it creates, users homed in it
//! through CustomerID); anyone else is asked, and nothing is subscribed or granted until
//! they accept (docs/security.md, trust model). A person also leaves any role at will.
//!
//! | operation | who may |
//! |---|---|
//! | list, accept, decline one's offers | the person offered, their own |
//! | leave one's roles in an organisation | the role holder themselves |

use accord_domain::identity::User;
use accord_domain::organization::{Offer, OfferKind, Organization};
use accord_domain::webhook::Notification;
use accord_domain::{Error, OfferId, Result, UserId};
use accord_store::{Mode, Tx};

use super::mail::{Letter, OutgoingMail};
use super::{Actor, Services};
use crate::i18n::Texts;

/// An offer with the name of the organisation that made it.
pub struct OfferView {
    pub offer: Offer,
    pub organization_name: String,
}

fn what(kind: OfferKind) -> String {
    match kind {
        OfferKind::Subscription => "to subscribe to it".to_owned(),
        OfferKind::Role(r) => format!("the role {}", r.name()),
    }
}

impl Services {
    /// Offers `user` a subscription or a role (once: an open offer of the kind stands),
    /// with a notification. Answers the mail to send once the unit of work commits, if
    /// the person has an address, the offer is new and the address's mail limit allows.
    pub(crate) async fn offer(
        &self,
        tx: &mut dyn Tx,
        org: &Organization,
        user: &User,
        kind: OfferKind,
        by: UserId,
    ) -> Result<Option<OutgoingMail>> {
        let now = self.clock.now();
        let offer = Offer {
            id: OfferId::new(),
            organization_id: org.id,
            user_id: user.id,
            kind,
            offered_by: by,
            created_at: now,
        };
        if !tx.insert_offer(&offer).await? {
            return Ok(None);
        }
        // Offered, declined, offered again: the notification each time, the mail a few
        // times per address and window at most.
        let mail_allowed = match &user.email {
            Some(e) => {
                self.mail_allowed(tx, &format!("offer:{}", e.key()), now)
                    .await?
            }
            None => false,
        };
        let message = format!("{} asks you {}", org.name, what(kind));
        tx.insert_notification(&Notification::message(
            user.id,
            org.id,
            kind.event(),
            message.clone(),
            now,
        ))
        .await?;
        self.log_action(
            tx,
            org.id,
            "configuration",
            &by.to_string(),
            &format!("offered user {} {}", user.id, what(kind)),
        )
        .await?;
        Ok(user.email.as_ref().filter(|_| mail_allowed).map(|to| {
            let t = Texts::of(user.language);
            let organisation = ("organisation", org.name.clone().into());
            let subject = match kind {
                OfferKind::Subscription => t.with_args(
                    "mail-offer-subscription-subject",
                    std::slice::from_ref(&organisation),
                ),
                OfferKind::Role(r) => t.with_args(
                    "mail-offer-role-subject",
                    &[organisation.clone(), ("what", r.name().to_owned().into())],
                ),
            };
            Letter::titled(t, subject.clone())
                .say(subject)
                .close(t.with_args("mail-offer-closing", &[organisation]))
                .to(to.as_str(), vec![])
        }))
    }

    /// The caller's open offers, oldest first.
    pub async fn my_offers(&self, actor: &Actor) -> Result<Vec<OfferView>> {
        let me = actor.user()?;
        let mut tx = self.store.begin(Mode::Read).await?;
        let mut out = vec![];
        for offer in tx.offers_of(me.user_id).await? {
            let organization_name = tx
                .organization_by_id(offer.organization_id)
                .await?
                .map(|o| o.name)
                .unwrap_or_default();
            out.push(OfferView {
                offer,
                organization_name,
            });
        }
        tx.commit().await?;
        Ok(out)
    }

    /// Accepts one of the caller's offers: the subscription or the role is theirs now.
    pub async fn accept_offer(&self, actor: &Actor, id: &str) -> Result<()> {
        let me = actor.user()?;
        let id: OfferId = id
            .parse()
            .map_err(|_| Error::not_found("offer not found"))?;
        let now = self.clock.now();
        let mut tx = self.store.begin(Mode::Write).await?;
        let offer = tx
            .take_offer(me.user_id, id)
            .await?
            .ok_or_else(|| Error::not_found("offer not found"))?;
        let org = tx
            .organization_by_id(offer.organization_id)
            .await?
            .ok_or_else(|| Error::not_found("offer not found"))?;
        match offer.kind {
            OfferKind::Subscription => {
                self.subscribe_in(tx.as_mut(), &org, me.user_id, now)
                    .await?
            }
            OfferKind::Role(role) => {
                tx.grant_role(org.id, me.user_id, role).await?;
                self.log_action(
                    tx.as_mut(),
                    org.id,
                    "configuration",
                    &me.user_id.to_string(),
                    &format!("user {} accepted the role {}", me.user_id, role.id()),
                )
                .await?;
            }
        }
        tx.commit().await?;
        self.work.notify_one();
        Ok(())
    }

    /// Declines one of the caller's offers: nothing changes, and the offer is gone.
    pub async fn decline_offer(&self, actor: &Actor, id: &str) -> Result<()> {
        let me = actor.user()?;
        let id: OfferId = id
            .parse()
            .map_err(|_| Error::not_found("offer not found"))?;
        let mut tx = self.store.begin(Mode::Write).await?;
        tx.take_offer(me.user_id, id)
            .await?
            .ok_or_else(|| Error::not_found("offer not found"))?;
        tx.commit().await
    }

    /// The caller gives up every role they hold in the organisation. Always allowed, the
    /// last Admin's included: the organisation is then closed to configuration until a
    /// platform admin offers the Admin role to someone who accepts.
    pub async fn leave_roles(
        &self,
        actor: &Actor,
        org: accord_domain::OrganizationId,
    ) -> Result<()> {
        let me = actor.user()?;
        let mut tx = self.store.begin(Mode::Write).await?;
        if !tx.revoke_roles(org, me.user_id).await? {
            return Err(Error::not_found("you hold no role in this organisation"));
        }
        self.log_action(
            tx.as_mut(),
            org,
            "configuration",
            &me.user_id.to_string(),
            &format!("user {} left their roles", me.user_id),
        )
        .await?;
        tx.commit().await
    }
}
