//! CustomerID delegations: a user of an organisation that received a mandate passes the
//! mandated role on to another user (GET115, GET116, GET122; create and delete).

use super::mandates::mandate_attributes;
use super::*;
use accord_domain::customer_id::Delegation;

/// Which delegations a list asks for.
#[derive(Debug, Clone, Copy)]
pub enum DelegationList<'a> {
    All,
    /// GET115: those the user received.
    ReceivedByUser(&'a str),
}

/// The spec's GET116 sample, in its order (`role`, `mandatee`, `mandate`, `mandateruser`,
/// `mandaterorganization`), then `id` and `user` (who received it), which the sample
/// leaves out.
fn delegation_attributes(d: &Delegation, m: &Mandate) -> Attributes {
    let mut a: Attributes = vec![];
    push(&mut a, "role", m.role_id.to_string());
    if let Party::Organization(o) = &m.mandatee {
        push(&mut a, "mandatee", o.to_string());
    }
    push(&mut a, "mandate", m.id.to_string());
    push(&mut a, "mandateruser", d.delegator.to_string());
    if let Party::Organization(o) = &m.mandater {
        push(&mut a, "mandaterorganization", o.to_string());
    }
    push(&mut a, "id", d.id.to_string());
    push(&mut a, "user", d.delegate.to_string());
    a
}

impl Services {
    /// Whether the caller sees a delegation: through the organisation that received the
    /// mandate, or the user who received the delegation.
    async fn delegation_visible(
        &self,
        tx: &mut dyn Tx,
        scope: &Scope,
        d: &Delegation,
        m: &Mandate,
    ) -> Result<bool> {
        Ok(self.party_visible(tx, scope, &m.mandatee).await?
            || self
                .party_visible(tx, scope, &Party::User(d.delegate))
                .await?)
    }

    /// Create Delegation: `mandate` (an active mandate to an organisation), `mandateruser`
    /// (a user of that organisation, who passes the role on) and `user` (who receives it).
    /// The caller must see the mandatee organisation.
    pub async fn cid_create_delegation(
        &self,
        actor: &Actor,
        params: &[(String, String)],
    ) -> Result<String> {
        let p = SingleParams::parse(params, &["mandate", "mandateruser", "user"])?;
        let mandate_id = p.required("mandate")?;
        let user_param = |k: &str| -> Result<UserId> {
            p.required(k)?
                .parse()
                .map_err(|_| Error::invalid(format!("{k} is not a user ID")))
        };
        let delegator = user_param("mandateruser")?;
        let delegate = user_param("user")?;
        if delegator == delegate {
            return Err(Error::invalid("a user cannot delegate to themselves"));
        }
        let now = self.clock.now();
        let mut tx = self.store.begin(Mode::Write).await?;
        let (scope, _) = self.cid_scope(tx.as_mut(), actor).await?;
        let mandate = tx
            .mandates()
            .await?
            .into_iter()
            .find(|m| mandate_id.parse().ok() == Some(m.id))
            .ok_or_else(|| Error::bad_reference("mandate names no mandate"))?;
        let Party::Organization(mandatee) = mandate.mandatee else {
            return Err(Error::invalid(
                "only a mandate given to an organization can be delegated",
            ));
        };
        if !self
            .party_visible(tx.as_mut(), &scope, &mandate.mandatee)
            .await?
        {
            return Err(Error::bad_reference("mandate names no mandate"));
        }
        if mandate.status(now) != "active" {
            return Err(Error::invalid(format!(
                "the mandate is {}, not active",
                mandate.status(now)
            )));
        }
        let delegator_user = tx
            .user_by_id(delegator)
            .await?
            .ok_or_else(|| Error::bad_reference("mandateruser names no user"))?;
        if delegator_user.home_organization_id != Some(mandatee) {
            return Err(Error::invalid(
                "mandateruser must belong to the organization that received the mandate",
            ));
        }
        let delegate_user = tx
            .user_by_id(delegate)
            .await?
            .ok_or_else(|| Error::bad_reference("user names no user"))?;
        if delegate_user.email.is_none() {
            return Err(Error::invalid("an anonymous user cannot hold a role"));
        }
        if !self
            .party_visible(tx.as_mut(), &scope, &Party::User(delegate))
            .await?
        {
            return Err(Error::bad_reference("user names nobody you can see"));
        }
        let d = Delegation {
            id: DelegationId::new(),
            mandate_id: mandate.id,
            delegator,
            delegate,
            created_at: now,
        };
        tx.insert_delegation(&d).await.map_err(|e| match e {
            Error::Conflict(_) => {
                Error::Conflict("the user already holds this mandate by delegation".into())
            }
            other => other,
        })?;
        self.log_action(
            tx.as_mut(),
            mandatee,
            "configuration",
            &actor_label(actor),
            &format!(
                "user {delegator} delegated mandate {} to user {delegate}",
                mandate.id
            ),
        )
        .await?;
        tx.commit().await?;
        Ok(d.id.to_string())
    }

    /// Delete Delegation: the caller must see the organisation that received the mandate.
    pub async fn cid_delete_delegation(&self, actor: &Actor, id: DelegationId) -> Result<String> {
        let mut tx = self.store.begin(Mode::Write).await?;
        let (scope, _) = self.cid_scope(tx.as_mut(), actor).await?;
        let d = tx
            .delegations()
            .await?
            .into_iter()
            .find(|d| d.id == id)
            .ok_or_else(|| not_found("delegation"))?;
        let mandate = tx
            .mandates()
            .await?
            .into_iter()
            .find(|m| m.id == d.mandate_id)
            .ok_or_else(|| not_found("delegation"))?;
        if !self
            .party_visible(tx.as_mut(), &scope, &mandate.mandatee)
            .await?
        {
            return Err(not_found("delegation"));
        }
        tx.delete_delegation(id).await?;
        if let Party::Organization(o) = mandate.mandatee {
            self.log_action(
                tx.as_mut(),
                o,
                "configuration",
                &actor_label(actor),
                &format!("withdrew delegation {id} of mandate {}", mandate.id),
            )
            .await?;
        }
        tx.commit().await?;
        Ok(id.to_string())
    }

    /// GET116: one delegation visible to the caller.
    pub async fn cid_delegation(&self, actor: &Actor, id: &str) -> Result<Attributes> {
        self.cid_delegations(actor, DelegationList::All)
            .await?
            .into_iter()
            .find(|a| value_of(a, "id") == Some(id))
            .ok_or_else(|| not_found("delegation"))
    }

    /// `GET /delegations`, GET115: delegations visible to the caller.
    pub async fn cid_delegations(
        &self,
        actor: &Actor,
        list: DelegationList<'_>,
    ) -> Result<Vec<Attributes>> {
        let receiver = match list {
            DelegationList::All => None,
            DelegationList::ReceivedByUser(u) => Some(self.require_visible_user(actor, u).await?),
        };
        let mut tx = self.store.begin(Mode::Read).await?;
        let (scope, _) = self.cid_scope(tx.as_mut(), actor).await?;
        let visible = self
            .visible_delegations(tx.as_mut(), &scope, receiver)
            .await?;
        tx.commit().await?;
        Ok(visible
            .iter()
            .map(|(d, m)| delegation_attributes(d, m))
            .collect())
    }

    /// GET122: the mandates delegated to a user. (mandate, user) is unique, so each
    /// mandate appears once.
    pub async fn cid_delegated_mandates(
        &self,
        actor: &Actor,
        user: &str,
    ) -> Result<Vec<Attributes>> {
        let now = self.clock.now();
        let receiver = self.require_visible_user(actor, user).await?;
        let mut tx = self.store.begin(Mode::Read).await?;
        let (scope, tree) = self.cid_scope(tx.as_mut(), actor).await?;
        let mut out = vec![];
        for (_, m) in self
            .visible_delegations(tx.as_mut(), &scope, Some(receiver))
            .await?
        {
            let name = self.party_name(tx.as_mut(), &tree, &m.mandatee).await?;
            out.push(mandate_attributes(&m, &name, now));
        }
        tx.commit().await?;
        Ok(out)
    }

    /// The delegations the caller may see (those `receiver` got, if given), each with its
    /// mandate.
    async fn visible_delegations(
        &self,
        tx: &mut dyn Tx,
        scope: &Scope,
        receiver: Option<UserId>,
    ) -> Result<Vec<(Delegation, Mandate)>> {
        let mandates = tx.mandates().await?;
        let mut out = vec![];
        for d in tx.delegations().await? {
            if receiver.is_some_and(|r| r != d.delegate) {
                continue;
            }
            let Some(m) = mandates.iter().find(|m| m.id == d.mandate_id) else {
                continue;
            };
            if self.delegation_visible(tx, scope, &d, m).await? {
                out.push((d, m.clone()));
            }
        }
        Ok(out)
    }
}
