//! Enrolment: the server's nonce, the device's proof of possession of its new key, and the
//! check that consumes the pending enrolment.

use rand_core::CryptoRngCore;
use serde::{Deserialize, Serialize};

use super::*;
use crate::jws::{sign_compact, Header};
use crate::keys::{DeviceId, DeviceKey, PublicKey};

/// Enrolment payload: proof of possession of a new device key over a server nonce.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Enrolment {
    /// Format version, 1.
    pub v: u64,
    /// `"enrolment"`.
    pub purpose: String,
    /// The server's issuer URL.
    pub aud: String,
    /// Issued at, Unix seconds.
    pub iat: i64,
    /// The nonce from the server's start-enrolment answer.
    pub nonce: String,
    /// The thumbprint of the header's `jwk`.
    pub device_id: DeviceId,
    /// A name the user recognises the device by (1–64 characters).
    pub device_name: String,
    /// The platform.
    pub platform: Platform,
    /// The user-verification methods this device can perform (1–4, no repeats).
    pub uv_methods: Vec<UserVerification>,
}

/// What the server remembers between starting and finishing an enrolment.
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PendingEnrolment {
    issuer: String,
    nonce: String,
    expires_at: i64,
}

impl PendingEnrolment {
    /// Starts an enrolment: a fresh 256-bit nonce valid for [`ENROLMENT_TTL_SECS`].
    pub fn start<R: CryptoRngCore + ?Sized>(issuer: &str, rng: &mut R, now: i64) -> Self {
        Self {
            issuer: issuer.to_owned(),
            nonce: random_token(rng, 32),
            expires_at: now.saturating_add(ENROLMENT_TTL_SECS),
        }
    }

    /// The same checks over another ceremony's nonce (a transfer's).
    pub(super) fn from_parts(issuer: String, nonce: String, expires_at: i64) -> Self {
        Self {
            issuer,
            nonce,
            expires_at,
        }
    }

    /// The nonce to send to the device.
    pub fn nonce(&self) -> &str {
        &self.nonce
    }

    /// The issuer the statement must be addressed to.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// When the nonce stops being accepted (Unix seconds).
    pub fn expires_at(&self) -> i64 {
        self.expires_at
    }
}

/// What a device says about itself when it enrols.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceDescription {
    /// A name the user recognises (1–64 characters).
    pub name: String,
    /// The platform.
    pub platform: Platform,
    /// The user-verification methods the device can perform.
    pub uv_methods: Vec<UserVerification>,
}

/// Device side: signs the enrolment statement over the server's nonce.
pub fn sign_enrolment(
    key: &DeviceKey,
    issuer: &str,
    nonce: &str,
    device: &DeviceDescription,
    now: i64,
) -> Result<String, StatementError> {
    let public = key.public_key();
    let payload = Enrolment {
        v: VERSION,
        purpose: PURPOSE_ENROLMENT.to_owned(),
        aud: issuer.to_owned(),
        iat: now,
        nonce: nonce.to_owned(),
        device_id: public.device_id(),
        device_name: device.name.clone(),
        platform: device.platform,
        uv_methods: device.uv_methods.clone(),
    };
    let header = Header::with_jwk(TYP_ENROLMENT, public.to_jwk());
    Ok(sign_compact(&header, &to_json(&payload)?, key)?)
}

/// A verified enrolment: the server may now register this key as a device.
#[derive(Debug, Clone)]
pub struct VerifiedEnrolment {
    public_key: PublicKey,
    payload: Enrolment,
}

impl VerifiedEnrolment {
    /// The new device's public key.
    pub fn public_key(&self) -> &PublicKey {
        &self.public_key
    }
    /// The new device's id.
    pub fn device_id(&self) -> &DeviceId {
        &self.payload.device_id
    }
    /// The whole verified payload.
    pub fn payload(&self) -> &Enrolment {
        &self.payload
    }
}

/// Server side: verifies an enrolment statement against the pending enrolment.
pub fn verify_enrolment(
    compact: &str,
    pending: PendingEnrolment,
    now: i64,
) -> Result<VerifiedEnrolment, StatementError> {
    let jws = UnverifiedJws::decode(compact, TYP_ENROLMENT)?;
    let jwk = jws
        .header()
        .jwk
        .clone()
        .ok_or(JwsError::KeyReference("enrolment must carry jwk, not kid"))?;
    let public_key = PublicKey::from_jwk(&jwk)?;
    let payload: Enrolment = open(&jws.verify(&public_key)?, PURPOSE_ENROLMENT)?;
    if payload.aud != pending.issuer {
        return Err(StatementError::WrongAudience);
    }
    if payload.device_id.as_str() != public_key.thumbprint() {
        return Err(StatementError::WrongDevice);
    }
    if now > pending.expires_at {
        return Err(StatementError::Expired);
    }
    check_iat(payload.iat, now)?;
    if payload.nonce != pending.nonce {
        return Err(StatementError::NonceMismatch);
    }
    let name_chars = payload.device_name.chars().count();
    if name_chars == 0 || name_chars > MAX_DEVICE_NAME_CHARS {
        return Err(StatementError::BadPayload(
            "device_name must be 1-64 characters",
        ));
    }
    let uv = &payload.uv_methods;
    if uv.is_empty() || uv.len() > 4 || (1..uv.len()).any(|i| uv[..i].contains(&uv[i])) {
        return Err(StatementError::BadPayload(
            "uv_methods must be 1-4 distinct methods",
        ));
    }
    Ok(VerifiedEnrolment {
        public_key,
        payload,
    })
}
