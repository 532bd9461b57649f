//! Calling the CustomerID facade: REST clients (made with the CLI, as an operator does),
//! requests in its form encoding, the IDs of an answer, and the organisation tree most
//! CustomerID scenarios start from.

use super::{Fixture, Reply, TestDb};

pub const BASE: &str = "/customerid-rest/services/2.1";

pub fn add_rest_client(db: &TestDb, name: &str, secret: &str, org: Option<&str>) {
    use std::io::Write as _;
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_accord"));
    cmd.args(["admin", "add-rest-client", "--name", name])
        .env("ACCORD_DATABASE_URL", &db.url)
        .env("ACCORD_LOG", "warn");
    if let Some(org) = org {
        cmd.args(["--organization", org]);
    }
    let mut child = cmd
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(format!("{secret}\n").as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

pub async fn get(
    f: &Fixture,
    path: &str,
    auth: Option<(&str, &str)>,
    bearer: Option<&str>,
    json: bool,
) -> Reply {
    let mut req = f.app.client.get(f.app.url(&format!("{BASE}{path}")));
    if let Some((u, p)) = auth {
        req = req.basic_auth(u, Some(p));
    }
    if let Some(b) = bearer {
        req = req.header("authorization", b);
    }
    if json {
        req = req.header("accept", "application/json");
    }
    Reply::from(req.send().await.unwrap()).await
}

pub fn ids(r: &Reply) -> Vec<String> {
    r.body
        .split("<Id>")
        .skip(1)
        .map(|s| s.split("</Id>").next().unwrap().to_owned())
        .collect()
}

/// Parent "5555555-6" with child "1234567-1"; the Admin lives in the child, the Dpo in
/// the parent; the other organisation is outside.
pub async fn seed(db: &TestDb, f: &Fixture) -> (String, String, String) {
    let child = f.org.clone();
    let parent = f.other_org.clone();
    db.execute(
        "UPDATE organizations SET technical_name = '5555555-6' WHERE id = $1",
        &[&parent],
    )
    .await;
    db.execute(
        "UPDATE organizations SET technical_name = '1234567-1', parent_id = $1 WHERE id = $2",
        &[&parent, &child],
    )
    .await;
    db.execute(
        "UPDATE users SET first_name = 'Maija', surname = 'Virtanen', phone = '+358401234567', home_organization_id = $1 WHERE id = $2",
        &[&child, &f.admin_id],
    )
    .await;
    db.execute("INSERT INTO user_attributes (user_id, name, position, value) VALUES ($1, 'employeeNumber', 0, 'E-42')", &[&f.admin_id]).await;
    db.execute("INSERT INTO organization_attributes (organization_id, name, position, value) VALUES ($1, 'vatNumber', 0, 'FI1234567')", &[&child]).await;
    let third = f.app.register(&super::email("third"), super::PW).await;
    db.execute(
        "UPDATE users SET home_organization_id = $1, status = 5 WHERE id = $2",
        &[&parent, &third],
    )
    .await;
    (parent, child, third)
}

pub async fn send(
    f: &Fixture,
    method: reqwest::Method,
    path: &str,
    auth: (&str, &str),
    form: &[(&str, &str)],
) -> Reply {
    let r = f
        .app
        .client
        .request(method, f.app.url(&format!("{BASE}{path}")))
        .basic_auth(auth.0, Some(auth.1))
        .form(form)
        .send()
        .await
        .unwrap();
    Reply::from(r).await
}
