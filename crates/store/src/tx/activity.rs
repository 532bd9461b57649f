//! What happened: a person's notifications and an organisation's action log.

use super::prelude::*;

#[async_trait]
pub trait ActivityTx: Send {
    async fn insert_notification(&mut self, n: &Notification) -> Result<()>;
    /// The user's notifications, newest first, strictly before `before`.
    async fn notifications_of(
        &mut self,
        user: UserId,
        before: Option<&str>,
        limit: i64,
    ) -> Result<Vec<Notification>>;
    async fn mark_notification_read(
        &mut self,
        user: UserId,
        id: NotificationId,
        at: DateTime<Utc>,
    ) -> Result<bool>;
    async fn notification_by_id(
        &mut self,
        user: UserId,
        id: NotificationId,
    ) -> Result<Option<Notification>>;
    async fn insert_action_log(&mut self, log: &ActionLog) -> Result<()>;
    /// The organisation's log, newest first, strictly before `before`.
    async fn action_logs(
        &mut self,
        org: OrganizationId,
        before: Option<&str>,
        limit: i64,
    ) -> Result<Vec<ActionLog>>;
}
