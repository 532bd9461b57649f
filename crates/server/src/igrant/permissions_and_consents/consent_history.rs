//! Beyond the spec: the consent history (an individual's, an organisation's), its
//! verification against the hash chain and signed checkpoints, and signed receipts
//! (docs/consents.md).

use super::*;

pub(super) fn router() -> OpenApiRouter<Arc<Services>> {
    OpenApiRouter::new()
        .routes(routes!(user_consent_history))
        .routes(routes!(own_consent_history))
        .routes(routes!(consent_receipt))
        .routes(routes!(organization_consent_history))
        .routes(routes!(
            verify_consent_ledger,
            verify_consent_ledger_against
        ))
        .routes(routes!(consent_ledger_checkpoint))
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct HistoryParams {
    orgid: Option<String>,
    purposeid: Option<String>,
    /// From this time (RFC 3339) or date (YYYY-MM-DD), inclusive.
    #[serde(rename = "startDate")]
    start_date: Option<String>,
    /// Until this time or date (the whole day), inclusive.
    #[serde(rename = "endDate")]
    end_date: Option<String>,
    limit: Option<i64>,
    /// The last entry ID of the previous page (entries newest first).
    startid: Option<String>,
}

/// One recorded consent change.
#[derive(Serialize, ToSchema)]
pub struct ConsentHistoryEntry {
    #[serde(rename = "ID")]
    id: String,
    #[serde(rename = "Seq")]
    seq: i64,
    #[serde(rename = "OrgID")]
    org_id: String,
    #[serde(rename = "UserID")]
    user_id: String,
    #[serde(rename = "ConsentID")]
    consent_id: String,
    #[serde(rename = "PurposeID")]
    purpose_id: String,
    #[serde(rename = "AttributeID")]
    attribute_id: String,
    #[serde(rename = "ActorID")]
    actor_id: String,
    /// `individual`, `organisation_admin` (on the individual's behalf) or `system`.
    #[serde(rename = "ChangedBy")]
    changed_by: &'static str,
    /// Empty when the attribute had never been set.
    #[serde(rename = "OldValue")]
    old_value: &'static str,
    #[serde(rename = "NewValue")]
    new_value: &'static str,
    #[serde(rename = "Days")]
    days: i64,
    /// What the change was, in words (iGrant.io's apps show this line).
    #[serde(rename = "Log")]
    log: String,
    /// Whole seconds, `2026-11-24T00:49:01Z`: iGrant.io's apps parse no fraction.
    #[serde(rename = "TimeStamp")]
    timestamp: String,
    /// The purpose's version the change was made under (`null` in entries recorded
    /// before versions existed).
    #[serde(rename = "PurposeVersion")]
    purpose_version: Option<i64>,
    /// `sha256:` and the hex digest of that version's canonical wording.
    #[serde(rename = "WordingHash")]
    wording_hash: Option<String>,
    /// Where that version's words are read (`…/purposes/{purposeID}/versions/{n}`,
    /// absolute; kept after the purpose is deleted); `null` without a version.
    #[serde(rename = "WordingURL")]
    wording_url: Option<String>,
    #[serde(rename = "PrevHash")]
    prev_hash: String,
    #[serde(rename = "Hash")]
    hash: String,
}

impl From<NamedEntry> for ConsentHistoryEntry {
    fn from(n: NamedEntry) -> Self {
        // iGrant.io's server's words for an attribute's change.
        let log = format!(
            "Updated consent value to <{}> for attribute <{}> in organization <{}> for the purpose <{}>",
            n.entry.new_value.as_str(),
            n.attribute,
            n.organization,
            n.purpose
        );
        Self::with_log(n.entry, log)
    }
}

impl From<HistoryEntry> for ConsentHistoryEntry {
    /// An entry read outside a page (a broken one, by verification): named by its IDs.
    fn from(e: HistoryEntry) -> Self {
        let log = format!(
            "Updated consent value to <{}> for attribute <{}> in organization <{}> for the purpose <{}>",
            e.new_value.as_str(),
            e.attribute_id,
            e.organization_id,
            e.purpose_id
        );
        Self::with_log(e, log)
    }
}

impl ConsentHistoryEntry {
    /// With the absolute link to the words of the version it names.
    pub(crate) fn linked(mut self, public: &str) -> Self {
        self.wording_url = self.purpose_version.map(|n| {
            format!(
                "{public}/v1/organizations/{}/purposes/{}/versions/{n}",
                self.org_id, self.purpose_id
            )
        });
        self
    }

    fn with_log(e: HistoryEntry, log: String) -> Self {
        Self {
            log,
            timestamp: e.at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            old_value: e.old_value.map_or("", |v| v.as_str()),
            new_value: e.new_value.as_str(),
            changed_by: e.changed_by.as_str(),
            id: e.id,
            seq: e.seq,
            org_id: e.organization_id,
            user_id: e.user_id,
            consent_id: e.consent_id,
            purpose_id: e.purpose_id,
            attribute_id: e.attribute_id,
            actor_id: e.actor_id,
            days: e.days,
            purpose_version: e.wording.as_ref().map(|w| w.number),
            wording_url: None,
            wording_hash: e.wording.map(|w| w.hash),
            prev_hash: e.prev_hash,
            hash: e.hash,
        }
    }
}

#[derive(Serialize, ToSchema)]
pub struct ConsentHistory {
    /// `null` when the page is empty, as iGrant.io's server wrote it: its Android apps
    /// page until they read `null`.
    #[serde(rename = "ConsentHistory")]
    entries: Option<Vec<ConsentHistoryEntry>>,
    #[serde(rename = "Links")]
    links: Links,
}

fn history_reply(
    page: HistoryPage,
    public: &str,
    self_url: String,
    base: String,
) -> ConsentHistory {
    let next = page.next_start.map(|id| format!("{base}startid={id}"));
    let entries: Vec<ConsentHistoryEntry> = page
        .entries
        .into_iter()
        .map(|named| ConsentHistoryEntry::from(named).linked(public))
        .collect();
    ConsentHistory {
        entries: (!entries.is_empty()).then_some(entries),
        links: Links::new(self_url, next),
    }
}

fn query_of(q: &HistoryParams) -> HistoryQuery<'_> {
    HistoryQuery {
        organization: q.orgid.as_deref(),
        purpose: q.purposeid.as_deref(),
        from: q.start_date.as_deref(),
        until: q.end_date.as_deref(),
        limit: q.limit,
        start: q.startid.as_deref(),
    }
}

/// The same query, for paging links: every filter kept, `startid` last.
fn history_base(public: &str, path: &str, q: &HistoryParams) -> String {
    let mut url = format!("{public}{path}?limit={}&", q.limit.unwrap_or(PAGE_DEFAULT));
    for (k, v) in [
        ("orgid", &q.orgid),
        ("purposeid", &q.purposeid),
        ("startDate", &q.start_date),
        ("endDate", &q.end_date),
    ] {
        if let Some(v) = v.as_deref().filter(|v| !v.is_empty()) {
            url.push_str(&format!("{k}={}&", urlencode(v)));
        }
    }
    url
}

fn urlencode(v: &str) -> String {
    v.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            other => format!("%{other:02X}"),
        })
        .collect()
}

fn self_link(base: &str, q: &HistoryParams) -> String {
    match q.startid.as_deref().filter(|s| !s.is_empty()) {
        Some(start) => format!("{base}startid={start}"),
        None => base.trim_end_matches('&').to_owned(),
    }
}

/// The caller's own consent history, newest first
#[utoipa::path(get, path = "/users/{userID}/consenthistory", tag = "Permissions and consents",
    params(("userID" = String, Path), HistoryParams), security(("bearer" = []), ("apikey" = [])),
    responses((status = 200, body = ConsentHistory), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn user_consent_history(
    State(s): Svc,
    Caller(a): Caller,
    Path(user): Path<String>,
    IgrantQuery(q): IgrantQuery<HistoryParams>,
) -> Result<Json<ConsentHistory>, IgrantError> {
    let page = s.my_consent_history(&a, &user, query_of(&q)).await?;
    let base = history_base(
        &s.config.public_url,
        &format!("/v1/users/{user}/consenthistory"),
        &q,
    );
    Ok(Json(history_reply(
        page,
        &s.config.public_url,
        self_link(&base, &q),
        base,
    )))
}

/// The caller's own consent history, newest first (the path iGrant.io's iOS SDKs call)
#[utoipa::path(get, path = "/user/consenthistory", tag = "Permissions and consents",
    params(HistoryParams), security(("bearer" = []), ("apikey" = [])),
    responses((status = 200, body = ConsentHistory), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)))]
async fn own_consent_history(
    State(s): Svc,
    Caller(a): Caller,
    IgrantQuery(q): IgrantQuery<HistoryParams>,
) -> Result<Json<ConsentHistory>, IgrantError> {
    let page = s.own_consent_history(&a, query_of(&q)).await?;
    let base = history_base(&s.config.public_url, "/v1/user/consenthistory", &q);
    Ok(Json(history_reply(
        page,
        &s.config.public_url,
        self_link(&base, &q),
        base,
    )))
}

#[derive(Serialize, ToSchema)]
pub struct Receipt {
    #[serde(rename = "ConsentHistoryID")]
    history_id: String,
    /// A JWS (compact JWT, EdDSA) over the entry, verifiable against /.well-known/jwks.json.
    #[serde(rename = "Receipt")]
    receipt: String,
}

/// The signed receipt of a consent change (the individual; Admin and Dpo of its organisation)
#[utoipa::path(get, path = "/users/{userID}/consenthistory/{entryID}/receipt", tag = "Permissions and consents",
    params(("userID" = String, Path), ("entryID" = String, Path)), security(("bearer" = []), ("apikey" = [])),
    responses((status = 200, body = Receipt), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn consent_receipt(
    State(s): Svc,
    Caller(a): Caller,
    Path((user, entry)): Path<(String, String)>,
) -> Result<Json<Receipt>, IgrantError> {
    let (e, receipt) = s.consent_receipt(&a, &user, &entry).await?;
    Ok(Json(Receipt {
        history_id: e.id,
        receipt,
    }))
}

/// An organisation's consent history, newest first (Admin, Dpo)
#[utoipa::path(get, path = "/organizations/{orgID}/consenthistory", tag = "Permissions and consents",
    params(("orgID" = String, Path), HistoryParams), security(("bearer" = []), ("apikey" = [])),
    responses((status = 200, body = ConsentHistory), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn organization_consent_history(
    State(s): Svc,
    Caller(a): Caller,
    Path(org): Path<String>,
    IgrantQuery(q): IgrantQuery<HistoryParams>,
) -> Result<Json<ConsentHistory>, IgrantError> {
    let page = s
        .organization_consent_history(&a, org.parse()?, query_of(&q))
        .await?;
    let base = history_base(
        &s.config.public_url,
        &format!("/v1/organizations/{org}/consenthistory"),
        &q,
    );
    Ok(Json(history_reply(
        page,
        &s.config.public_url,
        self_link(&base, &q),
        base,
    )))
}

#[derive(Serialize, ToSchema)]
pub struct LedgerVerification {
    /// No problem found: every entry links to its predecessor and hashes to what it says,
    /// the head is the last entry, every current value is what its latest entry recorded,
    /// and the ledger extends every checkpoint given.
    #[serde(rename = "Intact")]
    intact: bool,
    /// Entries verified (before the problem, if any).
    #[serde(rename = "Entries")]
    entries: u64,
    /// The entry where the problem shows, when there is one and it can be read.
    #[serde(rename = "FirstBrokenEntry")]
    first_broken: Option<ConsentHistoryEntry>,
    /// The first problem found, or null.
    #[serde(rename = "Problem")]
    problem: Option<LedgerProblemBody>,
    /// Signed checkpoints and receipts checked against the ledger.
    #[serde(rename = "CheckpointsChecked")]
    checkpoints: usize,
}

#[derive(Serialize, ToSchema)]
pub struct LedgerProblemBody {
    /// `altered`, `unlinked`, `missing`, `inserted`, `truncated`, `head`, `value` or `rewritten`.
    #[serde(rename = "Kind")]
    kind: &'static str,
    /// The ledger position where it shows.
    #[serde(rename = "Seq")]
    seq: i64,
    #[serde(rename = "Detail")]
    detail: String,
}

impl From<crate::services::consent_history::LedgerReport> for LedgerVerification {
    fn from(report: crate::services::consent_history::LedgerReport) -> Self {
        let (first_broken, problem) = match report.problem {
            Some(p) => (
                p.entry.map(ConsentHistoryEntry::from),
                Some(LedgerProblemBody {
                    kind: p.kind.as_str(),
                    seq: p.seq,
                    detail: p.detail,
                }),
            ),
            None => (None, None),
        };
        Self {
            intact: problem.is_none(),
            entries: report.entries,
            first_broken,
            problem,
            checkpoints: report.checkpoints,
        }
    }
}

/// Verify the organisation's consent ledger: the hash chain, its head, and every current
/// value against its latest entry (Admin, Dpo)
#[utoipa::path(get, path = "/organizations/{orgID}/consenthistory/verify", tag = "Permissions and consents",
    params(("orgID" = String, Path)), security(("bearer" = []), ("apikey" = [])),
    responses((status = 200, body = LedgerVerification), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 429, body = ErrorBody)))]
async fn verify_consent_ledger(
    State(s): Svc,
    Caller(a): Caller,
    Path(org): Path<String>,
) -> Result<Json<LedgerVerification>, IgrantError> {
    let report = s.verify_consent_ledger(&a, org.parse()?, &[]).await?;
    Ok(Json(report.into()))
}

#[derive(Deserialize, ToSchema)]
pub struct LedgerCheckpointsBody {
    /// Checkpoints (`GET …/consenthistory/checkpoint`) and consent receipts kept outside the
    /// database; at most 1000.
    #[serde(rename = "Checkpoints", alias = "checkpoints", default)]
    checkpoints: Vec<String>,
}

/// Verify the organisation's consent ledger as GET does, and that it extends every signed
/// checkpoint or receipt given (Admin, Dpo)
#[utoipa::path(post, path = "/organizations/{orgID}/consenthistory/verify", tag = "Permissions and consents",
    params(("orgID" = String, Path)), request_body = LedgerCheckpointsBody, security(("bearer" = []), ("apikey" = [])),
    responses((status = 200, body = LedgerVerification), (status = 400, body = ErrorBody), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody), (status = 429, body = ErrorBody)))]
async fn verify_consent_ledger_against(
    State(s): Svc,
    Caller(a): Caller,
    Path(org): Path<String>,
    IgrantJson(b): IgrantJson<LedgerCheckpointsBody>,
) -> Result<Json<LedgerVerification>, IgrantError> {
    let report = s
        .verify_consent_ledger(&a, org.parse()?, &b.checkpoints)
        .await?;
    Ok(Json(report.into()))
}

#[derive(Serialize, ToSchema)]
pub struct LedgerCheckpointReply {
    /// A JWS (compact JWT, `typ` `consent-checkpoint`) over the organisation, the head's
    /// position and hash, and the time; verifiable against `/.well-known/jwks.json`.
    #[serde(rename = "Checkpoint")]
    checkpoint: String,
    #[serde(rename = "Seq")]
    seq: i64,
    #[serde(rename = "Hash")]
    hash: String,
    #[serde(rename = "TimeStamp")]
    timestamp: String,
}

/// A signed checkpoint of the organisation's consent ledger, to keep outside Accord
/// (Admin, Dpo)
#[utoipa::path(get, path = "/organizations/{orgID}/consenthistory/checkpoint", tag = "Permissions and consents",
    params(("orgID" = String, Path)), security(("bearer" = []), ("apikey" = [])),
    responses((status = 200, body = LedgerCheckpointReply), (status = 403, body = ErrorBody), (status = 404, body = ErrorBody)))]
async fn consent_ledger_checkpoint(
    State(s): Svc,
    Caller(a): Caller,
    Path(org): Path<String>,
) -> Result<Json<LedgerCheckpointReply>, IgrantError> {
    let c = s.consent_ledger_checkpoint(&a, org.parse()?).await?;
    Ok(Json(LedgerCheckpointReply {
        checkpoint: c.token,
        seq: c.seq,
        hash: c.hash,
        timestamp: crate::igrant::wire::rfc3339(c.at),
    }))
}
