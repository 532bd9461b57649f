//! Migrations embedded in the binary, one directory per backend.

use std::borrow::Cow;

use futures_core::future::BoxFuture;
use sqlx::error::BoxDynError;
use sqlx::migrate::{Migration, MigrationSource, MigrationType, Migrator};

#[derive(Debug)]
pub(crate) struct Embedded(pub &'static [(i64, &'static str, &'static str)]);

impl Embedded {
    /// The newest migration this binary knows.
    pub(crate) fn newest(&self) -> i64 {
        self.0.iter().map(|(v, _, _)| *v).max().unwrap_or(0)
    }
}

impl<'s> MigrationSource<'s> for Embedded {
    fn resolve(self) -> BoxFuture<'s, Result<Vec<Migration>, BoxDynError>> {
        Box::pin(async move {
            Ok(self
                .0
                .iter()
                .map(|(version, description, sql)| {
                    Migration::new(
                        *version,
                        Cow::Borrowed(*description),
                        MigrationType::Simple,
                        Cow::Borrowed(*sql),
                        false,
                    )
                })
                .collect())
        })
    }
}

pub(crate) const SQLITE: Embedded = Embedded(&[
    (
        1,
        "identity",
        include_str!("../migrations/sqlite/0001_identity.sql"),
    ),
    (
        2,
        "organizations",
        include_str!("../migrations/sqlite/0002_organizations.sql"),
    ),
    (
        3,
        "consents",
        include_str!("../migrations/sqlite/0003_consents.sql"),
    ),
    (
        4,
        "webhooks",
        include_str!("../migrations/sqlite/0004_webhooks.sql"),
    ),
    (
        5,
        "notifications_and_logs",
        include_str!("../migrations/sqlite/0005_notifications_and_logs.sql"),
    ),
    (
        6,
        "customerid",
        include_str!("../migrations/sqlite/0006_customerid.sql"),
    ),
    (
        7,
        "roles",
        include_str!("../migrations/sqlite/0007_roles.sql"),
    ),
    (
        8,
        "mandates",
        include_str!("../migrations/sqlite/0008_mandates.sql"),
    ),
    (
        9,
        "delegations_and_invitations",
        include_str!("../migrations/sqlite/0009_delegations_and_invitations.sql"),
    ),
    (
        10,
        "federation",
        include_str!("../migrations/sqlite/0010_federation.sql"),
    ),
    (
        11,
        "layout_version",
        include_str!("../migrations/sqlite/0011_layout_version.sql"),
    ),
    (
        12,
        "login_state_owner",
        include_str!("../migrations/sqlite/0012_login_state_owner.sql"),
    ),
    (
        13,
        "email_verification",
        include_str!("../migrations/sqlite/0013_email_verification.sql"),
    ),
    (
        14,
        "offers",
        include_str!("../migrations/sqlite/0014_offers.sql"),
    ),
    (
        15,
        "webhook health",
        include_str!("../migrations/sqlite/0015_webhook_health.sql"),
    ),
    (
        16,
        "ledger verification",
        include_str!("../migrations/sqlite/0016_ledger_verification.sql"),
    ),
    (
        17,
        "retention",
        include_str!("../migrations/sqlite/0017_retention.sql"),
    ),
    (
        18,
        "data requests",
        include_str!("../migrations/sqlite/0018_data_requests.sql"),
    ),
    (
        19,
        "data export",
        include_str!("../migrations/sqlite/0019_data_export.sql"),
    ),
    (
        20,
        "qr codes",
        include_str!("../migrations/sqlite/0020_qr_codes.sql"),
    ),
    (
        21,
        "eula acceptance",
        include_str!("../migrations/sqlite/0021_eula_acceptance.sql"),
    ),
    (
        22,
        "email change",
        include_str!("../migrations/sqlite/0022_email_change.sql"),
    ),
    (
        23,
        "user language",
        include_str!("../migrations/sqlite/0023_user_language.sql"),
    ),
    (
        24,
        "purpose versions",
        include_str!("../migrations/sqlite/0024_purpose_versions.sql"),
    ),
    (
        25,
        "consent versions",
        include_str!("../migrations/sqlite/0025_consent_versions.sql"),
    ),
    (
        26,
        "signing key retirement",
        include_str!("../migrations/sqlite/0026_signing_key_retirement.sql"),
    ),
    (
        27,
        "trace context",
        include_str!("../migrations/sqlite/0027_trace_context.sql"),
    ),
]);

pub(crate) const POSTGRES: Embedded = Embedded(&[
    (
        1,
        "identity",
        include_str!("../migrations/postgres/0001_identity.sql"),
    ),
    (
        2,
        "organizations",
        include_str!("../migrations/postgres/0002_organizations.sql"),
    ),
    (
        3,
        "consents",
        include_str!("../migrations/postgres/0003_consents.sql"),
    ),
    (
        4,
        "webhooks",
        include_str!("../migrations/postgres/0004_webhooks.sql"),
    ),
    (
        5,
        "notifications_and_logs",
        include_str!("../migrations/postgres/0005_notifications_and_logs.sql"),
    ),
    (
        6,
        "customerid",
        include_str!("../migrations/postgres/0006_customerid.sql"),
    ),
    (
        7,
        "roles",
        include_str!("../migrations/postgres/0007_roles.sql"),
    ),
    (
        8,
        "mandates",
        include_str!("../migrations/postgres/0008_mandates.sql"),
    ),
    (
        9,
        "delegations_and_invitations",
        include_str!("../migrations/postgres/0009_delegations_and_invitations.sql"),
    ),
    (
        10,
        "federation",
        include_str!("../migrations/postgres/0010_federation.sql"),
    ),
    (
        11,
        "layout_version",
        include_str!("../migrations/postgres/0011_layout_version.sql"),
    ),
    (
        12,
        "login_state_owner",
        include_str!("../migrations/postgres/0012_login_state_owner.sql"),
    ),
    (
        13,
        "email_verification",
        include_str!("../migrations/postgres/0013_email_verification.sql"),
    ),
    (
        14,
        "offers",
        include_str!("../migrations/postgres/0014_offers.sql"),
    ),
    (
        15,
        "webhook health",
        include_str!("../migrations/postgres/0015_webhook_health.sql"),
    ),
    (
        16,
        "ledger verification",
        include_str!("../migrations/postgres/0016_ledger_verification.sql"),
    ),
    (
        17,
        "retention",
        include_str!("../migrations/postgres/0017_retention.sql"),
    ),
    (
        18,
        "data requests",
        include_str!("../migrations/postgres/0018_data_requests.sql"),
    ),
    (
        19,
        "data export",
        include_str!("../migrations/postgres/0019_data_export.sql"),
    ),
    (
        20,
        "qr codes",
        include_str!("../migrations/postgres/0020_qr_codes.sql"),
    ),
    (
        21,
        "eula acceptance",
        include_str!("../migrations/postgres/0021_eula_acceptance.sql"),
    ),
    (
        22,
        "email change",
        include_str!("../migrations/postgres/0022_email_change.sql"),
    ),
    (
        23,
        "user language",
        include_str!("../migrations/postgres/0023_user_language.sql"),
    ),
    (
        24,
        "purpose versions",
        include_str!("../migrations/postgres/0024_purpose_versions.sql"),
    ),
    (
        25,
        "consent versions",
        include_str!("../migrations/postgres/0025_consent_versions.sql"),
    ),
    (
        26,
        "signing key retirement",
        include_str!("../migrations/postgres/0026_signing_key_retirement.sql"),
    ),
    (
        27,
        "trace context",
        include_str!("../migrations/postgres/0027_trace_context.sql"),
    ),
]);

/// The migrator of a backend. Migrations a newer release applied are let be: releases only
/// expand the schema a release before they contract it (docs/operations.md, "Backup,
/// restore, upgrade"), so this release runs beside them, and rolling back is possible;
/// [`warn_of_newer`] says so.
pub(crate) async fn migrator(source: Embedded) -> Result<Migrator, accord_domain::Error> {
    let mut migrator = Migrator::new(source)
        .await
        .map_err(|e| accord_domain::Error::internal(format!("migrations: {e}")))?;
    migrator.set_ignore_missing(true);
    Ok(migrator)
}

/// The migrations a newer release applied: $1 the newest this release knows.
pub(crate) const NEWER_SQL: &str =
    "SELECT version FROM _sqlx_migrations WHERE success AND version > $1 ORDER BY version";

/// Says, at start, that a newer release migrated the database (a WARN an operator sees).
pub(crate) fn warn_of_newer(newer: &[i64], known: i64) {
    if !newer.is_empty() {
        tracing::warn!(
            newer = ?newer,
            known,
            "the database carries migrations of a newer release; this release (migrations 1 to {known}) \
             runs beside them, as the expand-then-contract policy allows: roll forward when you can"
        );
    }
}
