//! Organisation action logs: admin logins, configuration changes, reads of who consents
//! and how many subscribe, webhook deliveries. Read by the Admin and the Dpo.

use accord_domain::access::{OrgAction, OrgStanding};
use accord_domain::webhook::ActionLog;
use accord_domain::{Error, OrganizationId, Result};
use accord_store::Mode;

use super::{Actor, Services};

pub struct LogPage {
    pub logs: Vec<ActionLog>,
    pub next_start: Option<String>,
}

impl Services {
    pub async fn organization_logs(
        &self,
        actor: &Actor,
        org: OrganizationId,
        limit: Option<i64>,
        start: Option<&str>,
    ) -> Result<LogPage> {
        let limit = super::paging::page_limit(limit)?;
        let mut tx = self.store.begin(Mode::Read).await?;
        let (org, standing, _) = self.standing_in(tx.as_mut(), actor, org).await?;
        require_log_reader(&standing)?;
        let mut logs = tx
            .action_logs(org.id, start.filter(|s| !s.is_empty()), limit + 1)
            .await?;
        tx.commit().await?;
        let more = logs.len() as i64 > limit;
        logs.truncate(limit as usize);
        let next_start = if more {
            logs.last().map(|l| l.id.clone())
        } else {
            None
        };
        Ok(LogPage { logs, next_start })
    }
}

fn require_log_reader(standing: &OrgStanding) -> Result<()> {
    if standing.may(OrgAction::ReadLogs) {
        Ok(())
    } else {
        Err(Error::Forbidden(
            "only the Admin and the Dpo read the action log".into(),
        ))
    }
}
