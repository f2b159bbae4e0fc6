#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Secrets never reach the logs: a full flow (order, register as SMS user, enrol a device,
//! log in with the app) runs with every log line captured at TRACE level, and none of the
//! activation codes, the password, the SMS codes or a push registration appear in them.

mod support;

use std::io::Write;
use std::sync::{Arc, Mutex};

use axum::http::StatusCode;
use nokkel_core::id_number::{IdNumber, SyntheticPolicy};
use nokkel_server::i18n::Lang;
use nokkel_server::services::login::{self, LoginChannel};
use support::*;

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for Captured {
    type Writer = Captured;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

fn otp_in(body: &str) -> String {
    body.split_whitespace()
        .find(|w| w.len() == 6 && w.chars().all(|c| c.is_ascii_digit()))
        .unwrap()
        .to_owned()
}

// Current-thread runtime: the thread-local subscriber sees every handler's events.
#[tokio::test]
async fn no_code_password_or_sms_code_in_the_logs() {
    let captured = Captured::default();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(captured.clone())
        .with_ansi(false)
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let server = TestServer::demo(sqlite().await).await;
    let mut secrets = Vec::new();

    // Order and register as an SMS user.
    let mut browser = server.browser();
    browser.order(ADULT).await;
    let code = server.code_for(ADULT).await;
    secrets.push(code.clone());
    secrets.push(code.replace('-', ""));
    let password = "blåbær syltetøy fjelltur";
    secrets.push(password.to_owned());
    browser
        .post(
            "/register",
            &[("pid", ADULT), ("code", &code.to_lowercase())],
        )
        .await;
    browser.post("/register/choose", &[("kind", "sms")]).await;
    browser
        .post(
            "/register/password",
            &[
                ("country", "47"),
                ("mobile", "91234567"),
                ("password", password),
                ("password2", password),
            ],
        )
        .await;
    let otp = otp_in(server.sms().await[0]["body"].as_str().unwrap());
    secrets.push(otp.clone());
    let res = browser.post("/register/otp", &[("otp", &otp)]).await;
    assert_eq!(res.location.as_deref(), Some("/register/done"));

    // A wrong code, then an app user enrols and logs in.
    browser
        .post(
            "/register",
            &[("pid", ADULT2), ("code", "ABCDE-FGHJK-MNPQ7")],
        )
        .await;
    let mut device = server.enrolled_device(ADULT2, 3).await;
    let code2 = server.code_for(ADULT2).await;
    secrets.push(code2.clone());
    secrets.push(code2.replace('-', ""));
    // A push registration, and one refused, whose values are secrets too.
    let token = "fcmSecretTokenForTheLogsTest:APA91b";
    secrets.push(token.to_owned());
    let body = serde_json::json!({"v": 1, "registration": {"kind": "fcm", "token": token}});
    let res = device
        .call("PUT", "/api/v1/push", Some(body), None, START)
        .await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    let endpoint = "http://push.example.net/pushSecretEndpointPath";
    secrets.push("pushSecretEndpointPath".to_owned());
    let body = serde_json::json!({"v": 1, "registration": {"kind": "web_push",
        "endpoint": endpoint, "p256dh": "x", "auth": "y"}});
    let res = device
        .call("PUT", "/api/v1/push", Some(body), None, START)
        .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST, "{}", res.body);
    let pid = IdNumber::parse(ADULT2, SyntheticPolicy::Accept).unwrap();
    let started = login::start_app_login(
        &server.state,
        &pid,
        None,
        "NAV",
        &LoginChannel::Browser {
            user_agent: "test".into(),
            ip: "127.0.0.1".into(),
            lang: Lang::Nb,
        },
    )
    .await
    .unwrap();
    let challenge = device.pending(START).await.unwrap();
    let (id, jws) = device.approval(challenge, u8::try_from(started.number).unwrap(), START);
    assert_eq!(
        device.send_approval(&id, &jws, START).await.status,
        StatusCode::OK
    );

    let logs = String::from_utf8(captured.0.lock().unwrap().clone()).unwrap();
    assert!(
        logs.contains("account_created"),
        "the capture works: {logs}"
    );
    assert!(logs.contains("login_approved"));
    for secret in &secrets {
        assert!(!logs.contains(secret.as_str()), "a secret reached the logs");
        assert!(
            !logs.to_lowercase().contains(&secret.to_lowercase()),
            "a secret reached the logs (case-folded)"
        );
    }
    assert!(!logs.contains("password_hash\":\"$argon2"));
}
