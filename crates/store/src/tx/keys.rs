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
    /// Retired: signs nothing and admits no one; its private half is erased, its public
    /// half kept for the receipts and checkpoints it signed.
    pub retired_at: Option<DateTime<Utc>>,
    /// Retired because its private half may be known to others: not even its receipts are
    /// vouched for, and the JWKS no longer lists it.
    pub compromised: bool,
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
    /// Retires a key (erasing its private half), or marks a retired one compromised.
    /// `false` when there is no such key.
    async fn retire_signing_key(
        &mut self,
        id: &str,
        now: DateTime<Utc>,
        compromised: bool,
    ) -> Result<bool>;
    async fn server_secret(&mut self, name: &str) -> Result<Option<String>>;
    /// Keeps the first value stored under a name (nodes starting together may race).
    async fn insert_server_secret_if_absent(
        &mut self,
        name: &str,
        value: &str,
        now: DateTime<Utc>,
    ) -> Result<()>;
}
