//! Wire shapes shared by several sections of the iGrant spec (User, Token). Field names
//! and casing are the spec's.

use serde::Serialize;
use utoipa::ToSchema;

use crate::services::identity::{TokenPair, UserProfile};

/// Go's zero time, which iGrant.io's server writes for times never set.
pub const ZERO_TIME: &str = "0001-01-01T00:00:00Z";

#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "PascalCase")]
pub struct UserClient {
    /// The push-notification token of the user's device.
    pub token: String,
    #[serde(rename = "Type")]
    pub client_type: i64,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UserOrg {
    #[serde(rename = "OrgID")]
    pub org_id: String,
    #[serde(rename = "Name")]
    pub name: String,
    #[serde(rename = "Location")]
    pub location: String,
    #[serde(rename = "Type")]
    pub org_type: String,
    #[serde(rename = "TypeID")]
    pub type_id: String,
    #[serde(rename = "EulaAccepted")]
    pub eula_accepted: bool,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UserRole {
    #[serde(rename = "RoleID")]
    pub role_id: i64,
    #[serde(rename = "OrgID")]
    pub org_id: String,
}

/// The spec's `User`.
#[derive(Debug, Serialize, ToSchema)]
pub struct User {
    #[serde(rename = "ID")]
    pub id: String,
    #[serde(rename = "Name")]
    pub name: String,
    /// The account's ID in the identity store: in Accord, the same as `ID`.
    #[serde(rename = "IamID")]
    pub iam_id: String,
    #[serde(rename = "Email")]
    pub email: String,
    #[serde(rename = "Phone")]
    pub phone: String,
    #[serde(rename = "ImageID")]
    pub image_id: String,
    #[serde(rename = "ImageURL")]
    pub image_url: String,
    #[serde(rename = "LastVisit")]
    pub last_visit: String,
    #[serde(rename = "Client")]
    pub client: UserClient,
    #[serde(rename = "Orgs")]
    pub orgs: Vec<UserOrg>,
    /// The user's APIKey; shown only to the user themselves, empty otherwise or if none.
    #[serde(rename = "APIKey")]
    pub api_key: String,
    #[serde(rename = "Roles")]
    pub roles: Vec<UserRole>,
}

impl User {
    pub fn from_profile(p: UserProfile, public_url: &str) -> Self {
        let u = p.user;
        let id = u.id.to_string();
        let image_id = u.image_id.unwrap_or_default();
        let image_url = if image_id.is_empty() {
            String::new()
        } else {
            format!("{public_url}/v1/users/{id}/image/{image_id}")
        };
        Self {
            iam_id: id.clone(),
            name: u.name,
            email: u.email.map(|e| e.as_str().to_owned()).unwrap_or_default(),
            phone: u.phone,
            image_id,
            image_url,
            last_visit: u
                .last_visit
                .map(rfc3339)
                .unwrap_or_else(|| ZERO_TIME.to_owned()),
            client: UserClient {
                token: u.client_token,
                client_type: u.client_type,
            },
            orgs: vec![],
            api_key: p.api_key.unwrap_or_default(),
            roles: p
                .roles
                .into_iter()
                .map(|r| UserRole {
                    role_id: r.role.id(),
                    org_id: r.organization_id.to_string(),
                })
                .collect(),
            id,
        }
    }
}

pub fn rfc3339(t: chrono::DateTime<chrono::Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// The spec's `Token`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Token {
    pub access_token: String,
    pub expires_in: i64,
    pub refresh_expires_in: i64,
    pub refresh_token: String,
    /// Always `bearer`.
    pub token_type: String,
}

impl From<TokenPair> for Token {
    fn from(t: TokenPair) -> Self {
        Self {
            access_token: t.access_token,
            expires_in: t.expires_in,
            refresh_expires_in: t.refresh_expires_in,
            refresh_token: t.refresh_token,
            token_type: "bearer".into(),
        }
    }
}

/// `{User, Token}`: what the logins answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct UserAndToken {
    #[serde(rename = "User")]
    pub user: User,
    #[serde(rename = "Token")]
    pub token: Token,
}

/// `{"Msg": "..."}`: a confirmation with nothing else to say.
#[derive(Debug, Serialize, ToSchema)]
pub struct Msg {
    #[serde(rename = "Msg")]
    pub msg: String,
}

impl Msg {
    pub fn new(msg: &str) -> Self {
        Self {
            msg: msg.to_owned(),
        }
    }
}
