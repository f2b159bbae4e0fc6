//! The authorization endpoint: validates a code-flow request (PKCE S256 required), stores
//! it, and sends the browser to the login pages.
//!
//! Order matters (RFC 6749 §4.1.2.1): until the client and its redirect URI are known
//! good, problems are shown on an error page and never redirected, so the endpoint cannot
//! be used as an open redirector. After that, errors go back to the client.

use askama::Template;
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};

use super::clients::redirect_uri_allowed;
use super::{error_redirect, random_token, REQUEST_LIFETIME_SECONDS, SCOPES};
use crate::i18n::Lang;
use crate::services::audit;
use crate::state::{AppState, Deps};
use crate::store::{AuthorizationRequestRecord, ClientRecord};
use crate::web::{render, ErrorPage, Page};

/// Longest accepted value of any parameter.
const MAX_PARAM_LEN: usize = 2048;

/// An error page shown instead of redirecting (unknown client, bad redirect URI). The
/// detail is technical, in English, for the relying party's developers.
#[derive(Template)]
#[template(path = "oidc_error.html")]
pub(crate) struct OidcErrorPage {
    pub page: Page,
    pub title: String,
    pub text: String,
    pub detail: String,
}

pub(crate) fn error_page(page: Page, status: StatusCode, detail: &str) -> Response {
    let template = OidcErrorPage {
        title: page.t("oidc-error-title"),
        text: page.t("oidc-error-text"),
        detail: page.t1("oidc-error-detail", "detail", detail),
        page,
    };
    (status, render(&template)).into_response()
}

/// How a rejected request ends.
enum Rejection {
    /// Shown on our own page (client or redirect URI not trustworthy).
    Page(String),
    /// Sent back to the validated redirect URI.
    Redirect {
        redirect_uri: String,
        state: Option<String>,
        error: &'static str,
        description: String,
    },
}

/// Parameters as sent; each may appear at most once (RFC 6749 §3.1).
struct Params(Vec<(String, String)>);

impl Params {
    fn parse(raw: &[u8]) -> Result<Self, String> {
        let mut pairs: Vec<(String, String)> = Vec::new();
        for (name, value) in form_urlencoded::parse(raw) {
            if pairs.iter().any(|(n, _)| *n == name) {
                return Err(format!("parameter {name} appears more than once"));
            }
            if value.len() > MAX_PARAM_LEN {
                return Err(format!("parameter {name} is too long"));
            }
            pairs.push((name.into_owned(), value.into_owned()));
        }
        Ok(Self(pairs))
    }

    /// The value of `name`; an empty value counts as absent.
    fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.is_empty())
    }
}

pub(crate) async fn authorize_get(
    State(state): State<AppState>,
    page: Page,
    RawQuery(query): RawQuery,
) -> Response {
    authorize(&state, page, query.unwrap_or_default().as_bytes()).await
}

pub(crate) async fn authorize_post(
    State(state): State<AppState>,
    page: Page,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let is_form = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if !is_form {
        return error_page(
            page,
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "invalid_request: POST must be application/x-www-form-urlencoded",
        );
    }
    authorize(&state, page, &body).await
}

async fn authorize(deps: &Deps, page: Page, raw: &[u8]) -> Response {
    match validate(deps, raw).await {
        Ok(request) => {
            let mut target = format!("/login?request={}", request.id);
            if let Some(lang) = request.ui_locales.as_deref().and_then(preferred_lang) {
                target.push_str("&lang=");
                target.push_str(lang.tag());
            }
            Redirect::to(&target).into_response()
        }
        Err(Ok(Rejection::Page(detail))) => {
            tracing::info!(detail = %detail, "authorization request refused");
            error_page(page, StatusCode::BAD_REQUEST, &detail)
        }
        Err(Ok(Rejection::Redirect {
            redirect_uri,
            state,
            error,
            description,
        })) => {
            tracing::info!(error, description = %description, "authorization request refused");
            Redirect::to(&error_redirect(
                &redirect_uri,
                error,
                &description,
                state.as_deref(),
                &deps.issuer(),
            ))
            .into_response()
        }
        Err(Err(())) => ErrorPage::Internal.into_response(),
    }
}

/// The first of the space-separated `ui_locales` that Nøkkel speaks (`nb-NO` → nb).
pub(crate) fn preferred_lang(ui_locales: &str) -> Option<Lang> {
    ui_locales.split(' ').find_map(|tag| {
        let primary = tag.split(['-', '_']).next().unwrap_or(tag);
        Lang::from_tag(&primary.to_ascii_lowercase())
    })
}

/// `Err(Ok(_))` is a protocol rejection, `Err(Err(()))` an internal failure (logged).
async fn validate(
    deps: &Deps,
    raw: &[u8],
) -> Result<AuthorizationRequestRecord, Result<Rejection, ()>> {
    let page = |detail: String| Err(Ok(Rejection::Page(detail)));
    let params = match Params::parse(raw) {
        Ok(params) => params,
        Err(detail) => return page(format!("invalid_request: {detail}")),
    };
    let Some(client_id) = params.get("client_id") else {
        return page("invalid_request: client_id is missing".into());
    };
    let client: ClientRecord = match deps.store.client(client_id).await {
        Ok(Some(client)) => client,
        Ok(None) => return page(format!("invalid_client: unknown client {client_id:?}")),
        Err(err) => {
            tracing::error!(error = %err, "client lookup failed");
            return Err(Err(()));
        }
    };
    let Some(redirect_uri) = params.get("redirect_uri") else {
        return page("invalid_request: redirect_uri is missing".into());
    };
    if !redirect_uri_allowed(&client, redirect_uri) {
        return page(format!(
            "invalid_request: redirect_uri {redirect_uri:?} is not registered for client {client_id:?}"
        ));
    }

    // From here on the redirect URI is trusted: errors go back to the client.
    let state = params.get("state").map(str::to_owned);
    let back = |error: &'static str, description: &str| {
        Err(Ok(Rejection::Redirect {
            redirect_uri: redirect_uri.to_owned(),
            state: state.clone(),
            error,
            description: description.to_owned(),
        }))
    };
    if params.get("request").is_some() {
        return back("request_not_supported", "request objects are not supported");
    }
    if params.get("request_uri").is_some() {
        return back("request_uri_not_supported", "request_uri is not supported");
    }
    match params.get("response_type") {
        Some("code") => {}
        None => return back("invalid_request", "response_type is missing"),
        Some(_) => {
            return back(
                "unsupported_response_type",
                "only response_type=code is supported",
            )
        }
    }
    if params.get("response_mode").is_some_and(|m| m != "query") {
        return back("invalid_request", "only response_mode=query is supported");
    }
    let Some(scope) = params.get("scope") else {
        return back("invalid_scope", "scope is missing (openid is required)");
    };
    let requested: Vec<&str> = scope.split(' ').filter(|s| !s.is_empty()).collect();
    if !requested.contains(&"openid") {
        return back("invalid_scope", "the openid scope is required");
    }
    let allowed: Vec<&str> = client.scopes.split(' ').collect();
    if let Some(unknown) = requested
        .iter()
        .find(|s| !SCOPES.contains(s) || !allowed.contains(s))
    {
        return back(
            "invalid_scope",
            &format!("scope {unknown} is unknown or not allowed for this client"),
        );
    }
    // Canonical order: as the provider lists them, without duplicates.
    let scope = SCOPES
        .iter()
        .filter(|s| requested.contains(s))
        .copied()
        .collect::<Vec<_>>()
        .join(" ");

    let Some(code_challenge) = params.get("code_challenge") else {
        return back(
            "invalid_request",
            "code_challenge is required (PKCE with S256)",
        );
    };
    match params.get("code_challenge_method") {
        Some("S256") => {}
        Some(_) | None => {
            return back(
                "invalid_request",
                "code_challenge_method must be S256 (plain is not accepted)",
            )
        }
    }
    let challenge_ok = code_challenge.len() == 43
        && code_challenge
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if !challenge_ok {
        return back(
            "invalid_request",
            "code_challenge must be 43 base64url characters (SHA-256)",
        );
    }

    let mut prompt_login = false;
    if let Some(prompt) = params.get("prompt") {
        let values: Vec<&str> = prompt.split(' ').filter(|s| !s.is_empty()).collect();
        if values.contains(&"none") {
            if values.len() > 1 {
                return back("invalid_request", "prompt=none cannot be combined");
            }
            // No single sign-on session exists, so a login without interaction never can.
            return back(
                "login_required",
                "Nøkkel always needs the citizen to log in",
            );
        }
        for value in values {
            match value {
                "login" => prompt_login = true,
                "consent" | "select_account" => {}
                other => {
                    return back(
                        "invalid_request",
                        &format!("unsupported prompt value {other}"),
                    )
                }
            }
        }
    }
    if let Some(max_age) = params.get("max_age") {
        if max_age.parse::<u32>().is_err() {
            return back("invalid_request", "max_age must be a non-negative integer");
        }
    }

    let now = deps.clock.unix();
    let record = AuthorizationRequestRecord {
        // 256 bits: the id is the only handle on a pending request.
        id: random_token(deps),
        client_id: client.id.clone(),
        redirect_uri: redirect_uri.to_owned(),
        scope,
        state: state.clone(),
        nonce: params.get("nonce").map(str::to_owned),
        ui_locales: params.get("ui_locales").map(str::to_owned),
        prompt_login,
        login_hint: params.get("login_hint").map(str::to_owned),
        acr_values: params.get("acr_values").map(str::to_owned),
        code_challenge: code_challenge.to_owned(),
        created_at: now,
        expires_at: now + REQUEST_LIFETIME_SECONDS,
        finished_at: None,
        outcome: None,
    };
    if let Err(err) = deps.store.insert_authorization_request(&record).await {
        tracing::error!(error = %err, "storing the authorization request failed");
        return Err(Err(()));
    }
    audit(
        deps,
        "oidc_authorization_started",
        None,
        None,
        serde_json::json!({ "client_id": record.client_id, "request": record.id, "scope": record.scope }),
    )
    .await;
    Ok(record)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ui_locales_pick_the_first_language_we_speak() {
        assert_eq!(preferred_lang("de nn-NO en"), Some(Lang::Nn));
        assert_eq!(preferred_lang("nb-NO"), Some(Lang::Nb));
        assert_eq!(preferred_lang("EN"), Some(Lang::En));
        assert_eq!(preferred_lang("fr de"), None);
    }

    #[test]
    fn repeated_parameters_are_refused() {
        assert!(Params::parse(b"a=1&b=2&a=3").is_err());
        let p = Params::parse(b"a=1&b=").unwrap();
        assert_eq!(p.get("a"), Some("1"));
        assert_eq!(p.get("b"), None);
    }
}
