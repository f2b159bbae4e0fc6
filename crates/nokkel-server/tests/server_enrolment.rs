#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! App users register by enrolling a device key with the activation letter (API), on both
//! backends: the happy path, replay, a forged proof, lockout, and software devices outside
//! demo mode.

mod support;

use axum::http::StatusCode;
use nokkel_core::keys::DeviceKey;
use nokkel_core::random::SeededRandom;
use nokkel_core::random::{Random, RandomRng};
use nokkel_core::statements::{sign_enrolment, DeviceDescription, Platform, UserVerification};
use nokkel_server::store::PersonRecord;
use nokkel_server::Config;
use serde_json::{json, Value};
use support::*;

server_tests!(
    app_user_enrols_a_device_with_the_letter,
    enrolment_cannot_be_finished_twice,
    enrolment_with_a_proof_over_another_nonce_is_refused,
    five_wrong_codes_lock_the_letter_for_the_app_too,
    a_failed_finish_spends_the_enrolment_id,
    start_answers_alike_until_the_code_is_verified,
    a_key_enrolled_for_another_person_is_a_conflict,
);

fn device_key(seed: u64) -> DeviceKey {
    let random = SeededRandom::new(seed);
    DeviceKey::generate(&mut RandomRng::new(&random as &dyn Random))
}

fn software() -> DeviceDescription {
    DeviceDescription {
        name: "Testers telefon".into(),
        platform: Platform::Software,
        uv_methods: vec![UserVerification::NoneTest],
    }
}

async fn start(browser: &mut Browser, pid: &str, code: &str) -> support::Response {
    browser
        .post_json(
            "/api/v1/enrolments",
            json!({"v": 1, "pid": pid, "activation_code": code}),
        )
        .await
}

async fn finish(browser: &mut Browser, id: &str, statement: &str) -> support::Response {
    browser
        .post_json(
            &format!("/api/v1/enrolments/{id}/finish"),
            json!({"v": 1, "statement": statement}),
        )
        .await
}

async fn ordered(server: &TestServer, pid: &str) -> String {
    let mut browser = server.browser();
    browser.order(pid).await;
    server.code_for(pid).await
}

async fn app_user_enrols_a_device_with_the_letter(server: TestServer) {
    let code = ordered(&server, ADULT).await;
    let mut browser = server.browser();
    let res = start(&mut browser, ADULT, &code).await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
    let started: Value = serde_json::from_str(&res.body).unwrap();
    assert_eq!(started["issuer"], "http://nokkel.test");
    assert_eq!(
        started["challenge_key_id"],
        server.state.keys.challenge.kid()
    );
    assert!(!res.body.contains(&code), "the code is not echoed");

    let key = device_key(1);
    let statement = sign_enrolment(
        &key,
        started["issuer"].as_str().unwrap(),
        started["nonce"].as_str().unwrap(),
        &software(),
        START,
    )
    .unwrap();
    let res = finish(
        &mut browser,
        started["enrolment_id"].as_str().unwrap(),
        &statement,
    )
    .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
    let finished: Value = serde_json::from_str(&res.body).unwrap();
    assert_eq!(finished["device_id"], key.device_id().as_str());

    let store = &server.state.store;
    assert_eq!(store.account(ADULT).await.unwrap().unwrap().kind, "app");
    let devices = store.devices_for(ADULT).await.unwrap();
    assert_eq!(devices.len(), 1);
    assert_eq!(devices[0].id, key.device_id().as_str());
    assert_eq!(devices[0].platform, "software");
    assert_eq!(devices[0].counter, 0);
    let contact = store.contact(ADULT).await.unwrap().unwrap();
    assert_eq!(
        contact.mobile, None,
        "no number from the order form: the person adds theirs in the app"
    );
    assert_eq!(server.letters_for(ADULT).await[0]["state"], "used");
}

async fn enrolment_cannot_be_finished_twice(server: TestServer) {
    let code = ordered(&server, ADULT).await;
    let mut browser = server.browser();
    let started: Value =
        serde_json::from_str(&start(&mut browser, ADULT, &code).await.body).unwrap();
    let id = started["enrolment_id"].as_str().unwrap();
    let nonce = started["nonce"].as_str().unwrap();
    let first = sign_enrolment(
        &device_key(1),
        "http://nokkel.test",
        nonce,
        &software(),
        START,
    )
    .unwrap();
    let second = sign_enrolment(
        &device_key(2),
        "http://nokkel.test",
        nonce,
        &software(),
        START,
    )
    .unwrap();
    assert_eq!(
        finish(&mut browser, id, &first).await.status,
        StatusCode::CREATED
    );
    let res = finish(&mut browser, id, &second).await;
    assert_eq!(res.status, StatusCode::GONE, "{}", res.body);
    assert!(
        res.body.contains("\"code\":\"session_expired\""),
        "{}",
        res.body
    );
    assert_eq!(
        server.state.store.devices_for(ADULT).await.unwrap().len(),
        1
    );
}

async fn enrolment_with_a_proof_over_another_nonce_is_refused(server: TestServer) {
    let code = ordered(&server, ADULT).await;
    let mut browser = server.browser();
    let started: Value =
        serde_json::from_str(&start(&mut browser, ADULT, &code).await.body).unwrap();
    let forged = sign_enrolment(
        &device_key(1),
        "http://nokkel.test",
        "another-nonce",
        &software(),
        START,
    )
    .unwrap();
    let res = finish(
        &mut browser,
        started["enrolment_id"].as_str().unwrap(),
        &forged,
    )
    .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST, "{}", res.body);
    assert!(
        res.body.contains("\"code\":\"nonce_mismatch\""),
        "{}",
        res.body
    );
    let res = finish(&mut browser, "not-a-ticket", &forged).await;
    assert_eq!(res.status, StatusCode::GONE, "{}", res.body);
    assert!(server.state.store.account(ADULT).await.unwrap().is_none());
    assert_eq!(
        server.letters_for(ADULT).await[0]["state"],
        "pending",
        "nothing lost"
    );
}

async fn five_wrong_codes_lock_the_letter_for_the_app_too(server: TestServer) {
    let code = ordered(&server, ADULT).await;
    let mut browser = server.browser();
    // A well-formed code (valid check symbol) that is not the letter's.
    let wrong = wrong_code_for(&code);
    for attempt in 1..=5 {
        let res = start(&mut browser, ADULT, &wrong).await;
        let expected = if attempt < 5 {
            "wrong_code"
        } else {
            "letter_locked"
        };
        assert!(
            res.body.contains(expected),
            "attempt {attempt}: {}",
            res.body
        );
    }
    let res = start(&mut browser, ADULT, &code).await;
    assert_eq!(res.status, StatusCode::LOCKED);
    assert!(
        res.body.contains("\"code\":\"letter_locked\""),
        "{}",
        res.body
    );
    assert!(res.body.contains("order a new letter"), "{}", res.body);
}

/// PROTOCOL.md: the nonce is single-use, deleted "when it is used, successfully or not".
async fn a_failed_finish_spends_the_enrolment_id(server: TestServer) {
    let code = ordered(&server, ADULT).await;
    let mut browser = server.browser();
    let started: Value =
        serde_json::from_str(&start(&mut browser, ADULT, &code).await.body).unwrap();
    let id = started["enrolment_id"].as_str().unwrap();
    let forged = sign_enrolment(
        &device_key(1),
        "http://nokkel.test",
        "another-nonce",
        &software(),
        START,
    )
    .unwrap();
    let res = finish(&mut browser, id, &forged).await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST, "{}", res.body);

    let good = sign_enrolment(
        &device_key(1),
        "http://nokkel.test",
        started["nonce"].as_str().unwrap(),
        &software(),
        START,
    )
    .unwrap();
    let res = finish(&mut browser, id, &good).await;
    assert_eq!(res.status, StatusCode::GONE, "{}", res.body);
    assert!(
        res.body.contains("\"code\":\"session_expired\""),
        "{}",
        res.body
    );
    assert!(server.state.store.account(ADULT).await.unwrap().is_none());

    // The letter is not spent: a new start gives a new enrolment id.
    let started: Value =
        serde_json::from_str(&start(&mut browser, ADULT, &code).await.body).unwrap();
    let good = sign_enrolment(
        &device_key(1),
        "http://nokkel.test",
        started["nonce"].as_str().unwrap(),
        &software(),
        START,
    )
    .unwrap();
    let res = finish(
        &mut browser,
        started["enrolment_id"].as_str().unwrap(),
        &good,
    )
    .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
}

/// Someone without the letter learns nothing about the person from the answer: a person
/// with an account, one without a letter and one with a letter get the same refusal.
async fn start_answers_alike_until_the_code_is_verified(server: TestServer) {
    let code = ordered(&server, ADULT).await;
    let wrong = wrong_code_for(&code);
    let mut browser = server.browser();
    let with_letter = start(&mut browser, ADULT, &wrong).await;
    let without_letter = start(&mut browser, ADULT2, &wrong).await;
    let registered = start(&mut browser, SMS_USER, &wrong).await;
    for res in [&with_letter, &without_letter, &registered] {
        assert_eq!(res.status, StatusCode::FORBIDDEN, "{}", res.body);
        assert_eq!(res.body, with_letter.body);
    }
    assert!(
        with_letter.body.contains("\"code\":\"wrong_code\""),
        "{}",
        with_letter.body
    );
}

/// A device id is its key's thumbprint, so one key cannot be enrolled twice.
async fn a_key_enrolled_for_another_person_is_a_conflict(server: TestServer) {
    server.enrolled_device(ADULT, 1).await;
    let code = ordered(&server, ADULT2).await;
    let mut browser = server.browser();
    let started: Value =
        serde_json::from_str(&start(&mut browser, ADULT2, &code).await.body).unwrap();
    let statement = sign_enrolment(
        &device_key(1),
        "http://nokkel.test",
        started["nonce"].as_str().unwrap(),
        &software(),
        START,
    )
    .unwrap();
    let res = finish(
        &mut browser,
        started["enrolment_id"].as_str().unwrap(),
        &statement,
    )
    .await;
    assert_eq!(res.status, StatusCode::CONFLICT, "{}", res.body);
    assert!(
        res.body.contains("\"code\":\"device_exists\""),
        "{}",
        res.body
    );
    assert!(server.state.store.account(ADULT2).await.unwrap().is_none());
    assert_eq!(server.letters_for(ADULT2).await[0]["state"], "pending");
}

/// Outside demo mode a software authenticator cannot enrol (SQLite only: it is a rule of
/// the service, not of the store).
#[tokio::test]
async fn software_devices_are_refused_outside_demo_mode() {
    let store = sqlite().await;
    let pid = "31129956715";
    store
        .upsert_person(
            &PersonRecord {
                pid: pid.into(),
                given_name: "Kari".into(),
                family_name: "Nordmann".into(),
                birth_date: "1899-12-31".into(),
                address_kind: "domestic".parse().unwrap(),
                address_line: Some("Karl Johans gate 1".into()),
                postal_code: Some("0154".into()),
                city: Some("Oslo".into()),
                country: Some("NO".into()),
                status: "resident".parse().unwrap(),
            },
            START,
        )
        .await
        .unwrap();
    let server = TestServer::with_config(
        store,
        Config {
            public_url: Some("http://nokkel.test".into()),
            ..Config::default()
        },
    )
    .await;
    assert_eq!(
        server.browser().get("/dev/letters").await.status,
        StatusCode::NOT_FOUND,
        "no inbox outside demo"
    );
    let mut browser = server.browser();
    let res = browser.order(pid).await;
    assert_eq!(res.status, StatusCode::OK);
    let letter = &server.state.store.letters_for(pid).await.unwrap()[0];
    let code = String::from_utf8(server.state.secrets.open(&letter.code_sealed).unwrap()).unwrap();
    let started: Value = serde_json::from_str(&start(&mut browser, pid, &code).await.body).unwrap();
    let statement = sign_enrolment(
        &device_key(3),
        "http://nokkel.test",
        started["nonce"].as_str().unwrap(),
        &software(),
        START,
    )
    .unwrap();
    let res = finish(
        &mut browser,
        started["enrolment_id"].as_str().unwrap(),
        &statement,
    )
    .await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    assert!(res.body.contains("device_not_allowed"), "{}", res.body);
    // Synthetic numbers are refused outside demo mode.
    let res = browser.post("/order", &[("pid", ADULT)]).await;
    assert!(res.body.contains("Syntetiske testnumre"), "{}", res.body);
}
