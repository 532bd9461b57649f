//! Nothing acknowledged is lost: every write that got a 2xx is there after `kill -9`.

use serde_json::{json, Value};

use crate::both_backends;
use crate::helpers::{email, TestDb};
use crate::operations::Remote;
use crate::process::ServerProcess;

const PW: &str = "correct horse battery";

async fn acknowledged_writes_survive_kill_9(db: TestDb) {
    let dir = std::env::temp_dir().join(format!("accord-kill-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let mut acknowledged: Vec<(String, String)> = vec![];
    for round in 0..3 {
        let mut server =
            ServerProcess::start(&db.url, dir.join(format!("server-{round}.log")), &[]);
        let app = Remote(server.base.clone());
        // Every write acknowledged so far, from earlier lives of the server, is readable.
        for (who, name) in &acknowledged {
            let login = app
                .post(
                    "/v1/v1.1/users/login",
                    json!({"username": who, "password": PW}),
                )
                .await;
            assert_eq!(login.0, 200, "round {round}: {who} lost after kill -9");
            assert_eq!(
                login.1["User"]["Name"],
                name.as_str(),
                "round {round}: profile change lost"
            );
        }
        // Concurrent writes, then kill -9 right after the last acknowledgement.
        let mut writes = vec![];
        for i in 0..8 {
            let base = server.base.clone();
            writes.push(tokio::spawn(async move {
                let app = Remote(base);
                let who = email(&format!("r{round}w{i}"));
                let (status, _) = app
                    .post(
                        "/v1/users/register",
                        json!({"username": who, "password": PW, "name": "first"}),
                    )
                    .await;
                (status == 201).then_some(who)
            }));
        }
        for w in writes {
            if let Some(who) = w.await.unwrap() {
                acknowledged.push((who, "first".into()));
            }
        }
        // A profile change, acknowledged.
        let (who, _) = acknowledged.last().cloned().unwrap();
        let login: Value = app
            .post(
                "/v1/v1.1/users/login",
                json!({"username": who, "password": PW}),
            )
            .await
            .1;
        let token = login["Token"]["access_token"].as_str().unwrap().to_owned();
        let r = reqwest::Client::new()
            .patch(format!("{}/v1/user", server.base))
            .bearer_auth(&token)
            .json(&json!({"name": format!("renamed in round {round}")}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 200);
        acknowledged.last_mut().unwrap().1 = format!("renamed in round {round}");
        server.kill9();
    }
    assert_eq!(acknowledged.len(), 24, "every write was acknowledged");
    // One last life to read the final round back.
    let server = ServerProcess::start(&db.url, dir.join("server-final.log"), &[]);
    let app = Remote(server.base.clone());
    for (who, name) in &acknowledged {
        let login = app
            .post(
                "/v1/v1.1/users/login",
                json!({"username": who, "password": PW}),
            )
            .await;
        assert_eq!(login.0, 200, "{who} lost after kill -9");
        assert_eq!(login.1["User"]["Name"], name.as_str());
    }
    drop(server);
    let _ = std::fs::remove_dir_all(&dir);
}
both_backends!(acknowledged_writes_survive_kill_9);
