//! The three push services as loopback peers, shared by the server's push tests
//! (tests/server_push.rs) and the end-to-end test through `nokkel serve`
//! (crates/nokkel-cli/tests/push_e2e.rs, which includes this file by path). Each stands in
//! for someone else's service and checks what that service checks:
//!
//! - [`WebPushPeer`]: a Web Push endpoint (RFC 8030); [`WebPushPeer::open`] checks the
//!   VAPID JWT (RFC 8292) as the push service would and decrypts the body (RFC 8291) with
//!   the subscription's private key, as the browser would;
//! - [`FcmPeer`]: FCM HTTP v1, an OAuth2 token endpoint that checks the service account's
//!   RS256 assertion and `messages:send` that checks the bearer token it issued;
//! - [`ApnsPeer`]: APNs, an HTTP/2 server (h2c prior knowledge, so an HTTP/1.1 client fails
//!   the handshake); [`apns_check`] checks the provider JWT and the headers.
//!
//! The peers run on the current tokio runtime (`tokio::spawn`).
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::sync::atomic::{AtomicU16, Ordering};
use std::sync::{Arc, Mutex};

use axum::http::{HeaderMap, StatusCode};
use nokkel_core::push::web_push;

// RFC 8291 appendix A: the user agent's (the subscribed browser's) keys.
pub const UA_PUBLIC: &str =
    "BCVxsr7N_eNgVRqvHtD0zTZsEc6-VV-JvLexhqUzORcxaOzi6-AYWXvTBHm4bjyPjs7Vd8pZGH6SRpkNtoIAiw4";
pub const UA_PRIVATE: &str = "q1dXpw3UpT5VOmu_cf_v6ih07Aems3njxI-JWgLcM94";
pub const AUTH: &str = "BTBZMqHH6r4Tts7J_aSIgg";
/// The VAPID subject the test servers are configured with.
pub const VAPID_SUBJECT: &str = "mailto:drift@nokkel.example";

pub const FCM_KEY_PEM: &str = include_str!("../fixtures/fcm-test-only-key.pem");
pub const FCM_PROJECT: &str = "test-project";
pub const FCM_KEY_ID: &str = "test-key-id";
pub const FCM_CLIENT_EMAIL: &str = "nokkel@test-project.iam.gserviceaccount.com";

pub const APNS_KEY_PEM: &str = include_str!("../fixtures/apns-test-only-key.p8");
/// Where the APNs provider key lives, for a configuration file.
pub const APNS_KEY_FILE: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../nokkel-server/tests/fixtures/apns-test-only-key.p8"
);
pub const APNS_TEAM_ID: &str = "TEAM123456";
pub const APNS_KEY_ID: &str = "KEY7890ABC";
pub const APNS_TOPIC: &str = "no.nokkel.app";

pub fn b64(s: &str) -> Vec<u8> {
    use base64::Engine as _;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(s)
        .unwrap()
}

// --- Web Push ---------------------------------------------------------------------------

/// What reached the Web Push peer.
#[derive(Debug, Clone)]
pub struct Received {
    pub at: std::time::Instant,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
}

/// A Web Push endpoint on loopback: records each request and answers `status`.
pub struct WebPushPeer {
    pub endpoint: String,
    pub origin: String,
    received: Arc<Mutex<Vec<Received>>>,
    pub status: Arc<AtomicU16>,
}

impl WebPushPeer {
    pub async fn start() -> WebPushPeer {
        let received = Arc::new(Mutex::new(Vec::new()));
        let status = Arc::new(AtomicU16::new(201));
        let (log, answer) = (received.clone(), status.clone());
        let app = axum::Router::new().route(
            "/push/{id}",
            axum::routing::post(move |headers: HeaderMap, body: axum::body::Bytes| {
                let at = std::time::Instant::now();
                let (log, answer) = (log.clone(), answer.clone());
                async move {
                    log.lock().unwrap().push(Received {
                        at,
                        headers,
                        body: body.to_vec(),
                    });
                    StatusCode::from_u16(answer.load(Ordering::SeqCst)).unwrap()
                }
            }),
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let origin = format!("http://{}", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        WebPushPeer {
            endpoint: format!("{origin}/push/JzLQ3raZJfFBR0aqvOMsLrt54w4rJUsV"),
            origin,
            received,
            status,
        }
    }

    pub fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }

    /// Checks a push as a push service and the browser would: the VAPID JWT for this
    /// origin, the headers, and the body decrypted with the subscription's private key.
    pub fn open(&self, push: &Received, now: i64) -> serde_json::Value {
        let header = |name: &str| push.headers[name].to_str().unwrap().to_owned();
        let (claims, _key) = web_push::verify_vapid(&header("authorization"), &self.origin, now)
            .unwrap_or_else(|e| panic!("VAPID refused: {e}"));
        assert_eq!(claims.sub, VAPID_SUBJECT);
        assert_eq!(header("content-encoding"), "aes128gcm");
        assert_eq!(header("urgency"), "high");
        let ua = p256::SecretKey::from_slice(&b64(UA_PRIVATE)).unwrap();
        let auth: [u8; 16] = b64(AUTH).try_into().unwrap();
        let plain = web_push::decrypt(&push.body, &ua, &auth).unwrap();
        serde_json::from_slice(&plain).unwrap()
    }
}

// --- FCM --------------------------------------------------------------------------------

/// FCM HTTP v1 on loopback: an OAuth2 token endpoint that checks the service account's
/// RS256 assertion, and `messages:send` that checks the bearer token it issued.
pub struct FcmPeer {
    pub origin: String,
    pub tokens_issued: Arc<Mutex<Vec<serde_json::Value>>>,
    sends: Arc<Mutex<Vec<serde_json::Value>>>,
    pub answer: Arc<Mutex<(u16, String)>>,
}

fn fcm_key_der() -> Vec<u8> {
    use base64::Engine as _;
    let body: String = FCM_KEY_PEM
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect();
    base64::engine::general_purpose::STANDARD
        .decode(body)
        .unwrap()
}

impl FcmPeer {
    pub async fn start() -> FcmPeer {
        use axum::extract::{Form, Path};
        let tokens_issued = Arc::new(Mutex::new(Vec::new()));
        let sends = Arc::new(Mutex::new(Vec::new()));
        let answer = Arc::new(Mutex::new((
            200u16,
            r#"{"name":"projects/p/messages/1"}"#.to_owned(),
        )));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let origin = format!("http://{}", listener.local_addr().unwrap());
        let public = ring::signature::RsaKeyPair::from_pkcs8(&fcm_key_der())
            .unwrap()
            .public()
            .as_ref()
            .to_vec();
        let (issued, token_uri) = (tokens_issued.clone(), format!("{origin}/token"));
        let token = axum::routing::post(
            move |Form(form): Form<std::collections::HashMap<String, String>>| {
                let (issued, public, token_uri) =
                    (issued.clone(), public.clone(), token_uri.clone());
                async move {
                    assert_eq!(
                        form["grant_type"],
                        "urn:ietf:params:oauth:grant-type:jwt-bearer"
                    );
                    let jwt = &form["assertion"];
                    let (input, signature) = jwt.rsplit_once('.').unwrap();
                    ring::signature::UnparsedPublicKey::new(
                        &ring::signature::RSA_PKCS1_2048_8192_SHA256,
                        &public,
                    )
                    .verify(input.as_bytes(), &b64(signature))
                    .expect("the assertion is signed with the service account's key");
                    let (header, claims) = input.split_once('.').unwrap();
                    let header: serde_json::Value = serde_json::from_slice(&b64(header)).unwrap();
                    assert_eq!(header["alg"], "RS256");
                    assert_eq!(header["kid"], FCM_KEY_ID);
                    let claims: serde_json::Value = serde_json::from_slice(&b64(claims)).unwrap();
                    assert_eq!(claims["iss"], FCM_CLIENT_EMAIL);
                    assert_eq!(
                        claims["scope"],
                        "https://www.googleapis.com/auth/firebase.messaging"
                    );
                    assert_eq!(claims["aud"], token_uri.as_str());
                    let lifetime =
                        claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap();
                    assert!((1..=3600).contains(&lifetime));
                    let mut issued = issued.lock().unwrap();
                    issued.push(claims);
                    axum::Json(serde_json::json!({
                        "access_token": format!("bearer-{}", issued.len()),
                        "expires_in": 3599,
                        "token_type": "Bearer"
                    }))
                }
            },
        );
        let (log, issued, reply) = (sends.clone(), tokens_issued.clone(), answer.clone());
        let send = axum::routing::post(
            move |Path((project, method)): Path<(String, String)>,
                  headers: HeaderMap,
                  axum::Json(body): axum::Json<serde_json::Value>| {
                let (log, issued, reply) = (log.clone(), issued.clone(), reply.clone());
                async move {
                    assert_eq!(
                        (project.as_str(), method.as_str()),
                        (FCM_PROJECT, "messages:send")
                    );
                    let bearer = format!("Bearer bearer-{}", issued.lock().unwrap().len());
                    if headers["authorization"].to_str().unwrap() != bearer {
                        return (StatusCode::UNAUTHORIZED, String::new());
                    }
                    log.lock().unwrap().push(body);
                    let (status, text) = reply.lock().unwrap().clone();
                    (StatusCode::from_u16(status).unwrap(), text)
                }
            },
        );
        let app = axum::Router::new()
            .route("/token", token)
            .route("/v1/projects/{project}/{method}", send);
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        FcmPeer {
            origin,
            tokens_issued,
            sends,
            answer,
        }
    }

    pub fn sends(&self) -> Vec<serde_json::Value> {
        self.sends.lock().unwrap().clone()
    }

    /// Writes the service-account file a server needs to talk to this peer into `dir`
    /// and returns its path.
    pub fn write_service_account(&self, dir: &std::path::Path) -> std::path::PathBuf {
        let account = dir.join("service-account.json");
        std::fs::write(
            &account,
            serde_json::json!({
                "type": "service_account",
                "project_id": FCM_PROJECT,
                "private_key_id": FCM_KEY_ID,
                "private_key": FCM_KEY_PEM,
                "client_email": FCM_CLIENT_EMAIL,
                "token_uri": format!("{}/token", self.origin),
            })
            .to_string(),
        )
        .unwrap();
        account
    }
}

// --- APNs -------------------------------------------------------------------------------

#[derive(Clone)]
pub struct ApnsRequest {
    pub path: String,
    pub version: http::Version,
    pub headers: http::HeaderMap,
    pub body: Vec<u8>,
}

/// An APNs stand-in: an HTTP/2 server (h2c prior knowledge) that records each request and
/// answers `answer`.
pub struct ApnsPeer {
    requests: Arc<Mutex<Vec<ApnsRequest>>>,
    pub answer: Arc<Mutex<(u16, String)>>,
}

impl ApnsPeer {
    /// Serves on `listener` (bound before the server under test was configured).
    pub fn serve(listener: std::net::TcpListener) -> ApnsPeer {
        listener.set_nonblocking(true).unwrap();
        let listener = tokio::net::TcpListener::from_std(listener).unwrap();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let answer = Arc::new(Mutex::new((200u16, String::new())));
        let (log, reply) = (requests.clone(), answer.clone());
        tokio::spawn(async move {
            loop {
                let (socket, _) = listener.accept().await.unwrap();
                let (log, reply) = (log.clone(), reply.clone());
                tokio::spawn(async move {
                    let mut conn = h2::server::handshake(socket).await.unwrap();
                    while let Some(Ok((request, mut respond))) = conn.accept().await {
                        let (log, reply) = (log.clone(), reply.clone());
                        tokio::spawn(async move {
                            let (parts, mut body) = request.into_parts();
                            let mut data = Vec::new();
                            while let Some(chunk) = body.data().await {
                                let chunk = chunk.unwrap();
                                let _ = body.flow_control().release_capacity(chunk.len());
                                data.extend_from_slice(&chunk);
                            }
                            log.lock().unwrap().push(ApnsRequest {
                                path: parts.uri.path().to_owned(),
                                version: parts.version,
                                headers: parts.headers,
                                body: data,
                            });
                            let (status, text) = reply.lock().unwrap().clone();
                            let response = http::Response::builder()
                                .status(status)
                                .header("apns-id", "EB4D2B0A-5AD1-4C5E-9E44-1B8C3E6F0B21")
                                .body(())
                                .unwrap();
                            if text.is_empty() {
                                respond.send_response(response, true).unwrap();
                            } else {
                                let mut stream = respond.send_response(response, false).unwrap();
                                stream.send_data(bytes::Bytes::from(text), true).unwrap();
                            }
                        });
                    }
                });
            }
        });
        ApnsPeer { requests, answer }
    }

    pub fn requests(&self) -> Vec<ApnsRequest> {
        self.requests.lock().unwrap().clone()
    }
}

/// A device token as APNs hands them out: 32 bytes in hex.
pub fn apns_token(n: u8) -> String {
    format!("{n:02x}").repeat(32)
}

/// Checks a request as APNs would: HTTP/2, the provider JWT signed by the team's key with
/// the right `kid`, `iss` and a fresh `iat`, and the headers. Returns the JWT and payload.
pub fn apns_check(request: &ApnsRequest, now: i64, expires_at: i64) -> (String, serde_json::Value) {
    use p256::ecdsa::signature::Verifier as _;
    use p256::pkcs8::DecodePrivateKey as _;
    assert_eq!(request.version, http::Version::HTTP_2);
    let header = |name: &str| request.headers[name].to_str().unwrap().to_owned();
    let jwt = header("authorization")
        .strip_prefix("bearer ")
        .unwrap()
        .to_owned();
    let (input, signature) = jwt.rsplit_once('.').unwrap();
    let public = *p256::ecdsa::SigningKey::from_pkcs8_pem(APNS_KEY_PEM)
        .unwrap()
        .verifying_key();
    let signature = p256::ecdsa::Signature::from_slice(&b64(signature)).unwrap();
    public
        .verify(input.as_bytes(), &signature)
        .expect("the provider JWT is signed with the team's key");
    let (head, claims) = input.split_once('.').unwrap();
    let head: serde_json::Value = serde_json::from_slice(&b64(head)).unwrap();
    assert_eq!(
        head,
        serde_json::json!({"alg": "ES256", "kid": APNS_KEY_ID})
    );
    let claims: serde_json::Value = serde_json::from_slice(&b64(claims)).unwrap();
    assert_eq!(claims.as_object().unwrap().len(), 2, "{claims}");
    assert_eq!(claims["iss"], APNS_TEAM_ID);
    let age = now - claims["iat"].as_i64().unwrap();
    assert!((0..3600).contains(&age), "a provider token {age} s old");
    assert_eq!(header("apns-topic"), APNS_TOPIC);
    assert_eq!(header("apns-push-type"), "alert");
    assert_eq!(header("apns-priority"), "10");
    assert_eq!(header("apns-expiration"), expires_at.to_string());
    let collapse = header("apns-collapse-id");
    assert!(!collapse.is_empty() && collapse.len() <= 64);
    (jwt, serde_json::from_slice(&request.body).unwrap())
}
