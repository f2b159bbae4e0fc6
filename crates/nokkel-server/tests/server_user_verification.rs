#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Fresh user verification through the device API, on both backends: revoking a device,
//! resuming app logins and changing the contact register need an action statement for
//! exactly that call, made with a verification method the device declared.

mod support;

use axum::http::StatusCode;
use nokkel_core::statements::{sign_action, Action, UserVerification};
use nokkel_server::store::AccountStatus;
use support::*;

server_tests!(
    sensitive_calls_with_only_a_request_proof_are_refused,
    fresh_statements_let_the_calls_through_once,
    stale_or_mismatched_statements_are_refused,
    undeclared_user_verification_is_refused,
    replayed_action_statement_is_refused,
);

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

async fn replayed_action_statement_is_refused(server: TestServer) {
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
    // The same statement again, under a fresh request proof: its counter is spent.
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
    assert_eq!(again.status, StatusCode::BAD_REQUEST, "{}", again.body);
    assert!(
        again.body.contains("counter_not_increased"),
        "{}",
        again.body
    );
}
