//! The OpenID Connect provider: discovery, JWKS, the authorization endpoint (code flow with
//! PKCE S256 only), the token endpoint, userinfo and end-session, plus the demo relying
//! party in demo mode.
//!
//! The seam with the login engine is small: the authorize endpoint validates and stores an
//! [`AuthorizationRequest`] and sends the browser to `/login?request={id}`; the login
//! pages read it with [`authorization_request`] and end it with
//! [`complete_authorization`] (a single-use code) or [`fail_authorization`] (an OAuth
//! error), both of which return the URL to send the browser back to.
//!
//! docs/OIDC.md describes the endpoints, parameters, claims and error codes.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use thiserror::Error;

use crate::services::audit;
use crate::services::Deps;
use crate::store::text_enum;
use crate::store::{AuthorizationCodeRecord, AuthorizationRequestRecord, ClientRecord, StoreError};

pub mod authorization_code;
pub mod authorize;
pub mod clients;
pub mod id_token;

pub use clients::{register_client, seed_demo_client, ClientRegistration, RegisteredClient};

/// The `acr` every Nøkkel login reaches (eIDAS substantial).
pub const ACR_SUBSTANTIAL: &str = "nokkel-loa-substantial";
/// How long a stored authorization request waits for the login to finish.
pub const REQUEST_LIFETIME_SECONDS: i64 = 15 * 60;
/// How long an authorization code may be redeemed.
pub const CODE_LIFETIME_SECONDS: i64 = 60;
/// How long access tokens and ID tokens are valid.
pub const TOKEN_LIFETIME_SECONDS: i64 = 300;
/// The scopes the provider knows. `pid` adds the national identity number.
pub const SCOPES: [&str; 2] = ["openid", "pid"];
/// The demo client's id (seeded in demo mode only).
pub const DEMO_CLIENT_ID: &str = "demo-rp";
/// The demo client's secret (demo mode only; documented, not secret).
pub const DEMO_CLIENT_SECRET: &str = "demo-secret";

text_enum! {
    /// The error codes an authorization request ends with (RFC 6749 §4.1.2.1, OpenID
    /// Connect Core §3.1.2.6), sent back to the client's redirect URI.
    pub enum AuthorizationError {
        /// The request is malformed.
        InvalidRequest = "invalid_request",
        /// Only `response_type=code` is supported.
        UnsupportedResponseType = "unsupported_response_type",
        /// The scope is unknown or not allowed for the client.
        InvalidScope = "invalid_scope",
        /// The person (or the login engine on their behalf) said no.
        AccessDenied = "access_denied",
        /// Something failed inside.
        ServerError = "server_error",
        /// The server cannot take the request now.
        TemporarilyUnavailable = "temporarily_unavailable",
        /// The person must log in (`prompt=none` can never be met).
        LoginRequired = "login_required",
        /// The person must interact.
        InteractionRequired = "interaction_required",
        /// The person must consent.
        ConsentRequired = "consent_required",
        /// Request objects are not supported.
        RequestNotSupported = "request_not_supported",
        /// `request_uri` is not supported.
        RequestUriNotSupported = "request_uri_not_supported",
    }
}

text_enum! {
    /// The token endpoint's error codes (RFC 6749 §5.2).
    pub enum TokenErrorCode {
        /// The request is malformed.
        InvalidRequest = "invalid_request",
        /// Client authentication failed.
        InvalidClient = "invalid_client",
        /// The code is unknown, expired, used, or not the client's.
        InvalidGrant = "invalid_grant",
        /// The grant type is not supported.
        UnsupportedGrantType = "unsupported_grant_type",
        /// Too many failed client authentications from this address: try again later
        /// (429 with `Retry-After`; the code is borrowed from RFC 6749 §4.1.2.1).
        TemporarilyUnavailable = "temporarily_unavailable",
        /// Something failed inside.
        ServerError = "server_error",
    }
}

/// Why an OpenID Connect operation failed.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum OidcError {
    /// The authorization request is unknown, expired or already finished.
    #[error("the authorization request is not pending")]
    RequestNotPending,
    /// The request's client no longer exists.
    #[error("unknown client")]
    UnknownClient,
    /// [`complete_authorization`] was given no authentication method.
    #[error("authentication methods (amr) missing")]
    MissingAmr,
    /// A client registration was rejected.
    #[error("invalid client registration: {0}")]
    InvalidRegistration(String),
    /// A client with this id exists already.
    #[error("a client with this id exists already")]
    ClientExists,
    /// Signing failed (no active key, RNG failure).
    #[error("signing failed: {0}")]
    Signing(String),
    /// The store failed; details are logged, never shown.
    #[error("internal error")]
    Store(#[from] StoreError),
}

/// A validated, stored authorization request (what /login shows and continues).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorizationRequest {
    /// The request id, carried by `/login?request={id}`.
    pub id: String,
    /// The relying party.
    pub client_id: String,
    /// Its display name, shown on the login page and in the app ("Skatteetaten").
    pub client_name: String,
    /// Where the browser goes back to.
    pub redirect_uri: String,
    /// Requested scopes, space-separated, `openid` first.
    pub scope: String,
    /// The client's `state`.
    pub state: Option<String>,
    /// The client's `nonce`.
    pub nonce: Option<String>,
    /// The client's `ui_locales` as sent.
    pub ui_locales: Option<String>,
    /// `prompt=login`: the citizen must authenticate now (Nøkkel keeps no single sign-on
    /// session, so every login is fresh anyway).
    pub prompt_login: bool,
    /// The client's `login_hint` (for example an identity number to prefill).
    pub login_hint: Option<String>,
    /// The client's `acr_values` (voluntary; every login reaches [`ACR_SUBSTANTIAL`]).
    pub acr_values: Option<String>,
    /// Whether the `pid` scope was granted: the relying party will learn the identity
    /// number (the login page may say so).
    pub wants_pid: bool,
    /// When the request was made (unix seconds).
    pub created_at: i64,
    /// When it stops being usable (unix seconds).
    pub expires_at: i64,
}

/// Who logged in, as the login engine reports it to [`complete_authorization`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authenticated {
    /// The national identity number.
    pub pid: String,
    /// Authentication methods: `["app"]` or `["pwd", "otp"]`.
    pub amr: Vec<String>,
    /// When the person authenticated (unix seconds).
    pub auth_time: i64,
}

/// The pending authorization request `id`; `None` if unknown, expired or finished.
pub async fn authorization_request(
    deps: &Deps,
    id: &str,
) -> Result<Option<AuthorizationRequest>, OidcError> {
    let Some(record) = pending_request(deps, id).await? else {
        return Ok(None);
    };
    let Some(client) = client(deps, &record.client_id).await? else {
        return Ok(None);
    };
    Ok(Some(AuthorizationRequest {
        wants_pid: has_scope(&record.scope, "pid"),
        id: record.id,
        client_id: record.client_id,
        client_name: client.name,
        redirect_uri: record.redirect_uri,
        scope: record.scope,
        state: record.state,
        nonce: record.nonce,
        ui_locales: record.ui_locales,
        prompt_login: record.prompt_login,
        login_hint: record.login_hint,
        acr_values: record.acr_values,
        created_at: record.created_at,
        expires_at: record.expires_at,
    }))
}

/// The name of the service whose authorization request `id` still waits for a login.
pub async fn waiting_request(
    deps: &Deps,
    id: &str,
) -> Result<Option<String>, crate::services::ServiceError> {
    match authorization_request(deps, id).await {
        Ok(request) => Ok(request.map(|r| r.client_name)),
        Err(OidcError::Store(err)) => Err(err.into()),
        Err(_) => Ok(None),
    }
}

async fn pending_request(
    deps: &Deps,
    id: &str,
) -> Result<Option<AuthorizationRequestRecord>, OidcError> {
    let now = deps.clock.unix();
    let request = match deps.caches.requests.get(id) {
        Some(kept) => Some(kept),
        None => {
            let read = deps.store.authorization_request(id).await?;
            if let Some(request) = &read {
                deps.caches.requests.put(request);
            }
            read
        }
    };
    Ok(request.filter(|r| r.finished_at.is_none() && r.expires_at > now))
}

/// Finishes the request: issues a single-use authorization code and returns the redirect
/// URL (`redirect_uri?code=…&state=…&iss=…`). The request can be completed once; a second
/// call (or a call after [`fail_authorization`]) gets [`OidcError::RequestNotPending`].
pub async fn complete_authorization(
    deps: &Deps,
    request_id: &str,
    who: Authenticated,
) -> Result<String, OidcError> {
    issue_code(deps, request_id, who, None).await
}

/// [`complete_authorization`] for an app login that was approved: the login becomes
/// completed in the same transaction that issues the code, so it is handed to the
/// relying party once. [`OidcError::RequestNotPending`] too when the login is no longer
/// approved (another call completed it).
pub async fn complete_approved_login(
    deps: &Deps,
    request_id: &str,
    who: Authenticated,
    login_id: &str,
) -> Result<String, OidcError> {
    issue_code(deps, request_id, who, Some(login_id)).await
}

async fn issue_code(
    deps: &Deps,
    request_id: &str,
    who: Authenticated,
    login_id: Option<&str>,
) -> Result<String, OidcError> {
    if who.amr.is_empty() || who.amr.iter().any(|m| m.is_empty() || m.contains(' ')) {
        return Err(OidcError::MissingAmr);
    }
    let request = pending_request(deps, request_id)
        .await?
        .ok_or(OidcError::RequestNotPending)?;
    let now = deps.clock.unix();
    let code = random_token(deps);
    let record = AuthorizationCodeRecord {
        code_hash: deps.secrets.token_hash(&code),
        request_id: request.id.clone(),
        client_id: request.client_id.clone(),
        redirect_uri: request.redirect_uri.clone(),
        code_challenge: request.code_challenge.clone(),
        scope: request.scope.clone(),
        nonce: request.nonce.clone(),
        pid: who.pid.clone(),
        amr: who.amr.join(" "),
        auth_time: who.auth_time,
        created_at: now,
        expires_at: now + CODE_LIFETIME_SECONDS,
        used_at: None,
        tokens_revoked_at: None,
    };
    if !deps
        .store
        .complete_authorization_request(&record, now, login_id)
        .await?
    {
        deps.caches.requests.forget(request_id);
        return Err(OidcError::RequestNotPending);
    }
    deps.caches.requests.forget(request_id);
    audit(
        deps,
        "oidc_code_issued",
        Some(&who.pid),
        None,
        serde_json::json!({ "client_id": request.client_id, "request": request.id, "amr": who.amr }),
    )
    .await;
    Ok(redirect_with(
        &request.redirect_uri,
        &[("code", Some(code.as_str()))],
        request.state.as_deref(),
        &deps.issuer(),
    ))
}

/// Ends the request with an OAuth error (`access_denied`, `login_required`, …) and returns
/// the redirect URL carrying it. The request can be ended once.
pub async fn fail_authorization(
    deps: &Deps,
    request_id: &str,
    error: AuthorizationError,
    description: &str,
) -> Result<String, OidcError> {
    let request = pending_request(deps, request_id)
        .await?
        .ok_or(OidcError::RequestNotPending)?;
    if !deps
        .store
        .fail_authorization_request(request_id, deps.clock.unix())
        .await?
    {
        deps.caches.requests.forget(request_id);
        return Err(OidcError::RequestNotPending);
    }
    deps.caches.requests.forget(request_id);
    audit(
        deps,
        "oidc_authorization_failed",
        None,
        None,
        serde_json::json!({ "client_id": request.client_id, "request": request.id, "error": error.as_str() }),
    )
    .await;
    Ok(error_redirect(
        &request.redirect_uri,
        error,
        description,
        request.state.as_deref(),
        &deps.issuer(),
    ))
}

/// The public ID-token keys as JWKs: every key not retired, including keys that will only
/// start signing later (so relying parties know them in time).
pub async fn published_keys(deps: &Deps) -> Result<Vec<serde_json::Value>, OidcError> {
    let keys = deps
        .keys
        .id_tokens
        .published(&deps.store, &deps.secrets, deps.clock.unix())
        .await?;
    Ok(keys
        .iter()
        .map(|k| {
            let jwk = k.key.public_key().to_jwk();
            serde_json::json!({
                "kty": jwk.kty, "crv": jwk.crv, "x": jwk.x, "y": jwk.y,
                "kid": k.key.kid(), "use": "sig", "alg": "ES256",
            })
        })
        .collect())
}

/// Userinfo (OIDC Core §5.3) for a live access token: the same `sub` as the ID token, and
/// `pid` with scope `pid`. `None` when the token is unknown, expired or revoked.
pub async fn userinfo(
    deps: &Deps,
    access_token: &str,
) -> Result<Option<serde_json::Value>, OidcError> {
    let hash = deps.secrets.token_hash(access_token);
    let Some(record) = deps
        .store
        .live_access_token(&hash, deps.clock.unix())
        .await?
    else {
        return Ok(None);
    };
    let Some(client) = client(deps, &record.client_id).await? else {
        return Ok(None);
    };
    let mut body = serde_json::json!({ "sub": clients::pairwise_sub(&client, &record.pid) });
    if has_scope(&record.scope, "pid") {
        body["pid"] = serde_json::json!(record.pid);
    }
    Ok(Some(body))
}

/// The registered client `id`, if any (from the cache when read in the last
/// [`crate::services::cache::CLIENT_TTL_SECONDS`]).
pub async fn client(deps: &Deps, id: &str) -> Result<Option<ClientRecord>, OidcError> {
    let now = deps.clock.unix();
    if let Some(client) = deps.caches.clients.get(id, now) {
        return Ok(Some(client));
    }
    let client = deps.store.client(id).await?;
    if let Some(client) = &client {
        deps.caches.clients.put(client.clone(), now);
    }
    Ok(client)
}

/// Why a post-logout redirect is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogoutRefusal {
    /// Neither `id_token_hint` nor `client_id` names a known client.
    UnknownClient,
    /// The URI is not registered for the client.
    NotRegistered,
}

/// RP-Initiated Logout: checks that `target` is a registered post-logout URI of client
/// `client_id` and records the logout. Nøkkel keeps no single sign-on session, so there is
/// nothing else to end.
pub async fn post_logout(
    deps: &Deps,
    client_id: Option<&str>,
    pid: Option<&str>,
    target: &str,
) -> Result<Result<(), LogoutRefusal>, OidcError> {
    let client = match client_id {
        Some(id) => client(deps, id).await?,
        None => None,
    };
    let Some(client) = client else {
        return Ok(Err(LogoutRefusal::UnknownClient));
    };
    if !clients::post_logout_uri_allowed(&client, target) {
        return Ok(Err(LogoutRefusal::NotRegistered));
    }
    audit(
        deps,
        "oidc_logout",
        pid,
        None,
        serde_json::json!({ "client_id": client.id }),
    )
    .await;
    Ok(Ok(()))
}

/// Whether the space-separated `scope` contains `wanted`.
pub(crate) fn has_scope(scope: &str, wanted: &str) -> bool {
    scope.split(' ').any(|s| s == wanted)
}

/// 32 random bytes, base64url: codes and access tokens (256 bits).
pub(crate) fn random_token(deps: &Deps) -> String {
    let mut bytes = [0u8; 32];
    deps.random.fill(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

/// `uri` with the given query parameters plus `state` and `iss` (RFC 9207) appended,
/// keeping any query the registered URI already has.
pub(crate) fn redirect_with(
    uri: &str,
    params: &[(&str, Option<&str>)],
    state: Option<&str>,
    issuer: &str,
) -> String {
    let mut url = match url::Url::parse(uri) {
        Ok(url) => url,
        // Redirect URIs were parsed when the request was validated.
        Err(_) => return uri.to_owned(),
    };
    {
        let mut query = url.query_pairs_mut();
        for (name, value) in params {
            if let Some(value) = value {
                query.append_pair(name, value);
            }
        }
        if let Some(state) = state {
            query.append_pair("state", state);
        }
        query.append_pair("iss", issuer);
    }
    url.into()
}

/// `uri` carrying an OAuth error response.
pub(crate) fn error_redirect(
    uri: &str,
    error: AuthorizationError,
    description: &str,
    state: Option<&str>,
    issuer: &str,
) -> String {
    let description = (!description.is_empty()).then_some(description);
    redirect_with(
        uri,
        &[
            ("error", Some(error.as_str())),
            ("error_description", description),
        ],
        state,
        issuer,
    )
}
