//! Settings of a running server. The binary fills this from CLI flags and their `ACCORD_…`
//! environment twins; tests build it directly.

use std::fmt;
use std::net::SocketAddr;
use std::time::Duration;

use crate::services::passwords::PasswordHashParams;

#[derive(Clone)]
pub struct Config {
    pub listen: SocketAddr,
    pub database_url: String,
    /// Base of every absolute URL the server writes, without a trailing slash.
    pub public_url: String,
    /// `smtp://host:port` (plain), `smtp://host:port?tls=required` (STARTTLS) or
    /// `smtps://host:port`. `None`: mail is written to the log with secrets redacted.
    pub smtp_url: Option<String>,
    pub mail_from: String,
    /// Where a reset mail points; `{token}` is replaced by the token.
    pub password_reset_link: String,
    /// Where an address-verification mail points; `{token}` is replaced by the token.
    pub email_verification_link: String,
    /// How long a verification link works.
    pub email_verification_ttl: Duration,
    /// Where a role-invitation mail points; `{token}` is replaced by the token.
    pub invitation_link: String,
    /// How long an invitation link works.
    pub invitation_ttl: Duration,
    pub access_token_ttl: Duration,
    pub refresh_token_ttl: Duration,
    pub password_reset_ttl: Duration,
    pub json_body_limit: usize,
    pub request_timeout: Duration,
    /// How long a client may take to send a request's head (line and headers).
    pub header_read_timeout: Duration,
    /// Open connections served at once; more are answered 503 and closed.
    pub max_connections: usize,
    /// Open connections one source (an IPv4 address, an IPv6 /64) may hold.
    pub connections_per_address: usize,
    /// A connection with no request in flight for this long is closed (HTTP/1 keep-alive
    /// and HTTP/2 alike).
    pub idle_timeout: Duration,
    /// The most entries a CustomerID search answers (the spec's searches do not page).
    pub max_list: i64,
    pub max_db_connections: u32,
    /// Failed sign-ins (password, federated, REST client secret) allowed per source address
    /// and 15 minutes (then 429, 15 minutes and doubling).
    pub failures_per_address: u32,
    /// Registrations allowed per source address and 15 minutes (then 429, 15 minutes and
    /// doubling).
    pub registrations_per_address: u32,
    /// Take the client address from the last `X-Forwarded-For` entry (behind a proxy).
    pub trust_forwarded_for: bool,
    pub password_hash: PasswordHashParams,
    /// Deliver webhooks to loopback and private addresses (off: SSRF protection).
    pub webhook_allow_private: bool,
    /// Let OpenID provider URLs reach loopback, private and other special-purpose addresses
    /// (off: SSRF protection; a provider inside the operator's own network needs it).
    pub oidc_allow_private: bool,
    /// Accept plain-http OpenID provider URLs on any host (loopback is always accepted).
    pub oidc_allow_http: bool,
    /// Base64 of 32 bytes sealing stored secrets; `None`: a key kept in the database.
    pub secret_key: Option<String>,
    /// The key `secret_key` replaced (base64 of 32 bytes): it opens, never seals, while
    /// `accord admin rotate-secret-key` re-seals (docs/operations.md, "Keys").
    pub secret_key_previous: Option<String>,
    /// Webhook deliveries delivered or given up are deleted after this.
    pub delivery_retention: Duration,
    /// Organisations' action logs are deleted after this.
    pub log_retention: Duration,
    /// How often the background workers look for work another node left (deliveries,
    /// retries, expiries); work this node creates is picked up at once.
    pub worker_interval: Duration,
    /// After a stop is asked for: how long the server goes on serving with `/readyz`
    /// answering 503, so a load balancer takes it out before it stops accepting.
    pub shutdown_drain: Duration,
    /// The bearer token `/metrics` answers; `None`: `/metrics` is not served.
    pub metrics_token: Option<String>,
}

impl Config {
    pub fn new(database_url: impl Into<String>) -> Self {
        let public_url = "http://127.0.0.1:8080".to_owned();
        Self {
            listen: "127.0.0.1:8080".parse().expect("literal address"),
            database_url: database_url.into(),
            password_reset_link: format!("{public_url}/reset-password?token={{token}}"),
            email_verification_link: format!("{public_url}/verify-email?token={{token}}"),
            email_verification_ttl: Duration::from_secs(24 * 3600),
            invitation_link: format!("{public_url}/accept-invitation?token={{token}}"),
            invitation_ttl: Duration::from_secs(7 * 24 * 3600),
            public_url,
            smtp_url: None,
            mail_from: "Accord <no-reply@accord.invalid>".to_owned(),
            access_token_ttl: Duration::from_secs(21600),
            refresh_token_ttl: Duration::from_secs(36000),
            password_reset_ttl: Duration::from_secs(3600),
            json_body_limit: 1024 * 1024,
            request_timeout: Duration::from_secs(30),
            header_read_timeout: Duration::from_secs(10),
            max_connections: 4096,
            connections_per_address: 256,
            idle_timeout: Duration::from_secs(60),
            max_list: crate::services::paging::LIST_MAX,
            max_db_connections: 16,
            registrations_per_address: 30,
            failures_per_address: 50,
            trust_forwarded_for: false,
            password_hash: PasswordHashParams::OWASP,
            webhook_allow_private: false,
            worker_interval: Duration::from_secs(1),
            shutdown_drain: Duration::ZERO,
            delivery_retention: Duration::from_secs(30 * 24 * 3600),
            log_retention: Duration::from_secs(365 * 24 * 3600),
            oidc_allow_http: false,
            oidc_allow_private: false,
            secret_key: None,
            secret_key_previous: None,
            metrics_token: None,
        }
    }

    pub fn with_public_url(mut self, url: &str) -> Self {
        let url = url.trim_end_matches('/').to_owned();
        for link in [
            &mut self.password_reset_link,
            &mut self.email_verification_link,
            &mut self.invitation_link,
        ] {
            if link.starts_with(&self.public_url) {
                *link = link.replacen(&self.public_url, &url, 1);
            }
        }
        self.public_url = url;
        self
    }
}

impl fmt::Debug for Config {
    // The database and SMTP URLs may carry passwords.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("listen", &self.listen)
            .field("database_url", &redact_url(&self.database_url))
            .field("public_url", &self.public_url)
            .field("smtp_url", &self.smtp_url.as_deref().map(redact_url))
            .field("password_hash", &self.password_hash)
            .finish_non_exhaustive()
    }
}

/// `scheme://user:secret@host/...` → `scheme://user:***@host/...`
pub fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let (authority, path) = rest.split_once('/').map_or((rest, ""), |(a, p)| (a, p));
    let Some((userinfo, host)) = authority.rsplit_once('@') else {
        return url.to_owned();
    };
    let user = userinfo.split(':').next().unwrap_or("");
    let sep = if path.is_empty() && !rest.contains('/') {
        ""
    } else {
        "/"
    };
    format!("{scheme}://{user}:***@{host}{sep}{path}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_lose_their_passwords_in_debug_output() {
        assert_eq!(
            redact_url("postgres://accord:s3cret@db:5432/accord"),
            "postgres://accord:***@db:5432/accord"
        );
        assert_eq!(redact_url("smtp://u:p@mail:25"), "smtp://u:***@mail:25");
        assert_eq!(redact_url("sqlite://accord.db"), "sqlite://accord.db");
        let c = Config::new("postgres://a:hunter2@h/d");
        assert!(!format!("{c:?}").contains("hunter2"));
    }
}
