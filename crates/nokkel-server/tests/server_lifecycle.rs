#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Account lifecycle on both backends: recovery letters for people who lost their phone or
//! forgot their password, the lost-phone page that blocks Nøkkel, support's block and
//! unblock, and the mobile number of record proven at registration.
//!
//! Each test starts from what went wrong before (docs/SECURITY.md "Known gaps" history):
//! a letter ordered by an existing user sent nothing, registering answered
//! `already_registered`, and the order form's mobile number — typed by whoever ordered
//! first — received the registration code.

mod support;

use axum::http::StatusCode;
use nokkel_core::clock::Clock;
use nokkel_core::id_number::{IdNumber, SyntheticPolicy};
use nokkel_server::services::lifecycle::{self, BlockedBy};
use nokkel_server::services::login::{self, LoginChannel};
use nokkel_server::services::registration;
use nokkel_server::store::{Channel, OutboxFilter};
use support::*;

server_tests!(
    an_existing_user_gets_a_recovery_letter,
    sms_user_who_forgot_the_password_gets_back_in_with_a_recovery_letter,
    app_user_without_devices_gets_back_in_with_a_recovery_letter,
    the_registration_code_goes_to_the_number_typed_at_registration,
    lost_phone_page_blocks_nokkel_and_tells_a_stranger_nothing,
    support_blocks_and_unblocks,
    strangers_cannot_lock_the_persons_letter,
    wrong_codes_count_per_ipv6_network_and_fifty_lock_the_letter,
);

const NEW_MOBILE: &str = "+4741000001";

fn browser_channel() -> LoginChannel {
    LoginChannel::Browser {
        user_agent: "test".into(),
        ip: "127.0.0.1".into(),
        lang: nokkel_server::i18n::Lang::Nb,
    }
}

/// Gives `pid` a mobile and an e-mail address in the contact register, as the person
/// would in the app's settings.
async fn with_contacts(server: &TestServer, pid: &str, mobile: &str, email: &str) {
    let store = &server.state.store;
    let mut contact = store.contact(pid).await.unwrap().unwrap();
    contact.mobile = Some(mobile.to_owned());
    contact.email = Some(email.to_owned());
    store.upsert_contact(&contact).await.unwrap();
}

/// The purposes of the e-mails queued for `address`, oldest first.
async fn emails_to(server: &TestServer, address: &str) -> Vec<String> {
    let filter = OutboxFilter {
        state: None,
        channel: Some(Channel::Email),
    };
    server
        .state
        .store
        .outbox_list(filter, 100)
        .await
        .unwrap()
        .into_iter()
        .filter(|m| m.recipient == address)
        .map(|m| m.purpose)
        .collect()
}

/// The bodies of the text messages to `e164`, newest first.
async fn texts_to(server: &TestServer, e164: &str) -> Vec<String> {
    server
        .sms()
        .await
        .into_iter()
        .filter(|m| m["to"] == e164)
        .map(|m| m["body"].as_str().unwrap().to_owned())
        .collect()
}

async fn audit_events(server: &TestServer, pid: &str) -> Vec<String> {
    server.state.audit.flush().await;
    server
        .state
        .store
        .audit_for(pid)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.event)
        .collect()
}

/// Runs the SMS registration pages with the newest letter of `pid`, typing `mobile`;
/// returns the page the password step showed.
async fn register_sms_user(server: &TestServer, pid: &str, mobile: &str, password: &str) -> String {
    let code = server.code_for(pid).await;
    let mut browser = server.browser();
    let res = browser
        .post("/register", &[("pid", pid), ("code", &code)])
        .await;
    assert_eq!(
        res.location.as_deref(),
        Some("/register/choose"),
        "{}",
        res.body
    );
    browser.post("/register/choose", &[("kind", "sms")]).await;
    let form = browser.get("/register/password").await;
    let res = browser
        .post(
            "/register/password",
            &[
                ("country", "47"),
                ("mobile", mobile),
                ("password", password),
                ("password2", password),
            ],
        )
        .await;
    assert_eq!(
        res.location.as_deref(),
        Some("/register/otp"),
        "{}",
        res.body
    );
    let e164 = format!("+47{}", mobile.replace(' ', ""));
    let otp = six_digits(&texts_to(server, &e164).await[0]);
    let res = browser.post("/register/otp", &[("otp", &otp)]).await;
    assert_eq!(
        res.location.as_deref(),
        Some("/register/done"),
        "{}",
        res.body
    );
    form.body
}

/// Logs `pid` in with a password on the login pages; returns where the SMS code went, or
/// the page that refused.
async fn password_login(server: &TestServer, pid: &str, password: &str) -> Result<String, String> {
    let mut browser = server.browser();
    let request = browser.open_login().await;
    let res = browser
        .post("/login", &[("request", &request), ("pid", pid)])
        .await;
    if res.location.as_deref() != Some("/login/password") {
        return Err(res.body);
    }
    let res = browser
        .post("/login/password", &[("password", password)])
        .await;
    if res.location.as_deref() != Some("/login/otp") {
        return Err(res.body);
    }
    let sms = server.sms().await;
    let to = sms[0]["to"].as_str().unwrap().to_owned();
    let otp = six_digits(sms[0]["body"].as_str().unwrap());
    let res = browser.post("/login/otp", &[("otp", &otp)]).await;
    let location = res.location.unwrap_or_default();
    assert!(location.starts_with(REDIRECT), "{location}");
    Ok(to)
}

/// Starts an app login for `pid` and approves it with `device`.
async fn app_login(server: &TestServer, device: &mut TestDevice, pid: &str) -> StatusCode {
    let id = IdNumber::parse(pid, SyntheticPolicy::Accept).unwrap();
    let started = login::start_app_login(&server.state, &id, None, "NAV", &browser_channel())
        .await
        .unwrap();
    let now = server.clock.unix();
    let challenge = device
        .pending(now)
        .await
        .expect("the device sees the login");
    let (id, jws) = device.approval(challenge, u8::try_from(started.number).unwrap(), now);
    device.send_approval(&id, &jws, now).await.status
}

async fn an_existing_user_gets_a_recovery_letter(server: TestServer) {
    with_contacts(&server, SMS_USER, "+4799999999", "lars@example.no").await;
    let mut browser = server.browser();
    let res = browser.order(SMS_USER).await;
    assert!(res.body.contains("Bestillingen er mottatt"), "{}", res.body);
    let letters = server.state.store.letters_for(SMS_USER).await.unwrap();
    assert_eq!(letters.len(), 1, "a letter goes out to an existing user");
    assert!(letters[0].recovery, "marked as a recovery letter");
    assert_eq!(
        emails_to(&server, "lars@example.no").await,
        ["recovery_letter_ordered"],
        "the person hears that a letter is coming"
    );
}

async fn sms_user_who_forgot_the_password_gets_back_in_with_a_recovery_letter(server: TestServer) {
    with_contacts(&server, SMS_USER, "+4799999999", "lars@example.no").await;
    server.browser().order(SMS_USER).await;
    let form = register_sms_user(&server, SMS_USER, "410 00 001", "nytt passord på fjellet").await;
    assert!(
        form.contains("Du har allerede Nøkkel"),
        "the password page says what a recovery does: {form}"
    );
    // The old contact points hear of it, with the way to block it.
    let told = texts_to(&server, "+4799999999").await;
    assert!(
        told.iter()
            .any(|t| t.contains("tatt i bruk på nytt") && t.contains("/lost")),
        "{told:?}"
    );
    assert!(emails_to(&server, "lars@example.no")
        .await
        .contains(&"account_recovered".to_owned()));
    let contact = server.state.store.contact(SMS_USER).await.unwrap().unwrap();
    assert_eq!(
        contact.mobile.as_deref(),
        Some(NEW_MOBILE),
        "the proven number"
    );
    assert_eq!(contact.email.as_deref(), Some("lars@example.no"), "kept");
    assert!(audit_events(&server, SMS_USER)
        .await
        .contains(&"account_recovered".to_owned()));

    let old = password_login(&server, SMS_USER, nokkel_server::demo::DEMO_SMS_PASSWORD).await;
    assert!(
        old.as_ref()
            .is_err_and(|page| page.contains("Passordet er feil")),
        "{old:?}"
    );
    assert_eq!(
        password_login(&server, SMS_USER, "nytt passord på fjellet").await,
        Ok(NEW_MOBILE.to_owned()),
        "the new password works and the login code goes to the proven number"
    );
}

async fn app_user_without_devices_gets_back_in_with_a_recovery_letter(server: TestServer) {
    let old = server.enrolled_device(ADULT, 1).await;
    with_contacts(&server, ADULT, "+4791234567", "ingrid@example.no").await;
    let old_id = old.key.public_key().device_id();
    assert!(server
        .state
        .store
        .revoke_device(ADULT, old_id.as_str(), START)
        .await
        .unwrap());
    server.state.caches.devices.forget(old_id.as_str());

    // The login page now points to a letter, and a letter now comes.
    let mut browser = server.browser();
    let request = browser.open_login().await;
    let res = browser
        .post("/login", &[("request", &request), ("pid", ADULT)])
        .await;
    assert!(
        res.body
            .contains("Bestill et aktiveringsbrev for å ta Nøkkel i bruk på nytt"),
        "{}",
        res.body
    );
    let mut new = server.enrolled_device(ADULT, 2).await;
    assert_eq!(app_login(&server, &mut new, ADULT).await, StatusCode::OK);
    let told = texts_to(&server, "+4791234567").await;
    assert!(
        told.iter().any(|t| t.contains("/lost")),
        "the old mobile is told: {told:?}"
    );
    assert!(emails_to(&server, "ingrid@example.no")
        .await
        .contains(&"account_recovered".to_owned()));
    let devices = server.state.store.devices_for(ADULT).await.unwrap();
    assert_eq!(devices.iter().filter(|d| d.revoked_at.is_none()).count(), 1);
}

async fn the_registration_code_goes_to_the_number_typed_at_registration(server: TestServer) {
    let mut stranger = server.browser();
    // The order form and API take no mobile number any more.
    let form = stranger.get("/order").await;
    assert!(!form.body.contains("name=\"mobile\""), "{}", form.body);
    let res = stranger
        .post_json(
            "/api/v1/orders",
            serde_json::json!({"v": 1, "pid": ADULT, "mobile": "90000666"}),
        )
        .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST, "{}", res.body);
    stranger.order(ADULT).await;
    register_sms_user(&server, ADULT, "410 00 001", "blåbær syltetøy fjelltur").await;
    assert!(texts_to(&server, "+4790000666").await.is_empty());
    let contact = server.state.store.contact(ADULT).await.unwrap().unwrap();
    assert_eq!(contact.mobile.as_deref(), Some(NEW_MOBILE));
    assert_eq!(contact.mobile_confirmed_at, Some(START));
}

async fn lost_phone_page_blocks_nokkel_and_tells_a_stranger_nothing(server: TestServer) {
    let device = server.enrolled_device(ADULT, 1).await;
    with_contacts(&server, ADULT, "+4791234567", "ingrid@example.no").await;

    // A stranger learns nothing: the same pages for no account, an account without
    // contact points and an unknown number.
    let mut stranger = server.browser();
    let mut pages = Vec::new();
    for pid in [ADULT2, UNKNOWN] {
        let res = stranger.post("/lost", &[("pid", pid)]).await;
        assert_eq!(res.location.as_deref(), Some("/lost/code"), "{}", res.body);
        pages.push(stranger.get("/lost/code").await.body);
        let res = stranger.post("/lost/code", &[("code", "123456")]).await;
        assert!(
            res.body.contains("Koden er feil eller utløpt"),
            "{}",
            res.body
        );
    }
    let mut person = server.browser();
    let res = person.post("/lost", &[("pid", ADULT)]).await;
    assert_eq!(res.location.as_deref(), Some("/lost/code"));
    let page = person.get("/lost/code").await.body;
    let without_token = |html: &str| {
        html.lines()
            .filter(|l| !l.contains("name=\"csrf\""))
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert_eq!(without_token(&pages[0]), without_token(&pages[1]));
    assert_eq!(without_token(&pages[0]), without_token(&page));

    // The code went to both contact points.
    let code = six_digits(&texts_to(&server, "+4791234567").await[0]);
    assert!(emails_to(&server, "ingrid@example.no")
        .await
        .contains(&"block_code".to_owned()));
    let wrong = if code == "000000" { "111111" } else { "000000" };
    let res = person.post("/lost/code", &[("code", wrong)]).await;
    assert!(
        res.body.contains("Koden er feil eller utløpt"),
        "{}",
        res.body
    );
    let res = person.post("/lost/code", &[("code", &code)]).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    assert!(res.body.contains("Nøkkel er sperret"), "{}", res.body);

    let account = server.state.store.account(ADULT).await.unwrap().unwrap();
    assert_eq!(account.status, "blocked");
    assert_eq!(account.blocked_reason.as_deref(), Some("lost"));
    let devices = server.state.store.devices_for(ADULT).await.unwrap();
    assert!(devices.iter().all(|d| d.revoked_at.is_some()));
    let now = server.clock.unix();
    let res = device.call("GET", "/api/v1/devices", None, None, now).await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED, "the phone is out");
    let pid = IdNumber::parse(ADULT, SyntheticPolicy::Accept).unwrap();
    let err = login::start_app_login(&server.state, &pid, None, "NAV", &browser_channel())
        .await
        .unwrap_err();
    assert_eq!(err.code(), "account_blocked");
    let mut browser = server.browser();
    let request = browser.open_login().await;
    let res = browser
        .post("/login", &[("request", &request), ("pid", ADULT)])
        .await;
    assert!(
        res.body
            .contains("Nøkkel er sperret for dette fødselsnummeret"),
        "{}",
        res.body
    );
    assert!(texts_to(&server, "+4791234567").await[0].contains("sperret"));
    assert!(audit_events(&server, ADULT)
        .await
        .contains(&"account_blocked".to_owned()));

    // A recovery letter lifts the block.
    let mut new = server.enrolled_device(ADULT, 2).await;
    assert_eq!(app_login(&server, &mut new, ADULT).await, StatusCode::OK);
}

async fn support_blocks_and_unblocks(server: TestServer) {
    let mut device = server.enrolled_device(ADULT, 1).await;
    let store = &server.state.store;
    let outbound = server.state.outbound.as_ref();
    let now = server.clock.unix();
    let revoked = lifecycle::block(store, outbound, ADULT, BlockedBy::Operator, None, now)
        .await
        .unwrap();
    assert_eq!(revoked, Some(vec![]), "support keeps the devices");
    let pid = IdNumber::parse(ADULT, SyntheticPolicy::Accept).unwrap();
    let err = login::start_app_login(&server.state, &pid, None, "NAV", &browser_channel())
        .await
        .unwrap_err();
    assert_eq!(err.code(), "account_blocked");
    // The person's device cannot lift support's block the way it lifts a pause.
    let res = device.resume(now).await;
    assert_eq!(res.status, StatusCode::FORBIDDEN, "{}", res.body);
    assert!(res.body.contains("account_blocked"), "{}", res.body);
    let blocked = password_login(&server, SMS_USER, nokkel_server::demo::DEMO_SMS_PASSWORD).await;
    assert!(blocked.is_ok(), "only that person is blocked: {blocked:?}");
    lifecycle::block(store, outbound, SMS_USER, BlockedBy::Operator, None, now)
        .await
        .unwrap();
    let refused = password_login(&server, SMS_USER, nokkel_server::demo::DEMO_SMS_PASSWORD).await;
    assert!(
        refused
            .as_ref()
            .is_err_and(|page| page.contains("Nøkkel er sperret")),
        "{refused:?}"
    );

    assert!(lifecycle::unblock(store, outbound, ADULT, now)
        .await
        .unwrap());
    assert!(!lifecycle::unblock(store, outbound, ADULT, now)
        .await
        .unwrap());
    assert_eq!(app_login(&server, &mut device, ADULT).await, StatusCode::OK);
    assert!(lifecycle::unblock(store, outbound, SMS_USER, now)
        .await
        .unwrap());
    assert!(
        password_login(&server, SMS_USER, nokkel_server::demo::DEMO_SMS_PASSWORD)
            .await
            .is_ok()
    );
    let events = audit_events(&server, ADULT).await;
    assert!(events.contains(&"account_blocked".to_owned()));
    assert!(events.contains(&"account_unblocked".to_owned()));
}

async fn strangers_cannot_lock_the_persons_letter(server: TestServer) {
    server.browser().order(ADULT).await;
    let code = server.code_for(ADULT).await;
    let wrong = wrong_code_for(&code);
    // Five strangers, five wrong codes each: each is locked out, the letter is not.
    for stranger in 1..=5 {
        let ip = format!("203.0.113.{stranger}");
        for _ in 0..5 {
            assert!(
                registration::verify_letter(&server.state, ADULT, &wrong, &ip)
                    .await
                    .is_err()
            );
        }
        let err = registration::verify_letter(&server.state, ADULT, &code, &ip)
            .await
            .err()
            .unwrap();
        assert_eq!(err.code(), "letter_locked", "locked for {ip}");
    }
    assert_eq!(
        server.letters_for(ADULT).await[0]["state"],
        "pending",
        "the letter itself is still good"
    );
    // The person, at home, registers with it.
    register_sms_user(&server, ADULT, "410 00 001", "blåbær syltetøy fjelltur").await;
}

/// A stranger's IPv6 /64 is one address for the per-address lock (else every address in it
/// would have its own five tries), and 50 wrong codes from anywhere lock the letter for
/// everyone — the person too, who then orders a new one.
async fn wrong_codes_count_per_ipv6_network_and_fifty_lock_the_letter(server: TestServer) {
    server.browser().order(ADULT).await;
    let code = server.code_for(ADULT).await;
    let wrong = wrong_code_for(&code);
    let try_code = |code: String, ip: String| {
        let state = server.state.clone();
        async move {
            registration::verify_letter(&state, ADULT, &code, &ip)
                .await
                .err()
                .map(|e| e.code().to_owned())
        }
    };
    for host in 1..=5 {
        let err = try_code(wrong.clone(), format!("2001:db8:1:2::{host}")).await;
        let expected = if host < 5 {
            "wrong_code"
        } else {
            "letter_locked"
        };
        assert_eq!(err.as_deref(), Some(expected), "try {host}");
    }
    let err = try_code(code.clone(), "2001:db8:1:2::99".into()).await;
    assert_eq!(
        err.as_deref(),
        Some("letter_locked"),
        "the /64 used its five"
    );

    // 45 more from nine other addresses: 50 in all.
    for stranger in 1..=9 {
        for _ in 0..5 {
            let err = try_code(wrong.clone(), format!("198.51.100.{stranger}")).await;
            assert!(err.is_some());
        }
    }
    assert_eq!(server.letters_for(ADULT).await[0]["state"], "locked");
    let err = try_code(code.clone(), "10.0.0.1".into()).await;
    assert_eq!(err.as_deref(), Some("letter_locked"), "locked for everyone");
}
