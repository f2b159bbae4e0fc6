//! ID tokens: the claims, ES256 signing with the current ID-token key (through
//! nokkel-core's compact JWS), `at_hash`, and checking an `id_token_hint`.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use nokkel_core::jws::{sign_compact, Header, ServerSigner, UnverifiedJws};
use serde::{Deserialize, Serialize};

use super::OidcError;
use crate::services::Deps;

/// The JOSE `typ` of ID tokens.
pub const TYP: &str = "JWT";

/// The claims of a Nøkkel ID token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IdTokenClaims {
    /// The issuer (the public base URL).
    pub iss: String,
    /// The client id.
    pub aud: String,
    /// Pairwise subject identifier.
    pub sub: String,
    /// The national identity number, only with scope `pid`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pid: Option<String>,
    /// Always [`super::ACR_SUBSTANTIAL`].
    pub acr: String,
    /// Authentication methods.
    pub amr: Vec<String>,
    /// When the person authenticated.
    pub auth_time: i64,
    /// The client's nonce.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nonce: Option<String>,
    /// Left half of SHA-256 of the access token, base64url.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at_hash: Option<String>,
    /// Issued at.
    pub iat: i64,
    /// Expires at.
    pub exp: i64,
}

/// `at_hash` for an ES256 token (OIDC Core §3.1.3.6): base64url of the left half of
/// SHA-256 of the token's ASCII.
pub fn at_hash(access_token: &str) -> String {
    let digest = ring::digest::digest(&ring::digest::SHA256, access_token.as_bytes());
    URL_SAFE_NO_PAD.encode(&digest.as_ref()[..16])
}

/// Signs `claims` with the ID-token key active now.
pub async fn sign(deps: &Deps, claims: &IdTokenClaims) -> Result<String, OidcError> {
    let key = deps
        .keys
        .id_tokens
        .signing_key(&deps.store, &deps.secrets, deps.clock.unix())
        .await?;
    let payload = serde_json::to_vec(claims).map_err(|e| OidcError::Signing(e.to_string()))?;
    let rng = nokkel_core::random::ring_random();
    let signer = ServerSigner::new(&key, &rng);
    sign_compact(&Header::with_kid(TYP, key.kid()), &payload, &signer)
        .map_err(|e| OidcError::Signing(e.to_string()))
}

/// Checks that `token` is an ID token this server issued (signature by a published key,
/// our issuer) and returns its claims. Expiry is not checked: an `id_token_hint` may be
/// old. `None` if it is not ours or malformed.
pub async fn verify_hint(deps: &Deps, token: &str) -> Result<Option<IdTokenClaims>, OidcError> {
    let Ok(jws) = UnverifiedJws::decode(token, TYP) else {
        return Ok(None);
    };
    let Some(kid) = jws.kid().map(str::to_owned) else {
        return Ok(None);
    };
    let keys = deps
        .keys
        .id_tokens
        .published(&deps.store, &deps.secrets, deps.clock.unix())
        .await?;
    let Some(key) = keys.iter().find(|k| k.key.kid() == kid) else {
        return Ok(None);
    };
    let Ok(payload) = jws.verify(key.key.public_key()) else {
        return Ok(None);
    };
    let Ok(claims) = serde_json::from_slice::<IdTokenClaims>(&payload) else {
        return Ok(None);
    };
    Ok((claims.iss == deps.issuer()).then_some(claims))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn at_hash_matches_the_oidc_core_example() {
        // OIDC Core, Appendix A.3/A.4 use RS256 (also SHA-256): access token
        // "jHkWEdUXMU1BwAsC4vtUsZwnNvTIxEl0z9K3vx5KF0Y" has at_hash "77QmUPtjPfzWtF2AnpK9RQ".
        assert_eq!(
            at_hash("jHkWEdUXMU1BwAsC4vtUsZwnNvTIxEl0z9K3vx5KF0Y"),
            "77QmUPtjPfzWtF2AnpK9RQ"
        );
    }
}
