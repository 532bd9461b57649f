//! Images: validated by content, size-limited, served with type, ETag and caching headers.

use base64::Engine as _;
use reqwest::multipart::{Form, Part};
use reqwest::{Method, StatusCode};

use crate::both_backends;
use crate::helpers::{Reply, TestDb};
use crate::organizations::{user, Fixture};

/// A valid 1×1 PNG.
pub(crate) fn png() -> Vec<u8> {
    base64::engine::general_purpose::STANDARD
        .decode("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNkYPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==")
        .unwrap()
}

async fn upload(
    f: &Fixture,
    path: &str,
    auth: &str,
    field: &str,
    bytes: Vec<u8>,
    mime: &str,
) -> Reply {
    let form = Form::new().part(
        field.to_owned(),
        Part::bytes(bytes)
            .file_name("upload")
            .mime_str(mime)
            .unwrap(),
    );
    let r = f
        .app
        .client
        .post(f.app.url(path))
        .header("authorization", auth)
        .multipart(form)
        .send()
        .await
        .expect("answered");
    Reply::from(r).await
}

async fn fetch(
    f: &Fixture,
    url: &str,
    auth: Option<&str>,
    etag: Option<&str>,
) -> (StatusCode, reqwest::header::HeaderMap, Vec<u8>) {
    let mut req = f.app.client.get(url);
    if let Some(a) = auth {
        req = req.header("authorization", a);
    }
    if let Some(e) = etag {
        req = req.header("if-none-match", e);
    }
    let r = req.send().await.unwrap();
    let (status, headers) = (r.status(), r.headers().clone());
    (status, headers, r.bytes().await.unwrap().to_vec())
}

async fn organisation_images_round_trip_and_bad_ones_are_refused(db: TestDb) {
    let f = Fixture::new(&db).await;
    let logo = f.org_path("/logoimage");
    let r = upload(&f, &logo, &f.admin, "orgimage", png(), "image/png").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let org = &r.json["Organization"];
    let url = org["LogoImageURL"].as_str().unwrap().to_owned();
    assert!(
        url.starts_with(&f.app.base) && url.ends_with(org["LogoImageID"].as_str().unwrap()),
        "{url}"
    );

    // Byte for byte, public, with type, ETag and caching headers; 304 when unchanged.
    let (status, headers, body) = fetch(&f, &url, None, None).await;
    assert_eq!((status, body), (StatusCode::OK, png()));
    assert_eq!(headers["content-type"], "image/png");
    assert!(headers["cache-control"]
        .to_str()
        .unwrap()
        .contains("max-age"));
    let etag = headers["etag"].to_str().unwrap().to_owned();
    let (status, _, body) = fetch(&f, &url, None, Some(&etag)).await;
    assert_eq!((status, body.len()), (StatusCode::NOT_MODIFIED, 0));

    // The cover is its own image; a new logo replaces the old one, which is gone.
    let r = upload(
        &f,
        &f.org_path("/coverimage"),
        &f.admin,
        "orgimage",
        png(),
        "image/png",
    )
    .await;
    assert_ne!(
        r.json["Organization"]["CoverImageID"],
        r.json["Organization"]["LogoImageID"]
    );
    upload(&f, &logo, &f.admin, "orgimage", png(), "image/png").await;
    let (status, _, _) = fetch(&f, &url, None, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // Not images, broken images, too big, wrong field, wrong caller.
    upload(
        &f,
        &logo,
        &f.admin,
        "orgimage",
        b"just some text".to_vec(),
        "image/png",
    )
    .await
    .assert_error(400);
    let truncated = png()[..40].to_vec();
    upload(&f, &logo, &f.admin, "orgimage", truncated, "image/png")
        .await
        .assert_error(400);
    upload(
        &f,
        &logo,
        &f.admin,
        "orgimage",
        vec![0u8; 10 * 1024 * 1024],
        "image/png",
    )
    .await
    .assert_error(413);
    upload(&f, &logo, &f.admin, "picture", png(), "image/png")
        .await
        .assert_error(400);
    upload(&f, &logo, &f.dpo, "orgimage", png(), "image/png")
        .await
        .assert_error(403);
    let r = f
        .app
        .client
        .post(f.app.url(&logo))
        .header("authorization", &f.admin)
        .header("content-type", "application/json")
        .body("{}")
        .send()
        .await
        .unwrap();
    Reply::from(r).await.assert_error(400);
    // Another organisation's image ID is not found here.
    let other = format!(
        "/v1/organizations/{}/image/{}",
        f.other_org,
        org["LogoImageID"].as_str().unwrap()
    );
    let (status, _, _) = fetch(&f, &f.app.url(&other), None, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}
both_backends!(organisation_images_round_trip_and_bad_ones_are_refused);

async fn user_and_type_images(db: TestDb) {
    let f = Fixture::new(&db).await;
    let me = f
        .call(Method::GET, "/v1/user", &f.individual, None)
        .await
        .json;
    let path = format!("/v1/users/{}/image", f.individual_id);
    let r = upload(&f, &path, &f.individual, "userimage", png(), "image/png").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let url = r.json["User"]["ImageURL"].as_str().unwrap().to_owned();
    assert_ne!(r.json["User"]["ImageID"], me["ImageID"]);
    let (status, headers, body) = fetch(&f, &url, Some(&f.individual), None).await;
    assert_eq!((status, body), (StatusCode::OK, png()));
    assert!(headers["cache-control"]
        .to_str()
        .unwrap()
        .starts_with("private"));
    // Someone else's image is not found, for the reader and the writer alike.
    let (status, _, _) = fetch(&f, &url, Some(&f.admin), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _, _) = fetch(&f, &url, None, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    upload(&f, &path, &f.admin, "userimage", png(), "image/png")
        .await
        .assert_error(404);
    upload(
        &f,
        &path,
        &f.individual,
        "userimage",
        b"GIF89a-but-not-really".to_vec(),
        "image/gif",
    )
    .await
    .assert_error(400);
    let r = f.call(Method::DELETE, &path, &f.individual, None).await;
    assert_eq!(
        (r.status, r.json["User"]["ImageID"].as_str()),
        (StatusCode::OK, Some(""))
    );
    let (status, _, _) = fetch(&f, &url, Some(&f.individual), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);

    // Organisation type images: platform admins set them; anyone reads them.
    let type_path = format!("/v1/organizations/types/{}/image", f.type_id);
    let (status, _, _) = fetch(&f, &f.app.url(&type_path), None, None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    upload(&f, &type_path, &f.admin, "orgimage", png(), "image/png")
        .await
        .assert_error(403);
    let r = upload(&f, &type_path, &f.platform, "orgimage", png(), "image/png").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.json["ImageURL"], f.app.url(&type_path));
    let (status, _, body) = fetch(&f, &f.app.url(&type_path), None, None).await;
    assert_eq!((status, body), (StatusCode::OK, png()));
    let _ = user(&f.app, "unused").await;
}
both_backends!(user_and_type_images);
