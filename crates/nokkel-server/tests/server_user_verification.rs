#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Fresh user verification and clone detection through the device API, on both backends:
//! revoking a device, resuming app logins and changing the contact register need an action
//! statement for exactly that call; and a device statement whose counter went backwards
//! revokes the device, pauses app logins, notifies the person and is audited — once.

mod support;

use axum::http::StatusCode;
use nokkel_core::id_number::{IdNumber, SyntheticPolicy};
use nokkel_core::statements::{sign_action, Action, UserVerification};
use nokkel_server::i18n::Lang;
use nokkel_server::services::login::{self, LoginChannel};
use nokkel_server::services::{confirmation, lifecycle};
use nokkel_server::store::{AccountStatus, LoginRecord};
use support::*;

server_tests!(
    sensitive_calls_with_only_a_request_proof_are_refused,
    fresh_statements_let_the_calls_through_once,
    stale_or_mismatched_statements_are_refused,
    undeclared_user_verification_is_refused,
    replayed_action_statement_revokes_the_device,
    approval_with_a_used_counter_revokes_the_device_and_pauses_logins,
    racing_stale_statements_act_once,
);

fn browser() -> LoginChannel {
    LoginChannel::Browser {
        user_agent: "Mozilla/5.0 (X11; Linux x86_64; rv:140.0) Gecko/20100101 Firefox/140.0".into(),
        ip: "127.0.0.1".into(),
        lang: Lang::Nb,
    }
}

fn pid() -> IdNumber {
    IdNumber::parse(ADULT, SyntheticPolicy::Accept).unwrap()
}

async fn start(server: &TestServer) -> LoginRecord {
    login::start_app_login(&server.state, &pid(), None, "Skatteetaten", &browser())
        .await
        .unwrap()
}

async fn block(server: &TestServer) {
    server
        .state
        .store
        .set_account_status(ADULT, AccountStatus::Blocked, Some("reported_login"), START)
        .await
        .unwrap();
}

async fn device_row(
    server: &TestServer,
    device: &TestDevice,
) -> nokkel_server::store::DeviceRecord {
    server
        .state
        .store
        .device(device.key.device_id().as_str())
        .await
        .unwrap()
        .unwrap()
}

async fn audit_events(server: &TestServer) -> Vec<String> {
    server.state.audit.flush().await;
    server
        .state
        .store
        .audit_for(ADULT)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.event)
        .collect()
}

fn contact_action() -> Action {
    Action::UpdateContact {
        mobile: Some("412 34 567".into()),
        email: None,
    }
}

async fn sensitive_calls_with_only_a_request_proof_are_refused(server: TestServer) {
    let device = server.enrolled_device(ADULT, 1).await;
    let own_id = device.key.device_id().as_str().to_owned();
    block(&server).await;
    let calls = [
        ("DELETE", format!("/api/v1/devices/{own_id}"), None),
        (
            "POST",
            "/api/v1/account/resume".to_owned(),
            Some(serde_json::json!({"v": 1})),
        ),
        (
            "PUT",
            "/api/v1/contact".to_owned(),
            Some(serde_json::json!({"v": 1, "mobile": "412 34 567", "email": null})),
        ),
    ];
    for (method, path, body) in calls {
        let res = device.call(method, &path, body, None, START).await;
        assert_eq!(
            res.status,
            StatusCode::UNAUTHORIZED,
            "{method} {path}: {}",
            res.body
        );
        assert!(
            res.body.contains("user_verification_required"),
            "{method} {path}: {}",
            res.body
        );
    }
    // Nothing happened.
    assert_eq!(device_row(&server, &device).await.revoked_at, None);
    let account = server.state.store.account(ADULT).await.unwrap().unwrap();
    assert_eq!(account.status, AccountStatus::Blocked);
    let contact = server.state.store.contact(ADULT).await.unwrap().unwrap();
    assert_eq!(contact.mobile.as_deref(), Some("+4791234567"));
}

async fn fresh_statements_let_the_calls_through_once(server: TestServer) {
    let mut device = server.enrolled_device(ADULT, 1).await;
    block(&server).await;
    let res = device.resume(START).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    assert!(
        res.body.contains("\"app_login_blocked\":false"),
        "{}",
        res.body
    );
    let res = device.update_contact(Some("412 34 567"), None, START).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
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
        Some("+4741234567")
    );
    // Each statement's counter is stored.
    assert_eq!(device_row(&server, &device).await.counter, 2);
    let own_id = device.key.device_id().as_str().to_owned();
    let res = device.revoke(&own_id, START).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    assert!(device_row(&server, &device).await.revoked_at.is_some());
    let events = audit_events(&server).await;
    assert_eq!(
        events.iter().filter(|e| *e == "user_verified").count(),
        3,
        "{events:?}"
    );
    assert!(!events.contains(&"device_clone_suspected".to_owned()));
}

async fn stale_or_mismatched_statements_are_refused(server: TestServer) {
    let mut device = server.enrolled_device(ADULT, 1).await;
    // Signed a minute and a second ago: not fresh.
    let old = device.action(&contact_action(), START);
    server.clock.advance(61);
    let now = START + 61;
    let body = serde_json::json!({"v": 1, "mobile": "412 34 567", "email": null});
    let res = device
        .call_with_action(
            "PUT",
            "/api/v1/contact",
            Some(body.clone()),
            None,
            Some(old),
            now,
        )
        .await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED, "{}", res.body);
    assert!(
        res.body.contains("user_verification_required"),
        "{}",
        res.body
    );
    // Confirms another number than the request sets.
    let other = device.action(
        &Action::UpdateContact {
            mobile: Some("987 65 432".into()),
            email: None,
        },
        now,
    );
    let res = device
        .call_with_action(
            "PUT",
            "/api/v1/contact",
            Some(body.clone()),
            None,
            Some(other),
            now,
        )
        .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST, "{}", res.body);
    assert!(res.body.contains("wrong_action"), "{}", res.body);
    // Confirms another call altogether.
    let resume = device.action(&Action::ResumeAppLogins {}, now);
    let res = device
        .call_with_action(
            "PUT",
            "/api/v1/contact",
            Some(body),
            None,
            Some(resume),
            now,
        )
        .await;
    assert!(res.body.contains("wrong_action"), "{}", res.body);
    let contact = server.state.store.contact(ADULT).await.unwrap().unwrap();
    assert_eq!(contact.mobile.as_deref(), Some("+4791234567"), "unchanged");
    assert_eq!(
        device_row(&server, &device).await.counter,
        0,
        "nothing stored"
    );
    assert_eq!(device_row(&server, &device).await.revoked_at, None);
}

async fn undeclared_user_verification_is_refused(server: TestServer) {
    let device = server.enrolled_device(ADULT, 1).await;
    // The test device declared only `none_test`.
    let statement = sign_action(
        &device.key,
        &device.issuer,
        &contact_action(),
        UserVerification::Biometric,
        1,
        START,
    )
    .unwrap();
    let body = serde_json::json!({"v": 1, "mobile": "412 34 567", "email": null});
    let res = device
        .call_with_action(
            "PUT",
            "/api/v1/contact",
            Some(body),
            None,
            Some(statement),
            START,
        )
        .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST, "{}", res.body);
    assert!(res.body.contains("not declared"), "{}", res.body);
    let contact = server.state.store.contact(ADULT).await.unwrap().unwrap();
    assert_eq!(contact.mobile.as_deref(), Some("+4791234567"), "unchanged");
}

async fn assert_clone_handled(server: &TestServer, device: &TestDevice, mobile: &str) {
    assert!(
        device_row(server, device).await.revoked_at.is_some(),
        "revoked"
    );
    let account = server.state.store.account(ADULT).await.unwrap().unwrap();
    assert_eq!(account.status, AccountStatus::Blocked);
    assert_eq!(
        account.blocked_reason.as_deref(),
        Some(lifecycle::BLOCKED_CLONE_SUSPECTED)
    );
    let err = login::start_app_login(&server.state, &pid(), None, "NAV", &browser())
        .await
        .unwrap_err();
    assert_eq!(err.code(), "app_login_blocked");
    let events = audit_events(server).await;
    assert_eq!(
        events
            .iter()
            .filter(|e| *e == "device_clone_suspected")
            .count(),
        1,
        "{events:?}"
    );
    let sms = server.sms().await;
    let notices: Vec<_> = sms
        .iter()
        .filter(|m| m["body"].as_str().unwrap().contains("kopiert"))
        .collect();
    assert_eq!(notices.len(), 1, "{sms:?}");
    assert_eq!(notices[0]["to"], mobile, "{sms:?}");
}

async fn replayed_action_statement_revokes_the_device(server: TestServer) {
    let mut device = server.enrolled_device(ADULT, 1).await;
    let statement = device.action(&contact_action(), START);
    let body = serde_json::json!({"v": 1, "mobile": "412 34 567", "email": null});
    let first = device
        .call_with_action(
            "PUT",
            "/api/v1/contact",
            Some(body.clone()),
            None,
            Some(statement.clone()),
            START,
        )
        .await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.body);
    // The same statement again, under a fresh request proof: only the key's holder can
    // make that proof, and it reuses a counter, so the key is in two places.
    let again = device
        .call_with_action(
            "PUT",
            "/api/v1/contact",
            Some(body),
            None,
            Some(statement),
            START,
        )
        .await;
    assert_eq!(again.status, StatusCode::UNAUTHORIZED, "{}", again.body);
    assert!(
        again.body.contains("device_clone_suspected"),
        "{}",
        again.body
    );
    assert_clone_handled(&server, &device, "+4741234567").await;
    // The revoked device is refused from now on.
    let res = device
        .call("GET", "/api/v1/devices", None, None, START)
        .await;
    assert!(res.body.contains("device_revoked"), "{}", res.body);
}

async fn approval_with_a_used_counter_revokes_the_device_and_pauses_logins(server: TestServer) {
    let mut device = server.enrolled_device(ADULT, 1).await;
    let first = start(&server).await;
    let challenge = device.pending(START).await.unwrap();
    device.counter = 5;
    let (id, jws) = device.approval(challenge, u8::try_from(first.number).unwrap(), START);
    assert_eq!(
        device.send_approval(&id, &jws, START).await.status,
        StatusCode::OK
    );
    // A copy of the key whose counter is behind approves the next login.
    let second = start(&server).await;
    let challenge = device.pending(START).await.unwrap();
    device.counter = 2;
    let (id, jws) = device.approval(challenge, u8::try_from(second.number).unwrap(), START);
    let res = device.send_approval(&id, &jws, START).await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED, "{}", res.body);
    assert!(res.body.contains("device_clone_suspected"), "{}", res.body);
    let login = server.state.pending.get(&id).await.unwrap().unwrap();
    assert_eq!(login.state, "pending", "not approved");
    assert_clone_handled(&server, &device, "+4791234567").await;
}

async fn racing_stale_statements_act_once(server: TestServer) {
    let device = server.enrolled_device(ADULT, 1).await;
    let record = device_row(&server, &device).await;
    let (a, b) = tokio::join!(
        confirmation::clone_suspected(&server.state, &record, "approval"),
        confirmation::clone_suspected(&server.state, &record, "action"),
    );
    for err in [a, b] {
        assert_eq!(err.code(), "device_clone_suspected");
    }
    assert_clone_handled(&server, &device, "+4791234567").await;
}
