//! `accord admin …`: the operator's commands beyond set-up (docs/operations.md, "The
//! operator's command line"). Each prints lines for a person, or with `--json` one JSON
//! document for a script.

use accord_domain::identity::User;
use accord_domain::organization::Organization;
use accord_server::services::operator::SigningKeyState;
use accord_server::services::Services;
use accord_store::{RestClientRecord, SigningKeyRecord};
use serde_json::{json, Value};

/// What a command shows: a JSON document, and the same as lines.
pub struct Shown {
    pub json: Value,
    pub lines: Vec<String>,
}

impl Shown {
    pub fn print(&self, as_json: bool) {
        if as_json {
            println!("{}", self.json);
        } else {
            for line in &self.lines {
                println!("{line}");
            }
        }
    }
}

pub fn rest_clients(clients: &[RestClientRecord]) -> Shown {
    Shown {
        json: json!({"RestClients": clients.iter().map(|c| json!({
            "ID": c.id.to_string(),
            "Name": c.name,
            "Organization": c.organization_id.map(|o| o.to_string()),
            "Created": c.created_at.to_rfc3339(),
        })).collect::<Vec<_>>()}),
        lines: clients
            .iter()
            .map(|c| {
                let scope = c
                    .organization_id
                    .map_or("everything".to_owned(), |o| format!("organisation {o}"));
                format!(
                    "{}\t{}\t{scope}\tcreated {}",
                    c.name,
                    c.id,
                    c.created_at.to_rfc3339()
                )
            })
            .collect(),
    }
}

fn user_json(u: &User) -> Value {
    json!({
        "ID": u.id.to_string(),
        "Email": u.email.as_ref().map(|e| e.as_str().to_owned()),
        "Name": u.name,
        "Status": format!("{:?}", u.status),
        "PlatformAdmin": u.is_platform_admin,
        "EmailVerified": u.email_verified_at.is_some(),
        "Created": u.created_at.to_rfc3339(),
        "LastVisit": u.last_visit.map(|t| t.to_rfc3339()),
    })
}

fn user_line(u: &User) -> String {
    format!(
        "{}\t{}\t{:?}{}\t{}",
        u.email.as_ref().map_or("(no address)", |e| e.as_str()),
        u.id,
        u.status,
        if u.is_platform_admin {
            ", platform admin"
        } else {
            ""
        },
        u.name
    )
}

pub fn users(key: &str, users: &[User]) -> Shown {
    Shown {
        json: json!({ key: users.iter().map(user_json).collect::<Vec<_>>() }),
        lines: users.iter().map(user_line).collect(),
    }
}

pub fn user(u: &User) -> Shown {
    Shown {
        json: json!({ "User": user_json(u) }),
        lines: vec![user_line(u)],
    }
}

pub fn organizations(orgs: &[Organization]) -> Shown {
    Shown {
        json: json!({"Organizations": orgs.iter().map(|o| json!({
            "ID": o.id.to_string(),
            "Name": o.name,
            "Enabled": o.enabled,
            "Parent": o.parent_id.map(|p| p.to_string()),
            "Created": o.created_at.to_rfc3339(),
        })).collect::<Vec<_>>()}),
        lines: orgs
            .iter()
            .map(|o| {
                format!(
                    "{}\t{}\t{}",
                    o.id,
                    o.name,
                    if o.enabled {
                        "open for subscriptions"
                    } else {
                        "closed"
                    }
                )
            })
            .collect(),
    }
}

/// A checkpoint: the JWS alone as the line (to keep in a file `verify-consent-ledger
/// --checkpoints` reads), everything in the JSON.
pub async fn checkpoint(services: &Services, org: &str) -> accord_domain::Result<Shown> {
    let c = services.consent_ledger_checkpoint_unchecked(org).await?;
    Ok(Shown {
        json: json!({"Checkpoint": c.token, "Seq": c.seq, "Hash": c.hash, "TimeStamp": c.at.to_rfc3339()}),
        lines: vec![c.token],
    })
}

pub fn signing_keys(keys: &[(SigningKeyRecord, SigningKeyState)]) -> Shown {
    Shown {
        json: json!({"SigningKeys": keys.iter().map(|(k, state)| json!({
            "ID": k.id,
            "State": state.as_str(),
            "Created": k.created_at.to_rfc3339(),
            "Retired": k.retired_at.map(|t| t.to_rfc3339()),
        })).collect::<Vec<_>>()}),
        lines: keys
            .iter()
            .map(|(k, state)| {
                format!(
                    "{}\t{}\tcreated {}",
                    k.id,
                    state.as_str(),
                    k.created_at.to_rfc3339()
                )
            })
            .collect(),
    }
}
