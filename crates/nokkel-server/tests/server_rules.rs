#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Issue 3's rules through the pages and the API, each run on SQLite and on PostgreSQL:
//! ordering (same receipt whatever the outcome), letters, registration as an SMS user,
//! lockout, expiry, reuse, and the race between two registrations with one code.

mod support;

use axum::http::StatusCode;
use nokkel_server::i18n::Lang;
use nokkel_server::services::registration;
use nokkel_server::services::ServiceError;
use support::*;

server_tests!(
    receipt_is_identical_whatever_the_outcome,
    letters_go_only_to_eligible_people,
    abroad_gets_a_later_delivery_date,
    invalid_identity_number_gets_a_field_error,
    second_order_while_letter_outstanding_sends_nothing,
    demo_inbox_pages_through_letters,
    sms_user_registers_with_letter_and_sms_code,
    sixth_wrong_code_is_refused_because_the_letter_is_locked,
    expired_letter_is_refused,
    used_code_cannot_register_again,
    two_concurrent_registrations_with_one_code_exactly_one_wins,
    api_order_returns_the_same_receipt,
    password_policy_and_wrong_sms_code_are_explained,
);

/// The receipt body without the parts that legitimately differ per browser (none today:
/// the receipt page carries no form and hence no CSRF token).
async fn receipt_for(server: &TestServer, pid: &str) -> String {
    let mut browser = server.browser();
    let res = browser.order(pid).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    res.body
}

async fn receipt_is_identical_whatever_the_outcome(server: TestServer) {
    let sent = receipt_for(&server, ADULT).await;
    assert!(sent.contains("Bestillingen er mottatt"));
    assert!(
        sent.contains("7.\u{a0}desember\u{a0}2026"),
        "domestic delivery date: {sent}"
    );
    for pid in [
        TURNS_13, TWELVE, NO_ADDRESS, SMS_USER, UNKNOWN, DECEASED, ABROAD,
    ] {
        assert_eq!(receipt_for(&server, pid).await, sent, "receipt for {pid}");
    }
}

async fn letters_go_only_to_eligible_people(server: TestServer) {
    for pid in [
        ADULT, TURNS_13, D_NUMBER, TWELVE, NO_ADDRESS, SMS_USER, UNKNOWN, DECEASED,
    ] {
        receipt_for(&server, pid).await;
    }
    // An existing user gets a recovery letter (docs/RULES.md).
    for pid in [ADULT, TURNS_13, D_NUMBER, SMS_USER] {
        let letters = server.letters_for(pid).await;
        assert_eq!(letters.len(), 1, "{pid} gets a letter");
        let code = letters[0]["code"].as_str().unwrap();
        assert_eq!(code.len(), 17, "grouped code");
        assert!(nokkel_core::activation_code::ActivationCode::parse(code).is_ok());
    }
    for pid in [TWELVE, NO_ADDRESS, UNKNOWN, DECEASED] {
        assert!(
            server.letters_for(pid).await.is_empty(),
            "{pid} gets no letter"
        );
    }
    // The refusals are recorded, with their reasons, for support and audit.
    let orders = server.state.store.orders_for(TWELVE).await.unwrap();
    assert_eq!(orders[0].outcome, "refused_too_young");
    let orders = server.state.store.orders_for(NO_ADDRESS).await.unwrap();
    assert_eq!(orders[0].outcome, "refused_no_address");
    let orders = server.state.store.orders_for(SMS_USER).await.unwrap();
    assert_eq!(orders[0].outcome, "letter_sent");
}

async fn abroad_gets_a_later_delivery_date(server: TestServer) {
    receipt_for(&server, ABROAD).await;
    receipt_for(&server, ADULT).await;
    let abroad = &server.letters_for(ABROAD).await[0];
    let home = &server.letters_for(ADULT).await[0];
    assert_eq!(abroad["abroad"], true);
    assert_eq!(home["abroad"], false);
    assert_eq!(home["delivered_by"], "2026-12-07");
    assert_eq!(abroad["delivered_by"], "2026-12-21");
}

async fn invalid_identity_number_gets_a_field_error(server: TestServer) {
    let mut browser = server.browser();
    let cases = [
        ("1234", "må ha 11 siffer"),
        ("3112995671a", "bare inneholde siffer"),
        ("31129956716", "ikke gyldig"),
    ];
    for (input, message) in cases {
        let res = browser.post("/order", &[("pid", input)]).await;
        assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(res.body.contains(message), "{input}: {}", res.body);
        assert!(res.body.contains("aria-invalid=\"true\""));
        assert!(
            res.body.contains("href=\"#pid\""),
            "error summary links the field"
        );
    }
    browser.cookies.insert("nokkel_lang".into(), "en".into());
    let res = browser.post("/order", &[("pid", "1234")]).await;
    assert!(res.body.contains("has 11 digits"), "{}", res.body);
}

async fn second_order_while_letter_outstanding_sends_nothing(server: TestServer) {
    receipt_for(&server, ADULT).await;
    server.clock.advance(3 * 86_400);
    receipt_for(&server, ADULT).await;
    let letters = server.letters_for(ADULT).await;
    assert_eq!(
        letters.len(),
        1,
        "no second letter while the first is on its way"
    );
    // After the support date (11 business days) a new letter replaces the lost one.
    server.clock.advance(14 * 86_400);
    receipt_for(&server, ADULT).await;
    let letters = server.letters_for(ADULT).await;
    assert_eq!(letters.len(), 2);
    assert_eq!(letters[0]["state"], "pending");
    assert_eq!(letters[1]["state"], "revoked");
}

async fn demo_inbox_pages_through_letters(server: TestServer) {
    for pid in [ADULT, ADULT2, ABROAD] {
        receipt_for(&server, pid).await;
        server.clock.advance(1);
    }
    let mut browser = server.browser();
    let first = browser.get("/dev/letters?format=json&limit=2").await;
    let first_page: Vec<serde_json::Value> = serde_json::from_str(&first.body).unwrap();
    assert_eq!(first_page.len(), 2);
    assert_eq!(first_page[0]["pid"], ABROAD, "newest first");
    let link = first.headers["link"].to_str().unwrap();
    assert_eq!(
        link,
        "</dev/letters?format=json&limit=2&offset=2>; rel=\"next\""
    );
    let second = browser
        .get("/dev/letters?format=json&limit=2&offset=2")
        .await;
    let second_page: Vec<serde_json::Value> = serde_json::from_str(&second.body).unwrap();
    assert_eq!(second_page.len(), 1);
    assert_eq!(second_page[0]["pid"], ADULT);
    assert!(!second.headers.contains_key("link"), "the last page");
    // Without paging parameters: the newest 200, as before.
    assert_eq!(server.letters().await.len(), 3);
}

/// Runs the registration pages up to the password step; returns the browser.
async fn start_registration(server: &TestServer, pid: &str, code: &str) -> Browser {
    let mut browser = server.browser();
    let res = browser
        .post("/register", &[("pid", pid), ("code", code)])
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
    assert_eq!(res.location.as_deref(), Some("/register/choose"));
    let res = browser.post("/register/choose", &[("kind", "sms")]).await;
    assert_eq!(res.location.as_deref(), Some("/register/password"));
    browser
}

fn otp_from(sms: &serde_json::Value) -> String {
    let body = sms["body"].as_str().unwrap();
    body.split_whitespace()
        .find(|w| w.len() == 6 && w.chars().all(|c| c.is_ascii_digit()))
        .unwrap()
        .to_owned()
}

async fn sms_user_registers_with_letter_and_sms_code(server: TestServer) {
    receipt_for(&server, ADULT).await;
    let code = server.code_for(ADULT).await;
    // Typed sloppily: lower case, spaces, no dashes.
    let typed = code.to_lowercase().replace('-', " ");
    let mut browser = start_registration(&server, ADULT, &typed).await;
    let res = browser
        .post(
            "/register/password",
            &[
                ("country", "47"),
                ("mobile", "912 34 567"),
                ("password", "blåbær syltetøy fjelltur"),
                ("password2", "blåbær syltetøy fjelltur"),
            ],
        )
        .await;
    assert_eq!(
        res.location.as_deref(),
        Some("/register/otp"),
        "{}",
        res.body
    );
    let page = browser.get("/register/otp").await;
    assert!(page.body.contains("+47 ***** 567"), "masked mobile shown");
    let sms = server.sms().await;
    assert_eq!(sms[0]["to"], "+4791234567");
    let otp = otp_from(&sms[0]);
    let res = browser.post("/register/otp", &[("otp", &otp)]).await;
    assert_eq!(
        res.location.as_deref(),
        Some("/register/done"),
        "{}",
        res.body
    );
    assert!(
        !browser.cookies.contains_key("nokkel_reg"),
        "flow cookie cleared"
    );
    let done = browser.get("/register/done").await;
    assert!(done.body.contains("Du er registrert"));

    let store = &server.state.store;
    let account = store.account(ADULT).await.unwrap().unwrap();
    assert_eq!(account.kind, "sms");
    assert!(nokkel_server::services::password::verify(
        "blåbær syltetøy fjelltur",
        account.password_hash.as_deref().unwrap()
    ));
    let contact = store.contact(ADULT).await.unwrap().unwrap();
    assert_eq!(contact.mobile.as_deref(), Some("+4791234567"));
    assert_eq!(contact.mobile_confirmed_at, Some(START));
    assert_eq!(server.letters_for(ADULT).await[0]["state"], "used");
    server.state.audit.flush().await;
    let events: Vec<String> = store
        .audit_for(ADULT)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.event)
        .collect();
    for expected in [
        "letter_ordered",
        "letter_created",
        "activation_code_accepted",
        "otp_sent",
        "account_created",
    ] {
        assert!(
            events.iter().any(|e| e == expected),
            "audit has {expected}: {events:?}"
        );
    }
}

fn wrong_code_like(code: &str) -> String {
    // A well-formed code (valid check symbol) that differs from the real one.
    loop {
        let other = nokkel_core::activation_code::ActivationCode::generate(&mut rand::thread_rng());
        if other.grouped() != code {
            return other.grouped();
        }
    }
}

async fn sixth_wrong_code_is_refused_because_the_letter_is_locked(server: TestServer) {
    receipt_for(&server, ADULT).await;
    let code = server.code_for(ADULT).await;
    let mut browser = server.browser();
    for attempt in 1..=4 {
        let res = browser
            .post(
                "/register",
                &[("pid", ADULT), ("code", &wrong_code_like(&code))],
            )
            .await;
        assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
        let left = 5 - attempt;
        assert!(
            res.body.contains(&format!("Du har {left} forsøk igjen")),
            "attempt {attempt}: {}",
            res.body
        );
    }
    let res = browser
        .post(
            "/register",
            &[("pid", ADULT), ("code", &wrong_code_like(&code))],
        )
        .await;
    assert!(
        res.body.contains("sperret"),
        "fifth wrong code locks: {}",
        res.body
    );
    // The sixth attempt, with the right code, is refused: the letter is locked.
    let res = browser
        .post("/register", &[("pid", ADULT), ("code", &code)])
        .await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        res.body.contains("sperret etter for mange feil forsøk"),
        "{}",
        res.body
    );
    assert!(server.state.store.account(ADULT).await.unwrap().is_none());
    // A typo caught by the check symbol does not count as a wrong code.
    let mut typo = code.clone().into_bytes();
    typo[0] = if typo[0] == b'A' { b'B' } else { b'A' };
    let res = browser
        .post(
            "/register",
            &[
                ("pid", ADULT2),
                ("code", std::str::from_utf8(&typo).unwrap()),
            ],
        )
        .await;
    assert!(
        res.body.contains("skrivefeil") || res.body.contains("Vi finner ingen"),
        "{}",
        res.body
    );
}

async fn expired_letter_is_refused(server: TestServer) {
    receipt_for(&server, ADULT).await;
    let code = server.code_for(ADULT).await;
    server.clock.advance(61 * 86_400);
    let mut browser = server.browser();
    let res = browser
        .post("/register", &[("pid", ADULT), ("code", &code)])
        .await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        res.body.contains("Aktiveringskoden er utløpt"),
        "{}",
        res.body
    );
}

async fn used_code_cannot_register_again(server: TestServer) {
    receipt_for(&server, ADULT).await;
    let code = server.code_for(ADULT).await;
    let letter = registration::verify_letter(&server.state, ADULT, &code, "127.0.0.1")
        .await
        .unwrap();
    let pending = registration::start_sms_user(
        &server.state,
        letter,
        sms_form("blåbær syltetøy fjelltur"),
        Lang::Nn,
    )
    .await
    .unwrap();
    let otp = otp_from(&server.sms().await[0]);
    registration::finish_sms_user(&server.state, pending, &otp, "127.0.0.1")
        .await
        .unwrap();
    let mut browser = server.browser();
    let res = browser
        .post("/register", &[("pid", ADULT), ("code", &code)])
        .await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        res.body.contains("Aktiveringskoden er allerede brukt"),
        "{}",
        res.body
    );
}

/// What an SMS user types on the password page, with the mobile the tests read codes at.
fn sms_form(password: &str) -> registration::SmsUserForm<'_> {
    registration::SmsUserForm {
        password,
        repeated: password,
        calling_code: "47",
        mobile: "91234567",
    }
}

async fn two_concurrent_registrations_with_one_code_exactly_one_wins(server: TestServer) {
    receipt_for(&server, ADULT).await;
    let code = server.code_for(ADULT).await;
    let state = &server.state;
    let a = registration::verify_letter(state, ADULT, &code, "10.0.0.1")
        .await
        .unwrap();
    let b = registration::verify_letter(state, ADULT, &code, "10.0.0.2")
        .await
        .unwrap();
    let pa = registration::start_sms_user(state, a, sms_form("blåbær syltetøy fjelltur"), Lang::Nn)
        .await
        .unwrap();
    let pb = registration::start_sms_user(state, b, sms_form("tyttebær og multer"), Lang::En)
        .await
        .unwrap();
    let sms = server.sms().await;
    // Newest first: b's code, then a's.
    let (otp_b, otp_a) = (otp_from(&sms[0]), otp_from(&sms[1]));
    let (ra, rb) = tokio::join!(
        registration::finish_sms_user(state, pa, &otp_a, "10.0.0.1"),
        registration::finish_sms_user(state, pb, &otp_b, "10.0.0.2"),
    );
    let wins = [ra.is_ok(), rb.is_ok()].iter().filter(|w| **w).count();
    assert_eq!(wins, 1, "exactly one registration wins: {ra:?} / {rb:?}");
    let loser = if ra.is_ok() { rb } else { ra };
    assert!(
        matches!(
            loser,
            Err(ServiceError::LetterUsed | ServiceError::AlreadyRegistered)
        ),
        "{loser:?}"
    );
    assert_eq!(
        state.store.account(ADULT).await.unwrap().unwrap().kind,
        "sms"
    );
}

async fn api_order_returns_the_same_receipt(server: TestServer) {
    let mut browser = server.browser();
    let mut bodies = Vec::new();
    for pid in [ADULT, TWELVE, UNKNOWN] {
        let res = browser
            .post_json("/api/v1/orders", serde_json::json!({"v": 1, "pid": pid}))
            .await;
        assert_eq!(res.status, StatusCode::ACCEPTED, "{}", res.body);
        bodies.push(res.body);
    }
    assert!(bodies.iter().all(|b| *b == bodies[0]));
    assert!(
        bodies[0].contains("\"domestic_delivery_by\":\"2026-12-07\""),
        "{}",
        bodies[0]
    );
    let res = browser
        .post_json("/api/v1/orders", serde_json::json!({"v": 1, "pid": "123"}))
        .await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        res.body.contains("\"code\":\"invalid_id_number\""),
        "{}",
        res.body
    );
    let res = browser
        .post_json("/api/v1/orders", serde_json::json!({"v": 2, "pid": ADULT}))
        .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
    assert!(
        res.body.contains("unsupported protocol version 2"),
        "{}",
        res.body
    );
}

async fn password_policy_and_wrong_sms_code_are_explained(server: TestServer) {
    receipt_for(&server, ADULT).await;
    let code = server.code_for(ADULT).await;
    let mut browser = start_registration(&server, ADULT, &code).await;
    let res = browser
        .post(
            "/register/password",
            &[("password", "passord1"), ("password2", "passord1")],
        )
        .await;
    assert_eq!(res.status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(res.body.contains("for vanlig"), "{}", res.body);
    let res = browser
        .post(
            "/register/password",
            &[
                ("country", "47"),
                ("mobile", "912 34 567"),
                ("password", "blåbær syltetøy fjelltur"),
                ("password2", "blåbær syltetøy fjelltur"),
            ],
        )
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    let otp = otp_from(&server.sms().await[0]);
    let wrong = if otp == "000000" { "111111" } else { "000000" };
    let res = browser.post("/register/otp", &[("otp", wrong)]).await;
    assert!(res.body.contains("Du har 4 forsøk igjen"), "{}", res.body);
    let res = browser.post("/register/otp", &[("otp", "12")]).await;
    assert!(res.body.contains("Koden har 6 siffer"), "{}", res.body);
    let res = browser.post("/register/otp", &[("otp", &otp)]).await;
    assert_eq!(res.location.as_deref(), Some("/register/done"));
}

/// Forms without the CSRF token are refused before any handler runs, and every response
/// carries the security headers (SQLite only: a property of the web layer).
#[tokio::test]
async fn forms_need_the_csrf_token_and_pages_carry_security_headers() {
    let server = TestServer::demo(sqlite().await).await;
    let mut browser = server.browser();
    let page = browser.get("/order").await;
    let headers = &page.headers;
    let csp = headers["content-security-policy"].to_str().unwrap();
    assert!(
        csp.contains("default-src 'self'") && csp.contains("frame-ancestors 'none'"),
        "{csp}"
    );
    assert_eq!(headers["x-content-type-options"], "nosniff");
    assert_eq!(headers["x-frame-options"], "DENY");
    assert_eq!(headers["referrer-policy"], "no-referrer");
    assert_eq!(headers["cache-control"], "no-store");
    assert!(
        headers.get("strict-transport-security").is_none(),
        "no HSTS on plain http"
    );
    // No token, and a wrong token: 403, and nothing was ordered.
    let res = browser.post_raw("/order", &[("pid", ADULT)]).await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    assert!(res.body.contains("Skjemaet er utløpt"), "{}", res.body);
    let res = browser
        .post_raw(
            "/order",
            &[("csrf", "x".repeat(43).as_str()), ("pid", ADULT)],
        )
        .await;
    assert_eq!(res.status, StatusCode::FORBIDDEN);
    assert!(server
        .state
        .store
        .orders_for(ADULT)
        .await
        .unwrap()
        .is_empty());
    // With the token from the cookie it goes through.
    let res = browser.post("/order", &[("pid", ADULT)]).await;
    assert_eq!(res.status, StatusCode::OK);
    assert_eq!(server.state.store.orders_for(ADULT).await.unwrap().len(), 1);
}
