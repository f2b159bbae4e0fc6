//! The `authorization_code` grant (RFC 6749 §4.1.3) with client authentication
//! (`client_secret_basic`, `client_secret_post`) and PKCE S256.
//!
//! Every check runs before the code is consumed, so a rejected request (wrong client,
//! wrong redirect URI, PKCE mismatch) changes nothing and the rightful client can still
//! redeem the code. A code presented after it was redeemed revokes the tokens issued for
//! it (RFC 6749 §4.1.2).

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use subtle::ConstantTimeEq;

use super::clients::{pairwise_sub, secret_matches};
use super::id_token::{self, IdTokenClaims};
use super::{has_scope, random_token, TokenErrorCode, ACR_SUBSTANTIAL, TOKEN_LIFETIME_SECONDS};
use crate::services::{audit, check_rate_limit, rate_limit, Deps, ServiceError};
use crate::store::{AccessTokenRecord, ClientRecord};

/// An RFC 6749 §5.2 error response.
#[derive(Debug)]
pub struct TokenError {
    /// The RFC 6749 error code.
    pub code: TokenErrorCode,
    /// What was wrong, for the client's developers.
    pub description: String,
    /// `invalid_client` after HTTP Basic: 401 with a `WWW-Authenticate` challenge.
    pub basic_challenge: bool,
    /// `temporarily_unavailable`: seconds until the client may try again.
    pub retry_after: Option<i64>,
}

impl TokenError {
    pub(crate) fn new(code: TokenErrorCode, description: impl Into<String>) -> Self {
        Self {
            code,
            description: description.into(),
            basic_challenge: false,
            retry_after: None,
        }
    }
}

pub(crate) fn internal(err: impl std::fmt::Display) -> TokenError {
    tracing::error!(error = %err, "token endpoint failed");
    TokenError::new(TokenErrorCode::ServerError, "something went wrong")
}

/// The form fields; each at most once.
pub struct Form(Vec<(String, String)>);

impl Form {
    pub fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
            .filter(|v| !v.is_empty())
    }
    /// Parses a form-urlencoded body; a parameter sent twice is refused.
    pub fn parse(body: &[u8]) -> Result<Form, TokenError> {
        let mut pairs: Vec<(String, String)> = Vec::new();
        for (name, value) in form_urlencoded::parse(body) {
            if pairs.iter().any(|(n, _)| *n == name) {
                return Err(TokenError::new(
                    TokenErrorCode::InvalidRequest,
                    format!("parameter {name} appears more than once"),
                ));
            }
            pairs.push((name.into_owned(), value.into_owned()));
        }
        Ok(Form(pairs))
    }
}

/// Failed client authentications allowed per client and address in a window.
pub const CLIENT_AUTH_FAILURES_PER_MINUTE: i64 = 10;
const CLIENT_AUTH_WINDOW_SECONDS: i64 = 60;

/// Authenticates the client by exactly one method. Failures are counted per client and
/// client address; past [`CLIENT_AUTH_FAILURES_PER_MINUTE`] the address is refused, right
/// secret or not, until the minute is over (docs/OIDC.md § Token request).
async fn authenticate(
    deps: &Deps,
    client_ip: &str,
    basic: Option<(String, String)>,
    form: &Form,
) -> Result<ClientRecord, TokenError> {
    let (client_id, secret, is_basic) = match (basic, form.get("client_secret")) {
        (Some(_), Some(_)) => {
            return Err(TokenError::new(
                TokenErrorCode::InvalidRequest,
                "use one client authentication method, not two",
            ))
        }
        (Some((id, secret)), None) => {
            if form.get("client_id").is_some_and(|body_id| body_id != id) {
                return Err(TokenError::new(
                    TokenErrorCode::InvalidRequest,
                    "client_id in the body differs from the authenticated client",
                ));
            }
            (id, secret, true)
        }
        (None, Some(secret)) => {
            let Some(id) = form.get("client_id") else {
                return Err(TokenError::new(
                    TokenErrorCode::InvalidRequest,
                    "client_id is missing",
                ));
            };
            (id.to_owned(), secret.to_owned(), false)
        }
        (None, None) => {
            return Err(TokenError::new(
                TokenErrorCode::InvalidClient,
                "client authentication is required (client_secret_basic or client_secret_post)",
            ))
        }
    };
    let client = super::client(deps, &client_id).await.map_err(internal)?;
    // An unknown id is counted under `-`: a name chosen by the caller makes no key.
    let known_id = client.as_ref().map_or("-", |c| c.id.as_str());
    let limit_key = format!("client-auth:{known_id}:{client_ip}");
    check_rate_limit(
        deps,
        &limit_key,
        CLIENT_AUTH_WINDOW_SECONDS,
        CLIENT_AUTH_FAILURES_PER_MINUTE,
    )
    .await
    .map_err(|err| throttled(deps, err))?;
    let matches = client
        .as_ref()
        .is_some_and(|c| secret_matches(&deps.secrets, c, &secret));
    if !matches {
        // Over the limit only under a race; this attempt is refused either way.
        let _ = rate_limit(
            deps,
            &limit_key,
            CLIENT_AUTH_WINDOW_SECONDS,
            CLIENT_AUTH_FAILURES_PER_MINUTE,
        )
        .await;
    }
    let authenticated = client.filter(|_| matches).ok_or_else(|| {
        tracing::info!(client_id = %client_id, "token request: client authentication failed");
        TokenError {
            basic_challenge: is_basic,
            ..TokenError::new(
                TokenErrorCode::InvalidClient,
                "client authentication failed",
            )
        }
    })?;
    Ok(authenticated)
}

/// The refusal once the failures are used up, or an internal error.
fn throttled(deps: &Deps, err: ServiceError) -> TokenError {
    match err {
        ServiceError::RateLimited => {
            let now = deps.clock.unix();
            TokenError {
                retry_after: Some(
                    CLIENT_AUTH_WINDOW_SECONDS - now.rem_euclid(CLIENT_AUTH_WINDOW_SECONDS),
                ),
                ..TokenError::new(
                    TokenErrorCode::TemporarilyUnavailable,
                    "too many failed client authentications; try again later",
                )
            }
        }
        other => internal(other),
    }
}

/// `BASE64URL(SHA256(code_verifier)) == code_challenge` (RFC 7636 §4.6).
fn pkce_matches(verifier: &str, challenge: &str) -> bool {
    let digest = ring::digest::digest(&ring::digest::SHA256, verifier.as_bytes());
    let computed = URL_SAFE_NO_PAD.encode(digest.as_ref());
    bool::from(computed.as_bytes().ct_eq(challenge.as_bytes()))
}

/// RFC 7636 §4.1: 43–128 characters of `A-Z a-z 0-9 - . _ ~`.
fn verifier_well_formed(verifier: &str) -> bool {
    (43..=128).contains(&verifier.len())
        && verifier
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
}

/// Exchanges an authorization code for tokens (RFC 6749 §4.1.3), the client authenticated
/// by `basic` credentials or `client_secret` in the form. `client_ip` is for the audit log.
pub async fn exchange(
    deps: &Deps,
    client_ip: &str,
    basic: Option<(String, String)>,
    form: &Form,
) -> Result<serde_json::Value, TokenError> {
    let client = authenticate(deps, client_ip, basic, form).await?;
    match form.get("grant_type") {
        Some("authorization_code") => {}
        None => {
            return Err(TokenError::new(
                TokenErrorCode::InvalidRequest,
                "grant_type is missing",
            ))
        }
        Some(_) => {
            return Err(TokenError::new(
                TokenErrorCode::UnsupportedGrantType,
                "only authorization_code is supported",
            ))
        }
    }
    let Some(code) = form.get("code") else {
        return Err(TokenError::new(
            TokenErrorCode::InvalidRequest,
            "code is missing",
        ));
    };
    let Some(redirect_uri) = form.get("redirect_uri") else {
        return Err(TokenError::new(
            TokenErrorCode::InvalidRequest,
            "redirect_uri is missing",
        ));
    };
    let Some(verifier) = form.get("code_verifier") else {
        return Err(TokenError::new(
            TokenErrorCode::InvalidRequest,
            "code_verifier is missing (PKCE is required)",
        ));
    };
    if !verifier_well_formed(verifier) {
        return Err(TokenError::new(
            TokenErrorCode::InvalidRequest,
            "code_verifier must be 43–128 characters of A-Z a-z 0-9 - . _ ~",
        ));
    }

    let now = deps.clock.unix();
    let code_hash = deps.secrets.token_hash(code);
    let invalid_grant = |why: &str| TokenError::new(TokenErrorCode::InvalidGrant, why);
    let Some(record) = deps
        .store
        .authorization_code(&code_hash)
        .await
        .map_err(internal)?
    else {
        return Err(invalid_grant("unknown authorization code"));
    };
    if record.used_at.is_some() {
        return Err(reuse(deps, client_ip, &record.code_hash, &record.client_id, now).await);
    }
    if record.client_id != client.id {
        return Err(invalid_grant("the code was issued to another client"));
    }
    if record.expires_at <= now {
        return Err(invalid_grant("the authorization code has expired"));
    }
    if record.redirect_uri != redirect_uri {
        return Err(invalid_grant(
            "redirect_uri differs from the authorization request",
        ));
    }
    if !pkce_matches(verifier, &record.code_challenge) {
        return Err(invalid_grant("code_verifier does not match code_challenge"));
    }

    let access_token = random_token(deps);
    let token_record = AccessTokenRecord {
        token_hash: deps.secrets.token_hash(&access_token),
        code_hash: record.code_hash.clone(),
        client_id: client.id.clone(),
        pid: record.pid.clone(),
        scope: record.scope.clone(),
        created_at: now,
        expires_at: now + TOKEN_LIFETIME_SECONDS,
    };
    if !deps
        .store
        .redeem_authorization_code(&token_record, now)
        .await
        .map_err(internal)?
    {
        // Another request redeemed it between our read and our update.
        return Err(reuse(deps, client_ip, &record.code_hash, &record.client_id, now).await);
    }

    let claims = IdTokenClaims {
        iss: deps.issuer(),
        aud: client.id.clone(),
        sub: pairwise_sub(&client, &record.pid),
        pid: has_scope(&record.scope, "pid").then(|| record.pid.clone()),
        acr: ACR_SUBSTANTIAL.to_owned(),
        amr: record.amr.split(' ').map(str::to_owned).collect(),
        auth_time: record.auth_time,
        nonce: record.nonce.clone(),
        at_hash: Some(id_token::at_hash(&access_token)),
        iat: now,
        exp: now + TOKEN_LIFETIME_SECONDS,
    };
    let id_token = id_token::sign(deps, &claims).await.map_err(internal)?;
    audit(
        deps,
        "oidc_token_issued",
        Some(&record.pid),
        Some(client_ip),
        serde_json::json!({ "client_id": client.id, "request": record.request_id }),
    )
    .await;
    let body = serde_json::json!({
        "access_token": access_token,
        "token_type": "Bearer",
        "expires_in": TOKEN_LIFETIME_SECONDS,
        "id_token": id_token,
        "scope": record.scope,
    });
    Ok(body)
}

/// A redeemed code came back: refuse it and revoke what was issued for it.
async fn reuse(
    deps: &Deps,
    client_ip: &str,
    code_hash: &[u8],
    client_id: &str,
    now: i64,
) -> TokenError {
    if let Err(err) = deps.store.revoke_code_tokens(code_hash, now).await {
        return internal(err);
    }
    audit(
        deps,
        "oidc_code_reused",
        None,
        Some(client_ip),
        serde_json::json!({ "client_id": client_id }),
    )
    .await;
    TokenError::new(
        TokenErrorCode::InvalidGrant,
        "the authorization code was already used; tokens issued for it are revoked",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pkce_s256_matches_rfc_7636_appendix_b() {
        let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
        assert!(verifier_well_formed(verifier));
        assert!(pkce_matches(
            verifier,
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        ));
        assert!(!pkce_matches(
            verifier,
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cN"
        ));
        assert!(!verifier_well_formed("short"));
        assert!(!verifier_well_formed(&"a+".repeat(30)));
    }
}
