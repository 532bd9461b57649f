//! Proof of an address: a mailed single-use link that shows the account's holder reads
//! the mailbox. Only a proven address has anything attached to it by address (mandates;
//! an outside identity is never linked by address at all). See docs/security.md, "Trust
//! model".
//!
//! | operation | who may |
//! |---|---|
//! | verify an address with a mailed token | whoever holds the token (it is the proof) |
//! | ask for a new verification mail | the account's holder, signed in |
//! | ask to change the address | the account's holder, signed in, with the current password |
//! | change it with the token mailed to the new address | whoever holds the token |

use std::sync::Arc;

use accord_domain::{Error, Result, UserId};
use accord_store::{Mode, Tx};
use chrono::{DateTime, Duration, Utc};

use super::mail::Letter;
use super::tokens::{random_secret, secret_hash};
use super::{Actor, Services};

impl Services {
    /// Mails a verification link for the account's current address, in the background
    /// (a slow or failing mail server delays nobody's answer). Throttled per address.
    pub(crate) fn mail_email_verification(self: &Arc<Self>, user: UserId) {
        let this = Arc::clone(self);
        tokio::spawn(async move {
            if let Err(e) = this.send_email_verification(user).await {
                tracing::error!(error = ?e, "verification mail failed");
            }
        });
    }

    /// The language the person chose, if any (a mail to them is written in it).
    async fn language_of(&self, user: UserId) -> Option<accord_domain::identity::Language> {
        let mut tx = self.store.begin(Mode::Read).await.ok()?;
        let found = tx.user_by_id(user).await.ok().flatten();
        tx.commit().await.ok()?;
        found.and_then(|u| u.language)
    }

    pub(crate) async fn send_email_verification(&self, user: UserId) -> Result<()> {
        let now = self.clock.now();
        let mut tx = self.store.begin(Mode::Write).await?;
        let Some(user) = tx.user_by_id(user).await? else {
            return tx.commit().await;
        };
        let Some(email) = user
            .email
            .clone()
            .filter(|_| user.email_verified_at.is_none())
        else {
            return tx.commit().await;
        };
        if !self
            .mail_allowed(tx.as_mut(), &format!("verify:{}", email.key()), now)
            .await?
        {
            return tx.commit().await;
        }
        let token = random_secret();
        let ttl =
            Duration::from_std(self.config.email_verification_ttl).map_err(Error::internal)?;
        tx.insert_email_verification(&secret_hash(&token), user.id, &email.key(), now + ttl)
            .await?;
        tx.commit().await?;
        let link = self
            .config
            .email_verification_link
            .replace("{token}", &token);
        let hours = ttl.num_hours();
        let l = Letter::new(user.language, "mail-verify-subject");
        let t = l.t;
        let mail = l
            .say(t.get("mail-verify-intro"))
            .say(t.with("mail-verify-action", "hours", hours))
            .act("mail-verify-button", &link)
            .code("mail-verify-code", &token)
            .close(t.get("mail-verify-closing"))
            .to(email.as_str(), vec![link.clone(), token.clone()]);
        self.mailer.send(mail).await
    }

    /// The account's address was changed (by a REST client): the old address is told, the
    /// new one is asked to prove itself. Mail failures are logged, not answered.
    pub(crate) async fn address_changed(&self, user: UserId, old_email: Option<&str>) {
        if let Some(old) = old_email {
            let language = self.language_of(user).await;
            let l = Letter::new(language, "mail-address-changed-subject");
            let t = l.t;
            let notice = l
                .say(t.get("mail-address-changed-intro-unnamed"))
                .say(t.get("mail-address-changed-by-organisation"))
                .to(old, vec![]);
            if let Err(e) = self.mailer.send(notice).await {
                tracing::error!(error = ?e, "address change notice failed");
            }
        }
        if let Err(e) = self.send_email_verification(user).await {
            tracing::error!(error = ?e, "verification mail failed");
        }
    }

    /// Asks for a new verification mail for the caller's address (answers at once).
    pub async fn resend_email_verification(self: &Arc<Self>, actor: &Actor) -> Result<()> {
        let me = actor.user()?;
        let mut tx = self.store.begin(Mode::Read).await?;
        let user = tx
            .user_by_id(me.user_id)
            .await?
            .ok_or_else(|| Error::Unauthenticated("account no longer exists".into()))?;
        tx.commit().await?;
        if user.email.is_none() {
            return Err(Error::invalid("this account has no email address"));
        }
        if user.email_verified_at.is_some() {
            return Err(Error::Conflict("the address is verified already".into()));
        }
        self.mail_email_verification(user.id);
        Ok(())
    }

    /// Proves an address with a mailed token (once). A token mailed to an address the
    /// account no longer has proves nothing.
    pub async fn verify_email(&self, token: &str) -> Result<()> {
        let invalid = || Error::invalid("invalid or expired verification token");
        let now = self.clock.now();
        let mut tx = self.store.begin(Mode::Write).await?;
        let (user_id, email_key) = tx
            .take_email_verification(&secret_hash(token.trim()), now)
            .await?
            .ok_or_else(invalid)?;
        let user = tx.user_by_id(user_id).await?.ok_or_else(invalid)?;
        if user.email.as_ref().map(|e| e.key()).as_deref() != Some(email_key.as_str()) {
            return Err(invalid());
        }
        self.address_proven(tx.as_mut(), user_id, &email_key, now)
            .await?;
        tx.commit().await
    }

    /// The account page's address change, first step: the current password confirms it;
    /// a link goes to the new address, and nothing changes until its holder follows it
    /// (so nobody moves an account to an address they do not read). A new address another
    /// account has is refused.
    pub async fn request_email_change(
        self: &Arc<Self>,
        actor: &Actor,
        new_address: &str,
        password: &str,
    ) -> Result<String> {
        let me = actor.user()?;
        let email = accord_domain::identity::Email::parse(new_address)?;
        let now = self.clock.now();
        let mut tx = self.store.begin(Mode::Read).await?;
        let profile = self.own_profile(tx.as_mut(), me.user_id).await?;
        let taken = tx.user_by_email_key(&email.key()).await?.is_some();
        tx.commit().await?;
        self.confirm_current_password(&profile.user, password)
            .await?;
        if profile.user.email.as_ref().map(|e| e.key()) == Some(email.key()) {
            return Err(Error::Rule(accord_domain::Rule::AlreadyTheAddress));
        }
        if taken {
            return Err(Error::Conflict(
                "an account with this address already exists".into(),
            ));
        }
        let mut tx = self.store.begin(Mode::Write).await?;
        if !self
            .mail_allowed(tx.as_mut(), &format!("change:{}", email.key()), now)
            .await?
        {
            return Err(Error::TooManyRequests {
                retry_after_secs: 15 * 60,
            });
        }
        let token = random_secret();
        let ttl =
            Duration::from_std(self.config.email_verification_ttl).map_err(Error::internal)?;
        tx.insert_email_change(
            &secret_hash(&token),
            me.user_id,
            email.as_str(),
            &email.key(),
            now + ttl,
        )
        .await?;
        tx.commit().await?;
        let link = format!(
            "{}/confirm-email-change?token={token}",
            self.config.public_url
        );
        let hours = ttl.num_hours();
        let l = Letter::new(profile.user.language, "mail-email-change-subject");
        let t = l.t;
        self.mail_in_background(Some(
            l.say(t.get("mail-email-change-intro"))
                .say(t.with("mail-email-change-action", "hours", hours))
                .act("mail-email-change-button", &link)
                .close(t.get("mail-email-change-closing"))
                .to(email.as_str(), vec![link.clone(), token.clone()]),
        ));
        Ok(email.as_str().to_owned())
    }

    /// The address change, second step: the holder of the new address followed its link.
    /// The account's address becomes the new one, proven; reset and verification links
    /// mailed to the old one die; the old address is told.
    pub async fn confirm_email_change(&self, token: &str) -> Result<()> {
        let invalid = || Error::invalid("invalid or expired link");
        let now = self.clock.now();
        let mut tx = self.store.begin(Mode::Write).await?;
        let (user_id, new_address) = tx
            .take_email_change(&secret_hash(token.trim()), now)
            .await?
            .ok_or_else(invalid)?;
        let mut user = tx.user_by_id(user_id).await?.ok_or_else(invalid)?;
        let email = accord_domain::identity::Email::parse(&new_address)?;
        let old = user.email.replace(email.clone());
        tx.update_user_identity(&user).await.map_err(|e| match e {
            Error::Conflict(_) => {
                Error::Conflict("an account with this address already exists".into())
            }
            other => other,
        })?;
        tx.void_password_resets(user_id).await?;
        self.address_proven(tx.as_mut(), user_id, &email.key(), now)
            .await?;
        tx.commit().await?;
        if let Some(old) = old {
            let l = Letter::new(user.language, "mail-address-changed-subject");
            let t = l.t;
            self.mail_in_background(Some(
                l.say(t.with(
                    "mail-address-changed-intro",
                    "address",
                    email.as_str().to_owned(),
                ))
                .say(t.get("mail-address-changed-by-holder"))
                .to(old.as_str(), vec![]),
            ));
        }
        Ok(())
    }

    /// The holder of `email_key` proved it (a verification link, a reset or an invitation
    /// mailed to it): the account records it, its other verification links are void, and
    /// what was given to the address (mandates) becomes the account's.
    pub(crate) async fn address_proven(
        &self,
        tx: &mut dyn Tx,
        user: UserId,
        email_key: &str,
        now: DateTime<Utc>,
    ) -> Result<()> {
        tx.set_email_verified(user, Some(now)).await?;
        tx.void_email_verifications(user).await?;
        tx.attach_mandates_to(user, email_key).await
    }
}
