#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
//! The OpenID Connect provider on both backends: the code flow with PKCE (the login
//! itself stood in for by `oidc::complete_authorization`), the ID token's claims and
//! signature against the JWKS, client authentication, the negative cases (each refused
//! with its RFC 6749 error code and without changing anything), discovery, key rotation,
//! the seam the login pages use, and the demo relying party over real loopback HTTP.

mod support;

use std::collections::HashMap;

use axum::body::Body;
use axum::http::{header, HeaderMap, Request, StatusCode};
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use http_body_util::BodyExt;
use nokkel_core::jws::UnverifiedJws;
use nokkel_core::keys::{PublicJwk, PublicKey};
use nokkel_server::services::keys::rotate_id_token_key;
use nokkel_server::services::oidc::{
    self, Authenticated, AuthorizationError, ClientRegistration, OidcError,
};
use nokkel_server::Config;
use serde_json::Value;
use support::*;
use tower::ServiceExt;

server_tests!(
    code_flow_gives_a_signed_id_token_with_the_promised_claims,
    pid_claim_only_with_the_pid_scope_and_subjects_are_pairwise,
    both_client_authentication_methods_work,
    wrong_client_secret_is_invalid_client_and_changes_nothing,
    failed_client_authentication_is_throttled,
    pkce_mismatch_is_invalid_grant_and_changes_nothing,
    code_reuse_is_refused_and_revokes_the_tokens,
    expired_code_and_foreign_client_are_invalid_grant,
    unregistered_redirect_uri_is_an_error_page_not_a_redirect,
    unknown_client_is_an_error_page,
    missing_or_plain_pkce_is_refused_back_to_the_client,
    other_authorize_errors_go_back_to_the_client,
    token_endpoint_request_errors,
    discovery_document_describes_the_provider,
    rotated_key_is_published_before_it_signs,
    login_seam_shows_completes_once_and_fails,
    authorize_by_post_and_language_hint,
    userinfo_needs_a_live_bearer_token,
    logout_redirects_only_to_registered_uris,
    demo_relying_party_logs_in_over_loopback_http,
);

const DEMO_REDIRECT: &str = "http://127.0.0.1:49152/callback";
const ISSUER: &str = "http://nokkel.test";

fn challenge_of(verifier: &str) -> String {
    URL_SAFE_NO_PAD.encode(ring::digest::digest(
        &ring::digest::SHA256,
        verifier.as_bytes(),
    ))
}

/// A relying party's side of one flow.
struct Flow {
    client_id: String,
    secret: String,
    redirect_uri: String,
    verifier: String,
    scope: String,
    state: String,
    nonce: String,
}

impl Flow {
    fn demo() -> Flow {
        Flow {
            client_id: "demo-rp".into(),
            secret: "demo-secret".into(),
            redirect_uri: DEMO_REDIRECT.into(),
            verifier: "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk".into(),
            scope: "openid pid".into(),
            state: "st-123".into(),
            nonce: "n-0S6_WzA2Mj".into(),
        }
    }

    fn authorize_query(&self) -> String {
        form_urlencoded::Serializer::new(String::new())
            .append_pair("response_type", "code")
            .append_pair("client_id", &self.client_id)
            .append_pair("redirect_uri", &self.redirect_uri)
            .append_pair("scope", &self.scope)
            .append_pair("state", &self.state)
            .append_pair("nonce", &self.nonce)
            .append_pair("code_challenge", &challenge_of(&self.verifier))
            .append_pair("code_challenge_method", "S256")
            .finish()
    }
}

fn query_of(url: &str) -> HashMap<String, String> {
    let url = url::Url::parse(url).unwrap();
    url.query_pairs().into_owned().collect()
}

/// Sends the browser to /oauth/authorize and returns the pending request id.
async fn start(server: &TestServer, flow: &Flow) -> String {
    let res = server
        .browser()
        .get(&format!("/oauth/authorize?{}", flow.authorize_query()))
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
    let location = res.location.unwrap();
    let id = location
        .strip_prefix("/login?request=")
        .unwrap_or_else(|| panic!("not sent to the login page: {location}"));
    id.split('&').next().unwrap().to_owned()
}

fn alice() -> Authenticated {
    Authenticated {
        pid: ADULT.into(),
        amr: vec!["app".into()],
        auth_time: START - 5,
    }
}

/// Runs the flow up to the code (login stood in for by complete_authorization).
async fn code_for(server: &TestServer, flow: &Flow, who: Authenticated) -> String {
    let id = start(server, flow).await;
    let url = oidc::complete_authorization(&server.state, &id, who)
        .await
        .unwrap();
    assert!(url.starts_with(&flow.redirect_uri), "{url}");
    let q = query_of(&url);
    assert_eq!(q["state"], flow.state);
    assert_eq!(q["iss"], ISSUER, "RFC 9207 iss on the response");
    q["code"].clone()
}

struct TokenResponse {
    status: StatusCode,
    headers: HeaderMap,
    json: Value,
}

enum Auth<'a> {
    Basic(&'a str, &'a str),
    Post(&'a str, &'a str),
    None,
}

async fn token_request(
    server: &TestServer,
    fields: &[(&str, &str)],
    auth: Auth<'_>,
) -> TokenResponse {
    let mut all: Vec<(&str, &str)> = fields.to_vec();
    let mut request = Request::post("/oauth/token")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
    match auth {
        Auth::Basic(id, secret) => {
            let encode =
                |s: &str| form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
            let credentials = STANDARD.encode(format!("{}:{}", encode(id), encode(secret)));
            request = request.header(header::AUTHORIZATION, format!("Basic {credentials}"));
        }
        Auth::Post(id, secret) => {
            all.push(("client_id", id));
            all.push(("client_secret", secret));
        }
        Auth::None => {}
    }
    let body = form_urlencoded::Serializer::new(String::new())
        .extend_pairs(all)
        .finish();
    let res = server
        .app
        .clone()
        .oneshot(request.body(Body::from(body)).unwrap())
        .await
        .unwrap();
    let status = res.status();
    let headers = res.headers().clone();
    let bytes = res.into_body().collect().await.unwrap().to_bytes();
    let json = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    TokenResponse {
        status,
        headers,
        json,
    }
}

async fn redeem(server: &TestServer, flow: &Flow, code: &str, verifier: &str) -> TokenResponse {
    token_request(
        server,
        &[
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", &flow.redirect_uri),
            ("code_verifier", verifier),
        ],
        Auth::Basic(&flow.client_id, &flow.secret),
    )
    .await
}

async fn get_json(server: &TestServer, path: &str) -> Value {
    let res = server.browser().get(path).await;
    assert_eq!(res.status, StatusCode::OK, "{path}: {}", res.body);
    serde_json::from_str(&res.body).unwrap()
}

/// Verifies the ID token against the JWKS the server publishes; returns (kid, claims).
async fn verify_id_token(server: &TestServer, token: &str) -> (String, Value) {
    let jwks = get_json(server, "/oauth/jwks").await;
    let jws = UnverifiedJws::decode(token, "JWT").unwrap();
    let kid = jws.kid().unwrap().to_owned();
    let jwk = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kid"] == kid.as_str())
        .unwrap_or_else(|| panic!("kid {kid} not in the JWKS {jwks}"));
    assert_eq!(jwk["alg"], "ES256");
    assert_eq!(jwk["use"], "sig");
    let public = PublicKey::from_jwk(&PublicJwk {
        kty: jwk["kty"].as_str().unwrap().into(),
        crv: jwk["crv"].as_str().unwrap().into(),
        x: jwk["x"].as_str().unwrap().into(),
        y: jwk["y"].as_str().unwrap().into(),
    })
    .unwrap();
    let payload = jws.verify(&public).expect("ID token signature verifies");
    (kid, serde_json::from_slice(&payload).unwrap())
}

async fn userinfo(server: &TestServer, access_token: &str) -> (StatusCode, HeaderMap, Value) {
    let res = server
        .app
        .clone()
        .oneshot(
            Request::get("/oauth/userinfo")
                .header(header::AUTHORIZATION, format!("Bearer {access_token}"))
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    let status = res.status();
    let headers = res.headers().clone();
    let bytes = res.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        headers,
        serde_json::from_slice(&bytes).unwrap_or(Value::Null),
    )
}

async fn audit_count(server: &TestServer, event: &str) -> usize {
    server.state.audit.flush().await;
    server
        .state
        .store
        .recent_audit(10_000)
        .await
        .unwrap()
        .iter()
        .filter(|e| e.event == event)
        .count()
}

async fn code_record(
    server: &TestServer,
    code: &str,
) -> nokkel_server::store::AuthorizationCodeRecord {
    server
        .state
        .store
        .authorization_code(&server.state.secrets.token_hash(code))
        .await
        .unwrap()
        .unwrap()
}

async fn register(server: &TestServer, id: &str, scopes: &[&str]) -> Flow {
    let registered = oidc::register_client(
        &server.state.store,
        &server.state.secrets,
        server.state.random.as_ref(),
        &ClientRegistration {
            id: id.into(),
            name: "Skatteetaten".into(),
            redirect_uris: vec![format!("https://{id}.example/cb")],
            post_logout_redirect_uris: vec![format!("https://{id}.example/bye")],
            scopes: scopes.iter().map(|s| (*s).to_owned()).collect(),
            loopback_any_port: false,
            secret: None,
        },
        START,
    )
    .await
    .unwrap();
    assert_eq!(
        registered.secret.len(),
        43,
        "generated secrets carry 256 bits"
    );
    Flow {
        client_id: id.into(),
        secret: registered.secret,
        redirect_uri: format!("https://{id}.example/cb"),
        scope: "openid".into(),
        ..Flow::demo()
    }
}

async fn code_flow_gives_a_signed_id_token_with_the_promised_claims(server: TestServer) {
    let flow = Flow::demo();
    let code = code_for(&server, &flow, alice()).await;
    let res = redeem(&server, &flow, &code, &flow.verifier).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.json);
    assert_eq!(res.headers[header::CACHE_CONTROL], "no-store");
    assert_eq!(res.headers[header::PRAGMA], "no-cache");
    assert_eq!(res.json["token_type"], "Bearer");
    assert_eq!(res.json["expires_in"], 300);
    assert_eq!(res.json["scope"], "openid pid");
    let access_token = res.json["access_token"].as_str().unwrap();
    let id_token = res.json["id_token"].as_str().unwrap();

    let (kid, claims) = verify_id_token(&server, id_token).await;
    let header: Value = serde_json::from_slice(
        &URL_SAFE_NO_PAD
            .decode(id_token.split('.').next().unwrap())
            .unwrap(),
    )
    .unwrap();
    assert_eq!(header["alg"], "ES256");
    assert_eq!(header["kid"], kid.as_str());
    assert_eq!(claims["iss"], ISSUER);
    assert_eq!(claims["aud"], "demo-rp");
    assert_eq!(claims["pid"], ADULT);
    assert_eq!(claims["acr"], "nokkel-loa-substantial");
    assert_eq!(claims["amr"], serde_json::json!(["app"]));
    assert_eq!(claims["auth_time"], START - 5);
    assert_eq!(claims["nonce"], flow.nonce);
    assert_eq!(claims["iat"], START);
    assert_eq!(claims["exp"], START + 300);
    let digest = ring::digest::digest(&ring::digest::SHA256, access_token.as_bytes());
    assert_eq!(
        claims["at_hash"],
        URL_SAFE_NO_PAD.encode(&digest.as_ref()[..16])
    );
    let sub = claims["sub"].as_str().unwrap();
    assert_eq!(sub.len(), 43);
    assert_ne!(sub, ADULT);

    // Userinfo agrees with the ID token.
    let (status, headers, info) = userinfo(&server, access_token).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(headers[header::CACHE_CONTROL], "no-store");
    assert_eq!(info["sub"], sub);
    assert_eq!(info["pid"], ADULT);

    // An SMS login reports its methods.
    let code = code_for(
        &server,
        &flow,
        Authenticated {
            pid: SMS_USER.into(),
            amr: vec!["pwd".into(), "otp".into()],
            auth_time: START,
        },
    )
    .await;
    let res = redeem(&server, &flow, &code, &flow.verifier).await;
    let (_, claims) = verify_id_token(&server, res.json["id_token"].as_str().unwrap()).await;
    assert_eq!(claims["amr"], serde_json::json!(["pwd", "otp"]));
    assert_eq!(claims["pid"], SMS_USER);
    assert_eq!(audit_count(&server, "oidc_token_issued").await, 2);
}

async fn pid_claim_only_with_the_pid_scope_and_subjects_are_pairwise(server: TestServer) {
    let plain = register(&server, "skatt", &[]).await;
    let code = code_for(&server, &plain, alice()).await;
    let res = redeem(&server, &plain, &code, &plain.verifier).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.json);
    assert_eq!(res.json["scope"], "openid");
    let (_, claims) = verify_id_token(&server, res.json["id_token"].as_str().unwrap()).await;
    assert!(
        claims.get("pid").is_none(),
        "no pid without the pid scope: {claims}"
    );
    let (_, _, info) = userinfo(&server, res.json["access_token"].as_str().unwrap()).await;
    assert!(info.get("pid").is_none());
    let sub_skatt = claims["sub"].as_str().unwrap().to_owned();

    // The client may not ask for a scope it was not given.
    let greedy = Flow {
        scope: "openid pid".into(),
        ..register(&server, "nav", &[]).await
    };
    let res = server
        .browser()
        .get(&format!("/oauth/authorize?{}", greedy.authorize_query()))
        .await;
    let q = query_of(res.location.as_deref().unwrap());
    assert_eq!(q["error"], "invalid_scope");

    // Same person, same client: same sub. Another client: another sub.
    let code = code_for(&server, &plain, alice()).await;
    let res = redeem(&server, &plain, &code, &plain.verifier).await;
    let (_, again) = verify_id_token(&server, res.json["id_token"].as_str().unwrap()).await;
    assert_eq!(again["sub"], sub_skatt.as_str());
    let demo = Flow::demo();
    let code = code_for(&server, &demo, alice()).await;
    let res = redeem(&server, &demo, &code, &demo.verifier).await;
    let (_, other) = verify_id_token(&server, res.json["id_token"].as_str().unwrap()).await;
    assert_ne!(other["sub"], sub_skatt.as_str());
}

async fn both_client_authentication_methods_work(server: TestServer) {
    let flow = Flow::demo();
    for method in ["basic", "post"] {
        let code = code_for(&server, &flow, alice()).await;
        let fields = [
            ("grant_type", "authorization_code"),
            ("code", code.as_str()),
            ("redirect_uri", flow.redirect_uri.as_str()),
            ("code_verifier", flow.verifier.as_str()),
        ];
        let auth = match method {
            "basic" => Auth::Basic("demo-rp", "demo-secret"),
            _ => Auth::Post("demo-rp", "demo-secret"),
        };
        let res = token_request(&server, &fields, auth).await;
        assert_eq!(res.status, StatusCode::OK, "{method}: {}", res.json);
        assert!(res.json["id_token"].is_string());
    }
    // Both at once is ambiguous.
    let code = code_for(&server, &flow, alice()).await;
    let mut request = Request::post("/oauth/token")
        .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded");
    request = request.header(
        header::AUTHORIZATION,
        format!("Basic {}", STANDARD.encode("demo-rp:demo-secret")),
    );
    let body = form_urlencoded::Serializer::new(String::new())
        .append_pair("grant_type", "authorization_code")
        .append_pair("code", &code)
        .append_pair("redirect_uri", &flow.redirect_uri)
        .append_pair("code_verifier", &flow.verifier)
        .append_pair("client_secret", "demo-secret")
        .finish();
    let res = server
        .app
        .clone()
        .oneshot(request.body(Body::from(body)).unwrap())
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::BAD_REQUEST);
    assert!(code_record(&server, &code).await.used_at.is_none());
}

async fn wrong_client_secret_is_invalid_client_and_changes_nothing(server: TestServer) {
    let flow = Flow::demo();
    let code = code_for(&server, &flow, alice()).await;
    let before = code_record(&server, &code).await;
    let fields = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", flow.redirect_uri.as_str()),
        ("code_verifier", flow.verifier.as_str()),
    ];
    let basic = token_request(&server, &fields, Auth::Basic("demo-rp", "wrong-secret")).await;
    assert_eq!(basic.status, StatusCode::UNAUTHORIZED);
    assert_eq!(basic.json["error"], "invalid_client");
    assert!(basic.headers[header::WWW_AUTHENTICATE]
        .to_str()
        .unwrap()
        .starts_with("Basic"));
    assert_eq!(basic.headers[header::CACHE_CONTROL], "no-store");
    let post = token_request(&server, &fields, Auth::Post("demo-rp", "wrong-secret")).await;
    assert_eq!(post.status, StatusCode::UNAUTHORIZED);
    assert_eq!(post.json["error"], "invalid_client");
    assert!(post.headers.get(header::WWW_AUTHENTICATE).is_none());
    let unknown = token_request(&server, &fields, Auth::Post("nobody", "demo-secret")).await;
    assert_eq!(unknown.status, StatusCode::UNAUTHORIZED);
    assert_eq!(unknown.json["error"], "invalid_client");
    let none = token_request(&server, &fields, Auth::None).await;
    assert_eq!(none.json["error"], "invalid_client");

    assert_eq!(code_record(&server, &code).await, before, "nothing changed");
    assert_eq!(audit_count(&server, "oidc_token_issued").await, 0);
    let res = redeem(&server, &flow, &code, &flow.verifier).await;
    assert_eq!(res.status, StatusCode::OK, "the rightful client still can");
}

/// Ten failed client authentications per minute from one address; then even the right
/// secret waits for the next minute (docs/OIDC.md § Token endpoint).
async fn failed_client_authentication_is_throttled(server: TestServer) {
    let flow = Flow::demo();
    let code = code_for(&server, &flow, alice()).await;
    let fields = [
        ("grant_type", "authorization_code"),
        ("code", code.as_str()),
        ("redirect_uri", flow.redirect_uri.as_str()),
        ("code_verifier", flow.verifier.as_str()),
    ];
    for attempt in 1..=10 {
        let res = token_request(&server, &fields, Auth::Basic("demo-rp", "wrong-secret")).await;
        assert_eq!(res.status, StatusCode::UNAUTHORIZED, "attempt {attempt}");
        assert_eq!(res.json["error"], "invalid_client");
    }
    let res = redeem(&server, &flow, &code, &flow.verifier).await;
    assert_eq!(res.status, StatusCode::TOO_MANY_REQUESTS, "{}", res.json);
    assert_eq!(res.json["error"], "temporarily_unavailable");
    assert_eq!(res.headers[header::RETRY_AFTER], "60");
    assert!(code_record(&server, &code).await.used_at.is_none());

    server.clock.advance(60);
    let code = code_for(&server, &flow, alice()).await;
    let res = redeem(&server, &flow, &code, &flow.verifier).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.json);
}

async fn pkce_mismatch_is_invalid_grant_and_changes_nothing(server: TestServer) {
    let flow = Flow::demo();
    let code = code_for(&server, &flow, alice()).await;
    let before = code_record(&server, &code).await;
    let wrong = "Xa".repeat(22);
    let res = redeem(&server, &flow, &code, &wrong).await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
    assert_eq!(res.json["error"], "invalid_grant");
    assert_eq!(res.headers[header::CACHE_CONTROL], "no-store");
    assert_eq!(code_record(&server, &code).await, before, "nothing changed");
    assert_eq!(audit_count(&server, "oidc_token_issued").await, 0);

    let missing = token_request(
        &server,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", &flow.redirect_uri),
        ],
        Auth::Basic("demo-rp", "demo-secret"),
    )
    .await;
    assert_eq!(missing.json["error"], "invalid_request");
    assert_eq!(code_record(&server, &code).await, before);

    let res = redeem(&server, &flow, &code, &flow.verifier).await;
    assert_eq!(res.status, StatusCode::OK, "the real verifier still works");
}

async fn code_reuse_is_refused_and_revokes_the_tokens(server: TestServer) {
    let flow = Flow::demo();
    let code = code_for(&server, &flow, alice()).await;
    let first = redeem(&server, &flow, &code, &flow.verifier).await;
    assert_eq!(first.status, StatusCode::OK);
    let access_token = first.json["access_token"].as_str().unwrap();
    assert_eq!(userinfo(&server, access_token).await.0, StatusCode::OK);
    let used = code_record(&server, &code).await;
    assert_eq!(used.used_at, Some(START));
    assert_eq!(used.tokens_revoked_at, None);

    server.clock.advance(10);
    let second = redeem(&server, &flow, &code, &flow.verifier).await;
    assert_eq!(second.status, StatusCode::BAD_REQUEST);
    assert_eq!(second.json["error"], "invalid_grant");
    assert!(second.json.get("id_token").is_none());
    let (status, headers, _) = userinfo(&server, access_token).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "token revoked");
    assert_eq!(
        headers[header::WWW_AUTHENTICATE],
        "Bearer error=\"invalid_token\""
    );
    let revoked = code_record(&server, &code).await;
    assert_eq!(revoked.used_at, Some(START), "first use kept");
    assert_eq!(revoked.tokens_revoked_at, Some(START + 10));
    assert_eq!(audit_count(&server, "oidc_code_reused").await, 1);
    assert_eq!(audit_count(&server, "oidc_token_issued").await, 1);
}

async fn expired_code_and_foreign_client_are_invalid_grant(server: TestServer) {
    let flow = Flow::demo();
    let other = register(&server, "skatt", &[]).await;
    let code = code_for(&server, &flow, alice()).await;
    let before = code_record(&server, &code).await;
    let foreign = token_request(
        &server,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", &flow.redirect_uri),
            ("code_verifier", &flow.verifier),
        ],
        Auth::Basic(&other.client_id, &other.secret),
    )
    .await;
    assert_eq!(foreign.json["error"], "invalid_grant");
    let wrong_redirect = token_request(
        &server,
        &[
            ("grant_type", "authorization_code"),
            ("code", &code),
            ("redirect_uri", "http://127.0.0.1:1/other"),
            ("code_verifier", &flow.verifier),
        ],
        Auth::Basic("demo-rp", "demo-secret"),
    )
    .await;
    assert_eq!(wrong_redirect.json["error"], "invalid_grant");
    let unknown = redeem(&server, &flow, "not-a-code", &flow.verifier).await;
    assert_eq!(unknown.json["error"], "invalid_grant");
    assert_eq!(code_record(&server, &code).await, before);

    server.clock.advance(60);
    let late = redeem(&server, &flow, &code, &flow.verifier).await;
    assert_eq!(late.json["error"], "invalid_grant");
    assert_eq!(code_record(&server, &code).await, before);
}

async fn unregistered_redirect_uri_is_an_error_page_not_a_redirect(server: TestServer) {
    for redirect in [
        "https://evil.example/cb",
        "https://127.0.0.1:8080/cb",
        "http://127.0.0.1:8080/cb#fragment",
        "not a url",
    ] {
        let flow = Flow {
            redirect_uri: redirect.into(),
            ..Flow::demo()
        };
        let res = server
            .browser()
            .get(&format!("/oauth/authorize?{}", flow.authorize_query()))
            .await;
        assert_eq!(res.status, StatusCode::BAD_REQUEST, "{redirect}");
        assert!(res.location.is_none(), "never redirected: {redirect}");
        assert!(res.body.contains("redirect_uri"), "{}", res.body);
        assert!(res
            .body
            .contains("<h1>Innloggingsforespørselen kan ikke brukes</h1>"));
    }
    // A missing redirect URI is no better.
    let res = server
        .browser()
        .get("/oauth/authorize?response_type=code&client_id=demo-rp&scope=openid")
        .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
    assert!(res.location.is_none());
    assert_eq!(audit_count(&server, "oidc_authorization_started").await, 0);
}

async fn unknown_client_is_an_error_page(server: TestServer) {
    let flow = Flow {
        client_id: "no-such-client".into(),
        ..Flow::demo()
    };
    let res = server
        .browser()
        .get(&format!("/oauth/authorize?{}", flow.authorize_query()))
        .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
    assert!(res.location.is_none());
    assert!(res.body.contains("unknown client"));
    let res = server.browser().get("/oauth/authorize").await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
    assert!(res.body.contains("client_id is missing"));
    assert_eq!(audit_count(&server, "oidc_authorization_started").await, 0);
}

async fn authorize_error(server: &TestServer, query: &str) -> HashMap<String, String> {
    let res = server
        .browser()
        .get(&format!("/oauth/authorize?{query}"))
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{query}: {}", res.body);
    let location = res.location.unwrap();
    assert!(location.starts_with(DEMO_REDIRECT), "{location}");
    let q = query_of(&location);
    assert_eq!(q["iss"], ISSUER);
    q
}

async fn missing_or_plain_pkce_is_refused_back_to_the_client(server: TestServer) {
    let base = "response_type=code&client_id=demo-rp&redirect_uri=http%3A%2F%2F127.0.0.1%3A49152%2Fcallback&scope=openid&state=s1";
    let challenge = challenge_of(&Flow::demo().verifier);
    let q = authorize_error(&server, base).await;
    assert_eq!(q["error"], "invalid_request");
    assert!(q["error_description"].contains("code_challenge"));
    assert_eq!(q["state"], "s1");
    let plain = format!("{base}&code_challenge={challenge}&code_challenge_method=plain");
    let q = authorize_error(&server, &plain).await;
    assert_eq!(q["error"], "invalid_request");
    assert!(q["error_description"].contains("S256"));
    let no_method = format!("{base}&code_challenge={challenge}");
    assert_eq!(
        authorize_error(&server, &no_method).await["error"],
        "invalid_request",
        "no method means plain (RFC 7636 §4.3): refused"
    );
    let short = format!("{base}&code_challenge=abc&code_challenge_method=S256");
    assert_eq!(
        authorize_error(&server, &short).await["error"],
        "invalid_request"
    );
    assert_eq!(audit_count(&server, "oidc_authorization_started").await, 0);
}

async fn other_authorize_errors_go_back_to_the_client(server: TestServer) {
    let flow = Flow::demo();
    let good = flow.authorize_query();
    let cases = [
        (
            good.replace("response_type=code", "response_type=token"),
            "unsupported_response_type",
        ),
        (
            good.replace("scope=openid+pid", "scope=pid"),
            "invalid_scope",
        ),
        (
            good.replace("scope=openid+pid", "scope=openid+email"),
            "invalid_scope",
        ),
        (format!("{good}&prompt=none"), "login_required"),
        (format!("{good}&prompt=bogus"), "invalid_request"),
        (format!("{good}&request=eyJ"), "request_not_supported"),
        (format!("{good}&response_mode=fragment"), "invalid_request"),
        (format!("{good}&state=again"), "invalid_request"),
    ];
    for (query, expected) in cases {
        let res = server
            .browser()
            .get(&format!("/oauth/authorize?{query}"))
            .await;
        // A repeated parameter is caught before the redirect URI is trusted: a page.
        if query.ends_with("state=again") {
            assert_eq!(res.status, StatusCode::BAD_REQUEST);
            assert!(res.location.is_none());
            continue;
        }
        assert_eq!(res.status, StatusCode::SEE_OTHER, "{query}");
        let q = query_of(res.location.as_deref().unwrap());
        assert_eq!(q["error"], expected, "{query}");
        assert_eq!(q["state"], flow.state);
    }
    assert_eq!(audit_count(&server, "oidc_authorization_started").await, 0);
}

async fn token_endpoint_request_errors(server: TestServer) {
    let flow = Flow::demo();
    let code = code_for(&server, &flow, alice()).await;
    let auth = || Auth::Basic("demo-rp", "demo-secret");
    let res = token_request(
        &server,
        &[("grant_type", "password"), ("code", &code)],
        auth(),
    )
    .await;
    assert_eq!(res.json["error"], "unsupported_grant_type");
    let res = token_request(&server, &[("code", &code)], auth()).await;
    assert_eq!(res.json["error"], "invalid_request");
    let res = token_request(
        &server,
        &[
            ("grant_type", "authorization_code"),
            ("code_verifier", &flow.verifier),
        ],
        auth(),
    )
    .await;
    assert_eq!(res.json["error"], "invalid_request");
    let res = token_request(
        &server,
        &[
            ("grant_type", "authorization_code"),
            ("grant_type", "authorization_code"),
        ],
        auth(),
    )
    .await;
    assert_eq!(res.json["error"], "invalid_request");
    assert!(code_record(&server, &code).await.used_at.is_none());
}

async fn discovery_document_describes_the_provider(server: TestServer) {
    let res = server
        .browser()
        .get("/.well-known/openid-configuration")
        .await;
    assert_eq!(res.status, StatusCode::OK);
    let doc: Value = serde_json::from_str(&res.body).unwrap();
    assert_eq!(doc["issuer"], ISSUER);
    assert_eq!(
        doc["authorization_endpoint"],
        format!("{ISSUER}/oauth/authorize")
    );
    assert_eq!(doc["token_endpoint"], format!("{ISSUER}/oauth/token"));
    assert_eq!(doc["userinfo_endpoint"], format!("{ISSUER}/oauth/userinfo"));
    assert_eq!(doc["jwks_uri"], format!("{ISSUER}/oauth/jwks"));
    assert_eq!(
        doc["end_session_endpoint"],
        format!("{ISSUER}/oauth/logout")
    );
    assert_eq!(doc["response_types_supported"], serde_json::json!(["code"]));
    assert_eq!(
        doc["code_challenge_methods_supported"],
        serde_json::json!(["S256"])
    );
    assert_eq!(
        doc["id_token_signing_alg_values_supported"],
        serde_json::json!(["ES256"])
    );
    assert_eq!(
        doc["subject_types_supported"],
        serde_json::json!(["pairwise"])
    );
    assert_eq!(
        doc["token_endpoint_auth_methods_supported"],
        serde_json::json!(["client_secret_basic", "client_secret_post"])
    );
    assert_eq!(
        doc["acr_values_supported"],
        serde_json::json!(["nokkel-loa-substantial"])
    );
    assert_eq!(doc["authorization_response_iss_parameter_supported"], true);
    assert_eq!(
        doc["scopes_supported"],
        serde_json::json!(["openid", "pid"])
    );
    for claim in ["sub", "pid", "acr", "amr", "auth_time", "nonce", "at_hash"] {
        assert!(
            doc["claims_supported"]
                .as_array()
                .unwrap()
                .iter()
                .any(|c| c == claim),
            "{claim}"
        );
    }
    // Every advertised endpoint exists.
    for endpoint in [
        "authorization_endpoint",
        "token_endpoint",
        "userinfo_endpoint",
        "jwks_uri",
        "end_session_endpoint",
    ] {
        let path = doc[endpoint]
            .as_str()
            .unwrap()
            .strip_prefix(ISSUER)
            .unwrap();
        let res = if endpoint == "token_endpoint" {
            server.browser().post_raw(path, &[]).await
        } else {
            server.browser().get(path).await
        };
        assert_ne!(res.status, StatusCode::NOT_FOUND, "{endpoint}");
        assert_ne!(res.status, StatusCode::METHOD_NOT_ALLOWED, "{endpoint}");
    }
}

async fn rotated_key_is_published_before_it_signs(server: TestServer) {
    let flow = Flow::demo();
    let jwks = get_json(&server, "/oauth/jwks").await;
    assert_eq!(jwks["keys"].as_array().unwrap().len(), 1);
    let old_kid = jwks["keys"][0]["kid"].as_str().unwrap().to_owned();

    let new_kid = rotate_id_token_key(
        &server.state.store,
        &server.state.secrets,
        server.state.random.as_ref(),
        START,
        3600,
    )
    .await
    .unwrap();
    assert_ne!(new_kid, old_kid);
    let jwks = get_json(&server, "/oauth/jwks").await;
    let kids: Vec<&str> = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap())
        .collect();
    assert_eq!(
        kids,
        [old_kid.as_str(), new_kid.as_str()],
        "published at once"
    );

    // Before its time the new key does not sign, even after the ring refreshes.
    server.clock.advance(3599);
    let code = code_for(&server, &flow, alice()).await;
    let res = redeem(&server, &flow, &code, &flow.verifier).await;
    let (kid, _) = verify_id_token(&server, res.json["id_token"].as_str().unwrap()).await;
    assert_eq!(kid, old_kid);

    // From its time on it does; the old key stays published for tokens already out.
    server.clock.advance(1);
    let code = code_for(&server, &flow, alice()).await;
    let res = redeem(&server, &flow, &code, &flow.verifier).await;
    let (kid, claims) = verify_id_token(&server, res.json["id_token"].as_str().unwrap()).await;
    assert_eq!(kid, new_kid);
    assert_eq!(claims["iat"], START + 3600);
    let jwks = get_json(&server, "/oauth/jwks").await;
    assert_eq!(jwks["keys"].as_array().unwrap().len(), 2);
}

async fn login_seam_shows_completes_once_and_fails(server: TestServer) {
    let flow = Flow::demo();
    let query = format!(
        "{}&ui_locales=nn-NO+en&prompt=login&login_hint={ADULT}&acr_values=nokkel-loa-substantial",
        flow.authorize_query()
    );
    let res = server
        .browser()
        .get(&format!("/oauth/authorize?{query}"))
        .await;
    let location = res.location.unwrap();
    assert!(location.ends_with("&lang=nn"), "{location}");
    let id = location
        .strip_prefix("/login?request=")
        .unwrap()
        .split('&')
        .next()
        .unwrap()
        .to_owned();
    let request = oidc::authorization_request(&server.state, &id)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(request.client_id, "demo-rp");
    assert_eq!(request.client_name, "Demodata-tjenesten");
    assert_eq!(request.redirect_uri, DEMO_REDIRECT);
    assert_eq!(request.scope, "openid pid");
    assert!(request.wants_pid);
    assert_eq!(request.state.as_deref(), Some("st-123"));
    assert_eq!(request.nonce.as_deref(), Some(flow.nonce.as_str()));
    assert_eq!(request.ui_locales.as_deref(), Some("nn-NO en"));
    assert!(request.prompt_login);
    assert_eq!(request.login_hint.as_deref(), Some(ADULT));
    assert_eq!(
        request.acr_values.as_deref(),
        Some("nokkel-loa-substantial")
    );
    assert_eq!(request.expires_at, START + 15 * 60);

    let url = oidc::complete_authorization(&server.state, &id, alice())
        .await
        .unwrap();
    assert!(query_of(&url).contains_key("code"));
    assert!(oidc::authorization_request(&server.state, &id)
        .await
        .unwrap()
        .is_none());
    assert!(matches!(
        oidc::complete_authorization(&server.state, &id, alice()).await,
        Err(OidcError::RequestNotPending)
    ));
    assert!(matches!(
        oidc::fail_authorization(&server.state, &id, AuthorizationError::AccessDenied, "no").await,
        Err(OidcError::RequestNotPending)
    ));

    // A denied login goes back with the error and the client's state.
    let id = start(&server, &flow).await;
    assert!("made_up".parse::<AuthorizationError>().is_err());
    let error = "access_denied".parse::<AuthorizationError>().unwrap();
    let url = oidc::fail_authorization(&server.state, &id, error, "The user said no")
        .await
        .unwrap();
    let q = query_of(&url);
    assert_eq!(q["error"], "access_denied");
    assert_eq!(q["error_description"], "The user said no");
    assert_eq!(q["state"], flow.state);
    assert_eq!(q["iss"], ISSUER);
    assert!(!q.contains_key("code"));
    assert!(matches!(
        oidc::complete_authorization(&server.state, &id, alice()).await,
        Err(OidcError::RequestNotPending)
    ));

    // Requests expire; unknown ids are simply absent.
    let id = start(&server, &flow).await;
    assert!(matches!(
        oidc::complete_authorization(
            &server.state,
            &id,
            Authenticated {
                amr: vec![],
                ..alice()
            }
        )
        .await,
        Err(OidcError::MissingAmr)
    ));
    server.clock.advance(15 * 60);
    assert!(oidc::authorization_request(&server.state, &id)
        .await
        .unwrap()
        .is_none());
    assert!(matches!(
        oidc::complete_authorization(&server.state, &id, alice()).await,
        Err(OidcError::RequestNotPending)
    ));
    assert!(oidc::authorization_request(&server.state, "nope")
        .await
        .unwrap()
        .is_none());
}

async fn authorize_by_post_and_language_hint(server: TestServer) {
    let flow = Flow::demo();
    let fields: Vec<(String, String)> = form_urlencoded::parse(flow.authorize_query().as_bytes())
        .into_owned()
        .collect();
    let pairs: Vec<(&str, &str)> = fields
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    // No CSRF token: /oauth/ is exempt (the relying party's page posts it).
    let res = server.browser().post_raw("/oauth/authorize", &pairs).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
    let id = res
        .location
        .unwrap()
        .strip_prefix("/login?request=")
        .unwrap()
        .to_owned();
    assert!(!id.contains('&'), "no lang without ui_locales");
    assert!(oidc::authorization_request(&server.state, &id)
        .await
        .unwrap()
        .is_some());
}

async fn userinfo_needs_a_live_bearer_token(server: TestServer) {
    let res = server.browser().get("/oauth/userinfo").await;
    assert_eq!(res.status, StatusCode::UNAUTHORIZED);
    assert_eq!(res.headers[header::WWW_AUTHENTICATE], "Bearer");
    let (status, _, _) = userinfo(&server, "made-up").await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let flow = Flow::demo();
    let code = code_for(&server, &flow, alice()).await;
    let res = redeem(&server, &flow, &code, &flow.verifier).await;
    let token = res.json["access_token"].as_str().unwrap();
    assert_eq!(userinfo(&server, token).await.0, StatusCode::OK);
    server.clock.advance(300);
    assert_eq!(
        userinfo(&server, token).await.0,
        StatusCode::UNAUTHORIZED,
        "expired"
    );
}

async fn logout_redirects_only_to_registered_uris(server: TestServer) {
    let flow = register(&server, "skatt", &[]).await;
    let code = code_for(&server, &flow, alice()).await;
    let res = redeem(&server, &flow, &code, &flow.verifier).await;
    let id_token = res.json["id_token"].as_str().unwrap().to_owned();
    let query = |uri: &str, hint: &str| {
        form_urlencoded::Serializer::new(String::new())
            .append_pair("id_token_hint", hint)
            .append_pair("post_logout_redirect_uri", uri)
            .append_pair("state", "bye-1")
            .finish()
    };
    let res = server
        .browser()
        .get(&format!(
            "/oauth/logout?{}",
            query("https://skatt.example/bye", &id_token)
        ))
        .await;
    assert_eq!(res.status, StatusCode::SEE_OTHER);
    assert_eq!(
        res.location.as_deref(),
        Some("https://skatt.example/bye?state=bye-1")
    );

    let res = server
        .browser()
        .get(&format!(
            "/oauth/logout?{}",
            query("https://evil.example/", &id_token)
        ))
        .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
    assert!(res.location.is_none());

    let mut forged = id_token.clone();
    forged.replace_range(forged.len() - 4.., "AAAA");
    let res = server
        .browser()
        .get(&format!(
            "/oauth/logout?{}",
            query("https://skatt.example/bye", &forged)
        ))
        .await;
    assert_eq!(res.status, StatusCode::BAD_REQUEST);
    assert!(res.location.is_none());

    let res = server.browser().get("/oauth/logout").await;
    assert_eq!(res.status, StatusCode::OK);
    assert!(res.body.contains("Du er logget ut"));
}

/// The demo relying party talks to the server over real loopback HTTP with the
/// `openidconnect` crate, so this server listens on a socket.
async fn demo_relying_party_logs_in_over_loopback_http(server: TestServer) {
    let store = server.state.store.clone();
    drop(server);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let server = TestServer::with_config(
        store,
        Config {
            demo: true,
            public_url: Some(base.clone()),
            ..Config::default()
        },
    )
    .await;
    let app = server.app.clone();
    tokio::spawn(async move {
        axum::serve(
            listener,
            app.into_make_service_with_connect_info::<std::net::SocketAddr>(),
        )
        .await
        .unwrap();
    });

    let mut browser = server.browser();
    let page = browser.get("/demo").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("Logg inn på demotjenesten"));
    let res = browser.post("/demo/login", &[]).await;
    assert_eq!(res.status, StatusCode::SEE_OTHER, "{}", res.body);
    let authorize = res.location.unwrap();
    let path = authorize.strip_prefix(&base).unwrap();
    assert!(path.starts_with("/oauth/authorize?"), "{authorize}");
    let q = query_of(&authorize);
    assert_eq!(q["code_challenge_method"], "S256");
    assert_eq!(q["redirect_uri"], format!("{base}/demo/callback"));
    assert!(q["scope"].split(' ').any(|s| s == "pid"));

    let res = browser.get(path).await;
    let id = res
        .location
        .unwrap()
        .strip_prefix("/login?request=")
        .unwrap()
        .split('&')
        .next()
        .unwrap()
        .to_owned();
    let back = oidc::complete_authorization(&server.state, &id, alice())
        .await
        .unwrap();
    let res = browser.get(back.strip_prefix(&base).unwrap()).await;
    assert_eq!(res.status, StatusCode::OK, "{}", res.body);
    assert!(
        res.body.contains("Du er logget inn på demotjenesten"),
        "{}",
        res.body
    );
    assert!(res.body.contains(ADULT), "pid shown");
    assert!(res.body.contains("nokkel-loa-substantial"));
    assert!(res.body.contains("<td class=\"code\">app</td>"));
    assert!(
        !browser.cookies.contains_key("nokkel_demo_flow"),
        "flow cookie cleared"
    );

    // The callback cannot be replayed: the flow cookie is gone.
    let res = browser.get(back.strip_prefix(&base).unwrap()).await;
    assert_eq!(res.status, StatusCode::BAD_GATEWAY);
    assert_eq!(audit_count(&server, "oidc_token_issued").await, 1);
}
