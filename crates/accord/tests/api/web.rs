//! Accord's pages, used with a real browser (Debian's chromium through playwright-core),
//! end to end on both backends, the mail read from the test SMTP server; axe-core checks
//! every page, and each page is photographed in English and Swedish (docs/web.md). The
//! security of the forms and cookies is checked beside, at the HTTP level.

use reqwest::StatusCode;
use serde_json::Value;

use crate::both_backends;
use crate::browser::Browser;
use crate::helpers::{bearer, email, smtp, Fixture, TestApp, TestDb, PW};

/// The link to this deployment in the newest mail to `to` with `subject`.
async fn mailed_link(app: &TestApp, to: &str, subject: &str, n: usize) -> String {
    let mails = smtp().wait_for_subject(to, subject, n).await;
    let mail = mails
        .iter()
        .find(|m| m.contains(&app.base))
        .expect("a link");
    let start = mail.find(&app.base).unwrap();
    mail[start..]
        .chars()
        .take_while(|c| !c.is_whitespace())
        .collect()
}

fn cookie<'a>(cookies: &'a [Value], name: &str) -> Option<&'a Value> {
    cookies.iter().find(|c| c["name"] == name)
}

async fn sign_in(b: &mut Browser, app: &TestApp, who: &str, password: &str) -> String {
    b.goto(&app.url("/sign-in")).await;
    b.fill("#email", who).await;
    b.fill("#password", password).await;
    b.click("form[action='/sign-in'] button").await.url
}

async fn a_person_registers_confirms_and_signs_in_with_a_browser_alone(db: TestDb) {
    let f = Fixture::with_smtp(&db).await;
    let app = &f.app;
    let who = email("web-register");
    let mut b = Browser::open("en-GB").await;

    let page = b.goto(&app.url("/")).await;
    assert!(page.url.ends_with("/sign-in"), "{page:?}");
    b.assert_accessible("sign-in").await;
    b.screenshot("sign-in-en").await;
    b.goto(&app.url("/register")).await;
    b.assert_accessible("register").await;
    b.screenshot("register-en").await;
    b.fill("#name", "Ada Web").await;
    b.fill("#email", &who).await;
    b.fill("#password", "a long enough password").await;
    let done = b.click("form[action='/register'] button").await;
    assert_eq!(done.status, Some(200), "{done:?}");
    assert!(b.text("main").await.contains("Check your mail"));

    // The mailed link lands on a page whose button proves the address.
    let link = mailed_link(app, &who, "Confirm your email address", 1).await;
    assert!(link.contains("/verify-email?token="), "{link}");
    b.goto(&link).await;
    b.assert_accessible("verify-email").await;
    b.screenshot("verify-email-en").await;
    let proven = b.click("form[action='/verify-email'] button").await;
    assert_eq!(proven.status, Some(200));
    assert!(b.text("main").await.contains("Address confirmed"));
    // A second use of the link does nothing.
    b.goto(&link).await;
    let again = b.click("form[action='/verify-email'] button").await;
    assert_eq!(again.status, Some(400));

    let landed = sign_in(&mut b, app, &who, "a long enough password").await;
    assert!(landed.ends_with("/account"), "{landed}");
    b.assert_accessible("account").await;
    b.screenshot("account-en").await;
    assert_eq!(b.text("#address").await, who);
    let account_len = b.html().await.len();
    assert!(
        account_len < 20_000,
        "the account page: {account_len} bytes"
    );
    assert!(b.text("main").await.contains("confirmed"));
    let cookies = b.cookies().await;
    let session = cookie(&cookies, "accord-session")
        .expect("a session cookie")
        .clone();
    assert_eq!(session["httpOnly"], true);
    assert_eq!(session["sameSite"], "Lax");

    // Signing out ends the session itself: the same cookie brought back opens nothing.
    let out = b.click("form[action='/sign-out'] button").await;
    assert!(out.url.contains("/sign-in?done=signed-out"), "{out:?}");
    b.set_cookie(session).await;
    let page = b.goto(&app.url("/account")).await;
    assert!(page.url.contains("/sign-in"), "{page:?}");
}
both_backends!(a_person_registers_confirms_and_signs_in_with_a_browser_alone);

async fn a_forgotten_password_is_reset_through_the_mailed_link(db: TestDb) {
    let f = Fixture::with_smtp(&db).await;
    let app = &f.app;
    let who = email("web-forgot");
    app.register(&who, PW).await;
    let elsewhere = bearer(&app.login(&who, PW).await);
    let mut b = Browser::open("en-GB").await;

    b.goto(&app.url("/forgot-password")).await;
    b.assert_accessible("forgot-password").await;
    b.screenshot("forgot-password-en").await;
    b.fill("#email", &who).await;
    b.click("form[action='/forgot-password'] button").await;
    assert!(b.text("main").await.contains("Check your mail"));

    let link = mailed_link(app, &who, "Reset your password", 1).await;
    assert!(link.contains("/reset-password?token="), "{link}");
    b.goto(&link).await;
    b.assert_accessible("reset-password").await;
    b.screenshot("reset-password-en").await;
    // Two different passwords: refused, and the link still works.
    b.fill("#password", "the new password 1").await;
    b.fill("#confirm", "the new password 2").await;
    let refused = b.click("form[action='/reset-password'] button").await;
    assert_eq!(refused.status, Some(400));
    b.fill("#password", "the new password 1").await;
    b.fill("#confirm", "the new password 1").await;
    let set = b.click("form[action='/reset-password'] button").await;
    assert!(set.url.contains("/sign-in?done=password-set"), "{set:?}");
    // Every other session ended; the new password opens the account.
    app.get("/v1/user", Some(&elsewhere))
        .await
        .assert_error(401);
    let landed = sign_in(&mut b, app, &who, "the new password 1").await;
    assert!(landed.ends_with("/account"), "{landed}");
}
both_backends!(a_forgotten_password_is_reset_through_the_mailed_link);

async fn the_account_page_changes_name_and_password(db: TestDb) {
    let f = Fixture::new(&db).await;
    let app = &f.app;
    let who = email("web-account");
    app.register(&who, PW).await;
    let elsewhere = bearer(&app.login(&who, PW).await);
    let mut b = Browser::open("en-GB").await;
    sign_in(&mut b, app, &who, PW).await;

    b.fill("#name", "Grace Page").await;
    b.fill("#phone", "+46 70 000 00 00").await;
    let saved = b.click("form[action='/account/profile'] button").await;
    assert!(saved.url.ends_with("/account?done=profile"), "{saved:?}");
    let me = app.get("/v1/user", Some(&elsewhere)).await;
    assert_eq!(me.json["User"]["Name"], "Grace Page");

    b.fill("#current", "not my password").await;
    b.fill("#new-password", "another long password").await;
    b.fill("#confirm", "another long password").await;
    let wrong = b.click("form[action='/account/password'] button").await;
    assert_eq!(wrong.status, Some(400));
    assert!(b
        .text("#password-error")
        .await
        .contains("current password is wrong"));
    b.assert_accessible("account with an error").await;

    b.fill("#current", PW).await;
    b.fill("#new-password", "another long password").await;
    b.fill("#confirm", "another long password").await;
    let changed = b.click("form[action='/account/password'] button").await;
    assert!(
        changed.url.ends_with("/account?done=password"),
        "{changed:?}"
    );
    // The API's other session ended; the page's own goes on.
    app.get("/v1/user", Some(&elsewhere))
        .await
        .assert_error(401);
    let still = b.goto(&app.url("/account")).await;
    assert!(still.url.ends_with("/account"), "{still:?}");
    let swedish = b.goto(&app.url("/language/sv?back=/account")).await;
    assert!(swedish.title.starts_with("Mitt konto"), "{swedish:?}");
    b.assert_accessible("account (sv)").await;
    b.screenshot("account-sv").await;
}
both_backends!(the_account_page_changes_name_and_password);

async fn pages_speak_the_persons_language(db: TestDb) {
    let f = Fixture::new(&db).await;
    let app = &f.app;
    let mut b = Browser::open("sv-SE").await;
    let page = b.goto(&app.url("/sign-in")).await;
    assert!(page.title.starts_with("Logga in"), "{page:?}");
    assert!(b.html().await.contains("<html lang=\"sv\">"));
    b.assert_accessible("sign-in (sv)").await;
    for (path, name) in [
        ("/sign-in", "sign-in"),
        ("/register", "register"),
        ("/forgot-password", "forgot-password"),
        ("/reset-password?token=x", "reset-password"),
        ("/verify-email?token=x", "verify-email"),
    ] {
        b.goto(&app.url(path)).await;
        b.assert_accessible(name).await;
        b.screenshot(&format!("{name}-sv")).await;
    }
    // The domain's rules are said in the person's language, beside their field.
    let sigrid = email("web-rule-sv");
    b.goto(&app.url("/register")).await;
    b.fill("#name", "Sigrid").await;
    b.fill("#email", &sigrid).await;
    b.fill("#password", &sigrid).await;
    let refused = b.click("form[action='/register'] button").await;
    assert_eq!(refused.status, Some(400), "{refused:?}");
    assert!(
        b.text("main")
            .await
            .contains("Lösenordet får inte vara din e-postadress."),
        "{}",
        b.text("main").await
    );
    b.fill("#email", "sigrid@localhost").await;
    b.fill("#password", "ett långt lösenord").await;
    b.click("form[action='/register'] button").await;
    assert!(b.text("main").await.contains("Ange en giltig e-postadress"));
    // The switch: English chosen stays chosen, whatever the browser prefers.
    let english = b.goto(&app.url("/language/en?back=/register")).await;
    assert!(english.url.ends_with("/register"), "{english:?}");
    assert!(
        english.title.starts_with("Create an account"),
        "{english:?}"
    );
    let again = b.goto(&app.url("/sign-in")).await;
    assert!(again.title.starts_with("Sign in"), "{again:?}");
}
both_backends!(pages_speak_the_persons_language);

async fn forms_and_cookies_resist_forgery(db: TestDb) {
    let f = Fixture::new(&db).await;
    let app = &f.app;
    let who = email("web-forgery");
    app.register(&who, PW).await;
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let page = client.get(app.url("/sign-in")).send().await.unwrap();
    let h = page.headers().clone();
    let csp = h["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("frame-ancestors 'none'") && csp.contains("default-src 'none'"));
    assert!(!csp.contains("unsafe-inline"), "{csp}");
    assert_eq!(h["referrer-policy"], "no-referrer");
    assert_eq!(h["x-content-type-options"], "nosniff");
    assert_eq!(h["cache-control"], "no-store");
    // Small pages: the HTML and the stylesheet together well under 30 KB.
    let css = client
        .get(app.url("/static/accord.css"))
        .send()
        .await
        .unwrap();
    let css_len = css.bytes().await.unwrap().len();
    let set = h["set-cookie"].to_str().unwrap().to_owned();
    let html_len = page.bytes().await.unwrap().len();
    assert!(html_len + css_len < 15_000, "{html_len} + {css_len} bytes");
    assert!(set.starts_with("accord-csrf="), "{set}");
    assert!(
        set.contains("HttpOnly") && set.contains("SameSite=Strict"),
        "{set}"
    );
    let token = set["accord-csrf=".len()..set.find(';').unwrap()].to_owned();

    let post = |cookie: Option<String>, form: Vec<(&'static str, String)>| {
        let mut req = client.post(app.url("/sign-in")).form(&form);
        if let Some(c) = cookie {
            req = req.header("cookie", c);
        }
        req.send()
    };
    let credentials = |csrf: &str, next: &str| {
        vec![
            ("csrf", csrf.to_owned()),
            ("email", who.clone()),
            ("password", PW.to_owned()),
            ("next", next.to_owned()),
        ]
    };
    // No cookie (another site's form), or a token that is not this browser's: refused.
    let r = post(None, credentials(&token, "/account")).await.unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    let r = post(
        Some(format!("accord-csrf={token}")),
        credentials(&"x".repeat(43), "/account"),
    )
    .await
    .unwrap();
    assert_eq!(r.status(), StatusCode::FORBIDDEN);
    // A form the server cannot read is a page too, never the API's JSON.
    let r = client
        .post(app.url("/sign-in"))
        .header("cookie", format!("accord-csrf={token}"))
        .form(&[("csrf", token.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::BAD_REQUEST);
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    let r = client.delete(app.url("/sign-in")).send().await.unwrap();
    assert_eq!(r.status(), StatusCode::METHOD_NOT_ALLOWED);
    assert!(r.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    // The right pair signs in; a redirect target elsewhere is replaced by the account.
    for (next, expected) in [
        ("/account", "/account"),
        ("//evil.example/x", "/account"),
        ("/\\evil.example", "/account"),
        ("https://evil.example", "/account"),
        // Not visible ASCII: followed, it would go raw into the Location header.
        ("/caf\u{e9}", "/account"),
    ] {
        let r = post(
            Some(format!("accord-csrf={token}")),
            credentials(&token, next),
        )
        .await
        .unwrap();
        assert_eq!(r.status(), StatusCode::SEE_OTHER, "{next}");
        assert_eq!(r.headers()["location"], expected, "{next}");
        let session = r.headers()["set-cookie"].to_str().unwrap();
        assert!(session.starts_with("accord-session=") && session.contains("HttpOnly"));
        assert!(session.contains("SameSite=Lax") && !session.contains("Secure"));
    }

    // An https deployment: `__Host-` names and `Secure`.
    let https = TestApp::spawn_with(&db, |c| {
        c.public_url = "https://accord.example".into();
    })
    .await;
    let page = client.get(https.url("/sign-in")).send().await.unwrap();
    let set = page.headers()["set-cookie"].to_str().unwrap();
    assert!(
        set.starts_with("__Host-accord-csrf=") && set.contains("; Secure"),
        "{set}"
    );
    assert!(set.contains("Path=/") && !set.contains("Domain"), "{set}");
}
both_backends!(forms_and_cookies_resist_forgery);

async fn the_account_page_issues_an_apikey_and_deletes_the_account(db: TestDb) {
    let f = Fixture::new(&db).await;
    let app = &f.app;
    let who = email("web-apikey");
    app.register(&who, PW).await;
    let mut b = Browser::open("en-GB").await;
    sign_in(&mut b, app, &who, PW).await;

    // An APIKey made on the page works on the API until it is revoked there.
    b.click("form[action='/account/apikey/rotate'] button")
        .await;
    b.assert_accessible("apikey").await;
    let key = b.text("#apikey").await;
    let as_key = format!("ApiKey {key}");
    assert_eq!(
        app.get("/v1/user", Some(&as_key)).await.status,
        StatusCode::OK
    );
    b.screenshot("api-key-en").await;
    // The same page in Swedish (the switch, then the form again).
    b.goto(&app.url("/language/sv?back=/account")).await;
    b.click("form[action='/account/apikey/show'] button").await;
    assert_eq!(b.text("#apikey").await, key);
    b.assert_accessible("apikey (sv)").await;
    b.screenshot("api-key-sv").await;
    b.goto(&app.url("/language/sv?back=/account/delete")).await;
    b.assert_accessible("delete-account (sv)").await;
    b.screenshot("delete-account-sv").await;
    b.goto(&app.url("/language/en?back=/account")).await;
    let revoked = b
        .click("form[action='/account/apikey/revoke'] button")
        .await;
    assert!(
        revoked.url.ends_with("/account?done=apikey-revoked"),
        "{revoked:?}"
    );
    app.get("/v1/user", Some(&as_key)).await.assert_error(401);

    // Nobody ends someone else's session from their own page, even knowing its ID.
    let stranger = email("web-stranger");
    app.register(&stranger, PW).await;
    let theirs = bearer(&app.login(&stranger, PW).await);
    let payload = theirs.split('.').nth(1).unwrap();
    use base64::Engine as _;
    let claims: Value = serde_json::from_slice(
        &base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap(),
    )
    .unwrap();
    let phone = bearer(&app.login(&who, PW).await);
    b.goto(&app.url("/account")).await;
    b.set_value("input[name='session']", claims["sid"].as_str().unwrap())
        .await;
    let refused = b.click("form[action='/account/sessions/end'] button").await;
    assert_eq!(refused.status, Some(400));
    assert_eq!(
        app.get("/v1/user", Some(&theirs)).await.status,
        StatusCode::OK
    );
    assert_eq!(
        app.get("/v1/user", Some(&phone)).await.status,
        StatusCode::OK
    );

    // Another session (an app) is listed and can be ended from here; this one goes on.
    b.goto(&app.url("/account")).await;
    let listed = b.text(".sessions").await;
    assert!(listed.contains("this browser"), "{listed}");
    assert_eq!(
        listed.matches("signed in with your password").count(),
        2,
        "{listed}"
    );
    let ended = b.click("form[action='/account/sessions/end'] button").await;
    assert!(
        ended.url.ends_with("/account?done=session-ended"),
        "{ended:?}"
    );
    app.get("/v1/user", Some(&phone)).await.assert_error(401);
    assert_eq!(b.text(".sessions").await.matches("signed in").count(), 1);

    // Deleting asks for the password, then erases the account and its sessions.
    let elsewhere = bearer(&app.login(&who, PW).await);
    b.goto(&app.url("/account/delete")).await;
    b.assert_accessible("delete-account").await;
    b.screenshot("delete-account-en").await;
    b.fill("#password", "not my password").await;
    let refused = b.click("form[action='/account/delete'] button").await;
    assert_eq!(refused.status, Some(400));
    assert_eq!(
        app.get("/v1/user", Some(&elsewhere)).await.status,
        StatusCode::OK
    );
    b.fill("#password", PW).await;
    let gone = b.click("form[action='/account/delete'] button").await;
    assert_eq!(gone.status, Some(200), "{gone:?}");
    assert!(b.text("main").await.contains("Your account is deleted"));
    app.get("/v1/user", Some(&elsewhere))
        .await
        .assert_error(401);
    let page = b.goto(&app.url("/account")).await;
    assert!(page.url.contains("/sign-in"), "{page:?}");
    // The address is free again.
    app.register(&who, PW).await;
}
both_backends!(the_account_page_issues_an_apikey_and_deletes_the_account);

/// The account page's address change, asked for.
async fn ask(b: &mut Browser, app: &TestApp, to: &str, password: &str) -> crate::browser::Landing {
    b.goto(&app.url("/account")).await;
    b.fill("#new-email", to).await;
    b.fill("#email-password", password).await;
    b.click("form[action='/account/email'] button").await
}

async fn the_address_changes_only_through_a_link_mailed_to_the_new_one(db: TestDb) {
    let f = Fixture::with_smtp(&db).await;
    let app = &f.app;
    let old = email("web-move-old");
    let new = email("web-move-new");
    let taken = email("web-move-taken");
    app.register(&old, PW).await;
    app.register(&taken, PW).await;
    let mut b = Browser::open("en-GB").await;
    sign_in(&mut b, app, &old, PW).await;

    // Another account's address, or the wrong password: refused on the page.
    assert_eq!(ask(&mut b, app, &taken, PW).await.status, Some(400));
    assert!(b.text("#email-error").await.contains("already exists"));
    assert_eq!(
        ask(&mut b, app, &new, "not my password").await.status,
        Some(400)
    );
    assert!(b
        .text("#email-error")
        .await
        .contains("current password is wrong"));
    // The right password: nothing changes until the new address's holder follows its link.
    let asked = ask(&mut b, app, &new, PW).await;
    assert_eq!(asked.status, Some(200), "{asked:?}");
    assert!(b.text("main").await.contains(&new));
    let link = mailed_link(app, &new, "Confirm your new email address", 1).await;
    let token = crate::helpers::query_param(&link, "token").unwrap();
    // The change's token is not an address verification's: the API's verify refuses it.
    app.post(
        "/v1/user/email/verify",
        serde_json::json!({ "token": token }),
    )
    .await
    .assert_error(400);
    b.goto(&app.url("/account")).await;
    assert_eq!(b.text("#address").await, old);

    b.goto(&link).await;
    b.assert_accessible("confirm-email-change").await;
    let moved = b.click("form[action='/confirm-email-change'] button").await;
    assert_eq!(moved.status, Some(200), "{moved:?}");
    assert!(b.text("main").await.contains("Address changed"));
    b.goto(&app.url("/account")).await;
    assert_eq!(b.text("#address").await, new);
    assert!(b.text("main").await.contains("confirmed"));
    let told = smtp()
        .wait_for_subject(&old, "Your email address was changed", 1)
        .await;
    assert!(told[0].contains(&new));
    // The new address signs in; the old one no longer does.
    app.login(&new, PW).await;
    let r = app
        .post(
            "/v1/v1.1/users/login",
            serde_json::json!({"username": old, "password": PW}),
        )
        .await;
    r.assert_error(401);
}
both_backends!(the_address_changes_only_through_a_link_mailed_to_the_new_one);

/// The organisation's own sign-in, through the test OpenID provider: where it is offered,
/// the page's callback (the API's `redirect-uri` names it), and the account it opens.
async fn organisation_sign_in_page(f: &Fixture) -> (crate::federation::Federation<'_>, String) {
    let fed = crate::federation::Federation::new(f).await;
    let r = f
        .app
        .get(&format!("{}/redirect-uri", fed.base), Some(&f.admin))
        .await;
    let web_callback = r.json["WebRedirectURI"].as_str().unwrap().to_owned();
    assert_eq!(
        web_callback,
        format!("{}/sign-in/organisation/{}/callback", f.app.base, f.org)
    );
    fed.configure_discovered(&[&web_callback]).await;
    (fed, web_callback)
}

async fn sign_in_at_organisation(
    b: &mut Browser,
    f: &Fixture,
    who: &str,
) -> crate::browser::Landing {
    b.goto(&f.app.url(&format!("/sign-in?org={}", f.org))).await;
    b.fill("#hint", who).await;
    b.click(&format!(
        "form[action='/sign-in/organisation/{}'] button",
        f.org
    ))
    .await
}

async fn a_person_signs_in_with_their_organisation_and_links_their_own_account(db: TestDb) {
    let f = Fixture::new(&db).await;
    let app = &f.app;
    organisation_sign_in_page(&f).await;
    let mut b = Browser::open("en-GB").await;

    // Offered only where asked for, and the page's forms may lead to that provider alone.
    let plain = app.client.get(app.url("/sign-in")).send().await.unwrap();
    let csp = plain.headers()["content-security-policy"].to_str().unwrap();
    assert!(csp.contains("form-action 'self';"), "{csp}");
    let offered = app
        .client
        .get(app.url(&format!("/sign-in?org={}", f.org)))
        .send()
        .await
        .unwrap();
    let csp = offered.headers()["content-security-policy"]
        .to_str()
        .unwrap();
    let origin = crate::oidc::provider().issuer.clone();
    assert!(
        csp.contains(&format!("form-action 'self' {origin};")),
        "{csp}"
    );

    // Someone new: an account of their own, signed in through the organisation.
    let newcomer = email("web-fed-new");
    b.goto(&app.url(&format!("/sign-in?org={}", f.org))).await;
    b.assert_accessible("sign-in with an organisation").await;
    b.screenshot("sign-in-organisation-en").await;
    b.goto(&app.url(&format!("/language/sv?back=/sign-in?org={}", f.org)))
        .await;
    b.assert_accessible("sign-in with an organisation (sv)")
        .await;
    b.screenshot("sign-in-organisation-sv").await;
    b.goto(&app.url(&format!("/language/en?back=/sign-in?org={}", f.org)))
        .await;
    let landed = sign_in_at_organisation(&mut b, &f, &newcomer).await;
    assert!(landed.url.ends_with("/account"), "{landed:?}");
    assert_eq!(b.text("#address").await, newcomer);
    assert!(b
        .text("main")
        .await
        .contains("signed in with your organisation"));
    b.click("form[action='/sign-out'] button").await;

    // An account that has the address the provider claims is not taken: its holder is
    // told how to link, and nobody is signed in.
    let holder = email("web-fed-holder");
    app.register(&holder, PW).await;
    let refused = sign_in_at_organisation(&mut b, &f, &holder).await;
    assert_eq!(refused.status, Some(409), "{refused:?}");
    assert!(b.text("main").await.contains("already exists"));
    b.assert_accessible("organisation address taken").await;
    b.goto(&app.url("/account")).await;
    assert!(b.text("h1").await.contains("Sign in"));

    // The holder signs in with the password, and the link page asks for it again.
    sign_in_at_organisation(&mut b, &f, &holder).await;
    b.click("main a[href^='/sign-in?next=']").await;
    b.fill("#email", &holder).await;
    b.fill("#password", PW).await;
    let confirm = b.click("form[action='/sign-in'] button").await;
    assert!(
        confirm.url.ends_with(&format!("/account/link/{}", f.org)),
        "{confirm:?}"
    );
    b.assert_accessible("link an organisation's sign-in").await;
    b.screenshot("link-organisation-en").await;
    b.goto(&app.url(&format!("/language/sv?back=/account/link/{}", f.org)))
        .await;
    b.assert_accessible("link an organisation's sign-in (sv)")
        .await;
    b.screenshot("link-organisation-sv").await;
    b.goto(&app.url(&format!("/language/en?back=/account/link/{}", f.org)))
        .await;
    let link_form = format!("form[action='/account/link/{}'] button", f.org);
    b.fill("#password", "not my password").await;
    b.fill("#hint", &holder).await;
    let wrong = b.click(&link_form).await;
    assert_eq!(wrong.status, Some(400), "{wrong:?}");
    assert!(b
        .text("#link-error")
        .await
        .contains("current password is wrong"));
    b.fill("#password", PW).await;
    b.fill("#hint", &holder).await;
    let linked = b.click(&link_form).await;
    assert!(linked.url.ends_with("/account?done=linked"), "{linked:?}");
    assert!(b.text("main").await.contains("now linked"));
    assert_eq!(b.text("#address").await, holder);

    // From now on the organisation's sign-in opens the holder's own account.
    b.click("form[action='/sign-out'] button").await;
    let again = sign_in_at_organisation(&mut b, &f, &holder).await;
    assert!(again.url.ends_with("/account"), "{again:?}");
    assert_eq!(b.text("#address").await, holder);
}
both_backends!(a_person_signs_in_with_their_organisation_and_links_their_own_account);

/// Login CSRF: a callback URL made by someone else's login (the attacker's code and state,
/// handed to the victim) signs nobody in, and neither does a callback taken twice.
async fn a_callback_from_another_browsers_login_signs_nobody_in(db: TestDb) {
    let f = Fixture::new(&db).await;
    let app = &f.app;
    let (fed, web_callback) = organisation_sign_in_page(&f).await;
    let attacker = email("web-fed-attacker");
    let (url, _) = fed.authorize(&web_callback, &attacker).await;
    let planted = fed.browser.follow_until(&url, &web_callback).await;
    assert!(planted.contains("code="), "{planted}");

    let mut victim = Browser::open("en-GB").await;
    let refused = victim.goto(&planted).await;
    assert_eq!(refused.status, Some(400), "{refused:?}");
    assert!(victim
        .text("main")
        .await
        .contains("not started in this browser"));
    victim
        .assert_accessible("organisation sign-in refused")
        .await;
    assert!(cookie(&victim.cookies().await, "accord-session").is_none());

    // The victim's own login in progress does not make the attacker's callback theirs.
    let mut own = Browser::open("en-GB").await;
    let landed = sign_in_at_organisation(&mut own, &f, &email("web-fed-own")).await;
    assert!(landed.url.ends_with("/account"), "{landed:?}");
    let replay = own.goto(&planted).await;
    assert_eq!(replay.status, Some(400), "{replay:?}");
    // The attacker's code was never exchanged: no account has their address.
    crate::federation::nothing_created(app, &attacker).await;
}
both_backends!(a_callback_from_another_browsers_login_signs_nobody_in);

/// Every mail comes as text and HTML alternatives of the same letter, in the person's
/// language: the one they registered in (a page's, or the app's `Accept-Language`), then
/// the one they choose on the account page.
async fn mails_come_as_text_and_html_in_the_persons_language(db: TestDb) {
    let f = Fixture::with_smtp(&db).await;
    let app = &f.app;

    // Registered on a Swedish page: the confirmation comes in Swedish, twice over.
    let who = email("web-mail-sv");
    let mut b = Browser::open("sv-SE").await;
    b.goto(&app.url("/register")).await;
    b.fill("#name", "Sigrid").await;
    b.fill("#email", &who).await;
    b.fill("#password", "ett långt lösenord").await;
    b.click("form[action='/register'] button").await;
    smtp()
        .wait_for_subject(&who, "Bekräfta din e-postadress", 1)
        .await;
    let mail = smtp().mails_to(&who).pop().unwrap();
    assert_eq!(mail.html_parts, 1, "an HTML alternative");
    assert!(
        mail.text.contains("Länken fungerar en gång"),
        "{}",
        mail.text
    );
    assert!(!mail.text.contains('<'), "{}", mail.text);
    let link = mailed_link(app, &who, "Bekräfta din e-postadress", 1).await;
    assert!(
        mail.html.contains(&format!("<a href=\"{link}\"")),
        "{}",
        mail.html
    );
    assert!(mail.html.contains("Bekräfta min adress"), "{}", mail.html);
    assert!(mail.html.contains("lang=\"sv\""));
    b.screenshot_mail(&mail.html, "mail-verify-sv").await;
    // The HTML's button is the link that works.
    b.goto(&link).await;
    let proven = b.click("form[action='/verify-email'] button").await;
    assert_eq!(proven.status, Some(200), "{proven:?}");

    // Chosen on the account page: the next mail is in English.
    sign_in(&mut b, app, &who, "ett långt lösenord").await;
    b.select("#language", "en").await;
    let saved = b.click("form[action='/account/profile'] button").await;
    assert!(saved.url.ends_with("/account?done=profile"), "{saved:?}");
    app.call(
        reqwest::Method::PUT,
        "/v1/user/password/forgot",
        None,
        Some(serde_json::json!({ "username": who })),
    )
    .await;
    let reset = smtp()
        .wait_for_subject(&who, "Reset your password", 1)
        .await;
    assert!(reset[0].contains("/reset-password?token="));

    // Through the API, the app's language.
    let app_user = email("api-mail-sv");
    let r = app
        .client
        .post(app.url("/v1/users/register"))
        .header("Accept-Language", "sv-SE, en;q=0.5")
        .json(&serde_json::json!({"username": app_user, "password": PW}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    smtp()
        .wait_for_subject(&app_user, "Bekräfta din e-postadress", 1)
        .await;
    // Without one, English.
    let plain = email("api-mail-en");
    app.register(&plain, PW).await;
    smtp()
        .wait_for_subject(&plain, "Confirm your email address", 1)
        .await;
}
both_backends!(mails_come_as_text_and_html_in_the_persons_language);

/// The API reference at `/docs/` renders in a real browser from the binary's own files and
/// `/openapi.json` (its policy lets it load nothing else), and its operations are listed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_reference_renders_from_the_binary() {
    let db = TestDb::new(crate::helpers::Backend::Sqlite).await;
    let app = TestApp::spawn(&db).await;
    let bare = app.get("/docs/", None).await;
    assert_eq!(bare.status, StatusCode::OK);
    let policy = bare.headers["content-security-policy"].to_str().unwrap();
    assert!(policy.starts_with("default-src 'self'"), "{policy}");
    let mut b = Browser::open("en-GB").await;
    let landing = b.goto(&app.url("/docs")).await;
    assert_eq!(landing.status, Some(200), "{landing:?}");
    assert!(landing.url.ends_with("/docs/"), "{landing:?}");
    // Rendered by Swagger UI's script: the document was fetched and read.
    let first = b.text(".opblock-summary-path").await;
    assert!(first.starts_with('/'), "{first:?}");
    assert!(b.text(".info .title").await.contains("Accord"));
    b.screenshot("api-reference").await;
}
