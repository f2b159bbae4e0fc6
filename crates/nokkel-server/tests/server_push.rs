#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Push registrations through the device API, on both backends: a device sets, replaces
//! and clears its own; the store holds it sealed; a bad registration is refused without
//! echoing it; and every way of revoking a device removes its registration.

mod push_peers;
mod support;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use axum::http::StatusCode;
use nokkel_core::id_number::{IdNumber, SyntheticPolicy};
use nokkel_core::push::{ApnsEnvironment, PushRegistration};
use nokkel_server::config::{ApnsConfig, Config, PushConfig};
use nokkel_server::i18n::Lang;
use nokkel_server::services::lifecycle::{self, BlockedBy};
use nokkel_server::services::login::{self, LoginChannel};
use nokkel_server::services::{confirmation, push};
use nokkel_server::store::{Channel, OutboxState};
use push_peers::*;
use support::*;

server_tests!(
    a_plain_http_endpoint_needs_a_test_server,
    a_device_sets_replaces_and_clears_its_registration,
    a_bad_registration_is_refused_without_echoing_it,
    revoking_a_device_removes_its_registration,
    blocking_or_a_suspected_clone_removes_registrations,
);

server_tests!(mod listed_hosts with crate::with_listed_push_hosts;
    the_operator_lists_the_hosts_pushed_to,
);

server_tests!(mod pushes with crate::with_push;
    a_login_wakes_the_device_with_one_private_push,
    a_gone_subscription_is_removed_and_not_tried_again,
    a_failing_push_service_is_tried_again_while_the_login_lasts,
);

server_tests!(mod apns with crate::with_apns;
    apns_sends_one_private_alert_with_a_reused_provider_token,
    apns_unregistered_token_is_removed_and_not_tried_again,
    apns_busy_service_is_tried_again,
);

/// A test server that sends Web Push, to plain-http endpoints on loopback (the peer).
fn with_push(config: &mut Config) {
    static N: AtomicU64 = AtomicU64::new(0);
    let key = std::env::temp_dir().join(format!(
        "nokkel-test-vapid-{}-{}.key",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    config.push = Some(PushConfig {
        vapid_subject: VAPID_SUBJECT.into(),
        vapid_key_file: Some(key),
        timeout_seconds: 5,
        danger_allow_http_loopback: true,
        web_push_hosts: Vec::new(),
        fcm_service_account_file: None,
        fcm_url: "https://fcm.googleapis.com/".into(),
        apns: None,
    });
}

/// A server whose operator allows Web Push only to `push.example.net` and its subdomains.
fn with_listed_push_hosts(config: &mut Config) {
    with_push(config);
    let push = config.push.as_mut().unwrap();
    push.danger_allow_http_loopback = false;
    push.web_push_hosts = vec!["push.example.net".into(), "*.push.example.net".into()];
}

const ENDPOINT: &str =
    "https://updates.push.services.mozilla.com/wpush/v2/JzLQ3raZJfFBR0aqvOMsLrt54w4rJUsV";

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

/// Whether the store holds a push registration for device `id`.
async fn registered(server: &TestServer, id: &str) -> bool {
    server
        .state
        .store
        .push_registration(id)
        .await
        .unwrap()
        .is_some()
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
    assert!(!sealed.contains("mozilla") && !sealed.contains(AUTH));
    assert!(!format!("{record:?}").contains("mozilla"));
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
        assert!(!registered(&server, &id).await);
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
    assert!(!registered(&server, &id).await);
}

async fn a_bad_registration_is_refused_without_echoing_it(server: TestServer) {
    let device = server.enrolled_device(ADULT, 1).await;
    let secret_path = "SECRETPATHzzzz";
    for registration in [
        serde_json::json!({"kind": "web_push", "endpoint": format!("http://push.example.net/{secret_path}"),
            "p256dh": UA_PUBLIC, "auth": AUTH}),
        serde_json::json!({"kind": "web_push", "endpoint": format!("https://push.example.net/{secret_path}"),
            "p256dh": UA_PUBLIC, "auth": "AAAA"}),
        // Well formed, but not at a push service: the server would POST into an intranet.
        serde_json::json!({"kind": "web_push", "endpoint": format!("https://intranet.example/{secret_path}"),
            "p256dh": UA_PUBLIC, "auth": AUTH}),
        serde_json::json!({"kind": "fcm", "token": format!("{secret_path} with spaces")}),
        serde_json::json!({"kind": "apns", "device_token": secret_path, "environment": "sandbox"}),
        serde_json::json!({"kind": "carrier_pigeon", "token": secret_path}),
    ] {
        let body = serde_json::json!({"v": 1, "registration": registration});
        let res = device
            .call("PUT", "/api/v1/push", Some(body), None, START)
            .await;
        assert_eq!(res.status, StatusCode::BAD_REQUEST, "{}", res.body);
        // Malformed is `invalid_request`; well formed but not allowed, a registration refused.
        assert!(
            res.body.contains("\"invalid_request\"")
                || res.body.contains("\"invalid_push_registration\""),
            "{}",
            res.body
        );
        assert!(!res.body.contains(secret_path), "{}", res.body);
    }
    assert!(!registered(&server, &device_id(&device)).await);
}

async fn the_operator_lists_the_hosts_pushed_to(server: TestServer) {
    let device = server.enrolled_device(ADULT, 1).await;
    let put = |endpoint: String| {
        let body = serde_json::json!({"v": 1, "registration": {
            "kind": "web_push", "endpoint": endpoint, "p256dh": UA_PUBLIC, "auth": AUTH}});
        device.call("PUT", "/api/v1/push", Some(body), None, START)
    };
    for listed in [
        "https://push.example.net/p/1",
        "https://eu.push.example.net:8443/p/2",
    ] {
        let res = put(listed.to_owned()).await;
        assert_eq!(res.status, StatusCode::OK, "{listed}: {}", res.body);
    }
    // Not listed here, though a browser's own push service: the operator chose.
    for unlisted in [
        ENDPOINT,
        "https://push.example.net.evil.example/p",
        "http://127.0.0.1:9/p",
    ] {
        let res = put(unlisted.to_owned()).await;
        assert_eq!(
            res.status,
            StatusCode::BAD_REQUEST,
            "{unlisted}: {}",
            res.body
        );
        assert!(!res.body.contains("/p"), "{}", res.body);
    }
    let res = put("https://intranet.example/p".to_owned()).await;
    assert!(
        res.body
            .contains("not at a push service this server sends to"),
        "{}",
        res.body
    );
    // The last good registration stays.
    assert!(registered(&server, &device_id(&device)).await);
}

async fn revoking_a_device_removes_its_registration(server: TestServer) {
    let mut device = server.enrolled_device(ADULT, 1).await;
    let other = server.enrolled_device(ADULT2, 2).await;
    register(&device).await;
    register(&other).await;
    let id = device_id(&device);
    let res = device.revoke(&id, START).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    assert!(!registered(&server, &id).await);
    // Another person's device is still woken.
    assert!(registered(&server, &device_id(&other)).await);
    // A revoked device cannot register again, even past the request-proof check.
    let record = server.state.store.device(&id).await.unwrap().unwrap();
    let reg = PushRegistration::web_push(ENDPOINT, UA_PUBLIC, AUTH).unwrap();
    let err = push::set(&server.state, &record, &reg).await.unwrap_err();
    assert_eq!(err.code(), "device_revoked");
    assert!(!registered(&server, &id).await);
}

async fn blocking_or_a_suspected_clone_removes_registrations(server: TestServer) {
    // A suspected clone revokes that device.
    let cloned = server.enrolled_device(ADULT, 1).await;
    register(&cloned).await;
    let id = device_id(&cloned);
    let record = server.state.store.device(&id).await.unwrap().unwrap();
    let err = confirmation::clone_suspected(&server.state, &record, "test").await;
    assert_eq!(err.code(), "device_clone_suspected");
    assert!(!registered(&server, &id).await);

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
    assert!(!registered(&server, &device_id(&lost)).await);
}

async fn a_plain_http_endpoint_needs_a_test_server(server: TestServer) {
    // A device cannot make a real server post to its own loopback services.
    let device = server.enrolled_device(ADULT, 1).await;
    let body = serde_json::json!({"v": 1, "registration": {"kind": "web_push",
        "endpoint": "http://127.0.0.1:5432/x", "p256dh": UA_PUBLIC, "auth": AUTH}});
    let res = device
        .call("PUT", "/api/v1/push", Some(body), None, START)
        .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST, "{}", res.body);
    assert!(
        res.body.contains("invalid_push_registration"),
        "{}",
        res.body
    );
    assert!(!res.body.contains("5432"), "{}", res.body);
}

async fn subscribe(device: &TestDevice, endpoint: &str) {
    let body = serde_json::json!({"v": 1, "registration": {
        "kind": "web_push", "endpoint": endpoint, "p256dh": UA_PUBLIC, "auth": AUTH}});
    let res = device
        .call("PUT", "/api/v1/push", Some(body), None, START)
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
}

async fn start_login(server: &TestServer, pid: &str) -> nokkel_server::store::LoginRecord {
    let pid = IdNumber::parse(pid, SyntheticPolicy::Accept).unwrap();
    let channel = LoginChannel::Browser {
        user_agent: "Mozilla/5.0 (X11; Linux x86_64; rv:140.0) Gecko/20100101 Firefox/140.0".into(),
        ip: "127.0.0.1".into(),
        lang: Lang::Nb,
    };
    login::start_app_login(&server.state, &pid, None, "Skatteetaten", &channel)
        .await
        .unwrap()
}

async fn push_outbox(server: &TestServer) -> Vec<nokkel_server::store::MessageRecord> {
    server
        .state
        .store
        .messages_page(Channel::Push, 100, 0)
        .await
        .unwrap()
}

async fn a_login_wakes_the_device_with_one_private_push(server: TestServer) {
    let peer = WebPushPeer::start().await;
    let mut device = server.enrolled_device(ADULT, 1).await;
    subscribe(&device, &peer.endpoint).await;
    // Another person's subscribed device is not woken by this login.
    let other = server.enrolled_device(ADULT2, 2).await;
    subscribe(&other, &format!("{}/push/other", peer.origin)).await;

    let login = start_login(&server, ADULT).await;
    server.state.delivery.round().await.unwrap();
    let pushes = peer.received();
    assert_eq!(pushes.len(), 1, "exactly one push");
    assert!(pushes[0].headers["authorization"]
        .to_str()
        .unwrap()
        .starts_with("vapid t="));
    assert_eq!(
        pushes[0].headers["ttl"].to_str().unwrap(),
        (login.expires_at - START).to_string(),
        "the push lives as long as the login"
    );
    let notice = peer.open(&pushes[0], START);
    assert_eq!(notice["v"], 1);
    assert_eq!(notice["type"], "login_waiting");
    let id = notice["id"].as_str().unwrap();
    assert_eq!(id.len(), 32);
    assert_eq!(
        notice.as_object().unwrap().len(),
        3,
        "nothing else: {notice}"
    );
    let text = notice.to_string();
    for secret in [ADULT, "Skatteetaten", &login.id, "Firefox"] {
        assert!(!text.contains(secret), "{secret} in {text}");
    }
    // Nothing readable travels: the body is not the notice in clear.
    assert!(!String::from_utf8_lossy(&pushes[0].body).contains("login_waiting"));

    // Sent once, not again on the next round.
    server.state.delivery.round().await.unwrap();
    assert_eq!(peer.received().len(), 1);
    let outbox = push_outbox(&server).await;
    assert_eq!(outbox.len(), 1);
    assert_eq!(outbox[0].state, OutboxState::Sent);

    // Woken, the device fetches the signed challenge itself and approves it.
    let challenge = device.pending(START).await.unwrap();
    let number = u8::try_from(login.number).unwrap();
    let (challenge_id, jws) = device.approval(challenge, number, START);
    let res = device.send_approval(&challenge_id, &jws, START).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
}

async fn a_gone_subscription_is_removed_and_not_tried_again(server: TestServer) {
    let peer = WebPushPeer::start().await;
    let device = server.enrolled_device(ADULT, 1).await;
    subscribe(&device, &peer.endpoint).await;
    peer.status.store(410, Ordering::SeqCst);
    start_login(&server, ADULT).await;
    server.state.delivery.round().await.unwrap();
    assert_eq!(peer.received().len(), 1);
    let id = device_id(&device);
    assert!(
        !registered(&server, &id).await,
        "the registration is removed"
    );
    let outbox = push_outbox(&server).await;
    assert_eq!(outbox[0].state, OutboxState::Dead, "no retry");
    assert!(outbox[0].last_error.as_deref().unwrap().contains("410"));
    assert!(!outbox[0].last_error.as_deref().unwrap().contains("JzLQ"));

    // Later rounds and logins try it no more.
    server.clock.advance(3600);
    server.state.delivery.round().await.unwrap();
    start_login(&server, ADULT).await;
    server.state.delivery.round().await.unwrap();
    assert_eq!(peer.received().len(), 1);
    assert_eq!(push_outbox(&server).await.len(), 1);
}

async fn a_failing_push_service_is_tried_again_while_the_login_lasts(server: TestServer) {
    let peer = WebPushPeer::start().await;
    let device = server.enrolled_device(ADULT, 1).await;
    subscribe(&device, &peer.endpoint).await;
    peer.status.store(503, Ordering::SeqCst);
    let login = start_login(&server, ADULT).await;
    server.state.delivery.round().await.unwrap();
    assert_eq!(push_outbox(&server).await[0].state, OutboxState::Queued);
    // After the backoff the push service is up again: the push arrives, shorter-lived.
    peer.status.store(201, Ordering::SeqCst);
    server.clock.advance(20);
    server.state.delivery.round().await.unwrap();
    let pushes = peer.received();
    assert_eq!(pushes.len(), 2);
    assert_eq!(
        pushes[1].headers["ttl"].to_str().unwrap(),
        (login.expires_at - START - 20).to_string()
    );
    assert_eq!(push_outbox(&server).await[0].state, OutboxState::Sent);
    assert!(registered(&server, &device_id(&device)).await);
}

fn with_push_and_no_login_brakes(config: &mut Config) {
    with_push(config);
    config.logins_per_person_and_address_per_10_min = u32::MAX;
    config.logins_per_address_per_10_min = u32::MAX;
    config.logins_per_person_per_10_min = u32::MAX;
}

/// Push latency in process (the service call that starts the login → the push at a
/// loopback peer, through the running delivery worker), for docs/PERFORMANCE.md:
/// `cargo test -p nokkel-server --test server_push -- --ignored --nocapture`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a measurement, run by hand"]
async fn measure_push_latency_in_process() {
    let server = TestServer::demo_with(sqlite().await, with_push_and_no_login_brakes, false).await;
    let peer = WebPushPeer::start().await;
    let device = server.enrolled_device(ADULT, 1).await;
    subscribe(&device, &peer.endpoint).await;
    tokio::spawn(server.state.delivery.clone().run());
    let runs = 500;
    let mut latencies = Vec::with_capacity(runs);
    for n in 1..=runs {
        let started = std::time::Instant::now();
        start_login(&server, ADULT).await;
        let arrived = loop {
            if let Some(push) = peer.received().get(n - 1) {
                break push.at;
            }
            tokio::time::sleep(std::time::Duration::from_micros(200)).await;
        };
        latencies.push(arrived.duration_since(started));
    }
    latencies.sort();
    let at = |q: f64| latencies[((latencies.len() as f64 * q) as usize).min(runs - 1)];
    println!(
        "push latency in process over {runs} logins (start_app_login → push at peer): p50 {:?}, p99 {:?}, max {:?}",
        at(0.50),
        at(0.99),
        latencies[runs - 1]
    );
}

const FCM_TOKEN: &str = "fcm-registration-token:APA91bTestOnly";

/// A test server pushing through the FCM peer with a service account written to `dir`.
async fn fcm_server(
    store: nokkel_server::store::Store,
    peer: &FcmPeer,
    dir: &std::path::Path,
) -> TestServer {
    let account = peer.write_service_account(dir);
    let config = Config {
        demo: true,
        public_url: Some("http://nokkel.test".into()),
        push: Some(PushConfig {
            vapid_subject: VAPID_SUBJECT.into(),
            vapid_key_file: Some(dir.join("vapid.key")),
            timeout_seconds: 5,
            danger_allow_http_loopback: true,
            web_push_hosts: Vec::new(),
            fcm_service_account_file: Some(account),
            fcm_url: format!("{}/", peer.origin),
            apns: None,
        }),
        ..Config::default()
    };
    TestServer::with_config(store, config).await
}

async fn register_fcm(device: &TestDevice) {
    let body = serde_json::json!({"v": 1, "registration": {"kind": "fcm", "token": FCM_TOKEN}});
    let res = device
        .call("PUT", "/api/v1/push", Some(body), None, START)
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
}

async fn fcm_sends_a_private_data_message_with_a_cached_token(store: nokkel_server::store::Store) {
    let peer = FcmPeer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let server = fcm_server(store, &peer, dir.path()).await;
    let device = server.enrolled_device(ADULT, 1).await;
    register_fcm(&device).await;

    let login = start_login(&server, ADULT).await;
    server.state.delivery.round().await.unwrap();
    let sends = peer.sends();
    assert_eq!(sends.len(), 1, "exactly one push");
    let message = &sends[0]["message"];
    assert_eq!(message["token"], FCM_TOKEN);
    assert_eq!(message["android"]["priority"], "HIGH");
    // Shown by Android itself while the app is not running, with the app's own strings:
    // nothing about the login.
    assert_eq!(
        message["android"]["notification"],
        serde_json::json!({"title_loc_key": "nokkel_login_waiting_title",
            "body_loc_key": "nokkel_login_waiting_body", "tag": "login-waiting"})
    );
    assert!(
        message.get("notification").is_none(),
        "no cross-platform text"
    );
    assert_eq!(
        message["android"]["ttl"],
        format!("{}s", login.expires_at - START)
    );
    let data = message["data"].as_object().unwrap();
    assert_eq!(data.len(), 3, "{data:?}");
    assert_eq!(
        (&data["v"], &data["type"]),
        (&"1".into(), &"login_waiting".into())
    );
    let text = sends[0].to_string();
    for secret in [ADULT, "Skatteetaten", &login.id, "Firefox"] {
        assert!(!text.contains(secret), "{secret} in {text}");
    }
    assert_eq!(push_outbox(&server).await[0].state, OutboxState::Sent);

    // The next login reuses the access token.
    start_login(&server, ADULT).await;
    server.state.delivery.round().await.unwrap();
    assert_eq!(peer.sends().len(), 2);
    assert_eq!(peer.tokens_issued.lock().unwrap().len(), 1);
}

async fn fcm_unregistered_token_is_removed(store: nokkel_server::store::Store) {
    let peer = FcmPeer::start().await;
    let dir = tempfile::tempdir().unwrap();
    let server = fcm_server(store, &peer, dir.path()).await;
    let device = server.enrolled_device(ADULT, 1).await;
    register_fcm(&device).await;
    *peer.answer.lock().unwrap() = (
        404,
        r#"{"error":{"code":404,"message":"Requested entity was not found.","status":"NOT_FOUND","details":[{"@type":"type.googleapis.com/google.firebase.fcm.v1.FcmError","errorCode":"UNREGISTERED"}]}}"#.to_owned(),
    );
    start_login(&server, ADULT).await;
    server.state.delivery.round().await.unwrap();
    assert_eq!(peer.sends().len(), 1);
    assert!(!registered(&server, &device_id(&device)).await);
    let outbox = push_outbox(&server).await;
    assert_eq!(outbox[0].state, OutboxState::Dead);
    assert!(!outbox[0].last_error.as_deref().unwrap().contains(FCM_TOKEN));
    start_login(&server, ADULT).await;
    server.state.delivery.round().await.unwrap();
    assert_eq!(peer.sends().len(), 1, "not tried again");
}

mod fcm {
    macro_rules! both_backends {
        ($($name:ident),*) => {
            mod sqlite {
                $(
                    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                    async fn $name() {
                        super::super::$name(crate::support::sqlite().await).await;
                    }
                )*
            }
            mod postgres {
                $(
                    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                    async fn $name() {
                        super::super::$name(crate::support::postgres().await).await;
                    }
                )*
            }
        };
    }
    both_backends!(
        fcm_sends_a_private_data_message_with_a_cached_token,
        fcm_unregistered_token_is_removed
    );
}

// --- APNs -------------------------------------------------------------------------------

/// Listeners bound by [`with_apns`] (which cannot be async), taken by [`apns_peer_of`].
static APNS_LISTENERS: Mutex<Vec<(String, std::net::TcpListener)>> = Mutex::new(Vec::new());

/// A test server that sends APNs pushes to an HTTP/2 peer on loopback (production at
/// `{origin}/`, sandbox at `{origin}/sandbox/`).
fn with_apns(config: &mut Config) {
    with_push(config);
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let origin = format!("http://{}", listener.local_addr().unwrap());
    config.push.as_mut().unwrap().apns = Some(ApnsConfig {
        team_id: APNS_TEAM_ID.into(),
        key_id: APNS_KEY_ID.into(),
        key_file: APNS_KEY_FILE.into(),
        bundle_id: APNS_TOPIC.into(),
        production_url: format!("{origin}/"),
        sandbox_url: format!("{origin}/sandbox/"),
    });
    APNS_LISTENERS.lock().unwrap().push((origin, listener));
}

/// The APNs peer for `server`'s APNs URL, serving on the listener [`with_apns`] bound.
fn apns_peer_of(server: &TestServer) -> ApnsPeer {
    let apns = server
        .state
        .config
        .push
        .as_ref()
        .unwrap()
        .apns
        .as_ref()
        .unwrap();
    let origin = apns.production_url.trim_end_matches('/').to_owned();
    let listener = {
        let mut listeners = APNS_LISTENERS.lock().unwrap();
        let at = listeners.iter().position(|(o, _)| *o == origin).unwrap();
        listeners.remove(at).1
    };
    ApnsPeer::serve(listener)
}

async fn register_apns(device: &TestDevice, token: &str, environment: &str) {
    let body = serde_json::json!({"v": 1, "registration": {
        "kind": "apns", "device_token": token, "environment": environment}});
    let res = device
        .call("PUT", "/api/v1/push", Some(body), None, START)
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    assert_eq!(res.body, r#"{"v":1,"kind":"apns"}"#);
}

async fn apns_sends_one_private_alert_with_a_reused_provider_token(server: TestServer) {
    let peer = apns_peer_of(&server);
    let device = server.enrolled_device(ADULT, 1).await;
    register_apns(&device, &apns_token(0xab), "production").await;
    // Another person's device is not woken by this login.
    let other = server.enrolled_device(ADULT2, 2).await;
    register_apns(&other, &apns_token(0xcd), "production").await;

    let login = start_login(&server, ADULT).await;
    server.state.delivery.round().await.unwrap();
    let requests = peer.requests();
    assert_eq!(requests.len(), 1, "exactly one push");
    assert_eq!(
        requests[0].path,
        format!("/3/device/{}", apns_token(0xab)),
        "production host"
    );
    let (jwt, payload) = apns_check(&requests[0], START, login.expires_at);
    assert_eq!(payload["aps"]["alert"]["loc-key"], "LOGIN_WAITING");
    assert_eq!(payload["v"], 1);
    assert_eq!(payload["type"], "login_waiting");
    assert_eq!(payload["id"].as_str().unwrap().len(), 32);
    let mut keys: Vec<&String> = payload.as_object().unwrap().keys().collect();
    keys.sort();
    assert_eq!(keys, ["aps", "id", "type", "v"], "nothing else: {payload}");
    let text = payload.to_string();
    for secret in [ADULT, "Skatteetaten", &login.id, "Firefox", "Nordmann"] {
        assert!(!text.contains(secret), "{secret} in {text}");
    }
    server.state.delivery.round().await.unwrap();
    assert_eq!(peer.requests().len(), 1, "sent once");
    assert_eq!(push_outbox(&server).await[0].state, OutboxState::Sent);

    // Twenty minutes on, the next push reuses the provider token (not signed anew).
    server.clock.advance(20 * 60);
    let second = start_login(&server, ADULT).await;
    server.state.delivery.round().await.unwrap();
    let requests = peer.requests();
    assert_eq!(requests.len(), 2);
    let (again, _) = apns_check(&requests[1], START + 20 * 60, second.expires_at);
    assert_eq!(again, jwt, "the provider token is reused");

    // Before it is an hour old, it is renewed.
    server.clock.advance(40 * 60);
    let third = start_login(&server, ADULT).await;
    server.state.delivery.round().await.unwrap();
    let requests = peer.requests();
    assert_eq!(requests.len(), 3);
    let (renewed, _) = apns_check(&requests[2], START + 60 * 60, third.expires_at);
    assert_ne!(renewed, jwt, "an hour-old provider token is renewed");
}

async fn apns_unregistered_token_is_removed_and_not_tried_again(server: TestServer) {
    let peer = apns_peer_of(&server);
    let device = server.enrolled_device(ADULT, 1).await;
    let token = apns_token(0x5a);
    register_apns(&device, &token, "sandbox").await;
    *peer.answer.lock().unwrap() = (
        410,
        r#"{"reason":"Unregistered","timestamp":1795428000000}"#.into(),
    );

    let login = start_login(&server, ADULT).await;
    server.state.delivery.round().await.unwrap();
    let requests = peer.requests();
    assert_eq!(requests.len(), 1);
    assert_eq!(
        requests[0].path,
        format!("/sandbox/3/device/{token}"),
        "sandbox host"
    );
    apns_check(&requests[0], START, login.expires_at);
    assert!(!registered(&server, &device_id(&device)).await);
    let outbox = push_outbox(&server).await;
    assert_eq!(outbox[0].state, OutboxState::Dead);
    let error = outbox[0].last_error.as_deref().unwrap();
    assert!(
        error.contains("410") && error.contains("Unregistered"),
        "{error}"
    );
    assert!(!error.contains(&token), "{error}");

    start_login(&server, ADULT).await;
    server.state.delivery.round().await.unwrap();
    server.state.delivery.round().await.unwrap();
    assert_eq!(peer.requests().len(), 1, "not tried again");
}

async fn apns_busy_service_is_tried_again(server: TestServer) {
    let peer = apns_peer_of(&server);
    let device = server.enrolled_device(ADULT, 1).await;
    register_apns(&device, &apns_token(0x77), "production").await;
    *peer.answer.lock().unwrap() = (429, r#"{"reason":"TooManyRequests"}"#.into());
    start_login(&server, ADULT).await;
    server.state.delivery.round().await.unwrap();
    assert_eq!(peer.requests().len(), 1);
    let outbox = push_outbox(&server).await;
    assert_eq!(outbox[0].state, OutboxState::Queued, "kept for a retry");
    assert!(registered(&server, &device_id(&device)).await);
}
