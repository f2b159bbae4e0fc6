//! Discovery, JWKS, userinfo and end-session.

use askama::Template;
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::Json;
use serde_json::json;

use super::authorize::error_page;
use crate::http::{render, AppState, ErrorPage, Page};
use crate::services::oidc::{self, id_token, LogoutRefusal, ACR_SUBSTANTIAL, SCOPES};
use crate::services::Deps;

/// The discovery document (OpenID Connect Discovery 1.0 §3).
pub fn discovery_document(issuer: &str) -> serde_json::Value {
    json!({
        "issuer": issuer,
        "authorization_endpoint": format!("{issuer}/oauth/authorize"),
        "token_endpoint": format!("{issuer}/oauth/token"),
        "userinfo_endpoint": format!("{issuer}/oauth/userinfo"),
        "jwks_uri": format!("{issuer}/oauth/jwks"),
        "end_session_endpoint": format!("{issuer}/oauth/logout"),
        "scopes_supported": SCOPES,
        "response_types_supported": ["code"],
        "response_modes_supported": ["query"],
        "grant_types_supported": ["authorization_code"],
        "subject_types_supported": ["pairwise"],
        "id_token_signing_alg_values_supported": ["ES256"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "code_challenge_methods_supported": ["S256"],
        "acr_values_supported": [ACR_SUBSTANTIAL],
        "ui_locales_supported": ["nb", "nn", "en"],
        "prompt_values_supported": ["none", "login"],
        "claims_supported": [
            "iss", "aud", "sub", "pid", "acr", "amr", "auth_time", "nonce", "at_hash", "iat", "exp"
        ],
        "claims_parameter_supported": false,
        "request_parameter_supported": false,
        "request_uri_parameter_supported": false,
        "authorization_response_iss_parameter_supported": true,
    })
}

pub(crate) async fn discovery(State(state): State<AppState>) -> Response {
    (
        [(header::CACHE_CONTROL, "public, max-age=3600")],
        Json(discovery_document(&state.issuer())),
    )
        .into_response()
}

/// The public ID-token keys as a JWK Set: every key not retired, including keys that
/// will only start signing later (so relying parties know them in time).
pub(crate) async fn jwks(State(state): State<AppState>) -> Response {
    let keys = match oidc::published_keys(&state).await {
        Ok(keys) => keys,
        Err(err) => {
            tracing::error!(error = %err, "JWKS: keys could not be read");
            return ErrorPage::Internal.into_response();
        }
    };
    (
        // Short enough that a rotated key spreads well within its publish-ahead time.
        [(header::CACHE_CONTROL, "public, max-age=300")],
        Json(json!({ "keys": keys })),
    )
        .into_response()
}

fn bearer_error(error: Option<&str>) -> Response {
    let challenge = match error {
        Some(error) => format!("Bearer error=\"{error}\""),
        None => "Bearer".to_owned(),
    };
    let mut response = StatusCode::UNAUTHORIZED.into_response();
    if let Ok(value) = HeaderValue::from_str(&challenge) {
        response
            .headers_mut()
            .insert(header::WWW_AUTHENTICATE, value);
    }
    response
}

/// Userinfo (OIDC Core §5.3): the same `sub` as the ID token, and `pid` with scope `pid`.
pub(crate) async fn userinfo(State(state): State<AppState>, headers: HeaderMap) -> Response {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim().to_owned());
    let Some(token) = token else {
        return bearer_error(None);
    };
    let body = match oidc::userinfo(&state, &token).await {
        Ok(Some(body)) => body,
        Ok(None) => return bearer_error(Some("invalid_token")),
        Err(err) => {
            tracing::error!(error = %err, "userinfo: token lookup failed");
            return StatusCode::INTERNAL_SERVER_ERROR.into_response();
        }
    };
    (
        [
            (header::CACHE_CONTROL, "no-store"),
            (header::PRAGMA, "no-cache"),
        ],
        Json(body),
    )
        .into_response()
}

#[derive(Template)]
#[template(path = "oidc_logged_out.html")]
struct LoggedOutPage {
    page: Page,
}

pub(crate) async fn logout_get(
    State(state): State<AppState>,
    page: Page,
    RawQuery(query): RawQuery,
) -> Response {
    logout(&state, page, query.unwrap_or_default().as_bytes()).await
}

pub(crate) async fn logout_post(
    State(state): State<AppState>,
    page: Page,
    body: Bytes,
) -> Response {
    logout(&state, page, &body).await
}

/// RP-Initiated Logout 1.0. Nøkkel keeps no single sign-on session, so there is nothing
/// to end here; the endpoint confirms, and sends the browser back to a registered
/// post-logout URI when the client is known (from `id_token_hint` or `client_id`).
async fn logout(deps: &Deps, page: Page, raw: &[u8]) -> Response {
    let params: Vec<(String, String)> = form_urlencoded::parse(raw)
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    let get = |name: &str| {
        params
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.is_empty())
    };
    let mut client_id = get("client_id").map(str::to_owned);
    let mut pid = None;
    if let Some(hint) = get("id_token_hint") {
        match id_token::verify_hint(deps, hint).await {
            Ok(Some(claims)) => {
                if client_id.as_deref().is_some_and(|c| c != claims.aud) {
                    return error_page(
                        page,
                        StatusCode::BAD_REQUEST,
                        "invalid_request: client_id differs from the id_token_hint audience",
                    );
                }
                client_id = Some(claims.aud);
                pid = claims.pid;
            }
            Ok(None) => {
                return error_page(
                    page,
                    StatusCode::BAD_REQUEST,
                    "invalid_request: id_token_hint is not an ID token from this server",
                )
            }
            Err(err) => {
                tracing::error!(error = %err, "logout: hint check failed");
                return ErrorPage::Internal.into_response();
            }
        }
    }
    if let Some(target) = get("post_logout_redirect_uri") {
        match oidc::post_logout(deps, client_id.as_deref(), pid.as_deref(), target).await {
            Ok(Ok(())) => {}
            Ok(Err(LogoutRefusal::UnknownClient)) => {
                return error_page(
                    page,
                    StatusCode::BAD_REQUEST,
                    "invalid_request: post_logout_redirect_uri needs id_token_hint or client_id",
                )
            }
            Ok(Err(LogoutRefusal::NotRegistered)) => {
                return error_page(
                    page,
                    StatusCode::BAD_REQUEST,
                    "invalid_request: post_logout_redirect_uri is not registered for this client",
                )
            }
            Err(err) => {
                tracing::error!(error = %err, "logout: client lookup failed");
                return ErrorPage::Internal.into_response();
            }
        }
        let mut url = match url::Url::parse(target) {
            Ok(url) => url,
            Err(_) => return ErrorPage::Internal.into_response(),
        };
        if let Some(state) = get("state") {
            url.query_pairs_mut().append_pair("state", state);
        }
        return Redirect::to(url.as_str()).into_response();
    }
    render(&LoggedOutPage { page }).into_response()
}
