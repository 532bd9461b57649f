//! Domain services: every operation a facade offers is one function here, taking an
//! [`Actor`] and deciding what it may do. Facades only translate wire formats.

pub mod actor;
pub mod addresses;
pub mod consent_history;
pub mod consents;
pub(crate) mod contention;
pub mod customer_id;
pub mod data_export;
pub mod data_requests;
pub(crate) mod events;
pub mod federation;
pub mod identity;
pub mod images;
pub mod layouts;
pub mod logs;
pub mod mail;
mod monitoring;
pub mod notices;
pub mod notifications;
pub mod offers;
pub mod operator;
pub mod organizations;
pub mod paging;
pub mod passwords;
pub mod provider_http;
pub mod purposes;
pub mod push;
pub mod qr_codes;
pub mod reconsent;
pub mod retention;
pub mod sealing;
mod shared;
pub(crate) mod sign_in;
pub mod subscribers;
pub mod tokens;
pub mod webhooks;

use std::sync::Arc;

use accord_domain::{Clock, Result};
use accord_store::Store;

pub use actor::{Actor, Credential, RestClientActor, UserActor};

use crate::config::Config;
use mail::{LogMailer, Mailer, SmtpMailer};
use passwords::PasswordHasher;
use tokens::TokenService;

/// Sign-ins one source may have in progress on a node at once; more wait their turn.
const SIGN_INS_IN_FLIGHT_PER_SOURCE: usize = 4;

pub struct Services {
    pub config: Config,
    pub store: Arc<dyn Store>,
    pub clock: Arc<dyn Clock>,
    pub passwords: Arc<PasswordHasher>,
    pub tokens: TokenService,
    /// Seals secrets the server must read back (OpenID client secrets).
    pub sealer: sealing::Sealer,
    /// Bounded HTTP client for organisations' OpenID providers.
    pub provider_http: provider_http::ProviderHttp,
    pub mailer: Arc<dyn Mailer>,
    /// Push notifications to devices; log-only unless an operator provides one.
    pub push: Arc<dyn push::PushNotifier>,
    /// REST client credentials verified lately: (SHA-256 of name and secret) → client,
    /// until when. Spares an argon2 hash per CustomerID request.
    pub rest_client_cache:
        std::sync::Mutex<std::collections::HashMap<String, (RestClientActor, std::time::Instant)>>,
    /// Verifications of REST client credentials in progress, by the cache's key: requests
    /// with the same credentials wait for one verification instead of each counting an
    /// attempt against the client's throttle (a busy back end's burst on a cold cache).
    pub rest_client_inflight:
        std::sync::Mutex<std::collections::HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    /// Sign-ins (password, federated, REST client secret) in progress per source: a burst
    /// from one client waits for no one but itself (docs/security.md, "Throttles").
    pub sign_ins_in_flight: Arc<crate::per_source::PerSource>,
    /// Ledger verifications in progress on this node (one per organisation at a time).
    pub ledger_verifications: consent_history::RunningVerifications,
    /// When this node last swept expired rows (by the injected clock).
    pub last_sweep: std::sync::Mutex<Option<chrono::DateTime<chrono::Utc>>>,
    /// Set when the server is asked to stop: readiness answers 503 and the workers end
    /// after the round they are in.
    pub stopping: tokio::sync::watch::Sender<bool>,
    /// Image decodes running on this node: one per core.
    pub image_decodes: tokio::sync::Semaphore,
    /// Places for webhook deliveries in flight on this node.
    pub deliveries_in_flight: Arc<tokio::sync::Semaphore>,
    /// Wakes this node's background workers when a unit of work left them something.
    pub work: tokio::sync::Notify,
    /// Organisations' layouts for consent reads, checked against the store's version.
    pub layouts: layouts::Layouts,
    /// What `/metrics` shows ([`crate::metrics`]).
    pub metrics: crate::metrics::Metrics,
}

impl Services {
    pub async fn new(config: Config, store: Arc<dyn Store>, clock: Arc<dyn Clock>) -> Result<Self> {
        let passwords = Arc::new(PasswordHasher::new(config.password_hash)?);
        let provider_http = provider_http::ProviderHttp::new(config.oidc_allow_private)?;
        let tokens = TokenService::load(store.as_ref(), &config.public_url, clock.now()).await?;
        let sealer = sealing::Sealer::load(
            store.as_ref(),
            config.secret_key.as_deref(),
            config.secret_key_previous.as_deref(),
            clock.now(),
        )
        .await?;
        let mailer: Arc<dyn Mailer> = match &config.smtp_url {
            Some(url) => Arc::new(SmtpMailer::new(url, &config.mail_from)?),
            None => Arc::new(LogMailer),
        };
        let metrics = crate::metrics::Metrics::new(store.metrics());
        Ok(Self {
            metrics,
            config,
            store,
            clock,
            passwords,
            tokens,
            sealer,
            provider_http,
            mailer,
            push: Arc::new(push::LogPush),
            rest_client_cache: Default::default(),
            rest_client_inflight: Default::default(),
            sign_ins_in_flight: crate::per_source::PerSource::new(SIGN_INS_IN_FLIGHT_PER_SOURCE),
            ledger_verifications: Default::default(),
            last_sweep: Default::default(),
            stopping: tokio::sync::watch::Sender::new(false),
            image_decodes: tokio::sync::Semaphore::new(
                std::thread::available_parallelism().map_or(2, |n| n.get()),
            ),
            deliveries_in_flight: Arc::new(tokio::sync::Semaphore::new(
                webhooks::DELIVERIES_IN_FLIGHT,
            )),
            work: tokio::sync::Notify::new(),
            layouts: Default::default(),
        })
    }
}
