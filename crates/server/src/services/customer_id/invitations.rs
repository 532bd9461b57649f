//! Role invitations (GET112, GET114; create, delete) and PUT117 Reinvite User.
//!
//! An invitation names an email address and a role of an organisation. The address gets
//! an account in status Waiting for registration (unless it has one) and a mail with a
//! single-use link that expires. Accepting — `POST /v1/invitations/{token}/accept`, or
//! registering with that address — enables the account and grants every role it was
//! invited to.

use super::roles::RoleRef;
use super::*;
use crate::services::mail::{Letter, OutgoingMail};
use crate::services::tokens::random_secret;
use accord_domain::customer_id::RoleInvitation;
use accord_domain::identity::Email;

/// Which role invitations a list asks for.
#[derive(Debug, Clone, Copy)]
pub enum InvitationList<'a> {
    All,
    /// GET114: those of one user.
    OfUser(&'a str),
}

/// What `PUT117` answers: who was reinvited, at which address.
#[derive(Debug, Clone)]
pub struct Reinvited {
    pub user_id: UserId,
    pub email: String,
}

/// What accepting an invitation did.
#[derive(Debug, Clone)]
pub struct Accepted {
    pub user_id: UserId,
    pub email: String,
    /// The roles granted (IDs as CustomerID shows them).
    pub roles: Vec<RoleId>,
}

/// `user` only when the caller may see the invited account: a bound client inviting an
/// address registered elsewhere learns nothing about that account.
fn invitation_attributes(
    i: &RoleInvitation,
    user_visible: bool,
    now: chrono::DateTime<chrono::Utc>,
) -> Attributes {
    let time =
        |t: chrono::DateTime<chrono::Utc>| t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let mut a: Attributes = vec![];
    push(&mut a, "id", i.id.to_string());
    push(&mut a, "email", i.email.clone());
    if user_visible {
        push_ref(&mut a, "user", "user", i.user_id.to_string());
    }
    if let Some(o) = i.organization_id {
        push_ref(&mut a, "organization", "organization", o.to_string());
    }
    if let Some(r) = i.role_id {
        push_ref(&mut a, "role", "role", r.to_string());
    }
    push(&mut a, "status", i.status(now));
    push(&mut a, "created", time(i.created_at));
    push(&mut a, "expires", time(i.expires_at));
    if let Some(t) = i.accepted_at {
        push(&mut a, "accepted", time(t));
    }
    a
}

/// Grants a role by its CustomerID ID: an iGrant role of the organisation, or a role
/// created there.
async fn grant(tx: &mut dyn Tx, org: OrganizationId, role: RoleId, user: UserId) -> Result<()> {
    for r in [OrgRole::Admin, OrgRole::Dpo, OrgRole::Developer] {
        if r.role_of(org).id == role {
            return tx.grant_role(org, user, r).await;
        }
    }
    tx.add_role_member(role, user).await
}

impl Services {
    /// Create Role Invitation: `email` and `role` (required), `firstname`, `surname` (for
    /// a new account). The role must be visible to the caller.
    pub async fn cid_create_role_invitation(
        &self,
        actor: &Actor,
        params: &[(String, String)],
    ) -> Result<String> {
        let p = SingleParams::parse(params, &["email", "role", "firstname", "surname"])?;
        let get = |k: &str| p.get(k).unwrap_or("");
        let email = Email::parse(get("email"))?;
        let role: RoleId = p.required("role")?.parse().map_err(Error::as_reference)?;
        let first_name =
            accord_domain::identity::parse_profile_text("firstname", get("firstname"), 128)?;
        let surname = accord_domain::identity::parse_profile_text("surname", get("surname"), 128)?;
        let now = self.clock.now();
        let mut tx = self.store.begin(Mode::Write).await?;
        let (org, role_label) = match self
            .role_ref(tx.as_mut(), actor, role)
            .await
            .map_err(Error::as_reference)?
        {
            RoleRef::Builtin(r, org) => (org, r.name().to_owned()),
            RoleRef::Custom(r) => (r.organization_id, r.name),
        };
        let user = match tx.user_by_email_key(&email.key()).await? {
            Some(u) => u,
            None => {
                let name = format!("{first_name} {surname}").trim().to_owned();
                let u = User {
                    name,
                    first_name,
                    surname,
                    home_organization_id: Some(org),
                    ..User::new(Some(email.clone()), UserStatus::WaitingForRegistration, now)
                };
                // Nothing given to the address attaches yet: only its proof (the
                // accepted link) does.
                tx.insert_user(&u).await?;
                u
            }
        };
        if !user.status.may_log_in() && user.status != UserStatus::WaitingForRegistration {
            return Err(Error::invalid(format!(
                "the account of {} is {}",
                email.as_str(),
                user.status.technical_name()
            )));
        }
        let token = random_secret();
        let expires_at = self.invitation_expiry(now)?;
        let invitation = RoleInvitation {
            id: RoleInvitationId::new(),
            organization_id: Some(org),
            role_id: Some(role),
            user_id: user.id,
            email: email.as_str().to_owned(),
            expires_at,
            accepted_at: None,
            created_at: now,
        };
        tx.insert_role_invitation(&invitation, &secret_hash(&token))
            .await?;
        self.log_action(
            tx.as_mut(),
            org,
            "configuration",
            &actor_label(actor),
            &format!("invited user {} to the role {role_label}", user.id),
        )
        .await?;
        let org_name = tx
            .organization_by_id(org)
            .await?
            .map(|o| o.name)
            .unwrap_or_default();
        tx.commit().await?;
        // The invitation stands even if the mail fails: PUT …/reinvite sends it again.
        if let Err(e) = self
            .send_invitation(
                &user,
                &token,
                Invited::Role {
                    role: &role_label,
                    organisation: &org_name,
                },
            )
            .await
        {
            tracing::error!(error = ?e, invitation = %invitation.id, "invitation mail failed");
        }
        Ok(invitation.id.to_string())
    }

    fn invitation_expiry(
        &self,
        now: chrono::DateTime<chrono::Utc>,
    ) -> Result<chrono::DateTime<chrono::Utc>> {
        Ok(
            now + chrono::Duration::from_std(self.config.invitation_ttl)
                .map_err(Error::internal)?,
        )
    }

    async fn send_invitation(&self, to: &User, token: &str, what: Invited<'_>) -> Result<()> {
        self.mailer
            .send(self.invitation_mail(to, token, what)?)
            .await
    }

    fn invitation_mail(&self, to: &User, token: &str, what: Invited<'_>) -> Result<OutgoingMail> {
        let address = to
            .email
            .as_ref()
            .ok_or_else(|| Error::invalid("the user has no email address"))?;
        let link = self.config.invitation_link.replace("{token}", token);
        let days = (self.config.invitation_ttl.as_secs() / 86_400).max(1);
        let l = Letter::new(to.language, "mail-invitation-subject");
        let t = l.t;
        let invited = match what {
            Invited::Role { role, organisation } => t.with_args(
                "mail-invitation-to-role",
                &[
                    ("what", role.to_owned().into()),
                    ("organisation", organisation.to_owned().into()),
                ],
            ),
            Invited::Register => t.get("mail-invitation-to-register"),
            Invited::Complete => t.get("mail-invitation-to-complete"),
        };
        Ok(l.say(invited)
            .say(t.with("mail-invitation-action", "days", days))
            .act("mail-invitation-button", &link)
            .code("mail-invitation-code", token)
            .close(t.get("mail-invitation-closing"))
            .to(address.as_str(), vec![link.clone(), token.to_owned()]))
    }

    /// Whether the caller sees an invitation: its organisation, or the invited user.
    async fn invitation_visible(
        &self,
        tx: &mut dyn Tx,
        scope: &Scope,
        i: &RoleInvitation,
    ) -> Result<bool> {
        Ok(match (scope, i.organization_id) {
            (None, _) => true,
            (Some(s), Some(o)) if s.contains(&o) => true,
            _ => {
                self.party_visible(tx, scope, &Party::User(i.user_id))
                    .await?
            }
        })
    }

    /// GET112/GET114: invitations visible to the caller.
    pub async fn cid_role_invitations(
        &self,
        actor: &Actor,
        list: InvitationList<'_>,
    ) -> Result<Vec<Attributes>> {
        let now = self.clock.now();
        let of_user = match list {
            InvitationList::All => None,
            InvitationList::OfUser(u) => Some(self.require_visible_user(actor, u).await?),
        };
        let mut tx = self.store.begin(Mode::Read).await?;
        let (scope, _) = self.cid_scope(tx.as_mut(), actor).await?;
        let invitations = match of_user {
            Some(u) => tx.role_invitations_of(u).await?,
            None => tx.role_invitations().await?,
        };
        let mut out = vec![];
        for i in invitations {
            if self.invitation_visible(tx.as_mut(), &scope, &i).await? {
                let user_visible = self
                    .party_visible(tx.as_mut(), &scope, &Party::User(i.user_id))
                    .await?;
                out.push(invitation_attributes(&i, user_visible, now));
            }
        }
        tx.commit().await?;
        Ok(out)
    }

    /// Query Role Invitation: one invitation visible to the caller.
    pub async fn cid_role_invitation(&self, actor: &Actor, id: &str) -> Result<Attributes> {
        self.cid_role_invitations(actor, InvitationList::All)
            .await?
            .into_iter()
            .find(|a| value_of(a, "id") == Some(id))
            .ok_or_else(|| not_found("role invitation"))
    }

    /// Delete Role Invitation: its link stops working; the account it created stays.
    pub async fn cid_delete_role_invitation(
        &self,
        actor: &Actor,
        id: RoleInvitationId,
    ) -> Result<String> {
        let mut tx = self.store.begin(Mode::Write).await?;
        let (scope, _) = self.cid_scope(tx.as_mut(), actor).await?;
        let i = tx
            .role_invitations()
            .await?
            .into_iter()
            .find(|i| i.id == id)
            .ok_or_else(|| not_found("role invitation"))?;
        if !self.invitation_visible(tx.as_mut(), &scope, &i).await? {
            return Err(not_found("role invitation"));
        }
        tx.delete_role_invitation(id).await?;
        if let Some(o) = i.organization_id {
            self.log_action(
                tx.as_mut(),
                o,
                "configuration",
                &actor_label(actor),
                &format!("withdrew role invitation {id}"),
            )
            .await?;
        }
        tx.commit().await?;
        Ok(id.to_string())
    }

    /// PUT117 Reinvite User: a new link to the user's current address; the old link stops
    /// working. Only for a user Waiting for registration.
    pub async fn cid_reinvite(&self, actor: &Actor, id: &str) -> Result<Reinvited> {
        let mut tx = self.store.begin(Mode::Write).await?;
        let (user, _) = self.visible_user(tx.as_mut(), actor, id).await?;
        if user.status != UserStatus::WaitingForRegistration {
            return Err(Error::invalid(format!(
                "the user is {}, not waiting for registration",
                user.status.technical_name()
            )));
        }
        let email = user
            .email
            .clone()
            .ok_or_else(|| Error::invalid("the user has no email address"))?;
        let token = self.new_invitation_link(tx.as_mut(), &user).await?;
        if let Some(o) = user.home_organization_id {
            self.log_action(
                tx.as_mut(),
                o,
                "configuration",
                &actor_label(actor),
                &format!("reinvited user {}", user.id),
            )
            .await?;
        }
        tx.commit().await?;
        self.send_invitation(&user, &token, Invited::Register)
            .await?;
        Ok(Reinvited {
            user_id: user.id,
            email: email.as_str().to_owned(),
        })
    }

    /// A new link for a waiting account's open invitations (the old link stops working),
    /// or, with none open, an invitation to register only. Answers the token to mail.
    async fn new_invitation_link(&self, tx: &mut dyn Tx, user: &User) -> Result<String> {
        let email = user
            .email
            .clone()
            .ok_or_else(|| Error::invalid("the user has no email address"))?;
        let now = self.clock.now();
        let token = random_secret();
        let expires_at = self.invitation_expiry(now)?;
        let open = tx.role_invitations_of(user.id).await?;
        if open.iter().any(|i| i.accepted_at.is_none()) {
            tx.renew_invitations(user.id, &secret_hash(&token), expires_at)
                .await?;
        } else {
            // Created waiting (Create User with status 5): an invitation to register only.
            let invitation = RoleInvitation {
                id: RoleInvitationId::new(),
                organization_id: user.home_organization_id,
                role_id: None,
                user_id: user.id,
                email: email.as_str().to_owned(),
                expires_at,
                accepted_at: None,
                created_at: now,
            };
            tx.insert_role_invitation(&invitation, &secret_hash(&token))
                .await?;
        }
        Ok(token)
    }

    /// Someone registered the address of an account waiting for registration: the
    /// account is not theirs to take (a REST client created it, and could set its
    /// password). The address gets the account's invitation link instead: whoever reads
    /// that mailbox completes the account through it. Commits `tx`.
    pub(crate) async fn reinvite_waiting(&self, mut tx: Box<dyn Tx>, user: &User) -> Result<()> {
        // A few such mails per address and window, silently: registering the address again
        // and again from many places must not flood its mailbox.
        let key = format!(
            "reinvite:{}",
            user.email.as_ref().map(|e| e.key()).unwrap_or_default()
        );
        if !self
            .mail_allowed(tx.as_mut(), &key, self.clock.now())
            .await?
        {
            return tx.commit().await;
        }
        let token = self.new_invitation_link(tx.as_mut(), user).await?;
        tx.commit().await?;
        // In the background, as the verification mail of a new account: the 409's timing
        // must not tell a waiting account from a registered one.
        self.mail_in_background(Some(self.invitation_mail(
            user,
            &token,
            Invited::Complete,
        )?));
        Ok(())
    }

    /// What the invitation page shows to whoever holds the mailed link: the invited address,
    /// and whether the account is new (it chooses a password) or exists (it gives its own).
    pub async fn invitation_by_token(&self, token: &str) -> Result<(String, bool)> {
        let invalid = || Error::invalid("invalid or expired invitation");
        let mut tx = self.store.begin(Mode::Read).await?;
        let user_id = tx
            .user_of_invitation_token(&secret_hash(token), self.clock.now())
            .await?
            .ok_or_else(invalid)?;
        let user = tx.user_by_id(user_id).await?.ok_or_else(invalid)?;
        tx.commit().await?;
        let email = user
            .email
            .as_ref()
            .map(|e| e.as_str().to_owned())
            .unwrap_or_default();
        Ok((email, user.status == UserStatus::WaitingForRegistration))
    }

    /// `POST /v1/invitations/{token}/accept`: a waiting account sets its password and is
    /// enabled; an existing account proves itself with its password. Either way every open
    /// invitation of the account is accepted and its roles granted. The link works once.
    pub async fn accept_invitation(&self, token: &str, password: &str) -> Result<Accepted> {
        let invalid = || Error::invalid("invalid or expired invitation");
        let hash = secret_hash(token);
        let now = self.clock.now();
        let mut tx = self.store.begin(Mode::Read).await?;
        let user_id = tx
            .user_of_invitation_token(&hash, now)
            .await?
            .ok_or_else(invalid)?;
        let user = tx.user_by_id(user_id).await?.ok_or_else(invalid)?;
        tx.commit().await?;
        let new_hash = if user.status == UserStatus::WaitingForRegistration {
            let p = Password::new_for(password, user.email.as_ref())?;
            Some(self.passwords.hash(&p).await?)
        } else {
            let offered = Password::offered(password)?;
            let verified = self
                .passwords
                .verify(&offered, user.password_hash.as_deref())
                .await?;
            if !verified.ok || !user.status.may_log_in() {
                return Err(Error::Unauthenticated(
                    "wrong password for this account".into(),
                ));
            }
            None
        };
        let mut tx = self.store.begin(Mode::Write).await?;
        // The token is checked again under the write lock: two accepts, one winner.
        if tx.user_of_invitation_token(&hash, now).await? != Some(user_id) {
            return Err(invalid());
        }
        let roles = self
            .complete_invited_account(tx.as_mut(), user, new_hash.as_deref())
            .await?;
        tx.commit().await?;
        Ok(roles)
    }

    /// Enables a waiting account (with its new password hash) and accepts every open
    /// invitation of it, granting their roles; the link proved the address it was mailed to.
    pub(crate) async fn complete_invited_account(
        &self,
        tx: &mut dyn Tx,
        mut user: User,
        password_hash: Option<&str>,
    ) -> Result<Accepted> {
        let now = self.clock.now();
        if user.status == UserStatus::WaitingForRegistration {
            user.status = UserStatus::Enabled;
            tx.update_user_identity(&user).await?;
        }
        if let Some(h) = password_hash {
            tx.set_password_hash(user.id, h).await?;
        }
        let email = user
            .email
            .as_ref()
            .map(|e| e.as_str().to_owned())
            .unwrap_or_default();
        let email_key = user.email.as_ref().map(|e| e.key());
        let mut roles = vec![];
        let accepted = tx.accept_invitations(user.id, now).await?;
        // The link was mailed to the invitation's address: if that is still the account's,
        // the account's holder has just proven it.
        if let Some(key) =
            email_key.filter(|k| accepted.iter().any(|i| i.email.to_lowercase() == *k))
        {
            self.address_proven(tx, user.id, &key, now).await?;
        }
        for i in accepted {
            if let (Some(org), Some(role)) = (i.organization_id, i.role_id) {
                grant(tx, org, role, user.id).await?;
                self.log_action(
                    tx,
                    org,
                    "configuration",
                    &user.id.to_string(),
                    &format!("user {} accepted role invitation {}", user.id, i.id),
                )
                .await?;
                roles.push(role);
            }
        }
        Ok(Accepted {
            user_id: user.id,
            email,
            roles,
        })
    }
}

/// What an invitation mail invites to.
enum Invited<'a> {
    /// To hold a role at an organisation.
    Role {
        role: &'a str,
        organisation: &'a str,
    },
    /// To register the account a REST client made.
    Register,
    /// To complete the account the reader tried to register (it waits for registration).
    Complete,
}
