#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! `/metrics` is Prometheus text that a Prometheus parser reads, and its counters move
//! with a login: started, ended as approved, the approval reaching the waiting browser,
//! plus the pending-logins gauge and the process's CPU and memory.

mod support;

use std::time::Duration;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use http_body_util::BodyExt;
use nokkel_core::id_number::{IdNumber, SyntheticPolicy};
use nokkel_server::i18n::Lang;
use nokkel_server::services::login::{self, LoginChannel};
use support::*;
use tower::ServiceExt;

server_tests!(counters_move_with_a_login);

/// Scrapes `/metrics` and parses it with `prometheus-parse` (not our code).
async fn scrape(server: &TestServer) -> prometheus_parse::Scrape {
    let app = nokkel_server::http::metrics::app(server.state.clone());
    let res = app
        .oneshot(Request::get("/metrics").body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let content_type = res.headers()[header::CONTENT_TYPE]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        content_type.starts_with("text/plain; version=0.0.4"),
        "{content_type}"
    );
    let body = res.into_body().collect().await.unwrap().to_bytes();
    let text = String::from_utf8(body.to_vec()).unwrap();
    let lines = text.lines().map(|l| Ok(l.to_owned()));
    prometheus_parse::Scrape::parse(lines).expect("Prometheus text")
}

/// The value of `name` with label `label=value` (0 when absent: never recorded yet).
fn value(scrape: &prometheus_parse::Scrape, name: &str, label: Option<(&str, &str)>) -> f64 {
    scrape
        .samples
        .iter()
        .filter(|s| s.metric == name)
        .filter(|s| label.is_none_or(|(k, v)| s.labels.get(k) == Some(v)))
        .map(|s| match &s.value {
            prometheus_parse::Value::Counter(v)
            | prometheus_parse::Value::Gauge(v)
            | prometheus_parse::Value::Untyped(v) => *v,
            prometheus_parse::Value::Histogram(buckets) => {
                buckets.iter().map(|b| b.count).fold(0.0, f64::max)
            }
            prometheus_parse::Value::Summary(_) => 0.0,
        })
        .sum()
}

async fn counters_move_with_a_login(server: TestServer) {
    let before = scrape(&server).await;
    let mut device = server.enrolled_device(ADULT, 1).await;
    let pid = IdNumber::parse(ADULT, SyntheticPolicy::Accept).unwrap();
    let channel = LoginChannel::Browser {
        user_agent: "test".into(),
        ip: "127.0.0.1".into(),
        lang: Lang::Nb,
    };
    let started = login::start_app_login(&server.state, &pid, None, "NAV", &channel)
        .await
        .unwrap();
    let during = scrape(&server).await;
    assert!(value(&during, "nokkel_pending_logins", None) >= 1.0);

    // The browser waits, the app approves, the browser is told.
    let state = server.state.clone();
    let id = started.id.clone();
    let waiting = tokio::spawn(async move {
        login::wait_decided(&state, &id, Duration::from_secs(10))
            .await
            .unwrap()
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    let challenge = device.pending(START).await.unwrap();
    let (cid, jws) = device.approval(challenge, u8::try_from(started.number).unwrap(), START);
    assert_eq!(
        device.send_approval(&cid, &jws, START).await.status,
        StatusCode::OK
    );
    assert_eq!(waiting.await.unwrap().unwrap().state, "approved");

    let after = scrape(&server).await;
    let moved = |name: &str, label: Option<(&str, &str)>| {
        value(&after, name, label) - value(&before, name, label)
    };
    assert!(moved("nokkel_logins_started_total", Some(("method", "app"))) >= 1.0);
    assert!(moved("nokkel_logins_ended_total", Some(("outcome", "approved"))) >= 1.0);
    assert!(moved("nokkel_login_notify_seconds_count", None) >= 1.0);
    let buckets = after
        .samples
        .iter()
        .find(|s| s.metric == "nokkel_login_notify_seconds")
        .expect("the notify histogram");
    assert!(matches!(
        buckets.value,
        prometheus_parse::Value::Histogram(_)
    ));
    assert!(value(&after, "process_cpu_seconds_total", None) > 0.0);
    assert!(value(&after, "process_resident_memory_bytes", None) > 0.0);
    assert!(
        after.docs.contains_key("nokkel_logins_started_total"),
        "HELP lines"
    );
}
