#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! The login engine through the device API, on both backends: a challenge reaches the
//! device, the right number approves; and each attack is refused with the right error
//! and no state change — replayed approval, approval by another device, wrong number,
//! expired challenge, approval after denial, revoked device, replayed request proof.

mod support;

use std::time::Duration;

use axum::http::StatusCode;
use nokkel_core::id_number::{IdNumber, SyntheticPolicy};
use nokkel_server::i18n::Lang;
use nokkel_server::services::login::{self, LoginChannel};
use nokkel_server::store::LoginRecord;
use support::*;

server_tests!(
    approval_with_the_right_number_decides_the_login,
    replayed_approval_is_refused,
    approval_signed_by_another_device_is_refused,
    wrong_number_ends_the_login,
    expired_challenge_is_refused,
    approval_after_denial_is_refused,
    revoked_device_is_refused,
    replayed_request_proof_is_refused,
    this_wasnt_me_blocks_app_logins_until_resumed,
    logins_wait_side_by_side_two_per_address,
    long_poll_wakes_when_a_login_starts,
    history_and_devices_list_what_happened,
    contact_register_can_be_read_changed_and_confirmed,
    housekeeping_expires_unanswered_logins_and_drops_old_windows,
);

fn browser() -> LoginChannel {
    LoginChannel::Browser {
        user_agent: "Mozilla/5.0 (X11; Linux x86_64; rv:140.0) Gecko/20100101 Firefox/140.0".into(),
        ip: "127.0.0.1".into(),
        lang: Lang::Nb,
    }
}

async fn start(server: &TestServer, pid: &str) -> LoginRecord {
    let pid = IdNumber::parse(pid, SyntheticPolicy::Accept).unwrap();
    login::start_app_login(&server.state, &pid, None, "Skatteetaten", &browser())
        .await
        .unwrap()
}

async fn state_of(server: &TestServer, id: &str) -> String {
    server
        .state
        .pending
        .get(id)
        .await
        .unwrap()
        .unwrap()
        .state
        .to_string()
}

fn number(login: &LoginRecord) -> u8 {
    u8::try_from(login.number).unwrap()
}

async fn approval_with_the_right_number_decides_the_login(server: TestServer) {
    let mut device = server.enrolled_device(ADULT, 1).await;
    assert!(device.pending(START).await.is_none(), "nothing pending yet");
    let login = start(&server, ADULT).await;
    let challenge = device.pending(START).await.expect("a challenge");
    assert_eq!(challenge.challenge_id(), login.id);
    assert_eq!(challenge.payload().service, "Skatteetaten");
    assert_eq!(challenge.payload().browser, "Firefox 140");
    assert!(challenge.choices().contains(&number(&login)));
    let (id, jws) = device.approval(challenge, number(&login), START);
    let res = device.send_approval(&id, &jws, START).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    assert!(res.body.contains("\"outcome\":\"approved\""));
    let decided = server.state.pending.get(&id).await.unwrap().unwrap();
    assert_eq!(decided.state, "approved");
    assert_eq!(decided.uv.as_deref(), Some("none_test"));
    assert_eq!(
        server
            .state
            .store
            .device(device.key.device_id().as_str())
            .await
            .unwrap()
            .unwrap()
            .counter,
        1
    );
}

async fn replayed_approval_is_refused(server: TestServer) {
    let mut device = server.enrolled_device(ADULT, 1).await;
    let login = start(&server, ADULT).await;
    let (id, jws) = device.approval(device.pending(START).await.unwrap(), number(&login), START);
    assert_eq!(
        device.send_approval(&id, &jws, START).await.status,
        StatusCode::OK
    );
    let res = device.send_approval(&id, &jws, START).await;
    assert_eq!(res.status, StatusCode::CONFLICT, "{}", res.body);
    assert!(res.body.contains("challenge_taken"));
    // Replayed into a new login of the same person, it fails the challenge binding.
    let next = start(&server, ADULT).await;
    let res = device.send_approval(&next.id, &jws, START).await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST, "{}", res.body);
    assert_eq!(
        state_of(&server, &next.id).await,
        "pending",
        "no state change"
    );
}

async fn approval_signed_by_another_device_is_refused(server: TestServer) {
    let device = server.enrolled_device(ADULT, 1).await;
    let mut other = server.enrolled_device(ADULT2, 2).await;
    let login = start(&server, ADULT).await;
    // The other person's device cannot even see the challenge…
    assert!(other.pending(START).await.is_none());
    // …and an approval it signs for this challenge is refused, whoever sends it.
    let challenge = device.pending(START).await.unwrap();
    let forged_for = challenge.challenge_id().to_owned();
    other.counter += 1;
    let jws = challenge
        .approve(
            number(&login),
            nokkel_core::statements::UserVerification::NoneTest,
            other.counter,
            &other.key,
            START,
        )
        .unwrap();
    let res = device.send_approval(&forged_for, &jws, START).await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST, "{}", res.body);
    assert!(res.body.contains("wrong_device"), "{}", res.body);
    let res = other.send_approval(&forged_for, &jws, START).await;
    assert_eq!(res.status, StatusCode::NOT_FOUND, "{}", res.body);
    assert_eq!(
        state_of(&server, &login.id).await,
        "pending",
        "no state change"
    );
}

async fn wrong_number_ends_the_login(server: TestServer) {
    let mut device = server.enrolled_device(ADULT, 1).await;
    let login = start(&server, ADULT).await;
    let challenge = device.pending(START).await.unwrap();
    let wrong = challenge
        .choices()
        .into_iter()
        .find(|n| *n != number(&login))
        .unwrap();
    let (id, jws) = device.approval(challenge, wrong, START);
    let res = device.send_approval(&id, &jws, START).await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
    assert!(res.body.contains("wrong_number"), "{}", res.body);
    assert_eq!(state_of(&server, &id).await, "wrong_number");
    assert!(device.pending(START).await.is_none(), "the login is over");
}

async fn expired_challenge_is_refused(server: TestServer) {
    let mut device = server.enrolled_device(ADULT, 1).await;
    let login = start(&server, ADULT).await;
    let challenge = device.pending(START).await.unwrap();
    server.clock.advance(121);
    let late = START + 121;
    let (id, jws) = device.approval(challenge, number(&login), late);
    let res = device.send_approval(&id, &jws, late).await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST, "{}", res.body);
    assert!(res.body.contains("expired"), "{}", res.body);
    assert_eq!(state_of(&server, &id).await, "pending", "not approved");
    let settled = login::wait_decided(&server.state, &id, Duration::from_millis(10))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(settled.state, "expired");
}

async fn approval_after_denial_is_refused(server: TestServer) {
    let mut device = server.enrolled_device(ADULT, 1).await;
    let login = start(&server, ADULT).await;
    let for_approval = device.pending(START).await.unwrap();
    let res = device
        .deny(device.pending(START).await.unwrap(), false, START)
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    assert!(res.body.contains("\"outcome\":\"denied\""));
    let (id, jws) = device.approval(for_approval, number(&login), START);
    let res = device.send_approval(&id, &jws, START).await;
    assert_eq!(res.status, StatusCode::CONFLICT, "{}", res.body);
    assert_eq!(state_of(&server, &id).await, "denied");
}

async fn revoked_device_is_refused(server: TestServer) {
    let mut device = server.enrolled_device(ADULT, 1).await;
    let login = start(&server, ADULT).await;
    let challenge = device.pending(START).await.unwrap();
    let own_id = device.key.device_id().as_str().to_owned();
    let res = device.revoke(&own_id, START).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    let (id, jws) = device.approval(challenge, number(&login), START);
    let res = device.send_approval(&id, &jws, START).await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED, "{}", res.body);
    assert!(res.body.contains("device_revoked"));
    assert_eq!(state_of(&server, &id).await, "pending");
    // With no active device left, the app login cannot start at all.
    let pid = IdNumber::parse(ADULT, SyntheticPolicy::Accept).unwrap();
    let err = login::start_app_login(&server.state, &pid, None, "NAV", &browser())
        .await
        .unwrap_err();
    assert_eq!(err.code(), "no_device");
}

async fn replayed_request_proof_is_refused(server: TestServer) {
    let device = server.enrolled_device(ADULT, 1).await;
    let proof = device.proof("GET", "/api/v1/devices", START);
    let first = device
        .call("GET", "/api/v1/devices", None, Some(proof.clone()), START)
        .await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.body);
    let again = device
        .call("GET", "/api/v1/devices", None, Some(proof), START)
        .await;
    assert_eq!(again.status, StatusCode::UNAUTHORIZED);
    assert!(again.body.contains("replayed_proof"), "{}", again.body);
    // A proof for one URL does not open another.
    let other = device.proof("GET", "/api/v1/devices", START);
    let res = device
        .call("GET", "/api/v1/history", None, Some(other), START)
        .await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED);
    assert!(res.body.contains("wrong_request"), "{}", res.body);
    let res = device
        .call(
            "GET",
            "/api/v1/history",
            None,
            Some("garbage".into()),
            START,
        )
        .await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED);
}

async fn this_wasnt_me_blocks_app_logins_until_resumed(server: TestServer) {
    let mut device = server.enrolled_device(ADULT, 1).await;
    start(&server, ADULT).await;
    let res = device
        .deny(device.pending(START).await.unwrap(), true, START)
        .await;
    assert!(
        res.body.contains("\"outcome\":\"reported\""),
        "{}",
        res.body
    );
    let pid = IdNumber::parse(ADULT, SyntheticPolicy::Accept).unwrap();
    let err = login::start_app_login(&server.state, &pid, None, "NAV", &browser())
        .await
        .unwrap_err();
    assert_eq!(err.code(), "app_login_blocked");
    let sms = server.sms().await;
    assert!(
        sms[0]["body"].as_str().unwrap().contains("ikke var deg"),
        "{sms:?}"
    );
    server.state.audit.flush().await;
    let events: Vec<_> = server
        .state
        .store
        .audit_for(ADULT)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.event)
        .collect();
    assert!(events.contains(&"app_login_blocked".to_owned()));
    let res = device
        .call("GET", "/api/v1/account", None, None, START)
        .await;
    assert!(
        res.body.contains("\"app_login_blocked\":true"),
        "{}",
        res.body
    );
    let res = device.resume(START).await;
    assert!(
        res.body.contains("\"app_login_blocked\":false"),
        "{}",
        res.body
    );
    login::start_app_login(&server.state, &pid, None, "NAV", &browser())
        .await
        .unwrap();
}

async fn logins_wait_side_by_side_two_per_address(server: TestServer) {
    let device = server.enrolled_device(ADULT, 1).await;
    let first = start(&server, ADULT).await;
    server.clock.advance(1);
    let second = start(&server, ADULT).await;
    assert_eq!(state_of(&server, &first.id).await, "pending");
    let ids = |all: Vec<nokkel_core::statements::VerifiedChallenge>| {
        all.iter()
            .map(|c| c.challenge_id().to_owned())
            .collect::<Vec<_>>()
    };
    let now = START + 1;
    assert_eq!(
        ids(device.pending_all(now).await),
        [first.id.clone(), second.id.clone()],
        "both wait, oldest first"
    );
    // A third from the same address replaces that address's oldest.
    server.clock.advance(1);
    let third = start(&server, ADULT).await;
    assert_eq!(state_of(&server, &first.id).await, "cancelled");
    assert_eq!(
        ids(device.pending_all(now + 1).await),
        [second.id, third.id]
    );
}

async fn long_poll_wakes_when_a_login_starts(server: TestServer) {
    let device = server.enrolled_device(ADULT, 1).await;
    let proof = device.proof("GET", "/api/v1/challenges/pending", START);
    let app = device.app.clone();
    let waiting = tokio::spawn(async move {
        use tower::ServiceExt;
        let request = axum::http::Request::get("/api/v1/challenges/pending?wait=20")
            .header("Nokkel-Proof", proof)
            .body(axum::body::Body::empty())
            .unwrap();
        let started = std::time::Instant::now();
        let res = app.oneshot(request).await.unwrap();
        let body = http_body_util::BodyExt::collect(res.into_body())
            .await
            .unwrap()
            .to_bytes();
        (started.elapsed(), String::from_utf8(body.to_vec()).unwrap())
    });
    tokio::time::sleep(Duration::from_millis(200)).await;
    start(&server, ADULT).await;
    let (elapsed, body) = waiting.await.unwrap();
    assert!(body.contains("\"challenge\":\"ey"), "{body}");
    assert!(
        elapsed < Duration::from_secs(10),
        "woken, not timed out: {elapsed:?}"
    );
}

async fn history_and_devices_list_what_happened(server: TestServer) {
    let mut device = server.enrolled_device(ADULT, 1).await;
    let login = start(&server, ADULT).await;
    let (id, jws) = device.approval(device.pending(START).await.unwrap(), number(&login), START);
    device.send_approval(&id, &jws, START).await;
    server.clock.advance(10);
    start(&server, ADULT).await;
    device
        .deny(device.pending(START + 10).await.unwrap(), false, START + 10)
        .await;
    let res = device
        .call("GET", "/api/v1/history?limit=10", None, None, START + 10)
        .await;
    let body: serde_json::Value = serde_json::from_str(&res.body).unwrap();
    let outcomes: Vec<_> = body["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["outcome"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(outcomes, ["denied", "approved"]);
    assert_eq!(body["entries"][1]["uv"], "none_test");
    let res = device
        .call("GET", "/api/v1/devices", None, None, START + 10)
        .await;
    let body: serde_json::Value = serde_json::from_str(&res.body).unwrap();
    assert_eq!(body["devices"].as_array().unwrap().len(), 1);
    assert_eq!(body["devices"][0]["this_device"], true);
    assert_eq!(body["devices"][0]["last_used_at"], START + 10);
}

async fn contact_register_can_be_read_changed_and_confirmed(server: TestServer) {
    let mut device = server.enrolled_device(ADULT, 1).await;
    let res = device
        .call("GET", "/api/v1/contact", None, None, START)
        .await;
    let body: serde_json::Value = serde_json::from_str(&res.body).unwrap();
    assert_eq!(body["mobile"], TEST_DEVICE_MOBILE, "added after enrolment");
    assert_eq!(body["mobile_confirmed_at"], serde_json::Value::Null);
    server.clock.advance(86_400);
    let res = device
        .update_contact(Some("412 34 567"), Some("Kari@Example.NO"), START + 86_400)
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    let body: serde_json::Value = serde_json::from_str(&res.body).unwrap();
    assert_eq!(body["mobile"], "+4741234567");
    assert_eq!(body["email"], "Kari@example.no");
    assert_eq!(body["mobile_confirmed_at"], START + 86_400);
    let stored = server.state.store.contact(ADULT).await.unwrap().unwrap();
    assert_eq!(stored.email.as_deref(), Some("Kari@example.no"));
    let res = device
        .update_contact(Some("22 22 22 22"), None, START + 86_400)
        .await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(res.body.contains("invalid_mobile"), "{}", res.body);
    let res = device
        .update_contact(None, Some("not-an-address"), START + 86_400)
        .await;
    assert!(res.body.contains("invalid_email"), "{}", res.body);
    assert_eq!(
        server
            .state
            .store
            .contact(ADULT)
            .await
            .unwrap()
            .unwrap()
            .mobile
            .as_deref(),
        Some("+4741234567"),
        "nothing changed"
    );
}

async fn housekeeping_expires_unanswered_logins_and_drops_old_windows(server: TestServer) {
    use nokkel_server::services::housekeeping;
    server.enrolled_device(ADULT, 1).await;
    let login = start(&server, ADULT).await;
    let swept = housekeeping::sweep(&server.state).await.unwrap();
    assert_eq!(swept.logins_expired, 0, "still within its two minutes");
    assert_eq!(state_of(&server, &login.id).await, "pending");
    server.clock.advance(3 * 86_400);
    let swept = housekeeping::sweep(&server.state).await.unwrap();
    assert_eq!(swept.logins_expired, 1);
    assert_eq!(state_of(&server, &login.id).await, "expired");
    assert!(
        swept.rate_windows >= 1,
        "the order and login windows are gone: {swept:?}"
    );
    let again = housekeeping::sweep(&server.state).await.unwrap();
    assert_eq!(again, housekeeping::Swept::default(), "idempotent");
    // Decided logins (and the client addresses they keep) last as long as the audit log.
    server.clock.advance(400 * 86_400);
    let swept = housekeeping::sweep(&server.state).await.unwrap();
    assert_eq!(swept.login_rows, 1, "{swept:?}");
    assert!(server.state.pending.get(&login.id).await.unwrap().is_none());
}
