//! Variants of the permission rules that the matrix (`matrix.rs`, one body per operation)
//! cannot show: the same operation with another body or on another organisation.

use reqwest::{Method, StatusCode};
use serde_json::json;

use crate::both_backends;
use crate::helpers::TestDb;
use crate::organizations::{user, Fixture};

async fn permission_variants(db: TestDb) {
    let f = Fixture::new(&db).await;
    let org = |rest: &str| format!("/v1/organizations/{}{rest}", f.org);
    f.open_with_key().await;
    // Subscribing someone else (`userid`) is the Admin's alone, and needs no key.
    let (_, subscriber) = user(&f.app, "subscriber").await;
    let body = json!({"userid": subscriber});
    for (who, status) in [
        (&f.outsider, 403),
        (&f.dpo, 403),
        (&f.developer, 403),
        (&f.individual, 403),
        (&f.platform, 403),
    ] {
        let r = f
            .call(Method::POST, &org("/users"), who, Some(body.clone()))
            .await;
        r.assert_error(status);
    }
    let r = f
        .call(Method::POST, &org("/users"), &f.admin, Some(body))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    // Admin of one organisation is nothing in another, and the other way round.
    let other_users = format!("/v1/organizations/{}/users", f.other_org);
    f.call(Method::GET, &other_users, &f.admin, None)
        .await
        .assert_error(403);
    let r = f.call(Method::GET, &other_users, &f.outsider, None).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
}
both_backends!(permission_variants);

/// Erasing one's account may not leave an organisation without an Admin.
async fn the_last_admin_cannot_erase_their_account(db: TestDb) {
    let f = Fixture::new(&db).await;
    f.call(Method::DELETE, "/v1/user", &f.admin, None)
        .await
        .assert_error(409);
    let r = f
        .call(
            Method::POST,
            &f.org_path("/admins"),
            &f.admin,
            Some(json!({"userid": f.individual_id, "roleid": 1})),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK);
    assert_eq!(
        f.call(Method::DELETE, "/v1/user", &f.admin, None)
            .await
            .status,
        StatusCode::NO_CONTENT
    );
    let admins = f
        .call(Method::GET, &f.org_path("/admins"), &f.individual, None)
        .await
        .json;
    assert!(
        admins["Admins"]
            .as_array()
            .unwrap()
            .iter()
            .all(|a| a["UserID"] != f.admin_id.as_str()),
        "erased user's role goes with them"
    );
}
both_backends!(the_last_admin_cannot_erase_their_account);
