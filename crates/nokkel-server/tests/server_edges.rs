#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! The HTTP edge's own defences, on every backend: which address a request comes from
//! behind a proxy.

mod support;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use http_body_util::BodyExt;
use nokkel_server::Config;
use support::*;
use tower::ServiceExt;

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

/// nginx's `$proxy_add_x_forwarded_for` appends the address it saw to whatever the client
/// sent, so only the right-most entry is the proxy's word; the rest is the client's.
async fn client_address_is_the_one_the_proxy_saw(server: TestServer) {
    let request = Request::post("/api/v1/orders")
        .header(header::CONTENT_TYPE, "application/json")
        .header("x-forwarded-for", "6.6.6.6, 10.1.2.3")
        .body(Body::from(
            serde_json::json!({"v": 1, "pid": ADULT, "mobile": "91234567"}).to_string(),
        ))
        .unwrap();
    let (status, body) = send(&server, request).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{body}");
    server.state.audit.flush().await;
    let audit = server.state.store.audit_for(ADULT).await.unwrap();
    let ordered = audit.iter().find(|e| e.event == "letter_ordered").unwrap();
    assert_eq!(ordered.client_ip.as_deref(), Some("10.1.2.3"));
}
