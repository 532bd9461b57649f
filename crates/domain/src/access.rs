//! Who may do what: the rules behind `docs/permissions.md`, decided from the caller's
//! roles in the organisation concerned (and whether they are a platform admin), in one
//! table. Services ask; handlers never do. What a person may do to their own things (their
//! account, their record) and what a REST client may do in its subtree are the services'
//! own-or-scope checks; everything that rests on a role is here.

use crate::identity::OrgRole;

/// What a caller is to one organisation.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OrgStanding {
    pub roles: Vec<OrgRole>,
    pub platform_admin: bool,
}

/// Every action a caller's standing decides. Services ask [`OrgStanding::may`]; no rule
/// lives anywhere else, so a new endpoint cannot forget to ask.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrgAction {
    /// Settings that are not public: subscribe method, subscription status, role holders.
    ReadConfiguration,
    /// The subscription key itself.
    ReadSubscribeKey,
    /// Change the organisation: profile, EULA, images, subscription settings, purposes,
    /// templates, role holders, adding users, anonymous users, webhooks, consent requests.
    Configure,
    /// Open or close the organisation to subscriptions.
    ToggleSubscription,
    /// List the subscribed users.
    ListUsers,
    /// Count the subscribed users.
    CountUsers,
    /// See people's names, emails and phones on a list of them (consented users); without
    /// it a list shows their IDs only. Least privilege: a Developer's work needs IDs.
    ReadPersonalData,
    /// Read another person's consent record with the organisation.
    ReadConsentsOfOthers,
    /// Change another person's consent (recorded as the organisation's change).
    ChangeConsentsOfOthers,
    /// Read the organisation's consent history, verify its ledger, read its receipts.
    ReadConsentHistory,
    /// List who consents to a purpose or attribute.
    ListConsentingUsers,
    /// Read the organisation's action log.
    ReadLogs,
    /// See the people's data requests (copy, erasure) and answer them.
    AnswerDataRequests,
    /// Tell every subscriber of a personal data breach (GDPR Art. 34) or an event.
    NotifySubscribers,
    /// Offer the Admin role of an organisation left without one (the service checks that
    /// it has none).
    AppointAdmin,
    /// Platform-wide: create, rename, delete organisation types and set their images.
    ManageOrganizationTypes,
    /// Platform-wide: call the CustomerID API with a user's access token.
    UseCustomerIdApi,
}

/// The one table: who may take each action, as (Admin, Dpo, Developer, platform admin) of
/// the organisation concerned. `docs/permissions.md` is this table in words and statuses.
const fn rule(action: OrgAction) -> [bool; 4] {
    use OrgAction::*;
    match action {
        ReadConfiguration => [true, true, true, true],
        ReadSubscribeKey => [true, false, true, true],
        Configure => [true, false, false, false],
        ToggleSubscription => [true, false, false, true],
        ListUsers => [true, true, false, false],
        CountUsers => [true, true, true, false],
        ReadPersonalData => [true, true, false, false],
        ReadConsentsOfOthers => [true, true, false, false],
        ChangeConsentsOfOthers => [true, false, false, false],
        ReadConsentHistory => [true, true, false, false],
        ListConsentingUsers => [true, true, true, false],
        ReadLogs => [true, true, false, false],
        AnswerDataRequests => [true, true, false, false],
        NotifySubscribers => [true, true, false, false],
        AppointAdmin => [false, false, false, true],
        ManageOrganizationTypes => [false, false, false, true],
        UseCustomerIdApi => [false, false, false, true],
    }
}

impl OrgStanding {
    /// A caller's standing where no organisation is concerned (platform-wide actions).
    pub fn platform(platform_admin: bool) -> Self {
        Self {
            roles: vec![],
            platform_admin,
        }
    }

    pub fn has(&self, role: OrgRole) -> bool {
        self.roles.contains(&role)
    }

    pub fn is_member(&self) -> bool {
        !self.roles.is_empty()
    }

    pub fn may(&self, action: OrgAction) -> bool {
        let [admin, dpo, developer, platform] = rule(action);
        (admin && self.has(OrgRole::Admin))
            || (dpo && self.has(OrgRole::Dpo))
            || (developer && self.has(OrgRole::Developer))
            || (platform && self.platform_admin)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn standing(roles: &[OrgRole], platform_admin: bool) -> OrgStanding {
        OrgStanding {
            roles: roles.to_vec(),
            platform_admin,
        }
    }

    #[test]
    fn the_permission_table() {
        use OrgAction::*;
        use OrgRole::*;
        let admin = standing(&[Admin], false);
        let dpo = standing(&[Dpo], false);
        let dev = standing(&[Developer], false);
        let platform = standing(&[], true);
        let stranger = standing(&[], false);
        // (action, admin, dpo, developer, platform admin, stranger)
        let table = [
            (ReadConfiguration, true, true, true, true, false),
            (ReadSubscribeKey, true, false, true, true, false),
            (Configure, true, false, false, false, false),
            (ToggleSubscription, true, false, false, true, false),
            (ListUsers, true, true, false, false, false),
            (CountUsers, true, true, true, false, false),
            (ReadPersonalData, true, true, false, false, false),
            (ReadConsentsOfOthers, true, true, false, false, false),
            (ChangeConsentsOfOthers, true, false, false, false, false),
            (ReadConsentHistory, true, true, false, false, false),
            (ListConsentingUsers, true, true, true, false, false),
            (ReadLogs, true, true, false, false, false),
            (AnswerDataRequests, true, true, false, false, false),
            (NotifySubscribers, true, true, false, false, false),
            (AppointAdmin, false, false, false, true, false),
            (ManageOrganizationTypes, false, false, false, true, false),
            (UseCustomerIdApi, false, false, false, true, false),
        ];
        for (action, a, d, v, p, s) in table {
            assert_eq!(admin.may(action), a, "admin {action:?}");
            assert_eq!(dpo.may(action), d, "dpo {action:?}");
            assert_eq!(dev.may(action), v, "developer {action:?}");
            assert_eq!(platform.may(action), p, "platform admin {action:?}");
            assert_eq!(stranger.may(action), s, "stranger {action:?}");
        }
    }
}
