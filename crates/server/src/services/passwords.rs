//! Password hashing: argon2id, always off the async runtime, at most one hash per core at
//! a time (a login storm queues here instead of starving every other request).

use std::sync::Arc;

use accord_domain::identity::Password;
use accord_domain::{Error, Result};
use argon2::password_hash::{PasswordHash, PasswordHasher as _, PasswordVerifier as _, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use tokio::sync::Semaphore;

/// Argon2id cost parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PasswordHashParams {
    pub memory_kib: u32,
    pub iterations: u32,
    pub parallelism: u32,
}

impl PasswordHashParams {
    /// OWASP's recommendation for argon2id (m=19 MiB, t=2, p=1).
    pub const OWASP: Self = Self {
        memory_kib: 19456,
        iterations: 2,
        parallelism: 1,
    };

    /// For test builds only: cheap enough that a suite of hundreds of logins stays fast.
    /// Not compiled into release builds.
    #[cfg(debug_assertions)]
    pub const DANGER_TEST_MINIMUM: Self = Self {
        memory_kib: 64,
        iterations: 1,
        parallelism: 1,
    };
}

pub struct Verified {
    pub ok: bool,
    /// The stored hash used other parameters than today's: store a fresh one.
    pub needs_rehash: bool,
}

pub struct PasswordHasher {
    params: Params,
    permits: Arc<Semaphore>,
    /// Verified against when the account does not exist, so that an unknown username
    /// costs the same time as a wrong password.
    dummy_hash: String,
}

impl PasswordHasher {
    pub fn new(p: PasswordHashParams) -> Result<Self> {
        let params = Params::new(p.memory_kib, p.iterations, p.parallelism, None)
            .map_err(|e| Error::internal(format!("argon2 parameters: {e}")))?;
        let cores = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1);
        let mut hasher = Self {
            params,
            permits: Arc::new(Semaphore::new(cores)),
            dummy_hash: String::new(),
        };
        hasher.dummy_hash = hasher.hash_blocking("accord-dummy-password")?;
        Ok(hasher)
    }

    fn argon2(&self) -> Argon2<'static> {
        Argon2::new(Algorithm::Argon2id, Version::V0x13, self.params.clone())
    }

    fn hash_blocking(&self, password: &str) -> Result<String> {
        let salt = SaltString::generate(&mut rand::rngs::OsRng);
        self.argon2()
            .hash_password(password.as_bytes(), &salt)
            .map(|h| h.to_string())
            .map_err(|e| Error::internal(format!("argon2: {e}")))
    }

    pub async fn hash(self: &Arc<Self>, password: &Password) -> Result<String> {
        let _permit = self.permits.acquire().await.map_err(Error::internal)?;
        let this = Arc::clone(self);
        let password = password.clone();
        tokio::task::spawn_blocking(move || this.hash_blocking(password.expose()))
            .await
            .map_err(Error::internal)?
    }

    /// Verifies `password` against `stored` (or against a dummy when there is no account).
    pub async fn verify(
        self: &Arc<Self>,
        password: &Password,
        stored: Option<&str>,
    ) -> Result<Verified> {
        let _permit = self.permits.acquire().await.map_err(Error::internal)?;
        let this = Arc::clone(self);
        let password = password.clone();
        let exists = stored.is_some();
        let stored = stored.unwrap_or(&self.dummy_hash).to_owned();
        tokio::task::spawn_blocking(move || {
            let Ok(parsed) = PasswordHash::new(&stored) else {
                // A corrupt hash still costs one hash, and never matches.
                let _ = this.hash_blocking(password.expose());
                return Ok(Verified {
                    ok: false,
                    needs_rehash: false,
                });
            };
            let ok = this
                .argon2()
                .verify_password(password.expose().as_bytes(), &parsed)
                .is_ok()
                && exists;
            let same_cost = |p: Params| {
                (p.m_cost(), p.t_cost(), p.p_cost())
                    == (
                        this.params.m_cost(),
                        this.params.t_cost(),
                        this.params.p_cost(),
                    )
            };
            let needs_rehash = ok && !Params::try_from(&parsed).map(same_cost).unwrap_or(false);
            Ok(Verified { ok, needs_rehash })
        })
        .await
        .map_err(Error::internal)?
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn hashes_verify_and_report_outdated_parameters() {
        let cheap = Arc::new(PasswordHasher::new(PasswordHashParams::DANGER_TEST_MINIMUM).unwrap());
        let pw = Password::new_for("correct horse", None).unwrap();
        let hash = cheap.hash(&pw).await.unwrap();
        assert!(hash.starts_with("$argon2id$"));
        let v = cheap.verify(&pw, Some(&hash)).await.unwrap();
        assert!(v.ok && !v.needs_rehash);
        let wrong = Password::offered("wrong horse").unwrap();
        assert!(!cheap.verify(&wrong, Some(&hash)).await.unwrap().ok);
        // The dummy never matches, even for its own password.
        let dummy = Password::offered("accord-dummy-password").unwrap();
        assert!(!cheap.verify(&dummy, None).await.unwrap().ok);
        assert!(!cheap.verify(&pw, Some("not a hash")).await.unwrap().ok);

        let stronger = PasswordHashParams {
            memory_kib: 128,
            ..PasswordHashParams::DANGER_TEST_MINIMUM
        };
        let stronger = Arc::new(PasswordHasher::new(stronger).unwrap());
        let v = stronger.verify(&pw, Some(&hash)).await.unwrap();
        assert!(v.ok && v.needs_rehash);
    }
}
