#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! The login pages between the authorize endpoint and the relying party, on both
//! backends: app approval with the number shown in the browser, the endings (denied,
//! wrong number, cancelled), and password + SMS code for SMS users.

mod support;

use std::collections::HashMap;

use axum::http::StatusCode;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use nokkel_server::services::oidc::{self, AuthorizationError};
use support::*;

server_tests!(
    app_login_shows_the_number_and_approval_returns_a_code,
    denied_login_ends_on_a_page_with_the_way_back,
    wrong_number_ends_the_login_and_offers_a_retry,
    cancel_returns_access_denied_to_the_service,
    sms_user_logs_in_with_password_and_code,
    unknown_person_and_expired_request_are_explained,
    an_approved_login_is_completed_only_with_its_code,
);

fn query_of(url: &str) -> HashMap<String, String> {
    url::Url::parse(url)
        .unwrap()
        .query_pairs()
        .into_owned()
        .collect()
}

/// Opens the login page for a fresh authorization request; returns its request id.
async fn login_page(browser: &mut Browser) -> String {
    let request = browser.open_login().await;
    let page = browser.get(&format!("/login?request={request}")).await;
    assert!(
        page.body.contains("Logg inn på Demodata-tjenesten"),
        "{}",
        page.body
    );
    request
}

/// Starts an app login in the browser and returns the number the page shows.
async fn app_login(browser: &mut Browser, pid: &str) -> u8 {
    app_login_for_request(browser, pid).await.1
}

/// [`app_login`], also returning the authorization request's id.
async fn app_login_for_request(browser: &mut Browser, pid: &str) -> (String, u8) {
    let request = login_page(browser).await;
    let res = browser
        .post("/login", &[("request", &request), ("pid", pid)])
        .await;
    assert_eq!(res.location.as_deref(), Some("/login/app"), "{}", res.body);
    let page = browser.get("/login/app").await;
    assert!(
        page.body.contains("Bekreft i Nøkkel-appen"),
        "{}",
        page.body
    );
    assert!(page.body.contains("/static/login.js"));
    // Without JavaScript the person follows the link, which waits for the answer; no
    // timed refresh (WCAG 2.2.1).
    assert!(!page.body.contains("http-equiv=\"refresh\""));
    assert!(page.body.contains("href=\"/login/finish\""));
    (request, shown_number(&page.body))
}

async fn app_login_shows_the_number_and_approval_returns_a_code(server: TestServer) {
    let mut device = server.enrolled_device(ADULT, 1).await;
    let mut browser = server.browser();
    let number = app_login(&mut browser, ADULT).await;
    let challenge = device.pending(START).await.unwrap();
    assert_eq!(
        challenge.payload().service,
        "Demodata-tjenesten",
        "the app names the service"
    );
    assert!(challenge.choices().contains(&number));
    let (id, jws) = device.approval(challenge, number, START);
    assert_eq!(
        device.send_approval(&id, &jws, START).await.status,
        StatusCode::OK
    );
    let res = browser.get("/login/finish").await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
    let to = res.location.unwrap();
    assert!(to.starts_with(REDIRECT), "{to}");
    let q = query_of(&to);
    assert_eq!(q["state"], "st-1");
    let code = q["code"].clone();
    // The relying party exchanges the code for an ID token saying the app was used.
    let mut rp = server.browser();
    let res = rp
        .post_raw(
            "/oauth/token",
            &[
                ("grant_type", "authorization_code"),
                ("code", &code),
                ("redirect_uri", REDIRECT),
                ("code_verifier", VERIFIER),
                ("client_id", "demo-rp"),
                ("client_secret", "demo-secret"),
            ],
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    let tokens: serde_json::Value = serde_json::from_str(&res.body).unwrap();
    let id_token = tokens["id_token"].as_str().unwrap();
    let claims: serde_json::Value = serde_json::from_slice(
        &URL_SAFE_NO_PAD
            .decode(id_token.split('.').nth(1).unwrap())
            .unwrap(),
    )
    .unwrap();
    assert_eq!(claims["pid"], ADULT);
    assert_eq!(claims["amr"], serde_json::json!(["app"]));
    assert_eq!(claims["nonce"], "n-1");
    // The approval is used up: finishing again gives no second code.
    let again = browser.get("/login/finish").await;
    assert_ne!(again.status, StatusCode::SEE_OTHER);
    assert_eq!(
        server.state.pending.get(&id).await.unwrap().unwrap().state,
        "completed"
    );
}

/// The login becomes `completed` in the same transaction that issues its code: when the
/// relying party's request ended meanwhile, no code is issued and the login stays
/// approved (it used to be marked completed with no code to show for it).
async fn an_approved_login_is_completed_only_with_its_code(server: TestServer) {
    let mut device = server.enrolled_device(ADULT, 1).await;
    let mut browser = server.browser();
    let (request, number) = app_login_for_request(&mut browser, ADULT).await;
    let challenge = device.pending(START).await.unwrap();
    let (id, jws) = device.approval(challenge, number, START);
    assert_eq!(
        device.send_approval(&id, &jws, START).await.status,
        StatusCode::OK
    );
    oidc::fail_authorization(
        &server.state,
        &request,
        AuthorizationError::AccessDenied,
        "ended by the test",
    )
    .await
    .unwrap();

    let res = browser.get("/login/finish").await;
    assert_ne!(
        res.status,
        StatusCode::SEE_OTHER,
        "no code: {:?}",
        res.location
    );
    let login = server.state.pending.get(&id).await.unwrap().unwrap();
    assert_eq!(login.state, "approved", "not completed without a code");
}

async fn denied_login_ends_on_a_page_with_the_way_back(server: TestServer) {
    let mut device = server.enrolled_device(ADULT, 1).await;
    let mut browser = server.browser();
    app_login(&mut browser, ADULT).await;
    device
        .deny(device.pending(START).await.unwrap(), false, START)
        .await;
    let page = browser.get("/login/finish").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.body.contains("Innloggingen ble avvist"),
        "{}",
        page.body
    );
    assert!(
        page.body.contains("error=access_denied"),
        "a way back to the service: {}",
        page.body
    );
}

async fn wrong_number_ends_the_login_and_offers_a_retry(server: TestServer) {
    let mut device = server.enrolled_device(ADULT, 1).await;
    let mut browser = server.browser();
    let number = app_login(&mut browser, ADULT).await;
    let challenge = device.pending(START).await.unwrap();
    let wrong = challenge
        .choices()
        .into_iter()
        .find(|n| *n != number)
        .unwrap();
    let (id, jws) = device.approval(challenge, wrong, START);
    device.send_approval(&id, &jws, START).await;
    let page = browser.get("/login/finish").await;
    assert!(page.body.contains("Feil tall"), "{}", page.body);
    assert!(page.body.contains("action=\"/login/retry\""));
    let res = browser.post("/login/retry", &[]).await;
    assert_eq!(res.location.as_deref(), Some("/login/app"));
    let page = browser.get("/login/app").await;
    let again = shown_number(&page.body);
    let challenge = device.pending(START).await.unwrap();
    assert_ne!(challenge.challenge_id(), id, "a new challenge");
    let (id2, jws) = device.approval(challenge, again, START);
    assert_eq!(
        device.send_approval(&id2, &jws, START).await.status,
        StatusCode::OK
    );
    let res = browser.get("/login/finish").await;
    assert!(res.location.unwrap().contains("code="));
}

async fn cancel_returns_access_denied_to_the_service(server: TestServer) {
    let device = server.enrolled_device(ADULT, 1).await;
    let mut browser = server.browser();
    let request = login_page(&mut browser).await;
    browser
        .post("/login", &[("request", &request), ("pid", ADULT)])
        .await;
    let res = browser
        .post("/login/cancel", &[("request", &request)])
        .await;
    let to = res.location.unwrap();
    assert_eq!(query_of(&to)["error"], "access_denied");
    assert!(
        device.pending(START).await.is_none(),
        "the challenge is withdrawn"
    );
}

async fn sms_user_logs_in_with_password_and_code(server: TestServer) {
    let mut browser = server.browser();
    let request = login_page(&mut browser).await;
    let res = browser
        .post("/login", &[("request", &request), ("pid", SMS_USER)])
        .await;
    assert_eq!(
        res.location.as_deref(),
        Some("/login/password"),
        "{}",
        res.body
    );
    let res = browser
        .post("/login/password", &[("password", "feil passord")])
        .await;
    assert!(res.body.contains("Passordet er feil"), "{}", res.body);
    let res = browser
        .post(
            "/login/password",
            &[("password", nokkel_server::demo::DEMO_SMS_PASSWORD)],
        )
        .await;
    assert_eq!(res.location.as_deref(), Some("/login/otp"), "{}", res.body);
    let sms = server.sms().await;
    let otp: String = sms[0]["body"]
        .as_str()
        .unwrap()
        .split_whitespace()
        .find(|w| w.len() == 6 && w.chars().all(|c| c.is_ascii_digit()))
        .unwrap()
        .to_owned();
    let res = browser.post("/login/otp", &[("otp", &otp)]).await;
    let to = res.location.unwrap();
    assert!(to.starts_with(REDIRECT) && to.contains("code="), "{to}");
}

async fn unknown_person_and_expired_request_are_explained(server: TestServer) {
    let mut browser = server.browser();
    let request = login_page(&mut browser).await;
    let res = browser
        .post("/login", &[("request", &request), ("pid", ADULT)])
        .await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        res.body.contains("Vi finner ingen Nøkkel-bruker"),
        "{}",
        res.body
    );
    let res = browser.get("/login?request=nonsense").await;
    assert_eq!(res.status, StatusCode::GONE);
    assert!(res.body.contains("ikke lenger gyldig"), "{}", res.body);
}
