#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Push registrations through the device API, on both backends: a device sets, replaces
//! and clears its own; the store holds it sealed; a bad registration is refused without
//! echoing it; and every way of revoking a device removes its registration.

mod support;

use axum::http::StatusCode;
use nokkel_core::push::{ApnsEnvironment, PushRegistration};
use nokkel_server::services::lifecycle::{self, BlockedBy};
use nokkel_server::services::{confirmation, push};
use support::*;

server_tests!(
    a_device_sets_replaces_and_clears_its_registration,
    a_bad_registration_is_refused_without_echoing_it,
    revoking_a_device_removes_its_registration,
    blocking_or_a_suspected_clone_removes_registrations,
);

// RFC 8291 appendix A: the user agent's public key and authentication secret.
const UA_PUBLIC: &str =
    "BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4";
const AUTH: &str = "BTBZMqHH6r4Tts7J_aSIgg";
const ENDPOINT: &str = "https://push.example.net/push/JzLQ3raZJfFBR0aqvOMsLrt54w4rJUsV";

fn web_push_body() -> serde_json::Value {
    serde_json::json!({"v": 1, "registration": {
        "kind": "web_push", "endpoint": ENDPOINT, "p256dh": UA_PUBLIC, "auth": AUTH}})
}

async fn register(device: &TestDevice) {
    let res = device
        .call("PUT", "/api/v1/push", Some(web_push_body()), None, START)
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    assert_eq!(res.body, r#"{"v":1,"kind":"web_push"}"#);
}

fn device_id(device: &TestDevice) -> String {
    device.key.device_id().as_str().to_owned()
}

async fn a_device_sets_replaces_and_clears_its_registration(server: TestServer) {
    let device = server.enrolled_device(ADULT, 1).await;
    let other = server.enrolled_device(ADULT2, 2).await;
    let id = device_id(&device);
    register(&device).await;

    // Sealed in the store: neither the endpoint nor the keys are there in clear.
    let record = server
        .state
        .store
        .push_registration(&id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(record.kind, "web_push");
    let sealed = String::from_utf8_lossy(&record.registration_sealed);
    assert!(!sealed.contains("push.example") && !sealed.contains(AUTH));
    assert!(!format!("{record:?}").contains("push.example"));
    let opened = push::registration(&server.state, &id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        opened,
        PushRegistration::web_push(ENDPOINT, UA_PUBLIC, AUTH).unwrap()
    );
    // Only the calling device's registration: another device has none.
    assert!(push::registration(&server.state, &device_id(&other))
        .await
        .unwrap()
        .is_none());

    // Replacing it with an APNs token keeps one registration, of the new kind.
    server.clock.advance(5);
    let token = "0f".repeat(32);
    let body = serde_json::json!({"v": 1, "registration": {
        "kind": "apns", "device_token": token, "environment": "production"}});
    let res = device
        .call("PUT", "/api/v1/push", Some(body), None, START + 5)
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    assert_eq!(res.body, r#"{"v":1,"kind":"apns"}"#);
    let record = server
        .state
        .store
        .push_registration(&id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(
        (record.kind.as_str(), record.updated_at),
        ("apns", START + 5)
    );
    assert_eq!(
        push::registration(&server.state, &id)
            .await
            .unwrap()
            .unwrap(),
        PushRegistration::apns(&token, ApnsEnvironment::Production).unwrap()
    );
    let pid_regs = server
        .state
        .store
        .push_registrations_for(ADULT)
        .await
        .unwrap();
    assert_eq!(pid_regs.len(), 1);

    // Clearing removes it; clearing again is no error.
    for _ in 0..2 {
        let res = device
            .call("DELETE", "/api/v1/push", None, None, START)
            .await;
        assert_eq!(res.status, StatusCode::OK, "{}", res.body);
        assert_eq!(res.body, r#"{"v":1,"kind":null}"#);
        assert!(server
            .state
            .store
            .push_registration(&id)
            .await
            .unwrap()
            .is_none());
    }

    // Without a request proof nothing changes.
    let res = device
        .call(
            "PUT",
            "/api/v1/push",
            Some(web_push_body()),
            Some("x".into()),
            START,
        )
        .await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED, "{}", res.body);
    assert!(server
        .state
        .store
        .push_registration(&id)
        .await
        .unwrap()
        .is_none());
}

async fn a_bad_registration_is_refused_without_echoing_it(server: TestServer) {
    let device = server.enrolled_device(ADULT, 1).await;
    let secret_path = "SECRETPATHzzzz";
    for registration in [
        serde_json::json!({"kind": "web_push", "endpoint": format!("http://push.example.net/{secret_path}"),
            "p256dh": UA_PUBLIC, "auth": AUTH}),
        serde_json::json!({"kind": "web_push", "endpoint": format!("https://push.example.net/{secret_path}"),
            "p256dh": UA_PUBLIC, "auth": "AAAA"}),
        serde_json::json!({"kind": "fcm", "token": format!("{secret_path} with spaces")}),
        serde_json::json!({"kind": "apns", "device_token": secret_path, "environment": "sandbox"}),
        serde_json::json!({"kind": "carrier_pigeon", "token": secret_path}),
    ] {
        let body = serde_json::json!({"v": 1, "registration": registration});
        let res = device
            .call("PUT", "/api/v1/push", Some(body), None, START)
            .await;
        assert_eq!(res.status, StatusCode::BAD_REQUEST, "{}", res.body);
        assert!(res.body.contains("invalid_request"), "{}", res.body);
        assert!(!res.body.contains(secret_path), "{}", res.body);
    }
    assert!(server
        .state
        .store
        .push_registration(&device_id(&device))
        .await
        .unwrap()
        .is_none());
}

async fn revoking_a_device_removes_its_registration(server: TestServer) {
    let mut device = server.enrolled_device(ADULT, 1).await;
    let other = server.enrolled_device(ADULT2, 2).await;
    register(&device).await;
    register(&other).await;
    let id = device_id(&device);
    let res = device.revoke(&id, START).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    assert!(server
        .state
        .store
        .push_registration(&id)
        .await
        .unwrap()
        .is_none());
    // Another person's device is still woken.
    assert!(server
        .state
        .store
        .push_registration(&device_id(&other))
        .await
        .unwrap()
        .is_some());
    // A revoked device cannot register again, even past the request-proof check.
    let record = server.state.store.device(&id).await.unwrap().unwrap();
    let reg = PushRegistration::web_push(ENDPOINT, UA_PUBLIC, AUTH).unwrap();
    let err = push::set(&server.state, &record, &reg).await.unwrap_err();
    assert_eq!(err.code(), "device_revoked");
    assert!(server
        .state
        .store
        .push_registration(&id)
        .await
        .unwrap()
        .is_none());
}

async fn blocking_or_a_suspected_clone_removes_registrations(server: TestServer) {
    // A suspected clone revokes that device.
    let cloned = server.enrolled_device(ADULT, 1).await;
    register(&cloned).await;
    let id = device_id(&cloned);
    let record = server.state.store.device(&id).await.unwrap().unwrap();
    let err = confirmation::clone_suspected(&server.state, &record, "test").await;
    assert_eq!(err.code(), "device_clone_suspected");
    assert!(server
        .state
        .store
        .push_registration(&id)
        .await
        .unwrap()
        .is_none());

    // The person blocking their Nøkkel (a lost phone) revokes every device.
    let lost = server.enrolled_device(ADULT2, 3).await;
    register(&lost).await;
    assert_eq!(
        server
            .state
            .store
            .push_registrations_for(ADULT2)
            .await
            .unwrap()
            .len(),
        1
    );
    let revoked = lifecycle::block(
        &server.state.store,
        server.state.outbound.as_ref(),
        ADULT2,
        BlockedBy::Person,
        None,
        START,
    )
    .await
    .unwrap()
    .unwrap();
    assert_eq!(revoked, [device_id(&lost)]);
    assert!(server
        .state
        .store
        .push_registrations_for(ADULT2)
        .await
        .unwrap()
        .is_empty());
    assert!(server
        .state
        .store
        .push_registration(&device_id(&lost))
        .await
        .unwrap()
        .is_none());
}
