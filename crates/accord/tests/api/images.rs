//! Images: validated by content, size-limited, re-encoded (no trailing bytes, no
//! metadata), served with type, ETag, caching and no-sniffing headers; bounded work.

use reqwest::multipart::{Form, Part};
use reqwest::{Method, StatusCode};

use crate::both_backends;
use crate::helpers::png;
use crate::helpers::{user, Fixture};
use crate::helpers::{Reply, TestDb};

fn is_png(bytes: &[u8]) -> bool {
    bytes.starts_with(b"\x89PNG\r\n\x1a\n")
}

/// A `w`×`h` PNG of one colour: a small file however large the canvas.
fn canvas(w: u32, h: u32) -> Vec<u8> {
    let img = image::GrayImage::from_pixel(w, h, image::Luma([7]));
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, image::ImageFormat::Png).unwrap();
    out.into_inner()
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
    assert_eq!((status, is_png(&body)), (StatusCode::OK, true));
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
        .json["User"]
        .clone();
    let path = format!("/v1/users/{}/image", f.individual_id);
    let r = upload(&f, &path, &f.individual, "userimage", png(), "image/png").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let url = r.json["User"]["ImageURL"].as_str().unwrap().to_owned();
    assert_ne!(r.json["User"]["ImageID"], me["ImageID"]);
    let (status, headers, body) = fetch(&f, &url, Some(&f.individual), None).await;
    assert_eq!((status, is_png(&body)), (StatusCode::OK, true));
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
    assert_eq!((status, is_png(&body)), (StatusCode::OK, true));
    let _ = user(&f.app, "unused").await;
}
both_backends!(user_and_type_images);

/// A PNG with HTML after its end and a JPEG carrying a GPS position in EXIF are stored
/// re-encoded: the HTML and the EXIF are gone; every answer says `nosniff`, and an image
/// carries a sandboxing Content-Security-Policy.
async fn uploads_are_reencoded_and_served_unsniffable(db: TestDb) {
    let f = Fixture::new(&db).await;
    let path = format!("/v1/users/{}/image", f.individual_id);
    let mut polyglot = png();
    polyglot.extend_from_slice(b"<html><script>alert(document.cookie)</script></html>");
    let r = upload(&f, &path, &f.individual, "userimage", polyglot, "image/png").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    assert_eq!(r.headers["x-content-type-options"], "nosniff");
    let url = r.json["User"]["ImageURL"].as_str().unwrap().to_owned();
    let (status, headers, body) = fetch(&f, &url, Some(&f.individual), None).await;
    assert_eq!((status, is_png(&body)), (StatusCode::OK, true));
    assert!(
        !body.windows(5).any(|w| w == b"<html"),
        "the trailing HTML was stored"
    );
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert_eq!(
        headers["content-security-policy"],
        "default-src 'none'; sandbox"
    );

    let mut jpeg = std::io::Cursor::new(Vec::new());
    image::RgbImage::from_pixel(8, 8, image::Rgb([1, 2, 3]))
        .write_to(&mut jpeg, image::ImageFormat::Jpeg)
        .unwrap();
    let jpeg = jpeg.into_inner();
    let payload = b"Exif\0\0MM\0\x2a\0\0\0\x08\0\0GPSLat52.5200N";
    let mut with_exif = jpeg[..2].to_vec();
    with_exif.extend_from_slice(&[0xFF, 0xE1]);
    with_exif.extend_from_slice(&((payload.len() + 2) as u16).to_be_bytes());
    with_exif.extend_from_slice(payload);
    with_exif.extend_from_slice(&jpeg[2..]);
    let r = upload(
        &f,
        &path,
        &f.individual,
        "userimage",
        with_exif,
        "image/jpeg",
    )
    .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let url = r.json["User"]["ImageURL"].as_str().unwrap().to_owned();
    let (status, headers, body) = fetch(&f, &url, Some(&f.individual), None).await;
    assert_eq!(
        (status, &headers["content-type"]),
        (
            StatusCode::OK,
            &"image/jpeg"
                .parse::<reqwest::header::HeaderValue>()
                .unwrap()
        )
    );
    assert!(
        !body.windows(8).any(|w| w == b"GPSLat52"),
        "the EXIF GPS position was stored"
    );
    assert!(!body.windows(4).any(|w| w == b"Exif"));
    // JSON answers are not to be sniffed either.
    let r = f.call(Method::GET, "/v1/user", &f.individual, None).await;
    assert_eq!(r.headers["x-content-type-options"], "nosniff");
}
both_backends!(uploads_are_reencoded_and_served_unsniffable);

/// 32 uploads of `bytes` at once: each one's status and latency.
async fn send_32(
    app: &crate::helpers::TestApp,
    path: &str,
    auth: &str,
    bytes: Vec<u8>,
) -> Vec<(StatusCode, std::time::Duration)> {
    let sends = (0..32).map(|_| {
        let (client, path, auth, bytes) = (
            app.client.clone(),
            path.to_owned(),
            auth.to_owned(),
            bytes.clone(),
        );
        async move {
            let part = Part::bytes(bytes)
                .file_name("i.png")
                .mime_str("image/png")
                .unwrap();
            let form = Form::new().part("userimage", part);
            let started = std::time::Instant::now();
            let r = client
                .post(path)
                .header("authorization", auth)
                .multipart(form);
            let status = r.send().await.unwrap().status();
            (status, started.elapsed())
        }
    });
    crate::helpers::join_all_spawned(sends).await
}

/// The peak resident memory (VmHWM) of a process, bytes.
fn peak_rss(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap();
    kb * 1024
}

/// Bounded work per upload: one account sends 32 decompression bombs (a small PNG
/// claiming 8193×8193), and another 32 images at the limit (16 megapixels), each 32 at
/// once, to a fresh server process. Bombs are refused from their header, decodes run one per core, and
/// the account's upload limit (30 per 15 minutes) answers the rest 429: the server's peak
/// memory stays under 400 MiB (before: 32 decodes of 124 MiB each at once took 3 GB).
async fn image_uploads_are_bounded_in_memory(db: TestDb) {
    let dir = std::env::temp_dir().join(format!("accord-img-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let server =
        crate::process::ServerProcess::start(&db.url, dir.join("log"), &[("ACCORD_LOG", "warn")]);
    let remote = crate::helpers::TestApp::remote(&server.base);
    let (auth, id) = user(&remote, "uploader").await;
    let path = remote.url(&format!("/v1/users/{id}/image"));
    let baseline = peak_rss(server.child.id());
    // Every upload counts against the account's limit, refused or not.
    let bombs = send_32(&remote, &path, &auth, canvas(8193, 8193)).await;
    let refused = bombs
        .iter()
        .filter(|(s, _)| *s == StatusCode::BAD_REQUEST)
        .count();
    let limited = bombs
        .iter()
        .filter(|(s, _)| *s == StatusCode::TOO_MANY_REQUESTS)
        .count();
    assert_eq!((refused, limited), (30, 2), "{bombs:?}");
    let (auth, id) = user(&remote, "uploader2").await;
    let path = remote.url(&format!("/v1/users/{id}/image"));
    let big = send_32(&remote, &path, &auth, canvas(4096, 4096)).await;
    let stored = big.iter().filter(|(s, _)| *s == StatusCode::OK).count();
    let limited = big
        .iter()
        .filter(|(s, _)| *s == StatusCode::TOO_MANY_REQUESTS)
        .count();
    assert_eq!((stored + limited, limited), (32, 2), "{big:?}");
    let peak = peak_rss(server.child.id());
    let slowest = big.iter().map(|(_, t)| *t).max().unwrap();
    crate::helpers::report(&format!(
        "image uploads: peak RSS {} MiB (baseline {} MiB), slowest of 32 at once {slowest:?}",
        peak >> 20,
        baseline >> 20
    ));
    assert!(peak < 400 << 20, "peak RSS {} MiB", peak >> 20);
    let _ = std::fs::remove_dir_all(&dir);
}
both_backends!(image_uploads_are_bounded_in_memory);

/// The `/web` paths of iGrant.io's server answer the same images under the same rules.
async fn web_paths_answer_the_same_images(db: TestDb) {
    let f = Fixture::new(&db).await;
    let r = upload(
        &f,
        &f.org_path("/logoimage"),
        &f.admin,
        "orgimage",
        png(),
        "image/png",
    )
    .await;
    let url = r.json["Organization"]["LogoImageURL"]
        .as_str()
        .unwrap()
        .to_owned();
    let (status, _, bytes) = fetch(&f, &url, None, None).await;
    let (web_status, _, web_bytes) = fetch(&f, &format!("{url}/web"), None, None).await;
    assert_eq!((status, web_status), (StatusCode::OK, StatusCode::OK));
    assert_eq!(bytes, web_bytes);
    let me = format!("/v1/users/{}/image", f.individual_id);
    let r = upload(&f, &me, &f.individual, "userimage", png(), "image/png").await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let image = r.json["User"]["ImageID"].as_str().unwrap().to_owned();
    let web = f.app.url(&format!("{me}/{image}/web"));
    let (status, _, _) = fetch(&f, &web, Some(&f.individual), None).await;
    assert_eq!(status, StatusCode::OK);
    // Someone else's image is not theirs at the `/web` path either.
    let (status, _, _) = fetch(&f, &web, Some(&f.admin), None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}
both_backends!(web_paths_answer_the_same_images);
