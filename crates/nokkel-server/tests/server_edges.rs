#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! The HTTP edge's own defences, on every backend: which address a request comes from
//! behind a proxy, the CSRF check on every state-changing page request whatever its
//! content type, and links on error pages that stay on this site.

mod support;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use http_body_util::BodyExt;
use nokkel_server::Config;
use support::*;
use tower::ServiceExt;

server_tests!(
    a_page_post_without_a_form_body_is_refused,
    error_page_language_links_stay_on_this_site,
);

server_tests!(mod behind_one_proxy with crate::behind_one_proxy;
    client_address_is_the_one_the_proxy_saw,
);

fn behind_one_proxy(config: &mut Config) {
    config.trust_forwarded_for = true;
}

async fn send(server: &TestServer, request: Request<Body>) -> (StatusCode, String) {
    let res = server.app.clone().oneshot(request).await.unwrap();
    let status = res.status();
    let body = res.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8(body.to_vec()).unwrap())
}

async fn logins_started(server: &TestServer, pid: &str) -> usize {
    server.state.audit.flush().await;
    server
        .state
        .store
        .audit_for(pid)
        .await
        .unwrap()
        .iter()
        .filter(|e| e.event == "login_started")
        .count()
}

/// nginx's `$proxy_add_x_forwarded_for` appends the address it saw to whatever the client
/// sent, so only the right-most entry is the proxy's word; the rest is the client's.
async fn client_address_is_the_one_the_proxy_saw(server: TestServer) {
    let request = Request::post("/api/v1/orders")
        .header(header::CONTENT_TYPE, "application/json")
        .header("x-forwarded-for", "6.6.6.6, 10.1.2.3")
        .body(Body::from(
            serde_json::json!({"v": 1, "pid": ADULT}).to_string(),
        ))
        .unwrap();
    let (status, body) = send(&server, request).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    server.state.audit.flush().await;
    let audit = server.state.store.audit_for(ADULT).await.unwrap();
    let ordered = audit.iter().find(|e| e.event == "letter_ordered").unwrap();
    assert_eq!(ordered.client_ip.as_deref(), Some("10.1.2.3"));
}

/// A cross-site page can post `text/plain` without a preflight; such a post carries no
/// CSRF token and must not change anything.
async fn a_page_post_without_a_form_body_is_refused(server: TestServer) {
    server.enrolled_device(ADULT, 1).await;
    let mut browser = server.browser();
    let res = browser.get(&authorize_url("openid")).await;
    let location = res.location.unwrap();
    let request = location.trim_start_matches("/login?request=").to_owned();
    let res = browser
        .post("/login", &[("request", &request), ("pid", ADULT)])
        .await;
    assert_eq!(res.location.as_deref(), Some("/login/app"), "{}", res.body);
    let started = logins_started(&server, ADULT).await;
    assert_eq!(started, 1);

    let cookies = browser
        .cookies
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join("; ");
    for path in ["/login/retry", "/demo/login", "/login/cancel"] {
        let request = Request::post(path)
            .header(header::CONTENT_TYPE, "text/plain")
            .header(header::COOKIE, &cookies)
            .body(Body::from("request=x"))
            .unwrap();
        let (status, body) = send(&server, request).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{path}: {body}");
    }
    assert_eq!(
        logins_started(&server, ADULT).await,
        started,
        "no new login was started"
    );
}

/// `//evil.example/` is a path to the router but a link to another site in a page.
async fn error_page_language_links_stay_on_this_site(server: TestServer) {
    let res = server.browser().get("//evil.example/").await;
    assert_eq!(res.status, StatusCode::NOT_FOUND);
    assert!(!res.body.contains("evil.example"), "{}", res.body);
    assert!(res.body.contains("?lang=en"), "{}", res.body);
}
