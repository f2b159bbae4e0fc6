#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Moving to a new phone with the old phone present, on both backends: the new phone
//! starts a transfer and proves its key, the old phone looks the code up and vouches for
//! it; the new device then approves logins, the old one stays or is retired, and the
//! contact register hears of it. Each refusal is checked with no state change: unknown,
//! expired and used codes (one answer), a method the old device never declared, a
//! counter that did not grow, a key enrolled already, a paused account, and guessing.

mod support;

use axum::http::StatusCode;
use nokkel_core::clock::Clock as _;
use nokkel_core::id_number::{IdNumber, SyntheticPolicy};
use nokkel_core::keys::DeviceKey;
use nokkel_core::random::{Random, RandomRng, SeededRandom};
use nokkel_core::statements::{
    sign_enrolment, sign_transfer, DeviceDescription, Platform, TransferOffer, UserVerification,
};
use nokkel_server::i18n::Lang;
use nokkel_server::services::login::{self, LoginChannel};
use nokkel_server::store::AccountStatus;
use serde_json::{json, Value};
use support::*;

server_tests!(
    new_phone_approves_logins_and_the_old_one_stays,
    retiring_revokes_the_old_phone,
    a_transfer_is_used_once,
    an_expired_transfer_is_refused,
    refused_transfer_tells_the_new_phone,
    vouching_needs_a_declared_method_and_a_growing_counter,
    a_key_enrolled_already_is_refused,
    a_paused_account_cannot_transfer,
    code_lookups_are_limited_per_address,
);

/// The new phone: a fresh key and the transfer it started.
struct NewPhone {
    key: DeviceKey,
    transfer_id: String,
    code: String,
    nonce: String,
}

fn copy(key: &DeviceKey) -> DeviceKey {
    DeviceKey::from_secret_bytes(key.to_secret_bytes().as_ref()).unwrap()
}

fn now(server: &TestServer) -> i64 {
    server.clock.unix()
}

async fn start_transfer(server: &TestServer, seed: u64) -> NewPhone {
    let key = DeviceKey::generate(&mut RandomRng::new(&SeededRandom::new(seed) as &dyn Random));
    start_transfer_with(server, key).await
}

async fn start_transfer_with(server: &TestServer, key: DeviceKey) -> NewPhone {
    let res = server
        .browser()
        .post_json("/api/v1/transfers", json!({"v": 1}))
        .await;
    assert_eq!(res.status, StatusCode::CREATED, "{}", res.body);
    let started: Value = serde_json::from_str(&res.body).unwrap();
    let code = started["code"].as_str().unwrap().to_owned();
    assert_eq!(code.len(), 11, "{code}");
    NewPhone {
        key,
        transfer_id: started["transfer_id"].as_str().unwrap().to_owned(),
        code,
        nonce: started["nonce"].as_str().unwrap().to_owned(),
    }
}

impl NewPhone {
    async fn prove_key(&self, server: &TestServer) -> support::Response {
        let statement = sign_enrolment(
            &self.key,
            "http://nokkel.test",
            &self.nonce,
            &DeviceDescription {
                name: "Ny telefon".into(),
                platform: Platform::Software,
                uv_methods: vec![UserVerification::NoneTest],
            },
            now(server),
        )
        .unwrap();
        server
            .browser()
            .post_json(
                &format!("/api/v1/transfers/{}/device", self.transfer_id),
                json!({"v": 1, "statement": statement}),
            )
            .await
    }

    async fn status(&self, server: &TestServer) -> Value {
        let res = server
            .browser()
            .get(&format!("/api/v1/transfers/{}", self.transfer_id))
            .await;
        assert_eq!(res.status, StatusCode::OK, "{}", res.body);
        serde_json::from_str(&res.body).unwrap()
    }

    /// This phone as an enrolled device, once the transfer was approved.
    fn as_device(&self, old: &TestDevice) -> TestDevice {
        TestDevice::with_key(copy(&self.key), old, 900)
    }
}

async fn lookup(server: &TestServer, old: &TestDevice, code: &str) -> support::Response {
    old.call(
        "POST",
        "/api/v1/transfers/lookup",
        Some(json!({"v": 1, "code": code})),
        None,
        now(server),
    )
    .await
}

/// The old phone signs its vouching statement for what the lookup showed.
fn vouch(
    server: &TestServer,
    old: &mut TestDevice,
    offer: &Value,
    uv: UserVerification,
    retire: bool,
) -> String {
    old.counter += 1;
    sign_transfer(
        &old.key,
        &TransferOffer {
            issuer: offer["issuer"].as_str().unwrap().into(),
            nonce: offer["nonce"].as_str().unwrap().into(),
            new_device_id: serde_json::from_value(offer["new_device_id"].clone()).unwrap(),
        },
        uv,
        old.counter,
        retire,
        now(server),
    )
    .unwrap()
}

async fn approve(
    server: &TestServer,
    old: &TestDevice,
    transfer_id: &str,
    statement: &str,
) -> support::Response {
    old.call(
        "POST",
        &format!("/api/v1/transfers/{transfer_id}/approve"),
        Some(json!({"v": 1, "statement": statement})),
        None,
        now(server),
    )
    .await
}

/// Start, prove, look up: the offer the old phone sees.
async fn ready(server: &TestServer, old: &TestDevice, seed: u64) -> (NewPhone, Value) {
    let phone = start_transfer(server, seed).await;
    let res = phone.prove_key(server).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    let res = lookup(server, old, &phone.code).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    let offer: Value = serde_json::from_str(&res.body).unwrap();
    (phone, offer)
}

fn code_of(res: &support::Response) -> String {
    serde_json::from_str::<Value>(&res.body).unwrap()["code"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

async fn active_devices(server: &TestServer, pid: &str) -> Vec<String> {
    let mut ids: Vec<String> = server
        .state
        .store
        .devices_for(pid)
        .await
        .unwrap()
        .into_iter()
        .filter(|d| d.revoked_at.is_none())
        .map(|d| d.id)
        .collect();
    ids.sort();
    ids
}

async fn new_phone_approves_logins_and_the_old_one_stays(server: TestServer) {
    let mut old = server.enrolled_device(ADULT, 1).await;
    let (phone, offer) = ready(&server, &old, 77).await;
    assert_eq!(offer["device_name"], "Ny telefon");
    assert_eq!(offer["platform"], "software");
    assert_eq!(offer["new_device_id"], phone.key.device_id().as_str());
    assert_eq!(offer["transfer_id"], phone.transfer_id.as_str());
    assert_eq!(phone.status(&server).await["status"], "waiting");

    let statement = vouch(&server, &mut old, &offer, UserVerification::NoneTest, false);
    let res = approve(&server, &old, &phone.transfer_id, &statement).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    let status = phone.status(&server).await;
    assert_eq!(status["status"], "approved");
    assert_eq!(status["device_id"], phone.key.device_id().as_str());
    assert_eq!(status["old_device_retired"], false);

    // Both devices are the person's now; the old one's counter is stored.
    let mut both = vec![
        old.key.device_id().as_str().to_owned(),
        phone.key.device_id().as_str().to_owned(),
    ];
    both.sort();
    assert_eq!(active_devices(&server, ADULT).await, both);
    let stored = server
        .state
        .store
        .device(old.key.device_id().as_str())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(stored.counter, 1);

    // The new phone approves a real login.
    let mut new = phone.as_device(&old);
    let pid = IdNumber::parse(ADULT, SyntheticPolicy::Accept).unwrap();
    let channel = LoginChannel::Browser {
        user_agent: "Mozilla/5.0 (X11; Linux x86_64; rv:140.0) Gecko/20100101 Firefox/140.0".into(),
        ip: "127.0.0.1".into(),
        lang: Lang::Nb,
    };
    let login = login::start_app_login(&server.state, &pid, None, "Skatteetaten", &channel)
        .await
        .unwrap();
    let challenge = new.pending(now(&server)).await.expect("a challenge");
    let (id, jws) = new.approval(challenge, u8::try_from(login.number).unwrap(), now(&server));
    let res = new.send_approval(&id, &jws, now(&server)).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);

    // The contact register heard of it by text message.
    let sms = server.sms().await;
    assert!(
        sms.iter()
            .any(|m| m["purpose"] == "phone_moved"
                && m["body"].as_str().unwrap().contains("ny telefon")),
        "{sms:?}"
    );
}

async fn retiring_revokes_the_old_phone(server: TestServer) {
    let mut old = server.enrolled_device(ADULT, 1).await;
    let (phone, offer) = ready(&server, &old, 78).await;
    let statement = vouch(&server, &mut old, &offer, UserVerification::NoneTest, true);
    let res = approve(&server, &old, &phone.transfer_id, &statement).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    let answer: Value = serde_json::from_str(&res.body).unwrap();
    assert_eq!(answer["old_device_retired"], true);
    assert_eq!(phone.status(&server).await["old_device_retired"], true);
    assert_eq!(
        active_devices(&server, ADULT).await,
        vec![phone.key.device_id().as_str().to_owned()]
    );
    let res = old
        .call("GET", "/api/v1/devices", None, None, now(&server))
        .await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED, "{}", res.body);
    assert_eq!(code_of(&res), "device_revoked");
    let new = phone.as_device(&old);
    let res = new
        .call("GET", "/api/v1/devices", None, None, now(&server))
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
}

async fn a_transfer_is_used_once(server: TestServer) {
    let mut old = server.enrolled_device(ADULT, 1).await;
    let mut other = server.enrolled_device(ADULT2, 2).await;
    let (phone, offer) = ready(&server, &old, 79).await;
    let statement = vouch(&server, &mut old, &offer, UserVerification::NoneTest, false);
    assert_eq!(
        approve(&server, &old, &phone.transfer_id, &statement)
            .await
            .status,
        StatusCode::OK
    );
    // The code is spent: the same answer as for a code nobody issued.
    let used = lookup(&server, &other, &phone.code).await;
    assert_eq!(used.status, StatusCode::NOT_FOUND, "{}", used.body);
    assert_eq!(code_of(&used), "unknown_transfer");
    let never = lookup(&server, &other, "000-000-000").await;
    assert_eq!(never.status, StatusCode::NOT_FOUND, "{}", never.body);
    assert_eq!(code_of(&never), "unknown_transfer");
    // Approving again, by the same phone or another person's, changes nothing.
    let again = vouch(&server, &mut old, &offer, UserVerification::NoneTest, false);
    let res = approve(&server, &old, &phone.transfer_id, &again).await;
    assert_eq!(res.status, StatusCode::NOT_FOUND, "{}", res.body);
    let theirs = vouch(
        &server,
        &mut other,
        &offer,
        UserVerification::NoneTest,
        false,
    );
    let res = approve(&server, &other, &phone.transfer_id, &theirs).await;
    assert_eq!(res.status, StatusCode::NOT_FOUND, "{}", res.body);
    assert_eq!(active_devices(&server, ADULT2).await.len(), 1);
    // And the new phone cannot swap in another key.
    let res = phone.prove_key(&server).await;
    assert_eq!(res.status, StatusCode::NOT_FOUND, "{}", res.body);
}

async fn an_expired_transfer_is_refused(server: TestServer) {
    let mut old = server.enrolled_device(ADULT, 1).await;
    let (phone, offer) = ready(&server, &old, 80).await;
    server.clock.advance(601);
    let res = lookup(&server, &old, &phone.code).await;
    assert_eq!(res.status, StatusCode::NOT_FOUND, "{}", res.body);
    assert_eq!(code_of(&res), "unknown_transfer");
    let statement = vouch(&server, &mut old, &offer, UserVerification::NoneTest, false);
    let res = approve(&server, &old, &phone.transfer_id, &statement).await;
    assert_eq!(res.status, StatusCode::NOT_FOUND, "{}", res.body);
    assert_eq!(phone.status(&server).await["status"], "expired");
    assert_eq!(active_devices(&server, ADULT).await.len(), 1);
    // A transfer whose new phone never proved its key expires too.
    let late = start_transfer(&server, 81).await;
    server.clock.advance(601);
    let res = late.prove_key(&server).await;
    assert_eq!(res.status, StatusCode::NOT_FOUND, "{}", res.body);

    // Housekeeping deletes them a day after expiry (the audit log keeps what happened).
    use nokkel_server::services::housekeeping;
    let swept = housekeeping::sweep(&server.state).await.unwrap();
    assert_eq!(swept.transfer_rows, 0, "kept for a day");
    server.clock.advance(86_400);
    let swept = housekeeping::sweep(&server.state).await.unwrap();
    assert_eq!(swept.transfer_rows, 2);
    let gone = server
        .state
        .store
        .transfer(&phone.transfer_id)
        .await
        .unwrap();
    assert!(gone.is_none());
}

async fn refused_transfer_tells_the_new_phone(server: TestServer) {
    let mut old = server.enrolled_device(ADULT, 1).await;
    let (phone, offer) = ready(&server, &old, 82).await;
    let res = old
        .call(
            "POST",
            &format!("/api/v1/transfers/{}/refuse", phone.transfer_id),
            None,
            None,
            now(&server),
        )
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    assert_eq!(phone.status(&server).await["status"], "refused");
    let statement = vouch(&server, &mut old, &offer, UserVerification::NoneTest, false);
    let res = approve(&server, &old, &phone.transfer_id, &statement).await;
    assert_eq!(res.status, StatusCode::NOT_FOUND, "{}", res.body);
    assert_eq!(active_devices(&server, ADULT).await.len(), 1);
}

async fn vouching_needs_a_declared_method_and_a_growing_counter(server: TestServer) {
    let mut old = server.enrolled_device(ADULT, 1).await;
    let (phone, offer) = ready(&server, &old, 83).await;
    // The old device declared only none_test at enrolment.
    let statement = vouch(
        &server,
        &mut old,
        &offer,
        UserVerification::Biometric,
        false,
    );
    let res = approve(&server, &old, &phone.transfer_id, &statement).await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST, "{}", res.body);
    assert_eq!(code_of(&res), "bad_payload");
    // Nothing was stored: the same counter (1) still works.
    old.counter = 0;
    let statement = vouch(&server, &mut old, &offer, UserVerification::NoneTest, false);
    let res = approve(&server, &old, &phone.transfer_id, &statement).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    // Counter 1 again, on a second transfer: a copy of the old phone's key is in use. As
    // for approvals, the old phone is revoked, app logins pause, nothing is enrolled.
    let (second, offer2) = ready(&server, &old, 84).await;
    old.counter = 0;
    let statement = vouch(
        &server,
        &mut old,
        &offer2,
        UserVerification::NoneTest,
        false,
    );
    let res = approve(&server, &old, &second.transfer_id, &statement).await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED, "{}", res.body);
    assert_eq!(code_of(&res), "device_clone_suspected");
    let active = active_devices(&server, ADULT).await;
    assert_eq!(active.len(), 1, "the old phone is revoked");
    assert!(!active.contains(&old.key.device_id().as_str().to_owned()));
    let account = server.state.store.account(ADULT).await.unwrap().unwrap();
    assert_eq!(
        account.blocked_reason.as_deref(),
        Some("clone_suspected"),
        "app logins pause"
    );
    assert_eq!(second.status(&server).await["status"], "waiting");
    // Signed by another device than the one calling.
    let other = server.enrolled_device(ADULT2, 3).await;
    let res = approve(&server, &other, &second.transfer_id, &statement).await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST, "{}", res.body);
    assert_eq!(code_of(&res), "wrong_device");
}

async fn a_key_enrolled_already_is_refused(server: TestServer) {
    let old = server.enrolled_device(ADULT, 1).await;
    let phone = start_transfer_with(&server, copy(&old.key)).await;
    let res = phone.prove_key(&server).await;
    assert_eq!(res.status, StatusCode::CONFLICT, "{}", res.body);
    assert_eq!(code_of(&res), "device_exists");
    let res = lookup(&server, &old, &phone.code).await;
    assert_eq!(res.status, StatusCode::NOT_FOUND, "{}", res.body);
}

async fn a_paused_account_cannot_transfer(server: TestServer) {
    let mut old = server.enrolled_device(ADULT, 1).await;
    let (phone, offer) = ready(&server, &old, 85).await;
    server
        .state
        .store
        .set_account_status(
            ADULT,
            AccountStatus::Blocked,
            Some("reported"),
            now(&server),
        )
        .await
        .unwrap();
    let statement = vouch(&server, &mut old, &offer, UserVerification::NoneTest, false);
    let res = approve(&server, &old, &phone.transfer_id, &statement).await;
    assert_eq!(res.status, StatusCode::FORBIDDEN, "{}", res.body);
    assert_eq!(code_of(&res), "app_login_blocked");
    let res = lookup(&server, &old, &phone.code).await;
    assert_eq!(res.status, StatusCode::FORBIDDEN, "{}", res.body);
    assert_eq!(active_devices(&server, ADULT).await.len(), 1);
}

async fn code_lookups_are_limited_per_address(server: TestServer) {
    let old = server.enrolled_device(ADULT, 1).await;
    let phone = start_transfer(&server, 86).await;
    assert_eq!(phone.prove_key(&server).await.status, StatusCode::OK);
    // Well-formed codes nobody issued, one after another.
    let mut refused = 0;
    for n in 0..40u64 {
        let random = SeededRandom::new(1000 + n);
        let guess = nokkel_core::transfer_code::TransferCode::generate(&mut RandomRng::new(
            &random as &dyn Random,
        ));
        let res = lookup(&server, &old, &guess.grouped()).await;
        match res.status {
            StatusCode::NOT_FOUND => assert_eq!(code_of(&res), "unknown_transfer"),
            StatusCode::TOO_MANY_REQUESTS => refused += 1,
            other => panic!("{other}: {}", res.body),
        }
    }
    assert!(refused >= 10, "{refused} of 40 guesses refused");
    // Even the right code waits for the next window.
    let res = lookup(&server, &old, &phone.code).await;
    assert_eq!(res.status, StatusCode::TOO_MANY_REQUESTS, "{}", res.body);
}
