//! Signed tokens. Access tokens and APIKeys are EdDSA (Ed25519) JWTs. The key is generated
//! on first start and kept in the database, so every node signs and verifies with the same
//! keys and the operator has no key file to manage. Public keys are published as a JWKS.
//!
//! A signature alone never admits anyone: an access token names its session and an APIKey
//! its key revision, both checked against the database on every request, so logout,
//! revocation and rotation bite at once on every node.

use std::collections::HashMap;

use accord_domain::{Error, OrganizationId, Result, SessionId, UserId};
use accord_store::{Mode, SigningKeyRecord, Store};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use chrono::{DateTime, Utc};
use jsonwebtoken::{Algorithm, DecodingKey, Header, Validation};
use ring::signature::{Ed25519KeyPair, KeyPair as _};
use serde::{Deserialize, Serialize};

const ALGORITHM: &str = "EdDSA";
const ACCESS: &str = "access";
const APIKEY: &str = "apikey";

#[derive(Debug, Serialize, Deserialize)]
pub struct AccessClaims {
    pub iss: String,
    pub sub: UserId,
    pub sid: SessionId,
    pub iat: i64,
    pub exp: i64,
    pub typ: String,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct ApiKeyClaims {
    pub iss: String,
    pub sub: UserId,
    /// The user's key revision when it was issued; rotation and revocation bump it.
    pub rev: i64,
    pub iat: i64,
    pub typ: String,
}

struct VerifyingKey {
    decoding: DecodingKey,
    public_raw: Vec<u8>,
}

/// The keys as the database held them when last read (docs/operations.md, "Keys").
struct KeyRing {
    /// The newest live key signs, parsed once: jsonwebtoken's `encode` rebuilds an
    /// Ed25519 key pair from its PKCS#8 document on every call, which costs as much as
    /// the signature.
    signing: ring::signature::Ed25519KeyPair,
    /// The JOSE header of every token signed here, base64url-encoded once.
    signing_header: String,
    /// Live keys: they admit access tokens and APIKeys.
    live: HashMap<String, VerifyingKey>,
    /// Every key not compromised: receipts and checkpoints verify against them, and the
    /// JWKS publishes them (a retired key's receipts still verify).
    published: HashMap<String, VerifyingKey>,
    /// (id, retired, compromised) of every key, to tell whether a reload changed anything.
    states: Vec<(String, bool, bool)>,
}

pub struct TokenService {
    issuer: String,
    ring: std::sync::RwLock<std::sync::Arc<KeyRing>>,
    /// When the keys were last read (by the server's clock), for
    /// [`TokenService::refresh`]'s throttle.
    loaded_at: std::sync::Mutex<DateTime<Utc>>,
    /// Tokens whose signature verified, by SHA-256: an Ed25519 verification costs more
    /// than the rest of a consent read's CPU. A reload that retires a key empties it;
    /// expiry is checked on every use.
    verified: std::sync::Mutex<HashMap<[u8; 32], Verified>>,
}

/// What a verified token said, as far as authentication needs it.
#[derive(Debug, Clone, Copy)]
enum Verified {
    Access {
        sub: UserId,
        sid: SessionId,
        exp: i64,
    },
    ApiKey {
        sub: UserId,
        rev: i64,
    },
}

/// Verified tokens kept before the cache starts over.
const MAX_VERIFIED: usize = 100_000;

/// The fewest seconds between two reads of the keys a token naming an unknown key may
/// cause: such tokens cost an attacker nothing to make.
pub const UNKNOWN_KEY_RELOAD: std::time::Duration = std::time::Duration::from_secs(5);
/// How often every node reads the keys anyway (the background workers): a key another
/// node rotated in signs here within this, and a retired one stops admitting.
pub const KEY_RELOAD: std::time::Duration = std::time::Duration::from_secs(60);

impl TokenService {
    /// Loads the signing keys, generating the first one if there is none. The keys are
    /// held while looking: nodes starting together on an empty database make one key
    /// between them (each making its own, a node knew only its own key and refused the
    /// tokens the others signed).
    pub async fn load(store: &dyn Store, issuer: &str, now: DateTime<Utc>) -> Result<Self> {
        let mut tx = store.begin(Mode::Write).await?;
        tx.lock_signing_keys().await?;
        if !tx
            .signing_keys()
            .await?
            .iter()
            .any(|k| k.retired_at.is_none())
        {
            tx.insert_signing_key(&generate_key(now)?).await?;
        }
        let keys = tx.signing_keys().await?;
        tx.commit().await?;
        Self::from_keys(&keys, issuer, now)
    }

    fn from_keys(keys: &[SigningKeyRecord], issuer: &str, now: DateTime<Utc>) -> Result<Self> {
        Ok(Self {
            issuer: issuer.to_owned(),
            ring: std::sync::RwLock::new(std::sync::Arc::new(KeyRing::of(keys)?)),
            loaded_at: std::sync::Mutex::new(now),
            verified: Default::default(),
        })
    }

    fn ring(&self) -> std::sync::Arc<KeyRing> {
        std::sync::Arc::clone(&self.ring.read().unwrap_or_else(|e| e.into_inner()))
    }

    /// Reads the keys again unless they were read less than `at_most_every` ago: a key
    /// rotated in on another node signs here from then on, and a retired key admits no
    /// one (the tokens it verified are forgotten). Says whether anything changed.
    pub async fn refresh(
        &self,
        store: &dyn Store,
        now: DateTime<Utc>,
        at_most_every: std::time::Duration,
    ) -> Result<bool> {
        {
            let mut loaded = self.loaded_at.lock().unwrap_or_else(|e| e.into_inner());
            let every = chrono::Duration::from_std(at_most_every).map_err(Error::internal)?;
            if now - *loaded < every {
                return Ok(false);
            }
            *loaded = now;
        }
        let mut tx = store.begin(Mode::Read).await?;
        let keys = tx.signing_keys().await?;
        tx.commit().await?;
        let fresh = KeyRing::of(&keys)?;
        let old = self.ring();
        if fresh.states == old.states {
            return Ok(false);
        }
        let lost_a_key = old.live.keys().any(|kid| !fresh.live.contains_key(kid));
        *self.ring.write().unwrap_or_else(|e| e.into_inner()) = std::sync::Arc::new(fresh);
        if lost_a_key {
            self.verified.lock().expect("verified tokens").clear();
        }
        tracing::info!("signing keys reloaded");
        Ok(true)
    }

    /// Does this token name a key this node does not know (one another node may have
    /// made since this one last read the keys)?
    pub fn names_unknown_key(&self, token: &str) -> bool {
        jsonwebtoken::decode_header(token)
            .ok()
            .and_then(|h| h.kid)
            .is_some_and(|kid| !self.ring().published.contains_key(&kid))
    }

    fn cached(&self, token: &str) -> ([u8; 32], Option<Verified>) {
        use sha2::Digest as _;
        let key: [u8; 32] = sha2::Sha256::digest(token.as_bytes()).into();
        let hit = self
            .verified
            .lock()
            .expect("verified tokens")
            .get(&key)
            .copied();
        (key, hit)
    }

    fn remember(&self, key: [u8; 32], v: Verified) {
        let mut map = self.verified.lock().expect("verified tokens");
        if map.len() >= MAX_VERIFIED {
            map.clear();
        }
        map.insert(key, v);
    }

    /// (user, session) of a valid, unexpired access token.
    pub fn access_credential(&self, token: &str) -> Option<(UserId, SessionId)> {
        let (key, hit) = self.cached(token);
        let (sub, sid, exp) = match hit {
            Some(Verified::Access { sub, sid, exp }) => (sub, sid, exp),
            Some(Verified::ApiKey { .. }) => return None,
            None => {
                let c = self.verify_access_token(token)?;
                self.remember(
                    key,
                    Verified::Access {
                        sub: c.sub,
                        sid: c.sid,
                        exp: c.exp,
                    },
                );
                (c.sub, c.sid, c.exp)
            }
        };
        // The verification's rule (expired once `exp` is past, no leeway), on every use.
        ((jsonwebtoken::get_current_timestamp() as i64) <= exp).then_some((sub, sid))
    }

    /// (user, key revision) of a validly signed APIKey.
    pub fn api_key_credential(&self, key_text: &str) -> Option<(UserId, i64)> {
        let (key, hit) = self.cached(key_text);
        match hit {
            Some(Verified::ApiKey { sub, rev }) => Some((sub, rev)),
            Some(Verified::Access { .. }) => None,
            None => {
                let c = self.verify_api_key(key_text)?;
                self.remember(
                    key,
                    Verified::ApiKey {
                        sub: c.sub,
                        rev: c.rev,
                    },
                );
                Some((c.sub, c.rev))
            }
        }
    }

    /// A compact JWS (RFC 7515) of `claims` under the signing key: what
    /// `jsonwebtoken::encode` produces, with the key pair kept rather than rebuilt.
    fn sign<T: Serialize>(&self, claims: &T) -> Result<String> {
        let claims =
            serde_json::to_vec(claims).map_err(|e| Error::internal(format!("jwt: {e}")))?;
        let ring = self.ring();
        let mut token =
            String::with_capacity(ring.signing_header.len() + claims.len() * 4 / 3 + 90);
        token.push_str(&ring.signing_header);
        token.push('.');
        URL_SAFE_NO_PAD.encode_string(&claims, &mut token);
        let signature = ring.signing.sign(token.as_bytes());
        token.push('.');
        URL_SAFE_NO_PAD.encode_string(signature.as_ref(), &mut token);
        Ok(token)
    }

    /// A credential (access token, APIKey): only live keys admit.
    fn verify<T: serde::de::DeserializeOwned>(
        &self,
        token: &str,
        validation: &Validation,
    ) -> Option<T> {
        verify_with(&self.ring().live, token, validation)
    }

    fn validation(&self, expiring: bool) -> Validation {
        let mut v = Validation::new(Algorithm::EdDSA);
        v.set_issuer(&[&self.issuer]);
        v.leeway = 0;
        v.validate_exp = expiring;
        v.required_spec_claims = if expiring {
            ["exp", "iss", "sub"].as_slice()
        } else {
            ["iss", "sub"].as_slice()
        }
        .iter()
        .map(|s| s.to_string())
        .collect();
        v
    }

    pub fn access_token(
        &self,
        user: UserId,
        session: SessionId,
        now: DateTime<Utc>,
        ttl_secs: i64,
    ) -> Result<String> {
        self.sign(&AccessClaims {
            iss: self.issuer.clone(),
            sub: user,
            sid: session,
            iat: now.timestamp(),
            exp: now.timestamp() + ttl_secs,
            typ: ACCESS.into(),
        })
    }

    /// Checks signature, issuer, expiry and type; the session is the caller's to check.
    pub fn verify_access_token(&self, token: &str) -> Option<AccessClaims> {
        self.verify::<AccessClaims>(token, &self.validation(true))
            .filter(|c| c.typ == ACCESS)
    }

    /// Deterministic for a given user, revision and issue time (Ed25519 signatures are),
    /// so the key can be shown again without being stored.
    pub fn api_key(&self, user: UserId, revision: i64, issued_at: DateTime<Utc>) -> Result<String> {
        self.sign(&ApiKeyClaims {
            iss: self.issuer.clone(),
            sub: user,
            rev: revision,
            iat: issued_at.timestamp(),
            typ: APIKEY.into(),
        })
    }

    pub fn verify_api_key(&self, token: &str) -> Option<ApiKeyClaims> {
        self.verify::<ApiKeyClaims>(token, &self.validation(false))
            .filter(|c| c.typ == APIKEY)
    }

    /// A signed consent receipt: a JWS (compact JWT) over a history entry, verifiable
    /// against the JWKS. Deterministic, so it can be re-issued identically.
    /// An entry made under a purpose's version also signs the version and the hash of its
    /// wording: the receipt alone proves the words (an entry of format 1 has neither, and
    /// its receipt reads as it always did).
    pub fn consent_receipt(&self, e: &accord_domain::consent::HistoryEntry) -> Result<String> {
        let mut claims = serde_json::json!({
            "iss": self.issuer,
            "typ": "consent-receipt",
            "jti": e.id,
            "sub": e.user_id,
            "org": e.organization_id,
            "consent": e.consent_id,
            "purpose": e.purpose_id,
            "attribute": e.attribute_id,
            "value": e.new_value.as_str(),
            "previous": e.old_value.map(|v| v.as_str()),
            "days": e.days,
            "changed_by": e.changed_by.as_str(),
            "actor": e.actor_id,
            "iat": e.at.timestamp(),
            "seq": e.seq,
            "hash": e.hash,
            "prev_hash": e.prev_hash,
        });
        if let (Some(w), Some(map)) = (&e.wording, claims.as_object_mut()) {
            map.insert("purpose_version".into(), w.number.into());
            map.insert("wording_hash".into(), w.hash.clone().into());
        }
        self.sign(&claims)
    }

    /// A signed checkpoint of an organisation's ledger: its head's position and hash at a
    /// time. Kept outside the database, it shows any later rewrite of what it covers.
    pub fn ledger_checkpoint(
        &self,
        org: OrganizationId,
        seq: i64,
        hash: &str,
        now: DateTime<Utc>,
    ) -> Result<String> {
        self.sign(&serde_json::json!({
            "iss": self.issuer,
            "typ": "consent-checkpoint",
            "sub": org.to_string(),
            "org": org.to_string(),
            "seq": seq,
            "hash": hash,
            "iat": now.timestamp(),
        }))
    }

    /// A checkpoint or a consent receipt this server signed, as the ledger position and hash
    /// it vouches for (a receipt's entry hash covers every entry before it).
    pub fn ledger_statement(&self, token: &str) -> Option<(String, i64, String)> {
        #[derive(serde::Deserialize)]
        struct Statement {
            typ: String,
            org: String,
            seq: i64,
            hash: String,
        }
        // Any issuer: the key is what vouches, and the CLI need not know the public URL.
        let mut validation = Validation::new(Algorithm::EdDSA);
        validation.validate_exp = false;
        validation.required_spec_claims = std::iter::once("sub".to_owned()).collect();
        verify_with::<Statement>(&self.ring().published, token.trim(), &validation)
            .filter(|s| s.typ == "consent-checkpoint" || s.typ == "consent-receipt")
            .map(|s| (s.org, s.seq, s.hash))
    }

    /// The public keys, as a JSON Web Key Set (RFC 7517, OKP keys per RFC 8037).
    pub fn jwks(&self) -> serde_json::Value {
        let ring = self.ring();
        let mut keys: Vec<_> = ring.published.iter().collect();
        keys.sort_by(|a, b| a.0.cmp(b.0));
        serde_json::json!({
            "keys": keys.into_iter().map(|(kid, k)| serde_json::json!({
                "kty": "OKP",
                "crv": "Ed25519",
                "alg": ALGORITHM,
                "use": "sig",
                "kid": kid,
                "x": URL_SAFE_NO_PAD.encode(&k.public_raw),
            })).collect::<Vec<_>>()
        })
    }
}

fn verify_with<T: serde::de::DeserializeOwned>(
    keys: &HashMap<String, VerifyingKey>,
    token: &str,
    validation: &Validation,
) -> Option<T> {
    let header = jsonwebtoken::decode_header(token).ok()?;
    let key = keys.get(header.kid.as_deref()?)?;
    jsonwebtoken::decode::<T>(token, &key.decoding, validation)
        .ok()
        .map(|d| d.claims)
}

impl KeyRing {
    /// The newest live key signs; live keys admit; every key not compromised is published.
    fn of(keys: &[SigningKeyRecord]) -> Result<Self> {
        let newest = signing_key_of(keys).ok_or_else(|| Error::internal("no live signing key"))?;
        let signing =
            ring::signature::Ed25519KeyPair::from_pkcs8_maybe_unchecked(&newest.private_key)
                .map_err(|e| Error::internal(format!("signing key: {e}")))?;
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(newest.id.clone());
        let header =
            serde_json::to_vec(&header).map_err(|e| Error::internal(format!("jwt header: {e}")))?;
        let verifying = |k: &SigningKeyRecord| {
            let key = VerifyingKey {
                decoding: DecodingKey::from_ed_der(&k.public_key),
                public_raw: k.public_key.clone(),
            };
            (k.id.clone(), key)
        };
        let ours = || keys.iter().filter(|k| k.algorithm == ALGORITHM);
        Ok(Self {
            signing,
            signing_header: URL_SAFE_NO_PAD.encode(header),
            live: ours()
                .filter(|k| k.retired_at.is_none())
                .map(verifying)
                .collect(),
            published: ours().filter(|k| !k.compromised).map(verifying).collect(),
            states: keys
                .iter()
                .map(|k| (k.id.clone(), k.retired_at.is_some(), k.compromised))
                .collect(),
        })
    }
}

/// The key that signs: the newest live one.
pub fn signing_key_of(keys: &[SigningKeyRecord]) -> Option<&SigningKeyRecord> {
    keys.iter()
        .filter(|k| k.retired_at.is_none())
        .max_by(|a, b| (a.created_at, &a.id).cmp(&(b.created_at, &b.id)))
}

/// A new signing key, to sign from now on (`accord admin rotate-signing-key`).
pub fn new_signing_key(now: DateTime<Utc>) -> Result<SigningKeyRecord> {
    generate_key(now)
}

fn generate_key(now: DateTime<Utc>) -> Result<SigningKeyRecord> {
    let rng = ring::rand::SystemRandom::new();
    let pkcs8 = Ed25519KeyPair::generate_pkcs8(&rng)
        .map_err(|_| Error::internal("key generation failed"))?;
    let pair = Ed25519KeyPair::from_pkcs8(pkcs8.as_ref())
        .map_err(|_| Error::internal("key generation failed"))?;
    Ok(SigningKeyRecord {
        id: uuid::Uuid::now_v7().to_string(),
        algorithm: ALGORITHM.into(),
        private_key: pkcs8.as_ref().to_vec(),
        public_key: pair.public_key().as_ref().to_vec(),
        created_at: now,
        retired_at: None,
        compromised: false,
    })
}

/// A fresh opaque secret (256 bits), URL-safe.
pub fn random_secret() -> String {
    use rand::RngCore as _;
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// How opaque secrets are kept at rest: their SHA-256, hex.
pub fn secret_hash(secret: &str) -> String {
    secret_hash_bytes(secret.as_bytes())
}

/// SHA-256, hex.
pub fn secret_hash_bytes(bytes: &[u8]) -> String {
    use sha2::Digest as _;
    sha2::Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_the_jws_jsonwebtoken_would_sign_and_verify() {
        let key = generate_key(Utc::now()).expect("key");
        let service = TokenService::from_keys(
            std::slice::from_ref(&key),
            "https://accord.test",
            Utc::now(),
        )
        .expect("service");
        let claims = serde_json::json!({"iss": "https://accord.test", "sub": "someone", "n": 1});
        let ours = service.sign(&claims).expect("signed");
        // Ed25519 signatures are deterministic: the same header, claims and key give the
        // same token, byte for byte.
        let mut header = Header::new(Algorithm::EdDSA);
        header.kid = Some(key.id.clone());
        let theirs = jsonwebtoken::encode(
            &header,
            &claims,
            &jsonwebtoken::EncodingKey::from_ed_der(&key.private_key),
        )
        .expect("signed by jsonwebtoken");
        assert_eq!(ours, theirs);
        let read: Option<serde_json::Value> = service.verify(&ours, &service.validation(false));
        assert_eq!(read, Some(claims));
        // A changed claim no longer verifies.
        let mut parts: Vec<&str> = ours.split('.').collect();
        let forged =
            URL_SAFE_NO_PAD.encode(br#"{"iss":"https://accord.test","sub":"other","n":1}"#);
        parts[1] = &forged;
        let forged = parts.join(".");
        assert!(service
            .verify::<serde_json::Value>(&forged, &service.validation(false))
            .is_none());
    }
}
