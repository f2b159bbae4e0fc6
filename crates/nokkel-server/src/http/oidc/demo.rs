//! The demo relying party (demo mode only): "Logg inn på demotjenesten" runs a real
//! authorization code flow with PKCE against this server's own public URL, using the
//! third-party `openidconnect` crate (not our code), and shows the verified claims.
//!
//! Between the start and the callback, the PKCE verifier, `state` and `nonce` travel in a
//! sealed, HttpOnly cookie (AES-GCM under the server's sealing key, with an expiry).

use std::time::Duration;

use askama::Template;
use axum::extract::{Query, State};
use axum::http::{header, HeaderMap, HeaderValue};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::Router;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use openidconnect::core::{
    CoreAuthDisplay, CoreAuthPrompt, CoreAuthenticationFlow, CoreErrorResponseType,
    CoreGenderClaim, CoreJsonWebKey, CoreJweContentEncryptionAlgorithm, CoreJwsSigningAlgorithm,
    CoreProviderMetadata, CoreRevocableToken, CoreRevocationErrorResponse,
    CoreTokenIntrospectionResponse, CoreTokenType,
};
use openidconnect::{
    AccessTokenHash, AdditionalClaims, AuthorizationCode, Client, ClientId, ClientSecret,
    CsrfToken, EmptyExtraTokenFields, EndpointMaybeSet, EndpointNotSet, EndpointSet, IdTokenFields,
    IssuerUrl, Nonce, OAuth2TokenResponse, PkceCodeChallenge, PkceCodeVerifier, RedirectUrl, Scope,
    StandardErrorResponse, StandardTokenResponse, TokenResponse,
};
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;

use crate::http::cookies::{cookie, set_cookie};
use crate::http::AppState;
use crate::http::{render, Page};
use crate::services::oidc::{DEMO_CLIENT_ID, DEMO_CLIENT_SECRET};
use crate::services::registration::{open, seal, Expiring};
use crate::services::Deps;

/// The cookie carrying the sealed flow state.
const FLOW_COOKIE: &str = "nokkel_demo_flow";
/// How long a started demo login may take.
const FLOW_LIFETIME_SECONDS: i64 = 15 * 60;

/// Nøkkel's extra ID-token claim.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct PidClaim {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pid: Option<String>,
}

impl AdditionalClaims for PidClaim {}

type DemoTokenResponse = StandardTokenResponse<
    IdTokenFields<
        PidClaim,
        EmptyExtraTokenFields,
        CoreGenderClaim,
        CoreJweContentEncryptionAlgorithm,
        CoreJwsSigningAlgorithm,
    >,
    CoreTokenType,
>;

/// `CoreClient` with the `pid` claim, in the endpoint states discovery gives.
type DemoClient = Client<
    PidClaim,
    CoreAuthDisplay,
    CoreGenderClaim,
    CoreJweContentEncryptionAlgorithm,
    CoreJsonWebKey,
    CoreAuthPrompt,
    StandardErrorResponse<CoreErrorResponseType>,
    DemoTokenResponse,
    CoreTokenIntrospectionResponse,
    CoreRevocableToken,
    CoreRevocationErrorResponse,
    EndpointSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointNotSet,
    EndpointMaybeSet,
    EndpointMaybeSet,
>;

/// What the callback needs from the start (sealed into the cookie).
#[derive(Serialize, Deserialize)]
struct DemoFlow {
    state: String,
    nonce: String,
    verifier: String,
    exp: i64,
}

impl Expiring for DemoFlow {
    fn exp(&self) -> i64 {
        self.exp
    }
}

pub(super) fn routes() -> Router<AppState> {
    Router::new()
        .route("/demo", get(start_page))
        .route("/demo/login", post(start_login))
        .route("/demo/callback", get(callback))
}

#[derive(Template)]
#[template(path = "demo_start.html")]
struct StartPage {
    page: Page,
    error: Option<String>,
}

/// One row of the claims table.
struct ClaimRow {
    name: &'static str,
    label: String,
    value: String,
}

#[derive(Template)]
#[template(path = "demo_result.html")]
struct ResultPage {
    page: Page,
    client_name: String,
    rows: Vec<ClaimRow>,
    logout_href: String,
}

async fn start_page(page: Page) -> Response {
    render(&StartPage { page, error: None }).into_response()
}

fn failure(page: Page, key: &str, detail: &str) -> Response {
    tracing::info!(detail, "demo login failed");
    let error = Some(page.t1(key, "detail", detail));
    let mut response = render(&StartPage { page, error }).into_response();
    *response.status_mut() = axum::http::StatusCode::BAD_GATEWAY;
    response
}

fn http_client() -> Result<openidconnect::reqwest::Client, String> {
    // No redirects: a token endpoint that redirects could leak the code elsewhere.
    openidconnect::reqwest::ClientBuilder::new()
        .redirect(openidconnect::reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(10))
        .build()
        .map_err(|e| e.to_string())
}

async fn discover(
    deps: &Deps,
    http: &openidconnect::reqwest::Client,
) -> Result<DemoClient, String> {
    let issuer = deps.issuer();
    let metadata = CoreProviderMetadata::discover_async(
        IssuerUrl::new(issuer.clone()).map_err(|e| e.to_string())?,
        http,
    )
    .await
    .map_err(|e| format!("discovery failed: {e}"))?;
    let redirect =
        RedirectUrl::new(format!("{issuer}/demo/callback")).map_err(|e| e.to_string())?;
    Ok(DemoClient::from_provider_metadata(
        metadata,
        ClientId::new(DEMO_CLIENT_ID.to_owned()),
        Some(ClientSecret::new(DEMO_CLIENT_SECRET.to_owned())),
    )
    .set_redirect_uri(redirect))
}

fn random_b64(deps: &Deps) -> String {
    let mut bytes = [0u8; 32];
    deps.random.fill(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

fn flow_cookie(deps: &Deps, value: &str, max_age: u32) -> Option<HeaderValue> {
    let secure = deps.issuer().starts_with("https://");
    HeaderValue::from_str(&set_cookie(FLOW_COOKIE, value, max_age, secure)).ok()
}

async fn start_login(State(state): State<AppState>, page: Page) -> Response {
    let http = match http_client() {
        Ok(http) => http,
        Err(e) => return failure(page, "demo-error-provider", &e),
    };
    let client = match discover(&state, &http).await {
        Ok(client) => client,
        Err(e) => return failure(page, "demo-error-provider", &e),
    };
    let flow = DemoFlow {
        state: random_b64(&state),
        nonce: random_b64(&state),
        verifier: random_b64(&state),
        exp: state.clock.unix() + FLOW_LIFETIME_SECONDS,
    };
    let challenge =
        PkceCodeChallenge::from_code_verifier_sha256(&PkceCodeVerifier::new(flow.verifier.clone()));
    let (flow_state, flow_nonce) = (flow.state.clone(), flow.nonce.clone());
    let (url, _, _) = client
        .authorize_url(
            CoreAuthenticationFlow::AuthorizationCode,
            move || CsrfToken::new(flow_state),
            move || Nonce::new(flow_nonce),
        )
        .add_scope(Scope::new("pid".to_owned()))
        .add_extra_param("ui_locales", page.lang.tag())
        .set_pkce_challenge(challenge)
        .url();
    let mut response = Redirect::to(url.as_str()).into_response();
    if let Some(value) = flow_cookie(&state, &seal(&state, &flow), FLOW_LIFETIME_SECONDS as u32) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    response
}

#[derive(Deserialize)]
pub(super) struct CallbackQuery {
    code: Option<String>,
    state: Option<String>,
    iss: Option<String>,
    error: Option<String>,
    error_description: Option<String>,
}

async fn callback(
    State(state): State<AppState>,
    page: Page,
    headers: HeaderMap,
    Query(query): Query<CallbackQuery>,
) -> Response {
    let flow = cookie(&headers, FLOW_COOKIE).and_then(|c| open::<DemoFlow>(&state, c).ok());
    let mut response = finish(&state, page, flow, query).await;
    // The flow is over either way: the cookie goes.
    if let Some(value) = flow_cookie(&state, "", 0) {
        response.headers_mut().append(header::SET_COOKIE, value);
    }
    response
}

async fn finish(deps: &Deps, page: Page, flow: Option<DemoFlow>, query: CallbackQuery) -> Response {
    let Some(flow) = flow else {
        return failure(page, "demo-error-session", "no demo login in progress");
    };
    let state_ok = query
        .state
        .as_deref()
        .is_some_and(|s| bool::from(s.as_bytes().ct_eq(flow.state.as_bytes())));
    if !state_ok {
        return failure(page, "demo-error-session", "state does not match");
    }
    // RFC 9207: the response must come from the issuer we started with.
    if query.iss.as_deref() != Some(deps.issuer().as_str()) {
        return failure(page, "demo-error-provider", "iss does not name this issuer");
    }
    if let Some(error) = query.error {
        let detail = match query.error_description {
            Some(description) => format!("{error}: {description}"),
            None => error,
        };
        return failure(page, "demo-error-refused", &detail);
    }
    let Some(code) = query.code else {
        return failure(page, "demo-error-provider", "no code in the response");
    };
    match exchange(deps, &flow, code).await {
        Ok((rows, id_token)) => {
            let issuer = deps.issuer();
            let logout_href = format!(
                "/oauth/logout?{}",
                form_urlencoded::Serializer::new(String::new())
                    .append_pair("id_token_hint", &id_token)
                    .append_pair("post_logout_redirect_uri", &format!("{issuer}/demo"))
                    .finish()
            );
            let client_name = match crate::services::oidc::client(deps, DEMO_CLIENT_ID).await {
                Ok(Some(client)) => client.name,
                _ => DEMO_CLIENT_ID.to_owned(),
            };
            let rows = rows
                .into_iter()
                .map(|(name, value)| ClaimRow {
                    name,
                    label: page.t(&format!("demo-claim-{}", name.replace('_', "-"))),
                    value,
                })
                .collect();
            render(&ResultPage {
                page,
                client_name,
                rows,
                logout_href,
            })
            .into_response()
        }
        Err(detail) => failure(page, "demo-error-provider", &detail),
    }
}

/// Redeems the code and verifies the ID token (signature against the JWKS, issuer,
/// audience, expiry by our clock, nonce, `at_hash`). Returns the claims to show and the
/// raw ID token (for the logout link).
async fn exchange(
    deps: &Deps,
    flow: &DemoFlow,
    code: String,
) -> Result<(Vec<(&'static str, String)>, String), String> {
    let http = http_client()?;
    let client = discover(deps, &http).await?;
    let response = client
        .exchange_code(AuthorizationCode::new(code))
        .map_err(|e| e.to_string())?
        .set_pkce_verifier(PkceCodeVerifier::new(flow.verifier.clone()))
        .request_async(&http)
        .await
        .map_err(|e| format!("token request failed: {e}"))?;
    let id_token = response
        .id_token()
        .ok_or_else(|| "no ID token in the token response".to_owned())?;
    let clock = deps.clock.clone();
    let verifier = client
        .id_token_verifier()
        .set_time_fn(move || chrono::DateTime::from_timestamp(clock.unix(), 0).unwrap_or_default());
    let claims = id_token
        .claims(&verifier, &Nonce::new(flow.nonce.clone()))
        .map_err(|e| format!("ID token rejected: {e}"))?;
    let expected = claims
        .access_token_hash()
        .ok_or_else(|| "ID token has no at_hash".to_owned())?;
    let algorithm = id_token.signing_alg().map_err(|e| e.to_string())?;
    let key = id_token.signing_key(&verifier).map_err(|e| e.to_string())?;
    let actual = AccessTokenHash::from_token(response.access_token(), algorithm, key)
        .map_err(|e| e.to_string())?;
    if &actual != expected {
        return Err("at_hash does not match the access token".to_owned());
    }
    let amr = claims
        .auth_method_refs()
        .map(|amr| {
            amr.iter()
                .map(|m| m.as_str().to_owned())
                .collect::<Vec<_>>()
                .join(", ")
        })
        .unwrap_or_default();
    let rows = vec![
        ("sub", claims.subject().as_str().to_owned()),
        (
            "pid",
            claims.additional_claims().pid.clone().unwrap_or_default(),
        ),
        (
            "acr",
            claims
                .auth_context_ref()
                .map(|a| a.as_str().to_owned())
                .unwrap_or_default(),
        ),
        ("amr", amr),
        (
            "auth_time",
            claims
                .auth_time()
                .map(|t| t.to_rfc3339())
                .unwrap_or_default(),
        ),
    ];
    Ok((rows, id_token.to_string()))
}
