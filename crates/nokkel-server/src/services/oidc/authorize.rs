//! The authorization request: validates a code-flow request (PKCE S256 required) and
//! stores it for the login pages.
//!
//! Order matters (RFC 6749 §4.1.2.1): until the client and its redirect URI are known
//! good, problems are shown on an error page and never redirected, so the endpoint cannot
//! be used as an open redirector. After that, errors go back to the client.

use super::clients::redirect_uri_allowed;
use super::{error_redirect, random_token, AuthorizationError, REQUEST_LIFETIME_SECONDS, SCOPES};
use crate::services::{address_key, audit, volatile_rate_limit, Deps, ServiceError};
use crate::store::{AuthorizationRequestRecord, ClientRecord};

/// Longest accepted value of any parameter.
const MAX_PARAM_LEN: usize = 2048;

/// How a rejected request ends.
#[derive(Debug)]
pub enum Rejection {
    /// Shown on our own page (client or redirect URI not trustworthy), with the technical
    /// detail for the relying party's developers.
    Page(String),
    /// Sent back to the validated redirect URI.
    Redirect {
        /// The redirect URI carrying the error.
        url: String,
        /// The OAuth error code.
        error: AuthorizationError,
        /// What was wrong.
        description: String,
    },
    /// Something failed inside (logged where it happened).
    Internal,
}

/// Parameters as sent; each may appear at most once (RFC 6749 §3.1).
pub(crate) struct Params(Vec<(String, String)>);

impl Params {
    pub(crate) fn parse(raw: &[u8]) -> Result<Self, String> {
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
    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.is_empty())
    }
}

/// Validates the request's parameters (query or form body, as sent) from `client_ip` and
/// stores it — within the per-address limit and the instance's ceiling, past which the
/// client is told `temporarily_unavailable` (RFC 6749 §4.1.2.1).
pub async fn start(
    deps: &Deps,
    raw: &[u8],
    client_ip: &str,
) -> Result<AuthorizationRequestRecord, Rejection> {
    let page = |detail: String| Err(Rejection::Page(detail));
    let params = match Params::parse(raw) {
        Ok(params) => params,
        Err(detail) => return page(format!("invalid_request: {detail}")),
    };
    let Some(client_id) = params.get("client_id") else {
        return page("invalid_request: client_id is missing".into());
    };
    let client: ClientRecord = match super::client(deps, client_id).await {
        Ok(Some(client)) => client,
        Ok(None) => return page(format!("invalid_client: unknown client {client_id:?}")),
        Err(err) => {
            tracing::error!(error = %err, "client lookup failed");
            return Err(Rejection::Internal);
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
    let issuer = deps.issuer();
    let back = |error: AuthorizationError, description: &str| {
        Err(Rejection::Redirect {
            url: error_redirect(redirect_uri, error, description, state.as_deref(), &issuer),
            error,
            description: description.to_owned(),
        })
    };
    if params.get("request").is_some() {
        return back(
            AuthorizationError::RequestNotSupported,
            "request objects are not supported",
        );
    }
    if params.get("request_uri").is_some() {
        return back(
            AuthorizationError::RequestUriNotSupported,
            "request_uri is not supported",
        );
    }
    match params.get("response_type") {
        Some("code") => {}
        None => {
            return back(
                AuthorizationError::InvalidRequest,
                "response_type is missing",
            )
        }
        Some(_) => {
            return back(
                AuthorizationError::UnsupportedResponseType,
                "only response_type=code is supported",
            )
        }
    }
    if params.get("response_mode").is_some_and(|m| m != "query") {
        return back(
            AuthorizationError::InvalidRequest,
            "only response_mode=query is supported",
        );
    }
    let Some(scope) = params.get("scope") else {
        return back(
            AuthorizationError::InvalidScope,
            "scope is missing (openid is required)",
        );
    };
    let requested: Vec<&str> = scope.split(' ').filter(|s| !s.is_empty()).collect();
    if !requested.contains(&"openid") {
        return back(
            AuthorizationError::InvalidScope,
            "the openid scope is required",
        );
    }
    let allowed: Vec<&str> = client.scopes.split(' ').collect();
    if let Some(unknown) = requested
        .iter()
        .find(|s| !SCOPES.contains(s) || !allowed.contains(s))
    {
        return back(
            AuthorizationError::InvalidScope,
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
            AuthorizationError::InvalidRequest,
            "code_challenge is required (PKCE with S256)",
        );
    };
    match params.get("code_challenge_method") {
        Some("S256") => {}
        Some(_) | None => {
            return back(
                AuthorizationError::InvalidRequest,
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
            AuthorizationError::InvalidRequest,
            "code_challenge must be 43 base64url characters (SHA-256)",
        );
    }

    let mut prompt_login = false;
    if let Some(prompt) = params.get("prompt") {
        let values: Vec<&str> = prompt.split(' ').filter(|s| !s.is_empty()).collect();
        if values.contains(&"none") {
            if values.len() > 1 {
                return back(
                    AuthorizationError::InvalidRequest,
                    "prompt=none cannot be combined",
                );
            }
            // No single sign-on session exists, so a login without interaction never can.
            return back(
                AuthorizationError::LoginRequired,
                "Nøkkel always needs the citizen to log in",
            );
        }
        for value in values {
            match value {
                "login" => prompt_login = true,
                "consent" | "select_account" => {}
                other => {
                    return back(
                        AuthorizationError::InvalidRequest,
                        &format!("unsupported prompt value {other}"),
                    )
                }
            }
        }
    }
    if let Some(max_age) = params.get("max_age") {
        if max_age.parse::<u32>().is_err() {
            return back(
                AuthorizationError::InvalidRequest,
                "max_age must be a non-negative integer",
            );
        }
    }

    let now = deps.clock.unix();
    let key = format!("authorize-ip:{}", address_key(client_ip));
    let limit = i64::from(deps.config.authorizations_per_address_per_10_min);
    let over = match volatile_rate_limit(deps, &key, 600, limit).await {
        Ok(()) => !deps.capacity.take_authorization(now),
        Err(ServiceError::RateLimited) => true,
        Err(err) => {
            tracing::error!(error = %err, "counting the authorization request failed");
            return Err(Rejection::Internal);
        }
    };
    if over {
        return back(
            AuthorizationError::TemporarilyUnavailable,
            "too many login requests from here; try again in a few minutes",
        );
    }
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
        return Err(Rejection::Internal);
    }
    deps.caches.requests.put(&record);
    audit(
        deps,
        "oidc_authorization_started",
        None,
        Some(client_ip),
        serde_json::json!({ "client_id": record.client_id, "request": record.id, "scope": record.scope }),
    )
    .await;
    Ok(record)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_parameters_are_refused() {
        assert!(Params::parse(b"a=1&b=2&a=3").is_err());
        let p = Params::parse(b"a=1&b=").unwrap();
        assert_eq!(p.get("a"), Some("1"));
        assert_eq!(p.get("b"), None);
    }
}
