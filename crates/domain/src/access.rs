//! Who may do what to an organisation: the rules behind `docs/permissions.md`, decided
//! from the caller's roles in that organisation. Services ask; handlers never do.

use crate::identity::OrgRole;

/// What a caller is to one organisation.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OrgStanding {
    pub roles: Vec<OrgRole>,
    pub platform_admin: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OrgAction {
    /// Settings that are not public: subscribe method, subscription status, role holders.
    ReadConfiguration,
    /// The subscription key itself.
    ReadSubscribeKey,
    /// Change the organisation: profile, EULA, images, subscription settings, purposes,
    /// templates, role holders, adding users, anonymous users.
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
}

impl OrgStanding {
    pub fn has(&self, role: OrgRole) -> bool {
        self.roles.contains(&role)
    }

    pub fn is_member(&self) -> bool {
        !self.roles.is_empty()
    }

    pub fn may(&self, action: OrgAction) -> bool {
        use OrgRole::{Admin, Developer, Dpo};
        let any = |roles: &[OrgRole]| roles.iter().any(|r| self.has(*r));
        match action {
            OrgAction::ReadConfiguration => self.platform_admin || any(&[Admin, Dpo, Developer]),
            OrgAction::ReadSubscribeKey => self.platform_admin || any(&[Admin, Developer]),
            OrgAction::Configure => any(&[Admin]),
            OrgAction::ToggleSubscription => self.platform_admin || any(&[Admin]),
            OrgAction::ListUsers => any(&[Admin, Dpo]),
            OrgAction::CountUsers => any(&[Admin, Dpo, Developer]),
            OrgAction::ReadPersonalData => any(&[Admin, Dpo]),
        }
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
