#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! Scale-out: two stateless server instances on one PostgreSQL database. A login started
//! on instance A and approved through instance B completes on A at once (PostgreSQL
//! LISTEN/NOTIFY wakes A's waiting browser), and a device long-polling B is woken by a
//! login started on A.

mod support;

use std::time::{Duration, Instant};

use axum::http::StatusCode;
use nokkel_core::id_number::{IdNumber, SyntheticPolicy};
use nokkel_server::i18n::Lang;
use nokkel_server::services::login::{self, LoginChannel};
use nokkel_server::store::Store;
use support::*;

async fn two_instances() -> (TestServer, TestServer) {
    let url = tokio::task::spawn_blocking(nokkel_testkit::PgCluster::fresh_database_url)
        .await
        .unwrap()
        .unwrap_or_else(|e| panic!("PostgreSQL tests cannot run: {e}"));
    let a = Store::postgres(&url).await.unwrap();
    a.migrate().await.unwrap();
    let b = Store::postgres(&url).await.unwrap();
    let a = TestServer::demo(a).await;
    let b = TestServer::demo(b).await;
    assert_eq!(
        a.state.keys.challenge.kid(),
        b.state.keys.challenge.kid(),
        "both instances sign with the same key"
    );
    (a, b)
}

fn browser_side() -> LoginChannel {
    LoginChannel::Browser {
        user_agent: "test".into(),
        ip: "127.0.0.1".into(),
        lang: Lang::Nb,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_started_on_a_and_approved_through_b_completes_on_a_at_once() {
    let (a, b) = two_instances().await;
    // The device enrols through B and talks only to B.
    let mut device = b.enrolled_device(ADULT, 1).await;
    let pid = IdNumber::parse(ADULT, SyntheticPolicy::Accept).unwrap();
    let started = login::start_app_login(&a.state, &pid, None, "NAV", &browser_side())
        .await
        .unwrap();

    // A's browser side waits (up to 60 s) for the decision.
    let state_a = a.state.clone();
    let id = started.id.clone();
    let waiting = tokio::spawn(async move {
        let begun = Instant::now();
        let decided = login::wait_decided(&state_a, &id, Duration::from_secs(60))
            .await
            .unwrap();
        (begun.elapsed(), decided.map(|l| l.state.to_string()))
    });
    tokio::time::sleep(Duration::from_millis(300)).await;

    let challenge = device
        .pending(START)
        .await
        .expect("B sees the login started on A");
    let (cid, jws) = device.approval(challenge, u8::try_from(started.number).unwrap(), START);
    let approved_at = Instant::now();
    assert_eq!(
        device.send_approval(&cid, &jws, START).await.status,
        StatusCode::OK
    );
    let (_, state) = waiting.await.unwrap();
    let latency = approved_at.elapsed();
    assert_eq!(state.as_deref(), Some("approved"));
    assert!(
        latency < Duration::from_secs(5),
        "woken by NOTIFY, not a timeout: {latency:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn device_long_polling_b_is_woken_by_a_login_started_on_a() {
    let (a, b) = two_instances().await;
    let device = b.enrolled_device(ADULT, 2).await;
    let proof = device.proof("GET", "/api/v1/challenges/pending", START);
    let app_b = b.app.clone();
    let polling = tokio::spawn(async move {
        use tower::ServiceExt;
        let request = axum::http::Request::get("/api/v1/challenges/pending?wait=30")
            .header("Nokkel-Proof", proof)
            .body(axum::body::Body::empty())
            .unwrap();
        let res = app_b.oneshot(request).await.unwrap();
        let body = http_body_util::BodyExt::collect(res.into_body())
            .await
            .unwrap()
            .to_bytes();
        String::from_utf8(body.to_vec()).unwrap()
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    let begun = Instant::now();
    let pid = IdNumber::parse(ADULT, SyntheticPolicy::Accept).unwrap();
    login::start_app_login(&a.state, &pid, None, "NAV", &browser_side())
        .await
        .unwrap();
    let body = polling.await.unwrap();
    assert!(body.contains("\"challenge\":\"ey"), "{body}");
    assert!(
        begun.elapsed() < Duration::from_secs(10),
        "woken, not timed out"
    );
}
