#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Strangers cannot lock a person out, on every backend: the limits on logins started and
//! password tries count per person *and* client address, so a stranger elsewhere who
//! knows the identity number uses up only their own budget; per-address limits across all
//! people and a per-person ceiling still hold. And what strangers can make grow is
//! bounded: audit events are purged after their retention.

mod support;

use axum::http::StatusCode;
use nokkel_server::Config;
use support::*;

const TOO_MANY: &str = "for mange forsøk";
const WRONG: &str = "Passordet er feil";
const OWN_ADDRESS: &str = "10.0.0.1";

server_tests!(mod behind_one_proxy with crate::behind_one_proxy;
    strangers_do_not_stop_a_persons_app_login,
    strangers_logins_do_not_cancel_the_persons_waiting_login,
    starting_over_replaces_only_the_browsers_own_login,
    strangers_do_not_stop_an_sms_users_password_login,
);

server_tests!(audit_events_past_the_retention_are_purged);

server_tests!(mod with_low_caps with crate::low_caps;
    authorization_requests_are_capped_per_address_and_in_all,
    event_streams_are_capped_per_address_and_in_all,
);

server_tests!(mod with_low_limits with crate::low_limits;
    one_address_has_a_budget_for_all_people,
    wrong_passwords_per_person_have_a_ceiling,
);

fn behind_one_proxy(config: &mut Config) {
    config.trust_forwarded_for = true;
}

fn low_caps(config: &mut Config) {
    config.trust_forwarded_for = true;
    config.authorizations_per_address_per_10_min = 3;
    config.authorizations_per_10_min = 5;
    config.event_streams_per_address = 2;
    config.event_streams_total = 3;
}

fn low_limits(config: &mut Config) {
    config.trust_forwarded_for = true;
    config.login_ids_per_address_per_10_min = 3;
    config.wrong_passwords_per_person_per_day = 3;
}

/// A browser whose requests come from `address`.
fn browser_at(server: &TestServer, address: &str) -> Browser {
    let mut browser = server.browser();
    browser.forwarded_for = Some(address.to_owned());
    browser
}

/// Enters `pid` on the login page of a fresh authorization request; returns the answer.
async fn enter(browser: &mut Browser, pid: &str) -> Response {
    browser.enter_pid(pid).await
}

/// The acceptance line of issue 12: 100 logins for a person from other addresses.
async fn strangers_do_not_stop_a_persons_app_login(server: TestServer) {
    let mut device = server.enrolled_device(ADULT, 1).await;
    let mut refused = 0;
    for n in 0..100 {
        let mut stranger = browser_at(&server, &format!("6.6.6.{}", n % 10));
        let res = enter(&mut stranger, ADULT).await;
        if res.body.contains(TOO_MANY) {
            refused += 1;
        }
    }
    assert_eq!(
        refused, 0,
        "ten addresses, ten logins each: within the limits"
    );
    let mut pest = browser_at(&server, "6.6.6.0");
    assert!(
        enter(&mut pest, ADULT).await.body.contains(TOO_MANY),
        "an eleventh login from one address is refused"
    );

    // The strangers' logins still wait (the app shows them); the person's starts beside
    // them and is approved.
    let mut own = browser_at(&server, OWN_ADDRESS);
    let (id, number) = start_login(&mut own, &device, ADULT).await;
    approve_and_finish(&mut own, &mut device, &id, number).await;
}

type Challenge = nokkel_core::statements::VerifiedChallenge;

/// The ids of the challenges waiting for `device`'s person.
async fn waiting_ids(device: &TestDevice) -> Vec<String> {
    let all: Vec<Challenge> = device.pending_all(START).await;
    all.iter().map(|c| c.challenge_id().to_owned()).collect()
}

/// `browser` (at `address`, no login waiting) starts a login for `pid`; returns the new
/// challenge's id as `device` sees it, and the number the browser shows.
async fn start_login(browser: &mut Browser, device: &TestDevice, pid: &str) -> (String, u8) {
    let before = waiting_ids(device).await;
    let res = enter(browser, pid).await;
    assert_eq!(res.location.as_deref(), Some("/login/app"), "{}", res.body);
    let number = shown_number(&browser.get("/login/app").await.body);
    let new: Vec<String> = waiting_ids(device)
        .await
        .into_iter()
        .filter(|id| !before.contains(id))
        .collect();
    assert_eq!(new.len(), 1, "one new login waits");
    (new[0].clone(), number)
}

/// `device` approves waiting login `id` with `number`; `browser` finishes it at the
/// relying party.
async fn approve_and_finish(browser: &mut Browser, device: &mut TestDevice, id: &str, number: u8) {
    let all: Vec<Challenge> = device.pending_all(START).await;
    let challenge = all.into_iter().find(|c| c.challenge_id() == id).unwrap();
    let (id, jws) = device.approval(challenge, number, START);
    assert_eq!(
        device.send_approval(&id, &jws, START).await.status,
        StatusCode::OK
    );
    let res = browser.get("/login/finish").await;
    let to = res.location.unwrap_or_default();
    assert!(to.starts_with(REDIRECT) && to.contains("code="), "{to}");
}

/// Issue 12, "each stranger's login cancels the person's pending one": strangers logging
/// in while the person waits for their app cancel nothing of the person's. Their logins
/// wait beside it — the app shows each — and, past five, make room among themselves: the
/// person's login comes from an address they logged in from before.
async fn strangers_logins_do_not_cancel_the_persons_waiting_login(server: TestServer) {
    let mut device = server.enrolled_device(ADULT, 1).await;
    let mut own = browser_at(&server, OWN_ADDRESS);
    let (id, number) = start_login(&mut own, &device, ADULT).await;
    approve_and_finish(&mut own, &mut device, &id, number).await;

    let (mine, number) = start_login(&mut own, &device, ADULT).await;
    for n in 0..20 {
        let mut stranger = browser_at(&server, &format!("6.6.6.{}", n % 4));
        let res = enter(&mut stranger, ADULT).await;
        assert_eq!(res.location.as_deref(), Some("/login/app"), "{}", res.body);
        let waiting = waiting_ids(&device).await;
        assert!(waiting.contains(&mine), "stranger {n} cancelled the login");
        assert!(waiting.len() <= 5, "{} wait", waiting.len());
    }
    assert_eq!(
        waiting_ids(&device).await.len(),
        5,
        "the app is shown every waiting login"
    );
    approve_and_finish(&mut own, &mut device, &mine, number).await;
    assert_eq!(waiting_ids(&device).await.len(), 4);
}

/// A browser starting over (a new login, or "try again") replaces its own waiting login
/// and nobody else's.
async fn starting_over_replaces_only_the_browsers_own_login(server: TestServer) {
    let device = server.enrolled_device(ADULT, 1).await;
    let mut stranger = browser_at(&server, "6.6.6.1");
    let (theirs, _) = start_login(&mut stranger, &device, ADULT).await;

    let mut own = browser_at(&server, OWN_ADDRESS);
    let (first, _) = start_login(&mut own, &device, ADULT).await;
    assert_eq!(waiting_ids(&device).await.len(), 2);

    enter(&mut own, ADULT).await;
    let waiting = waiting_ids(&device).await;
    assert_eq!(waiting.len(), 2, "the browser's new login replaced its own");
    assert!(waiting.contains(&theirs) && !waiting.contains(&first));
    let second = waiting.iter().find(|id| **id != theirs).unwrap().clone();

    let res = own.post("/login/retry", &[]).await;
    assert_eq!(res.location.as_deref(), Some("/login/app"), "{}", res.body);
    let waiting = waiting_ids(&device).await;
    assert_eq!(waiting.len(), 2, "trying again replaced it once more");
    assert!(waiting.contains(&theirs) && !waiting.contains(&second));
    let old = server.state.pending.get(&first).await.unwrap().unwrap();
    assert_eq!(old.state, nokkel_server::store::LoginState::Cancelled);
}

/// The acceptance line of issue 12: 100 wrong passwords for a person from other addresses.
async fn strangers_do_not_stop_an_sms_users_password_login(server: TestServer) {
    let mut tried = 0;
    for n in 0..4 {
        let mut stranger = browser_at(&server, &format!("6.6.6.{n}"));
        let res = enter(&mut stranger, SMS_USER).await;
        assert_eq!(res.location.as_deref(), Some("/login/password"));
        for attempt in 0..25 {
            let res = stranger
                .post("/login/password", &[("password", "gjett-igjen")])
                .await;
            let expected = if attempt < 5 { WRONG } else { TOO_MANY };
            assert!(res.body.contains(expected), "try {attempt}: {}", res.body);
            tried += 1;
        }
    }
    assert_eq!(tried, 100);

    let mut own = browser_at(&server, OWN_ADDRESS);
    let res = enter(&mut own, SMS_USER).await;
    assert_eq!(res.location.as_deref(), Some("/login/password"));
    let res = own
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
    let res = own.post("/login/otp", &[("otp", &otp)]).await;
    let to = res.location.unwrap_or_default();
    assert!(to.starts_with(REDIRECT) && to.contains("code="), "{to}");
}

/// One address entering identity numbers for many people is refused past its budget,
/// whoever the numbers belong to; another address is not affected.
async fn one_address_has_a_budget_for_all_people(server: TestServer) {
    let mut prober = browser_at(&server, "6.6.6.6");
    for pid in [UNKNOWN, SMS_USER, ADULT2] {
        let res = enter(&mut prober, pid).await;
        assert!(!res.body.contains(TOO_MANY), "{pid}: {}", res.body);
    }
    let res = enter(&mut prober, SMS_USER).await;
    assert!(res.body.contains(TOO_MANY), "{}", res.body);
    let mut own = browser_at(&server, OWN_ADDRESS);
    let res = enter(&mut own, SMS_USER).await;
    assert_eq!(res.location.as_deref(), Some("/login/password"));
}

/// Wrong passwords from many addresses stop at the per-person ceiling, for every address.
async fn wrong_passwords_per_person_have_a_ceiling(server: TestServer) {
    for n in 0..3 {
        let mut stranger = browser_at(&server, &format!("6.6.6.{n}"));
        enter(&mut stranger, SMS_USER).await;
        let res = stranger
            .post("/login/password", &[("password", "gjett-igjen")])
            .await;
        assert!(res.body.contains(WRONG), "{}", res.body);
    }
    let mut own = browser_at(&server, OWN_ADDRESS);
    enter(&mut own, SMS_USER).await;
    let res = own
        .post(
            "/login/password",
            &[("password", nokkel_server::demo::DEMO_SMS_PASSWORD)],
        )
        .await;
    assert!(res.body.contains(TOO_MANY), "{}", res.body);
}

/// Audit rows would otherwise grow without bound: housekeeping deletes those older than
/// `audit_retention_days` (400 by default) and keeps the rest.
async fn audit_events_past_the_retention_are_purged(server: TestServer) {
    use nokkel_server::services::housekeeping;
    let mut browser = server.browser();
    enter(&mut browser, SMS_USER).await;
    browser
        .post("/login/password", &[("password", "gjett-igjen")])
        .await;
    assert_eq!(
        sms_user_events(&server).await,
        1,
        "the wrong password is audited"
    );
    server.clock.advance(399 * 86_400);
    let swept = housekeeping::sweep(&server.state).await.unwrap();
    assert_eq!(swept.audit_rows, 0);
    let mut browser = server.browser();
    enter(&mut browser, SMS_USER).await;
    browser
        .post("/login/password", &[("password", "gjett-igjen")])
        .await;
    server.clock.advance(2 * 86_400);
    let swept = housekeeping::sweep(&server.state).await.unwrap();
    assert!(swept.audit_rows >= 1, "{swept:?}");
    assert_eq!(swept.login_rows, 0, "SMS logins keep no login rows");
    assert_eq!(sms_user_events(&server).await, 1, "the newer event is kept");
}

async fn sms_user_events(server: &TestServer) -> usize {
    server.state.audit.flush().await;
    server.state.store.audit_for(SMS_USER).await.unwrap().len()
}

/// Issue 12, "every GET /oauth/authorize of a valid client stores a request row and an
/// audit row with no limit": past the per-address limit, and past the instance's ceiling
/// from any address, the client is told `temporarily_unavailable` and nothing is stored.
async fn authorization_requests_are_capped_per_address_and_in_all(server: TestServer) {
    let authorize = |address: &str| {
        let browser = browser_at(&server, address);
        async move {
            let mut browser = browser;
            browser
                .get(&authorize_url("openid"))
                .await
                .location
                .unwrap()
        }
    };
    for _ in 0..3 {
        assert!(authorize("6.6.6.1").await.starts_with("/login?request="));
    }
    let refused = authorize("6.6.6.1").await;
    assert!(
        refused.starts_with(REDIRECT) && refused.contains("error=temporarily_unavailable"),
        "{refused}"
    );
    // Another address has its own budget, until the instance's ceiling (5 in all).
    assert!(authorize("6.6.6.2").await.starts_with("/login?request="));
    assert!(authorize("6.6.6.3").await.starts_with("/login?request="));
    let refused = authorize("6.6.6.4").await;
    assert!(
        refused.contains("error=temporarily_unavailable"),
        "{refused}"
    );
    server.state.audit.flush().await;
    let recent = server.state.store.recent_audit(100).await.unwrap();
    let started = recent
        .iter()
        .filter(|e| e.event == "oidc_authorization_started")
        .count();
    assert_eq!(started, 5, "only the taken requests were stored");
}

/// Issue 12, "/login/events holds connections for 130 s with no cap": a few streams per
/// address and a ceiling per instance; a closed stream gives its place back.
async fn event_streams_are_capped_per_address_and_in_all(server: TestServer) {
    let _device = server.enrolled_device(ADULT, 1).await;
    let mut own = browser_at(&server, "6.6.6.1");
    assert_eq!(
        enter(&mut own, ADULT).await.location.as_deref(),
        Some("/login/app")
    );
    let first = own.open("/login/events").await;
    let second = own.open("/login/events").await;
    assert_eq!(first.status(), StatusCode::OK);
    assert_eq!(second.status(), StatusCode::OK);
    let third = own.open("/login/events").await;
    assert_eq!(third.status(), StatusCode::TOO_MANY_REQUESTS, "per address");
    assert_eq!(third.headers()["retry-after"], "30");

    // The same flow from another address: one more, then the instance is full.
    let mut elsewhere = browser_at(&server, "6.6.6.2");
    elsewhere.cookies = own.cookies.clone();
    let fourth = elsewhere.open("/login/events").await;
    assert_eq!(fourth.status(), StatusCode::OK);
    elsewhere.forwarded_for = Some("6.6.6.3".into());
    let refused = elsewhere.open("/login/events").await;
    assert_eq!(refused.status(), StatusCode::TOO_MANY_REQUESTS, "in all");

    drop(first);
    let again = elsewhere.open("/login/events").await;
    assert_eq!(
        again.status(),
        StatusCode::OK,
        "a closed stream gave its place back"
    );
    drop((second, fourth, again));
}
