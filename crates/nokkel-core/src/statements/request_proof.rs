//! Request proofs (RFC 9449 DPoP shape): a fresh device signature over one API call.

use rand_core::CryptoRngCore;
use serde::{Deserialize, Serialize};

use super::*;
use crate::jws::{sign_compact, Es256Signer, Header};
use crate::keys::PublicKey;

/// Request-proof payload (RFC 9449 DPoP shape): authenticates one API call.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RequestProof {
    /// Format version, 1.
    pub v: u64,
    /// `"request"`.
    pub purpose: String,
    /// The server's issuer URL.
    pub aud: String,
    /// Issued at, Unix seconds.
    pub iat: i64,
    /// Unique id (16–128 characters); the server refuses a repeat.
    pub jti: String,
    /// HTTP method, upper case.
    pub htm: String,
    /// HTTP target URI without query and fragment.
    pub htu: String,
    /// base64url SHA-256 of an access token; absent in v1, which issues none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ath: Option<String>,
}

/// The API request a proof is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RequestTarget<'a> {
    /// The server's issuer URL (`aud`).
    pub issuer: &'a str,
    /// HTTP method, upper case (`htm`).
    pub method: &'a str,
    /// Absolute URL without query or fragment (`htu`), e.g.
    /// `https://id.example/api/v1/challenges/pending`.
    pub url: &'a str,
    /// An access token the request carries, if any (`ath` = its SHA-256). None in v1.
    pub access_token: Option<&'a str>,
}

/// A fresh `jti`: 128 random bits, base64url (22 characters).
pub fn new_jti<R: CryptoRngCore + ?Sized>(rng: &mut R) -> String {
    random_token(rng, 16)
}

/// Device side: signs a proof for one API request.
pub fn sign_request_proof(
    key: &dyn Es256Signer,
    target: &RequestTarget<'_>,
    jti: &str,
    now: i64,
) -> Result<String, StatementError> {
    let payload = RequestProof {
        v: VERSION,
        purpose: PURPOSE_REQUEST.to_owned(),
        aud: target.issuer.to_owned(),
        iat: now,
        jti: jti.to_owned(),
        htm: target.method.to_owned(),
        htu: target.url.to_owned(),
        ath: target.access_token.map(access_token_hash),
    };
    let header = Header::with_kid(TYP_REQUEST_PROOF, &key.key_id());
    Ok(sign_compact(&header, &to_json(&payload)?, key)?)
}

fn access_token_hash(token: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(token.as_bytes()))
}

/// A verified request proof. The server must refuse a second proof with the same
/// `(device_id, jti)` until [`Self::remember_jti_until`].
#[derive(Debug, Clone)]
pub struct VerifiedRequestProof {
    device_id: DeviceId,
    payload: RequestProof,
}

impl VerifiedRequestProof {
    /// The calling device.
    pub fn device_id(&self) -> &DeviceId {
        &self.device_id
    }
    /// The proof's unique id.
    pub fn jti(&self) -> &str {
        &self.payload.jti
    }
    /// Until when (Unix seconds) the replay cache must hold this jti: after that the
    /// proof fails the `iat` check anyway.
    pub fn remember_jti_until(&self) -> i64 {
        self.payload.iat.saturating_add(CLOCK_SKEW_SECS)
    }
    /// The verified payload.
    pub fn payload(&self) -> &RequestProof {
        &self.payload
    }
}

/// Server side: verifies a request proof for the given request (ring). Replay of `jti` is
/// the caller's job (see [`VerifiedRequestProof::remember_jti_until`]).
pub fn verify_request_proof(
    compact: &str,
    device_key: &PublicKey,
    target: &RequestTarget<'_>,
    now: i64,
) -> Result<VerifiedRequestProof, StatementError> {
    let payload: RequestProof = open(
        &verify_by_device(compact, TYP_REQUEST_PROOF, device_key)?,
        PURPOSE_REQUEST,
    )?;
    if payload.aud != target.issuer {
        return Err(StatementError::WrongAudience);
    }
    check_iat(payload.iat, now)?;
    let jti_chars = payload.jti.chars().count();
    if !(MIN_JTI_CHARS..=MAX_JTI_CHARS).contains(&jti_chars) {
        return Err(StatementError::BadPayload("jti must be 16-128 characters"));
    }
    let expected_ath = target.access_token.map(access_token_hash);
    if payload.htm != target.method || payload.htu != target.url || payload.ath != expected_ath {
        return Err(StatementError::WrongRequest);
    }
    Ok(VerifiedRequestProof {
        device_id: device_key.device_id(),
        payload,
    })
}
