//! The server's own keys: token-signing keys and sealing secrets.

use super::prelude::*;

#[derive(Clone)]
pub struct SigningKeyRecord {
    pub id: String,
    pub algorithm: String,
    /// PKCS#8 document. Never logged.
    pub private_key: Vec<u8>,
    pub public_key: Vec<u8>,
    pub created_at: DateTime<Utc>,
}

impl std::fmt::Debug for SigningKeyRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKeyRecord")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

#[async_trait]
pub trait KeysTx: Send {
    async fn signing_keys(&mut self) -> Result<Vec<SigningKeyRecord>>;
    /// Holds the signing keys until the unit of work ends, so that nodes starting together
    /// on an empty database make one key between them.
    async fn lock_signing_keys(&mut self) -> Result<()>;
    async fn insert_signing_key(&mut self, key: &SigningKeyRecord) -> Result<()>;
    async fn server_secret(&mut self, name: &str) -> Result<Option<String>>;
    /// Keeps the first value stored under a name (nodes starting together may race).
    async fn insert_server_secret_if_absent(
        &mut self,
        name: &str,
        value: &str,
        now: DateTime<Utc>,
    ) -> Result<()>;
}
