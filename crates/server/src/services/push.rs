//! Push notifications to a user's device (the User object's `Client.Token`/`Type`).
//! Accord ships no push provider: the default writes a line to the log. An operator who
//! wants real pushes implements `PushNotifier` (APNs, FCM …) and passes it in.

use accord_domain::Result;
use async_trait::async_trait;

#[async_trait]
pub trait PushNotifier: Send + Sync + 'static {
    async fn push(
        &self,
        client_token: &str,
        client_type: i64,
        title: &str,
        body: &str,
    ) -> Result<()>;
}

/// Logs that a push would have been sent (the device token itself is not logged).
pub struct LogPush;

#[async_trait]
impl PushNotifier for LogPush {
    async fn push(
        &self,
        _client_token: &str,
        client_type: i64,
        title: &str,
        _body: &str,
    ) -> Result<()> {
        tracing::info!(
            client_type,
            title,
            "push notification not sent: no push provider configured"
        );
        Ok(())
    }
}
