//! Signed statements: what a device signs (enrolment, approval, denial, request proof) and
//! what the server signs (login challenge), with the pure functions that verify them.
//!
//! Ceremonies are start/finish pairs. Enrolment: [`PendingEnrolment::start`] →
//! the device signs with [`sign_enrolment`] → [`verify_enrolment`] consumes the pending
//! value. Login: [`PendingLogin::start`] → [`PendingLogin::sign_challenge`] for each of the
//! person's devices → the device checks it with [`verify_login_challenge`] against the
//! pinned server key and answers with [`VerifiedChallenge::approve`] or
//! [`VerifiedChallenge::deny`] → [`verify_approval`] or [`verify_denial`] consumes the
//! pending value. Every API call carries a [`sign_request_proof`] proof checked by
//! [`verify_request_proof`].
//!
//! The server stores pending values between HTTP requests, so they serialize; their fields
//! stay private so nothing but `start` (or the server's own store) makes one. Never send a
//! pending value to a client.
//!
//! Every check and its error code is specified in docs/PROTOCOL.md and exercised by the
//! files in docs/vectors/.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use rand_core::CryptoRngCore;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};
use thiserror::Error;

use crate::jws::{sign_compact, Es256Signer, Header, JwsError, UnverifiedJws};
use crate::keys::{DeviceId, DeviceKey, KeyError, PublicKey};
use crate::number_match::{valid_choices, NumberMatch};

/// The statement format version this code speaks (`v` in every payload).
pub const VERSION: u64 = 1;

/// How far a device's `iat` may lie from the verifier's clock, either way, in seconds.
pub const CLOCK_SKEW_SECS: i64 = 60;

/// Lifetime of a login challenge, in seconds. The server enforces it exactly.
pub const CHALLENGE_TTL_SECS: i64 = 120;

/// Lifetime of an enrolment nonce, in seconds. The server enforces it exactly.
pub const ENROLMENT_TTL_SECS: i64 = 600;

/// Largest counter value: 2^53 − 1, so that every JSON implementation reads it exactly.
pub const MAX_COUNTER: u64 = (1 << 53) - 1;

/// `typ` of an enrolment statement.
pub const TYP_ENROLMENT: &str = "nokkel-enrolment+jwt";
/// `typ` of an approval.
pub const TYP_APPROVAL: &str = "nokkel-approval+jwt";
/// `typ` of a denial.
pub const TYP_DENIAL: &str = "nokkel-denial+jwt";
/// `typ` of a request proof.
pub const TYP_REQUEST_PROOF: &str = "nokkel-proof+jwt";
/// `typ` of a server-signed login challenge.
pub const TYP_LOGIN_CHALLENGE: &str = "nokkel-challenge+jwt";

const PURPOSE_ENROLMENT: &str = "enrolment";
const PURPOSE_APPROVAL: &str = "approval";
const PURPOSE_DENIAL: &str = "denial";
const PURPOSE_REQUEST: &str = "request";
const PURPOSE_LOGIN_CHALLENGE: &str = "login_challenge";

const MAX_DEVICE_NAME_CHARS: usize = 64;
const MAX_TEXT_CHARS: usize = 256;
const MIN_JTI_CHARS: usize = 16;
const MAX_JTI_CHARS: usize = 128;

/// Why a statement was rejected. [`StatementError::code`] gives the stable code used in API
/// errors and test vectors. Messages never contain keys, nonces or expected numbers.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum StatementError {
    /// Rejected at the JOSE level (encoding, algorithm, type, header, signature).
    #[error(transparent)]
    Jws(#[from] JwsError),
    /// The key presented (enrolment `jwk`) is not a valid P-256 public key.
    #[error(transparent)]
    Key(#[from] KeyError),
    /// The payload is not JSON, or members are missing, unknown or of the wrong type/range.
    #[error("statement payload invalid: {0}")]
    BadPayload(&'static str),
    /// `v` is a version this side does not speak.
    #[error("unsupported statement version {0}; this side speaks 1")]
    UnsupportedVersion(u64),
    /// `purpose` does not match the statement type.
    #[error("statement purpose does not match its type")]
    WrongPurpose,
    /// `aud` is not this verifier (the server's issuer, or this device).
    #[error("statement is addressed to someone else")]
    WrongAudience,
    /// A challenge's `iss` is not the server this device enrolled with.
    #[error("challenge comes from another issuer")]
    WrongIssuer,
    /// The statement names another device than the key that signed it.
    #[error("statement names another device than its signer")]
    WrongDevice,
    /// `iat` is more than the clock-skew bound in the future.
    #[error("statement issued in the future")]
    IssuedInFuture,
    /// `iat` is more than the clock-skew bound in the past.
    #[error("statement is too old")]
    Stale,
    /// The challenge or enrolment it answers has expired.
    #[error("challenge expired")]
    Expired,
    /// It answers another challenge.
    #[error("statement answers another challenge")]
    WrongChallenge,
    /// The nonce is not the one the server issued.
    #[error("nonce does not match")]
    NonceMismatch,
    /// The signature counter did not grow: a replay, or a cloned key.
    #[error("signature counter did not increase (last seen {last})")]
    CounterNotIncreased {
        /// The last counter value the server accepted for this device.
        last: u64,
    },
    /// The approval picked another number than the browser shows.
    #[error("the number picked is not the number shown")]
    WrongNumber,
    /// The device tried to approve with a number the challenge did not offer.
    #[error("the number picked was not one of the choices")]
    NumberNotOffered,
    /// A request proof is for another method, URL or access token.
    #[error("request proof is for another request")]
    WrongRequest,
}

impl StatementError {
    /// A stable short code (`snake_case`), used in API errors and test vectors.
    pub fn code(&self) -> &'static str {
        match self {
            Self::Jws(e) => e.code(),
            Self::Key(_) => "bad_key",
            Self::BadPayload(_) => "bad_payload",
            Self::UnsupportedVersion(_) => "unsupported_version",
            Self::WrongPurpose => "wrong_purpose",
            Self::WrongAudience => "wrong_audience",
            Self::WrongIssuer => "wrong_issuer",
            Self::WrongDevice => "wrong_device",
            Self::IssuedInFuture => "issued_in_future",
            Self::Stale => "stale",
            Self::Expired => "expired",
            Self::WrongChallenge => "wrong_challenge",
            Self::NonceMismatch => "nonce_mismatch",
            Self::CounterNotIncreased { .. } => "counter_not_increased",
            Self::WrongNumber => "wrong_number",
            Self::NumberNotOffered => "number_not_offered",
            Self::WrongRequest => "wrong_request",
        }
    }
}

/// How the user proved presence before the device signed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum UserVerification {
    /// Face or fingerprint through the platform's biometric prompt.
    Biometric,
    /// The phone's own PIN, pattern or password (platform prompt).
    DeviceCredential,
    /// The app's own passcode (desktop builds).
    Passcode,
    /// No verification: tests and the software authenticator only. Servers outside test
    /// mode must refuse it (see [`UserVerification::is_test_only`]).
    NoneTest,
}

impl UserVerification {
    /// True for methods a production server must refuse.
    pub fn is_test_only(self) -> bool {
        matches!(self, Self::NoneTest)
    }
}

/// The platform an authenticator runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Platform {
    /// Android app.
    Android,
    /// iOS app.
    Ios,
    /// macOS desktop app.
    Macos,
    /// Linux desktop app.
    Linux,
    /// Windows desktop app.
    Windows,
    /// The `nokkel device` software authenticator.
    Software,
}

// ---------------------------------------------------------------------------------------
// Payloads
// ---------------------------------------------------------------------------------------

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

/// Approval payload: the user approved a login and picked a number.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Approval {
    /// Format version, 1.
    pub v: u64,
    /// `"approval"`.
    pub purpose: String,
    /// The server's issuer URL.
    pub aud: String,
    /// Issued at, Unix seconds.
    pub iat: i64,
    /// The signing device.
    pub device_id: DeviceId,
    /// The challenge answered.
    pub challenge_id: String,
    /// The challenge's nonce.
    pub nonce: String,
    /// The number the user picked (10–99).
    pub number: u8,
    /// How the user was verified.
    pub uv: UserVerification,
    /// Signature counter, greater than any this device used before.
    pub ctr: u64,
}

/// Denial payload: the user refused a login, optionally reporting it as not theirs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Denial {
    /// Format version, 1.
    pub v: u64,
    /// `"denial"`.
    pub purpose: String,
    /// The server's issuer URL.
    pub aud: String,
    /// Issued at, Unix seconds.
    pub iat: i64,
    /// The signing device.
    pub device_id: DeviceId,
    /// The challenge answered.
    pub challenge_id: String,
    /// The challenge's nonce.
    pub nonce: String,
    /// True for "this wasn't me".
    pub report: bool,
    /// Signature counter, greater than any this device used before.
    pub ctr: u64,
}

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

/// Login-challenge payload, signed by the server.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoginChallenge {
    /// Format version, 1.
    pub v: u64,
    /// `"login_challenge"`.
    pub purpose: String,
    /// The server's issuer URL.
    pub iss: String,
    /// The device this copy of the challenge is for.
    pub aud: DeviceId,
    /// The challenge (login transaction) id.
    pub challenge_id: String,
    /// Nonce the answer must repeat.
    pub nonce: String,
    /// Display name of the relying party ("Skatteetaten").
    pub service: String,
    /// Issued at, Unix seconds.
    pub iat: i64,
    /// Expires at, Unix seconds.
    pub exp: i64,
    /// Browser, from the User-Agent.
    pub browser: String,
    /// Operating system, from the User-Agent.
    pub os: String,
    /// Approximate place, or null when unknown.
    pub place: Option<String>,
    /// The three numbers the app offers.
    pub choices: [u8; 3],
}

// ---------------------------------------------------------------------------------------
// Shared checks
// ---------------------------------------------------------------------------------------

fn open<T: DeserializeOwned>(payload: &[u8], purpose: &str) -> Result<T, StatementError> {
    let value: serde_json::Value =
        serde_json::from_slice(payload).map_err(|_| StatementError::BadPayload("not JSON"))?;
    let object = value
        .as_object()
        .ok_or(StatementError::BadPayload("not a JSON object"))?;
    // Version first, so a newer peer gets "unsupported version" and not a schema error.
    match object.get("v").map(serde_json::Value::as_u64) {
        Some(Some(VERSION)) => {}
        Some(Some(other)) => return Err(StatementError::UnsupportedVersion(other)),
        _ => return Err(StatementError::BadPayload("v missing or not an integer")),
    }
    match object.get("purpose").and_then(serde_json::Value::as_str) {
        Some(p) if p == purpose => {}
        Some(_) => return Err(StatementError::WrongPurpose),
        None => return Err(StatementError::BadPayload("purpose missing")),
    }
    serde_json::from_value(value)
        .map_err(|_| StatementError::BadPayload("members missing, unknown, or of the wrong type"))
}

fn check_iat(iat: i64, now: i64) -> Result<(), StatementError> {
    if iat > now.saturating_add(CLOCK_SKEW_SECS) {
        Err(StatementError::IssuedInFuture)
    } else if iat < now.saturating_sub(CLOCK_SKEW_SECS) {
        Err(StatementError::Stale)
    } else {
        Ok(())
    }
}

fn check_counter(ctr: u64, last: u64) -> Result<(), StatementError> {
    if ctr > MAX_COUNTER {
        Err(StatementError::BadPayload("ctr above 2^53-1"))
    } else if ctr <= last {
        Err(StatementError::CounterNotIncreased { last })
    } else {
        Ok(())
    }
}

fn check_text(text: &str, max: usize, what: &'static str) -> Result<(), StatementError> {
    if text.chars().count() > max {
        Err(StatementError::BadPayload(what))
    } else {
        Ok(())
    }
}

/// Decodes, checks `kid` against the device key, verifies with ring.
fn verify_by_device(
    compact: &str,
    typ: &'static str,
    device_key: &PublicKey,
) -> Result<Vec<u8>, StatementError> {
    let jws = UnverifiedJws::decode(compact, typ)?;
    if jws.kid() != Some(device_key.thumbprint().as_str()) {
        return Err(JwsError::KeyReference("kid does not name the verifying key").into());
    }
    Ok(jws.verify(device_key)?)
}

fn random_token<R: CryptoRngCore + ?Sized>(rng: &mut R, bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    rng.fill_bytes(&mut buf);
    URL_SAFE_NO_PAD.encode(buf)
}

fn to_json<T: Serialize>(payload: &T) -> Result<Vec<u8>, StatementError> {
    serde_json::to_vec(payload).map_err(|_| StatementError::BadPayload("not serializable"))
}

/// The device id a statement's header names (`kid`), so the server can look up the
/// device's key before verifying. Nothing is verified yet.
pub fn claimed_device_id(compact: &str, typ: &'static str) -> Result<DeviceId, StatementError> {
    let jws = UnverifiedJws::decode(compact, typ)?;
    let kid = jws.kid().ok_or(JwsError::KeyReference("kid missing"))?;
    DeviceId::parse(kid).map_err(|_| JwsError::KeyReference("kid is not a device id").into())
}

// ---------------------------------------------------------------------------------------
// Enrolment
// ---------------------------------------------------------------------------------------

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

// ---------------------------------------------------------------------------------------
// Login challenge, approval, denial
// ---------------------------------------------------------------------------------------

/// What the login page knows about the request, shown to the user in the app.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoginContext {
    /// Display name of the relying party.
    pub service: String,
    /// Browser, from the User-Agent ("Firefox 140").
    pub browser: String,
    /// Operating system, from the User-Agent ("Windows 11").
    pub os: String,
    /// Approximate place ("Oslo, Norway"), or None when unknown.
    pub place: Option<String>,
}

/// What the server remembers about a login between issuing its challenge and receiving
/// the answer: consumed by [`verify_approval`] or [`verify_denial`].
#[derive(Debug, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PendingLogin {
    issuer: String,
    challenge_id: String,
    nonce: String,
    issued_at: i64,
    expires_at: i64,
    number: u8,
    choices: [u8; 3],
    context: LoginContext,
}

impl PendingLogin {
    /// Starts a login: a fresh challenge id, nonce and number, valid for
    /// [`CHALLENGE_TTL_SECS`].
    pub fn start<R: CryptoRngCore + ?Sized>(
        issuer: &str,
        context: LoginContext,
        rng: &mut R,
        now: i64,
    ) -> Self {
        let challenge_id = random_token(rng, 16);
        let nonce = random_token(rng, 32);
        let (_seed, numbers) = NumberMatch::generate(rng);
        Self {
            issuer: issuer.to_owned(),
            challenge_id,
            nonce,
            issued_at: now,
            expires_at: now.saturating_add(CHALLENGE_TTL_SECS),
            number: numbers.number(),
            choices: numbers.choices(),
            context,
        }
    }

    /// The challenge id (also the transaction's handle in URLs).
    pub fn challenge_id(&self) -> &str {
        &self.challenge_id
    }

    /// The number the browser page shows.
    pub fn number(&self) -> u8 {
        self.number
    }

    /// The three numbers the app offers.
    pub fn choices(&self) -> [u8; 3] {
        self.choices
    }

    /// When the challenge stops being accepted (Unix seconds).
    pub fn expires_at(&self) -> i64 {
        self.expires_at
    }

    /// The login's context.
    pub fn context(&self) -> &LoginContext {
        &self.context
    }

    /// Signs this login's challenge for one device (same content for every device except
    /// `aud`). Server side uses [`crate::jws::ServerSigner`].
    pub fn sign_challenge(
        &self,
        device: &DeviceId,
        signer: &dyn Es256Signer,
    ) -> Result<String, StatementError> {
        let payload = LoginChallenge {
            v: VERSION,
            purpose: PURPOSE_LOGIN_CHALLENGE.to_owned(),
            iss: self.issuer.clone(),
            aud: device.clone(),
            challenge_id: self.challenge_id.clone(),
            nonce: self.nonce.clone(),
            service: self.context.service.clone(),
            iat: self.issued_at,
            exp: self.expires_at,
            browser: self.context.browser.clone(),
            os: self.context.os.clone(),
            place: self.context.place.clone(),
            choices: self.choices,
        };
        let header = Header::with_kid(TYP_LOGIN_CHALLENGE, &signer.key_id());
        Ok(sign_compact(&header, &to_json(&payload)?, signer)?)
    }
}

/// A login challenge whose signature (by the pinned server key) and fields checked out.
#[derive(Debug, Clone)]
pub struct VerifiedChallenge {
    payload: LoginChallenge,
}

/// Device side: verifies a challenge against the server key pinned at enrolment.
pub fn verify_login_challenge(
    compact: &str,
    pinned: &PublicKey,
    issuer: &str,
    device: &DeviceId,
    now: i64,
) -> Result<VerifiedChallenge, StatementError> {
    let jws = UnverifiedJws::decode(compact, TYP_LOGIN_CHALLENGE)?;
    if jws.kid() != Some(pinned.thumbprint().as_str()) {
        return Err(JwsError::KeyReference("kid does not name the pinned server key").into());
    }
    let payload: LoginChallenge = open(&jws.verify(pinned)?, PURPOSE_LOGIN_CHALLENGE)?;
    if payload.iss != issuer {
        return Err(StatementError::WrongIssuer);
    }
    if &payload.aud != device {
        return Err(StatementError::WrongAudience);
    }
    if payload.exp <= payload.iat || payload.exp - payload.iat > 10 * CHALLENGE_TTL_SECS {
        return Err(StatementError::BadPayload(
            "exp must follow iat within 20 minutes",
        ));
    }
    if payload.iat > now.saturating_add(CLOCK_SKEW_SECS) {
        return Err(StatementError::IssuedInFuture);
    }
    // The device's clock may be off; the server enforces expiry exactly.
    if now > payload.exp.saturating_add(CLOCK_SKEW_SECS) {
        return Err(StatementError::Expired);
    }
    if !valid_choices(&payload.choices) {
        return Err(StatementError::BadPayload(
            "choices must be three distinct numbers 10-99",
        ));
    }
    for text in [&payload.service, &payload.browser, &payload.os] {
        check_text(
            text,
            MAX_TEXT_CHARS,
            "text member longer than 256 characters",
        )?;
    }
    if let Some(place) = &payload.place {
        check_text(place, MAX_TEXT_CHARS, "place longer than 256 characters")?;
    }
    Ok(VerifiedChallenge { payload })
}

impl VerifiedChallenge {
    /// The verified payload: what the app shows.
    pub fn payload(&self) -> &LoginChallenge {
        &self.payload
    }

    /// The challenge id.
    pub fn challenge_id(&self) -> &str {
        &self.payload.challenge_id
    }

    /// The three numbers to offer.
    pub fn choices(&self) -> [u8; 3] {
        self.payload.choices
    }

    /// Signs an approval with the number the user picked (must be one of the choices).
    /// `ctr` must be greater than every counter this device signed before.
    pub fn approve(
        self,
        picked: u8,
        uv: UserVerification,
        ctr: u64,
        key: &dyn Es256Signer,
        now: i64,
    ) -> Result<String, StatementError> {
        if !self.payload.choices.contains(&picked) {
            return Err(StatementError::NumberNotOffered);
        }
        let payload = Approval {
            v: VERSION,
            purpose: PURPOSE_APPROVAL.to_owned(),
            aud: self.payload.iss,
            iat: now,
            device_id: signer_device_id(key)?,
            challenge_id: self.payload.challenge_id,
            nonce: self.payload.nonce,
            number: picked,
            uv,
            ctr,
        };
        sign_approval(key, &payload)
    }

    /// Signs a denial; `report` is "this wasn't me".
    pub fn deny(
        self,
        report: bool,
        ctr: u64,
        key: &dyn Es256Signer,
        now: i64,
    ) -> Result<String, StatementError> {
        let payload = Denial {
            v: VERSION,
            purpose: PURPOSE_DENIAL.to_owned(),
            aud: self.payload.iss,
            iat: now,
            device_id: signer_device_id(key)?,
            challenge_id: self.payload.challenge_id,
            nonce: self.payload.nonce,
            report,
            ctr,
        };
        sign_denial(key, &payload)
    }
}

/// The device id of a signer: its `kid`, which for a device key is its thumbprint. Any
/// [`Es256Signer`] can sign device statements — a [`DeviceKey`] in memory, or a key held
/// by a platform keystore that signs on the app's behalf.
fn signer_device_id(key: &dyn Es256Signer) -> Result<DeviceId, StatementError> {
    DeviceId::parse(&key.key_id())
        .map_err(|_| JwsError::KeyReference("signer's key id is not a device id").into())
}

/// Signs an approval payload as given (no checks: tests and vectors use it to make
/// deliberately wrong statements; apps use [`VerifiedChallenge::approve`]).
pub fn sign_approval(key: &dyn Es256Signer, payload: &Approval) -> Result<String, StatementError> {
    let header = Header::with_kid(TYP_APPROVAL, &key.key_id());
    Ok(sign_compact(&header, &to_json(payload)?, key)?)
}

/// Signs a denial payload as given (see [`sign_approval`]).
pub fn sign_denial(key: &dyn Es256Signer, payload: &Denial) -> Result<String, StatementError> {
    let header = Header::with_kid(TYP_DENIAL, &key.key_id());
    Ok(sign_compact(&header, &to_json(payload)?, key)?)
}

/// A verified approval with the right number: the login may complete. The server must
/// store [`Self::ctr`] as the device's new counter (only if still greater, atomically).
#[derive(Debug, Clone)]
pub struct VerifiedApproval {
    payload: Approval,
}

impl VerifiedApproval {
    /// The verified payload.
    pub fn payload(&self) -> &Approval {
        &self.payload
    }
    /// The approving device.
    pub fn device_id(&self) -> &DeviceId {
        &self.payload.device_id
    }
    /// The new counter value.
    pub fn ctr(&self) -> u64 {
        self.payload.ctr
    }
    /// How the user was verified.
    pub fn uv(&self) -> UserVerification {
        self.payload.uv
    }
}

/// A verified denial. The server must store [`Self::ctr`] like an approval's.
#[derive(Debug, Clone)]
pub struct VerifiedDenial {
    payload: Denial,
}

impl VerifiedDenial {
    /// The verified payload.
    pub fn payload(&self) -> &Denial {
        &self.payload
    }
    /// The denying device.
    pub fn device_id(&self) -> &DeviceId {
        &self.payload.device_id
    }
    /// True for "this wasn't me".
    pub fn report(&self) -> bool {
        self.payload.report
    }
    /// The new counter value.
    pub fn ctr(&self) -> u64 {
        self.payload.ctr
    }
}

/// The checks approvals and denials share, in the documented order.
#[allow(clippy::too_many_arguments)]
fn check_answer(
    pending: &PendingLogin,
    device_key: &PublicKey,
    aud: &str,
    device_id: &DeviceId,
    iat: i64,
    challenge_id: &str,
    nonce: &str,
    ctr: u64,
    last_counter: u64,
    now: i64,
) -> Result<(), StatementError> {
    if aud != pending.issuer {
        return Err(StatementError::WrongAudience);
    }
    if device_id.as_str() != device_key.thumbprint() {
        return Err(StatementError::WrongDevice);
    }
    if now > pending.expires_at {
        return Err(StatementError::Expired);
    }
    check_iat(iat, now)?;
    if challenge_id != pending.challenge_id {
        return Err(StatementError::WrongChallenge);
    }
    if nonce != pending.nonce {
        return Err(StatementError::NonceMismatch);
    }
    check_counter(ctr, last_counter)
}

/// Server side: verifies an approval (ring) and finishes the login ceremony.
/// `device_key` and `last_counter` come from the device record named by the `kid`
/// (see [`claimed_device_id`]).
pub fn verify_approval(
    compact: &str,
    pending: PendingLogin,
    device_key: &PublicKey,
    last_counter: u64,
    now: i64,
) -> Result<VerifiedApproval, StatementError> {
    let payload: Approval = open(
        &verify_by_device(compact, TYP_APPROVAL, device_key)?,
        PURPOSE_APPROVAL,
    )?;
    check_answer(
        &pending,
        device_key,
        &payload.aud,
        &payload.device_id,
        payload.iat,
        &payload.challenge_id,
        &payload.nonce,
        payload.ctr,
        last_counter,
        now,
    )?;
    if payload.number != pending.number {
        return Err(StatementError::WrongNumber);
    }
    Ok(VerifiedApproval { payload })
}

/// Server side: verifies a denial (ring) and finishes the login ceremony.
pub fn verify_denial(
    compact: &str,
    pending: PendingLogin,
    device_key: &PublicKey,
    last_counter: u64,
    now: i64,
) -> Result<VerifiedDenial, StatementError> {
    let payload: Denial = open(
        &verify_by_device(compact, TYP_DENIAL, device_key)?,
        PURPOSE_DENIAL,
    )?;
    check_answer(
        &pending,
        device_key,
        &payload.aud,
        &payload.device_id,
        payload.iat,
        &payload.challenge_id,
        &payload.nonce,
        payload.ctr,
        last_counter,
        now,
    )?;
    Ok(VerifiedDenial { payload })
}

// ---------------------------------------------------------------------------------------
// Request proof
// ---------------------------------------------------------------------------------------

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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jws::ServerSigner;
    use crate::keys::ServerKey;
    use rand::rngs::OsRng;

    const ISS: &str = "https://id.nokkel.test";
    const NOW: i64 = 1_800_000_000;

    fn context() -> LoginContext {
        LoginContext {
            service: "Skatteetaten".into(),
            browser: "Firefox 140".into(),
            os: "Windows 11".into(),
            place: None,
        }
    }

    fn relogin(p: &PendingLogin) -> PendingLogin {
        serde_json::from_value(serde_json::to_value(p).unwrap()).unwrap()
    }

    #[test]
    fn enrolment_then_login_then_approval() {
        let rng = ring::rand::SystemRandom::new();
        let server = ServerKey::generate(&rng).unwrap();
        let device = DeviceKey::generate(&mut OsRng);

        let pending = PendingEnrolment::start(ISS, &mut OsRng, NOW);
        let description = DeviceDescription {
            name: "Kari's phone".into(),
            platform: Platform::Android,
            uv_methods: vec![
                UserVerification::Biometric,
                UserVerification::DeviceCredential,
            ],
        };
        let statement =
            sign_enrolment(&device, ISS, pending.nonce(), &description, NOW + 5).unwrap();
        let enrolled = verify_enrolment(&statement, pending, NOW + 6).unwrap();
        assert_eq!(enrolled.device_id(), &device.device_id());
        assert_eq!(enrolled.public_key(), &device.public_key());

        let login = PendingLogin::start(ISS, context(), &mut OsRng, NOW + 100);
        let challenge = login
            .sign_challenge(&device.device_id(), &ServerSigner::new(&server, &rng))
            .unwrap();
        let verified = verify_login_challenge(
            &challenge,
            server.public_key(),
            ISS,
            &device.device_id(),
            NOW + 101,
        )
        .unwrap();
        assert_eq!(verified.choices(), login.choices());
        assert!(verified.choices().contains(&login.number()));

        let approval = verified
            .clone()
            .approve(
                login.number(),
                UserVerification::Biometric,
                1,
                &device,
                NOW + 110,
            )
            .unwrap();
        assert_eq!(
            claimed_device_id(&approval, TYP_APPROVAL).unwrap(),
            device.device_id()
        );
        let ok = verify_approval(
            &approval,
            relogin(&login),
            &device.public_key(),
            0,
            NOW + 111,
        )
        .unwrap();
        assert_eq!(ok.ctr(), 1);
        assert_eq!(ok.uv(), UserVerification::Biometric);
        // The same approval again: counter has moved on.
        assert_eq!(
            verify_approval(
                &approval,
                relogin(&login),
                &device.public_key(),
                1,
                NOW + 112
            )
            .unwrap_err()
            .code(),
            "counter_not_increased"
        );
        // Wrong pick among the offered numbers.
        let wrong = *verified
            .choices()
            .iter()
            .find(|c| **c != login.number())
            .unwrap();
        let bad = verified
            .clone()
            .approve(wrong, UserVerification::Biometric, 2, &device, NOW + 110)
            .unwrap();
        assert_eq!(
            verify_approval(&bad, relogin(&login), &device.public_key(), 1, NOW + 111).unwrap_err(),
            StatementError::WrongNumber
        );
        assert_eq!(
            verified
                .clone()
                .approve(9, UserVerification::Biometric, 2, &device, NOW)
                .unwrap_err(),
            StatementError::NumberNotOffered
        );
        // After expiry, exactly.
        let late = verified
            .clone()
            .approve(
                login.number(),
                UserVerification::Biometric,
                3,
                &device,
                NOW + 221,
            )
            .unwrap();
        assert!(
            verify_approval(&late, relogin(&login), &device.public_key(), 2, NOW + 220).is_ok()
        );
        assert_eq!(
            verify_approval(&late, relogin(&login), &device.public_key(), 2, NOW + 221)
                .unwrap_err(),
            StatementError::Expired
        );
        // Denial with report.
        let denial = verified.deny(true, 4, &device, NOW + 110).unwrap();
        let denied = verify_denial(&denial, login, &device.public_key(), 3, NOW + 110).unwrap();
        assert!(denied.report());
    }

    #[test]
    fn challenge_must_come_from_the_pinned_key_for_this_device() {
        let rng = ring::rand::SystemRandom::new();
        let server = ServerKey::generate(&rng).unwrap();
        let impostor = ServerKey::generate(&rng).unwrap();
        let device = DeviceKey::generate(&mut OsRng).device_id();
        let other = DeviceKey::generate(&mut OsRng).device_id();
        let login = PendingLogin::start(ISS, context(), &mut OsRng, NOW);
        let forged = login
            .sign_challenge(&device, &ServerSigner::new(&impostor, &rng))
            .unwrap();
        assert_eq!(
            verify_login_challenge(&forged, server.public_key(), ISS, &device, NOW)
                .unwrap_err()
                .code(),
            "wrong_key"
        );
        let genuine = login
            .sign_challenge(&device, &ServerSigner::new(&server, &rng))
            .unwrap();
        assert_eq!(
            verify_login_challenge(&genuine, server.public_key(), ISS, &other, NOW).unwrap_err(),
            StatementError::WrongAudience
        );
        assert_eq!(
            verify_login_challenge(&genuine, server.public_key(), "https://evil", &device, NOW)
                .unwrap_err(),
            StatementError::WrongIssuer
        );
        assert_eq!(
            verify_login_challenge(&genuine, server.public_key(), ISS, &device, NOW + 181)
                .unwrap_err(),
            StatementError::Expired
        );
        assert!(
            verify_login_challenge(&genuine, server.public_key(), ISS, &device, NOW + 180).is_ok()
        );
    }

    #[test]
    fn request_proof_binds_method_url_and_time() {
        let device = DeviceKey::generate(&mut OsRng);
        let target = RequestTarget {
            issuer: ISS,
            method: "GET",
            url: "https://id.nokkel.test/api/v1/challenges/pending",
            access_token: None,
        };
        let jti = new_jti(&mut OsRng);
        let proof = sign_request_proof(&device, &target, &jti, NOW).unwrap();
        let ok = verify_request_proof(&proof, &device.public_key(), &target, NOW + 60).unwrap();
        assert_eq!(ok.jti(), jti);
        assert_eq!(ok.remember_jti_until(), NOW + 60);
        assert_eq!(ok.device_id(), &device.device_id());
        let post = RequestTarget {
            method: "POST",
            ..target
        };
        assert_eq!(
            verify_request_proof(&proof, &device.public_key(), &post, NOW).unwrap_err(),
            StatementError::WrongRequest
        );
        assert_eq!(
            verify_request_proof(&proof, &device.public_key(), &target, NOW + 61).unwrap_err(),
            StatementError::Stale
        );
        assert_eq!(
            verify_request_proof(&proof, &device.public_key(), &target, NOW - 61).unwrap_err(),
            StatementError::IssuedInFuture
        );
        let short = sign_request_proof(&device, &target, "abc", NOW).unwrap();
        assert_eq!(
            verify_request_proof(&short, &device.public_key(), &target, NOW)
                .unwrap_err()
                .code(),
            "bad_payload"
        );
        let with_token = RequestTarget {
            access_token: Some("tok"),
            ..target
        };
        let bound = sign_request_proof(&device, &with_token, &jti, NOW).unwrap();
        assert!(verify_request_proof(&bound, &device.public_key(), &with_token, NOW).is_ok());
        assert_eq!(
            verify_request_proof(&bound, &device.public_key(), &target, NOW).unwrap_err(),
            StatementError::WrongRequest
        );
    }

    #[test]
    fn enrolment_rejects_kid_and_checks_nonce_and_expiry() {
        let device = DeviceKey::generate(&mut OsRng);
        let description = DeviceDescription {
            name: "x".into(),
            platform: Platform::Software,
            uv_methods: vec![UserVerification::NoneTest],
        };
        let make = || PendingEnrolment::start(ISS, &mut OsRng, NOW);
        let p = make();
        let s = sign_enrolment(&device, ISS, "other-nonce", &description, NOW).unwrap();
        assert_eq!(
            verify_enrolment(&s, p, NOW).unwrap_err(),
            StatementError::NonceMismatch
        );
        let p = make();
        let s = sign_enrolment(&device, ISS, p.nonce(), &description, NOW + 601).unwrap();
        assert_eq!(
            verify_enrolment(&s, p, NOW + 601).unwrap_err(),
            StatementError::Expired
        );
        let p = make();
        let nameless = DeviceDescription {
            name: String::new(),
            ..description.clone()
        };
        let s = sign_enrolment(&device, ISS, p.nonce(), &nameless, NOW).unwrap();
        assert_eq!(
            verify_enrolment(&s, p, NOW).unwrap_err().code(),
            "bad_payload"
        );
        let p = make();
        let twice = DeviceDescription {
            uv_methods: vec![UserVerification::Passcode, UserVerification::Passcode],
            ..description
        };
        let s = sign_enrolment(&device, ISS, p.nonce(), &twice, NOW).unwrap();
        assert_eq!(
            verify_enrolment(&s, p, NOW).unwrap_err().code(),
            "bad_payload"
        );
    }

    #[test]
    fn counter_rules() {
        assert!(check_counter(1, 0).is_ok());
        assert_eq!(
            check_counter(5, 5),
            Err(StatementError::CounterNotIncreased { last: 5 })
        );
        assert_eq!(
            check_counter(MAX_COUNTER + 1, 0).unwrap_err().code(),
            "bad_payload"
        );
    }
}
