//! The app's commands through Tauri's IPC with the mock runtime: what the page sends, what
//! it gets back (`{code, message}` on failure), over the scripted authenticator.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::{Arc, Mutex};

use nokkel_app_lib::commands::AppState;
use nokkel_app_lib::mock::{
    MockAuthenticator, CHOICES, NEW_PHONE, NUMBER, TRANSFER_CODE, TRANSFER_DECIDED_AFTER,
    TRANSFER_SECONDS, UNKNOWN_TRANSFER_CODE,
};
use nokkel_app_lib::notify::{
    login_waiting_text, LoginNotifier, NotificationSink, OnClick, ShownId,
};
use nokkel_app_lib::prompts::Lang;
use nokkel_app_lib::push::{NoPushTokens, PushRegistrar, PushTokens, TokenAnswer};
use nokkel_core::activation_code::ActivationCode;
use nokkel_core::clock::FixedClock;
use nokkel_core::push::PushRegistration;
use rand::{rngs::StdRng, SeedableRng};
use serde_json::{json, Value};
use tauri::ipc::{CallbackFn, InvokeBody};
use tauri::test::{get_ipc_response, mock_builder, mock_context, noop_assets, INVOKE_KEY};
use tauri::webview::InvokeRequest;
use tauri::{App, WebviewWindow, WebviewWindowBuilder};

const PASSCODE: &str = "583920";
/// The bundled page's origin: only local pages may call the app's own commands.
const APP_ORIGIN: &str = if cfg!(any(windows, target_os = "android")) {
    "http://tauri.localhost"
} else {
    "tauri://localhost"
};
/// A synthetic (month + 80) number from the demo population.
const SYNTHETIC_PID: &str = "14838514058";

struct TestApp {
    _app: App<tauri::test::MockRuntime>,
    window: WebviewWindow<tauri::test::MockRuntime>,
    clock: Arc<FixedClock>,
    notifications: Arc<Notifications>,
    device: Arc<MockAuthenticator>,
}

/// The phone's push service as the notifications plugin reports it: the answer to give.
struct PhonePush(Mutex<TokenAnswer>);

impl PhonePush {
    fn answer(&self, answer: TokenAnswer) {
        *self.0.lock().unwrap() = answer;
    }
}

#[async_trait::async_trait]
impl PushTokens for PhonePush {
    async fn token(&self) -> TokenAnswer {
        self.0.lock().unwrap().clone()
    }
}

fn fcm(token: &str) -> PushRegistration {
    PushRegistration::fcm(token).unwrap()
}

/// The system notifications the app asked for (title, body).
#[derive(Default)]
struct Notifications(Mutex<Vec<(String, String)>>);

#[async_trait::async_trait]
impl NotificationSink for Notifications {
    async fn show(&self, title: &str, body: &str, _on_click: OnClick) -> Result<ShownId, String> {
        let mut shown = self.0.lock().unwrap();
        shown.push((title.to_owned(), body.to_owned()));
        Ok(ShownId::try_from(shown.len()).unwrap())
    }

    async fn close(&self, _id: ShownId) -> Result<(), String> {
        Ok(())
    }
}

fn app(developer: bool) -> TestApp {
    app_with_push(developer, Arc::new(NoPushTokens))
}

fn app_with_push(developer: bool, push: Arc<dyn PushTokens>) -> TestApp {
    let clock = Arc::new(FixedClock::at_unix(1_790_000_000));
    let device = Arc::new(MockAuthenticator::new(clock.clone()));
    let state = AppState {
        authenticator: device.clone(),
        developer,
        mock: true,
        server_url: Mutex::new("http://127.0.0.1:8080".into()),
    };
    let notifications = Arc::new(Notifications::default());
    let app = nokkel_app_lib::setup(mock_builder())
        .manage(state)
        .manage(LoginNotifier::new(notifications.clone()))
        .manage(PushRegistrar::new(None, push))
        .build(mock_context(noop_assets()))
        .unwrap();
    let window = WebviewWindowBuilder::new(&app, "main", Default::default())
        .build()
        .unwrap();
    TestApp {
        _app: app,
        window,
        clock,
        notifications,
        device,
    }
}

impl TestApp {
    /// Invokes `cmd` as the page would; `Ok(value)` or `Err({code, message})`.
    fn call(&self, cmd: &str, args: Value) -> Result<Value, Value> {
        get_ipc_response(
            &self.window,
            InvokeRequest {
                cmd: cmd.into(),
                callback: CallbackFn(0),
                error: CallbackFn(1),
                url: APP_ORIGIN.parse().unwrap(),
                body: InvokeBody::Json(args),
                headers: Default::default(),
                invoke_key: INVOKE_KEY.to_string(),
            },
        )
        .map(|body| body.deserialize::<Value>().unwrap())
    }

    fn error_code(&self, cmd: &str, args: Value) -> String {
        let error = self.call(cmd, args).expect_err("the command should fail");
        assert!(
            error["message"].is_string(),
            "errors carry a message: {error}"
        );
        error["code"].as_str().unwrap().to_owned()
    }

    fn enrol(&self, passcode: &str) -> Result<Value, Value> {
        self.call(
            "enrol",
            json!({
                "activation": { "pid": SYNTHETIC_PID, "code": good_code().grouped(), "deviceName": " Test phone " },
                "method": "passcode",
                "passcode": passcode,
            }),
        )
    }
}

fn good_code() -> ActivationCode {
    ActivationCode::generate(&mut StdRng::seed_from_u64(7))
}

/// `code` with its first symbol replaced by another valid symbol: a one-character typo.
fn typo(code: &ActivationCode) -> String {
    let mut symbols: Vec<char> = code.expose_secret().chars().collect();
    symbols[0] = if symbols[0] == 'A' { 'B' } else { 'A' };
    symbols.into_iter().collect()
}

#[test]
fn the_code_is_grouped_as_typed() {
    let t = app(false);
    assert_eq!(
        t.call("format_code", json!({"input": "abcdef"})).unwrap(),
        "ABCDE-F"
    );
    // Look-alikes are read as digits; characters codes never use are dropped.
    assert_eq!(
        t.call("format_code", json!({"input": "o1lu-"})).unwrap(),
        "011"
    );
}

#[test]
fn a_typo_in_the_code_is_caught_by_the_check_symbol() {
    let t = app(false);
    let code = good_code();
    let answer = t
        .call(
            "check_code",
            json!({"input": code.expose_secret().to_lowercase()}),
        )
        .unwrap();
    assert_eq!(answer["grouped"], code.grouped());
    assert_eq!(
        t.error_code("check_code", json!({"input": typo(&code)})),
        "typo"
    );
    assert_eq!(
        t.error_code("check_code", json!({"input": "ABCDE"})),
        "wrong_length"
    );
    assert_eq!(
        t.error_code("check_code", json!({"input": "ABCDE-FGHJK-MNPQ!"})),
        "invalid_character"
    );
}

#[test]
fn synthetic_identity_numbers_only_in_developer_builds() {
    assert_eq!(
        app(true)
            .call("check_pid", json!({"input": SYNTHETIC_PID}))
            .unwrap(),
        Value::Null
    );
    let release = app(false);
    assert_eq!(
        release.error_code("check_pid", json!({"input": SYNTHETIC_PID})),
        "synthetic_not_allowed"
    );
    assert_eq!(
        release.error_code("check_pid", json!({"input": "31129956716"})),
        "check_digit"
    );
    assert_eq!(
        release
            .call("check_pid", json!({"input": "31129956715"}))
            .unwrap(),
        Value::Null
    );
}

#[test]
fn the_server_address_is_fixed_outside_developer_builds() {
    let release = app(false);
    assert_eq!(
        release.call("app_info", json!({})).unwrap()["serverUrl"],
        Value::Null
    );
    assert_eq!(
        release.error_code("set_server_url", json!({"url": "http://10.0.2.2:8080"})),
        "not_allowed"
    );
    let dev = app(true);
    assert_eq!(
        dev.call("set_server_url", json!({"url": "http://10.0.2.2:8080/"}))
            .unwrap(),
        "http://10.0.2.2:8080"
    );
    assert_eq!(
        dev.call("app_info", json!({})).unwrap()["serverUrl"],
        "http://10.0.2.2:8080"
    );
    assert_eq!(
        dev.error_code("set_server_url", json!({"url": "10.0.2.2"})),
        "invalid_url"
    );
}

#[test]
fn no_biometrics_on_the_linux_desktop() {
    let status = app(false).call("biometric_status", json!({})).unwrap();
    if cfg!(target_os = "linux") {
        assert_eq!(status, json!({"available": false, "kind": "none"}));
    }
}

#[test]
fn enrolment_refuses_weak_passcodes_and_bad_input_before_any_server_call() {
    let t = app(true);
    assert_eq!(t.enrol("123456").unwrap_err()["code"], "weak_passcode");
    assert_eq!(t.enrol("12345").unwrap_err()["code"], "passcode_format");
    let bad_code = json!({
        "activation": { "pid": SYNTHETIC_PID, "code": typo(&good_code()), "deviceName": "x" },
        "method": "passcode", "passcode": PASSCODE,
    });
    assert_eq!(t.error_code("enrol", bad_code), "typo");
    let status = t.call("device_status", json!({})).unwrap();
    assert_eq!(status["enrolled"], false, "nothing was enrolled");
}

#[test]
fn enrol_then_approve_the_pending_login_with_the_right_number_and_passcode() {
    let t = app(true);
    let status = t.enrol(PASSCODE).unwrap();
    assert_eq!(status["enrolled"], true);
    assert_eq!(status["unlocked"], true);
    assert_eq!(status["deviceName"], "Test phone", "the name is trimmed");
    assert_eq!(status["verification"], "passcode");

    let request = t.call("pending_request", json!({"wait": 0})).unwrap();
    assert_eq!(request["service"], "Skatteetaten");
    assert_eq!(request["choices"], json!(CHOICES));
    let id = request["challengeId"].as_str().unwrap().to_owned();

    let wrong = json!({"challengeId": id, "number": NUMBER, "passcode": "999111"});
    assert_eq!(t.error_code("approve", wrong), "wrong_passcode");
    let not_offered = json!({"challengeId": id, "number": 10, "passcode": PASSCODE});
    assert_eq!(t.error_code("approve", not_offered), "number_not_offered");

    let right = json!({"challengeId": id, "number": NUMBER, "passcode": PASSCODE});
    assert_eq!(t.call("approve", right.clone()).unwrap(), "approved");
    assert_eq!(
        t.error_code("approve", right),
        "no_pending_challenge",
        "single use"
    );
    let history = t.call("history", json!({})).unwrap();
    assert_eq!(history[0]["outcome"], "approved");
    assert_eq!(history[0]["service"], "Skatteetaten");
}

/// Tauri's mock window is shown but not focused: out of sight, as behind the browser.
#[test]
fn a_waiting_login_notifies_once_without_naming_it() {
    let t = app(true);
    t.enrol(PASSCODE).unwrap();
    t.call("set_language", json!({"lang": "nn"})).unwrap();
    let first = t.call("pending_request", json!({"wait": 0})).unwrap();
    let again = t.call("pending_request", json!({"wait": 0})).unwrap();
    assert_eq!(first["challengeId"], again["challengeId"]);
    let shown = t.notifications.0.lock().unwrap().clone();
    assert_eq!(shown, vec![login_waiting_text(Lang::Nn)], "one per request");
    let (title, body) = &shown[0];
    for text in [title, body] {
        assert!(!text.contains("Skatteetaten"), "{text}");
        for number in CHOICES {
            assert!(!text.contains(&number.to_string()), "{text}");
        }
    }
}

#[test]
fn a_wrong_number_ends_the_login() {
    let t = app(true);
    t.enrol(PASSCODE).unwrap();
    let request = t.call("pending_request", json!({})).unwrap();
    let wrong = CHOICES.into_iter().find(|&n| n != NUMBER).unwrap();
    let args =
        json!({"challengeId": request["challengeId"], "number": wrong, "passcode": PASSCODE});
    assert_eq!(t.error_code("approve", args), "wrong_number");
    assert_eq!(t.call("pending_request", json!({})).unwrap(), Value::Null);
}

#[test]
fn an_expired_request_cannot_be_approved() {
    let t = app(true);
    t.enrol(PASSCODE).unwrap();
    let request = t.call("pending_request", json!({})).unwrap();
    t.clock.advance(121);
    let args =
        json!({"challengeId": request["challengeId"], "number": NUMBER, "passcode": PASSCODE});
    assert_eq!(t.error_code("approve", args), "expired");
    assert_eq!(
        t.call("history", json!({})).unwrap()[0]["outcome"],
        "expired"
    );
}

#[test]
fn this_wasnt_me_reports_without_verification() {
    let t = app(true);
    t.enrol(PASSCODE).unwrap();
    let request = t.call("pending_request", json!({})).unwrap();
    let args = json!({"challengeId": request["challengeId"], "report": true});
    assert_eq!(t.call("deny", args).unwrap(), "reported");
    assert_eq!(
        t.call("history", json!({})).unwrap()[0]["outcome"],
        "reported"
    );
}

#[test]
fn a_report_pauses_app_logins_until_the_person_resumes_them_verified_afresh() {
    let t = app(true);
    t.enrol(PASSCODE).unwrap();
    let paused =
        |t: &TestApp| t.call("account_status", json!({})).unwrap()["appLoginsPaused"].clone();
    assert_eq!(paused(&t), false);
    let request = t.call("pending_request", json!({})).unwrap();
    let args = json!({"challengeId": request["challengeId"], "report": true});
    assert_eq!(t.call("deny", args).unwrap(), "reported");
    assert_eq!(paused(&t), true);
    // Resuming asks for the person afresh, as deactivating does.
    assert_eq!(
        t.error_code("resume_logins", json!({"passcode": "000000"})),
        "wrong_passcode"
    );
    assert_eq!(paused(&t), true);
    let resumed = t
        .call("resume_logins", json!({"passcode": PASSCODE}))
        .unwrap();
    assert_eq!(resumed, json!({"appLoginsPaused": false}));
    assert_eq!(paused(&t), false);
}

#[test]
fn deactivation_forgets_the_device() {
    let t = app(true);
    t.enrol(PASSCODE).unwrap();
    // Deactivating asks for the person afresh, as approving does.
    assert_eq!(
        t.error_code("deactivate", json!({"passcode": "000000"})),
        "wrong_passcode"
    );
    let status = t.call("deactivate", json!({"passcode": PASSCODE})).unwrap();
    assert_eq!(status["enrolled"], false);
    assert_eq!(
        t.error_code("unlock", json!({"passcode": PASSCODE})),
        "not_enrolled"
    );
}

#[test]
fn changing_contact_details_asks_for_the_person() {
    let t = app(true);
    t.enrol(PASSCODE).unwrap();
    let contact = json!({"mobile": "412 34 567", "email": null});
    assert_eq!(
        t.error_code(
            "save_contact",
            json!({"contact": contact, "passcode": "000000"})
        ),
        "wrong_passcode"
    );
    let status = t
        .call(
            "save_contact",
            json!({"contact": contact, "passcode": PASSCODE}),
        )
        .unwrap();
    assert_eq!(status["contactDone"], true);
    // Skipping changes nothing at the server and asks for nothing.
    let skipped = t
        .call(
            "save_contact",
            json!({"contact": {"mobile": null, "email": null}}),
        )
        .unwrap();
    assert_eq!(skipped["contactDone"], true);
}

#[test]
fn the_page_sets_the_prompt_language_and_can_start_over() {
    let t = app(true);
    assert!(t.call("set_language", json!({"lang": "nn"})).is_ok());
    assert!(
        t.call("set_language", json!({"lang": "de"})).is_err(),
        "only nb, nn and en"
    );
    t.enrol(PASSCODE).unwrap();
    let status = t.call("device_status", json!({})).unwrap();
    assert_eq!(status["enrolled"], true);
    let status = t.call("reset_device", json!({})).unwrap();
    assert_eq!(status["enrolled"], false);
    assert_eq!(status["unlocked"], false);
    // Activation works again afterwards, without clearing anything else.
    assert_eq!(t.enrol(PASSCODE).unwrap()["enrolled"], true);
}

#[test]
fn a_new_phone_shows_a_code_and_is_enrolled_once_the_old_phone_approves() {
    let t = app(true);
    // The new key is protected as at activation: a weak passcode is refused first.
    assert_eq!(
        t.error_code(
            "transfer_start",
            json!({"deviceName": "New phone", "method": "passcode", "passcode": "123456"})
        ),
        "weak_passcode"
    );
    assert_eq!(
        t.error_code(
            "transfer_start",
            json!({"deviceName": "  ", "method": "passcode", "passcode": PASSCODE})
        ),
        "invalid_device_name"
    );
    let shown = t
        .call(
            "transfer_start",
            json!({"deviceName": " New phone ", "method": "passcode", "passcode": PASSCODE}),
        )
        .unwrap();
    assert_eq!(shown["code"], TRANSFER_CODE);
    assert!(shown["qrSvg"].as_str().unwrap().contains("<svg"));
    assert!(!shown["qrSvg"].as_str().unwrap().contains(TRANSFER_CODE));
    assert_eq!(
        shown["expiresAt"].as_i64().unwrap(),
        1_790_000_000 + TRANSFER_SECONDS
    );
    assert_eq!(
        t.call("transfer_wait", json!({"wait": 0})).unwrap(),
        json!({"status": "waiting"})
    );
    t.clock.advance(TRANSFER_DECIDED_AFTER);
    let done = t.call("transfer_wait", json!({"wait": 0})).unwrap();
    assert_eq!(done["status"], "enrolled");
    assert_eq!(done["device"]["enrolled"], true);
    assert_eq!(done["device"]["deviceName"], "New phone");
    // Registered, with the passcode chosen here; the contact register came along.
    assert_eq!(done["device"]["unlocked"], false);
    assert_eq!(done["device"]["contactDone"], true);
    assert_eq!(
        t.error_code("unlock", json!({"passcode": "000000"})),
        "wrong_passcode"
    );
    assert!(t.call("unlock", json!({"passcode": PASSCODE})).is_ok());
    // A registered app cannot start another move to itself.
    assert_eq!(
        t.error_code(
            "transfer_start",
            json!({"deviceName": "Again", "method": "passcode", "passcode": PASSCODE})
        ),
        "already_enrolled"
    );
}

#[test]
fn the_old_phone_checks_the_code_shows_the_new_phone_and_approves_with_the_passcode() {
    let t = app(true);
    t.enrol(PASSCODE).unwrap();
    assert_eq!(
        t.call("format_transfer_code", json!({"input": "k4rt2"}))
            .unwrap(),
        "K4R-T2"
    );
    // Typos never reach the server: the check symbol catches them.
    for (typed, code) in [
        ("K4R-T2W", "wrong_length"),
        ("K4R-T2W-Q5C", "typo"),
        ("K4R-T2W-Q5!", "invalid_character"),
    ] {
        assert_eq!(
            t.error_code("transfer_lookup", json!({"code": typed})),
            code,
            "{typed}"
        );
    }
    assert_eq!(
        t.error_code("transfer_lookup", json!({"code": UNKNOWN_TRANSFER_CODE})),
        "unknown_transfer"
    );
    let offer = t
        .call("transfer_lookup", json!({"code": "k4r t2w q5b"}))
        .unwrap();
    assert_eq!(offer["deviceName"], NEW_PHONE);
    assert_eq!(offer["platform"], "android");
    let id = offer["transferId"].clone();
    // Approving asks for the person afresh.
    assert_eq!(
        t.error_code(
            "transfer_approve",
            json!({"transferId": id, "retire": false, "passcode": "000000"})
        ),
        "wrong_passcode"
    );
    let kept = t
        .call(
            "transfer_approve",
            json!({"transferId": id, "retire": false, "passcode": PASSCODE}),
        )
        .unwrap();
    assert_eq!(kept["retired"], false);
    assert_eq!(kept["device"]["enrolled"], true);
    // Answered once: the same transfer cannot be answered again.
    assert_eq!(
        t.error_code("transfer_refuse", json!({"transferId": id})),
        "unknown_transfer"
    );
}

#[test]
fn retiring_the_old_phone_leaves_it_unregistered_and_refusing_changes_nothing() {
    let t = app(true);
    t.enrol(PASSCODE).unwrap();
    let offer = t
        .call("transfer_lookup", json!({"code": TRANSFER_CODE}))
        .unwrap();
    t.call(
        "transfer_refuse",
        json!({"transferId": offer["transferId"]}),
    )
    .unwrap();
    assert_eq!(
        t.call("device_status", json!({})).unwrap()["enrolled"],
        true
    );
    let offer = t
        .call("transfer_lookup", json!({"code": TRANSFER_CODE}))
        .unwrap();
    let retired = t
        .call(
            "transfer_approve",
            json!({"transferId": offer["transferId"], "retire": true, "passcode": PASSCODE}),
        )
        .unwrap();
    assert_eq!(retired["retired"], true);
    assert_eq!(retired["device"]["enrolled"], false);
    assert_eq!(
        t.error_code("unlock", json!({"passcode": PASSCODE})),
        "not_enrolled"
    );
}

/// A phone: opening the app sends its token; turning pushes off in Settings clears it at
/// the server, and turning them on sends it again.
#[test]
fn the_phone_registers_its_token_and_the_setting_turns_it_off_and_on() {
    let phone = Arc::new(PhonePush(Mutex::new(TokenAnswer::Token(fcm("fcm-1")))));
    let t = app_with_push(true, phone.clone());
    assert_eq!(
        t.call("push_status", json!({})).unwrap(),
        json!({"enabled": true, "state": "unknown"})
    );
    t.enrol(PASSCODE).unwrap();
    let status = t.call("push_sync", json!({"trigger": "start"})).unwrap();
    assert_eq!(status, json!({"enabled": true, "state": "on"}));
    assert_eq!(t.device.push_registration(), Some(fcm("fcm-1")));

    let off = t
        .call("set_push_enabled", json!({"enabled": false}))
        .unwrap();
    assert_eq!(off, json!({"enabled": false, "state": "off"}));
    assert_eq!(t.device.push_registration(), None);
    // While off, opening the app again sends nothing.
    t.call("push_sync", json!({"trigger": "start"})).unwrap();
    assert_eq!(t.device.push_registration(), None);
    assert_eq!(t.device.pushes_sent(), 1);

    let on = t
        .call("set_push_enabled", json!({"enabled": true}))
        .unwrap();
    assert_eq!(on, json!({"enabled": true, "state": "on"}));
    assert_eq!(t.device.push_registration(), Some(fcm("fcm-1")));
}

#[test]
fn a_changed_token_is_sent_and_an_unchanged_one_is_not() {
    let phone = Arc::new(PhonePush(Mutex::new(TokenAnswer::Token(fcm("fcm-1")))));
    let t = app_with_push(true, phone.clone());
    t.enrol(PASSCODE).unwrap();
    t.call("push_sync", json!({"trigger": "start"})).unwrap();
    t.call("push_sync", json!({"trigger": "token_changed"}))
        .unwrap();
    assert_eq!(
        t.device.pushes_sent(),
        1,
        "the same token is not sent again"
    );
    phone.answer(TokenAnswer::Token(fcm("fcm-2")));
    t.call("push_sync", json!({"trigger": "token_changed"}))
        .unwrap();
    assert_eq!(t.device.pushes_sent(), 2);
    assert_eq!(t.device.push_registration(), Some(fcm("fcm-2")));
    // Each start sends it again: the server may have dropped it meanwhile.
    t.call("push_sync", json!({"trigger": "start"})).unwrap();
    assert_eq!(t.device.pushes_sent(), 3);
}

/// Refusing notifications is no error: Settings says pushes are off, the server drops the
/// token it had, and the app keeps long-polling.
#[test]
fn refused_notifications_are_a_state_not_an_error() {
    let phone = Arc::new(PhonePush(Mutex::new(TokenAnswer::Token(fcm("fcm-1")))));
    let t = app_with_push(true, phone.clone());
    t.enrol(PASSCODE).unwrap();
    t.call("push_sync", json!({"trigger": "start"})).unwrap();
    phone.answer(TokenAnswer::Refused);
    let status = t.call("push_sync", json!({"trigger": "start"})).unwrap();
    assert_eq!(status, json!({"enabled": true, "state": "refused"}));
    assert_eq!(t.device.push_registration(), None);
    assert!(t.call("pending_request", json!({"wait": 0})).unwrap()["challengeId"].is_string());
    // A platform without a token now (no Google services) changes nothing either.
    phone.answer(TokenAnswer::Failed("SERVICE_NOT_AVAILABLE".into()));
    let status = t.call("push_sync", json!({"trigger": "start"})).unwrap();
    assert_eq!(status, json!({"enabled": true, "state": "unavailable"}));
}

#[test]
fn a_locked_app_cannot_register_and_a_removed_device_starts_afresh() {
    let phone = Arc::new(PhonePush(Mutex::new(TokenAnswer::Token(fcm("fcm-1")))));
    let t = app_with_push(true, phone);
    assert_eq!(
        t.error_code("push_sync", json!({"trigger": "start"})),
        "locked"
    );
    t.enrol(PASSCODE).unwrap();
    t.call("push_sync", json!({"trigger": "start"})).unwrap();
    t.call("deactivate", json!({"passcode": PASSCODE})).unwrap();
    // The server dropped the registration with the device; the setting stays on.
    assert_eq!(t.device.push_registration(), None);
    assert_eq!(
        t.call("push_status", json!({})).unwrap(),
        json!({"enabled": true, "state": "unknown"})
    );
    t.enrol(PASSCODE).unwrap();
    t.call("push_sync", json!({"trigger": "token_changed"}))
        .unwrap();
    assert_eq!(t.device.push_registration(), Some(fcm("fcm-1")));
}

#[test]
fn the_desktop_has_no_push_and_sends_nothing() {
    let t = app(true);
    t.enrol(PASSCODE).unwrap();
    let status = t.call("push_sync", json!({"trigger": "start"})).unwrap();
    assert_eq!(status, json!({"enabled": true, "state": "unavailable"}));
    assert_eq!(t.device.push_registration(), None);
}
