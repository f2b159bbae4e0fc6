//! Login: the server-signed challenge, the device's check of it against the pinned key,
//! and the approval or denial that consumes the pending login.

use rand_core::CryptoRngCore;
use serde::{Deserialize, Serialize};

use super::*;
use crate::jws::{sign_compact, Es256Signer, Header, UnverifiedJws};
use crate::keys::{DeviceId, PublicKey};
use crate::number_match::{valid_choices, NumberMatch};

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
