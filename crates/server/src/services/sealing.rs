//! Secrets Accord must be able to read back (an organisation's OpenID client secret) are
//! stored sealed: AES-256-GCM with a random nonce, bound to what they belong to (the
//! associated data), so a sealed value copied to another row does not open.
//!
//! The key is the operator's `ACCORD_SECRET_KEY` when set; otherwise one is generated on
//! first start and kept in the database (`server_secrets`), like the signing keys. The
//! trade-off is in `docs/federation.md`: a key in the database protects column and
//! export leaks, not a full database copy; a key from the environment protects both.

use accord_domain::{Error, Result};
use accord_store::{Mode, Store};
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine as _;
use chrono::{DateTime, Utc};
use ring::aead::{Aad, LessSafeKey, Nonce, UnboundKey, AES_256_GCM, NONCE_LEN};
use ring::rand::{SecureRandom, SystemRandom};
use sha2::{Digest, Sha256};

const GENERATED_KEY_NAME: &str = "sealing-key";
const VERSION: &str = "v1";

pub struct Sealer {
    key: LessSafeKey,
    /// Names the key in every sealed value, so a value sealed under another key is
    /// recognised as such instead of failing as corrupt.
    key_id: String,
    /// Keys that open but never seal, by their IDs: the operator's previous key while a
    /// rotation re-seals (`ACCORD_SECRET_KEY_PREVIOUS`), and the key kept in the database
    /// once the operator's own key replaced it (docs/operations.md, "Keys").
    previous: Vec<(String, LessSafeKey)>,
    rng: SystemRandom,
}

impl Sealer {
    /// The operator's key (base64 of 32 bytes), or the one kept in the database; the
    /// operator's previous key, and a key kept in the database that the operator's
    /// replaced, open what they sealed.
    pub async fn load(
        store: &dyn Store,
        configured: Option<&str>,
        previous: Option<&str>,
        now: DateTime<Utc>,
    ) -> Result<Self> {
        let mut tx = store.begin(Mode::Write).await?;
        let mut stored = tx.server_secret(GENERATED_KEY_NAME).await?;
        if configured.is_none() && stored.is_none() {
            let mut fresh = [0u8; 32];
            SystemRandom::new()
                .fill(&mut fresh)
                .map_err(|_| Error::internal("no randomness"))?;
            tx.insert_server_secret_if_absent(GENERATED_KEY_NAME, &STANDARD.encode(fresh), now)
                .await?;
            stored = tx.server_secret(GENERATED_KEY_NAME).await?;
        }
        tx.commit().await?;
        let stored = stored
            .map(|k| {
                STANDARD
                    .decode(k)
                    .ok()
                    .filter(|k| k.len() == 32)
                    .ok_or_else(|| Error::internal("the stored sealing key is corrupt"))
            })
            .transpose()?;
        let operators = |k: &str, name: &str| {
            STANDARD
                .decode(k.trim())
                .ok()
                .filter(|k| k.len() == 32)
                .ok_or_else(|| {
                    Error::invalid(format!(
                        "{name} must be 32 bytes in base64 (openssl rand -base64 32)"
                    ))
                })
        };
        let previous = previous
            .map(|k| operators(k, "ACCORD_SECRET_KEY_PREVIOUS"))
            .transpose()?;
        let (current, mut openers) = match configured {
            Some(k) => (operators(k, "ACCORD_SECRET_KEY")?, vec![previous, stored]),
            None => (
                stored.ok_or_else(|| Error::internal("sealing key vanished"))?,
                vec![previous],
            ),
        };
        openers.retain(|k| k.as_ref().is_some_and(|k| *k != current));
        let mut sealer = Self::from_bytes(&current)?;
        for raw in openers.into_iter().flatten() {
            let old = Self::from_bytes(&raw)?;
            sealer.previous.push((old.key_id, old.key));
        }
        Ok(sealer)
    }

    pub fn from_bytes(raw: &[u8]) -> Result<Self> {
        let unbound =
            UnboundKey::new(&AES_256_GCM, raw).map_err(|_| Error::internal("bad sealing key"))?;
        let key_id = hex8(&Sha256::digest(raw));
        Ok(Self {
            key: LessSafeKey::new(unbound),
            key_id,
            previous: Vec::new(),
            rng: SystemRandom::new(),
        })
    }

    /// Is this value sealed under the key that seals now?
    pub fn is_current(&self, sealed: &str) -> bool {
        sealed.split('.').nth(1) == Some(self.key_id.as_str())
    }

    /// `v1.<key id>.<base64url(nonce ‖ ciphertext ‖ tag)>`
    pub fn seal(&self, plaintext: &str, bound_to: &str) -> Result<String> {
        let mut nonce = [0u8; NONCE_LEN];
        self.rng
            .fill(&mut nonce)
            .map_err(|_| Error::internal("no randomness"))?;
        let mut data = plaintext.as_bytes().to_vec();
        self.key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce),
                Aad::from(bound_to.as_bytes()),
                &mut data,
            )
            .map_err(|_| Error::internal("sealing failed"))?;
        let mut out = nonce.to_vec();
        out.extend_from_slice(&data);
        Ok(format!(
            "{VERSION}.{}.{}",
            self.key_id,
            URL_SAFE_NO_PAD.encode(out)
        ))
    }

    pub fn open(&self, sealed: &str, bound_to: &str) -> Result<String> {
        let mut parts = sealed.splitn(3, '.');
        let (Some(VERSION), Some(key_id), Some(body)) = (parts.next(), parts.next(), parts.next())
        else {
            return Err(Error::internal("a sealed secret is malformed"));
        };
        let key = if key_id == self.key_id {
            &self.key
        } else if let Some((_, key)) = self.previous.iter().find(|(id, _)| id == key_id) {
            key
        } else {
            return Err(Error::internal(format!(
                "a secret was sealed under key {key_id}, this server has key {}: set it again, \
                 or start with the key it was sealed under (docs/federation.md)",
                self.key_id
            )));
        };
        let bytes = URL_SAFE_NO_PAD
            .decode(body)
            .map_err(|_| Error::internal("a sealed secret is malformed"))?;
        if bytes.len() < NONCE_LEN {
            return Err(Error::internal("a sealed secret is malformed"));
        }
        let (nonce, rest) = bytes.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce)
            .map_err(|_| Error::internal("a sealed secret is malformed"))?;
        let mut data = rest.to_vec();
        let plain = key
            .open_in_place(nonce, Aad::from(bound_to.as_bytes()), &mut data)
            .map_err(|_| Error::internal("a sealed secret does not open (tampered or moved)"))?;
        String::from_utf8(plain.to_vec())
            .map_err(|_| Error::internal("a sealed secret is not text"))
    }
}

fn hex8(digest: &[u8]) -> String {
    digest[..4].iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_secrets_open_only_where_they_belong() {
        let s = Sealer::from_bytes(&[7u8; 32]).unwrap();
        let sealed = s.seal("hunter2", "org-a").unwrap();
        assert!(!sealed.contains("hunter2"));
        assert_ne!(sealed, s.seal("hunter2", "org-a").unwrap(), "random nonce");
        assert_eq!(s.open(&sealed, "org-a").unwrap(), "hunter2");
        assert!(
            s.open(&sealed, "org-b").is_err(),
            "bound to its organisation"
        );
        let mut tampered = sealed.clone();
        let last = tampered.pop().unwrap();
        tampered.push(if last == 'A' { 'B' } else { 'A' });
        assert!(s.open(&tampered, "org-a").is_err());
        let mut other = Sealer::from_bytes(&[8u8; 32]).unwrap();
        let err = other.open(&sealed, "org-a").unwrap_err();
        assert!(format!("{err:?}").contains("sealed under key"), "{err:?}");
        // A previous key opens what it sealed; only the current key seals.
        let old = Sealer::from_bytes(&[7u8; 32]).unwrap();
        other.previous.push((old.key_id, old.key));
        assert_eq!(other.open(&sealed, "org-a").unwrap(), "hunter2");
        assert!(!other.is_current(&sealed));
        assert!(other.is_current(&other.seal("x", "org-a").unwrap()));
    }
}
