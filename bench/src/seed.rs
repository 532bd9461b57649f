//! Realistic data, fast: the organisation and its 5 purposes × 4 attributes through the
//! API (as a customer would make them), then N subscribed users with mixed consents
//! written straight into the database in multi-row batches (as an import would).

use std::time::Instant;

use anyhow::{bail, Context as _, Result};
use serde_json::{json, Value};

pub const PASSWORD: &str = "bench password 1234";
pub const PURPOSES: usize = 5;
pub const ATTRIBUTES_PER_PURPOSE: usize = 4;

pub enum Db {
    Sqlite(sqlx::SqlitePool),
    Postgres(sqlx::PgPool),
}

impl Db {
    pub async fn connect(url: &str) -> Result<Self> {
        Ok(if url.starts_with("sqlite:") {
            use sqlx::sqlite::SqliteConnectOptions;
            use std::str::FromStr as _;
            let options = SqliteConnectOptions::from_str(url)?
                .busy_timeout(std::time::Duration::from_secs(30))
                // Seeding is an import: the benchmark's durability is the server's.
                .synchronous(sqlx::sqlite::SqliteSynchronous::Off);
            Db::Sqlite(
                sqlx::sqlite::SqlitePoolOptions::new()
                    .max_connections(1)
                    .connect_with(options)
                    .await?,
            )
        } else {
            Db::Postgres(
                sqlx::postgres::PgPoolOptions::new()
                    .max_connections(2)
                    .connect(url)
                    .await?,
            )
        })
    }

    pub async fn execute(&self, sql: &str) -> Result<()> {
        match self {
            Db::Sqlite(p) => sqlx::raw_sql(sql).execute(p).await.map(|_| ())?,
            Db::Postgres(p) => sqlx::raw_sql(sql).execute(p).await.map(|_| ())?,
        }
        Ok(())
    }

    pub async fn one_i64(&self, sql: &str) -> Result<i64> {
        Ok(match self {
            Db::Sqlite(p) => sqlx::query_scalar(sql).fetch_one(p).await?,
            Db::Postgres(p) => sqlx::query_scalar(sql).fetch_one(p).await?,
        })
    }

    pub async fn one_text(&self, sql: &str) -> Result<Option<String>> {
        Ok(match self {
            Db::Sqlite(p) => sqlx::query_scalar(sql).fetch_optional(p).await?,
            Db::Postgres(p) => sqlx::query_scalar(sql).fetch_optional(p).await?,
        })
    }
}

/// What the scenarios need to know about the seeded data.
pub struct Seeded {
    pub org: String,
    pub admin_bearer: String,
    /// (purpose ID, its attribute IDs)
    pub purposes: Vec<(String, Vec<String>)>,
    /// A sample spread over all users: (user ID, email, consent ID).
    pub users: Vec<(String, String, String)>,
    pub seconds: f64,
}

async fn call(
    http: &reqwest::Client,
    method: reqwest::Method,
    url: String,
    auth: Option<&str>,
    body: Value,
) -> Result<Value> {
    let mut req = http.request(method, &url).json(&body);
    if let Some(a) = auth {
        req = req.header("Authorization", a);
    }
    let r = req.send().await?;
    let status = r.status();
    let text = r.text().await?;
    if !status.is_success() {
        bail!("{url}: {status} {text}");
    }
    Ok(serde_json::from_str(&text).unwrap_or(Value::Null))
}

fn bearer(login: &Value) -> Result<String> {
    Ok(format!(
        "Bearer {}",
        login["Token"]["access_token"]
            .as_str()
            .context("access_token")?
    ))
}

pub async fn seed(db: &Db, base: &str, users: usize, password_hash: &str) -> Result<Seeded> {
    let started = Instant::now();
    let http = reqwest::Client::new();
    let post = reqwest::Method::POST;
    let admin_email = "bench-admin@example.com";
    call(
        &http,
        post.clone(),
        format!("{base}/v1/users/register"),
        None,
        json!({"username": admin_email, "password": PASSWORD, "name": "Bench Admin"}),
    )
    .await?;
    db.execute(&format!(
        "UPDATE users SET is_platform_admin = TRUE WHERE email_key = '{admin_email}'"
    ))
    .await?;
    let login = call(
        &http,
        post.clone(),
        format!("{base}/v1/v1.1/users/login"),
        None,
        json!({"username": admin_email, "password": PASSWORD}),
    )
    .await?;
    let admin = bearer(&login)?;
    let kind = call(
        &http,
        post.clone(),
        format!("{base}/v1/organizations/types"),
        Some(&admin),
        json!({"Type": "Retail"}),
    )
    .await?;
    let org = call(&http, post.clone(), format!("{base}/v1/organizations"), Some(&admin),
        json!({"name": "Bench Retail", "location": "Stockholm", "typeid": kind["ID"], "description": "benchmark"})).await?;
    let org = org["ID"].as_str().context("org ID")?.to_owned();
    let purposes: Vec<Value> = (0..PURPOSES)
        .map(|i| json!({"Name": format!("Purpose {i}"), "LawfulBasisOfProcessing": 0}))
        .collect();
    let made = call(
        &http,
        post.clone(),
        format!("{base}/v1/organizations/{org}/purposes"),
        Some(&admin),
        json!({"Purposes": purposes}),
    )
    .await?;
    let mut layout = Vec::new();
    for p in made["Purposes"].as_array().context("purposes")? {
        let pid = p["ID"].as_str().context("purpose ID")?.to_owned();
        let templates: Vec<Value> = (0..ATTRIBUTES_PER_PURPOSE)
            .map(|j| json!({"Consent": format!("Attribute {j}"), "PurposeIDs": [pid]}))
            .collect();
        let t = call(
            &http,
            post.clone(),
            format!("{base}/v1/organizations/{org}/templates"),
            Some(&admin),
            json!({"Templates": templates}),
        )
        .await?;
        let attrs: Vec<String> = t["Templates"]
            .as_array()
            .context("templates")?
            .iter()
            .map(|t| t["ID"].as_str().unwrap_or_default().to_owned())
            .collect();
        layout.push((pid, attrs));
    }
    call(
        &http,
        post.clone(),
        format!("{base}/v1/organizations/{org}/subscription/enable"),
        Some(&admin),
        json!({}),
    )
    .await?;

    // Users in batches: one statement per table per batch, one transaction per batch.
    let now = 1_750_000_000_000i64;
    let sample_every = (users / 20_000).max(1);
    let mut sample = Vec::new();
    const BATCH: usize = 500;
    let mut i = 0;
    while i < users {
        let n = BATCH.min(users - i);
        let mut u = String::from("INSERT INTO users (id, email, email_key, name, password_hash, status, created_at) VALUES ");
        let mut s = String::from(
            "INSERT INTO subscriptions (organization_id, user_id, subscribed_at) VALUES ",
        );
        let mut c =
            String::from("INSERT INTO consents (id, organization_id, user_id, created_at) VALUES ");
        let mut v = String::from("INSERT INTO consent_values (consent_id, organization_id, user_id, purpose_id, attribute_id, value, days, changed_at) VALUES ");
        let mut any_value = false;
        for k in 0..n {
            let n_user = i + k;
            let id = uuid::Uuid::now_v7().to_string();
            let consent = uuid::Uuid::now_v7().to_string();
            let email = format!("bench-{n_user}@example.com");
            let sep = if k == 0 { "" } else { "," };
            u.push_str(&format!(
                "{sep}('{id}','{email}','{email}','User {n_user}','{password_hash}',1,{now})"
            ));
            s.push_str(&format!("{sep}('{org}','{id}',{now})"));
            c.push_str(&format!("{sep}('{consent}','{org}','{id}',{now})"));
            // Mixed consents: about half the attributes set, two in three of those allowed.
            for (pi, (pid, attrs)) in layout.iter().enumerate() {
                for (ai, aid) in attrs.iter().enumerate() {
                    let h = (n_user * 31 + pi * 7 + ai * 13) % 6;
                    if h >= 3 {
                        continue;
                    }
                    let value = if h == 0 { "Disallow" } else { "Allow" };
                    let sep = if any_value { "," } else { "" };
                    any_value = true;
                    v.push_str(&format!(
                        "{sep}('{consent}','{org}','{id}','{pid}','{aid}','{value}',0,{now})"
                    ));
                }
            }
            if n_user % sample_every == 0 {
                sample.push((id, email, consent));
            }
        }
        let mut batch = format!("BEGIN; {u}; {s}; {c};");
        if any_value {
            batch.push_str(&v);
            batch.push(';');
        }
        batch.push_str(" COMMIT;");
        db.execute(&batch)
            .await
            .with_context(|| format!("seeding users {i}..{}", i + n))?;
        i += n;
        if i % 100_000 == 0 {
            eprintln!(
                "  seeded {i} users ({:.0} s)",
                started.elapsed().as_secs_f64()
            );
        }
    }
    // Fresh statistics for the planner, as after any bulk load.
    db.execute("ANALYZE").await?;
    Ok(Seeded {
        org,
        admin_bearer: admin,
        purposes: layout,
        users: sample,
        seconds: started.elapsed().as_secs_f64(),
    })
}
