//! "Service management (Organization)": an organisation's purposes and templates (data
//! attributes).

use super::*;

pub(super) fn router() -> OpenApiRouter<Arc<Services>> {
    OpenApiRouter::new()
        .routes(routes!(list_purposes, create_purposes))
        .routes(routes!(get_purpose, replace_purpose, delete_purpose))
        .routes(routes!(list_purpose_versions))
        .routes(routes!(get_purpose_version))
        .routes(routes!(rewording_impact))
        .routes(routes!(list_templates, create_templates))
        .routes(routes!(get_template, replace_template, delete_template))
}

// ---- purposes ----

#[derive(Deserialize, ToSchema)]
pub struct PurposeBody {
    name: String,
    #[serde(default)]
    description: String,
    /// 0 Consent (default), 1 Contract, 2 Legal obligation, 3 Vital interest, 4 Public task, 5 Legitimate interest.
    lawfulbasisofprocessing: Option<i64>,
    /// Older clients: `true` without a basis means legitimate interest.
    lawfulusage: Option<bool>,
    #[serde(default)]
    policyurl: String,
    #[serde(default)]
    attributetype: i64,
    #[serde(default)]
    jurisdiction: String,
    #[serde(default)]
    disclosure: String,
    #[serde(default)]
    industryscope: String,
    #[serde(default)]
    restriction: String,
    #[serde(default)]
    shared3pp: bool,
    /// What a consent given under an older version means until the person answers:
    /// `Stands` (the default) or `Lapses` after `ReconsentGraceDays`. Absent on a
    /// replace: unchanged.
    outdatedconsent: Option<String>,
    /// Days from a new version until an outdated consent lapses (0–365; default 30).
    reconsentgracedays: Option<i64>,
}

impl From<PurposeBody> for PurposeInput {
    fn from(b: PurposeBody) -> Self {
        let basis = match (b.lawfulbasisofprocessing, b.lawfulusage) {
            (Some(basis), _) => basis,
            (None, Some(true)) => LawfulBasis::LegitimateInterest.id(),
            (None, _) => LawfulBasis::Consent.id(),
        };
        PurposeInput {
            name: b.name,
            description: b.description,
            lawful_basis: basis,
            policy_url: b.policyurl,
            attribute_type: b.attributetype,
            jurisdiction: b.jurisdiction,
            disclosure: b.disclosure,
            industry_scope: b.industryscope,
            restriction: b.restriction,
            shared_3pp: b.shared3pp,
            outdated_consent: b.outdatedconsent,
            reconsent_grace_days: b.reconsentgracedays,
        }
    }
}

#[derive(Deserialize, ToSchema)]
pub struct PurposesBody {
    purposes: Vec<PurposeBody>,
}

#[derive(Serialize, ToSchema)]
pub struct Purposes {
    #[serde(rename = "Purposes")]
    purposes: Vec<Purpose<'static>>,
}

#[derive(Serialize, ToSchema)]
pub struct PurposeEnvelope {
    #[serde(rename = "Purpose")]
    purpose: Purpose<'static>,
}

/// List an organisation's purposes (any signed-in user)
#[utoipa::path(get, path = "/organizations/{organizationID}/purposes", tag = "Service management (Organization)",
    params(("organizationID" = String, Path)), security(("bearer" = []), ("apikey" = [])),
    responses((status = 200, body = Purposes), (status = 404, body = ErrorBody)))]
async fn list_purposes(
    State(s): Svc,
    Caller(a): Caller,
    Path(org): Path<String>,
) -> Reply<Purposes> {
    Ok(Json(Purposes {
        purposes: s
            .purposes(&a, org.parse()?)
            .await?
            .into_iter()
            .map(Purpose::from)
            .collect(),
    }))
}

/// Create purposes (Admin)
#[utoipa::path(post, path = "/organizations/{organizationID}/purposes", tag = "Service management (Organization)", request_body = PurposesBody,
    params(("organizationID" = String, Path)), security(("bearer" = []), ("apikey" = [])),
    responses((status = 201, body = Purposes), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn create_purposes(
    State(s): Svc,
    Caller(a): Caller,
    Path(org): Path<String>,
    IgrantJson(b): IgrantJson<PurposesBody>,
) -> Result<(StatusCode, Json<Purposes>), IgrantError> {
    let created = s
        .create_purposes(
            &a,
            org.parse()?,
            b.purposes.into_iter().map(PurposeInput::from).collect(),
        )
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(Purposes {
            purposes: created.into_iter().map(Purpose::from).collect(),
        }),
    ))
}

/// Get a purpose
#[utoipa::path(get, path = "/organizations/{organizationID}/purposes/{purposeID}", tag = "Service management (Organization)",
    params(("organizationID" = String, Path), ("purposeID" = String, Path)), security(("bearer" = []), ("apikey" = [])),
    responses((status = 200, body = PurposeEnvelope), (status = 404, body = ErrorBody)))]
async fn get_purpose(
    State(s): Svc,
    Caller(a): Caller,
    Path((org, id)): Path<(String, String)>,
) -> Reply<PurposeEnvelope> {
    Ok(Json(PurposeEnvelope {
        purpose: s.purpose(&a, org.parse()?, id.parse()?).await?.into(),
    }))
}

/// One version of a purpose's wording (ours, docs/consents.md "Versions").
#[derive(Serialize, ToSchema)]
pub struct PurposeVersionBody {
    #[serde(rename = "Version")]
    version: i64,
    /// RFC 3339; `null` for a wording that predates versions.
    #[serde(rename = "Created")]
    created: Option<String>,
    /// `sha256:` and the hex digest of `WordingText`: a receipt naming it proves the words.
    #[serde(rename = "Hash")]
    hash: String,
    /// The canonical text the hash covers.
    #[serde(rename = "WordingText")]
    wording_text: String,
    /// The same, as an object: the purpose's fields and its attributes' names.
    #[serde(rename = "Wording")]
    #[schema(value_type = Object)]
    wording: serde_json::Value,
}

impl From<accord_domain::purpose_version::PurposeVersion> for PurposeVersionBody {
    fn from(v: accord_domain::purpose_version::PurposeVersion) -> Self {
        Self {
            version: v.number,
            created: v.created_at.map(|t| t.to_rfc3339()),
            hash: v.hash,
            wording: serde_json::from_str(&v.wording).unwrap_or_default(),
            wording_text: v.wording,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct PurposeVersionsEnvelope {
    #[serde(rename = "Versions")]
    versions: Vec<PurposeVersionBody>,
}

/// List a purpose's versions, oldest first (ours; who may read the purpose)
#[utoipa::path(get, path = "/organizations/{organizationID}/purposes/{purposeID}/versions", tag = "Service management (Organization)",
    params(("organizationID" = String, Path), ("purposeID" = String, Path)), security(("bearer" = []), ("apikey" = [])),
    responses((status = 200, body = PurposeVersionsEnvelope), (status = 404, body = ErrorBody)))]
async fn list_purpose_versions(
    State(s): Svc,
    Caller(a): Caller,
    Path((org, id)): Path<(String, String)>,
) -> Reply<PurposeVersionsEnvelope> {
    let versions = s.purpose_versions(&a, org.parse()?, id.parse()?).await?;
    Ok(Json(PurposeVersionsEnvelope {
        versions: versions.into_iter().map(Into::into).collect(),
    }))
}

/// Get one version of a purpose's wording (ours; who may read the purpose)
#[utoipa::path(get, path = "/organizations/{organizationID}/purposes/{purposeID}/versions/{version}", tag = "Service management (Organization)",
    params(("organizationID" = String, Path), ("purposeID" = String, Path), ("version" = i64, Path)), security(("bearer" = []), ("apikey" = [])),
    responses((status = 200, body = PurposeVersionBody), (status = 404, body = ErrorBody)))]
async fn get_purpose_version(
    State(s): Svc,
    Caller(a): Caller,
    Path((org, id, version)): Path<(String, String, String)>,
) -> Reply<PurposeVersionBody> {
    let number: i64 = version
        .parse()
        .map_err(|_| accord_domain::Error::not_found("version not found"))?;
    Ok(Json(
        s.purpose_version(&a, org.parse()?, id.parse()?, number)
            .await?
            .into(),
    ))
}

/// What replacing a purpose with this body would do (ours, docs/consents.md "Before
/// publishing"): whether it rewords the purpose, and how many people hold a consent it
/// would make outdated. Nothing changes.
#[derive(Serialize, ToSchema)]
pub struct RewordingImpactBody {
    /// The current version.
    #[serde(rename = "Version")]
    version: i64,
    /// The version publishing the body would make; `null`: it rewords nothing.
    #[serde(rename = "NextVersion")]
    next_version: Option<i64>,
    /// People whose consent the change would make outdated (given under the current
    /// version); 0 when it rewords nothing.
    #[serde(rename = "WouldOutdate")]
    would_outdate: i64,
    /// People holding a consent given under the current version.
    #[serde(rename = "HoldersAtCurrentVersion")]
    holders_at_current: i64,
    /// People holding a consent given under an older version: outdated already.
    #[serde(rename = "HoldersAtOlderVersions")]
    holders_at_older: i64,
}

/// Before publishing: what replacing the purpose with this body would do (ours; Admin, Dpo)
#[utoipa::path(post, path = "/organizations/{organizationID}/purposes/{purposeID}/impact", tag = "Service management (Organization)", request_body = PurposeBody,
    params(("organizationID" = String, Path), ("purposeID" = String, Path)), security(("bearer" = []), ("apikey" = [])),
    responses((status = 200, body = RewordingImpactBody), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn rewording_impact(
    State(s): Svc,
    Caller(a): Caller,
    Path((org, id)): Path<(String, String)>,
    IgrantJson(b): IgrantJson<PurposeBody>,
) -> Reply<RewordingImpactBody> {
    let i = s
        .rewording_impact(&a, org.parse()?, id.parse()?, b.into())
        .await?;
    Ok(Json(RewordingImpactBody {
        version: i.version,
        next_version: i.next_version,
        would_outdate: i.would_outdate(),
        holders_at_current: i.holders_at_current,
        holders_at_older: i.holders_at_older,
    }))
}

/// Replace a purpose (Admin)
#[utoipa::path(put, path = "/organizations/{organizationID}/purposes/{purposeID}", tag = "Service management (Organization)", request_body = PurposeBody,
    params(("organizationID" = String, Path), ("purposeID" = String, Path)), security(("bearer" = []), ("apikey" = [])),
    responses((status = 200, body = PurposeEnvelope), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn replace_purpose(
    State(s): Svc,
    Caller(a): Caller,
    Path((org, id)): Path<(String, String)>,
    IgrantJson(b): IgrantJson<PurposeBody>,
) -> Reply<PurposeEnvelope> {
    Ok(Json(PurposeEnvelope {
        purpose: s
            .replace_purpose(&a, org.parse()?, id.parse()?, b.into())
            .await?
            .into(),
    }))
}

/// Delete a purpose (Admin); kept for the consent history, no longer listed
#[utoipa::path(delete, path = "/organizations/{organizationID}/purposes/{purposeID}", tag = "Service management (Organization)",
    params(("organizationID" = String, Path), ("purposeID" = String, Path)), security(("bearer" = []), ("apikey" = [])),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn delete_purpose(
    State(s): Svc,
    Caller(a): Caller,
    Path((org, id)): Path<(String, String)>,
) -> Result<StatusCode, IgrantError> {
    s.delete_purpose(&a, org.parse()?, id.parse()?).await?;
    Ok(StatusCode::NO_CONTENT)
}

// ---- templates (data attributes) ----

#[derive(Deserialize, ToSchema)]
pub struct TemplateBody {
    /// The data attribute's name, e.g. "Age".
    consent: String,
    #[serde(default)]
    purposeids: Vec<String>,
}

impl From<TemplateBody> for TemplateInput {
    fn from(b: TemplateBody) -> Self {
        TemplateInput {
            consent: b.consent,
            purpose_ids: b.purposeids,
        }
    }
}

#[derive(Deserialize, ToSchema)]
pub struct TemplatesBody {
    templates: Vec<TemplateBody>,
}

#[derive(Serialize, ToSchema)]
pub struct Templates {
    #[serde(rename = "Templates")]
    templates: Vec<Template>,
}

#[derive(Serialize, ToSchema)]
pub struct TemplateEnvelope {
    #[serde(rename = "Template")]
    template: Template,
}

/// List an organisation's data attributes (any signed-in user)
#[utoipa::path(get, path = "/organizations/{organizationID}/templates", tag = "Service management (Organization)",
    params(("organizationID" = String, Path)), security(("bearer" = []), ("apikey" = [])),
    responses((status = 200, body = Templates), (status = 404, body = ErrorBody)))]
async fn list_templates(
    State(s): Svc,
    Caller(a): Caller,
    Path(org): Path<String>,
) -> Reply<Templates> {
    Ok(Json(Templates {
        templates: s
            .templates(&a, org.parse()?)
            .await?
            .into_iter()
            .map(Template::from)
            .collect(),
    }))
}

/// Create data attributes (Admin); every purpose ID must be the organisation's
#[utoipa::path(post, path = "/organizations/{organizationID}/templates", tag = "Service management (Organization)", request_body = TemplatesBody,
    params(("organizationID" = String, Path)), security(("bearer" = []), ("apikey" = [])),
    responses((status = 201, body = Templates), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody)))]
async fn create_templates(
    State(s): Svc,
    Caller(a): Caller,
    Path(org): Path<String>,
    IgrantJson(b): IgrantJson<TemplatesBody>,
) -> Result<(StatusCode, Json<Templates>), IgrantError> {
    let created = s
        .create_templates(
            &a,
            org.parse()?,
            b.templates.into_iter().map(TemplateInput::from).collect(),
        )
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(Templates {
            templates: created.into_iter().map(Template::from).collect(),
        }),
    ))
}

/// Get a data attribute
#[utoipa::path(get, path = "/organizations/{organizationID}/templates/{templateID}", tag = "Service management (Organization)",
    params(("organizationID" = String, Path), ("templateID" = String, Path)), security(("bearer" = []), ("apikey" = [])),
    responses((status = 200, body = TemplateEnvelope), (status = 404, body = ErrorBody)))]
async fn get_template(
    State(s): Svc,
    Caller(a): Caller,
    Path((org, id)): Path<(String, String)>,
) -> Reply<TemplateEnvelope> {
    Ok(Json(TemplateEnvelope {
        template: s.template(&a, org.parse()?, id.parse()?).await?.into(),
    }))
}

/// Replace a data attribute (Admin)
#[utoipa::path(put, path = "/organizations/{organizationID}/templates/{templateID}", tag = "Service management (Organization)", request_body = TemplateBody,
    params(("organizationID" = String, Path), ("templateID" = String, Path)), security(("bearer" = []), ("apikey" = [])),
    responses((status = 200, body = TemplateEnvelope), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn replace_template(
    State(s): Svc,
    Caller(a): Caller,
    Path((org, id)): Path<(String, String)>,
    IgrantJson(b): IgrantJson<TemplateBody>,
) -> Reply<TemplateEnvelope> {
    Ok(Json(TemplateEnvelope {
        template: s
            .replace_template(&a, org.parse()?, id.parse()?, b.into())
            .await?
            .into(),
    }))
}

/// Delete a data attribute (Admin)
#[utoipa::path(delete, path = "/organizations/{organizationID}/templates/{templateID}", tag = "Service management (Organization)",
    params(("organizationID" = String, Path), ("templateID" = String, Path)), security(("bearer" = []), ("apikey" = [])),
    responses((status = 204), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn delete_template(
    State(s): Svc,
    Caller(a): Caller,
    Path((org, id)): Path<(String, String)>,
) -> Result<StatusCode, IgrantError> {
    s.delete_template(&a, org.parse()?, id.parse()?).await?;
    Ok(StatusCode::NO_CONTENT)
}
